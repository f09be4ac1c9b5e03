"""Choosing among the recognised candidates: sightings that are strays, the order a montage takes
its main instances in, and what else is in view."""

from __future__ import annotations

import numpy as np

from tools.geometry import iou
from tools.recognise.labels import CLASS_SCORE, DEFAULT_CLASS_SCORE, STILL_SCORE, caption_word


# an unlabelled sighting of a track the detector labelled, whose box is under this share of the labelled
# boxes' (median area), is not that thing: a motion fragment of something else that the linker joined to it
# (in bikes.mp4, a speck of the next sample's traffic joined to a man, a car and a bicycle, 22-200 times smaller,
# made them move "down and to the left"); the sightings of one thing that the detector missed, its motion mask
# or its appearance found again, are a good part of its size
STRAY = 0.1


def _box_area(box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def drop_strays(items: dict) -> dict:
    """A track's sightings (sample -> candidate with ``box`` and ``labels``) without the stray ones (:data:`STRAY`)."""
    labelled = [_box_area(c.box) for c in items.values() if c.labels]
    if not labelled:
        return items
    typical = float(np.median(labelled))
    return {k: c for k, c in items.items() if c.labels or _box_area(c.box) >= STRAY * typical}


def montage_order(ranked: list, shot_of, kind_of) -> list:
    """Main-instance candidates (``ranked``, best first) in the order a clip that cuts between shots takes
    them. The caption is of the whole clip, and each shot is a different view of it: a class that dominates
    a shot is a main instance before a second instance of a class already there (the second car of a street
    montage is counted in the "also in view" sentence instead).

    1. each shot's dominant named candidate (its best ranked one), strongest shots first, one per class;
    2. then named candidates of classes not yet taken, in rank order;
    3. then the rest, in rank order.

    ``shot_of(track)``: the shot a track lies in (tracks do not cross cuts); ``kind_of(track)``: its class
    (a family, so that the animal NanoDet calls a sheep and then a bird is one class), or None when no
    model named it. Unnamed candidates only fill what is left: a thing no model names is not what a shot
    is about when a named one is there, and the packaged tier drops most of them later.
    """
    leads: dict[int, object] = {}
    for tr in ranked:
        if kind_of(tr) is not None:
            leads.setdefault(shot_of(tr), tr)
    lead_ids = {id(tr) for tr in leads.values()}
    order: list = []
    taken: set[int] = set()
    kinds: set[str] = set()

    def take(tr) -> None:
        order.append(tr)
        taken.add(id(tr))
        kinds.add(kind_of(tr))

    for tr in ranked:
        if id(tr) in lead_ids and kind_of(tr) not in kinds:
            take(tr)
    for tr in ranked:
        if id(tr) not in taken and kind_of(tr) is not None and kind_of(tr) not in kinds:
            take(tr)
    return order + [tr for tr in ranked if id(tr) not in taken]


def also_seen(found, main_boxes: list[list]) -> dict[str, int]:
    """Caption word -> most at once in a sampled frame, of the sure detections that are none of the main
    instances (``main_boxes``: per instance, its normalised box per frame or None)."""
    most: dict[str, int] = {}
    for k, frame in enumerate(found):
        counts: dict[str, int] = {}
        taken = [boxes[j] for boxes in main_boxes for j in (k - 1, k, k + 1)  # a sample the track missed too
                 if 0 <= j < len(boxes) and boxes[j] is not None]
        for box, label, score in frame:
            if score < max(STILL_SCORE, CLASS_SCORE.get(label, DEFAULT_CLASS_SCORE)):
                continue
            if any(iou(box, t) > 0.3 for t in taken):
                continue
            counts[caption_word(label)] = counts.get(caption_word(label), 0) + 1
        for word, n in counts.items():
            most[word] = max(most.get(word, 0), n)
    return most


