"""Histogram-of-oriented-gradients people detection (Dalal & Triggs), in numpy.

OpenCV 5 moved ``cv2.HOGDescriptor`` out of the main wheels (opencv-python-headless 5.0 has no
HOG; it lives in the contrib build's ``xobjdetect``). This module computes the same descriptor as
OpenCV's default ``HOGDescriptor()`` (64x128 window, 16x16 blocks on an 8x8 stride, 8x8 cells,
9 unsigned orientation bins, gamma correction, Gaussian block weighting with sigma 4, trilinear
voting, L2-Hys), so OpenCV's pretrained linear SVM for people (``getDefaultPeopleDetector``,
shipped here in :mod:`inspector.analysis._people_svm`) scores its windows as OpenCV would.
Descriptors agree with OpenCV's to within float rounding (checked against the contrib build).

Everything is computed once per pyramid level for the whole image, then every 8-pixel-stride
window is scored with a few array operations: no Python loop over windows.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

WIN_W, WIN_H = 64, 128
CELL = 8
NBINS = 9
BLOCKS_X = (WIN_W - 16) // CELL + 1  # 7
BLOCKS_Y = (WIN_H - 16) // CELL + 1  # 15
BLOCK_LEN = 4 * NBINS  # 36


@lru_cache(maxsize=1)
def people_svm() -> tuple[np.ndarray, float]:
    """OpenCV's default people SVM as (weights[x_block, y_block, 36], bias)."""
    from inspector.analysis._people_svm import DATA

    v = np.frombuffer(zlib.decompress(base64.b64decode(DATA)), dtype="<f4").astype(np.float32)
    assert v.size == BLOCKS_X * BLOCKS_Y * BLOCK_LEN + 1
    return v[:-1].reshape(BLOCKS_X, BLOCKS_Y, BLOCK_LEN), float(v[-1])


@lru_cache(maxsize=1)
def _cell_kernels() -> np.ndarray:
    """K[v, c, h]: weight of pixel v (0..7) of block half h (0/1) for cell c (0/1) along one axis:
    a tent centred on each cell (trilinear voting) times the block's Gaussian (sigma 4)."""
    u = np.arange(16, dtype=np.float64)
    pos = (u + 0.5) / CELL - 0.5
    gauss = np.exp(-((u - 8.0) ** 2) / (2 * 4.0**2))
    k = np.zeros((CELL, 2, 2), np.float32)
    for c in (0, 1):
        w = np.maximum(0.0, 1.0 - np.abs(pos - c)) * gauss
        for h in (0, 1):
            k[:, c, h] = w[h * CELL:(h + 1) * CELL]
    return k


_GAMMA = np.sqrt(np.arange(256, dtype=np.float32))


def _gradient_votes(img: np.ndarray) -> np.ndarray:
    """Per-bin vote planes (NBINS, H, W): gradient magnitude split between the two nearest bins.
    Colour images use, per pixel, the channel with the strongest gradient (as OpenCV does)."""
    planes = cv2.split(cv2.LUT(img, _GAMMA))  # gamma correction: sqrt of the pixel values
    mag = gx = gy = None
    for p in planes:
        dx = cv2.Sobel(p, cv2.CV_32F, 1, 0, ksize=1)  # [-1, 0, 1], border reflect-101
        dy = cv2.Sobel(p, cv2.CV_32F, 0, 1, ksize=1)
        m = cv2.magnitude(dx, dy)
        if mag is None:
            mag, gx, gy = m, dx, dy
        else:
            stronger = cv2.compare(m, mag, cv2.CMP_GT)
            cv2.copyTo(m, stronger, mag)
            cv2.copyTo(dx, stronger, gx)
            cv2.copyTo(dy, stronger, gy)
    assert mag is not None and gx is not None and gy is not None
    a = cv2.phase(gx, gy) * np.float32(NBINS / np.pi) - np.float32(0.5)  # bin coordinate, [-0.5, 17.5)
    a = np.where(a < 0, a + NBINS, a)
    a = np.where(a >= NBINS, a - NBINS, a)  # unsigned orientation: [0, 9)
    votes = np.empty((NBINS, *a.shape), np.float32)
    for b in range(NBINS):  # OpenCV's single-threaded SIMD loops: a third faster than numpy here
        # cv2's stubs lack its scalar operands (taken as a Scalar): hence the ignores
        d = cv2.absdiff(a, float(b))  # type: ignore[call-overload]
        d = cv2.min(d, cv2.subtract(float(NBINS), d))  # type: ignore[call-overload]  # circular distance to bin b
        cv2.multiply(mag, cv2.max(cv2.subtract(1.0, d), 0.0), dst=votes[b])  # type: ignore[call-overload]
    return votes


