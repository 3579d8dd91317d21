"""Probe child: encode a few frames of a textured, noisy, moving test scene and time it.

    python -m watcher.doctor.encode_probe watcher  --codec libx264 --preset veryfast --bitrate B --gop-s G \
                                                   (--size W H FPS | --source SPEC) [--frames N]
    python -m watcher.doctor.encode_probe picamera2-libav --size W H FPS --bitrate B [--frames N]

``watcher`` measures the watcher's own encoder (:class:`watcher.encoder.VideoEncoder`, colour
conversion included) at the size the source gives (``--source`` opens a synthetic or file source
to learn it). ``picamera2-libav`` mirrors picamera2's ``LibavH264Encoder`` (the Pi 5 path: libx264,
preset ultrafast, tune zerolatency, threads chosen by FFmpeg, frame threading). Records:
``result`` with wall-clock and CPU milliseconds per frame (CPU over all of the process's threads),
or ``error``.
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from typing import Any

from watcher.doctor.probes import emit

WARMUP = 5
N_DISTINCT = 8  # distinct frames generated up front, cycled while timing


def _scene(width: int, height: int) -> list[Any]:
    """N_DISTINCT BGR frames: a smooth texture, a block walking across, sensor noise."""
    import numpy as np

    rng = np.random.default_rng(1)
    coarse = rng.integers(30, 220, size=(height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)[:height, :width].astype(np.int16)
    frames = []
    side = max(8, height // 6)
    for i in range(N_DISTINCT):
        img = base + rng.normal(0, 3, size=base.shape).astype(np.int16)
        x = (i * width // (2 * N_DISTINCT)) % max(1, width - side)
        img[height // 3: height // 3 + side, x: x + side] = 235
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def _measure(encode: Any, frames: list[Any], n: int) -> tuple[float, float, int]:
    nbytes = 0
    for i in range(WARMUP):
        nbytes += encode(frames[i % len(frames)], i)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(WARMUP, WARMUP + n):
        nbytes += encode(frames[i % len(frames)], i)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return wall * 1000 / n, cpu * 1000 / n, nbytes


def _watcher(args: argparse.Namespace) -> dict[str, Any]:
    from watcher.encoder import EncoderSettings, VideoEncoder

    width, height, fps = args.size or _source_size(args.source)
    enc = VideoEncoder(int(width), int(height), float(fps), EncoderSettings(
        codec=args.codec, preset=args.preset, bitrate=args.bitrate, gop_s=args.gop_s))
    frames = _scene(int(width), int(height))

    def encode(img: Any, i: int) -> int:
        return sum(len(p.data) for p in enc.encode(img, i / float(fps)))

    wall, cpu, nbytes = _measure(encode, frames, args.frames)
    return {"width": int(width), "height": int(height), "fps": float(fps), "codec": args.codec, "preset": args.preset,
            "wall_ms": wall, "cpu_ms": cpu, "bytes": nbytes}


def _source_size(spec: str) -> tuple[int, int, float]:
    from watcher.sources import SourceSettings, create_source

    src = create_source(SourceSettings(spec=spec), duration_s=1.0)
    try:
        info = src.open()
        return info.width, info.height, info.fps
    finally:
        src.close()


def _picamera2_libav(args: argparse.Namespace) -> dict[str, Any]:
    import av
    import numpy as np

    width, height, fps = (int(args.size[0]), int(args.size[1]), float(args.size[2]))
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 1_000_000)
    ctx.framerate = Fraction(fps).limit_denominator(1001)
    ctx.bit_rate = args.bitrate
    ctx.gop_size = max(1, round(args.gop_s * fps))
    ctx.thread_count = 0  # LibavH264Encoder.threads = 0: "you choose"
    ctx.thread_type = av.codec.context.ThreadType.FRAME  # as LibavH264Encoder; PyAV 10 and 18 both take it
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "deblock": "1"}
    ctx.open()
    yuv = []
    for img in _scene(width, height):
        y = img.mean(axis=2).astype(np.uint8)
        chroma = np.full((height // 4, width), 128, dtype=np.uint8)
        yuv.append(av.VideoFrame.from_ndarray(np.concatenate([y, chroma, chroma]), format="yuv420p"))

    def encode(frame: Any, i: int) -> int:
        frame.pts = round(i * 1_000_000 / fps)
        return sum(p.size for p in ctx.encode(frame))

    wall, cpu, nbytes = _measure(encode, yuv, args.frames)
    return {"width": width, "height": height, "fps": fps, "codec": "libx264", "preset": "ultrafast",
            "wall_ms": wall, "cpu_ms": cpu, "bytes": nbytes}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m watcher.doctor.encode_probe")
    p.add_argument("path", choices=["watcher", "picamera2-libav"])
    p.add_argument("--codec", default="libx264")
    p.add_argument("--preset", default="veryfast")
    p.add_argument("--bitrate", type=int, default=2_000_000)
    p.add_argument("--gop-s", type=float, default=2.0)
    p.add_argument("--size", nargs=3, type=float, metavar=("W", "H", "FPS"))
    p.add_argument("--source")
    p.add_argument("--frames", type=int, default=30)
    args = p.parse_args(argv)
    emit({"event": "start", "step": args.path})
    try:
        rec = _watcher(args) if args.path == "watcher" else _picamera2_libav(args)
    except BaseException as e:  # noqa: BLE001 - reported, whatever it is
        emit({"event": "error", "error_type": type(e).__name__, "error": str(e).strip()[:500]})
        return 0
    try:
        import av

        rec["pyav"] = av.__version__
    except Exception:
        pass
    emit({"event": "result", "frames": args.frames, **rec})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
