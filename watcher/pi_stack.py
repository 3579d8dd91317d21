"""What the watcher knows about the Raspberry Pi's Python stack, with no heavy import.

Shared by the picamera2 source (which refuses what it cannot use) and ``motion-watcher doctor``
(which must start even when numpy is broken, so nothing here imports numpy, cv2, av or picamera2).
"""

from __future__ import annotations

# The oldest picamera2 whose API the watcher uses: Picamera2.wait(job, timeout=) (its git tags).
MIN_PICAMERA2 = (0, 3, 17)

# How an import fails when a numpy wheel from PyPI shadows the system numpy that apt's picamera2,
# simplejpeg and python3-opencv were built against (picamera2 issues #1088, #1211, #1170).
NUMPY_BINARY_MISMATCH = (
    "numpy.dtype size changed",
    "binary incompatibility",
    "compiled using numpy 1.x",
    "_array_api not found",
    "numpy.core.multiarray failed to import",
    "numpy.core._multiarray_umath failed to import",
    "module compiled against abi version",
)


def is_numpy_binary_mismatch(error_text: str) -> bool:
    """True when an import error's text (type and message) says numpy's binary interface differs."""
    text = error_text.lower()
    return any(marker in text for marker in NUMPY_BINARY_MISMATCH)


def parse_version(version: str) -> tuple[int, ...] | None:
    """``"0.3.38"`` -> ``(0, 3, 38)``; None when the first three parts are not numbers."""
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            return None
        parts.append(int(digits))
    return tuple(parts)


def picamera2_too_old(version: str | None) -> bool:
    parsed = parse_version(version) if version else None
    return parsed is not None and parsed < MIN_PICAMERA2


def format_version(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))
