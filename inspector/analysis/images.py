"""Still images of a clip: JPEG encoding, the contact sheet, and an even sample of frames.

:class:`EvenSampler` keeps at most ``2 * n`` small frames spread evenly over a stream of unknown
length (when full it drops every other one and doubles its step), so a contact sheet of ``n``
frames across the whole clip needs neither the frame count in advance nor the frames in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


def shrink(bgr: np.ndarray, width: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    if w <= width:
        return bgr
    return cv2.resize(bgr, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def jpeg(bgr: np.ndarray, quality: int = 82) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


@dataclass
class EvenSampler:
    n: int
    width: int
    step: int = 1
    kept: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def wants(self, index: int) -> bool:
        return index % self.step == 0

    def add(self, index: int, t: float, bgr: np.ndarray) -> None:
        if not self.wants(index):
            return
        self.kept.append((t, shrink(bgr, self.width)))
        if len(self.kept) >= 2 * self.n:
            self.kept = self.kept[::2]
            self.step *= 2

    def pick(self) -> list[tuple[float, np.ndarray]]:
        k = len(self.kept)
        if k <= self.n:
            return list(self.kept)
        idx = np.linspace(0, k - 1, self.n).round().astype(int)
        return [self.kept[i] for i in idx]


def contact_sheet(frames: list[tuple[float, np.ndarray]], cols: int = 4) -> np.ndarray:
    """Tiles in rows of ``cols``, each stamped with its time in the clip (m:ss.s)."""
    if not frames:
        raise ValueError("no frames for a contact sheet")
    th, tw = frames[0][1].shape[:2]
    rows = -(-len(frames) // cols)
    gap = 4
    sheet = np.full((rows * (th + gap) + gap, cols * (tw + gap) + gap, 3), 24, np.uint8)
    for i, (t, img) in enumerate(frames):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        tile = img[:th, :tw]
        sheet[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
        label = f"{int(t // 60)}:{t % 60:04.1f}"
        scale = max(0.35, tw / 600)
        cv2.putText(sheet, label, (x + 5, y + th - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(sheet, label, (x + 5, y + th - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return sheet


def single_threaded() -> None:
    """Pool worker initializer: one OpenCV thread per process (the pool is the parallelism)."""
    cv2.setNumThreads(1)
