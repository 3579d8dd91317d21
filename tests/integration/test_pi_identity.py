"""Identity on the Pi, with the real watcher: a clip id is never used twice in a data directory, and
nothing put on a clip's names in recorded_clips/ stops it from being published.

The first test runs the real pipeline (synthetic scene, real encoder and files) several times on one
data directory with the wall clock held at the same second, then stepped back, with every clip
taken away in between, as an inspector does. The others run ``python -m watcher`` as a process and,
while a clip records (its id read from status.json, as anyone who can read the data directory
can), put a directory, a symlink and empty files on its names, then SIGKILL the watcher during the
next clip whose names are taken too: every clip is still published, under a fresh id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from shared.manifest import Manifest, parse_manifest
from shared.naming import check_camera_name, make_clip_id, parse_clip_id
from shared.trigger import TriggerSettings
from tests.clips import decode_frame_count, verify_recorded
from tests.proc import ROOT, WatcherProcess, wait_for_file
from watcher.clip_seq import COUNTER_NAMES
from watcher.config import GeneralSettings, WatcherConfig, camera_from_hostname
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SyntheticSource

FIXED = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def _run(data: Path, clock: float) -> list[Manifest]:
    cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(data), camera="gate"),
                        trigger=TriggerSettings(pre_roll_s=0.5, post_roll_s=1.0))
    src = SyntheticSource(seed=11, duration_s=14.0, first_event_s=2.0, event_period_s=6.0)
    return run_watcher(cfg, source=src, wall_clock=lambda: clock).clips


def test_restarts_in_the_same_second_and_a_clock_stepped_back_never_reuse_an_id(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seen: dict[str, int] = {}
    stamps: list[set[str]] = []
    for run, clock in enumerate((FIXED, FIXED, FIXED - 8.0, FIXED)):  # same second twice, then 8 s back
        clips = _run(data, clock)
        assert len(clips) >= 2, run
        verify_recorded(data / "recorded_clips")
        for m in clips:
            assert m.id not in seen, f"run {run} reused {m.id} from run {seen[m.id]}"
            seen[m.id] = run
        stamps.append({m.id.split("_")[1] for m in clips})
        for p in (data / "recorded_clips").iterdir():  # the inspector pulled and deleted everything
            p.unlink()
    assert stamps[0] == stamps[1] and stamps[2] & stamps[0]  # the same seconds again: only the sequence differs
    assert all((data / name).is_file() for name in COUNTER_NAMES)


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "watcher.toml"
    cfg.write_text('[watcher]\nstatus_interval_s = 0.2\n'
                   '[source]\nrealtime = true\nsynthetic_period_s = 6.0\nsynthetic_walk_s = 3.0\n'
                   '[trigger]\npre_roll_s = 0.5\npost_roll_s = 1.0\n[encoder]\ngop_s = 0.5\n')
    return cfg


def _recording(status: Path, *, not_in: set[str]) -> str:
    """The id of the clip being recorded, once it is a new one (status.json is rewritten every 0.2 s)."""
    text = wait_for_file(status, lambda t: json.loads(t).get("current_clip") not in (None, *not_in), timeout=60)
    return str(json.loads(text)["current_clip"])


def _verify(recorded: Path, clip_id: str) -> Manifest:
    m = parse_manifest((recorded / f"{clip_id}.json").read_bytes(), expected_id=clip_id)
    data = (recorded / f"{clip_id}.mp4").read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (m.size, m.sha256)
    assert decode_frame_count(recorded / f"{clip_id}.mp4") == m.frames > 0
    return m


def test_names_taken_while_clips_record_never_stop_them_being_published(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rec, status = data / "recorded_clips", data / "status.json"
    camera = camera_from_hostname(os.uname().nodename)  # no camera in the config: the host name's
    w = WatcherProcess("--config", str(_config(tmp_path)), "--data-dir", str(data), "--duration", "100000")

    first = _recording(status, not_in=set())
    assert parse_clip_id(first).camera == camera
    (rec / f"{first}.mp4").mkdir()
    os.symlink("/etc/hostname", rec / f"{first}.json")
    started, seq = parse_clip_id(first).started, parse_clip_id(first).seq
    ahead = [make_clip_id(camera, started, seq + k) for k in (1, 2)]  # the fresh ids it would try next
    for clip_id in ahead:
        (rec / f"{clip_id}.mp4").write_bytes(b"")
    line = w.wait_for(f"published {first} as ", timeout=60)
    fresh1 = line.rsplit(" as ", 1)[1].split()[0]
    assert fresh1 not in (first, *ahead) and parse_clip_id(fresh1).started == started
    assert _verify(rec, fresh1).camera == camera

    second = _recording(status, not_in={first})
    (rec / f"{second}.json").write_bytes(b"")
    part = data / "temp_clips" / f"{second}.mp4.part"
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 100_000):  # a few fragments written
        assert time.monotonic() < deadline and w.proc.poll() is None, "the second clip did not grow"
        w.next_line(timeout=0.05)  # (the poll interval; keeps the log)
    w.proc.kill()  # in the middle of the second clip
    w.finish()
    assert (data / "temp_clips" / f"{second}.mp4.part").exists()

    again = WatcherProcess("--config", str(_config(tmp_path)), "--data-dir", str(data), "--duration", "1")
    assert again.finish() == 0, again.log[-20:]
    m = re.search(rf"salvaged (\S+) \(from {second}, whose name was taken\)", "\n".join(again.log))
    assert m, again.log[-20:]
    fresh2 = m[1]
    assert _verify(rec, fresh2).salvaged and fresh2 not in (fresh1, second)

    # what was put on the names is still there, untouched; nothing else is left behind
    assert (rec / f"{first}.mp4").is_dir() and os.readlink(rec / f"{first}.json") == "/etc/hostname"
    assert all((rec / f"{c}.mp4").read_bytes() == b"" for c in ahead)
    assert (rec / f"{second}.json").read_bytes() == b"" and not (rec / f"{second}.mp4").exists()
    assert not list((data / "temp_clips").iterdir())
    junk = {f"{first}.mp4", f"{first}.json", f"{second}.json", *(f"{c}.mp4" for c in ahead)}
    published = {p.stem for p in rec.glob("*.json") if p.name not in junk}
    for clip_id in published:
        _verify(rec, clip_id)
    assert {fresh1, fresh2} <= published
    assert len({p.name for p in rec.iterdir()} - junk) == 2 * len(published)


ALLOCATE = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from watcher.clip_seq import ClipIds
from watcher.datadir import DataDir
ids = ClipIds(DataDir(Path(sys.argv[1])), block=3)
t = datetime(2026, 11, 22, tzinfo=timezone.utc)
print("ready", flush=True)
sys.stdin.readline()  # all start together
print("\\n".join(ids.new_id("cam", t) for _ in range(150)), flush=True)
"""


