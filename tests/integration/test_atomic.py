"""shared.atomic: the one durable write (save_file) on real files: unique temp names across threads,
the target untouched on failure, the mode a plain open gives, a killed writer's leftovers found by pid."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from shared.atomic import atomic_write_bytes, link_durably, move_durably, save_file, temp_files_of


def test_save_file_replaces_the_target_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.write_bytes(b"old")
    with save_file(target) as f:
        f.write(b"new")
        assert target.read_bytes() == b"old", "a reader sees the old content until the block ends"
        assert Path(f.name).parent == tmp_path and Path(f.name).name.startswith(".status.json.")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_an_exception_removes_the_temp_and_keeps_the_target(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="midway"), save_file(target) as f:
        f.write(b"half")
        raise RuntimeError("midway")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_a_new_file_gets_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "m.json", b"{}")
        (tmp_path / "plain").write_bytes(b"")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o644


def test_tmp_dir_holds_the_temp_file(tmp_path: Path) -> None:
    side = tmp_path / "temp"
    side.mkdir()
    with save_file(tmp_path / "t.json", tmp_dir=side) as f:
        assert Path(f.name).parent == side
        f.write(b"1")
    assert (tmp_path / "t.json").read_bytes() == b"1" and not list(side.iterdir())


def test_threads_of_one_process_never_share_a_temp_file(tmp_path: Path) -> None:
    """The pid alone named the temp file once: two threads writing one target then wrote into the
    same temp file and one could publish the other's half-written bytes, or fail its rename."""
    target = tmp_path / "shared.bin"
    n, rounds = 8, 50
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        payload = bytes([i]) * 65536
        try:
            start.wait()
            for _ in range(rounds):
                atomic_write_bytes(target, payload)
                got = target.read_bytes()
                assert len(got) == 65536 and got == bytes([got[0]]) * 65536, "a torn or mixed file"
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.bin"]


def test_temp_files_of_finds_only_that_pids_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "c.analysis.json"
    mine = tmp_path / f".c.analysis.json.{4242}.abcdef.tmp"
    other = tmp_path / f".c.analysis.json.{4243}.abcdef.tmp"
    mine.write_bytes(b"")
    other.write_bytes(b"")
    assert temp_files_of(target, 4242) == [mine]


def test_link_durably_keeps_the_source_and_replaces_the_target(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.part", tmp_path / "q" / "a.mp4"
    dst.parent.mkdir()
    src.write_bytes(b"clip")
    dst.write_bytes(b"older")
    link_durably(src, dst)
    assert dst.read_bytes() == b"clip" and src.exists() and os.path.samefile(src, dst)
    assert sorted(p.name for p in dst.parent.iterdir()) == ["a.mp4"]


def test_move_durably_moves_between_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"1")
    move_durably(tmp_path / "a" / "f", tmp_path / "b" / "f")
    assert not (tmp_path / "a" / "f").exists() and (tmp_path / "b" / "f").read_bytes() == b"1"
