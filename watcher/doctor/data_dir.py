"""The data directory: writable (a probe file really written, fsynced and removed), temp_clips/ and
recorded_clips/ on one filesystem (the publish is a rename between them that never replaces a name:
watcher/noreplace.py), and free space against the retention floor (``[retention] min_free_mb``,
``max_usage_mb``, ``on_full``).

Nothing is written into recorded_clips/: an inspector lists that directory and would log any
stranger it sees; for it the directory's permissions are checked instead. The checks run as the
user who runs the doctor: run it as the service's user to check the service's permissions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from watcher.datadir import DataDir
from watcher.doctor.result import CheckResult, fail, ok, warn
from watcher.retention import RetentionSettings

MB = 1024 * 1024
DiskUsage = Callable[[Path], tuple[int, int]]  # (total, free) bytes


def _disk_usage(path: Path) -> tuple[int, int]:
    u = shutil.disk_usage(path)
    return u.total, u.free


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def write_probe(directory: Path) -> str | None:
    """Create, write, fsync and remove a small file in ``directory``; None, or what went wrong."""
    probe = directory / f".doctor-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as e:
        return f"cannot create a file in {directory}: {e.strerror}"
    try:
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        return f"cannot write and fsync a file in {directory}: {e.strerror}"
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return None


def _as_whom() -> str:
    if os.geteuid() == 0:
        return " (as root: run the doctor as the service's user, `sudo -u watcher ...`, to check its permissions)"
    return ""


def check_writable(dirs: DataDir) -> CheckResult:
    root = dirs.root
    if root.exists() and not root.is_dir():
        return fail("data-dir", f"{root} exists and is not a directory", "point [watcher] data_dir elsewhere")
    if not root.exists():
        parent = _existing_ancestor(root)
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return warn("data-dir", f"{root} does not exist yet; the watcher creates it ({parent} is writable)"
                        + _as_whom(), "check [watcher] data_dir or --data-dir; the watcher creates it at start")
        return fail("data-dir", f"{root} does not exist and cannot be created ({parent} is not writable)" + _as_whom(),
                    f"sudo install -d -o watcher -g motion-clips {root} (deploy/pi/install.sh does this)")
    problems = []
    for d in (root, dirs.temp):
        if d.is_dir():
            problem = write_probe(d)
            if problem:
                problems.append(problem)
    if dirs.recorded.is_dir() and not os.access(dirs.recorded, os.W_OK | os.X_OK):
        problems.append(f"{dirs.recorded} is not writable (clips are renamed into it)")
    if problems:
        return fail("data-dir", "; ".join(problems) + _as_whom(),
                    f"the service's user must own the data directory: `sudo chown -R watcher:motion-clips {root}` "
                    "(deploy/pi/install.sh sets it up); a read-only or full filesystem gives the same error")
    missing = [d.name for d in (dirs.temp, dirs.recorded) if not d.is_dir()]
    tail = f"; {', '.join(missing)} created at start" if missing else ""
    return ok("data-dir", f"{root} is writable (file written, fsynced, removed){tail}{_as_whom()}")


def check_same_filesystem(dirs: DataDir) -> CheckResult:
    def dev(p: Path) -> tuple[int, str]:
        q = p if p.exists() else _existing_ancestor(p)
        return os.stat(q).st_dev, str(q)

    try:
        (temp_dev, temp_at), (rec_dev, rec_at) = dev(dirs.temp), dev(dirs.recorded)
    except OSError as e:
        return fail("data-fs", f"cannot stat {dirs.root}: {e.strerror}", "check the data directory's permissions")
    if temp_dev != rec_dev:
        return fail("data-fs", f"{temp_at} and {rec_at} are on different filesystems: clips cannot be published "
                    "atomically (a rename that never replaces a name); the watcher refuses to start",
                    "keep temp_clips/ and recorded_clips/ on one filesystem (no mount on either one alone)",
                    temp_dev=temp_dev, recorded_dev=rec_dev)
    return ok("data-fs", "temp_clips/ and recorded_clips/ are on one filesystem (atomic publish by rename)")


def _clip_bytes(dirs: DataDir) -> int:
    total = 0
    for d in (dirs.recorded, dirs.transferred):
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.endswith((".mp4", ".json")) and e.is_file(follow_symlinks=False):
                        total += e.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def check_free_space(dirs: DataDir, retention: RetentionSettings, *,
                     disk_usage: DiskUsage = _disk_usage) -> CheckResult:
    where = _existing_ancestor(dirs.root)
    try:
        total, free = disk_usage(where)
    except OSError as e:
        return fail("free-space", f"cannot read the free space of {where}: {e.strerror}", None)
    floor = int(retention.min_free_mb * MB)
    clips = _clip_bytes(dirs)
    text = (f"{free / MB:,.0f} MB free of {total / MB:,.0f} MB, floor {retention.min_free_mb:g} MB, "
            f"clips {clips / MB:,.0f} MB")
    if retention.max_usage_mb > 0:
        text += f" (cap {retention.max_usage_mb:g} MB)"
    details = {"free_bytes": free, "total_bytes": total, "floor_bytes": floor, "clip_bytes": clips,
               "on_full": retention.on_full}
    if floor >= total:
        return fail("free-space", f"{text}: the floor is larger than the whole filesystem",
                    "lower [retention] min_free_mb", **details)
    if free < floor:
        if retention.on_full == "stop_recording":
            return fail("free-space", f"{text}: below the floor; with on_full = \"stop_recording\" the watcher "
                        "does not record until space returns", "free space, or let the inspector archive clips so "
                        "cleanup can remove them", **details)
        if free + clips < floor:
            return fail("free-space", f"{text}: below the floor even with every clip removed: nothing will record",
                        "free space on that filesystem (other files fill it) or lower [retention] min_free_mb",
                        **details)
        return warn("free-space", f"{text}: below the floor; the watcher deletes the oldest clips, un-transferred "
                    "ones too", "pull clips with the inspector more often, or give the data directory more room",
                    **details)
    if floor and free < 2 * floor:
        return warn("free-space", f"{text}: less than twice the floor left", "free space or plan for clips being "
                    "removed soon (oldest archived ones first)", **details)
    if retention.max_usage_mb > 0 and clips > retention.max_usage_mb * MB:
        return warn("free-space", f"{text}: clips exceed the cap; cleanup removes the oldest", None, **details)
    return ok("free-space", text, **details)
