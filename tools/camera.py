"""``estimate_camera_motion``: pan, tilt, zoom and roll from the background's image motion.

Classical and weight-free: corners tracked with pyramidal Lucas-Kanade between consecutive
frames of the low-resolution motion stream, a RANSAC similarity fit per pair (so moving instances
and badly tracked corners are outliers), decomposed into translation of the image
centre, scale and rotation; then net motion and its consistency over the clip decide each
primitive, and the residual jitter decides "shaky". Labels use CameraBench's words.

2D image motion cannot tell a pan from a truck (sideways move) or a zoom from a dolly: the hint
says so, and the labels use the rotational/optical names by convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from agent.core.evidence import CameraMotion, ShotCamera
from agent.core.feeds import FrameFeed
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool
from agent.core.vocab import STATIC, UNCLEAR, join_camera_label
from agent.core.wording import camera_sentence, shot_name

from .camera_background import BACKGROUND_MIN, GRID, TOO_PLAIN, background_share, label_confidence
from .parallel import thread_map
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
MIN_INLIERS = 12
MIN_SHOT_PAIRS = 4  # a montage's shot with fewer frame pairs (0.4 s of the motion stream) is not measured


@dataclass
class PairMotion:
    matrix: np.ndarray | None  # 2x3 similarity mapping frame i to frame i+1 (low-res pixels)
    dt: float
    inliers: int
    inlier_ratio: float
    background: float = 1.0  # share of the grid's cells holding textured corners that follow the fit


def _features_mask(shape, boxes: list[list[float]] | None) -> np.ndarray | None:
    if not boxes:
        return None
    h, w = shape[:2]
    mask = np.full((h, w), 255, np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[int(y0 * h):int(math.ceil(y1 * h)), int(x0 * w):int(math.ceil(x1 * w))] = 0
    return mask if mask.mean() > 255 * 0.3 else None  # keep enough of the frame to measure


def spread_features(gray: np.ndarray, mask=None, grid=GRID, per_cell=6) -> np.ndarray | None:
    """Corners spread over a grid of cells, each cell judged on its own contrast.

    A single global detector lets a few strong corners (often on the moving instances) raise the
    bar for the whole frame; per-cell detection keeps the background, which covers most cells,
    in the majority that RANSAC then picks.
    """
    h, w = gray.shape
    found = []
    for gy in range(grid[1]):
        for gx in range(grid[0]):
            x0, x1 = gx * w // grid[0], (gx + 1) * w // grid[0]
            y0, y1 = gy * h // grid[1], (gy + 1) * h // grid[1]
            cell_mask = None if mask is None else mask[y0:y1, x0:x1]
            if cell_mask is not None and not cell_mask.any():
                continue
            pts = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], maxCorners=per_cell, qualityLevel=0.05,
                                          minDistance=5, blockSize=5, mask=cell_mask)
            if pts is not None:
                found.append(pts + np.array([x0, y0], np.float32))
    return np.concatenate(found).astype(np.float32) if found else None


def pair_motion(prev: np.ndarray, cur: np.ndarray, dt: float, mask=None) -> PairMotion:
    """Similarity transform of the dominant (background) motion from ``prev`` to ``cur`` (grayscale)."""
    pts = spread_features(prev, mask)
    if pts is None or len(pts) < MIN_INLIERS:
        return PairMotion(None, dt, 0, 0.0)
    lk = dict(winSize=(15, 15), maxLevel=3,
              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **lk)
    # no forward-backward check: tracking back doubles the cost, and RANSAC already drops the corners
    # it would catch (no camera label changed on the 64 benchmark clips or the real ones without it)
    good = st.ravel() == 1
    if good.sum() < MIN_INLIERS:
        return PairMotion(None, dt, int(good.sum()), 0.0)
    p0, p1 = pts[good].reshape(-1, 2), nxt[good].reshape(-1, 2)
    m, inl = cv2.estimateAffinePartial2D(p0, p1, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                         maxIters=1000, confidence=0.995)
    if m is None or inl is None:
        return PairMotion(None, dt, 0, 0.0)
    n_in = int(inl.sum())
    ratio = n_in / float(len(pts))
    if n_in < MIN_INLIERS:
        return PairMotion(None, dt, n_in, ratio)
    return PairMotion(m, dt, n_in, ratio, round(background_share(prev, p0[inl.ravel() == 1]), 3))


def decompose(m: np.ndarray, w: int, h: int) -> tuple[float, float, float, float]:
    """(pan right, tilt up, zoom in, roll clockwise) of one similarity, before dividing by time.

    Pan and tilt are in frame widths and heights, zoom in log scale, roll in degrees.
    """
    cx, cy = w / 2.0, h / 2.0
    nx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2]
    ny = m[1, 0] * cx + m[1, 1] * cy + m[1, 2]
    scale = math.hypot(m[0, 0], m[1, 0])
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    # content moving left means the camera pans right; content moving down means it tilts up;
    # content turning counterclockwise on screen means the camera rolls clockwise
    return -(nx - cx) / w, (ny - cy) / h, math.log(max(scale, 1e-6)), -angle


class PairTracker:
    """The camera's motion between consecutive motion frames, fitted while the clip is decoded.

    Each pair is fitted as soon as its second frame arrives (on OpenCV's number of threads, with a
    bounded queue), so no frame has to be held for the camera: the memory does not grow with the
    clip's length, and the estimator later only sums the pairs of each shot.
    """

    def __init__(self, threads: int | None = None):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.threads = max(1, cv2.getNumThreads() if threads is None else threads)
        self._pool = ThreadPoolExecutor(max_workers=self.threads) if self.threads > 1 else None
        self._pending: deque = deque()
        self.pairs: list[PairMotion] = []
        self._prev: tuple[np.ndarray, float] | None = None

    def push(self, frame: np.ndarray, t: float) -> None:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self._prev is not None:
            prev, t0 = self._prev
            dt = float(t - t0) or 1e-3
            if self._pool is None:
                self.pairs.append(pair_motion(prev, gray, dt))
            else:
                self._pending.append(self._pool.submit(pair_motion, prev, gray, dt))
                while len(self._pending) > 2 * self.threads:
                    self.pairs.append(self._pending.popleft().result())
        self._prev = (gray, t)

    def finish(self, times: np.ndarray | None = None, duration_s: float | None = None) -> list[PairMotion]:
        """Every pair's fit, in order (the frames' times came with each push)."""
        while self._pending:
            self.pairs.append(self._pending.popleft().result())
        self.close()
        return self.pairs

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self._prev = None


PAIR_FEED = FrameFeed("camera.frame_pairs", lambda fps: PairTracker(), frames="motion")  # fitted as the clip decodes


def frame_pairs(frames: list[np.ndarray], times: np.ndarray, boxes_per_frame=None) -> list[PairMotion]:
    """Every consecutive pair's motion, with the instances' boxes masked out where given."""
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]

    def pair(i: int) -> PairMotion:
        dt = float(times[i + 1] - times[i]) or 1e-3
        mask = _features_mask(gray[i].shape, boxes_per_frame[i] if boxes_per_frame else None)
        return pair_motion(gray[i], gray[i + 1], dt, mask)

    return thread_map(pair, range(len(frames) - 1))


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
