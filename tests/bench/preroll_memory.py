"""Pre-roll memory: 5 s of 720p30 kept as encoded packets (our PreRollBuffer) vs as raw frames."""

from __future__ import annotations

from watcher.encoder import EncoderSettings, VideoEncoder
from watcher.preroll import PreRollBuffer
from watcher.sources.synthetic import SyntheticSource

SECONDS = 5.0
W, H, FPS = 1280, 720, 30.0


def run() -> dict[str, float]:
    source = SyntheticSource(width=W, height=H, fps=FPS, seed=2, duration_s=12.0, first_event_s=1.0, event_period_s=4.0)
    source.open()
    settings = EncoderSettings()
    encoder = VideoEncoder(W, H, FPS, settings)
    buf = PreRollBuffer(SECONDS)
    peak = 0
    for frame in source.frames():
        assert frame.image is not None
        for p in encoder.encode(frame.image, frame.t):
            buf.append(p)
        peak = max(peak, buf.nbytes)
    raw_bgr = int(SECONDS * FPS) * W * H * 3
    raw_yuv = int(SECONDS * FPS) * W * H * 3 // 2
    print(f"pre-roll {SECONDS:.0f} s of {W}x{H}@{FPS:.0f} at {settings.bitrate / 1e6:.1f} Mbit/s, "
          f"GOP {settings.gop_s} s: "
          f"peak {peak / 1e6:.2f} MB encoded vs {raw_yuv / 1e6:.0f} MB raw YUV420 ({raw_bgr / 1e6:.0f} MB BGR): "
          f"{raw_yuv / max(peak, 1):.0f}x smaller")
    return {"preroll_bytes_5s_720p30": peak, "preroll_raw_yuv420_bytes": raw_yuv, "preroll_raw_bgr_bytes": raw_bgr,
            "preroll_ratio_vs_raw_yuv": round(peak / raw_yuv, 5)}
