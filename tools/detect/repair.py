"""Repairing chosen tracks: sightings that jump away from the track's motion (a switch to another
object, two objects touching) are cut, and samples where it was not seen are searched for its
appearance (masked template matching around the predicted position)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from tools.geometry import iou

from .candidates import Candidate, Track, expected_centre
from .thresholds import thresholds


def _size(track: Track) -> float:
    return math.sqrt(float(np.median([c.area for c in track.items.values()])))


def _substantial(track: Track) -> dict[int, Candidate]:
    """The sightings that are not small fragments of the instance (those judge the others)."""
    typical = float(np.median([c.area for c in track.items.values()]))
    big = {k: c for k, c in track.items.items() if c.area >= 0.3 * typical}
    return big if len(big) >= 2 else dict(track.items)


def cut_jumps(track: Track) -> list[int]:
    """Remove sightings far from both where the track's motion puts them and from the nearest other
    sighting: the linker's switches to another object, and blobs where two objects touched.
    Returns the samples cut."""
    limits = thresholds()
    cut: list[int] = []
    budget = len(track.items) // 4  # a track that jumps more often than this is not one moving thing
    while len(track.items) >= 4 and len(cut) < budget:
        size = _size(track)
        refs = _substantial(track)
        worst, worst_err = None, 0.0
        for k, c in track.items.items():
            exp = expected_centre(refs, k)
            if exp is None:  # fewer than two other sightings to judge it by
                continue
            nearest = refs[min((j for j in refs if j != k), key=lambda j: abs(j - k))].centre
            err = min(math.dist(c.centre, exp), math.dist(c.centre, nearest)) / (limits.jump * size + limits.jump_slack)
            if err > 1.0 and err > worst_err:
                worst, worst_err = k, err
        if worst is None:
            break
        del track.items[worst]
        cut.append(worst)
    return cut


def fill_gaps(track: Track, frames: list[np.ndarray], claimed: dict[int, list[tuple]],
              shots: list[int] | None = None) -> list[int]:
    """Find the instance by its appearance in sampled frames where the track has no sighting.

    The nearest sighting with a mask is the template (its pixels only, the background masked out);
    it is searched for around the position the track's motion predicts, and accepted only on a strong
    match that does not land on another instance, and only in the track's own shot (given ``shots``,
    per sample). Returns the samples filled."""
    filled: list[int] = []
    tried: set[int] = set()
    if shots is not None and track.items:
        own = shots[next(iter(track.items))]
        tried = {k for k in range(len(frames)) if shots[k] != own}
    while True:
        # nearest gaps first, so that a filled sample can be the template for the next one
        gaps = sorted((k for k in range(len(frames)) if k not in track.items and k not in tried),
                      key=lambda k: min(abs(k - j) for j in track.items))
        if not gaps or len(track.items) < 2:
            return filled
        k = gaps[0]
        tried.add(k)
        found = _match_appearance(track, frames, k)
        if found is None or any(iou(found.box, other) > 0.3 for other in claimed.get(k, [])):
            continue
        track.items[k] = found
        filled.append(k)


def _match_appearance(track: Track, frames: list[np.ndarray], k: int) -> Candidate | None:
    """The track's nearest masked sighting (at most two samples away) found again in sample ``k`` around
    where its motion puts it, on a strong match only."""
    refs = _substantial(track)
    src_k = min((j for j in refs if refs[j].mask is not None), key=lambda j: abs(j - k), default=None)
    exp = expected_centre(refs, k)
    if src_k is None or exp is None or abs(src_k - k) > 2:
        return None
    src = track.items[src_k]
    h, w = src.mask.shape
    mb = src.mask_box()
    x0, y0, x1, y1 = (int(round(mb[0] * w)), int(round(mb[1] * h)), int(round(mb[2] * w)), int(round(mb[3] * h)))
    tw, th = x1 - x0, y1 - y0
    if tw < 6 or th < 6 or x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h:
        return None  # a template cut by the frame's edge would match the edge
    template = frames[src_k][y0:y1, x0:x1]
    tmask = src.mask[y0:y1, x0:x1].astype(np.uint8) * 255
    cx, cy = exp[0] * w, exp[1] * h
    rx, ry = tw, th  # search a box's size around the prediction
    sx0, sy0 = int(max(0, cx - tw / 2 - rx)), int(max(0, cy - th / 2 - ry))
    sx1, sy1 = int(min(w, cx + tw / 2 + rx)), int(min(h, cy + th / 2 + ry))
    if sx1 - sx0 < tw or sy1 - sy0 < th:
        return None
    scores = cv2.matchTemplate(frames[k][sy0:sy1, sx0:sx1], template, cv2.TM_CCORR_NORMED, mask=tmask)
    scores = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
    _, _, _, (bx, by) = cv2.minMaxLoc(scores)
    # TM_CCORR is high on any bright patch; confirm with the correlation of mean-removed pixels
    patch = frames[k][sy0 + by:sy0 + by + th, sx0 + bx:sx0 + bx + tw].astype(np.float32)
    m = tmask > 0
    a, b = patch[m] - patch[m].mean(axis=0), template[m].astype(np.float32) - template[m].mean(axis=0)
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    score = float((a * b).sum() / denom) if denom > 0 else 0.0
    if score < thresholds().match_score:
        return None
    nx0, ny0 = sx0 + bx, sy0 + by
    box = (nx0 / w, ny0 / h, (nx0 + tw) / w, (ny0 + th) / h)
    mask = np.zeros_like(src.mask)
    mask[ny0:ny0 + th, nx0:nx0 + tw] = src.mask[y0:y1, x0:x1]
    return Candidate(box, mask, src.area, src.colour, "appearance", person_votes=0, labels=dict(src.labels))
