"""Noise: a watcher directory holding 200,000 junk names (some not even UTF-8) beside a few good
clips costs the inspector bounded memory and time, and one summary line in its log, not one line
per name. Real sshd, a real ``inspector pull`` process, its peak RSS read from the kernel."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.catalog import Catalog
from inspector.sftp_names import parse_name_reply
from tests.inspector_env import can_mount_or_must, copy_clips
from tests.inspector_procs import pull, write_config_with

JUNK = 200_000
NOT_UTF8 = 50
# Measured here (paramiko 5.1, Python 3.11, loopback sshd), peak RSS of the pull process: 52-55 MiB
# with the good clips alone and 52-54 MiB with the 200,000 junk names beside them, in 3.2 s. Before
# (listdir_attr holding every entry, one warning per name) it was 205 MiB, 20.6 s and 200,000 log
# lines. The bound leaves room for another machine, not for a listing held in memory.
MAX_EXTRA_RSS_MIB = 24
MAX_WALL_S = 120.0


@pytest.mark.skipif(not can_mount_or_must(), reason="mounting a tmpfs needs root (never skipped in CI)")
def test_200000_junk_names_cost_bounded_memory_time_and_one_log_line(tmp_path: Path, sshd,
                                                                      watcher_clips: Path) -> None:
    pis = tmp_path / "pis"
    pis.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,nr_inodes=400000", "tmpfs", str(pis)], check=True)
    try:
        quiet = pis / "quiet" / "recorded_clips"
        noisy = pis / "noisy" / "recorded_clips"
        for d in (quiet, noisy):
            copy_clips(watcher_clips, d)
        good = {p.stem for p in noisy.glob("*.json")}
        fd_dir = os.open(noisy, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i in range(JUNK - NOT_UTF8):
                name = f"junk{i:06d}" if i % 4 else f"cam1_2026{i:06d}_0001.json"  # no clip name / no clip id
                os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd_dir))
            for i in range(NOT_UTF8):
                os.close(os.open(b"\xff\xfe" + f"{i:04d}.json".encode(), os.O_CREAT | os.O_WRONLY, 0o644,
                                 dir_fd=fd_dir))
        finally:
            os.close(fd_dir)
        library = tmp_path / "library"

        baseline = pull(write_config_with(tmp_path / "quiet.toml", tmp_path / "quiet-library",
                                          [sshd.watcher_toml("pi1", quiet)]))
        assert baseline.returncode == 0, baseline.stderr[-3000:]
        r = pull(write_config_with(tmp_path / "noisy.toml", library, [sshd.watcher_toml("pi1", noisy)]))
        assert r.returncode == 0, r.stderr[-3000:]
        print(f"peak RSS: {baseline.maxrss_kib / 1024:.1f} MiB without junk, {r.maxrss_kib / 1024:.1f} MiB with "
              f"{JUNK} junk names; wall {baseline.wall_s:.1f} s / {r.wall_s:.1f} s")

        cat = Catalog(library / "catalog.sqlite3")
        assert {x.clip_id for x in cat.rows() if x.state == "acked"} == good, "the good clips arrive"
        cat.close()
        assert f"skipped {JUNK}" in r.stdout, r.stdout
        about_junk = [x for x in r.log if "junk" in x or "\\xff" in x or "not valid UTF-8" in x]
        assert len(about_junk) == 1, about_junk[:5]
        summary = about_junk[0]
        assert f"skipped {JUNK} of {JUNK + 2 * len(good)} names" in summary
        assert "name is not valid UTF-8" in summary and "not a clip or manifest name" in summary
        assert "name does not parse as a clip id" in summary
        assert len(r.log) < 60, "no line per name"
        assert r.maxrss_kib / 1024 < baseline.maxrss_kib / 1024 + MAX_EXTRA_RSS_MIB
        assert r.wall_s < MAX_WALL_S
        remaining = sum(1 for _ in os.scandir(noisy))
        assert remaining == JUNK, "the junk is left alone (not ours), the good clips are archived"
    finally:
        subprocess.run(["umount", "-l", str(pis)], check=False)


def _entry(name: bytes, flags: int, size: int, mode: int, mtime: int, ext: list[tuple[bytes, bytes]]) -> bytes:
    out = struct.pack(">I", len(name)) + name + struct.pack(">I", 3) + b"ls!" + struct.pack(">I", flags)
    if flags & 0x1:
        out += struct.pack(">Q", size)
    if flags & 0x2:
        out += struct.pack(">II", 0, 0)
    if flags & 0x4:
        out += struct.pack(">I", mode)
    if flags & 0x8:
        out += struct.pack(">II", 0, mtime)
    if flags & 0x80000000:
        out += struct.pack(">I", len(ext)) + b"".join(struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
                                                      for k, v in ext)
    return out


_names = st.lists(st.tuples(st.binary(max_size=40), st.sampled_from([0, 0x1, 0xF, 0x8000000F]),
                            st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
                            st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=8)), max_size=3)),
                  max_size=20)


@settings(max_examples=300, deadline=None)
@given(_names, st.data())
def test_a_readdir_reply_is_parsed_totally(entries, data) -> None:
    """Any bytes in a READDIR reply give entries or a ValueError, never another exception; a
    well-formed reply gives back every name (non-UTF-8 ones surrogate-escaped)."""
    raw = struct.pack(">I", len(entries)) + b"".join(_entry(*e) for e in entries)
    got = parse_name_reply(raw)
    want = [(e[0], e[2] if e[1] & 1 else 0) for e in entries if e[0] not in (b".", b"..")]
    assert [(os.fsencode(x.name), x.size) for x in got] == want
    cut = data.draw(st.integers(0, len(raw)))  # truncated, or garbage appended, or flipped bytes
    mangled = data.draw(st.sampled_from([raw[:cut], raw[:cut] + data.draw(st.binary(max_size=64)),
                                         bytes(b ^ 0xFF if i == cut else b for i, b in enumerate(raw))]))
    try:
        parse_name_reply(mangled)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_as_a_readdir_reply_never_raise_anything_but_valueerror(raw: bytes) -> None:
    try:
        parse_name_reply(raw)
    except ValueError:
        pass


def test_a_reply_claiming_billions_of_names_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="claims"):
        parse_name_reply(struct.pack(">I", 2**32 - 1) + b"\0" * 100)
    one = _entry(b"x", 0x80000000, 0, 0, 0, [])[:-4] + struct.pack(">I", 2**32 - 1)
    with pytest.raises(ValueError, match="extended"):
        parse_name_reply(struct.pack(">I", 1) + one + b"\0" * 64)
