"""Shots: where a clip cuts from one camera set-up to another.

Training clips are usually cut at scene changes before captioning, but a montage still arrives
now and then (``bikes.mp4`` is one). Across a cut nothing lines up: a camera fit between the two
sides is noise, a background built from both sides is wrong, and an object on one side is not the
one on the other. So the tools measure within shots, and the metadata says where the cuts are.

A hard cut is a jump of the colour distribution between consecutive frames of the motion stream:
the Bhattacharyya distance of their HSV histograms (on small thumbnails, which is enough for a
distribution) is both large and several times the typical distance around it, so fast camera
motion or an object crossing close to the lens does not count. Gradual transitions (dissolves,
fades) are not looked for.
"""

from __future__ import annotations

import cv2
import numpy as np

CUT_DISTANCE = 0.35  # least histogram distance of a cut (bikes.mp4's cuts: 0.44-0.78; a car passing the lens: 0.24)
CUT_CONTRAST = 3.0  # and this many times the median distance within a second around it
THUMB_WIDTH = 80


def _histogram(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    thumb = cv2.resize(frame, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, None).flatten()


def change_scores(frames: list[np.ndarray]) -> np.ndarray:
    """Histogram distance between each frame and the next (0 = same colours, 1 = disjoint)."""
    hists = [_histogram(f) for f in frames]
    return np.array([cv2.compareHist(hists[i], hists[i + 1], cv2.HISTCMP_BHATTACHARYYA)
                     for i in range(len(hists) - 1)], dtype=np.float64)


def find_cuts(frames: list[np.ndarray], times: np.ndarray) -> list[int]:
    """Indices of the frames that start a new shot (never 0)."""
    scores = change_scores(frames)
    cuts = []
    for i, score in enumerate(scores):
        if score < CUT_DISTANCE:
            continue
        around = [s for k, s in enumerate(scores) if k != i and abs(times[k + 1] - times[i + 1]) <= 1.0]
        typical = float(np.median(around)) if around else 0.0
        if score >= CUT_CONTRAST * max(typical, 0.02):
            cuts.append(i + 1)
    return cuts


def shot_ids(count: int, cuts: list[int]) -> np.ndarray:
    """The shot number (0, 1, ...) of each of ``count`` frames."""
    ids = np.zeros(count, dtype=int)
    for c in cuts:
        ids[c:] += 1
    return ids


def motion_shots(ctx) -> np.ndarray:
    """Shot number of each frame of the run's motion stream, computed once per run."""
    if "shots" not in ctx.artifacts:
        motion = ctx.frames.motion
        cuts = find_cuts(motion.frames, motion.times) if len(motion.frames) > 1 else []
        ctx.artifacts["shots"] = shot_ids(len(motion.frames), cuts)
    return ctx.artifacts["shots"]


def sample_shots(ctx) -> list[int]:
    """Shot number of each sampled frame."""
    ids, motion = motion_shots(ctx), ctx.frames.motion
    if not len(ids):
        return [0] * len(ctx.frames.sampled)
    return [int(ids[motion.nearest(f.time_s)]) for f in ctx.frames.sampled]


def cut_times(ctx) -> list[float]:
    """When each new shot starts, in seconds."""
    ids = motion_shots(ctx)
    times = ctx.frames.motion.times
    return [round(float(times[i]), 2) for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