def test_processes_sharing_a_data_dir_never_get_the_same_id(tmp_path: Path) -> None:
    """The watcher and the cleanup command (salvage) may both need ids at once: the counter's lock."""
    data = tmp_path / "data"
    data.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", ALLOCATE, str(data)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(3)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120)[0].split() for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert all(len(o) == 150 for o in outs) and all(p.returncode == 0 for p in procs)
    every = [i for o in outs for i in o]
    assert len(set(every)) == len(every) == 450


@given(st.text(max_size=80))
def test_any_host_name_gives_a_valid_camera_name(hostname: str) -> None:
    assert check_camera_name(camera_from_hostname(hostname)) is None


def test_camera_names_from_typical_host_names() -> None:
    cases = {"raspberrypi": "raspberrypi", "Garden_Pi.local": "garden-pi", "pi4.example.com": "pi4",
             "Front Door": "front-door", "-x-": "x", "": "camera", "___": "camera", "a" * 40: "a" * 32}
    assert {h: camera_from_hostname(h) for h in cases} == cases


def test_the_watcher_names_its_clips_after_its_host(tmp_path: Path) -> None:
    """A real watcher in its own UTS namespace (as root), host name Garden_Pi.local, no camera configured."""
    data = tmp_path / "data"
    run = ("import socket, sys; socket.sethostname('Garden_Pi.local'); import watcher.__main__ as m; "
           "sys.exit(m.main(sys.argv[1:]))")
    r = subprocess.run(["unshare", "--uts", sys.executable, "-c", run, "--source", "synthetic", "--duration", "12",
                        "--data-dir", str(data)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    clips = verify_recorded(data / "recorded_clips")
    assert clips and all(m.id.startswith("garden-pi_") and m.camera == "garden-pi" for m in clips)
