"""The camera's motion between consecutive frames of the motion stream: corners spread over a grid,
tracked with pyramidal Lucas-Kanade, and a RANSAC similarity fit per pair, decomposed into the image
centre's translation, scale and rotation. Fitted while the clip decodes (:data:`PAIR_FEED`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from agent.core.feeds import FrameFeed

from .camera_background import GRID, background_share
from .parallel import thread_map

MIN_INLIERS = 12


@dataclass
class PairMotion:
    matrix: np.ndarray | None  # 2x3 similarity mapping frame i to frame i+1 (low-res pixels)
    dt: float
    inliers: int
    inlier_ratio: float
    background: float = 1.0  # share of the grid's cells holding textured corners that follow the fit


def _features_mask(shape, boxes: list[list[float]] | None) -> np.ndarray | None:
    if not boxes:
        return None
    h, w = shape[:2]
    mask = np.full((h, w), 255, np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[int(y0 * h):int(math.ceil(y1 * h)), int(x0 * w):int(math.ceil(x1 * w))] = 0
    return mask if mask.mean() > 255 * 0.3 else None  # keep enough of the frame to measure


def spread_features(gray: np.ndarray, mask=None, grid=GRID, per_cell=6) -> np.ndarray | None:
    """Corners spread over a grid of cells, each cell judged on its own contrast.

    A single global detector lets a few strong corners (often on the moving instances) raise the
    bar for the whole frame; per-cell detection keeps the background, which covers most cells,
    in the majority that RANSAC then picks.
    """
    h, w = gray.shape
    found = []
    for gy in range(grid[1]):
        for gx in range(grid[0]):
            x0, x1 = gx * w // grid[0], (gx + 1) * w // grid[0]
            y0, y1 = gy * h // grid[1], (gy + 1) * h // grid[1]
            cell_mask = None if mask is None else mask[y0:y1, x0:x1]
            if cell_mask is not None and not cell_mask.any():
                continue
            pts = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], maxCorners=per_cell, qualityLevel=0.05,
                                          minDistance=5, blockSize=5, mask=cell_mask)
            if pts is not None:
                found.append(pts + np.array([x0, y0], np.float32))
    return np.concatenate(found).astype(np.float32) if found else None


def pair_motion(prev: np.ndarray, cur: np.ndarray, dt: float, mask=None) -> PairMotion:
    """Similarity transform of the dominant (background) motion from ``prev`` to ``cur`` (grayscale)."""
    pts = spread_features(prev, mask)
    if pts is None or len(pts) < MIN_INLIERS:
        return PairMotion(None, dt, 0, 0.0)
    lk = dict(winSize=(15, 15), maxLevel=3,
              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **lk)
    # no forward-backward check: tracking back doubles the cost, and RANSAC already drops the corners
    # it would catch (no camera label changed on the 64 benchmark clips or the real ones without it)
    good = st.ravel() == 1
    if good.sum() < MIN_INLIERS:
        return PairMotion(None, dt, int(good.sum()), 0.0)
    p0, p1 = pts[good].reshape(-1, 2), nxt[good].reshape(-1, 2)
    m, inl = cv2.estimateAffinePartial2D(p0, p1, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                         maxIters=1000, confidence=0.995)
    if m is None or inl is None:
        return PairMotion(None, dt, 0, 0.0)
    n_in = int(inl.sum())
    ratio = n_in / float(len(pts))
    if n_in < MIN_INLIERS:
        return PairMotion(None, dt, n_in, ratio)
    return PairMotion(m, dt, n_in, ratio, round(background_share(prev, p0[inl.ravel() == 1]), 3))


def decompose(m: np.ndarray, w: int, h: int) -> tuple[float, float, float, float]:
    """(pan right, tilt up, zoom in, roll clockwise) of one similarity, before dividing by time.

    Pan and tilt are in frame widths and heights, zoom in log scale, roll in degrees.
    """
    cx, cy = w / 2.0, h / 2.0
    nx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2]
    ny = m[1, 0] * cx + m[1, 1] * cy + m[1, 2]
    scale = math.hypot(m[0, 0], m[1, 0])
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    # content moving left means the camera pans right; content moving down means it tilts up;
    # content turning counterclockwise on screen means the camera rolls clockwise
    return -(nx - cx) / w, (ny - cy) / h, math.log(max(scale, 1e-6)), -angle


class PairTracker:
    """The camera's motion between consecutive motion frames, fitted while the clip is decoded.

    Each pair is fitted as soon as its second frame arrives (on OpenCV's number of threads, with a
    bounded queue), so no frame has to be held for the camera: the memory does not grow with the
    clip's length, and the estimator later only sums the pairs of each shot.
    """

    def __init__(self, threads: int | None = None):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.threads = max(1, cv2.getNumThreads() if threads is None else threads)
        self._pool = ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 else None
        self._pending: deque = deque()
        self.pairs: list[PairMotion] = []
        self._prev: tuple[np.ndarray, float] | None = None

    def push(self, frame: np.ndarray, t: float) -> None:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self._prev is not None:
            prev, t0 = self._prev
            dt = float(t - t0) or 1e-3
            if self._pool is None:
                self.pairs.append(pair_motion(prev, gray, dt))
            else:
                self._pending.append(self._pool.submit(pair_motion, prev, gray, dt))
                while len(self._pending) > 2 * self.threads:
                    self.pairs.append(self._pending.popleft().result())
        self._prev = (gray, t)

    def finish(self, times: np.ndarray | None = None, duration_s: float | None = None) -> list[PairMotion]:
        """Every pair's fit, in order (the frames' times came with each push)."""
        while self._pending:
            self.pairs.append(self._pending.popleft().result())
        self.close()
        return self.pairs

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._prev = None


PAIR_FEED = FrameFeed("camera.frame_pairs", lambda fps: PairTracker(), frames="motion")  # fitted as the clip decodes


def frame_pairs(frames: list[np.ndarray], times: np.ndarray, boxes_per_frame=None) -> list[PairMotion]:
    """Every consecutive pair's motion, with the instances' boxes masked out where given."""
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]

    def pair(i: int) -> PairMotion:
        dt = float(times[i + 1] - times[i]) or 1e-3
        mask = _features_mask(gray[i].shape, boxes_per_frame[i] if boxes_per_frame else None)
        return pair_motion(gray[i], gray[i + 1], dt, mask)

    return thread_map(pair, range(len(frames) - 1))
