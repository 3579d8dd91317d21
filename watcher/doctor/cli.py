"""``motion-watcher doctor`` / ``python -m watcher doctor``: run every check, print one line each.

    python -m watcher doctor [--config FILE] [--data-dir DIR] [--source SRC] [--json]

Exit status: 0 when no check failed (warnings allowed: they say what will go wrong or is
degraded, but the watcher runs), 1 when at least one check failed, 2 for bad arguments.
``--json`` prints one JSON object: ``{"ok", "exit_status", "counts", "config", "source",
"data_dir", "checks": [{"name", "status", "message", "fix", "details"}]}``.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher.doctor.result import CheckResult, Status, counts, exit_status, fail

logger = logging.getLogger(__name__)

LABEL = {Status.OK: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.NA: "n/a"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The doctor's options. An option not given is left out of the namespace (:func:`run` reads them with
    defaults), so as ``python -m watcher doctor`` it leaves the values the main parser set."""
    unset = argparse.SUPPRESS
    p.add_argument("--config", default=unset, help="the watcher's TOML config file (the same one it runs with)")
    p.add_argument("--data-dir", default=unset, help="data directory to check (overrides [watcher] data_dir)")
    p.add_argument("--source", default=unset, help="source to check (overrides [source] spec)")
    p.add_argument("--json", action="store_true", default=unset, help="print one JSON object instead of lines")


@dataclass
class Probes:
    """Every way the doctor looks at the machine; the defaults look at this one."""

    command: Callable[..., Any] | None = None  # CommandRunner
    python: Callable[..., Any] | None = None  # PythonRunner for the import probe
    camera: Callable[..., Any] | None = None  # CameraProber
    encode: Callable[..., Any] | None = None  # EncodeMeasurer
    platform: Callable[[], Any] | None = None  # -> v4l2.Platform
    systemd_booted: Callable[[], bool] | None = None


def _guarded(name: str, fn: Callable[[], CheckResult | list[CheckResult]]) -> list[CheckResult]:
    try:
        out = fn()
    except Exception as e:  # a bug in one check must not hide the others
        logger.exception("the %s check failed", name)
        return [fail(name, f"the check itself failed: {type(e).__name__}: {e}", "please report this")]
    return out if isinstance(out, list) else [out]


def run_checks(settings: Any, config_result: CheckResult, probes: Probes | None = None) -> list[CheckResult]:
    from watcher.datadir import DataDir
    from watcher.doctor import camera, clock, data_dir, encoding, service, stack, v4l2
    from watcher.doctor import probes as probes_mod

    p = probes or Probes()
    command = p.command or probes_mod.run_command
    booted = (p.systemd_booted or service.systemd_booted)()
    platform = (p.platform or v4l2.detect_platform)()
    s = settings
    results = [config_result]
    results += _guarded("python", lambda: stack.check_stack(s.spec, runner=p.python or probes_mod.run_python_child))
    svc = _guarded("service", lambda: service.check_service(runner=command, booted=booted))
    active = service.is_active(svc[0])
    results += _guarded("camera", lambda: camera.check_camera(
        s.spec, s.width, s.height, s.fps, prober=p.camera or camera.run_camera_probe, service_active=active))
    results += _guarded("encoder", lambda: encoding.check_encoder(
        s.spec, s.width, s.height, s.fps, codec=s.codec, preset=s.preset, bitrate=s.bitrate, gop_s=s.gop_s,
        platform=platform, measure=p.encode or encoding.run_encode_probe))
    dirs = DataDir(Path(s.data_dir))
    results += _guarded("data-dir", lambda: data_dir.check_writable(dirs))
    results += _guarded("data-fs", lambda: data_dir.check_same_filesystem(dirs))
    results += _guarded("free-space", lambda: data_dir.check_free_space(dirs, s.retention))
    results += _guarded("clock", lambda: clock.check_clock(runner=command, systemd_booted=booted))
    return results + svc


def render_text(settings: Any, results: Sequence[CheckResult]) -> str:
    s = settings
    size = f" {s.width}x{s.height} @ {s.fps:g} fps" if s.spec == "picamera2" or s.spec.startswith("device:") else ""
    lines = [(f"motion-watcher doctor: config {s.config_path or '(defaults)'}, source {s.spec}{size}, "
              f"data dir {s.data_dir}")]
    width = max(len(r.name) for r in results)
    for r in results:
        lines.append(f"{LABEL[r.status]:<5} {r.name:<{width}}  {r.message}")
        if r.fix and r.status in (Status.WARN, Status.FAIL):
            lines.append(f"{'':<5} {'':<{width}}  fix: {r.fix}")
    failed = [r.name for r in results if r.status is Status.FAIL]
    warned = [r.name for r in results if r.status is Status.WARN]
    if failed:
        verdict = f"{len(failed)} problem(s): {', '.join(failed)}"
    else:
        verdict = "ready to run the watcher"
    if warned:
        verdict += f"; {len(warned)} warning(s): {', '.join(warned)}"
    lines.append(verdict)
    return "\n".join(lines)


def render_json(settings: Any, results: Sequence[CheckResult]) -> str:
    doc = {"ok": exit_status(results) == 0, "exit_status": exit_status(results), "counts": counts(results),
           "config": settings.config_path, "source": settings.spec, "data_dir": settings.data_dir,
           "checks": [r.to_dict() for r in results]}
    return json.dumps(doc, indent=2, default=str)


def run(args: argparse.Namespace, probes: Probes | None = None) -> int:
    from watcher.doctor.settings import load_settings

    settings, config_result = load_settings(getattr(args, "config", None), data_dir=getattr(args, "data_dir", None),
                                            source=getattr(args, "source", None))
    results = run_checks(settings, config_result, probes)
    as_json = getattr(args, "json", False)
    print(render_json(settings, results) if as_json else render_text(settings, results), flush=True)
    return exit_status(results)
