"""A detector's box meets the motion candidates of its frame: it absorbs the fragments inside it (parts
of one person or thing), strengthens a candidate it repeats, or stands on its own where nothing moved."""

from __future__ import annotations

import cv2
import numpy as np

from tools.geometry import contains, iou

from .candidates import PERSON, Candidate


def _merged(members: list[Candidate]) -> np.ndarray:
    mask = np.zeros_like(members[0].mask)
    for c in members:
        mask |= c.mask
    return mask


def _box_candidate(box, small: np.ndarray, source: str, person_votes: int,
                   labels: dict[str, float] | None = None) -> Candidate:
    """A candidate with no mask: the box and the mean colour under it."""
    sh, sw = small.shape[:2]
    x0, y0, x1, y1 = (int(box[0] * sw), int(box[1] * sh), int(box[2] * sw), int(box[3] * sh))
    region = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)].reshape(-1, 3)
    return Candidate(tuple(float(v) for v in box), None, (box[2] - box[0]) * (box[3] - box[1]),
                     region.mean(axis=0), source, person_votes=person_votes, labels=labels or {})


def attach_person(cands: list[Candidate], box, source: str, small: np.ndarray) -> list[Candidate]:
    """A person box absorbs the motion fragments inside it (they are parts of that person)."""
    members = [c for c in cands if c.source == "motion" and (iou(c.box, box) > 0.3 or contains(box, c.box))]
    already = [c for c in cands if (c.source != "motion" and iou(c.box, box) > 0.5)
               or (c.person_votes and contains(c.box, box, 0.8))]  # a face inside a person found already
    if already:
        already[0].person_votes += 1
        return cands
    sh, sw = small.shape[:2]
    if members:
        rest = [c for c in cands if c not in members]
        mask = _merged(members)
        ys, xs = np.nonzero(mask)
        merged_box = (min(xs.min() / sw, box[0]), min(ys.min() / sh, box[1]),
                      max((xs.max() + 1) / sw, box[2]), max((ys.max() + 1) / sh, box[3]))
        merged_box = tuple(float(np.clip(v, 0, 1)) for v in merged_box)
        votes = sum(c.person_votes for c in members) + 1
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)
        return rest + [Candidate(merged_box, mask, float(mask.mean()), lab[mask].mean(axis=0), "motion",
                                 person_votes=votes)]
    return cands + [_box_candidate(box, small, source, 1)]


def attach_recognised(cands: list[Candidate], box, label: str, score: float, source: str,
                      small: np.ndarray, still_score: float = 0.0) -> list[Candidate]:
    """A recogniser's box (with its class) absorbs the motion fragments inside it, or adds a still
    instance of that class where nothing moved."""
    same = [c for c in cands if c.labels and iou(c.box, box) > 0.5]  # one thing, maybe under two names
    if same:
        same[0].labels[label] = max(same[0].labels.get(label, 0.0), score)
        return cands
    members = [c for c in cands if c.source == "motion" and not c.labels
               and (iou(c.box, box) > 0.3 or contains(box, c.box, 0.6) or contains(c.box, box, 0.6))]
    person = int(label == PERSON)
    if not members and score < still_score:
        return cands  # where nothing moved, only a sure detection is an instance
    if members:
        rest = [c for c in cands if c not in members]
        mask = _merged(members)
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)
        return rest + [Candidate(tuple(float(np.clip(v, 0, 1)) for v in box), mask, float(mask.mean()),
                                 lab[mask].mean(axis=0), "motion", person_votes=person, labels={label: score})]
    return cands + [_box_candidate(box, small, source, person, {label: score})]
