"""Camera-compensated foreground: what differs from a background made of the neighbouring frames.

For each sampled time, other frames of the motion stream (up to 4 s away, both ways where the clip
allows, more of them on one side near the clip's ends) are warped onto it with the camera
estimator's per-pair transforms; their per-pixel median is the background, and what differs from it
is foreground. Its connected components are the candidate instances.
"""

from __future__ import annotations

import cv2
import numpy as np

from .candidates import Candidate
from .thresholds import thresholds


def cumulative(pairs, count: int) -> list[np.ndarray]:
    """3x3 transforms mapping motion frame 0 to each motion frame i (identity over failed pairs)."""
    acc = [np.eye(3)]
    for i in range(count - 1):
        m = pairs[i].matrix if i < len(pairs) and pairs[i].matrix is not None else None
        step = np.vstack([m, [0, 0, 1]]) if m is not None else np.eye(3)
        acc.append(step @ acc[-1])
    return acc


def neighbours(times: np.ndarray, j: int, shots: np.ndarray | None = None) -> list[int]:
    """Motion frames to build frame ``j``'s background from (from ``j``'s shot only, given ``shots``).

    The offsets of ``neighbour_offsets_s`` first, both ways where the clip allows: far enough apart that a
    slowly moving object has left its own pixels in most of them. Near the clip's ends, and in short
    clips, fewer of them fit, so in-between offsets are added: with few frames, all on one side, a
    moving object covers half of them at some pixel, and a median over frames that show the object
    leaves a ghost of it.
    """
    limits = thresholds()

    def inside(off: float) -> int | None:
        t = times[j] + off
        if t < times[0] - 0.3 or t > times[-1] + 0.3:
            return None
        n = int(np.argmin(np.abs(times - t)))
        return n if n != j and (shots is None or shots[n] == shots[j]) else None

    chosen: list[int] = []
    both_ways = [o * s for o in limits.neighbour_offsets_s for s in (-1, 1)]
    for offsets in (sorted(both_ways, key=abs), [o * s for o in limits.extra_offsets_s for s in (-1, 1)]):
        for off in offsets:
            if len(chosen) >= limits.neighbours:
                break
            n = inside(off)
            if n is not None and n not in chosen:
                chosen.append(n)
    return sorted(chosen)


def sort_pixelwise(images: list[np.ndarray]) -> list[np.ndarray]:
    """The images sorted value by value (per pixel and channel), smallest first.

    An odd-even transposition network of element-wise min/max: for the few frames a background is
    built from, 25x faster than ``np.partition`` along a stacked axis.
    """
    out = list(images)
    for r in range(len(out)):
        for i in range(r % 2, len(out) - 1, 2):
            out[i], out[i + 1] = cv2.min(out[i], out[i + 1]), cv2.max(out[i], out[i + 1])
    return out


def _warped_neighbours(frames: list[np.ndarray], acc: list[np.ndarray], j: int, chosen: list[int]) -> list[np.ndarray]:
    """The chosen frames warped onto frame ``j``; where a neighbour does not see, frame ``j`` itself."""
    target = frames[j]
    h, w = target.shape[:2]
    stack = []
    for n in sorted(chosen):
        m = (acc[j] @ np.linalg.inv(acc[n]))[:2]
        warped = cv2.warpAffine(frames[n], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=(0, 0, 0))
        valid = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        valid = cv2.erode(valid, np.ones((5, 5), np.uint8)) > 0
        warped[~valid] = target[~valid]  # outside the neighbour's view: no vote for foreground
        stack.append(warped)
    return stack


def foreground(frames: list[np.ndarray], times: np.ndarray, acc: list[np.ndarray], j: int,
               shots: np.ndarray | None = None) -> np.ndarray:
    """Boolean foreground mask of motion frame ``j`` against its camera-compensated neighbours.

    ``acc`` holds the transforms from motion frame 0 to each frame (see ``cumulative``); ``shots``
    the shot of each frame, so that no neighbour comes from the other side of a cut.
    """
    target = frames[j]
    h, w = target.shape[:2]
    chosen = neighbours(times, j, shots)
    if not chosen:
        return np.zeros((h, w), bool)
    stack = _warped_neighbours(frames, acc, j, chosen)
    # the per-pixel median. With an even count the two middle values are both kept and the one
    # nearer the target counts: when half of the neighbours show a moving object at a pixel, that
    # pixel is not called foreground (no ghosts).
    ordered = sort_pixelwise(stack)
    mid = len(stack) // 2
    smooth = cv2.GaussianBlur(target, (5, 5), 0)
    if len(stack) % 2:
        diff = cv2.absdiff(smooth, cv2.GaussianBlur(ordered[mid], (5, 5), 0)).max(axis=2)
    else:
        diff = np.minimum(cv2.absdiff(smooth, cv2.GaussianBlur(ordered[mid - 1], (5, 5), 0)),
                          cv2.absdiff(smooth, cv2.GaussianBlur(ordered[mid], (5, 5), 0))).max(axis=2)
    noise = float(np.median(diff))
    fg = (diff > max(24.0, 4.0 * noise + 8.0)).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    k = max(3, int(round(min(h, w) * 0.04)) | 1)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return fg > 0


def components(mask: np.ndarray, image: np.ndarray) -> list[Candidate]:
    """The connected components of a foreground mask big and solid enough to be instances."""
    h, w = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    min_area = thresholds().min_area
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < min_area * h * w:
            continue
        fill = area / float(bw * bh)
        if fill < 0.15:  # thin outlines are registration errors, not objects
            continue
        comp = labels == i
        out.append(Candidate((x / w, y / h, (x + bw) / w, (y + bh) / h), comp, area / float(h * w),
                             lab[comp].mean(axis=0), "motion"))
    return out
