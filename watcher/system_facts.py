"""Facts about the machine the watcher reports in status.json for the inspector's fleet health: the boot
id (a reboot shows as a new one), the system's uptime, and the bytes written to the data disk since boot
(the kernel's count for its block device: card wear). Each is None where it cannot be read.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
# /proc/diskstats counts 512-byte sectors whatever the device's own size (Documentation/admin-guide/iostats.rst)
SECTOR = 512


def boot_id(proc: Path = PROC) -> str | None:
    try:
        return (proc / "sys/kernel/random/boot_id").read_text().strip()[:64] or None
    except OSError:
        return None


def system_uptime_s(proc: Path = PROC) -> float | None:
    try:
        return round(float((proc / "uptime").read_text().split()[0]), 1)
    except (OSError, ValueError, IndexError):
        return None


def device_written_bytes(path: Path, proc: Path = PROC) -> int | None:
    """Bytes written since boot to the block device (partition) holding ``path``, per /proc/diskstats
    (field 10: sectors written); None if the device is not listed (tmpfs, overlay, a container)."""
    try:
        dev = os.stat(path).st_dev
        lines = (proc / "diskstats").read_text().splitlines()
    except OSError:
        return None
    major, minor = os.major(dev), os.minor(dev)
    for line in lines:
        f = line.split()
        if len(f) >= 10 and f[0].isdigit() and f[1].isdigit() and (int(f[0]), int(f[1])) == (major, minor):
            try:
                return int(f[9]) * SECTOR
            except ValueError:
                return None
    return None
