"""The project's error hierarchy. Each error carries the process exit code it maps to.

Exit codes follow sysexits(3) where one fits, so systemd ``RestartPreventExitStatus=`` can
tell a configuration mistake (do not restart) from a runtime failure (restart).
"""

from __future__ import annotations


class AppError(Exception):
    """Base of all errors the entry points turn into an exit code and one log line."""

    exit_code: int = 1


class ConfigError(AppError):
    """The configuration is invalid. The message names the file and the key."""

    exit_code = 78  # EX_CONFIG

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        super().__init__(f"{path}: {key}: {problem}")


class DataDirError(AppError):
    """The data directory is unusable (missing permission, locked by another watcher, ...)."""

    exit_code = 73  # EX_CANTCREAT


class SourceUnavailable(AppError):
    """The frame source could not be opened."""

    exit_code = 69  # EX_UNAVAILABLE


class SourceHung(AppError):
    """The camera library cannot be stopped (a wedged camera stack): the process exits at once so
    that systemd restarts it with a fresh one."""

    exit_code = 75  # EX_TEMPFAIL
