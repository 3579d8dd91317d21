"""Resource limits of the analysis, against real crafted MP4s (made here with PyAV), real clip
processes and a real catalog: each hostile clip is refused or quarantined quickly with a clear
reason, memory stays bounded (each clip process's own ru_maxrss, from wait4), no analysis file
grows, and the good clips of the same batch are analyzed. A clip whose process dies (a cap, or
SIGKILL mid-clip) fails, is retried, and after three tries is quarantined."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from inspector.analysis import analyze_pending
from inspector.analysis.analyzer import AnalyzerSettings, artifact_paths
from inspector.analysis.limits import AnalysisLimits
from inspector.catalog import Catalog
from inspector.library import Library
from shared.manifest import Manifest, sha256_file, utc_iso
from tests.inspector_env import write_config
from tests.proc import WatcherProcess

WATCHER = "pi1"
FAST = AnalyzerSettings(people_interval_s=1.0, idle_people_interval_s=4.0, people_min_frac=0.3)


def craft_mp4(path: Path, segments: list[tuple[int, int, int]], fps: int = 15,
              times: list[float] | None = None) -> Path:
    """An H.264 MP4 of ``segments`` (width, height, frames), each from its own encoder: a second
    segment is a resolution change mid-stream (new SPS) under a header that states the first size.
    ``times``: each frame's time in seconds (default i/fps); the track's timescale is ``fps``, so
    frames 10^7 s apart fit MP4's 32-bit durations."""
    packets = []
    for w, h, n in segments:
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height, cc.pix_fmt = w, h, "yuv420p"
        cc.time_base, cc.framerate = Fraction(1, fps), Fraction(fps)
        cc.options = {"preset": "ultrafast", "bf": "0"}
        img = np.full((h, w, 3), 110, np.uint8)
        for i in range(n):
            img[:] = 110
            x = (i * 5) % max(1, w - w // 8)
            img[h // 3: h // 3 + h // 4, x: x + w // 8] = 20  # a dark block walking across
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            packets += cc.encode(frame)
        packets += cc.encode(None)
    times = times if times is not None else [i / fps for i in range(len(packets))]
    assert len(times) == len(packets)
    with av.open(str(path), "w", options={"video_track_timescale": str(fps)}) as out:
        st = out.add_stream("h264", rate=fps)
        st.width, st.height = segments[0][0], segments[0][1]
        st.time_base = Fraction(1, fps)
        for p, t in zip(packets, times, strict=True):
            p.stream = st
            p.pts = p.dts = round(t * fps)
            p.time_base = Fraction(1, fps)
            out.mux(p)
    return path


class Lib:
    """A real library and catalog, clips stored the way the puller stores them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lib = Library(root)
        self.lib.create()
        self.n = 0

    def add(self, mp4: Path, *, width: int, height: int, frames: int, fps: float = 15.0,
            duration_s: float | None = None, camera: str = "cam1") -> str:
        """Store ``mp4`` with a manifest declaring these numbers (true or not) and its real size and sha256."""
        self.n += 1
        clip_id = f"{camera}_20260101T{self.n:02d}0000Z_{self.n:04d}"
        duration = duration_s if duration_s is not None else frames / fps
        size, sha = sha256_file(mp4)
        t0 = datetime(2026, 1, 1, self.n, tzinfo=UTC)
        start, end = utc_iso(t0), utc_iso(t0 + timedelta(seconds=duration - 1 / fps))  # the manifest's own arithmetic
        m = Manifest(id=clip_id, camera=camera, file=f"{clip_id}.mp4", size=size, sha256=sha, codec="h264",
                     width=width, height=height, fps=fps, frames=frames, started_at=start,
                     ended_at=end, media_start_s=0.0, media_end_s=duration - 1 / fps, motion_start_s=0.0,
                     motion_end_s=duration - 1 / fps, peak_motion=0.1, salvaged=False, duration_s=duration)
        cat = Catalog(self.lib.catalog_path)
        try:
            cat.begin_download(WATCHER, clip_id, camera, size, sha, m.started_at, m.ended_at)
            part = self.lib.part(WATCHER, clip_id)
            shutil.copyfile(mp4, part)
            final = self.lib.store(WATCHER, part, clip_id, m.to_json(), (size, sha))
            cat.mark_stored(WATCHER, clip_id, str(final))
        finally:
            cat.close()
        return clip_id

    def row(self, clip_id: str):
        cat = Catalog(self.lib.catalog_path)
        try:
            return cat.get(WATCHER, clip_id)
        finally:
            cat.close()

    def clip(self, clip_id: str) -> Path:
        return self.lib.final(WATCHER, clip_id)


def test_crafted_clips_are_refused_while_decoding_and_the_good_one_is_analyzed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lib = Lib(tmp_path / "library")
    good = lib.add(craft_mp4(src / "good.mp4", [(320, 180, 30)]), width=320, height=180, frames=30)
    gap7 = lib.add(craft_mp4(src / "gap7.mp4", [(320, 180, 3)], times=[0, 1 / 15, 1e7]),
                   width=320, height=180, frames=3)  # two frames 10^7 s apart
    gap3k = lib.add(craft_mp4(src / "gap3k.mp4", [(320, 180, 3)], times=[0, 1 / 15, 3000]),
                    width=320, height=180, frames=3)  # within the limits, but not what the manifest says
    huge = craft_mp4(src / "huge.mp4", [(4096, 4096, 2)])
    declared = lib.add(huge, width=4096, height=4096, frames=2)
    hidden = lib.add(huge, width=640, height=360, frames=2, camera="cam2")
    change = lib.add(craft_mp4(src / "change.mp4", [(640, 360, 3), (4096, 4096, 2)]), width=640, height=360,
                     frames=5)  # the header says 640x360; frame 4 is 4096x4096
    long = lib.add(craft_mp4(src / "long.mp4", [(160, 96, 15 * 600)]), width=160, height=96, frames=30,
                   duration_s=2.0)  # the manifest says 2 s; it decodes for 10 minutes
    t0 = time.monotonic()
    summary = analyze_pending(lib.root, workers=2, settings=FAST)
    wall = time.monotonic() - t0
    assert summary.analyzed == [good] and not summary.failed, summary.to_json()
    reasons = summary.quarantined
    assert reasons[gap7] == "over the limits: the container says 1e+07 s; limit 3720 s"
    assert reasons[gap3k] == ("disagrees with its manifest: frame 3 is at 3000.000 s, past its duration of "
                              "0.200 s")
    # (the manifest parser may bound dimensions itself: either way the clip is refused before decoding)
    assert reasons[declared].startswith(("over the limits: the manifest says 4096x4096", "bad manifest")), reasons
    assert reasons[hidden].startswith("over the limits: the stream's frames are 4096x4096 (16777216 pixels)")
    assert reasons[change].startswith("over the limits: frame 4 is 4096x4096 (16777216 pixels)")
    assert reasons[long] == "disagrees with its manifest: decodes to more than its 30 frames"
    assert wall < 60, wall
    for cid in (gap7, gap3k, declared, hidden, change, long):
        row = lib.row(cid)
        assert row is not None and row.state == "quarantined" and row.reason == reasons[cid]
        q = lib.root / "quarantine" / WATCHER
        assert (q / f"{cid}.reason.txt").read_text().strip() == reasons[cid]
        assert not artifact_paths(lib.clip(cid))["json"].exists()
        use = summary.usage[cid]
        assert use["maxrss_mb"] < 400 and use["cpu_s"] < 10, (cid, use)  # nothing decoded past the refusal
    assert lib.row(good).state == "analyzed"
    assert summary.usage[good]["maxrss_mb"] < 400
    assert artifact_paths(lib.clip(good))["json"].stat().st_size < 64 * 1024


def test_a_clip_over_its_cpu_cap_fails_then_is_quarantined_after_three_tries(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lib = Lib(tmp_path / "library")
    # ~5 s of CPU to analyze here with OpenCV 5 (1.8 s for 150 frames, 2.8 s for 300), more with 4.x: well over the cap
    heavy = lib.add(craft_mp4(src / "heavy.mp4", [(1280, 720, 600)], fps=30), width=1280, height=720,
                    frames=600, fps=30.0)
    good = lib.add(craft_mp4(src / "good.mp4", [(320, 180, 15)]), width=320, height=180, frames=15)
    limits = AnalysisLimits(cpu_base_s=2.0, cpu_s_per_media_s=0.0, cpu_ns_per_pixel=0.0)  # every clip: 2 s of CPU
    t0 = time.monotonic()
    cap_reason = "analysis process over its CPU time cap of 2 s (killed by SIGXCPU)"
    for attempt in (1, 2):
        summary = analyze_pending(lib.root, workers=2, settings=FAST, limits=limits)
        assert summary.failed == {heavy: cap_reason}, summary.to_json()
        assert summary.analyzed == ([good] if attempt == 1 else [])
        assert summary.usage[heavy]["cpu_s"] < 7.5  # SIGXCPU at the soft cap; SIGKILL 5 s later at most
        row = lib.row(heavy)
        assert row.state == "stored" and row.attempts == attempt and row.reason == f"analysis failed: {cap_reason}"
    summary = analyze_pending(lib.root, workers=2, settings=FAST, limits=limits)
    assert summary.quarantined == {heavy: f"analysis failed 3 times: {cap_reason}"} and not summary.failed
    assert lib.row(heavy).state == "quarantined" and lib.row(good).state == "analyzed"
    assert (lib.root / "quarantine" / WATCHER / f"{heavy}.mp4").exists()
    assert not list(lib.clip(heavy).parent.glob(".*.tmp")), "a killed process's temp files are removed"
    assert time.monotonic() - t0 < 60


def test_a_clip_over_its_memory_cap_fails_and_others_are_served(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    lib = Lib(tmp_path / "library")
    big = lib.add(craft_mp4(src / "big.mp4", [(4096, 3072, 2)]), width=4096, height=3072, frames=2)
    good = lib.add(craft_mp4(src / "good.mp4", [(320, 180, 15)]), width=320, height=180, frames=15)
    limits = AnalysisLimits(memory_base_mb=700, memory_bytes_per_pixel=0)  # 4096x3072 needs ~1.6 GB here
    summary = analyze_pending(lib.root, workers=2, settings=FAST, limits=limits)
    assert summary.analyzed == [good], summary.to_json()
    assert re.fullmatch(r"ran out of memory under its cap of 700 MiB( \(OpenCV\))?", summary.failed[big])
    assert summary.usage[big]["maxrss_mb"] <= 700 and summary.usage[big]["cap_memory_mb"] == 700
    row = lib.row(big)
    assert row.state == "stored" and row.attempts == 1 and "out of memory" in row.reason


def test_an_analysis_process_killed_mid_clip_fails_its_clip_which_the_next_run_analyzes(tmp_path: Path) -> None:
    """The real CLI (python -m inspector analyze --config); the clip's process is found by the pid it
    logs when it starts decoding, and killed with SIGKILL right then."""
    src = tmp_path / "src"
    src.mkdir()
    lib = Lib(tmp_path / "library")
    victim = lib.add(craft_mp4(src / "victim.mp4", [(1280, 720, 90)], fps=30), width=1280, height=720,
                     frames=90, fps=30.0)  # ~3 s of CPU: still decoding when killed
    others = [lib.add(craft_mp4(src / f"good{i}.mp4", [(320, 180, 15)]), width=320, height=180, frames=15)
              for i in range(2)]
    cfg = write_config(tmp_path / "inspector.toml", lib.root,
                       [f'[[watcher]]\nname = "{WATCHER}"\ntransport = "local"\nremote_dir = "{tmp_path / "pi"}"\n'])
    proc = WatcherProcess("analyze", "--config", str(cfg), "--workers", "2", module="inspector")
    line = proc.wait_for(f"decoding {victim}", timeout=60)
    pid = int(re.search(r"process (\d+): decoding", line).group(1))
    os.kill(pid, signal.SIGKILL)  # it has just started a clip that takes seconds: it is still at it
    assert proc.finish(timeout=120) == 1, proc.log[-20:]  # a failed clip: exit 1
    assert any("analyzed 2 clip(s)" in ln and "failed 1" in ln for ln in proc.log), proc.log[-20:]
    row = lib.row(victim)
    assert row.state == "stored" and row.attempts == 1
    assert row.reason.startswith("analysis failed: analysis process killed by SIGKILL"), row.reason
    assert all(lib.row(c).state == "analyzed" for c in others)
    again = WatcherProcess("analyze", "--config", str(cfg), module="inspector")
    assert again.finish(timeout=120) == 0, again.log[-20:]
    assert lib.row(victim).state == "analyzed"


def _child_with_open_file(path: Path) -> int | None:
    """The pid of one of this process's children that holds ``path`` open, if any."""
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = next(ln.split()[1] for ln in (proc / "status").read_text().splitlines() if ln.startswith("PPid:"))
            if ppid == me and any(os.readlink(fd) == str(path) for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except (OSError, StopIteration):
            continue
    return None


def test_stop_kills_the_clip_processes_at_once_and_counts_no_try(tmp_path: Path) -> None:
    """What SIGTERM does to `inspector run`: the batch ends within a second, the clip stays pending."""
    src = tmp_path / "src"
    src.mkdir()
    lib = Lib(tmp_path / "library")
    clip_id = lib.add(craft_mp4(src / "long.mp4", [(1280, 720, 90)], fps=30), width=1280, height=720, frames=90,
                      fps=30.0)  # ~3 s of CPU
    stop = threading.Event()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(analyze_pending(lib.root, workers=1, settings=FAST,
                                                                           stop=stop)))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        pid = None
        while pid is None and time.monotonic() < deadline and worker.is_alive():  # until its process opens the clip
            pid = _child_with_open_file(lib.clip(clip_id))
            worker.join(0.02)  # the poll's pace: ends early only if the batch does
        assert pid is not None, "no process opened the clip"
        t0 = time.monotonic()
        stop.set()
        worker.join(10)
        assert not worker.is_alive() and time.monotonic() - t0 < 2.0
    finally:
        stop.set()
        worker.join()
    summary = result[0]
    assert summary.analyzed == [] and summary.failed == {} and summary.quarantined == {}
    assert not Path(f"/proc/{pid}").exists(), "the clip's process is gone (reaped)"
    row = lib.row(clip_id)
    assert row.state == "stored" and row.attempts == 0


def test_limits_come_from_the_configs_analysis_table(tmp_path: Path) -> None:
    """[analysis] in the inspector's config reaches the clip processes (python -m inspector analyze
    --config): a clip over the configured frame limit is quarantined with that reason; a bad key is a
    config error naming the file and the key."""
    src = tmp_path / "src"
    src.mkdir()
    lib = Lib(tmp_path / "library")
    small = lib.add(craft_mp4(src / "small.mp4", [(320, 180, 10)]), width=320, height=180, frames=10)
    longer = lib.add(craft_mp4(src / "longer.mp4", [(320, 180, 30)]), width=320, height=180, frames=30)
    table = f'[[watcher]]\nname = "{WATCHER}"\ntransport = "local"\nremote_dir = "{tmp_path / "pi"}"\n'
    cfg = write_config(tmp_path / "inspector.toml", lib.root, [table])
    cfg.write_text(cfg.read_text() + "\n[analysis]\nmax_frames = 20\n")
    proc = WatcherProcess("analyze", "--config", str(cfg), "--workers", "1", module="inspector")
    proc.finish(timeout=120)
    assert lib.row(small).state == "analyzed", proc.log[-20:]
    row = lib.row(longer)
    assert row.state == "quarantined" and "20" in (row.reason or "") and "frame" in (row.reason or ""), row.reason
    cfg.write_text(cfg.read_text().replace("max_frames = 20", "max_frame = 20"))
    bad = WatcherProcess("analyze", "--config", str(cfg), module="inspector")
    assert bad.finish(timeout=60) == 78
    assert any(str(cfg) in ln and "analysis.max_frame" in ln for ln in bad.log), bad.log[-5:]
