"""How sure each measured fact is: one place that the validator, the composer and the tool summaries read.

A tool may rate its facts itself (``fact_confidence`` on its evidence, by field name); a rated fact is
taken as the tool wrote it. A fact no tool rated is rated here from the evidence itself:

* an instance's class: the recognisers' ``class_confidence``, held at or above :data:`SURE` when the
  detector made the class binding and below it when it did not; the placeholder class ``object`` names
  nothing and is never sure;
* its start and end cells: the share of the first (last) third of its sightings that lie in that cell,
  less when it was seen in one sample only or when the last sample missed it;
* ``leaves_frame`` (``enters_frame``): sure only when the instance is gone from at least the last two
  samples (absent from the first two), never on one missed detection;
* its motion and action: how many samples it was seen in, and how far it travelled;
* its colours: measured on its own pixels (a mask, or a person's body parts) or on a box with
  background in it;
* the camera: the estimator's confidence and the share of frame pairs it used; a move measured while
  the instances covered much of the frame is not sure (their motion may be what moved), nor is a still
  camera over a smooth background (a plain wall shows no motion either way);
* a montage's shots: each shot's confidence, with the instances seen during that shot.

``rate(evidence)`` gives ``{subject: {fact: confidence}}`` with subjects ``No.0``, ``No.1``, ...,
``camera``, ``shot 0``, ``shot 1``, ..., and ``background``.
"""

from __future__ import annotations

import math
from typing import Any

from agent.core.evidence import (
    SURE, Background, CameraMotion, InstanceTrack, Segmentation, VideoMetadata, evidence_of, instances_of,
)
from agent.core.vocab import grid_cell

CAMERA = "camera"
BACKGROUND = "background"
METADATA = "metadata"
ABSENT = "no "  # a camera fact "no zoom in": how sure it is that the camera did not zoom in
NOT_SURE = SURE - 0.05  # where a derived rating is capped when the evidence says the fact is advice


def shot_subject(index: int) -> str:
    return f"shot {index}"


def sure(value: float | None) -> bool:
    return value is not None and value >= SURE


# -- instances ------------------------------------------------------------------------------------
def _cells(inst: InstanceTrack) -> list[str]:
    return [grid_cell(*c) for c in inst.centroids if c is not None]


def _agreement(cells: list[str], cell: str | None) -> float:
    if not cells or cell is None:
        return 0.0
    return sum(c == cell for c in cells) / len(cells)


def _third(n: int) -> int:
    return max(2, math.ceil(n / 3))


def _trailing_gaps(boxes: list) -> int:
    gaps = 0
    for box in reversed(boxes):
        if box is not None:
            break
        gaps += 1
    return gaps


def _leading_gaps(boxes: list) -> int:
    return _trailing_gaps(list(reversed(boxes)))


def _class_rating(inst: InstanceTrack) -> float:
    if inst.class_name == "object":
        return 0.0
    measured = inst.class_confidence if inst.class_confidence is not None else inst.confidence
    return max(measured, SURE) if inst.class_binding else min(measured, NOT_SURE)


def _category_rating(inst: InstanceTrack, class_rating: float) -> float:
    """How sure it is a person, an animal or a vehicle: when every candidate class is of one kind, their
    scores add up (an animal the detector calls a sheep, a bird and a dog is surely an animal)."""
    from agent.core.vocab import category

    names = list(inst.class_candidates) or [inst.class_name]
    kinds = {category(n) for n in names}
    if len(kinds) != 1 or None in kinds:
        return class_rating
    return round(max(class_rating, min(0.9, sum(inst.class_candidates.values()))), 3)


def _position_ratings(inst: InstanceTrack) -> dict[str, float]:
    cells = _cells(inst)
    if len(cells) < 2:  # a position that rests on one sample
        return {"start_cell": 0.3, "end_cell": 0.3}
    k = _third(len(cells))
    start = _agreement(cells[:k], inst.start_cell)
    end = _agreement(cells[-k:], inst.end_cell)
    weight = 0.95 if len(cells) >= 4 else 0.8
    if inst.boxes and inst.boxes[-1] is None and _trailing_gaps(inst.boxes) < 2:
        end *= 0.6  # the last sample missed it: where it ends rests on an earlier sighting
    return {"start_cell": round(start * weight, 3), "end_cell": round(end * weight, 3)}


