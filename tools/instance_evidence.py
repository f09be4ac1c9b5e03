"""Evidence about one instance from its per-frame masks or boxes: grid positions, colours, size, motion.

Shared by every detector and segmenter backend, so captions read the same whichever produced
the masks.
"""

from __future__ import annotations

import numpy as np

from agent.core.evidence import InstanceTrack
from agent.core.vocab import direction_word, grid_cell

from .colors import colours_present, dominant_colours, own_pixels, steady_colours
from .geometry import at_edge

EDGE = 0.02  # a box this close to the border counts as touching it
UNTOLD_COLOUR = 0.4  # colour confidence factor when the thing's pixels could not be told from its surroundings
CROSSED = 0.1  # frame widths from the first to the last sighting that make an instance move, however slowly
GONE_SAMPLES = 2  # samples at the end (start) of its shot an instance must be missing from to leave (enter)


def relative_size(area: float) -> str:
    if area < 0.01:
        return "small"
    if area < 0.06:
        return "medium-sized"
    if area < 0.25:
        return "large"
    return "very large"


def motion_speed(widths_per_s: float) -> str:
    if widths_per_s < 0.03:
        return "still"
    if widths_per_s < 0.1:
        return "slowly"
    if widths_per_s < 0.25:
        return "steadily"
    return "quickly"


def fill_evidence(track: InstanceTrack, times: list[float], frames: list[np.ndarray] | None = None,
                  masks: list[np.ndarray | None] | None = None, person: bool = False,
                  shots: list[int] | None = None) -> InstanceTrack:
    """Fill position, motion, size and colour fields of ``track`` from its boxes and optional masks.

    ``masks`` (full-frame boolean arrays, one per sampled frame or None) refine centroids, areas and
    colours; without them the boxes are used. ``shots`` (per sampled frame): an instance missing
    from the samples before or after its shot has not entered or left the frame, the shot changed; one
    seen only once is not said to enter or leave.
    """
    n = len(track.boxes)
    cents: list[list[float] | None] = [None] * n
    areas = [0.0] * n
    for i, box in enumerate(track.boxes):
        if box is None:
            continue
        m = masks[i] if masks is not None and i < len(masks) else None
        if m is not None and m.any():
            ys, xs = np.nonzero(m)
            h, w = m.shape
            cents[i] = [round(float(xs.mean()) / w, 4), round(float(ys.mean()) / h, 4)]
            areas[i] = round(float(m.mean()), 5)
        else:
            x0, y0, x1, y1 = box
            cents[i] = [round((x0 + x1) / 2, 4), round((y0 + y1) / 2, 4)]
            areas[i] = round((x1 - x0) * (y1 - y0), 5)
    track.centroids, track.areas = cents, areas
    seen = [i for i in range(n) if cents[i] is not None]
    if not seen:
        return track
    first, last = seen[0], seen[-1]
    track.start_cell = grid_cell(*cents[first])
    track.end_cell = grid_cell(*cents[last])
    shot = [k for k in range(n) if shots is None or shots[k] == shots[first]]
    # seen once, a thing at the border may have come or gone, or the detector missed it in the other samples
    # (a parked bicycle at the frame's edge): one sighting says where it was, not that it moved in or out
    # one missed detection is no exit: the instance must be gone from the shot's last GONE_SAMPLES samples
    track.leaves_frame = len(seen) > 1 and shot[-1] - last >= GONE_SAMPLES and at_edge(track.boxes[last], EDGE)
    track.enters_frame = len(seen) > 1 and first - shot[0] >= GONE_SAMPLES and at_edge(track.boxes[first], EDGE)
    track.fact_confidence.update(_frame_edge_confidence(track, seen, shot))
    dx = cents[last][0] - cents[first][0]
    dy = cents[last][1] - cents[first][1]
    span = (times[last] - times[first]) if times else 0.0
    track.displacement = round(float(np.hypot(dx, dy)), 4)
    speed = track.displacement / span if span > 0 else 0.0
    track.motion_speed = motion_speed(speed)
    if track.motion_speed == "still" and track.displacement >= CROSSED:
        track.motion_speed = "slowly"  # a slow crossing of a tenth of the frame is no standing still
    track.direction = None if track.motion_speed == "still" else direction_word(dx, dy)
    sure = _direction_agreement(cents, seen, dx, dy, track.direction is None)
    if track.direction is None:  # staying in place is surer the less the instance shifted over the clip
        sure *= max(0.0, 1.0 - track.displacement / CROSSED)
    track.fact_confidence["direction"] = round(sure, 2)
    track.relative_size = relative_size(float(np.mean([areas[i] for i in seen])))
    if frames is not None:
        track.colours = _colours(track, seen, frames, masks, person)
    return track


