"""Secret files: the first line, and only from a file nobody else can read (the error names file and key)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.secrets import read_secret


def _secret(tmp_path: Path, text: bytes, mode: int = 0o600) -> Path:
    p = tmp_path / "secret"
    p.write_bytes(text)
    p.chmod(mode)
    return p


def test_the_first_line_is_the_secret(tmp_path: Path) -> None:
    assert read_secret(_secret(tmp_path, b"s3cret pass\nignored\n"), config="w.toml", key="mqtt.password_file") \
        == "s3cret pass"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_a_file_others_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    p = _secret(tmp_path, b"pw\n", mode)
    with pytest.raises(ConfigError) as e:
        read_secret(p, config="w.toml", key="mqtt.password_file")
    assert str(e.value) == (f"w.toml: mqtt.password_file: {p}: readable or writable by group or others "
                            f"(mode {mode:04o}); run: chmod 600 {p}")
    assert "pw" not in str(e.value).replace(str(p), "")


@pytest.mark.parametrize("content, problem", [
    (b"", "empty (the secret is the file's first line)"),
    (b"\nsecond\n", "empty (the secret is the file's first line)"),
    (b"\xff\xfe", "not UTF-8 text"),
    (b"x" * 5000, "larger than 4096 bytes: not a secret file"),
])
def test_unusable_content(tmp_path: Path, content: bytes, problem: str) -> None:
    p = _secret(tmp_path, content)
    with pytest.raises(ConfigError, match=f"^w.toml: k: {p}: " + problem.replace("(", r"\(").replace(")", r"\)")):
        read_secret(p, config="w.toml", key="k")


def test_missing_symlinked_or_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_secret(tmp_path / "nope", config="c", key="k")
    target = _secret(tmp_path, b"pw\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match="c: k: "):  # O_NOFOLLOW: a link is not followed
        read_secret(link, config="c", key="k")
    fifo = tmp_path / "dir"
    fifo.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_secret(fifo, config="c", key="k")


@pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                    reason="needs root to give the file to another user (never skipped in CI)")
def test_a_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    p = _secret(tmp_path, b"pw\n")
    os.chown(p, 65534, 65534)
    with pytest.raises(ConfigError, match="owned by uid 65534"):
        read_secret(p, config="c", key="k")