def _edge_ratings(inst: InstanceTrack) -> dict[str, float]:
    n = len(inst.boxes)
    out = {}
    trailing, leading = _trailing_gaps(inst.boxes), _leading_gaps(inst.boxes)
    if inst.leaves_frame:
        out["leaves_frame"] = 0.8 if trailing >= 2 and n >= 4 else 0.3
    else:
        out["leaves_frame"] = 0.8 if trailing == 0 else 0.5
    if inst.enters_frame:
        out["enters_frame"] = 0.8 if leading >= 2 and n >= 4 else 0.3
    else:
        out["enters_frame"] = 0.8 if leading == 0 else 0.5
    return out


def _motion_ratings(inst: InstanceTrack) -> dict[str, float]:
    seen = len(inst.seen())
    enough = 1.0 if seen >= 3 else 0.5
    if inst.direction and inst.motion_speed not in (None, "still"):
        boxes = [b for b in inst.boxes if b is not None]
        size = max(0.05, sum(_box_area(b) for b in boxes) / max(1, len(boxes))) ** 0.5
        # travel against its own size: a large subject's sway is not a move across the frame
        direction = min(0.95, 0.3 + inst.displacement / size) * enough
        if inst.boxes and inst.boxes[-1] is None:
            direction = min(direction, 0.5)  # measured up to a missed sample
    else:
        # 'still' says the centroid stayed; a box edge that travels far (a subject that stands up, bends
        # or reaches out) is motion a still centroid hides
        boxes = [b for b in inst.boxes if b is not None]
        steady_size = not boxes or max(max(b[k] for b in boxes) - min(b[k] for b in boxes) for k in range(4)) <= 0.25
        direction = (0.8 if steady_size else 0.5) * enough
    out = {"direction": round(direction, 3), "motion_speed": round(direction, 3)}
    if inst.action:
        out["action"] = 0.75 if seen >= 3 else 0.5
    return out


def _colour_rating(inst: InstanceTrack, masked: bool) -> float:
    if not inst.colours and not inst.upper_colours:
        return 0.0
    own_pixels = masked or bool(inst.upper_colours)
    rating = 0.8 if own_pixels else 0.55
    big_enough = max((a for a in inst.areas if a), default=0.0) >= 0.01
    return rating if big_enough else min(rating, 0.5)


def instance_rating(inst: InstanceTrack, masked: bool = False) -> dict[str, float]:
    """How sure each fact of one instance is; ``masked``: its evidence was measured on its mask."""
    seen = len(inst.seen())
    steady = seen >= 3 and seen >= len(inst.boxes) / 2  # seen in most samples: it is there, whatever it is
    derived = {
        "exists": round(max(inst.confidence, 0.8 if steady else 0.0) if seen >= 2 else min(inst.confidence, 0.5), 3),
        "class_name": round(_class_rating(inst), 3),
        "category": _category_rating(inst, _class_rating(inst)),
        **_position_ratings(inst),
        **_edge_ratings(inst),
        **_motion_ratings(inst),
        "colours": _colour_rating(inst, masked),
        # a colour seen nowhere on the thing in any sample: surely not its colour, if it was seen enough
        "colours_in_view": (0.9 if seen >= 2 and max((a for a in inst.areas if a), default=0.0) >= 0.01 else 0.5)
        if inst.colours_in_view else 0.0,
    }
    if inst.class_binding and inst.class_name != "object":
        derived["exists"] = max(derived["exists"], SURE)  # the detector's own verdict: it is there
    return {**derived, **inst.fact_confidence}