def block_descriptors(img: np.ndarray) -> np.ndarray:
    """Normalized block histograms on the 8-pixel grid: array [by, bx, 36], each block's 36 values
    ordered as OpenCV's (cell x, cell y, bin). ``img`` is uint8 grey or BGR, at least 16x16."""
    h, w = img.shape[:2]
    hc, wc = (h // CELL) * CELL, (w // CELL) * CELL
    votes = _gradient_votes(img)[:, :hc, :wc]
    k = _cell_kernels().reshape(CELL, 4)  # (v, c*2+h)
    ny, nx = hc // CELL, wc // CELL
    # along x: (bin, y, cx_chunk, v) @ (v, [c,h]) -> (bin, y, chunk, c, h)
    ax = (votes.reshape(NBINS, hc, nx, CELL) @ k).reshape(NBINS, hc, nx, 2, 2)
    # along y: (bin, chunk_x, c_x, h_x, chunk_y, v) @ (v, [c,h])
    ay = ax.reshape(NBINS, ny, CELL, nx, 2, 2).transpose(0, 3, 4, 5, 1, 2) @ k
    ay = ay.reshape(NBINS, nx, 2, 2, ny, 2, 2)  # bin, kx, cx, hx, ky, cy, hy
    nby, nbx = ny - 1, nx - 1
    blocks = np.zeros((NBINS, nbx, 2, nby, 2), np.float32)  # bin, bx, cx, by, cy
    for hx in (0, 1):
        for hy in (0, 1):
            blocks += ay[:, hx:hx + nbx, :, hx, hy:hy + nby, :, hy]
    hist = blocks.transpose(3, 1, 2, 4, 0).reshape(nby, nbx, BLOCK_LEN)  # by, bx, (cx, cy, bin)
    return _l2hys(hist)


def _l2hys(hist: np.ndarray) -> np.ndarray:
    norm = np.sqrt((hist * hist).sum(axis=2, keepdims=True)) + np.float32(BLOCK_LEN * 0.1)
    hist = np.minimum(hist / norm, np.float32(0.2))
    norm = np.sqrt((hist * hist).sum(axis=2, keepdims=True)) + np.float32(1e-3)
    out: np.ndarray = hist / norm
    return out


def window_scores(blocks: np.ndarray) -> np.ndarray:
    """SVM score of every 64x128 window whose top-left corner is on the 8-pixel grid: [wy, wx]."""
    weights, bias = people_svm()
    nby, nbx = blocks.shape[:2]
    nwy, nwx = nby - BLOCKS_Y + 1, nbx - BLOCKS_X + 1
    if nwy <= 0 or nwx <= 0:
        return np.zeros((0, 0), np.float32)
    proj = blocks.reshape(-1, BLOCK_LEN) @ weights.reshape(-1, BLOCK_LEN).T  # (by*bx, i*15+j)
    proj = proj.reshape(nby, nbx, BLOCKS_X, BLOCKS_Y)
    scores = np.full((nwy, nwx), bias, np.float32)
    for i in range(BLOCKS_X):
        for j in range(BLOCKS_Y):
            scores += proj[j:j + nwy, i:i + nwx, i, j]
    return scores


@dataclass(frozen=True)
class Hit:
    x: float
    y: float
    w: float
    h: float
    score: float


def detect_multiscale(img: np.ndarray, *, threshold: float = 0.0, scale_step: float = 1.05,
                      max_levels: int = 64) -> list[Hit]:
    """Every window scoring above ``threshold`` at every pyramid level (no grouping), in the
    coordinates of ``img``. Levels shrink the image by ``scale_step`` until it is smaller than
    the window, as OpenCV's ``detectMultiScale`` does."""
    h, w = img.shape[:2]
    hits: list[Hit] = []
    scale = 1.0
    for _ in range(max_levels):
        sw, sh = round(w / scale), round(h / scale)
        if sw < WIN_W or sh < WIN_H:
            break
        level = img if scale == 1.0 else cv2.resize(img, (sw, sh), interpolation=cv2.INTER_LINEAR)
        scores = window_scores(block_descriptors(level))
        for wy, wx in zip(*np.nonzero(scores > threshold), strict=True):
            hits.append(Hit(wx * CELL * scale, wy * CELL * scale, WIN_W * scale, WIN_H * scale,
                            float(scores[wy, wx])))
        scale *= scale_step
    return hits
