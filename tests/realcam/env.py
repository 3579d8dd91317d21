"""Where the real picamera2 and the virtual-camera libcamera are, and the environment to run them in.

``make realcam`` builds libcamera into ``LIBCAMERA_PREFIX`` (default below) and pip-installs the real
picamera2 into the venv. Processes that use them need, *from their start* (the dynamic loader reads
``LD_LIBRARY_PATH`` once): the prefix's library folder, its Python binding on ``PYTHONPATH``, and
``LIBCAMERA_VIRTUAL_CONFIG_FILE`` naming the cameras (read by ``virtual-pacing.patch``). Every
picamera2 user therefore runs in a child process, which also lets a hang be bounded and killed
(``conftest.run_child``, ``test_watcher.finish``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PREFIX = "/var/cache/motion-watcher/libcamera-0.7.2"
HINT = "run `make realcam` (builds libcamera's virtual camera, installs the real picamera2)"


def prefix() -> Path:
    return Path(os.environ.get("LIBCAMERA_PREFIX") or DEFAULT_PREFIX)


def unavailable() -> str | None:
    """Why the real picamera2 cannot run here, or None if it can (checked in a child process)."""
    env_file = prefix() / "env"
    if not (prefix() / ".motion-watcher-build").is_file() or not env_file.is_file():
        return f"libcamera with the virtual camera is not built in {prefix()}"
    if importlib.util.find_spec("picamera2") is None:
        return f"picamera2 is not installed in {sys.prefix}"
    code = "import tests.realcam.shims as s; s.install(); import picamera2; print(picamera2.__file__)"
    r = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env=child_env(None), capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        return "importing picamera2 with the shims failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


def child_env(camera_yaml: Path | None) -> dict[str, str]:
    """os.environ plus what a process running the real picamera2 on the virtual camera needs."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    built = dict(line.split("=", 1) for line in (prefix() / "env").read_text().splitlines() if "=" in line)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [built["LD_LIBRARY_PATH"], env.get("LD_LIBRARY_PATH")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), built["PYTHONPATH"], env.get("PYTHONPATH")]))
    # libcamera's INFO lines would drown the watcher's log; two expected complaints are muted too: the
    # build has no IPA modules (-Dipas=), and the virtual handler finds no dma-buf provider (unused here).
    env.setdefault("LIBCAMERA_LOG_LEVELS", "*:WARN,IPAManager:ERROR,DmaBufAllocator:FATAL")
    if camera_yaml is not None:
        env["LIBCAMERA_VIRTUAL_CONFIG_FILE"] = str(camera_yaml)
    else:
        env.pop("LIBCAMERA_VIRTUAL_CONFIG_FILE", None)
    return env


@dataclass(frozen=True)
class VirtualCamera:
    """One virtual camera playing a folder of JPEG frames ``0.jpg, 1.jpg, ...``."""

    yaml: Path
    frames_dir: Path
    sizes: tuple[tuple[int, int], ...]


def write_camera_yaml(path: Path, frames_dir: Path, sizes: list[tuple[int, int]]) -> VirtualCamera:
    """The YAML the virtual pipeline handler reads: one camera, these exact stream sizes.

    A size not listed is changed to the largest listed one, so list main's and lores'. The frame
    rate range must admit the watcher's fps: picamera2 turns ``FrameRate`` into
    ``FrameDurationLimits``, at which the patched handler paces frames.
    """
    lines = ['"Virtual0":', "  supported_formats:"]
    for w, h in sizes:
        lines += [f"  - width: {w}", f"    height: {h}", "    frame_rates: [1, 60]"]
    lines += ["  frames:", f'    path: "{frames_dir}/"', '  location: "CameraLocationFront"',
              '  model: "Virtual Video Device"']
    path.write_text("\n".join(lines) + "\n")
    return VirtualCamera(path, frames_dir, tuple(sizes))