# -- camera ---------------------------------------------------------------------------------------
def _box_area(box: list[float] | None) -> float:
    if box is None:
        return 0.0
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def coverage(instances: list[InstanceTrack], samples: list[int] | None = None, most: bool = False) -> float:
    """The mean (``most``: the largest) share of the frame the instances' boxes covered in a sample
    (``samples``: of these only)."""
    n = max((len(i.boxes) for i in instances), default=0)
    picked = list(range(n) if samples is None else samples)
    if not picked:
        return 0.0
    shares = [min(1.0, sum(_box_area(i.boxes[k]) for i in instances if k < len(i.boxes))) for k in picked]
    return max(shares) if most else sum(shares) / len(shares)


def _camera_rating(confidence: float, used: int, total: int, moves: bool, covered: float, smooth: bool) -> float:
    rating = confidence * (used / total if total else 1.0)
    if used < 3:
        rating = min(rating, 0.4)  # too few frame pairs
    if moves and covered > 0.35:  # the foreground's motion may be what was read as the camera's
        rating *= max(0.3, 1 - (covered - 0.35) / 0.45)
    if not moves and covered > 0.85:
        rating = min(rating, 0.5)  # too little background left to see it still
    if not moves and smooth:
        rating = min(rating, 0.6)  # a plain background looks still whether or not the camera moves
    return round(rating, 3)


def _shot_samples(times: list[float], start: float, end: float) -> list[int]:
    return [k for k, t in enumerate(times) if start <= t < end]


def camera_rating(cam: CameraMotion, instances: list[InstanceTrack], background: Background | None,
                  times: list[float] | None = None) -> dict[str, dict[str, float]]:
    smooth = background is not None and background.texture == "smooth"
    # a move is unsure if a large thing was in view at any sample; a still camera needs still background
    # in the samples on the whole
    covered = coverage(instances, most=bool(cam.primitives))
    out = {CAMERA: {"label": _camera_rating(cam.confidence, cam.pairs_used, cam.pairs_total, bool(cam.primitives),
                                            covered, smooth),
                    "shaky": 0.6}}
    out[CAMERA] = _with_absences(_with_tool_ratings(out[CAMERA], cam.fact_confidence, bool(cam.primitives)),
                                 _absence_cap(cam.confidence, cam.pairs_used, cam.pairs_total,
                                              coverage(instances), smooth))
    for shot in cam.per_shot:
        samples = _shot_samples(times, shot.start_s, shot.end_s) if times else None
        shot_cover = coverage(instances, samples, most=bool(shot.primitives))
        rating = {"label": _camera_rating(shot.confidence, shot.pairs_used, shot.pairs_total, bool(shot.primitives),
                                          shot_cover, smooth), "shaky": 0.6}
        cap = _absence_cap(shot.confidence, shot.pairs_used, shot.pairs_total, coverage(instances, samples), smooth)
        out[shot_subject(shot.index)] = _with_absences(
            _with_tool_ratings(rating, shot.fact_confidence, bool(shot.primitives)), cap)
    return out


def _with_tool_ratings(derived: dict[str, float], written: dict[str, float], moves: bool) -> dict[str, float]:
    """The camera's ratings, the estimator's own first. A named move has two separate reasons for doubt,
    the estimator's (how much textured background moved with the fit) and the frame's (a large
    subject in view, whose own motion may be what was read), so it is as sure as the less sure of the
    two. A still camera's rating is the estimator's, which measured the textured background itself."""
    out = {**derived, **written}
    if moves and "label" in derived and "label" in written:
        out["label"] = min(derived["label"], written["label"])
    return out


def _absence_cap(confidence: float, used: int, total: int, covered: float, smooth: bool) -> float:
    """The most a "this move did not happen" rating can be, whatever the estimator wrote: the frame's
    reasons for doubting a still camera (a plain background, too little of it in view) hold for it too."""
    return _camera_rating(confidence, used, total, False, covered, smooth)


def _with_absences(rating: dict[str, float], cap: float) -> dict[str, float]:
    return {k: (min(v, cap) if k.startswith(ABSENT) else v) for k, v in rating.items()}


