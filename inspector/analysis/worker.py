"""Set-up of an analysis pool worker. Imports nothing heavy at module level on purpose: the BLAS
thread limit only takes effect if it is set before numpy is first imported in the process."""

from __future__ import annotations

import os

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def init_worker() -> None:
    """One thread per worker for BLAS and OpenCV: the pool is the parallelism. (A many-threaded
    OpenBLAS in each of several busy processes spins instead of working: up to 50x slower here.)"""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    from inspector.analysis.images import single_threaded

    single_threaded()
