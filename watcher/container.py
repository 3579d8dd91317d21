"""MP4 containers (PyAV): the crash-tolerant temp file and the published clip.

While recording, packets go into a *fragmented* MP4 (``frag_keyframe+empty_moov``): every
fragment is self-describing, so a file cut short by a crash still demuxes up to the cut.
On publish (and on salvage) it is remuxed, without re-encoding, into a standard MP4 with the
index at the front (``faststart``) that browsers and VLC play and seek.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, cast

import av
from av.video.stream import VideoStream

from watcher.avcompat import add_stream_from_template, packet_for_stream
from watcher.frames import EncodedPacket

logger = logging.getLogger(__name__)

FRAGMENTED_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


class FragmentedMp4Writer:
    """Appends encoded packets to a fragmented MP4 written into an open binary file.

    Timestamps are rebased so the clip starts at 0. Used by one thread only (the ClipWriter).
    """

    def __init__(self, fileobj: BinaryIO, *, codec: str, width: int, height: int, fps: float) -> None:
        self._container = av.open(fileobj, "w", format="mp4", options={"movflags": FRAGMENTED_MOVFLAGS})
        # a video codec (the encoder's), so a video stream; the stubs cannot tell from a str
        self._stream = cast(VideoStream, self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001)))
        self._stream.width, self._stream.height = width, height
        self._stream.codec_context.pix_fmt = "yuv420p"
        self._base: int | None = None
        self._time_base: Fraction | None = None
        self._last_dts: int | None = None
        self.frames = 0

    def write(self, packet: EncodedPacket) -> None:
        if self._base is None:
            if not packet.keyframe:
                raise ValueError("a clip must start with a keyframe")
            self._base = packet.dts
            self._time_base = packet.time_base
            self._stream.time_base = packet.time_base
        assert self._time_base is not None  # set with _base
        dts = packet.dts - self._base
        if self._last_dts is not None and dts <= self._last_dts:
            logger.warning("dropping packet with non-increasing dts %s <= %s", dts, self._last_dts)
            return
        p = packet_for_stream(packet.data, self._stream, keyframe=packet.keyframe, pts=packet.pts - self._base,
                              dts=dts, time_base=self._time_base)
        self._container.mux(p)
        self._last_dts = dts
        self.frames += 1

    def close(self) -> None:
        """Write the trailer (the last fragment). The caller flushes and fsyncs the file."""
        self._container.close()


@dataclass(frozen=True)
class RemuxResult:
    frames: int
    first_s: float  # timestamp of the first frame in the source file (seconds)
    last_s: float  # timestamp of the last frame
    width: int
    height: int
    codec: str
    truncated: bool  # the source ended in the middle (a salvaged crash file)


def remux_to_mp4(src: str, dst: str) -> RemuxResult:
    """Copy every intact packet of ``src`` into a standard (faststart) MP4 at ``dst``.

    Stops cleanly at a truncated tail: a packet FFmpeg flags as corrupt and anything after a
    demux error are left out. Raises ``av.error.FFmpegError`` if ``src`` cannot be opened at all.
    """
    frames, first, last, truncated = 0, 0.0, 0.0, False
    with av.open(src) as inp:
        if not inp.streams.video:
            raise av.error.InvalidDataError(0, "no video stream")
        ist = inp.streams.video[0]
        width, height, codec = ist.codec_context.width, ist.codec_context.height, ist.codec_context.name
        with av.open(dst, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            ost = add_stream_from_template(out, ist)
            try:
                for p in inp.demux(ist):
                    if p.dts is None:
                        continue  # the flush packet at the end of a stream
                    if p.is_corrupt:
                        truncated = True
                        break
                    if frames == 0 and not p.is_keyframe:
                        continue
                    ts = float(p.pts * p.time_base) if p.pts is not None else 0.0
                    if frames == 0:
                        first = ts
                    last = max(last, ts)
                    p.stream = ost
                    out.mux(p)
                    frames += 1
            except (av.error.InvalidDataError, av.error.EOFError) as e:
                logger.info("%s ends early after %d frames: %s", src, frames, e)
                truncated = True
    return RemuxResult(frames, first, last, width, height, codec, truncated)
