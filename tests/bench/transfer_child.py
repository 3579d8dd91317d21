"""The child processes of ``python -m tests.bench transfer``.

    python -m tests.bench.transfer_child link TARGET_PORT DELAY_S BYTES_PER_S
        a LinkProxy in front of 127.0.0.1:TARGET_PORT in its own process (its pump threads then
        take no GIL from a tool under test); prints its port, runs until stdin closes
    python -m tests.bench.transfer_child pull CONFIG
        one inspector pass (transfer_tools.inspector_pull); prints one JSON line with the ids
        stored and this process's peak RSS (ru_maxrss and VmHWM, KiB)
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def link(target_port: int, delay_s: float, bytes_per_s: float) -> int:
    from tests.netproxy import LinkProxy

    with LinkProxy(("127.0.0.1", target_port), delay_s=delay_s, bytes_per_s=bytes_per_s) as proxy:
        print(proxy.port, flush=True)
        try:
            sys.stdin.read()  # the parent closes our stdin (or dies): time to go
        except KeyboardInterrupt:
            pass
    return 0


def pull(config: Path) -> int:
    from tests.bench.transfer_tools import inspector_pull

    seconds, _, stored = inspector_pull(config)
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"stored": stored, "seconds": seconds, "maxrss_kb": maxrss_kb, "vmhwm_kb": _vm_hwm_kb()}))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "link":
        return link(int(argv[1]), float(argv[2]), float(argv[3]))
    if len(argv) == 2 and argv[0] == "pull":
        return pull(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
