"""Benchmarks (not tests): ``python -m tests.bench NAME``. Each prints human-readable lines and,
last, one JSON object with its measurements.

    detector   our motion detector vs a naive full-resolution reference on the same 720p frames,
               plus the pre-roll's memory for 5 s of 720p30 vs raw frames
    transfer   the inspector's pull vs OpenSSH sftp/scp and rsync, one big clip and a backlog of small ones,
               on loopback and through a delay/bandwidth proxy, plus the inspector's peak RSS, side by side
               (options: python -m tests.bench transfer --help)
    analysis   clip-seconds analyzed per second, 1 worker vs all cores, same clips
    events     motion start -> MQTT message and manifest -> clip message at a subscriber (median, worst),
               and the watcher's CPU per frame with events off and on (options: --help)
    live       the live view's CPU cost per viewer (0, 1, 2 viewers of the MJPEG stream, side by side)
    tune       clip-seconds replayed per second per candidate by inspector tune, with 1/4/16 candidates and
               1/2 worker processes, side by side with re-running the watcher per candidate (options: --help)
    stacks     CPU per frame of the watcher's path on the Pi's own stack (.venv-pi) vs PyPI wheels,
               side by side (options: python -m tests.bench stacks --help)
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    name = argv[0] if argv else ""
    if name == "detector":
        from tests.bench import detector, preroll_memory

        result = detector.run()
        result.update(preroll_memory.run())
    elif name == "analysis":
        from tests.bench import analysis

        result = analysis.run()
    elif name == "stacks":
        from tests.bench import stacks

        return stacks.main(argv[1:])  # prints its JSON last, like the others
    elif name == "events":
        from tests.bench import events

        result = events.main(argv[1:])
    elif name == "live":
        from tests.bench import live

        result = live.main(argv[1:])
    elif name == "tune":
        from tests.bench import tune

        result = tune.main(argv[1:])
    elif name == "transfer":
        from tests.bench import transfer

        result = transfer.main(argv[1:])
    else:
        print(__doc__)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
