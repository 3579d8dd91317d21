"""watcher/avcompat.py on real FFmpeg: each path gives the same clips on the PyAV it runs on.

The keyframe flag of a packet made from bytes is set directly where PyAV allows it (>= 11) and comes from
FFmpeg's parser otherwise (PyAV 10, the Pi's): the parser path runs on every stack, the direct one where it
exists. Both must give the same sync samples, the exact timestamps and frame-long durations.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from watcher import avcompat
from watcher.container import FragmentedMp4Writer, remux_to_mp4
from watcher.encoder import EncoderSettings, VideoEncoder
from watcher.frames import EncodedPacket

FPS = 10.0
KEYFRAME_PATHS = ["parser"] + (["flag"] if avcompat.PACKET_KEYFRAME_WRITABLE else [])


def image(i: int) -> np.ndarray:
    """Frame i of a moving gradient (BGR, 160x96)."""
    yy, xx = np.mgrid[0:96, 0:160]
    return np.dstack([(xx + 4 * i) % 256, (yy * 2) % 256, (xx + yy + i) % 256]).astype(np.uint8)


def encoded(n: int = 25, force_at: tuple[int, ...] = (7, 8, 24)) -> list[EncodedPacket]:
    """n frames, keyframes at least every 10 and forced ones at ``force_at``."""
    enc = VideoEncoder(160, 96, FPS, EncoderSettings(gop_s=1.0))
    out = []
    for i in range(n):
        out += enc.encode(image(i), i / FPS, force_keyframe=i in force_at)
    return out + enc.flush()


def rebased(packets: list[EncodedPacket], time_base: Fraction) -> list[EncodedPacket]:
    """The same packets on another time base (picamera2 stamps microseconds)."""
    return [EncodedPacket(p.data, round(p.t / time_base), round(p.t / time_base), time_base, p.keyframe, p.t)
            for p in packets]


def write_fragmented(path: Path, packets: list[EncodedPacket]) -> None:
    with open(path, "wb") as f:
        mp4 = FragmentedMp4Writer(f, codec="h264", width=160, height=96, fps=FPS)
        for p in packets:
            mp4.write(p)
        mp4.close()


def demuxed(path: Path) -> tuple[list[tuple[float, bool]], float]:
    """(time, keyframe) of every packet, and the stream's duration, in seconds."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        rows = [(float(p.pts * p.time_base), bool(p.is_keyframe)) for p in c.demux(stream) if p.size]
        return rows, float(stream.duration * stream.time_base)


@pytest.mark.parametrize("time_base", [Fraction(1, 90_000), Fraction(1, 1_000_000)])
@pytest.mark.parametrize("path", KEYFRAME_PATHS)
def test_fragmented_and_published_clips_keep_keyframes_times_and_durations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, time_base: Fraction
) -> None:
    monkeypatch.setattr(avcompat, "PACKET_KEYFRAME_WRITABLE", path == "flag")
    packets = rebased(encoded(), time_base)
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    assert {0, 7, 8, 24} <= set(keys) and len(keys) >= 5  # forced twice in a row, by the GOP, and last
    part, clip = tmp_path / "clip.mp4.part", tmp_path / "clip.mp4"
    write_fragmented(part, packets)
    assert part.read_bytes().count(b"moof") == len(keys)  # one fragment per keyframe: a crash loses a GOP at most
    result = remux_to_mp4(str(part), str(clip))
    assert (result.frames, result.truncated) == (len(packets), False)
    for f in (part, clip):
        rows, duration = demuxed(f)
        assert [round(t, 6) for t, _k in rows] == [round(i / FPS, 6) for i in range(len(packets))]
        assert [i for i, (_t, k) in enumerate(rows) if k] == keys
        # A last packet that is a keyframe lends its own duration to the stream's: one frame, in the right units.
        assert abs(duration - len(packets) / FPS) < 1e-3, f.name
    with av.open(str(clip)) as c:
        assert sum(1 for _ in c.decode(video=0)) == len(packets)


def test_parser_path_refuses_what_is_not_one_keyframe() -> None:
    packets = encoded(12, force_at=())
    with av.open(io.BytesIO(), "w", format="mp4") as c:
        stream = c.add_stream("h264", rate=10)
        with pytest.raises(ValueError, match="did not find one keyframe"):
            avcompat._demuxed_keyframe(packets[1].data, stream.codec_context.codec)  # a P-frame
        two = packets[0].data + packets[10].data
        with pytest.raises(ValueError, match="did not find one keyframe"):
            avcompat._demuxed_keyframe(two, stream.codec_context.codec)


def test_no_b_frames_whatever_the_encoder_defaults() -> None:
    """x264 without ``tune=zerolatency`` uses B-frames; ``set_max_b_frames(ctx, 0)`` turns them off."""

    def reordered(max_b_frames: int | None) -> int:
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 160, 96, "yuv420p"
        ctx.time_base, ctx.framerate, ctx.gop_size = Fraction(1, 90_000), Fraction(30), 60
        ctx.options = {"preset": "veryfast"}
        if max_b_frames is not None:
            avcompat.set_max_b_frames(ctx, max_b_frames)
        ctx.open()
        out = []
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image(i), cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            frame.pts = i * 3000
            out += ctx.encode(frame)
        out += ctx.encode(None)
        return sum(p.pts != p.dts for p in out)

    assert reordered(None) > 0, "x264's default uses B-frames: the test would prove nothing"
    assert reordered(0) == 0
