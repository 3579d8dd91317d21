"""Why: ``picamera2.previews.drm_preview`` does ``import pykms`` at import time, and ``import picamera2``
imports it. pykms is the Pi's DRM/KMS binding (an apt package; the PyPI package ``kms`` is something
else). We never open a preview, so a module that answers the ``PixelFormat.<NAME>`` lookups made while
drm_preview is imported is all it takes. Anything else touching pykms fails loudly (AttributeError).
"""

from __future__ import annotations

import sys
import types


class _Names:
    """``PixelFormat.NV12`` etc.: only read into a lookup table when drm_preview is imported."""

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return name


def install() -> None:
    if "pykms" in sys.modules:
        return
    module = types.ModuleType("pykms", "test stub: no DRM/KMS here (tests/realcam/shims/pykms_stub.py)")
    module.PixelFormat = _Names()  # type: ignore[attr-defined]
    sys.modules["pykms"] = module
