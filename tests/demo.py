"""``python -m tests.demo DATA_DIR``: the demo's second half (run by `make demo`; kept out of the
installed packages, like the throwaway sshd it starts).

Starts a throwaway OpenSSH sshd on a loopback port with generated keys (when sshd is
installed; otherwise says so and uses the local-directory transport), pulls the clips the
demo watcher published in ``DATA_DIR/recorded_clips`` into ``DATA_DIR/library``, and prints
the catalog summary.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import pull_all
from shared.logsetup import setup_logging
from tests.throwaway_sshd import SshdUnavailable, ThrowawaySshd

logger = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    setup_logging("WARNING")
    data = Path(argv[0] if argv else "demo-data").resolve()
    remote = data / "recorded_clips"
    library = data / "library"
    cfg_path = data / "inspector.toml"
    sshd: ThrowawaySshd | None = None
    try:
        sshd = ThrowawaySshd(data / "sshd")
        sshd.start()
        table = sshd.watcher_toml("demo", remote)
        print(f"started a throwaway sshd on 127.0.0.1:{sshd.port} (host key pinned in {sshd.known_hosts})")
    except SshdUnavailable as e:
        print(f"no sshd ({e}); pulling through the local-directory transport instead")
        table = f'[[watcher]]\nname = "demo"\ntransport = "local"\nremote_dir = "{remote}"\n'
    cfg_path.write_text(f'library = "{library}"\npoll_interval_s = 5\n\n{table}')
    try:
        results = pull_all(load_config(str(cfg_path)))
    finally:
        if sshd is not None:
            sshd.stop()
    for r in results:
        for s in r.stats:
            print(f"inspector pulled {len(s.stored)} clip(s), {s.bytes_transferred} bytes, verified by sha256")
        if r.error:
            print(f"inspector FAILED: {r.error}")
    if not any(r.error for r in results):
        from inspector.analysis.pending import analyze_pending
        from inspector.report import build_report

        done = analyze_pending(library, None)
        print(f"inspector analyzed {len(done.analyzed)} clip(s) ({done.media_s:.1f} s of video in {done.wall_s:.1f} s)")
        print(f"report: {build_report(library)}  (open it in a browser)")
    cat = Catalog(library / "catalog.sqlite3")
    states = cat.summary()["states"]
    cat.close()
    assert isinstance(states, dict)
    print("catalog:", ", ".join(f"{k}={v}" for k, v in sorted(states.items())) or "empty")
    for clip in sorted((library / "clips").glob("*/*/*/*.mp4")):
        print(f"  {clip}")
    print(f"library: {library}   (config: {cfg_path}; try: python -m inspector status --config {cfg_path})")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
