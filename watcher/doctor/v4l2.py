"""Video4Linux device nodes and the board model, read the way picamera2 reads them.

``VIDIOC_QUERYCAP`` on each ``/dev/videoN`` gives its driver and card name: ``bcm2835-codec`` /
``bcm2835-codec-encode`` is the Pi 4's hardware H.264 encoder (``/dev/video11``, which
picamera2's V4L2 encoder opens), ``pispbe`` is the Pi 5's ISP back end (picamera2's
``platform.py`` takes it to mean "PiSP platform: no hardware encoder, use libx264"). When a node
cannot be opened (permissions), its sysfs ``name`` is used instead. Every path is a parameter.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# _IOR('V', 0, struct v4l2_capability): driver[16] card[32] bus_info[32] version caps device_caps reserved[3]
VIDIOC_QUERYCAP = 0x80685600
_CAP_SIZE = 104


@dataclass(frozen=True)
class VideoNode:
    path: str
    driver: str | None
    card: str | None


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def querycap(path: Path) -> tuple[str | None, str | None]:
    """(driver, card) of a V4L2 node, or (None, None) if it cannot be opened or asked."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        buf = bytearray(_CAP_SIZE)
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, buf)
        return _cstr(bytes(buf[0:16])), _cstr(bytes(buf[16:48]))
    except OSError:
        return None, None
    finally:
        os.close(fd)


Query = Callable[[Path], tuple[str | None, str | None]]


def list_video_nodes(dev_dir: Path = Path("/dev"), sys_dir: Path = Path("/sys/class/video4linux"),
                     query: Query = querycap) -> list[VideoNode]:
    nodes = []
    try:
        names = [p.name for p in dev_dir.iterdir() if re.fullmatch(r"video\d+", p.name)]
    except OSError:
        return []
    for name in sorted(names, key=lambda n: int(n[5:])):
        driver, card = query(dev_dir / name)
        if card is None:
            try:
                card = (sys_dir / name / "name").read_text().strip() or None
            except OSError:
                card = None
        nodes.append(VideoNode(str(dev_dir / name), driver, card))
    return nodes


def board_model(model_path: Path = Path("/proc/device-tree/model")) -> str | None:
    """"Raspberry Pi 4 Model B Rev 1.4", or None when the device tree has no model (not a Pi / ARM board)."""
    try:
        return model_path.read_bytes().rstrip(b"\0\n").decode("utf-8", "replace") or None
    except OSError:
        return None


@dataclass(frozen=True)
class Platform:
    model: str | None
    nodes: list[VideoNode]

    @property
    def hw_encoder(self) -> VideoNode | None:
        """The Pi 4 (and older) H.264 encoder node, if there is one."""
        for n in self.nodes:
            if n.card == "bcm2835-codec-encode" or (n.path.endswith("/video11") and n.driver == "bcm2835-codec"):
                return n
        return None

    @property
    def pisp(self) -> bool:
        """A Pi 5 (PiSP): picamera2 then uses LibavH264Encoder (libx264 on the CPU)."""
        return any(n.card and n.card.startswith("pispbe") for n in self.nodes) or bool(
            self.model and self.model.startswith("Raspberry Pi 5"))


def detect_platform(dev_dir: Path = Path("/dev"), sys_dir: Path = Path("/sys/class/video4linux"),
                    model_path: Path = Path("/proc/device-tree/model"), query: Query = querycap) -> Platform:
    return Platform(board_model(model_path), list_video_nodes(dev_dir, sys_dir, query))
