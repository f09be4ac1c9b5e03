"""Naming the dominant colours of a set of pixels: k-means in CIELAB, nearest named colour."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np


@lru_cache(maxsize=1)
def palette() -> tuple[list[str], np.ndarray]:
    data = json.loads(resources.files("tools").joinpath("data/colors.json").read_text())
    names = [k for k in data if not k.startswith("_")]
    rgb = np.array([data[k] for k in names], np.uint8).reshape(-1, 1, 3)
    lab = cv2.cvtColor(rgb[:, :, ::-1], cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
    return names, _lab_units(lab)


def _lab_units(lab_u8: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit Lab (L*255/100, a+128, b+128) to true CIELAB units."""
    lab = lab_u8.astype(np.float32)
    return np.stack([lab[:, 0] * 100.0 / 255.0, lab[:, 1] - 128.0, lab[:, 2] - 128.0], axis=1)


def name_lab(lab: np.ndarray) -> str:
    names, ref = palette()
    return names[int(np.argmin(np.linalg.norm(ref - lab[None, :], axis=1)))]


def dominant_colours(pixels_bgr: np.ndarray, k: int = 3, min_share: float = 0.2,
                     max_pixels: int = 4000) -> list[tuple[str, float]]:
    """(name, share) of the main colours of ``pixels_bgr`` (N x 3), largest first, names unique."""
    px = pixels_bgr.reshape(-1, 3)
    if len(px) == 0:
        return []
    if len(px) > max_pixels:  # a fixed stride keeps it deterministic
        px = px[:: len(px) // max_pixels + 1]
    lab = _lab_units(cv2.cvtColor(px.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_BGR2LAB).reshape(-1, 3))
    k = max(1, min(k, len(lab)))
    if k == 1:
        return [(name_lab(lab.mean(axis=0)), 1.0)]
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(7)
    _, labels, centres = cv2.kmeans(lab.astype(np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / float(len(labels))
    out: dict[str, float] = {}
    for idx in np.argsort(-shares):
        if shares[idx] < min_share and out:
            continue
        name = name_lab(centres[idx])
        out[name] = out.get(name, 0.0) + float(shares[idx])
    return sorted(out.items(), key=lambda kv: -kv[1])


def colours_present(pixels_bgr: np.ndarray, min_share: float = 0.05, most: int = 1500) -> list[str]:
    """Every named colour that at least ``min_share`` of the pixels are nearest to, commonest first: not
    what the thing is (see :func:`dominant_colours`) but what is there at all, so a colour missing here is
    surely not the thing's."""
    px = pixels_bgr.reshape(-1, 3)
    if len(px) == 0:
        return []
    px = px[:: max(1, len(px) // most)]
    names, ref = palette()
    lab = _lab_of(px)
    nearest = np.argmin(np.linalg.norm(lab[:, None, :] - ref[None], axis=2), axis=1)
    counts = np.bincount(nearest, minlength=len(names)) / len(nearest)
    return [names[i] for i in np.argsort(-counts) if counts[i] >= min_share]


LEAK_DISTANCE = 12.0  # CIELAB distance within which an instance pixel matches the surroundings its mask leaks into
RING_SHARE = 0.1  # a colour of the surroundings counts when it covers this share of the ring around the mask


def _lab_of(pixels_bgr: np.ndarray) -> np.ndarray:
    return _lab_units(cv2.cvtColor(pixels_bgr.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_BGR2LAB).reshape(-1, 3))


def _every(pixels: np.ndarray, most: int = 3000) -> np.ndarray:
    return pixels[:: max(1, len(pixels) // most)]


def own_pixels(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """The pixels of the instance itself: the mask's inside (its rim eroded), less those whose colour is one
    of the main colours of a ring just outside the mask (the burrow, the grass or the road a mask leaks into).
    When that would leave under a fifth of the pixels (the thing has the colour of its surroundings, or the
    mask holds mostly surroundings: a thin bicycle against a wall), the inside is kept whole, and the second
    value, whether the thing's own pixels could be told apart, is False."""
    h, w = mask.shape
    r = max(3, int(0.04 * max(h, w)))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows):  # the ring lies within r of the mask: work on that part of the frame only
        y0, y1 = max(0, rows[0] - r - 1), min(h, rows[-1] + r + 2)
        x0, x1 = max(0, cols[0] - r - 1), min(w, cols[-1] + r + 2)
        image, mask = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    m8 = mask.astype(np.uint8)
    # within r of the mask: a distance transform costs the same whatever r (a dilation by a disc grows with it)
    ring = (cv2.distanceTransform(1 - m8, cv2.DIST_L2, 5) <= r + 0.5) & ~mask
    inner = cv2.erode(m8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    pixels = _every(image[inner if inner.sum() > 50 else mask])
    around = _every(image[ring])
    if len(pixels) < 50 or len(around) < 50:
        return pixels, len(pixels) >= 50
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(7)
    ring_lab = _lab_of(around).astype(np.float32)
    _, labels, centres = cv2.kmeans(ring_lab, 4, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    centres = centres[np.bincount(labels.ravel(), minlength=4) / len(labels) >= RING_SHARE]
    dist = np.linalg.norm(_lab_of(pixels)[:, None, :] - centres[None], axis=2).min(axis=1)
    keep = dist > LEAK_DISTANCE
    return (pixels[keep], True) if keep.mean() >= 0.2 else (pixels, False)


def steady_colours(per_frame: list[np.ndarray], min_share: float = 0.2) -> tuple[list[str], float]:
    """The colours of a thing over several frames, each frame judged on its own: a colour seen (at
    ``min_share`` or more) in more frames ranks first, ties by its mean share. What a mask leaks changes
    from frame to frame; the thing's own colour stays. Also returns the share of frames showing the first."""
    frames = [dominant_colours(px) for px in per_frame if len(px)]
    if not frames:
        return [], 0.0
    votes: dict[str, list[float]] = {}
    for found in frames:
        for name, share in found:
            if share >= min_share:
                votes.setdefault(name, []).append(share)
    ranked = sorted(votes, key=lambda n: (-len(votes[n]), -sum(votes[n]) / len(frames)))
    # a colour in fewer than half the frames is what the mask took in there (the burrow round a rabbit
    # coming out of it), not the thing's own: the first colour is kept whatever its count
    ranked = ranked[:1] + [n for n in ranked[1:] if 2 * len(votes[n]) >= len(frames)]
    return ranked, (len(votes[ranked[0]]) / len(frames) if ranked else 0.0)
