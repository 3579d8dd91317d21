"""What a check returns, and how results become an exit status."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"  # works, but something will go wrong or is degraded: read the hint
    FAIL = "fail"  # the watcher will not work (or not as configured) until this is fixed
    NA = "n/a"  # does not apply here (another source, no systemd, ...)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "message": self.message, "fix": self.fix,
                "details": self.details}


def ok(name: str, message: str, **details: Any) -> CheckResult:
    return CheckResult(name, Status.OK, message, None, details)


def warn(name: str, message: str, fix: str | None = None, **details: Any) -> CheckResult:
    return CheckResult(name, Status.WARN, message, fix, details)


def fail(name: str, message: str, fix: str | None = None, **details: Any) -> CheckResult:
    return CheckResult(name, Status.FAIL, message, fix, details)


def na(name: str, message: str, **details: Any) -> CheckResult:
    return CheckResult(name, Status.NA, message, None, details)


def exit_status(results: Iterable[CheckResult]) -> int:
    """0 when nothing failed (warnings allowed), 1 when any check failed."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def counts(results: Iterable[CheckResult]) -> dict[str, int]:
    out = {s.value: 0 for s in Status}
    for r in results:
        out[r.status.value] += 1
    return out
