"""Pages opened in real headless Chromium (Debian's ``chromium``): a page is loaded from ``file://`` with an
added inline script that writes what it found into the DOM as JSON, which ``--dump-dom`` prints after
``--virtual-time-budget``. A missing Chromium fails: ``make test`` installs it (tests/sysdeps.sh)."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp: Path, *args: str) -> str:
    assert CHROMIUM.exists(), "Debian's chromium package is needed for the report tests (make test installs it)"
    profile = tmp / f"chromium-profile-{len(list(tmp.glob('chromium-profile-*')))}"
    r = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def checked(tmp: Path, page: Path, script: str) -> Any:
    """Open a copy of ``page`` (same directory, so relative links hold) with ``script`` added; the
    script puts JSON into <pre id="check">; return it."""
    probe = page.with_name(f"zz-probe-{page.name}")
    probe.write_text(page.read_text().replace("</body>", f"<script>{script}</script></body>"))
    try:
        dom = chromium(tmp, "--virtual-time-budget=15000", "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    m = re.search(r'<pre id="check">(.*?)</pre>', dom, re.S)
    assert m, "the probe script did not finish: " + dom[-1500:]
    return json.loads(html.unescape(m.group(1)))


REPORT_OUT = ("var pre=document.createElement('pre');pre.id='check';pre.textContent=JSON.stringify(out);"
              "document.body.appendChild(pre);")
