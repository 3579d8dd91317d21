"""The FrameSource protocol that every camera backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from watcher.frames import Frame


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the pipeline needs to know before the first frame."""

    width: int
    height: int
    fps: float
    live: bool  # True for cameras/streams (wall-clock paced), False for files and synthetic
    encoded: bool = False  # True when frames carry hardware-encoded packets instead of images
    codec: str = "h264"


class SourceError(RuntimeError):
    """A source could not be opened or failed for good."""


class CameraHung(SourceError):
    """A camera library did not stop within its close timeout (a wedged camera stack). The process
    cannot release the camera any more: it must exit so that systemd starts a new one."""


@runtime_checkable
class FrameSource(Protocol):
    """A camera, stream, file or synthetic scene.

    ``open()`` returns the stream's :class:`SourceInfo`; ``frames()`` yields frames until the
    source ends or ``close()`` is called from another thread; ``close()`` is idempotent.
    """

    def open(self) -> SourceInfo: ...

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
