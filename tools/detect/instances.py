"""From a chosen track to the ``InstanceTrack`` evidence (class, shape, boxes, masks, colours, motion),
and the compact summary of an instance the model reads."""

from __future__ import annotations

import math

import cv2
import numpy as np

from agent.core.evidence import InstanceTrack
from tools.geometry import upsample
from tools.instance_evidence import fill_evidence

from .candidates import PERSON, Track


def shape_word(mask: np.ndarray | None) -> str | None:
    """The outline of a mask in one word (round, square, elongated, ...), or None for too small a mask."""
    if mask is None or mask.sum() < 30:
        return None
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(c)
    perim = cv2.arcLength(c, True)
    if area <= 0 or perim <= 0:
        return None
    circularity = 4 * math.pi * area / perim ** 2
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    rect_fill = area / max(rw * rh, 1e-6)
    aspect = max(rw, rh) / max(min(rw, rh), 1e-6)
    hull_fill = area / max(cv2.contourArea(cv2.convexHull(c)), 1e-6)
    approx = cv2.approxPolyDP(c, 0.06 * perim, True)
    if aspect > 2.5:
        return "elongated"
    if len(approx) == 3 and hull_fill > 0.85:
        return "triangular"
    if rect_fill > 0.86 and aspect < 1.3:
        return "square"
    if rect_fill > 0.86:
        return "rectangular"
    if circularity > 0.78 and aspect < 1.3:
        return "round"
    if hull_fill < 0.75:
        return "irregular"
    return "compact"


def to_instance(idx: int, tr: Track, naming, sampled, shots: list[int]) -> tuple[InstanceTrack, list, bool]:
    """The evidence of chosen track ``idx`` (``naming``: the recogniser's, or None), its full-resolution
    masks per sample, and whether it is a person."""
    n = len(sampled)
    votes = sum(c.person_votes for c in tr.items.values())
    is_person = votes >= 1 and votes >= 0.2 * len(tr.items)
    boxes = [list(map(lambda v: round(float(v), 4), tr.items[k].box)) if k in tr.items else None
             for k in range(n)]
    low_masks = [tr.items[k].mask if k in tr.items else None for k in range(n)]
    biggest = max(tr.items.values(), key=lambda c: c.area)
    sources = sorted({c.source for c in tr.items.values()})
    track = InstanceTrack(
        id=f"No.{idx}",
        class_name=naming.name if naming else ("person" if is_person else "object"),
        shape=None if is_person or (naming and naming.name != "object") else shape_word(biggest.mask),
        confidence=round(min(1.0, len(tr.items) / n * (0.6 + 0.4 * min(1.0, votes))), 2),
        boxes=boxes,
        recognised_by=sources,
    )
    if naming is not None:
        is_person = naming.name == PERSON
        if naming.by != "none":
            track.recognised_by = sorted({*sources, naming.by})
        track.class_confidence = naming.confidence
        track.class_binding = naming.binding
        track.class_candidates = naming.candidates
    full_masks = [upsample(m, sampled[k].image.shape) if m is not None else None for k, m in enumerate(low_masks)]
    fill_evidence(track, [f.time_s for f in sampled], [f.image for f in sampled], full_masks, person=is_person,
                  shots=shots)
    return track, full_masks, is_person


def instance_summary(inst: InstanceTrack) -> dict:
    """What the model reads of one instance (short: it pays for every token)."""
    out = {"id": inst.id, "class": inst.class_name}
    if inst.class_confidence is not None:
        out["class_confidence"] = inst.class_confidence
        if not inst.class_binding:  # the model may correct it from the images; sure classes bind the caption
            out["class_is_advice"] = True
            if inst.class_candidates:
                out["guesses"] = inst.class_candidates
    if inst.action:
        out["action"] = inst.action
    if inst.holds:
        out["holds"] = inst.holds
    if inst.shape:
        out["shape"] = inst.shape
    out.update({
        "colours": inst.colours[:3], "size": inst.relative_size,
        "from": inst.start_cell, "to": inst.end_cell,
        "motion": f"{inst.motion_speed} {inst.direction}" if inst.direction else inst.motion_speed,
        "seen_in_frames": len(inst.seen()), "confidence": inst.confidence,
    })
    if inst.leaves_frame:
        out["leaves_frame"] = True
    if inst.enters_frame:
        out["enters_frame"] = True
    return out
