"""The inspector pulling over SFTP from a real OpenSSH sshd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import pull_all
from shared.manifest import parse_manifest
from shared.naming import parse_clip_id
from tests.clips import verify_recorded
from tests.inspector_env import copy_clips, tree_files, write_config
from tests.proc import ROOT


def inspector_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def setup_remote(tmp_path: Path, watcher_clips: Path) -> tuple[Path, set[str]]:
    remote = tmp_path / "pi" / "recorded_clips"
    copy_clips(watcher_clips, remote)
    return remote, {p.stem for p in remote.glob("*.json")}


def test_pull_archive_end_to_end(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote, ids = setup_remote(tmp_path, watcher_clips)
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "inspector.toml", library, [sshd.watcher_toml("pi1", remote)])
    r = inspector_cli("pull", "--no-analyze", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-3000:]
    assert not list(remote.iterdir()), "the remote keeps nothing it should not"
    archived = tmp_path / "pi" / "transferred"
    assert {p.stem for p in archived.glob("*.json")} == ids and {p.stem for p in archived.glob("*.mp4")} == ids
    stored = {}
    for m in library.glob("clips/*/cam1/*/*.json"):
        manifest = parse_manifest(m.read_bytes(), expected_id=m.stem)
        stored[m.stem] = manifest
        assert m.parent.name == parse_clip_id(m.stem).started.strftime("%Y-%m-%d")  # date of the id's UTC start
    assert set(stored) == ids
    for date_dir in {p.parent for p in library.glob("clips/*/cam1/*/*.mp4")}:
        verify_recorded(date_dir)  # size, sha256, decodes
    cat = Catalog(library / "catalog.sqlite3")
    rows = cat.rows()
    assert {r.clip_id for r in rows} == ids and {r.state for r in rows} == {"acked"}
    cat.close()
    assert not list((library / "incoming" / "pi1").glob("*"))
    s = inspector_cli("status", "--config", str(cfg), "--json")
    assert json.loads(s.stdout)["states"] == {"acked": len(ids)}
    again = inspector_cli("pull", "--no-analyze", "--config", str(cfg))  # idempotent: nothing new, nothing duplicated
    assert again.returncode == 0 and "stored 0" in again.stdout


def test_pull_delete_mode(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote, ids = setup_remote(tmp_path, watcher_clips)
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote, after_transfer="delete")])
    results = pull_all(load_config(str(cfg)))
    assert results[0].error is None and set(results[0].stats[0].stored) == ids
    assert not list(remote.iterdir()) and not (tmp_path / "pi" / "transferred").exists()
    assert len(list(library.glob("clips/*/cam1/*/*.mp4"))) == len(ids)


def test_wrong_host_key_refuses_and_touches_nothing(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote, _ids = setup_remote(tmp_path, watcher_clips)
    before = tree_files(tmp_path / "pi")
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)])
    other_key = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    sshd.known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other_key}\n")
    r = inspector_cli("pull", "--no-analyze", "--config", str(cfg))
    assert r.returncode == 1
    assert "host key" in r.stderr and "pi1" in r.stdout
    assert tree_files(tmp_path / "pi") == before
    assert not list(library.glob("clips/*/cam1/**/*.mp4"))
    # an unknown host (empty known_hosts) is refused the same way, never added
    sshd.known_hosts.write_text("")
    r = inspector_cli("pull", "--no-analyze", "--config", str(cfg))
    assert r.returncode == 1 and "not in" in r.stderr and sshd.known_hosts.read_text() == ""


def test_two_watchers_one_down(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote, ids = setup_remote(tmp_path, watcher_clips)
    library = tmp_path / "library"
    down = sshd.watcher_toml("pi2", tmp_path / "nowhere").replace(f"port = {sshd.port}", "port = 9")
    cfg = write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote), down])
    r = inspector_cli("pull", "--no-analyze", "--config", str(cfg))
    assert r.returncode == 1
    assert "pi2: FAILED" in r.stdout and "pi1: stored" in r.stdout
    assert len(list(library.glob("clips/*/cam1/*/*.mp4"))) == len(ids)
    s = json.loads(inspector_cli("status", "--config", str(cfg), "--json").stdout)
    assert s["watchers"]["pi2"]["last_error"] and s["watchers"]["pi1"]["states"] == {"acked": len(ids)}


def test_pull_analyzes_and_builds_the_report(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote, ids = setup_remote(tmp_path, watcher_clips)
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)])
    r = inspector_cli("pull", "--config", str(cfg))
    assert r.returncode == 0 and "analysis: analyzed" in r.stdout, r.stderr[-3000:]
    assert (library / "report" / "index.html").is_file()
    s = json.loads(inspector_cli("status", "--config", str(cfg), "--json").stdout)
    assert s["states"] == {"analyzed": len(ids)}
