"""Benchmark: how soon events reach a subscriber, and what they cost the watcher.

Against a throwaway Mosquitto broker on loopback (tests/mosquitto.py), side by side in one run:
  latency   the watcher in this process on the synthetic scene, in real time (``--seconds``, an event every
            few seconds), a subscriber in this process too (one monotonic clock): motion start (the trigger's
            decision, when ``WatcherEvents.motion`` turns ON) -> the ON message at the subscriber, and the clip's
            manifest in recorded_clips/ (``WatcherEvents.clip`` is called then) -> its ``clip_published``
            message. Median and worst.
  cpu       ``python -m watcher`` on the same scene as fast as it goes (``--frames``), with events off and on
            (MQTT to the broker plus one webhook to a local server), alternating, ``--repeat`` times: CPU
            seconds of the process (getrusage of the child: every thread) per frame. Medians.

Run: ``python -m tests.bench events [--seconds 120] [--frames 900] [--repeat 3]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.hook_server import HookServer
from tests.mosquitto import ThrowawayBroker, new_client
from tests.proc import ROOT

CAMERA = "bench"
FPS = 15.0


def _config(tmp: Path, broker: ThrowawayBroker, *, events: bool, realtime: bool, hook_url: str = "") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    pw = tmp / "pw"
    pw.write_text(broker.users["pi"] + "\n")
    pw.chmod(0o600)
    text = (f'[watcher]\ncamera = "{CAMERA}"\ndata_dir = "{tmp / "data"}"\n'
            f'[source]\nspec = "synthetic"\nfps = {FPS}\nrealtime = {str(realtime).lower()}\n')
    if events:
        text += (f'[mqtt]\nenabled = true\nhost = "{broker.host}"\nport = {broker.port}\nusername = "pi"\n'
                 f'password_file = "{pw}"\n')
        if hook_url:
            text += f'[[webhook]]\nurl = "{hook_url}"\n'
    path = tmp / f"watcher-{'on' if events else 'off'}.toml"
    path.write_text(text)
    return path


def latency(broker: ThrowawayBroker, tmp: Path, seconds: float) -> dict[str, Any]:
    from watcher import events as ev
    from watcher.config import load_config
    from watcher.pipeline import run_watcher
    from watcher.sources.synthetic import SyntheticSource

    decided: dict[str, float] = {}  # "motion:<n>" / clip id -> monotonic time of the decision
    arrived: dict[str, float] = {}
    ons = [0]
    motion, clip = ev.WatcherEvents.motion, ev.WatcherEvents.clip

    def timed_motion(self: Any, on: bool) -> None:
        if on and not self.motion_on:
            ons[0] += 1
            decided[f"motion:{ons[0]}"] = time.monotonic()
        motion(self, on)

    def timed_clip(self: Any, m: Any) -> None:
        decided[m.id] = time.monotonic()
        clip(self, m)

    seen_on = [0]
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        now = time.monotonic()
        with lock:
            if message.topic.endswith("/motion") and message.payload == b"ON" and not message.retain:
                seen_on[0] += 1
                arrived[f"motion:{seen_on[0]}"] = now
            elif message.topic.endswith("/clip"):
                arrived[json.loads(message.payload)["id"]] = now

    sub = new_client(broker, "ha", name="bench")
    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_connect = lambda c, *a: c.subscribe(f"motion-watcher/{CAMERA}/#", qos=1)
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("the subscriber did not subscribe")
    ev.WatcherEvents.motion, ev.WatcherEvents.clip = timed_motion, timed_clip  # type: ignore[method-assign]
    try:
        cfg = load_config(str(_config(tmp / "latency", broker, events=True, realtime=True)))
        # an event every 15 s: a walker crosses in a few seconds, post-roll 5 s, so each is an event of its own
        run_watcher(cfg, source=SyntheticSource(seed=11, duration_s=seconds, first_event_s=2.0, event_period_s=15.0))
    finally:
        ev.WatcherEvents.motion, ev.WatcherEvents.clip = motion, clip  # type: ignore[method-assign]
        sub.loop_stop()
        sub.disconnect()
    out: dict[str, Any] = {}
    for kind, keys in (("motion", [k for k in decided if k.startswith("motion:")]),
                       ("clip", [k for k in decided if not k.startswith("motion:")])):
        ms = sorted((arrived[k] - decided[k]) * 1000 for k in keys if k in arrived)
        out[kind] = {"n": len(ms), "missing": len(keys) - len(ms),
                     "median_ms": round(statistics.median(ms), 2) if ms else None,
                     "worst_ms": round(ms[-1], 2) if ms else None}
    return out


def _cpu_run(config: Path, frames: int) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "watcher", "--config", str(config), "--duration", str(frames / FPS)],
                   cwd=ROOT, check=True, capture_output=True, timeout=1800)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu(broker: ThrowawayBroker, tmp: Path, frames: int, repeat: int) -> dict[str, Any]:
    hooks = HookServer()
    try:
        configs = {}
        for name, events in (("off", False), ("on", True)):
            d = tmp / f"cpu-{name}"
            configs[name] = _config(d, broker, events=events, realtime=False, hook_url=hooks.url)
        seconds: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(repeat):
            for name in ("off", "on"):
                seconds[name].append(_cpu_run(configs[name], frames))
    finally:
        hooks.close()
    per_frame = {k: round(statistics.median(v) / frames * 1000, 3) for k, v in seconds.items()}
    return {"ms_per_frame": per_frame, "ratio_on_off": round(per_frame["on"] / per_frame["off"], 3),
            "runs_s": {k: [round(x, 2) for x in v] for k, v in seconds.items()}}


def main(argv: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m tests.bench events", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="real-time run for the latencies (default 120)")
    p.add_argument("--frames", type=int, default=900, help="frames per CPU run (default 900)")
    p.add_argument("--repeat", type=int, default=3, help="CPU runs of each kind (default 3); medians")
    opts = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as t:
        tmp = Path(t)
        broker = ThrowawayBroker(tmp / "broker")
        broker.start()
        try:
            lat = latency(broker, tmp, opts.seconds)
            for kind, what in (("motion", "motion start -> ON at a subscriber"),
                               ("clip", "manifest published -> clip_published at a subscriber")):
                r = lat[kind]
                print(f"{what}: median {r['median_ms']} ms, worst {r['worst_ms']} ms ({r['n']} events, "
                      f"{r['missing']} missing)")
            c = cpu(broker, tmp, opts.frames, opts.repeat)
            print(f"watcher CPU per frame ({opts.frames} frames, median of {opts.repeat}): events off "
                  f"{c['ms_per_frame']['off']} ms | events on (MQTT + a webhook) {c['ms_per_frame']['on']} ms "
                  f"-> {c['ratio_on_off']}x")
        finally:
            broker.stop()
    return {"latency": lat, "cpu": c, "params": vars(opts)}
