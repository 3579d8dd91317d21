"""Every difference between the PyAV releases the watcher runs on, in one place.

Two stacks are supported: the Pi's own Debian packages (Raspberry Pi OS Bookworm = Debian 12:
``python3-av`` 10.0.0 over FFmpeg 5.1) and current wheels (PyAV >= 14). Each helper checks for the
feature it needs, never a version number, and has a path for the older API:

- ``VideoCodecContext.max_b_frames`` is missing in PyAV 10: FFmpeg's codec option ``bf`` sets the same field.
- ``OutputContainer.add_stream_from_template`` is missing in PyAV 10: ``add_stream(template=...)`` there
  (removed in PyAV 14).
- ``Packet.is_keyframe`` is read-only in PyAV 10. A packet made from bytes then cannot carry the keyframe
  flag the MP4 muxer needs (sync samples, and ``frag_keyframe`` fragments). FFmpeg's own parser sets that
  flag when it reads the bytes back as an elementary stream, so on PyAV 10 a keyframe packet is demuxed
  from its own bytes: once per keyframe (a GOP, seconds), a few milliseconds each, never per frame.

- ``frame.pict_type = "I"`` (what picamera2's ``LibavH264Encoder.force_key_frame`` does) raises ``TypeError``
  from PyAV 14 on; the enum ``av.video.frame.PictureType.I`` works on every supported release
  (:func:`mark_keyframe`).
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import av

# Raw (elementary stream) demuxers of the codecs whose keyframes we may have to mark, by codec name.
_ELEMENTARY_FORMATS = {"h264": "h264", "hevc": "hevc", "mpeg4": "m4v"}
# The same by codec id: an output stream's codec is the encoder (libx264, h264_v4l2m2m, ...).
_FORMAT_BY_CODEC_ID = {av.codec.Codec(name, "r").id: fmt for name, fmt in _ELEMENTARY_FORMATS.items()}
# Read just one access unit: no long probing of a few bytes we already know.
_DEMUX_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


def _packet_keyframe_writable() -> bool:
    try:
        av.Packet(b"\0").is_keyframe = True
    except AttributeError:  # PyAV < 11: "attribute 'is_keyframe' of 'av.packet.Packet' objects is not writable"
        return False
    return True


PACKET_KEYFRAME_WRITABLE: bool = _packet_keyframe_writable()


def set_max_b_frames(ctx: Any, count: int) -> None:
    """Limit the encoder to ``count`` consecutive B-frames (0: none, so ``pts == dts``). Before ``open()``."""
    if hasattr(ctx, "max_b_frames"):
        ctx.max_b_frames = count
    else:  # PyAV < 11: the AVCodecContext option of the same field
        ctx.options = {**ctx.options, "bf": str(count)}


def mark_keyframe(frame: Any) -> None:
    """Ask the encoder to make ``frame`` (an ``av.VideoFrame``) a keyframe."""
    frame.pict_type = av.video.frame.PictureType.I


def add_stream_from_template(container: Any, template: Any) -> Any:
    """A new output stream with ``template``'s codec parameters, for remuxing without re-encoding."""
    if hasattr(container, "add_stream_from_template"):
        return container.add_stream_from_template(template)
    return container.add_stream(template=template)  # PyAV < 14


def packet_for_stream(
    data: bytes, stream: Any, *, keyframe: bool, pts: int, dts: int, time_base: Fraction
) -> av.Packet[Any]:
    """An ``av.Packet`` holding ``data`` at ``pts``/``dts`` (in ``time_base``), bound to the output ``stream``
    and flagged as a keyframe if ``keyframe``.

    Raises ``ValueError`` when this PyAV cannot flag a keyframe of the stream's codec or FFmpeg's parser does
    not find exactly one keyframe access unit in ``data``.
    """
    if not keyframe or PACKET_KEYFRAME_WRITABLE:
        packet = av.Packet(data)
        if keyframe:
            packet.is_keyframe = True
        packet.pts, packet.dts = pts, dts
        packet.time_base = time_base
    else:
        packet = _demuxed_keyframe(data, stream.codec_context.codec)
        # Its duration (one frame, read-only here) is in the demuxer's time base (1/1200000 for H.264): keep that
        # time base and put pts/dts into it. Exact when ours is coarser (1/90000, microseconds): the muxer's
        # rounding back to the stream's time base restores them.
        scale = Fraction(time_base) / packet.time_base
        if scale < 1:
            raise ValueError(f"time base {time_base} is finer than the {packet.time_base} of PyAV's parser")
        packet.pts, packet.dts = round(pts * scale), round(dts * scale)
    packet.stream = stream
    return packet


def _demuxed_keyframe(data: bytes, codec: Any) -> av.Packet[Any]:
    """``data`` read back through FFmpeg's elementary-stream demuxer, which flags keyframes itself.

    The packet still names the demuxer's stream, freed when the demuxer closes: the caller rebinds it to its
    own stream before anything reads ``packet.stream`` (reading it would crash).
    """
    fmt = _FORMAT_BY_CODEC_ID.get(codec.id)
    if fmt is None:
        raise ValueError(f"PyAV {av.__version__} cannot mark a {codec.name} keyframe (packets are read-only); "
                         f"use one of {', '.join(sorted(_ELEMENTARY_FORMATS))}")
    with av.logging.Capture(local=True), av.open(io.BytesIO(data), "r", format=fmt, options=_DEMUX_OPTIONS) as raw:
        packets = [p for p in raw.demux(raw.streams.video[0]) if p.size]
    if len(packets) != 1 or not packets[0].is_keyframe or packets[0].size != len(data):
        raise ValueError(f"{fmt} parser did not find one keyframe in {len(data)} bytes "
                         f"({[(p.size, p.is_keyframe) for p in packets]})")
    return packets[0]