def _direction_agreement(cents, seen: list[int], dx: float, dy: float, still: bool) -> float:
    """How sure the direction (or the stillness) is: the share of steps between consecutive sightings that
    go the net way (for a still track: that move under a twentieth of the frame), less when fewer than three
    steps were seen. A move is also only as sure as its path is straight (the net travel over the length of
    the path, square-rooted): a subject that sways back and forth (a talking man's head and shoulders,
    a mask that takes in more or less of him) ends somewhere else without having gone anywhere."""
    steps = [(cents[b][0] - cents[a][0], cents[b][1] - cents[a][1]) for a, b in zip(seen, seen[1:])]
    if not steps:
        return 0.0
    if still:
        agree = sum(float(np.hypot(*st)) < 0.05 for st in steps) / len(steps)
    else:
        path = sum(float(np.hypot(*st)) for st in steps)
        straight = float(np.hypot(dx, dy)) / path if path > 0 else 0.0
        agree = sum(st[0] * dx + st[1] * dy > 0 for st in steps) / len(steps) * straight ** 0.5
    return round(agree * min(1.0, len(steps) / 3.0), 2)


def _frame_edge_confidence(track: InstanceTrack, seen: list[int], shot: list[int]) -> dict[str, float]:
    """How sure the stated leaving and entering are, rated where the instance touches the frame's edge at its
    last (first) sighting: an exit (entrance) said after :data:`GONE_SAMPLES` samples without it is sure; one
    missing sample is a detection that may have failed (0.5 either way); seen to the end, it surely stays."""
    for fact in ("leaves_frame", "enters_frame"):  # measured again on the segmentation's masks
        track.fact_confidence.pop(fact, None)
    out = {}
    for fact, gone, end in (("leaves_frame", shot[-1] - seen[-1], seen[-1]), ("enters_frame", seen[0] - shot[0], seen[0])):
        if not at_edge(track.boxes[end], EDGE):
            continue
        if len(seen) < 2:
            out[fact] = 0.5
        else:
            out[fact] = 1.0 if gone == 0 or gone >= GONE_SAMPLES else 0.5
    return out


def _colours(track, seen, frames, masks, person: bool) -> list[str]:
    """Dominant colour names over the masks (box centres without masks).

    For a person, the upper body (below the head) is named first and the lower body second:
    clothing is what a caption describes.
    """
    main, lower, told_apart, present = [], [], [], {}
    for i in seen:
        img = frames[i]
        h, w = img.shape[:2]
        x0, y0, x1, y1 = track.boxes[i]
        m = masks[i] if masks is not None and i < len(masks) else None
        if m is None or not m.any():
            m = np.zeros((h, w), bool)
            # the central part of the box is mostly the instance
            m[int((y0 * 0.75 + y1 * 0.25) * h):int((y0 * 0.25 + y1 * 0.75) * h) + 1,
              int((x0 * 0.75 + x1 * 0.25) * w):int((x0 * 0.25 + x1 * 0.75) * w) + 1] = True
        for name in colours_present(img[m]):
            present[name] = present.get(name, 0) + 1
        if person:
            rows = np.arange(h)[:, None]
            top, bh = y0 * h, (y1 - y0) * h
            main.append(img[m & (rows >= top + 0.22 * bh) & (rows < top + 0.55 * bh)])
            lower.append(img[m & (rows >= top + 0.6 * bh)])
        else:
            pixels, own = own_pixels(img, m)
            main.append(pixels)
            told_apart.append(own)
    track.colours_in_view = sorted(present, key=lambda n: -present[n])
    if not person:  # each frame on its own, then the colours most frames agree on
        names, agreement = steady_colours(main)
        # sure only where the thing's own pixels stood out from what its mask took in, in most frames
        apart = sum(told_apart) / max(len(told_apart), 1)
        track.fact_confidence["colours"] = round(agreement * (1.0 if apart >= 0.5 else UNTOLD_COLOUR), 2)
        return names[:3]
    names = [name for name, _ in dominant_colours(np.concatenate(main))] if main else []
    if person and lower:
        below = dominant_colours(np.concatenate(lower))
        if below:
            names = list(dict.fromkeys(names[:1] + [below[0][0]] + names[1:]))
    return names
