"""Clip analysis: decode, check against the manifest, motion timeline, people, stills.

    analyze_pending(library, workers, reanalyze)   the library's pending clips, in a process pool
    analyze_video(path)                            any video file (no writes)

Names are imported on first use: a pool worker must be able to import
:mod:`inspector.analysis.worker` (and limit its BLAS threads) before numpy is loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ANALYZER_VERSION": "inspector.analysis.analyzer",
    "AnalyzerSettings": "inspector.analysis.analyzer",
    "ClipRejected": "inspector.analysis.analyzer",
    "analyze_video": "inspector.analysis.analyzer",
    "AnalysisSummary": "inspector.analysis.pending",
    "analyze_pending": "inspector.analysis.pending",
}

# spelled out for type checkers and linters (a computed __all__ is opaque to them); the assert keeps it in step
__all__ = [
    "ANALYZER_VERSION", "AnalysisSummary", "AnalyzerSettings", "ClipRejected", "analyze_pending", "analyze_video",
]
assert set(__all__) == set(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
