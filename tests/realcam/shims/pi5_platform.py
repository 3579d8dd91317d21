"""Why: picamera2 decides Pi 4 (VC4) or Pi 5 (PISP) once, in ``picamera2/platform.py``, by asking each
/dev/video* for its card name ("pispbe" means Pi 5). There is none here, so it would pick VC4, whose
``H264Encoder`` is the V4L2 hardware encoder (/dev/video11): not available off a Pi. On PISP,
``picamera2.encoders.H264Encoder`` is ``LibavH264Encoder`` (libx264 through PyAV on the camera thread),
which runs anywhere: that is the path these tests exercise, the Pi 5's.

We load the real ``platform.py`` on its own (its probe finds nothing and settles on VC4), set its
``_platform`` to PISP, and register it as ``picamera2.platform`` before picamera2 is first imported, so
every ``get_platform()`` in picamera2 answers PISP.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def install() -> None:
    if "picamera2" in sys.modules:
        raise RuntimeError("install the Pi 5 platform shim before picamera2 is imported")
    spec = importlib.util.find_spec("picamera2")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("picamera2 is not installed (make realcam)")
    path = Path(next(iter(spec.submodule_search_locations))) / "platform.py"
    platform_spec = importlib.util.spec_from_file_location("picamera2.platform", path)
    assert platform_spec is not None and platform_spec.loader is not None
    module = importlib.util.module_from_spec(platform_spec)
    platform_spec.loader.exec_module(module)
    module._platform = module.Platform.PISP
    sys.modules["picamera2.platform"] = module
