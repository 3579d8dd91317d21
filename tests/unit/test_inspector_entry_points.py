"""The inspector's command lines through shared/cli.py: --log-level exactly once on the way to each command
(after the command's name, as always), and its own errors mapped to their exit codes by the one wrapper."""

from __future__ import annotations

import pytest

import inspector.add_watcher
import inspector.catalog_guard
import inspector.commands.label
import inspector.commands.tune
import inspector.fleet
import inspector.hostkeys
import shared.errors
from inspector.__main__ import build_parser as inspector_parser
from inspector.analysis.child import build_parser as child_parser
from tests.unit.test_entry_points import app_errors, check_error_mapping, commands, restore_logging

__all__ = ["restore_logging"]  # a fixture

INSPECTOR_ERRORS = app_errors("inspector")


def test_every_command_has_log_level_exactly_once() -> None:
    found = dict(commands(inspector_parser()))
    assert sorted(found) == [("add-watcher",), ("analyze",), ("catalog", "check"), ("catalog", "rebuild"),
                             ("cleanup",), ("export-labelled",), ("label",), ("pull",), ("report",), ("run",),
                             ("status",), ("tune",)]
    assert all(count == 1 for count in found.values()), found
    assert dict(commands(child_parser())) == {(): 1}


@pytest.mark.parametrize("argv", [["pull", "--config", "c"], ["catalog", "check", "--config", "c"],
                                  ["add-watcher", "pi1", "host"], ["analyze", "v.mp4"]])
def test_log_level_goes_after_the_command(argv: list[str]) -> None:
    p = inspector_parser()
    assert p.parse_args(argv).log_level == "INFO"
    assert p.parse_args([*argv, "--log-level", "DEBUG"]).log_level == "DEBUG"


def test_the_child_takes_the_level_name_the_runner_passes() -> None:
    args = child_parser().parse_args(["--result-fd", "3", "--cpu-s", "1", "--memory-mb", "64", "--log-level", "NOTSET"])
    assert args.log_level == "NOTSET"


def test_the_error_list_is_complete() -> None:
    assert {c.__module__ for c in INSPECTOR_ERRORS} == {
        inspector.add_watcher.__name__, inspector.catalog_guard.__name__, inspector.fleet.__name__,
        inspector.hostkeys.__name__, inspector.commands.label.__name__, inspector.commands.tune.__name__}
    codes = {c.__name__: c.exit_code for c in INSPECTOR_ERRORS}
    assert codes["Refused"] == 1 and codes["CatalogError"] == 65 and codes["HostUnreachable"] == 69
    assert codes["ClientMissing"] == 69  # no ssh client for the SFTP watchers
    assert codes["LabelRefused"] == 1  # a clip unknown, ambiguous or not stored
    assert codes["NoLabelledClips"] == 66  # tune: nothing labelled to replay


@pytest.mark.parametrize("cls", INSPECTOR_ERRORS, ids=lambda c: c.__name__)
def test_the_wrapper_maps_each_error_to_its_exit_code(cls: type[shared.errors.AppError], restore_logging: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    check_error_mapping(cls, capsys)
