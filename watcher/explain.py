"""Why a clip was recorded: the watcher's own detector and trigger replayed over it, frame by frame.

:func:`replay` runs :class:`shared.detector.MotionDetector` and :class:`shared.trigger.EventTrigger`
(the very classes the watcher runs, with the configuration's settings) over a video file, and
:func:`write_annotated` draws what they saw on each frame into an MP4: the frame with the mask shaded and
the motion boxes, the detector's foreground mask as an inset, the frame's score against the smallest
blob that counts (``min_area``), and the trigger's state. :func:`per_second` sums it up a second at a time.

Honest about warm-up: a recorded clip starts with its pre-roll only (``pre_roll_s`` before the motion),
while the Pi's detector had been learning the scene for hours. The replay learns from the clip's first
``warmup_s`` seconds, judging nothing meanwhile; motion already there when the clip starts becomes part
of what it learns, so the replay can see it late or not at all. :func:`warmup_note` says what that means
for the clip at hand (with the manifest's motion times when the clip has one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from shared.detector import DetectorSettings, luma_from_bgr
from shared.manifest import Manifest
from shared.replay import Detection, Replay, Step
from shared.trigger import TriggerSettings
from watcher.container import FragmentedMp4Writer
from watcher.encoder import VideoEncoder
from watcher.frames import Frame
from watcher.live import BOX_COLOUR, draw

WIDTH = 640
Boxes = tuple[tuple[float, float, float, float], ...]


def replay(frames: Iterator[Frame], detector: DetectorSettings,
           trigger: TriggerSettings) -> Iterator[tuple[Frame, Step, np.ndarray | None, Boxes]]:
    """Each frame with its Step, the detector's foreground mask (a copy) and its boxes."""
    run = Replay(Detection(detector=detector, trigger=trigger))
    for frame in frames:
        if frame.image is None:
            continue
        step, result = run.step(frame.t, luma_from_bgr(frame.image, detector.width))
        fg = run.detector.foreground
        yield frame, step, (fg.copy() if fg is not None else None), result.boxes


def annotate(frame: Frame, step: Step, fg: np.ndarray | None, boxes: Boxes, settings: DetectorSettings) -> np.ndarray:
    """The frame as the explain video shows it."""
    assert frame.image is not None
    out = draw(frame.image, WIDTH, settings.mask, boxes)
    w = out.shape[1]
    if fg is not None:  # the foreground mask, top right, a quarter wide
        inset = cv2.resize(fg, (w // 4, max(1, round(fg.shape[0] * (w // 4) / fg.shape[1]))),
                           interpolation=cv2.INTER_NEAREST)
        inset = cv2.cvtColor(inset, cv2.COLOR_GRAY2BGR)
        ih, iw = inset.shape[:2]
        out[4:4 + ih, w - iw - 4:w - 4] = inset
        cv2.rectangle(out, (w - iw - 5, 3), (w - 4, 4 + ih), (255, 255, 255), 1)
    band = np.zeros((54, w, 3), np.uint8)  # the text band below the picture
    state = "learning the scene (warm-up): not judged" if step.learning else \
        f"motion {'YES' if step.motion else 'no'}  trigger: {step.state}"
    cv2.putText(band, f"t={step.t:6.2f}s  score {step.score:.4f}  (a blob counts from {settings.min_area:g})",
                (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
    cv2.putText(band, state + ("  " + ",".join(step.actions) if step.actions else ""), (6, 44),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR if step.motion else (200, 200, 200), 1, cv2.LINE_AA)
    # the score against the smallest blob, on a log scale from min_area/10 to 1
    lo = np.log10(max(settings.min_area / 10, 1e-6))
    x = int(w * (np.log10(max(step.score, 10 ** lo)) - lo) / -lo)
    mark = int(w * (np.log10(max(settings.min_area, 1e-6)) - lo) / -lo)
    cv2.rectangle(band, (0, 50), (x, 53), BOX_COLOUR if step.motion else (120, 120, 120), -1)
    cv2.line(band, (mark, 46), (mark, 53), (0, 0, 255), 1)
    return np.vstack([out, band])


def write_annotated(path: Path, frames: Iterator[np.ndarray], fps: float) -> int:
    """Write the annotated frames as an H.264 MP4 with the watcher's own encoder and muxer (a browser plays
    it from the report's clip page); how many frames."""
    encoder: VideoEncoder | None = None
    writer: FragmentedMp4Writer | None = None
    n = 0
    with open(path, "wb") as f:
        try:
            for annotated in frames:
                h, w = annotated.shape[:2]  # yuv420p wants even sides
                image = cv2.copyMakeBorder(annotated, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT) if h % 2 or w % 2 \
                    else annotated
                if encoder is None:
                    encoder = VideoEncoder(image.shape[1], image.shape[0], fps)
                    writer = FragmentedMp4Writer(f, codec=encoder.codec_name, width=image.shape[1],
                                                 height=image.shape[0], fps=fps)
                assert writer is not None
                for packet in encoder.encode(image, n / fps, force_keyframe=n == 0):
                    writer.write(packet)
                n += 1
            if encoder is not None and writer is not None:
                for packet in encoder.flush():
                    writer.write(packet)
        finally:
            if writer is not None:
                writer.close()
    return n


@dataclass(frozen=True)
class Second:
    second: int
    frames: int
    motion_frames: int
    max_score: float
    max_boxes: int
    learning: bool
    state: str  # the trigger's state at the second's last frame
    actions: tuple[str, ...]


def per_second(steps: list[Step]) -> list[Second]:
    groups: dict[int, list[Step]] = {}
    for st in steps:  # one pass: a long recording has many steps and many seconds
        groups.setdefault(int(st.t), []).append(st)
    out: list[Second] = []
    for s, group in sorted(groups.items()):
        out.append(Second(s, len(group), sum(st.motion for st in group), max(st.score for st in group),
                          max(st.boxes for st in group), any(st.learning for st in group), group[-1].state,
                          tuple(a for st in group for a in st.actions)))
    return out


def warmup_note(steps: list[Step], detector: DetectorSettings, manifest: Manifest | None) -> list[str]:
    """What the replay could and could not learn from this clip, in sentences."""
    lines = [(f"The detector learns the scene from the clip's first {detector.warmup_s:g} s and judges nothing "
              "meanwhile; the Pi's detector had been learning for as long as it had run.")]
    if manifest is not None and manifest.motion_start_s is not None:
        pre = manifest.motion_start_s - manifest.media_start_s
        end = (manifest.motion_end_s or manifest.motion_start_s) - manifest.media_start_s
        lines.append(f"On the Pi, motion was seen from {pre:.1f} s to {end:.1f} s into this clip (its pre-roll is "
                     f"{pre:.1f} s).")
        if pre < detector.warmup_s:
            lines.append(f"That is inside the replay's warm-up: the replay cannot judge the first {detector.warmup_s:g}"
                         " s, and what moved during them is part of the background it learns, so it may see that "
                         "motion late or not at all.")
    seen = [st.t for st in steps if st.motion]
    lines.append(f"The replay saw motion from {seen[0]:.1f} s to {seen[-1]:.1f} s." if seen else
                 "The replay saw no motion.")
    return lines
