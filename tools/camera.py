"""``estimate_camera_motion``: pan, tilt, zoom and roll from the background's image motion.

Classical and weight-free: corners tracked with pyramidal Lucas-Kanade between consecutive
frames of the low-resolution motion stream, a RANSAC similarity fit per pair (so moving instances
and badly tracked corners are outliers), decomposed into translation of the image
centre, scale and rotation; then net motion and its consistency over the clip decide each
primitive, and the residual jitter decides "shaky". Labels use CameraBench's words. The pair fits
are :mod:`tools.camera_pairs`, made while the clip decodes; this module turns them into labels.

2D image motion cannot tell a pan from a truck (sideways move) or a zoom from a dolly: the hint
says so, and the labels use the rotational/optical names by convention.
"""

from __future__ import annotations

import numpy as np

from agent.core.evidence import CameraMotion, ShotCamera
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool
from agent.core.vocab import STATIC, UNCLEAR, join_camera_label
from agent.core.wording import camera_sentence, shot_name

from .camera_background import BACKGROUND_MIN, TOO_PLAIN, label_confidence
from .camera_pairs import PAIR_FEED, PairMotion, decompose, frame_pairs
from .shots import SHOT_FEED, clip_shots, motion_in_transition, motion_shots

# Thresholds on net rates (per second) above which a primitive is reported.
PAN_MIN = 0.02  # frame widths (or heights) per second
ZOOM_MIN = 0.03  # log scale per second (3 %/s)
ROLL_MIN = 2.0  # degrees per second
# the similarity fit's four rates, in its order: name, the net rate above which a move is named, the move
# a positive rate makes, the move a negative one makes
AXES = (("pan", PAN_MIN, "pan right", "pan left"), ("tilt", PAN_MIN, "tilt up", "tilt down"),
        ("zoom", ZOOM_MIN, "zoom in", "zoom out"), ("roll", ROLL_MIN, "roll clockwise", "roll counterclockwise"))
CONSISTENCY_MIN = 0.5  # |net| / total path: jitter around zero scores near 0
SHAKE_MIN = 0.002  # residual translation velocity, frame widths per 0.1 s
MIN_SHOT_PAIRS = 4  # a montage's shot with fewer frame pairs (0.4 s of the motion stream) is not measured


def estimate(frames: list[np.ndarray], times: np.ndarray, boxes_per_frame=None,
             shots: np.ndarray | None = None, excluded: np.ndarray | None = None) -> tuple[CameraMotion, list]:
    """Estimate the camera motion of a low-resolution BGR frame sequence.

    ``shots`` numbers each frame's shot (see ``tools/shots/``) and ``excluded`` marks frames in a
    transition: pairs across a cut or touching a transition are not fitted, and each shot is
    measured on its own.
    """
    if len(frames) < 2:
        return from_pairs([], times, (0, 0), shots, excluded)
    h, w = frames[0].shape[:2]
    return from_pairs(frame_pairs(frames, times, boxes_per_frame), times, (w, h), shots, excluded)


def usable_pairs(n_frames: int, shots: np.ndarray | None, excluded: np.ndarray | None) -> np.ndarray:
    """Whether each pair (i, i + 1) lies within one shot, outside every transition."""
    if n_frames < 2:
        return np.zeros(0, bool)
    ok = np.ones(n_frames - 1, bool)
    if shots is not None:
        shots = np.asarray(shots)
        ok &= shots[:-1] == shots[1:]
    if excluded is not None:
        excluded = np.asarray(excluded, bool)
        ok &= ~excluded[:-1] & ~excluded[1:]
    return ok


