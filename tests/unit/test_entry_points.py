"""The command lines' shared pieces (shared/cli.py): every watcher entry point has --log-level exactly once on the
way to each of its commands, and the one wrapper turns each project error into its exit code and one log line.
The inspector's: tests/unit/test_inspector_entry_points.py (it needs paramiko)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterator

import pytest

import shared.errors
from shared import cli
from watcher.__main__ import build_parser as watcher_parser
from watcher.cleanup import build_parser as cleanup_parser
from watcher.doctor.__main__ import build_parser as doctor_parser

ENTRY_POINTS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "watcher": watcher_parser, "watcher.cleanup": cleanup_parser, "watcher.doctor": doctor_parser,
}


def subparsers(p: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    return next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)


def commands(p: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], int]]:
    """Each command a parser can run (its path of subcommands) and how often --log-level is on the way to it."""
    here = sum(a.option_strings.count("--log-level") for a in p._actions)
    sub = subparsers(p)
    if sub is None or not sub.required:  # the parser runs a command of its own (python -m watcher)
        yield path, here
    for name, child in (sub.choices.items() if sub else ()):
        for sub_path, count in commands(child, (*path, name)):
            yield sub_path, here + count


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_every_command_has_log_level_exactly_once(entry_point: str) -> None:
    found = dict(commands(ENTRY_POINTS[entry_point]()))
    assert found and all(count == 1 for count in found.values()), found


def test_the_watcher_runs_itself_doctor_and_explain() -> None:
    assert sorted(dict(commands(watcher_parser()))) == [(), ("doctor",), ("explain",)]
    assert watcher_parser().parse_args(["--log-level", "DEBUG", "explain", "c.mp4"]).log_level == "DEBUG"


def test_the_watcher_log_level_comes_before_doctor_and_stays() -> None:
    p = watcher_parser()
    assert p.parse_args(["--log-level", "DEBUG", "doctor", "--json"]).log_level == "DEBUG"
    assert p.parse_args(["doctor"]).log_level == "INFO"
    assert doctor_parser().parse_args([]).log_level == "WARNING"  # python -m watcher.doctor: quiet by default
    with pytest.raises(SystemExit):
        p.parse_args(["--log-level", "LOUD"])


def app_errors(package: str) -> list[type[shared.errors.AppError]]:
    """AppError and every subclass defined in ``package`` (of those imported so far)."""
    found: list[type[shared.errors.AppError]] = []
    todo = [shared.errors.AppError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [c for c in found if c.__module__.startswith(f"{package}.")]


APP_ERRORS = app_errors("shared")


def test_the_error_list_is_complete() -> None:
    assert sorted(c.__name__ for c in APP_ERRORS) == [
        "AppError", "ConfigError", "DataDirError", "SourceHung", "SourceUnavailable", "UsageError"]


class Raises:
    """A command whose run raises the given exception."""

    def __init__(self, error: BaseException) -> None:
        self.logger = logging.getLogger("test.command")
        self.error = error

    def add_arguments(self, parser: argparse.ArgumentParser, /) -> None:
        parser.add_argument("--flag", action="store_true")

    def run(self, args: argparse.Namespace, /) -> int:
        raise self.error


def error_of(cls: type[shared.errors.AppError], message: str) -> shared.errors.AppError:
    e = cls.__new__(cls)  # constructors differ (ConfigError takes path, key, problem); the wrapper needs only str()
    Exception.__init__(e, message)
    return e


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The wrapper sets up logging on the root logger (onto pytest's captured stderr): put it back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def check_error_mapping(cls: type[shared.errors.AppError], capsys: pytest.CaptureFixture[str]) -> None:
    """The wrapper returns the error's exit code and logs its message on one line, under the command's logger."""
    p = argparse.ArgumentParser(prog="test")
    cli.wire(p, Raises(error_of(cls, f"the {cls.__name__} message")))
    assert cli.main(p, ["--log-level", "WARNING"]) == cls.exit_code
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.endswith(f" ERROR test.command: the {cls.__name__} message")  # after the time stamp


@pytest.mark.parametrize("cls", [c for c in APP_ERRORS if c is not cli.UsageError], ids=lambda c: c.__name__)
def test_the_wrapper_maps_each_error_to_its_exit_code(cls: type[shared.errors.AppError], restore_logging: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    check_error_mapping(cls, capsys)


def test_exit_codes_are_sysexits() -> None:
    codes = {c.__name__: c.exit_code for c in APP_ERRORS}
    assert codes["ConfigError"] == 78 and codes["DataDirError"] == 73 and codes["SourceUnavailable"] == 69
    assert codes["SourceHung"] == 75 and codes["AppError"] == 1


def test_a_usage_error_prints_the_command_usage_and_exits_2(restore_logging: None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser(prog="test")
    cli.wire(p, Raises(cli.UsageError("give either this or that")))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(p, [])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: test [-h] [--flag]") and "test: error: give either this or that" in err


def test_other_exceptions_and_ctrl_c_are_not_swallowed(restore_logging: None) -> None:
    for error in (KeyboardInterrupt(), RuntimeError("a bug")):
        p = argparse.ArgumentParser(prog="test")
        cli.wire(p, Raises(error))
        with pytest.raises(type(error)):
            cli.main(p, [])


def test_the_wrapper_returns_what_the_command_returns(restore_logging: None) -> None:
    class Returns(Raises):
        def run(self, args: argparse.Namespace, /) -> int:
            return 7 if args.flag and args.log_level == "ERROR" else 0

    p = argparse.ArgumentParser(prog="test")
    cli.wire(p, Returns(RuntimeError()))
    assert cli.main(p, ["--flag", "--log-level", "ERROR"]) == 7
    assert logging.getLogger().level == logging.ERROR  # logging set up with the command's level
