"""Film language (CineCap's aspects): how the clip is filmed, each claim tied to its evidence.

Condition ``film_language`` (``--condition film_language``, or implied by ``--format cinecap``).
The tool ``describe_film_language`` measures, on the main instance (the detector's first):

* shot size, in CameraBench's names, from the face's height in the frame when a face is found,
  else from the subject's height and whether the frame cuts it;
* composition (left, center-left, center, center-right, right) from the subject's mean position;
* camera angle from the horizon: a long, near-horizontal background edge well above the middle
  means the camera looks down (high angle), well below means it looks up (low angle); without
  such an edge the angle is "unclear" rather than a guess;
* depth of field from the sharpness (variance of the Laplacian) inside the subject's mask
  against the background's;
* special shots that the frame rate and motion show (high-frame-rate capture);
* camera movement from the camera-motion estimator.

Each claim carries its anchor: the frames (as times) and the region it was measured on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.core.caption import CaptionSection
from agent.core.composer import shot_size_sentence
from agent.core.conditions import Condition
from agent.core.evidence import instances_of, typed
from agent.core.hookspecs import hookimpl
from agent.core.tool import NoArgs, Observation, Tool
from agent.core.validation import Problem
from tools.detect.people_finder import people_finder
from tools.geometry import contains, median_box
from tools.shots import SHOT_FEED, sample_shots

SECTION = "Film Language"
COMPOSITIONS = ("left", "center-left", "center", "center-right", "right")


class Anchor(BaseModel):
    aspect: str
    claim: str
    times: list[float] = Field(default_factory=list, description="seconds: the frames the claim was measured on")
    region: list[float] | None = Field(None, description="[x0, y0, x1, y1] normalised; null: the whole frame")
    measure: str


class FilmLanguageEvidence(BaseModel):
    shot_size: str
    composition: str | None = None
    camera_angle: str = "unclear"
    depth_of_field: str | None = None
    special_shots: list[str] = Field(default_factory=list)
    camera_movement: str | None = None
    anchors: list[Anchor] = Field(default_factory=list)


class FilmLanguageSection(BaseModel):
    """The caption section (validated when a caption carries it)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    shot_size: str = Field(alias="Shot Size")
    camera_angle: str = Field(alias="Camera Angle")
    composition: str = Field(alias="Composition")
    depth_of_field: str = Field(alias="Depth of Field")
    special_shots: str = Field(alias="Special Shots")
    camera_movement: str = Field(alias="Camera Movement")
    evidence: list[dict[str, Any]] = Field(default_factory=list, alias="Evidence")


# -- the rules, each a small function of measurements ------------------------------------------
def shot_size_from_face(face_height: float) -> str | None:
    """A face's height as a fraction of the frame's."""
    for limit, name in ((0.55, "extreme close-up"), (0.28, "close-up"), (0.16, "medium close-up"),
                        (0.09, "medium"), (0.06, "medium full")):
        if face_height >= limit:
            return name
    return None


def shot_size_from_subject(height: float, cut_by_frame: bool, person: bool) -> str:
    """The subject's visible height (fraction of the frame) and whether the frame cuts it."""
    if cut_by_frame and height >= 0.9:
        return "close-up" if not person else "medium close-up"
    if cut_by_frame and person and height >= 0.55:
        return "medium"
    if height >= 0.6:
        return "full"
    if height >= 0.15:
        return "wide"
    return "extreme wide"


def composition(x: float) -> str:
    return COMPOSITIONS[min(4, max(0, int(x * 5)))]


def angle_from_horizon(y: float | None) -> str:
    if y is None:
        return "unclear"
    if y < 0.35:
        return "high"  # the horizon sits high: the camera looks down
    if y > 0.65:
        return "low"
    return "level"