def from_pairs(pairs: list[PairMotion], times: np.ndarray, size: tuple[int, int], shots: np.ndarray | None = None,
               excluded: np.ndarray | None = None, spans_s: list[tuple[float, float]] | None = None,
               n_shots: int | None = None) -> tuple[CameraMotion, list[PairMotion]]:
    """The clip's camera motion from its pairs: each shot on its own, then the clip.

    Returns the evidence and the pairs with those across cuts and transitions emptied (what
    detection chains its backgrounds with).
    """
    n = len(pairs) + 1 if pairs else len(times)
    if n < 2:
        return CameraMotion(label=UNCLEAR, speed="unknown", confidence=0.0,
                            hint="A single frame shows no motion, so the camera movement is unclear."), []
    shots = np.zeros(n, dtype=int) if shots is None else np.asarray(shots)
    n_shots = max(n_shots or 0, int(shots.max()) + 1)
    ok = usable_pairs(n, shots, excluded)
    kept = [p if ok[i] else PairMotion(None, p.dt, 0, 0.0) for i, p in enumerate(pairs)]
    w, h = size
    per_shot: list[CameraMotion] = []
    for k in range(n_shots):
        mine = [p for i, p in enumerate(pairs) if ok[i] and shots[i] == k]
        if n_shots > 1 and len(mine) < MIN_SHOT_PAIRS:  # a flash of a shot: a few pairs are no measurement
            per_shot.append(CameraMotion(label=UNCLEAR, speed="unknown", pairs_used=0, pairs_total=len(mine),
                                         hint="The shot is too short to measure the camera movement.",
                                         fact_confidence={"label": 0.0}))
            continue
        per_shot.append(summarise(mine, w, h))
        if per_shot[-1].ambiguity == TOO_PLAIN:
            # its fits may have followed an instance: detection must not warp the frames by them (that would
            # make the instance look still and the wall move)
            kept = [PairMotion(None, p.dt, 0, 0.0) if shots[i] == k else p for i, p in enumerate(kept)]
    if n_shots == 1:
        return per_shot[0], kept
    return combine(per_shot, spans_s or _spans_from(times, shots, n_shots)), kept


def _spans_from(times: np.ndarray, shots: np.ndarray, n_shots: int) -> list[tuple[float, float]]:
    out = []
    for k in range(n_shots):
        idx = np.nonzero(shots == k)[0]
        out.append((round(float(times[idx[0]]), 2), round(float(times[idx[-1]]), 2)) if len(idx) else (0.0, 0.0))
    return out


def summarise(valid_and_failed: list[PairMotion], w: int, h: int) -> CameraMotion:
    """One shot's camera motion from its frame pairs (failed fits included, as None matrices)."""
    within = valid_and_failed
    valid = [p for p in within if p.matrix is not None]
    total_dt = float(sum(p.dt for p in within)) or 1e-3
    if len(valid) < max(1, 0.5 * len(within)):
        why = "Too little trackable texture to measure the camera motion; it is unclear." if within else \
            "The shot is too short to show motion, so the camera movement is unclear."
        return CameraMotion(
            label=UNCLEAR, speed="unknown", confidence=round(len(valid) / max(1, len(within)), 2),
            hint=why, pairs_used=len(valid), pairs_total=len(within), fact_confidence={"label": 0.0})

    comps = np.array([decompose(p.matrix, w, h) for p in valid])  # per pair, per step
    net = comps.sum(axis=0)
    path = np.abs(comps).sum(axis=0) + 1e-9
    coverage = sum(p.dt for p in valid) / total_dt
    rates = net / (total_dt * max(coverage, 1e-3))
    consistency = np.abs(net) / path
    pan, tilt, zoom, roll = (float(v) for v in rates)

    prims = []
    for value, cons, (_, minimum, pos, neg) in zip((pan, tilt, zoom, roll), consistency, AXES):
        if abs(value) >= minimum and cons >= CONSISTENCY_MIN:
            prims.append(pos if value > 0 else neg)

    # jitter: what is left of the translation velocity after a short moving average, expressed
    # per 0.1 s (velocity, not per-step displacement, so uneven frame steps do not look shaky)
    shaky, jitter = False, 0.0
    if len(comps) >= 5:
        dts = np.array([p.dt for p in valid])[:, None]
        vel = comps[:, :2] / dts * 0.1
        kernel = np.ones(5) / 5
        smooth = np.stack([np.convolve(vel[:, k], kernel, mode="same") for k in range(2)], axis=1)
        jitter = float(np.median(np.linalg.norm((vel - smooth)[2:-2], axis=1)))
        shaky = jitter >= SHAKE_MIN

    background = float(np.median([p.background for p in valid]))
    if prims and background < BACKGROUND_MIN:
        return _too_plain(within, valid, background, rates)

    strength = max(abs(pan), abs(tilt), abs(zoom) / 1.5, abs(roll) / 60.0)
    speed = "none" if not prims else ("slowly" if strength < 0.08 else "steadily" if strength < 0.18 else "quickly")
    label = join_camera_label(prims, shaky=shaky)
    inlier_share = float(np.mean([p.inlier_ratio for p in valid]))
    confidence = round(min(1.0, coverage) * min(1.0, inlier_share / 0.5), 2)
    ambiguity = None
    if any(p.startswith(("pan", "tilt")) for p in prims):
        ambiguity = "image motion alone cannot tell a pan or tilt from a sideways or vertical camera move (truck, pedestal)"
    if any(p.startswith("zoom") for p in prims):
        ambiguity = ((ambiguity + "; ") if ambiguity else "") + \
            "image motion alone cannot tell a zoom from a dolly move"
    hint = _hint(prims, speed, shaky)
    if ambiguity:
        hint += f" Note: {ambiguity}."
    return CameraMotion(
        label=label, primitives=prims, shaky=shaky, speed=speed, confidence=confidence, hint=hint,
        rates={"pan": round(pan, 4), "tilt": round(tilt, 4), "zoom": round(zoom, 4), "roll": round(roll, 3),
               "jitter": round(jitter, 5)},
        pairs_used=len(valid), pairs_total=len(within), ambiguity=ambiguity,
        fact_confidence={"label": round(label_confidence(confidence, background) * _still_margin(prims, rates), 2),
                         **absence_ratings(prims, {"pan": pan, "tilt": tilt, "zoom": zoom, "roll": roll},
                                            label_confidence(confidence, background))},
    )


