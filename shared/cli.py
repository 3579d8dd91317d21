"""What every command line shares: the common options and the one entry-point wrapper.

A command is a module with ``logger`` (where its error line goes), ``add_arguments(parser)`` and
``run(args) -> int``. :func:`wire` puts one on a parser (or subparser); :func:`main` parses, sets up
logging once, runs the chosen command and turns the project's errors (:class:`AppError` and its
subclasses, each with its sysexits code) into that exit code and one log line.

KeyboardInterrupt is not caught: the long-running commands turn SIGINT into a stop event
(shared/signals.py); for the others Ctrl-C ends the process as Python does by default.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Protocol

from shared.errors import AppError
from shared.logsetup import setup_logging

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Command(Protocol):
    """A command module."""

    @property
    def logger(self) -> logging.Logger: ...

    def add_arguments(self, parser: argparse.ArgumentParser, /) -> None: ...

    def run(self, args: argparse.Namespace, /) -> int: ...


class UsageError(AppError):
    """Arguments that argparse cannot check alone: the command's usage line and the message, exit 2."""

    exit_code = 2


def add_common_options(parser: argparse.ArgumentParser, *, log_level: str = "INFO") -> None:
    """The options every command has (``log_level``: the default, INFO but for the doctor)."""
    parser.add_argument("--log-level", default=log_level, choices=LOG_LEVELS)


def wire(parser: argparse.ArgumentParser, command: Command, *, log_level: str | None = "INFO") -> None:
    """Make ``parser`` run ``command``: its arguments, then the common options. ``log_level=None``: the
    parser gets no common options of its own (a parent parser or the command's subparsers hold them)."""
    command.add_arguments(parser)
    if log_level is not None:
        add_common_options(parser, log_level=log_level)
    parser.set_defaults(cli_command=command, cli_parser=parser)


def main(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """The entry-point wrapper: parse ``argv``, set up logging, run the command :func:`wire` chose."""
    args = parser.parse_args(argv)
    command: Command = args.cli_command
    setup_logging(args.log_level)
    try:
        return command.run(args)
    except UsageError as e:
        usage: argparse.ArgumentParser = args.cli_parser
        usage.error(str(e))  # exits 2 with the command's usage, as argparse does
    except AppError as e:
        command.logger.error("%s", e)
        return e.exit_code