def horizon(image: np.ndarray, subject: np.ndarray | None) -> float | None:
    """Height (fraction from the top) of the longest near-horizontal background edge spanning most of
    the width, or None."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 60, 160)
    if subject is not None and subject.shape == edges.shape:
        edges[cv2.dilate(subject.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0] = 0
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=int(0.3 * w), minLineLength=int(0.6 * w),
                            maxLineGap=int(0.05 * w))
    if lines is None:
        return None
    best = None
    for x0, y0, x1, y1 in lines[:, 0]:
        if abs(math.degrees(math.atan2(y1 - y0, x1 - x0))) > 5:
            continue
        length = math.hypot(x1 - x0, y1 - y0)
        if best is None or length > best[0]:
            best = (length, (y0 + y1) / 2 / h)
    return None if best is None else float(best[1])


def sharpness(gray: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    values = lap[mask]
    return float(values.var()) if values.size > 50 else 0.0


# -- the tool -----------------------------------------------------------------------------------
class DescribeFilmLanguage(Tool):
    name = "describe_film_language"
    description = (
        "Describe how the clip is filmed: shot size, composition, camera angle, depth of field, special "
        "shots and camera movement, each with the frames and region it was measured on."
    )
    Args = NoArgs
    version = "2"
    evidence_model = FilmLanguageEvidence
    requires = ("segment_and_blur", "estimate_camera_motion")
    consumes = ("segment.masks",)
    plan = 60
    feeds = (SHOT_FEED,)

    def run(self, ctx, args) -> Observation:
        ctx.require("segment_and_blur")
        ctx.require("estimate_camera_motion")
        cam = typed(ctx.evidence, "estimate_camera_motion")
        shot = _MeasuredShot.of(ctx)
        size = _shot_size(shot)
        comp = _composition(shot)
        angle = _camera_angle(shot)
        dof = _depth_of_field(shot)
        specials = _special_shots(ctx, shot.anchors)
        movement = None
        if cam is not None:
            from agent.core.composer import camera_movement

            movement = camera_movement(cam)
            shot.anchors.append(Anchor(aspect="camera movement", claim=cam.label, times=shot.times,
                                       measure=f"{cam.pairs_used} of {cam.pairs_total} frame pairs, rates {cam.rates}"))
        evidence = FilmLanguageEvidence(shot_size=size, composition=comp, camera_angle=angle, depth_of_field=dof,
                                        special_shots=specials, camera_movement=movement, anchors=shot.anchors)
        summary = {"shot_size": size, "composition": comp, "camera_angle": angle, "depth_of_field": dof,
                   "special_shots": specials or None, "camera": cam.label if cam else None,
                   "anchors": [f"{a.aspect}: {a.measure}" for a in shot.anchors]}
        return Observation(summary, evidence)


@dataclass
class _MeasuredShot:
    """What the film-language measures read: the sampled frames, the main subject and its masks, and the
    samples of the one shot they are measured on; each measure adds its anchors."""

    sampled: list
    times: list[float]
    insts: list
    main: Any
    masks: list | None
    here: list[int]
    anchors: list[Anchor] = field(default_factory=list)

    @classmethod
    def of(cls, ctx) -> "_MeasuredShot":
        sampled = ctx.frames.sampled
        times = [f.time_s for f in sampled]
        insts = instances_of(ctx.evidence)
        main = insts[0] if insts else None
        masks = (ctx.artifacts.get("segment.masks") or {}).get(main.id) if main else None
        # film language belongs to one shot: in a montage, the main subject's (or else the longest)
        shots = sample_shots(ctx)
        shot = shots[main.seen()[0]] if main is not None and main.seen() else max(set(shots), key=shots.count)
        here = [k for k in range(len(sampled)) if shots[k] == shot]
        found = cls(sampled, times, insts, main, masks, here)
        if len(set(shots)) > 1:
            found.anchors.append(Anchor(aspect="shot", claim=f"shot {shot + 1} of {len(set(shots))}",
                                        times=[times[k] for k in here], measure="the clip cuts between shots; "
                                        "size, composition, angle and depth are measured on this one"))
        return found


def _shot_size(shot: _MeasuredShot) -> str:
    """From the main subject's face where one is seen in most frames, else from the subject's height."""
    main, times = shot.main, shot.times
    face_heights, face_times, face_boxes = [], [], []
    if main is not None and main.class_name == "person" or not shot.insts:
        finder = people_finder()
        for k in shot.here:
            faces = finder.faces(shot.sampled[k].image, neighbours=4)  # looser: only faces inside the subject count
            if main is not None:  # only the main subject's own face sets the shot size
                box = main.boxes[k]
                faces = [f for f in faces if box is not None and contains(box, f, 0.7)]
            if faces:
                biggest = max(faces, key=lambda b: b[3] - b[1])
                face_heights.append(biggest[3] - biggest[1])
                face_times.append(times[k])
                face_boxes.append(biggest)
    size = None
    if len(face_heights) >= max(1, len(shot.here) / 2):  # a face in most frames, not a passing false one
        fh = median(face_heights)
        size = shot_size_from_face(fh)
        if size:
            region = [round(float(median(b[i] for b in face_boxes)), 3) for i in range(4)]
            shot.anchors.append(Anchor(aspect="shot size", claim=size, times=face_times, region=region,
                                       measure=f"a face {fh:.2f} of the frame height"))
    if size is None and main is not None:
        seen = main.seen()
        heights = [main.boxes[k][3] - main.boxes[k][1] for k in seen]
        cut = sum(main.boxes[k][1] <= 0.02 or main.boxes[k][3] >= 0.98 for k in seen) > len(seen) / 2
        h = median(heights)
        size = shot_size_from_subject(h, cut, main.class_name == "person")
        shot.anchors.append(Anchor(aspect="shot size", claim=size, times=[times[k] for k in seen],
                                   region=median_box(main.boxes), measure=f"{main.id} {main.class_name} {h:.2f} of "
                                   f"the frame height{', cut by the frame edge' if cut else ''}"))
    if size is None:
        size = "wide"
        shot.anchors.append(Anchor(aspect="shot size", claim=size, times=[times[k] for k in shot.here],
                                   measure="no subject or face: the whole scene is the subject"))
    return size


def _composition(shot: _MeasuredShot) -> str | None:
    main = shot.main
    if main is None or not main.centroids:
        return None
    xs = [c[0] for c in main.centroids if c is not None]
    if not xs:
        return None
    comp = composition(float(np.mean(xs)))
    shot.anchors.append(Anchor(aspect="composition", claim=comp, times=[shot.times[k] for k in main.seen()],
                               region=median_box(main.boxes), measure=f"{main.id} centred at x = {np.mean(xs):.2f}"))
    return comp


def _camera_angle(shot: _MeasuredShot) -> str:
    ys = []
    for k in shot.here:
        m = shot.masks[k] if shot.masks and k < len(shot.masks) else None
        y = horizon(shot.sampled[k].image, m)
        if y is not None:
            ys.append((shot.times[k], y))
    angle = angle_from_horizon(median(y for _, y in ys) if len(ys) >= max(2, len(shot.here) // 3) else None)
    shot.anchors.append(Anchor(aspect="camera angle", claim=angle, times=[t for t, _ in ys],
                               measure=(f"horizon line at {median(y for _, y in ys):.2f} of the frame height"
                                        if ys and angle != "unclear" else "no horizon line across the background")))
    return angle


def _depth_of_field(shot: _MeasuredShot) -> str | None:
    """Shallow when the subject is much sharper than what lies around its mask."""
    if shot.main is None or not shot.masks:
        return None
    ratios, dof_times = [], []
    for k in shot.here:
        m = shot.masks[k] if k < len(shot.masks) else None
        if m is None or m.sum() < 100 or (~m).sum() < 100:
            continue
        gray = cv2.cvtColor(shot.sampled[k].image, cv2.COLOR_BGR2GRAY)
        inner = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        outer = cv2.dilate(m.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
        s_in, s_out = sharpness(gray, inner), sharpness(gray, outer)
        if s_in > 0 and s_out > 0:
            ratios.append(s_in / s_out)
            dof_times.append(shot.times[k])
    if not ratios:
        return None
    r = median(ratios)
    dof = "shallow, with the background out of focus" if r >= 3.0 else "deep, with the background in focus"
    shot.anchors.append(Anchor(aspect="depth of field", claim=dof.split(",")[0], times=dof_times,
                               region=median_box(shot.main.boxes), measure=f"subject {r:.1f}x sharper than the "
                               "background"))
    return dof


def _special_shots(ctx, anchors: list[Anchor]) -> list[str]:
    specials = []
    fps = ctx.frames.stats.mean_fps or ctx.frames.info.fps
    if fps >= 90:
        specials.append("high frame rate (slow-motion capable)")
        anchors.append(Anchor(aspect="special shots", claim=specials[-1], times=[], measure=f"{fps:.0f} fps"))
    return specials


# -- caption section, composer and check ------------------------------------------------------------
def section_from(ev: FilmLanguageEvidence) -> dict[str, Any]:
    comp = ev.composition
    return {
        "Shot Size": ev.shot_size,
        "Camera Angle": {"high": "high angle", "low": "low angle", "level": "eye level"}.get(ev.camera_angle,
                                                                                        "not measurable"),
        "Composition": f"the main subject is framed {comp}" if comp else "no single main subject",
        "Depth of Field": ev.depth_of_field or "not measurable",
        "Special Shots": ", ".join(ev.special_shots) or "none",
        "Camera Movement": ev.camera_movement or "not measurable",
        "Evidence": [a.model_dump() for a in ev.anchors],
    }


def _sentences(section: dict) -> list[tuple[str, str]]:
    """How the section reads in a paragraph: its shot size (the other claims are for film models)."""
    size = section.get("Shot Size") if isinstance(section, dict) else None
    return [(f"{SECTION} shot size", shot_size_sentence(size))] if size else []


def film_language_matches(caption, evidence) -> list[Problem]:
    raw = evidence.get(DescribeFilmLanguage.name)
    section = caption.extra_sections.get(SECTION)
    if not raw or not isinstance(section, dict):
        return []
    ev = FilmLanguageEvidence.model_validate(raw)
    written = str(section.get("Shot Size", "")).lower()
    if written != ev.shot_size:
        anchor = next((a for a in ev.anchors if a.aspect == "shot size"), None)
        return [Problem(f"{SECTION}.Shot Size", f"says {written!r} but {ev.shot_size!r} was measured",
                        anchor.measure if anchor else "film-language evidence")]
    return []


CONDITION = Condition(
    "film_language", "CineCap's film language: shot size, angle, composition, depth of field, camera movement",
    section=CaptionSection(SECTION, FilmLanguageSection, rank=5, text=_sentences),
    tools=(DescribeFilmLanguage,), compose=section_from, checks=(film_language_matches,),
    also_on=lambda settings: settings.output_format == "cinecap")  # the cinecap format writes this section


@hookimpl
def register_conditions():
    return [CONDITION]