def absent(ratings: dict[str, dict[str, float]], subject: str, move: str) -> float | None:
    """How sure it is that the camera (``subject``: the clip's or a shot's) did not make ``move``."""
    return confidence(ratings, subject, ABSENT + move)


# -- everything -----------------------------------------------------------------------------------
def sample_times(evidence: dict[str, Any]) -> list[float] | None:
    """When each sample was taken, where a tool's evidence says (else None)."""
    for found in evidence.values():
        if isinstance(found, dict) and isinstance(found.get("times_s"), list):
            return found["times_s"]
    meta = evidence_of(evidence, VideoMetadata)
    n = max((len(i.boxes) for i in instances_of(evidence)), default=0)
    if meta is None or n == 0:
        return None
    last = max(0.0, meta.duration_s - 1 / (meta.fps or 25.0))  # samples run from the first frame to the last
    return [round(last * k / max(1, n - 1), 3) for k in range(n)]


def rate(evidence: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``{subject: {fact: confidence}}`` for every measured fact in ``evidence``."""
    out: dict[str, dict[str, float]] = {}
    seg = evidence_of(evidence, Segmentation)
    masked = seg is not None and bool(seg.instances) and seg.method != "none"
    insts = instances_of(evidence)
    for inst in insts:
        out[inst.id] = instance_rating(inst, masked)
    bg = evidence_of(evidence, Background)
    cam = evidence_of(evidence, CameraMotion)
    if cam is not None:
        out.update(camera_rating(cam, insts, bg, sample_times(evidence)))
    if bg is not None:
        out[BACKGROUND] = {"colours": 0.75, "texture": 0.7, "brightness": 0.75, **bg.fact_confidence}
    meta = evidence_of(evidence, VideoMetadata)
    if meta is not None:
        out[METADATA] = {"shots": 0.9, "duration_s": 1.0, **meta.fact_confidence}
    return out


def confidence(ratings: dict[str, dict[str, float]], subject: str, fact: str) -> float | None:
    return ratings.get(subject, {}).get(fact)


def is_sure(ratings: dict[str, dict[str, float]], subject: str, fact: str) -> bool:
    return sure(confidence(ratings, subject, fact))


SHOWN = ("class_name", "category", "start_cell", "end_cell", "leaves_frame", "direction", "action", "colours", "label")


def unsure_facts(evidence: dict[str, Any], subjects: list[str] | None = None) -> list[str]:
    """'No.0 end_cell 0.4', ...: the shown facts that are advice, of ``subjects`` (None: all)."""
    out = []
    for subject, facts in rate(evidence).items():
        if subjects is not None and subject not in subjects:
            continue
        for fact in SHOWN:
            value = facts.get(fact)
            if value is not None and not sure(value) and not (fact in ("class_name", "category") and value == 0.0) \
                    and not (fact == "category" and value == facts.get("class_name")):
                out.append(f"{subject} {fact} {value:.2f}")
    return out


def unsure_note(evidence: dict[str, Any], subjects: list[str] | None = None, limit: int = 12) -> str | None:
    """One short line for a tool's summary: which of its facts are unsure (you may say otherwise)."""
    facts = unsure_facts(evidence, subjects)
    if not facts:
        return None
    more = f", +{len(facts) - limit} more" if len(facts) > limit else ""
    return f"unsure (advice; check the frames): {', '.join(facts[:limit])}{more}"


def note_for(evidence: dict[str, Any], tool_evidence: Any) -> str | None:
    """The unsure line for the summary of a tool whose evidence is ``tool_evidence`` (None: nothing to say)."""
    from agent.core.evidence import Instances

    if isinstance(tool_evidence, (Instances, Segmentation)):
        return unsure_note(evidence, [i.id for i in tool_evidence.instances])
    if isinstance(tool_evidence, CameraMotion):
        return unsure_note(evidence, [CAMERA, *(shot_subject(s.index) for s in tool_evidence.per_shot)])
    return None
