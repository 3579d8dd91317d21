"""``python -m tests.realcam.source_probe OUT_DIR [--frames N] [--keyframe-at K]``

Runs the watcher's ``Picamera2Source`` on the real picamera2 (shims installed) for N frames and leaves
what it saw in OUT_DIR for the test to check, in its own process (libcamera needs its environment
from the start, and a hang must be killable):

    stream.h264   the packets, back to back (Annex B, as the encoder gave them)
    packets.json  per packet: pts (µs), keyframe, size, t, and the index of the frame it came with
    luma.npy      the lores luma images, (N, h, w) uint8
    info.json     SourceInfo, frame times, when request_keyframe() was called, dropped packets,
                  how long close() took

Prints ``probe: ...`` lines as it goes (``probe: open``, ``probe: frames done``, ``probe: closed``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--keyframe-at", type=int, default=None, help="call request_keyframe() after this frame")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--lores-width", type=int, default=320)
    p.add_argument("--lores-height", type=int, default=180)
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--gop", type=int, default=10)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from tests.realcam.shims import install

    install()
    import numpy as np

    from watcher.sources.picamera2_source import Picamera2Source

    source = Picamera2Source(width=args.width, height=args.height, fps=args.fps, bitrate=1_000_000,
                             gop_frames=args.gop, lores_width=args.lores_width, lores_height=args.lores_height,
                             stall_timeout_s=5.0)
    info = source.open()
    print(f"probe: open {info.width}x{info.height} encoded={info.encoded} codec={info.codec}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    lumas, times, packets, requested_after = [], [], [], None
    try:
        with open(args.out / "stream.h264", "wb") as stream:
            for i, frame in enumerate(source.frames()):
                lumas.append(frame.luma)
                times.append(frame.t)
                for pkt in frame.packets:
                    stream.write(pkt.data)
                    packets.append({"pts": pkt.pts, "keyframe": pkt.keyframe, "size": len(pkt.data), "t": pkt.t,
                                    "frame": i})
                if i + 1 >= args.frames:
                    break
                if args.keyframe_at is not None and i == args.keyframe_at:
                    requested_after = frame.t
                    source.request_keyframe()
                    print(f"probe: keyframe requested after frame {i}", flush=True)
        print(f"probe: frames done ({len(lumas)})", flush=True)
    finally:
        started = time.monotonic()
        source.close()
        close_s = time.monotonic() - started
        print(f"probe: closed in {close_s:.2f} s", flush=True)
    np.save(args.out / "luma.npy", np.stack(lumas))
    (args.out / "packets.json").write_text(json.dumps(packets))
    (args.out / "info.json").write_text(json.dumps({
        "width": info.width, "height": info.height, "fps": info.fps, "encoded": info.encoded, "codec": info.codec,
        "times": times, "keyframe_requested_after_t": requested_after, "dropped_packets": source.dropped_packets,
        "close_s": close_s,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
