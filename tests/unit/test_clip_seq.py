"""The clip id counter (watcher/clip_seq.py) on real files: an id is never handed out twice in a data
directory, whatever the clock does, however often the watcher restarts, whatever the inspector
deleted, and when one copy of the counter is torn or garbled."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.naming import MAX_SEQ, make_clip_id, parse_clip_id
from watcher.clip_seq import COUNTER_NAMES, ClipIds, NoFreeId, decode_counter, encode_counter, read_counter, seq_of
from watcher.datadir import DataDir

T0 = datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)


def data_dir(tmp_path: Path) -> DataDir:
    dirs = DataDir(tmp_path / "data")
    dirs.create()
    dirs.transferred.mkdir()
    return dirs


def publish_as(dirs: DataDir, clip_id: str, folder: Path | None = None) -> None:
    """A finished clip as the watcher leaves it (contents do not matter to the counter)."""
    folder = folder or dirs.recorded
    (folder / f"{clip_id}.mp4").write_bytes(b"mp4")
    (folder / f"{clip_id}.json").write_bytes(b"{}")


def delete_all_clips(dirs: DataDir) -> None:
    """What an inspector does after pulling: nothing of the clips is left on the Pi."""
    for folder in (dirs.recorded, dirs.transferred):
        for p in folder.iterdir():
            p.unlink()


def test_counter_record_round_trips_and_rejects_damage() -> None:
    for n in (1, 16, 999_999, 1_000_000, 10**17):
        assert decode_counter(encode_counter(n)) == n
    good = encode_counter(1234)
    for bad in (b"", good[:-1], good[:3], good + b"\n", b"1235" + good[4:], good.replace(b"1234", b"1243"),
                b"\x00" * len(good), good.upper(), b"-1 00000000\n"):
        assert decode_counter(bad) is None, bad


@given(st.binary(max_size=40))
def test_any_bytes_decode_to_nothing_or_to_their_own_record(raw: bytes) -> None:
    n = decode_counter(raw)
    assert n is None or encode_counter(n) == raw


def test_restart_within_the_same_second_never_reuses_an_id(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    seen: list[str] = []
    for _ in range(5):  # five watcher starts, all in the very same second
        ids = ClipIds(dirs, block=4)
        seen += [ids.new_id("cam", T0) for _ in range(3)]
    assert len(set(seen)) == len(seen) == 15
    assert all(parse_clip_id(i).started == T0 for i in seen)


def test_a_clock_that_steps_back_never_reuses_an_id(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    ids = ClipIds(dirs, block=3)
    first = [ids.new_id("cam", T0 + timedelta(seconds=s)) for s in range(5)]
    ids = ClipIds(dirs, block=3)  # restarted after NTP stepped the clock back ten seconds ...
    again = [ids.new_id("cam", T0 - timedelta(seconds=10) + timedelta(seconds=s)) for s in range(15)]
    assert len(set(first) | set(again)) == len(first) + len(again)  # ... through the same seconds again
    seqs = [parse_clip_id(i).seq for i in first + again]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_ids_of_clips_the_inspector_took_and_deleted_are_not_reused(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    handed_out: set[str] = set()
    for run in range(4):
        ids = ClipIds(dirs)
        for _ in range(5):
            clip_id = ids.new_id("cam", T0)
            assert clip_id not in handed_out
            handed_out.add(clip_id)
            publish_as(dirs, clip_id, dirs.transferred if run % 2 else dirs.recorded)
        delete_all_clips(dirs)  # nothing on disk tells the next start which ids were used
    assert len(handed_out) == 20


def test_a_garbled_or_missing_copy_is_survived(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    used = {ClipIds(dirs, block=8).new_id("cam", T0)}
    primary, copy = (dirs.root / n for n in COUNTER_NAMES)
    damage = [lambda: primary.write_bytes(b"\x00" * 12), lambda: copy.write_bytes(b"garbage\n"),
              lambda: primary.write_bytes(primary.read_bytes()[:3]), lambda: copy.unlink(),
              lambda: primary.unlink(), lambda: copy.write_bytes(encode_counter(1))]  # a stale copy: lower
    for harm in damage:
        harm()
        delete_all_clips(dirs)
        clip_id = ClipIds(dirs, block=8).new_id("cam", T0)
        assert clip_id not in used, harm
        used.add(clip_id)
    n, problems = read_counter(dirs.root)
    assert n is not None and not problems  # every reservation rewrote both copies


def test_with_both_copies_garbled_it_continues_after_the_highest_id_on_disk(tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    dirs = data_dir(tmp_path)
    publish_as(dirs, make_clip_id("cam", T0, 41), dirs.transferred)
    (dirs.temp / f"{make_clip_id('other', T0, 57)}.mp4.part").write_bytes(b"")
    for name in COUNTER_NAMES:
        (dirs.root / name).write_bytes(b"\xff\xfe torn")
    assert parse_clip_id(ClipIds(dirs).new_id("cam", T0)).seq == 58
    assert "clip counter unreadable" in caplog.text


def test_an_old_data_dir_without_a_counter_continues_after_its_clips(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    publish_as(dirs, make_clip_id("cam", T0, 9))
    assert parse_clip_id(ClipIds(dirs).new_id("cam", T0)).seq == 10


def test_names_already_taken_are_skipped(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    ids = ClipIds(dirs, block=100)
    first = ids.new_id("cam", T0)
    seq = parse_clip_id(first).seq
    (dirs.recorded / f"{make_clip_id('cam', T0, seq + 1)}.mp4").mkdir()  # a directory
    os.symlink("/nowhere", dirs.recorded / f"{make_clip_id('cam', T0, seq + 2)}.json")  # a dangling symlink
    (dirs.transferred / f"{make_clip_id('cam', T0, seq + 3)}.mp4").write_bytes(b"")
    assert parse_clip_id(ids.new_id("cam", T0)).seq == seq + 4


def test_the_sequence_wraps_within_what_ids_accept(tmp_path: Path) -> None:
    assert [seq_of(n) for n in (1, MAX_SEQ - 1, MAX_SEQ, MAX_SEQ + 1, 2 * MAX_SEQ + 5)] == [1, MAX_SEQ - 1, MAX_SEQ,
                                                                                            1, 5]
    dirs = data_dir(tmp_path)
    for name in COUNTER_NAMES:
        (dirs.root / name).write_bytes(encode_counter(MAX_SEQ - 2))
    ids = ClipIds(dirs, block=2)
    got = [parse_clip_id(ids.new_id("cam", T0)).seq for _ in range(4)]
    assert got == [MAX_SEQ - 1, MAX_SEQ, 1, 2]
    assert read_counter(dirs.root)[0] == MAX_SEQ + 2  # the counter itself never goes back


def test_when_every_name_is_taken_it_says_so(tmp_path: Path) -> None:
    dirs = data_dir(tmp_path)
    ids = ClipIds(dirs, block=100, max_tries=30)
    assert parse_clip_id(ids.new_id("cam", T0)).seq == 1
    for seq in range(2, 41):  # the inspector's account filled the names ahead (empty files)
        (dirs.recorded / f"{make_clip_id('cam', T0, seq)}.json").write_bytes(b"")
    with pytest.raises(NoFreeId, match="every clip id"):
        ids.new_id("cam", T0)  # tried 2..31
    assert parse_clip_id(ids.new_id("cam", T0)).seq == 41  # the next call goes on from there


OPS = st.lists(st.one_of(
    st.tuples(st.just("clip"), st.integers(-3, 3)),  # a clip, the clock at T0 + that many seconds
    st.just(("restart",)),
    st.just(("delete",)),  # the inspector takes everything
    st.tuples(st.just("damage"), st.sampled_from(COUNTER_NAMES), st.binary(max_size=24)),
), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, block=st.integers(1, 5))
def test_no_id_repeats_whatever_happens_between_clips(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple],
                                                      block: int) -> None:
    dirs = data_dir(tmp_path_factory.mktemp("prop"))
    ids = ClipIds(dirs, block=block)
    seen: set[str] = set()
    damaged: set[str] = set()
    for op in ops:
        if op[0] == "clip":
            clip_id = ids.new_id("cam", T0 + timedelta(seconds=op[1]))
            assert clip_id not in seen
            seen.add(clip_id)
            publish_as(dirs, clip_id)
            if not read_counter(dirs.root)[1]:
                damaged.clear()  # a reservation rewrote both copies
        elif op[0] == "restart":
            ids = ClipIds(dirs, block=block)
        elif op[0] == "delete":
            delete_all_clips(dirs)
        elif len(damaged | {op[1]}) < len(COUNTER_NAMES):  # one copy at a time (both: the scan, tested above)
            damaged.add(op[1])
            (dirs.root / op[1]).write_bytes(op[2])


def test_a_counter_that_cannot_be_saved_does_not_stop_recording(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    dirs = data_dir(tmp_path)
    ids = ClipIds(dirs, block=2)
    handed = [ids.new_id("cam", T0) for _ in range(2)]
    (dirs.root / COUNTER_NAMES[0]).unlink()
    (dirs.root / COUNTER_NAMES[0]).mkdir()  # saving fails from now on (as on a full disk)
    handed += [ids.new_id("cam", T0) for _ in range(3)]
    assert "cannot save the clip id counter" in caplog.text
    (dirs.root / COUNTER_NAMES[0]).rmdir()  # it can be saved again: the next block is saved above them all
    handed += [ids.new_id("cam", T0) for _ in range(2)]
    handed.append(ClipIds(dirs).new_id("cam", T0))  # and a restart goes on from there
    seqs = [parse_clip_id(i).seq for i in handed]
    assert seqs == sorted(set(seqs))
