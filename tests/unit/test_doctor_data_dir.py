"""The data directory checks on real directories; free space with an injected disk_usage."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.inspector_env import can_mount_or_must
from watcher.datadir import DataDir
from watcher.doctor.data_dir import check_free_space, check_same_filesystem, check_writable, write_probe
from watcher.doctor.result import Status
from watcher.retention import RetentionSettings

MB = 1024 * 1024
needs_mount = pytest.mark.skipif(not can_mount_or_must(), reason="mounting a tmpfs needs root (never skipped in CI)")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    done: list[Path] = []
    yield done
    for d in reversed(done):
        subprocess.run(["umount", "-l", str(d)], check=False)


def mount_tmpfs(d: Path, mounts: list[Path], *opts: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=4m", *opts)), "tmpfs", str(d)], check=True)
    mounts.append(d)


def test_writable_data_dir_leaves_nothing_behind(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path / "d")
    dirs.create()
    r = check_writable(dirs)
    assert r.status is Status.OK and "is writable (file written, fsynced, removed)" in r.message
    assert sorted(p.name for p in dirs.root.rglob("*")) == ["recorded_clips", "temp_clips"]


def test_missing_data_dir(tmp_path: Path) -> None:
    r = check_writable(DataDir(tmp_path / "not" / "yet"))
    assert r.status is Status.WARN and "does not exist yet" in r.message
    assert not (tmp_path / "not").exists(), "the doctor creates nothing"
    (tmp_path / "file").write_text("x")
    assert check_writable(DataDir(tmp_path / "file")).status is Status.FAIL


@needs_mount
def test_read_only_data_dir(tmp_path: Path, mounts: list[Path]) -> None:
    root = tmp_path / "ro"
    mount_tmpfs(root, mounts, "ro")
    assert "Read-only file system" in (write_probe(root) or "")
    r = check_writable(DataDir(root))
    assert r.status is Status.FAIL and "chown" in r.fix


@needs_mount
def test_temp_and_recorded_on_different_filesystems(tmp_path: Path, mounts: list[Path]) -> None:
    dirs = DataDir(tmp_path / "d")
    dirs.create()
    assert check_same_filesystem(dirs).status is Status.OK
    mount_tmpfs(dirs.temp, mounts)
    r = check_same_filesystem(dirs)
    assert r.status is Status.FAIL and "different filesystems" in r.message
    assert "a rename that never replaces" in r.message


def test_same_filesystem_before_the_folders_exist(tmp_path: Path) -> None:
    assert check_same_filesystem(DataDir(tmp_path / "new")).status is Status.OK


def space(dirs: DataDir, free_mb: float, total_mb: float = 10_000, **settings):
    return check_free_space(dirs, RetentionSettings(**settings),
                            disk_usage=lambda p: (int(total_mb * MB), int(free_mb * MB)))


def test_free_space_against_the_floor(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path / "d")
    dirs.create()
    (dirs.recorded / "cam1_20260101T000000Z_0001.mp4").write_bytes(b"\0" * (300 * 1024))
    assert space(dirs, 5000, min_free_mb=512).status is Status.OK
    r = space(dirs, 700, min_free_mb=512)
    assert r.status is Status.WARN and "less than twice the floor" in r.message
    r = space(dirs, 400, min_free_mb=400.1)
    assert r.status is Status.WARN and "deletes the oldest clips" in r.message  # the clip covers the shortfall
    r = space(dirs, 400, min_free_mb=512)
    assert r.status is Status.FAIL and "even with every clip removed" in r.message
    r = space(dirs, 400, min_free_mb=400.1, on_full="stop_recording")
    assert r.status is Status.FAIL and "does not record" in r.message
    r = space(dirs, 100, total_mb=500, min_free_mb=512)
    assert r.status is Status.FAIL and "larger than the whole filesystem" in r.message
    r = space(dirs, 5000, min_free_mb=100, max_usage_mb=0.1)
    assert r.status is Status.WARN and "exceed the cap" in r.message
    assert space(dirs, 5000, min_free_mb=0).status is Status.OK


def test_free_space_of_a_data_dir_not_created_yet(tmp_path: Path) -> None:
    r = check_free_space(DataDir(tmp_path / "later"), RetentionSettings(min_free_mb=0))
    assert r.status is Status.OK and r.details["free_bytes"] > 0


def test_root_is_told_to_check_as_the_service_user(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path / "d")
    dirs.create()
    assert ("sudo -u watcher" in check_writable(dirs).message) == (os.geteuid() == 0)
