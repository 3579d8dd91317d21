"""Analysis of one video: decode it whole, check it against its manifest, build the motion
timeline, find people on sampled frames, pick the stills.

:func:`analyze_video` is pure computation on a file (no writes); :func:`analyze_clip` is the unit
of work for the pool: it analyzes a library clip against the manifest beside it and writes the
results beside it (``<id>.analysis.json`` last, atomically: it marks the analysis complete).
A clip that does not decode, disagrees with its manifest or is over the limits of
:mod:`.limits` (checked as it decodes, not after) raises :class:`ClipRejected` with the reason:
the caller quarantines it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.analysis.decode import DecodeError, VideoReader
from inspector.analysis.images import EvenSampler, contact_sheet, jpeg, shrink
from inspector.analysis.limits import AnalysisLimits, FrameGuard, LimitExceeded, duration_tolerance_s, manifest_problem
from inspector.analysis.motion import MotionSettings, MotionTimeline
from inspector.analysis.people import Box, HogPersonDetector, PersonDetector
from inspector.analysis.result import AnalysisResult, Motion, People, Video
from inspector.analysis.result import Stills as StillTimes
from shared.atomic import atomic_write_bytes
from shared.manifest import InvalidManifest, Manifest, parse_manifest, sha256_file

logger = logging.getLogger(__name__)

ANALYZER_VERSION = 1


class ClipRejected(Exception):
    """The clip is unplayable or disagrees with its manifest; the message is the reason."""


@dataclass(frozen=True)
class AnalyzerSettings:
    motion: MotionSettings = field(default_factory=MotionSettings)
    people_interval_s: float = 0.5  # sample for people this often while there is motion...
    idle_people_interval_s: float = 2.0  # ...and this often otherwise
    people_min_frac: float = 0.12  # smallest person looked for, as a fraction of the frame height
    sheet_frames: int = 8
    sheet_cols: int = 4
    sheet_width: int = 240  # per tile
    thumb_width: int = 320
    people_width: int = 960  # the stored best-people frame
    decode_threads: int = 1


@dataclass
class Stills:
    thumb: bytes  # JPEG of the most active frame
    sheet: bytes  # JPEG contact sheet
    people: bytes | None  # JPEG of the frame with the most people (no boxes drawn: the report overlays them)


@dataclass
class Analysis:
    result: AnalysisResult
    stills: Stills

    @property
    def data(self) -> dict[str, Any]:
        """The result as its JSON document (the CLI prints it)."""
        return self.result.model_dump(mode="json")

    @property
    def media_s(self) -> float:
        return self.result.video.duration_s


def analyze_video(path: Path, settings: AnalyzerSettings | None = None,
                  detector: PersonDetector | None = None, manifest: Manifest | None = None,
                  limits: AnalysisLimits | None = None) -> Analysis:
    """Analyze a whole video file. Raises ClipRejected if it does not decode, is over the limits
    or (given a manifest) disagrees with it: the limits and the manifest are checked on the stream
    headers and on every frame as it comes, so a refused clip costs at most one frame too many."""
    settings = settings or AnalyzerSettings()
    limits = limits or AnalysisLimits()
    guard = FrameGuard(limits, manifest, settings.motion.bin_s)
    detector = detector or HogPersonDetector(min_person_frac=settings.people_min_frac)
    t_start, cpu_start = time.monotonic(), time.process_time()
    timeline = MotionTimeline(settings.motion, max_bins=limits.max_bins)
    sampler = EvenSampler(settings.sheet_frames, settings.sheet_width)
    best_active: tuple[float, float, np.ndarray] | None = None  # score, t, small BGR
    samples: list[tuple[float, int]] = []
    best_people: tuple[int, float, float, list[Box], np.ndarray] | None = None  # n, score sum, t, boxes, bgr
    last_sample = -1e9
    last_motion = -1e9
    n = 0
    t_last = 0.0
    try:
        # FFmpeg itself refuses frames of twice the limit before allocating them; frames between the
        # two reach the guard, which refuses them with a clearer reason than the decoder gives
        with VideoReader(path, threads=settings.decode_threads, max_pixels=2 * limits.max_pixels) as reader:
            info = reader.info
            assert info is not None
            guard.header(info.width, info.height, info.frames_hint, info.duration_hint)
            for f in reader.frames():
                guard.frame(f.index, f.t, f.width, f.height)
                n, t_last = f.index + 1, f.t
                score = timeline.add(f.t, f.luma)
                if score >= settings.motion.active_threshold:
                    last_motion = f.t
                bgr = None
                if sampler.wants(f.index):
                    bgr = f.bgr()
                    sampler.add(f.index, f.t, bgr)
                if best_active is None or score > best_active[0]:
                    bgr = bgr if bgr is not None else f.bgr()
                    best_active = (score, f.t, shrink(bgr, settings.thumb_width))
                moving = f.t - last_motion <= 1.0
                interval = settings.people_interval_s if moving else settings.idle_people_interval_s
                if f.t - last_sample >= interval - 1e-6:
                    last_sample = f.t
                    bgr = bgr if bgr is not None else f.bgr()
                    boxes = detector.detect(bgr)
                    samples.append((f.t, len(boxes)))
                    key = (len(boxes), sum(b.score for b in boxes))
                    if boxes and (best_people is None or key > best_people[:2]):
                        best_people = (key[0], key[1], f.t, boxes, bgr)
    except DecodeError as e:
        raise ClipRejected(f"does not decode: {e}") from None
    except LimitExceeded as e:
        raise ClipRejected(str(e)) from None
    if n == 0 or best_active is None:
        raise ClipRejected("does not decode: no video frames")
    fps = info.fps or ((n - 1) / t_last if t_last > 0 else 0.0)
    duration = t_last + (min(1.0 / fps, 1.0) if fps > 0 else 0.0)  # a container's odd rate never stretches it
    video = Video(codec=info.codec, width=info.width, height=info.height, fps=round(float(fps), 4), frames=n,
                  duration_s=round(float(duration), 4))
    if manifest is not None:
        problems = manifest_problems(video, manifest)
        if problems:
            raise ClipRejected("disagrees with its manifest: " + "; ".join(problems))
    segments = timeline.segments()
    bin_s = settings.motion.bin_s
    per_second = _people_per_second(samples, duration)
    best_t, person_boxes, stills_people = None, [], None
    if best_people is not None:
        _, _, t_best, boxes, bgr = best_people
        h, w = bgr.shape[:2]
        best_t = round(float(t_best), 3)
        person_boxes = [(round(float(b.x / w), 4), round(float(b.y / h), 4), round(float(b.w / w), 4),
                         round(float(b.h / h), 4), round(float(b.score), 3)) for b in boxes]
        stills_people = jpeg(shrink(bgr, settings.people_width))
    people = People(detector=getattr(detector, "name", type(detector).__name__), sampled=len(samples),
                    peak=max((c for _, c in samples), default=0), per_second=tuple(per_second), best_t=best_t,
                    boxes=tuple(person_boxes))
    activity = [round(float(a), 5) for a in timeline.activity]
    peak_bin = int(np.argmax(activity)) if activity else 0
    motion = Motion(bin_s=bin_s, activity=tuple(activity), peak=max(activity, default=0.0),
                    peak_t=round(peak_bin * bin_s, 3), active_s=round(sum(s.end_s - s.start_s for s in segments), 3),
                    segments=tuple(s.as_result() for s in segments))
    stills = StillTimes(thumb_t=round(float(best_active[1]), 3), sheet_t=tuple(round(t, 3) for t, _ in sampler.pick()))
    result = AnalysisResult(
        analyzer_version=ANALYZER_VERSION, file=path.name, video=video, motion=motion, people=people, stills=stills,
        elapsed_s=round(time.monotonic() - t_start, 3), cpu_s=round(time.process_time() - cpu_start, 3))
    sheet = contact_sheet(sampler.pick(), settings.sheet_cols)
    return Analysis(result, Stills(thumb=jpeg(best_active[2]), sheet=jpeg(sheet), people=stills_people))


def manifest_problems(video: Video, m: Manifest) -> list[str]:
    """How the decoded video disagrees with the manifest (empty when it agrees)."""
    problems = []
    if (video.width, video.height) != (m.width, m.height):
        problems.append(f"resolution {video.width}x{video.height}, manifest {m.width}x{m.height}")
    if video.frames != m.frames:
        problems.append(f"decoded {video.frames} frames, manifest {m.frames}")
    if m.fps > 0 and abs(video.fps - m.fps) > 0.01 * m.fps:
        problems.append(f"{video.fps:g} fps, manifest {m.fps:g}")
    tolerance = duration_tolerance_s(m.fps)
    if abs(video.duration_s - m.duration_s) > tolerance:
        problems.append(f"duration {video.duration_s:.3f} s, manifest {m.duration_s:.3f} s")
    return problems


def _people_per_second(samples: list[tuple[float, int]], duration: float) -> list[int]:
    out = [0] * max(1, int(np.ceil(duration - 1e-6)))
    for t, c in samples:
        i = min(int(t), len(out) - 1)
        out[i] = max(out[i], c)
    return out


def artifact_paths(clip: Path) -> dict[str, Path]:
    stem = clip.with_suffix("")
    return {"json": Path(f"{stem}.analysis.json"), "thumb": Path(f"{stem}.thumb.jpg"),
            "sheet": Path(f"{stem}.sheet.jpg"), "people": Path(f"{stem}.people.jpg")}


def write_artifacts(clip: Path, analysis: Analysis) -> dict[str, Path]:
    """Write the stills, then the JSON (last, atomically) beside ``clip``; ``analysis.result`` then names
    the stills."""
    paths = artifact_paths(clip)
    atomic_write_bytes(paths["thumb"], analysis.stills.thumb)
    atomic_write_bytes(paths["sheet"], analysis.stills.sheet)
    if analysis.stills.people is not None:
        atomic_write_bytes(paths["people"], analysis.stills.people)
    else:
        paths["people"].unlink(missing_ok=True)
    result = analysis.result
    names = {"thumb": paths["thumb"].name, "sheet": paths["sheet"].name,
             "people": paths["people"].name if analysis.stills.people is not None else None}
    analysis.result = result.model_copy(update={"stills": StillTimes.model_validate(
        dict(result.stills.model_dump(), **names))})
    atomic_write_bytes(paths["json"], analysis.result.to_json())
    return paths


def analyze_clip(clip: Path, settings: AnalyzerSettings | None = None,
                 limits: AnalysisLimits | None = None) -> AnalysisResult:
    """Work unit of a clip's process: analyze a library clip against the manifest beside it, write
    the results beside it, return them. Raises ClipRejected."""
    limits = limits or AnalysisLimits()
    mpath = clip.with_suffix(".json")
    try:
        manifest = parse_manifest(mpath.read_bytes(), expected_id=clip.stem)
    except FileNotFoundError:
        raise ClipRejected(f"manifest {mpath.name} is missing") from None
    except InvalidManifest as e:
        raise ClipRejected(f"bad manifest: {e}") from None
    problem = manifest_problem(manifest, limits)
    if problem:
        raise ClipRejected(problem)
    if not clip.is_file():
        raise ClipRejected(f"clip file {clip.name} is missing")
    size, sha = sha256_file(clip)  # cheap next to decoding: proves we analyze the verified bytes
    if (size, sha) != (manifest.size, manifest.sha256):
        raise ClipRejected(f"changed since it was verified: {size} bytes with sha256 {sha}, manifest "
                           f"{manifest.size} bytes with sha256 {manifest.sha256}")
    logger.info("process %d: decoding %s (%dx%d, %d frames, %.1f s declared)", os.getpid(), manifest.id,
                manifest.width, manifest.height, manifest.frames, manifest.duration_s)
    analysis = analyze_video(clip, settings, manifest=manifest, limits=limits)
    analysis.result = analysis.result.model_copy(update={"clip_id": manifest.id, "sha256": manifest.sha256})
    write_artifacts(clip, analysis)
    return analysis.result
