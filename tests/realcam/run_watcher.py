"""``python -m tests.realcam.run_watcher ARGS...``: ``python -m watcher ARGS...`` on the real picamera2.

Installs the shims (tests/realcam/shims) and then runs the watcher's own entry point, unchanged. The
environment must already hold what ``tests.realcam.env.child_env`` sets (libcamera's library and
binding paths, the virtual camera's YAML).

One piece of instrumentation, nothing else: calls to ``LibavH264Encoder.force_key_frame`` are counted
and printed as the last line (``realcam: force_key_frame calls=N``), so the tests can check that a
keyframe is requested once per need, not once per frame.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from tests.realcam.shims import install

    install()
    from picamera2.encoders import LibavH264Encoder

    calls = [0]
    original = LibavH264Encoder.force_key_frame

    def counted(self: LibavH264Encoder) -> None:
        calls[0] += 1
        original(self)

    LibavH264Encoder.force_key_frame = counted
    from watcher.__main__ import main as watcher_main

    try:
        return watcher_main(argv)
    finally:
        print(f"realcam: force_key_frame calls={calls[0]}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
