"""Choosing the instances among the tracks: scored by persistence, size and recognition; parts of a
better track merged into it; and, in the packaged tier, what no model could name kept only when it
behaves like a thing."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from tools.geometry import at_edge, contains, crop, iou

from .candidates import Track
from .thresholds import thresholds


def rank(tracks: list[Track], n: int, shots: list[int], whole_frame_checks: set[int], recogniser=None) -> list[Track]:
    """The tracks that may be instances, best first. ``n``: samples; ``whole_frame_checks``: the samples
    the people cascades searched whole; ``recogniser``: the packaged tier's, when it named the sightings."""
    min_seen = 1 if n < 3 else max(2, int(math.ceil(0.3 * n)))
    scored = []
    for tr in tracks:
        seen = len(tr.items)
        in_shot = shots.count(shots[next(iter(tr.items))])  # a short shot holds few samples to be seen in
        # recognised in every sighting (a person, or anything the recogniser named)
        people_only = all(c.person_votes > 0 or c.labels for c in tr.items.values())
        if seen < min(in_shot, min(2, len(whole_frame_checks)) if people_only else min_seen):
            continue
        if people_only and seen < min(in_shot, min_seen) and _box_area_ratio(tr) > 3.0:
            continue  # a few detector hits whose boxes disagree in size: hits on texture, not one person
        if recogniser is not None and not moved(tr) and not recogniser.names_still([c.labels for c in tr.items.values()]):
            continue  # where nothing moved, only what the detector itself names surely is an instance
        mean_area = float(np.mean([c.area for c in tr.items.values()]))
        votes = sum(c.person_votes for c in tr.items.values())
        if recogniser is not None:  # what the recogniser named, by how sure it was
            votes = sum(max(c.labels.values(), default=0.0) for c in tr.items.values()) * 2
        boost = 2.0 if votes >= 2 else 1.0  # a recognised instance is a main instance before any blob
        if recogniser is not None and parked(tr):
            boost *= PARKED_WEIGHT  # a viewer watches who moves, not the parked car at the side
        scored.append((boost * seen / n * math.sqrt(mean_area), tr))
    scored.sort(key=lambda s: -s[0])
    return [tr for _, tr in scored]


PARKABLE = {"car", "truck", "bus", "motorcycle", "bicycle", "boat", "train"}
PARKED_WEIGHT = 0.25  # a parked vehicle ranks as one of a sixteenth of its area (sqrt: a quarter)


def parked(track: Track) -> bool:
    """A vehicle that never moved and reaches the frame's edge in most of its sightings: a parked car at
    the side of a street, which is no main instance before the people and animals that move."""
    if moved(track):
        return False
    named = [max(c.labels, key=c.labels.get) for c in track.items.values() if c.labels]
    if not named or Counter(named).most_common(1)[0][0] not in PARKABLE:
        return False
    return sum(at_edge(c.box) for c in track.items.values()) >= 0.5 * len(track.items)


def moved(track: Track) -> bool:
    """Some sighting of the track is something that moved (or its appearance found again)."""
    return any(c.source in ("motion", "appearance") for c in track.items.values())


def choose(ranked: list[Track], max_instances: int, shots: list[int]) -> list[Track]:
    """The best ``max_instances`` tracks; a track that is part of a better one fills the frames it lacks."""
    chosen: list[Track] = []
    for tr in ranked:
        if len(chosen) == max_instances:
            break
        owner = next((better for better in chosen if _part_of(tr, better, shots)), None)
        if owner is None:
            chosen.append(tr)
        else:  # the same person: its sightings fill the frames the better track lacks
            for k, item in tr.items.items():
                owner.items.setdefault(k, item)
    return chosen


def name_tracks(chosen: list[Track], images: list[np.ndarray], shots: list[int], recogniser) -> tuple[list[Track], dict]:
    """The recogniser's naming of each track (by ``id``), and the tracks worth keeping once named."""
    from tools.recognise import drop_strays

    namings = {}
    for tr in chosen:
        tr.items = drop_strays(tr.items)
        biggest_first = sorted(tr.items, key=lambda k: -tr.items[k].area)[:3]
        namings[id(tr)] = recogniser.name_track([c.labels for c in tr.items.values()],
                                                [crop(images[k], tr.items[k].box) for k in biggest_first])
    # a box the detector found where nothing moved, that no model could name, is a hit on texture
    chosen = [tr for tr in chosen if namings[id(tr)].name != "object" or moved(tr)]
    # a moving thing no model could name keeps its size from frame to frame; scenery moving through a car's
    # window or behind a person swells and shrinks: say less rather than something wrong
    chosen = [tr for tr in chosen if namings[id(tr)].name != "object" or _steady_size(tr) <= thresholds().steady_size]
    # an unnamed track that lies inside a named one is a part of it (a rabbit's ears, a man's moving arm)
    named = [tr for tr in chosen if namings[id(tr)].name != "object"]
    chosen = [tr for tr in chosen if tr in named or not any(_inside(tr, other, shots) for other in named)]
    if named:  # beside named things, an unnamed one must hold through most of its shot to be a thing
        chosen = [tr for tr in chosen if tr in named
                  or len(tr.items) >= thresholds().unnamed_seen * shots.count(shots[next(iter(tr.items))])]
    return chosen, namings


def _steady_size(track: Track) -> float:
    """How much the track's area varies over its moving sightings away from the frame's edges (coefficient of
    variation; a thing leaving the frame shrinks, and that is no sign of scenery)."""
    areas = [c.area for c in track.items.values() if c.mask is not None and not at_edge(c.mask_box())]
    if len(areas) < 2:
        return 0.0
    return float(np.std(areas) / max(np.mean(areas), 1e-9))


def _box_area_ratio(track: Track) -> float:
    areas = [(c.box[2] - c.box[0]) * (c.box[3] - c.box[1]) for c in track.items.values()]
    return max(areas) / max(min(areas), 1e-6)


def _part_of(track: Track, other: Track, shots: list[int]) -> bool:
    """A recognised person track that mostly lies inside another recognised person's boxes (in the same
    frames or within two samples of the same shot) is a part of that person: a face, an upper body, a
    stretch of the same person that tracking split off."""
    if not any(c.person_votes for c in track.items.values()) or not any(c.person_votes for c in other.items.values()):
        return False
    return _mostly_within(track, other, shots, lambda item, box: iou(item.box, box) > 0.3 or contains(box, item.box))


def _inside(track: Track, other: Track, shots: list[int]) -> bool:
    """Most of ``track``'s sightings lie within ``other``'s box in the same frame (or two samples away in its shot)."""
    return _mostly_within(track, other, shots, lambda item, box: contains(box, item.mask_box(), 0.7))


def _mostly_within(track: Track, other: Track, shots: list[int], within) -> bool:
    """``within(sighting, box)`` holds for 60% of ``track``'s sightings against one of ``other``'s boxes from
    the same sample or up to two samples away in the same shot."""
    inside = 0
    for k, item in track.items.items():
        near = [other.items[j].box for j in other.items if abs(j - k) <= 2 and shots[j] == shots[k]]
        inside += any(within(item, box) for box in near)
    return inside >= 0.6 * len(track.items)
