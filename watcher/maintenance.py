"""One maintenance pass over a data directory: enforce retention, then salvage orphans.

Used by the watcher at start-up, by its disk guard while it runs, and by the cleanup command;
all of them take the maintenance lock, so they never work on the same files at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.datadir import DataDir, maintenance_lock
from watcher.retention import RetentionSettings
from watcher.salvage import SalvageReport, salvage
from watcher.storage import RetentionReport, apply_plan, make_plan, scan


@dataclass
class MaintenanceReport:
    salvage: SalvageReport
    retention: RetentionReport

    @property
    def failed(self) -> bool:
        return bool(self.retention.failed or self.salvage.failed)

    def to_dict(self) -> dict[str, object]:
        s, r = self.salvage, self.retention
        return {
            "salvaged": s.salvaged, "completed": s.completed, "removed_temp": s.removed, "skipped_live": s.skipped_live,
            "manifests_rebuilt": s.manifests_rebuilt, "removed": r.removed,
            "lost_untransferred": r.lost_untransferred, "freed_bytes": r.freed_bytes, "kept": r.kept,
            "short_bytes": r.short_bytes, "failed": r.failed + s.failed,
        }


def maintain(dirs: DataDir, settings: RetentionSettings, *, default_fps: float = 30.0, dry_run: bool = False,
             do_salvage: bool = True, lock_timeout_s: float = 120.0) -> MaintenanceReport:
    with maintenance_lock(dirs, lock_timeout_s):
        # retention first: salvage needs room to remux what it saves
        r = apply_plan(dirs, make_plan(dirs, settings), dry_run=dry_run)
        s = salvage(dirs, default_fps=default_fps, dry_run=dry_run) if do_salvage else SalvageReport()
        r.kept = len(scan(dirs)) - (len(r.removed) if dry_run else 0)
    return MaintenanceReport(s, r)
