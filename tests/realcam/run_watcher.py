"""``python -m tests.realcam.run_watcher ARGS...``: ``python -m watcher ARGS...`` on the real picamera2.

Installs the shims (tests/realcam/shims) and then runs the watcher's own entry point, unchanged. The
environment must already hold what ``tests.realcam.env.child_env`` sets (libcamera's library and
binding paths, the virtual camera's YAML).

Instrumentation, nothing else:

* calls to ``LibavH264Encoder.force_key_frame`` are counted and printed as the last line
  (``realcam: force_key_frame calls=N``), so the tests can check that a keyframe is requested once
  per need, not once per frame;
* with ``REALCAM_BREAK_CAMERA_THREAD_AT=N`` in the environment, the encoder raises on the camera
  thread at its N-th frame, as picamera2's own ``force_key_frame`` did with PyAV >= 14: picamera2's
  event loop dies there, which is how the watcher's handling of a dead camera is tested.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    from tests.realcam.shims import install

    install()
    from picamera2.encoders import LibavH264Encoder

    calls = [0]
    original_force = LibavH264Encoder.force_key_frame

    def counted(self: LibavH264Encoder) -> None:
        calls[0] += 1
        original_force(self)

    LibavH264Encoder.force_key_frame = counted
    break_at = int(os.environ.get("REALCAM_BREAK_CAMERA_THREAD_AT", "0"))
    if break_at:
        original_encode, encoded = LibavH264Encoder._encode, [0]

        def breaking(self: LibavH264Encoder, stream: object, request: object) -> None:
            encoded[0] += 1
            if encoded[0] == break_at:
                print(f"realcam: breaking the camera thread at frame {break_at}", flush=True)
                raise RuntimeError("test: the camera thread dies here")
            original_encode(self, stream, request)

        LibavH264Encoder._encode = breaking
    from watcher.__main__ import main as watcher_main

    try:
        return watcher_main(argv)
    finally:
        print(f"realcam: force_key_frame calls={calls[0]}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