# each move: the rate that measures it, its threshold, and the sign of that rate for the move
MOVES = {move: (rate, minimum, sign) for rate, minimum, pos, neg in AXES for move, sign in ((pos, 1), (neg, -1))}


def absence_ratings(prims: list[str], rates: dict[str, float], base: float) -> dict[str, float]:
    """``{"no <move>": rating}`` for each move not measured: how sure it is that the camera did not make it.
    A still label may be unsure because one rate came near its threshold (a slow tilt), yet the other
    moves stayed far from theirs, or went the other way: "zooms in" is surely wrong when the fit on
    textured background measured no zoom or a slight zoom out. ``base``: the fit's confidence on that
    background. The rating falls from ``base`` at a quarter of the threshold (toward the move) to 0 at it."""
    out = {}
    for move, (rate, minimum, sign) in MOVES.items():
        if move in prims:
            continue
        toward = sign * float(rates.get(rate, 0.0)) / minimum
        out[f"no {move}"] = round(base * float(np.clip((1.0 - toward) / 0.75, 0.0, 1.0)), 2)
    return out


def _still_margin(prims: list[str], rates) -> float:
    """How clearly a still label is still: 1 while every rate stays under a quarter of its threshold, falling to
    0 at the threshold (a slow tilt that only part of the shot holds nets a rate just under it). 1 for a move."""
    if prims:
        return 1.0
    pan, tilt, zoom, roll = (abs(float(v)) for v in rates)
    nearest = max(pan / PAN_MIN, tilt / PAN_MIN, zoom / ZOOM_MIN, roll / ROLL_MIN)
    return float(np.clip((1.0 - nearest) / 0.75, 0.0, 1.0))


def _too_plain(within: list[PairMotion], valid: list[PairMotion], background: float, rates) -> CameraMotion:
    """A move measured on too little textured background: the corners that moved may be an instance's own."""
    return CameraMotion(
        label=UNCLEAR, speed="unknown", confidence=round(background, 2),
        hint=("Too little textured background to measure the camera motion (the corners that moved cover "
              f"{background:.0%} of the frame and may belong to a moving instance); it is unclear."),
        rates={k: round(float(v), 4) for k, v in zip(("pan", "tilt", "zoom", "roll"), rates)},
        pairs_used=len(valid), pairs_total=len(within), ambiguity=TOO_PLAIN, fact_confidence={"label": 0.0})


