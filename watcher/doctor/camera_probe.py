"""Probe child: ask picamera2 which cameras there are and, if asked, open one and read its sensor modes.

    python -m watcher.doctor.camera_probe CAMERA_NUM [--open]

Records: ``start`` before each step (import, list, open, modes), then ``cameras`` (the list from
``Picamera2.global_camera_info()``, which does not acquire any camera), ``opened`` (the camera's
``PixelArraySize``), ``modes`` (``sensor_modes``: size, fps, bit depth; reading them reconfigures
the camera once per mode), or ``error`` with the step. The camera is always closed again.
:func:`probe_camera` is also called in-process by the tests, with the fake picamera2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from watcher.doctor.probes import emit

Emit = Callable[[dict[str, Any]], None]


def _error(emit: Emit, step: str, e: BaseException) -> None:
    emit({"event": "error", "step": step, "error_type": type(e).__name__, "error": str(e).strip()[:500]})


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def probe_camera(camera_num: int, open_camera: bool, emit: Emit = emit) -> None:
    emit({"event": "start", "step": "import"})
    try:
        from picamera2 import Picamera2
    except BaseException as e:  # noqa: BLE001 - ValueError from a numpy mismatch, too
        return _error(emit, "import", e)
    emit({"event": "start", "step": "list"})
    try:
        cameras = [{k: _plain(v) for k, v in info.items()} for info in Picamera2.global_camera_info()]
    except Exception as e:
        return _error(emit, "list", e)
    emit({"event": "cameras", "cameras": cameras})
    if not open_camera or camera_num >= len(cameras):
        return None
    emit({"event": "start", "step": "open"})
    try:
        picam2 = Picamera2(camera_num)
    except Exception as e:  # RuntimeError when another process holds the camera
        return _error(emit, "open", e)
    try:
        props = getattr(picam2, "camera_properties", None) or {}
        emit({"event": "opened", "pixel_array_size": _plain(props.get("PixelArraySize")),
              "model": _plain(props.get("Model"))})
        emit({"event": "start", "step": "modes"})
        try:
            modes = [{"size": _plain(m.get("size")), "fps": _plain(m.get("fps")),
                      "bit_depth": _plain(m.get("bit_depth")), "format": _plain(m.get("format"))}
                     for m in picam2.sensor_modes]
        except Exception as e:  # older picamera2 releases, or a sensor without raw modes
            _error(emit, "modes", e)
        else:
            emit({"event": "modes", "modes": modes})
    finally:
        try:
            picam2.close()
        except Exception as e:
            _error(emit, "close", e)


def main(argv: list[str]) -> int:
    probe_camera(int(argv[0]), "--open" in argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
