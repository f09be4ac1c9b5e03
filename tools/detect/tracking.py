"""Linking candidates across the sampled frames into tracks, by position, predicted motion, colour and
(in the packaged tier) the recognised class; and joining tracks of one recognised thing."""

from __future__ import annotations

import math

import numpy as np

from tools.geometry import contains, iou
from tools.recognise import ANIMALS

from .candidates import Candidate, Track
from .thresholds import thresholds


def family(label: str) -> str:
    """Classes a recogniser confuses with each other are one thing to a tracker (a rabbit that NanoDet
    calls a sheep, then a bird)."""
    return "animal" if label in ANIMALS else label


def track_label(track: Track) -> str | None:
    """The recognised class of a track so far (summed over its sightings), or None."""
    votes: dict[str, float] = {}
    for c in track.items.values():
        for label, score in c.labels.items():
            votes[label] = votes.get(label, 0.0) + score
    return max(votes, key=votes.get) if votes else None


def link(per_frame: list[list[Candidate]], max_gap: int = 2, shots: list[int] | None = None) -> list[Track]:
    """Tracks from per-sample candidates; with ``shots`` (per sample), no track crosses a cut."""
    tracks: list[Track] = []
    for k, cands in enumerate(per_frame):
        pairs = []
        for ti, tr in enumerate(tracks):
            last_k, last = tr.last()
            people_only = last.source != "motion" or bool(last.labels)  # recognised: followed over longer gaps
            if k - last_k > (len(per_frame) if people_only else max_gap):
                continue
            if shots is not None and shots[k] != shots[last_k]:
                continue
            pairs += [(cost, ti, ci) for ci, cost in _link_costs(tr, last, cands, k)]
        used_t, used_c = set(), set()
        for _, ti, ci in sorted(pairs):
            if ti in used_t or ci in used_c:
                continue
            tracks[ti].items[k] = cands[ci]
            used_t.add(ti)
            used_c.add(ci)
        for ci, c in enumerate(cands):
            if ci not in used_c:
                tracks.append(Track({k: c}))
    return tracks


def _link_costs(tr: Track, last: Candidate, cands: list[Candidate], k: int) -> list[tuple[int, float]]:
    """(candidate index, cost) of each of sample ``k``'s candidates that may continue the track."""
    colour_gate = thresholds().colour_gate
    px, py = tr.predicted(k)
    label = track_label(tr)
    out = []
    for ci, c in enumerate(cands):
        families = {family(x) for x in c.labels}
        if label and c.labels and family(label) not in families:
            continue  # a recognised car does not become a recognised person
        dist = math.hypot(c.centre[0] - px, c.centre[1] - py)
        size = math.sqrt(max(last.area, c.area))
        colour = float(np.linalg.norm(c.colour - last.colour)) / 100.0
        same_class = bool(label) and family(label) in families
        same_thing = same_class and iou(c.box, last.box) > 0.3
        if (dist > 0.12 + 1.5 * size or colour > colour_gate) and not same_thing:
            continue
        cost = dist + 0.3 * colour - 0.2 * iou(c.box, last.box)
        if c.labels:  # a recognised sighting goes to the track of its class before any other
            cost += -0.3 if same_class else 0.3
        out.append((ci, cost))
    return out


def join_recognised(tracks: list[Track], shots: list[int]) -> list[Track]:
    """Join tracks of the same recognised class that follow one another in a shot where they meet (the
    linker lost the thing for a sample): one person is one instance, not two halves."""
    tracks = sorted(tracks, key=lambda t: min(t.items))
    out: list[Track] = []
    for tr in tracks:
        host = _earlier_part(tr, out, shots)
        if host is None:
            out.append(tr)
            continue
        for k, c in tr.items.items():
            if k not in host.items or c.area > host.items[k].area:
                host.items[k] = c
    return out


def _earlier_part(tr: Track, earlier: list[Track], shots: list[int]) -> Track | None:
    """The track among ``earlier`` that ``tr`` carries on: same recognised family, same shot, and where
    one was last seen the other is next seen."""
    label = track_label(tr)
    if label is None:
        return None
    first = min(tr.items)
    for other in earlier:
        other_label = track_label(other)
        last = max(other.items)
        if other_label is None or family(other_label) != family(label) or shots[last] != shots[first]:
            continue
        if len(set(other.items) & set(tr.items)) > 1 or first < min(other.items):
            continue
        after = [k for k in tr.items if k > last]
        a = other.items[last].box  # where the earlier track was last seen, and the later one's next sighting
        b = tr.items[min(after)].box if after else tr.items[first].box
        if iou(a, b) > 0.3 or contains(a, b, 0.7) or contains(b, a, 0.7):
            return other
    return None
