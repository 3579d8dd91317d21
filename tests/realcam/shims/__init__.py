"""Test-side shims that let the real picamera2 (PyPI) run on libcamera's virtual camera.

Each one stands in for something only a Raspberry Pi has; they are installed in the process that
imports picamera2, *before* it is imported (``install()``), and change nothing else:

* ``pykms_stub``   picamera2 imports pykms (the Pi's DRM/KMS binding) unconditionally.
* ``pi5_platform`` picamera2 thinks it is on a Pi 4 unless a /dev/video* says "pispbe"; we want the
                   Pi 5 path, where ``H264Encoder`` is the libx264 ``LibavH264Encoder``.
* ``memfd_allocator`` picamera2 allocates frame buffers from /dev/dma_heap, which this kernel lacks.

The fourth difference, picamera2 asking the camera for the Raw stream role, is handled in libcamera
(``virtual-raw-role.patch`` beside the tarball), not here.
"""

from __future__ import annotations


def install() -> None:
    """Install every shim, then import picamera2 so that they are the ones it uses."""
    from tests.realcam.shims import memfd_allocator, pi5_platform, pykms_stub

    pykms_stub.install()
    pi5_platform.install()  # must precede the first `import picamera2`
    import picamera2.encoders  # imports libcamera: needs LD_LIBRARY_PATH/PYTHONPATH from the fixture

    assert picamera2.encoders.H264Encoder is picamera2.encoders.LibavH264Encoder, "Pi 5 platform shim not in effect"
    memfd_allocator.install()