def combine(per_shot: list[CameraMotion], spans_s: list[tuple[float, float]]) -> CameraMotion:
    """A montage's camera evidence: every shot's own measurement, never one fit across them.

    ``label`` is the shots' common label when the measured shots agree, else each shot's label in
    order ("shot 1: static; shot 2: pan left"); ``primitives`` lists every motion measured in some
    shot (so a caption must describe each and may contradict none).
    """
    n = len(per_shot)
    shots = [ShotCamera(index=k, start_s=spans_s[k][0], end_s=spans_s[k][1], label=c.label, primitives=c.primitives,
                        shaky=c.shaky, speed=c.speed, confidence=c.confidence, rates=c.rates,
                        pairs_used=c.pairs_used, pairs_total=c.pairs_total, fact_confidence=c.fact_confidence)
             for k, c in enumerate(per_shot)]
    measured = [s for s in shots if s.label != UNCLEAR]
    prims: list[str] = []
    for s in measured:
        prims += [p for p in s.primitives if p not in prims]
    labels = {s.label for s in measured}
    if not measured:
        label, speed = UNCLEAR, "unknown"
    elif len(labels) == 1:
        label, speed = measured[0].label, measured[0].speed
    else:
        label = "; ".join(f"shot {s.index + 1}: {s.label}" for s in shots)
        main = max(measured, key=lambda s: s.end_s - s.start_s)
        speed = main.speed
    parts = []
    for s in shots:
        what = "too short or too plain to measure" if s.label == UNCLEAR else \
            camera_sentence(s.primitives, s.speed, s.shaky)[len("The camera "):].rstrip(".")
        parts.append(f"{shot_name(s.index)}: {what}")
    hint = (f"The clip cuts between {n} shots, each measured on its own: " + "; ".join(parts) + "."
            " Describe each shot's camera, never one motion for the whole clip.")
    used = sum(s.pairs_used for s in shots)
    total = sum(s.pairs_total for s in shots)
    conf = round(float(np.mean([s.confidence for s in measured])) if measured else 0.0, 2)
    ambiguity = next((c.ambiguity for c in per_shot if c.ambiguity), None)
    sure = min((s.fact_confidence.get("label", 0.0) for s in measured), default=0.0)
    return CameraMotion(label=label, primitives=prims, shaky=bool(measured) and all(s.shaky for s in measured),
                        speed=speed, confidence=conf, hint=hint, pairs_used=used, pairs_total=total,
                        ambiguity=ambiguity, shots=n, per_shot=shots, fact_confidence={"label": sure})


def _hint(prims, speed, shaky) -> str:
    return camera_sentence(prims, speed, shaky)


class EstimateCameraMotion(Tool):
    name = "estimate_camera_motion"
    description = (
        "Measure the camera motion from the background's movement: pan, tilt, zoom, roll, shake and "
        "speed, as CameraBench labels with a one-sentence hint. 'unclear' means the evidence is weak."
    )
    version = "5"
    evidence_model = CameraMotion
    produces = ("camera.pairs",)  # the kept per-pair transforms, which detection chains to warp frames
    plan = 20
    feeds = (PAIR_FEED, SHOT_FEED)

    def run(self, ctx, args) -> Observation:
        fs = ctx.frames
        motion = fs.motion
        pairs = list(fs.streamed(PAIR_FEED))  # fitted during the decode pass
        shots = clip_shots(ctx)
        result, kept = from_pairs(pairs, motion.times, (motion.width, motion.height), motion_shots(ctx),
                                  motion_in_transition(ctx), [shots.span_s(k) for k in range(shots.count)],
                                  n_shots=shots.count)
        ctx.artifacts["camera.pairs"] = kept
        summary = {"label": result.label, "speed": result.speed, "confidence": result.confidence,
                   "hint": result.hint}
        if result.label not in (STATIC, UNCLEAR) and not result.per_shot:
            summary["rates_per_s"] = result.rates
        # a montage's label and hint already say each shot's move and speed; the evidence keeps its times
        return Observation(summary, result)


@hookimpl
def register_tools():
    return [EstimateCameraMotion()]
