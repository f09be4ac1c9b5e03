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

from agent.evidence import CameraMotion
from agent.hookspecs import hookimpl
from agent.tool import Observation, Tool
from agent.vocab import STATIC, UNCLEAR, join_camera_label

from .parallel import thread_map
from .shots import motion_shots

# Thresholds on net rates (per second) above which a primitive is reported.
PAN_MIN = 0.02  # frame widths (or heights) per second
ZOOM_MIN = 0.03  # log scale per second (3 %/s)
ROLL_MIN = 2.0  # degrees per second
CONSISTENCY_MIN = 0.5  # |net| / total path: jitter around zero scores near 0
SHAKE_MIN = 0.002  # residual translation velocity, frame widths per 0.1 s
MIN_INLIERS = 12


@dataclass
class PairMotion:
    matrix: np.ndarray | None  # 2x3 similarity mapping frame i to frame i+1 (low-res pixels)
    dt: float
    inliers: int
    inlier_ratio: float


def _features_mask(shape, boxes: list[list[float]] | None) -> np.ndarray | None:
    if not boxes:
        return None
    h, w = shape[:2]
    mask = np.full((h, w), 255, np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[int(y0 * h):int(math.ceil(y1 * h)), int(x0 * w):int(math.ceil(x1 * w))] = 0
    return mask if mask.mean() > 255 * 0.3 else None  # keep enough of the frame to measure


def spread_features(gray: np.ndarray, mask=None, grid=(6, 4), per_cell=6) -> np.ndarray | None:
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
    return PairMotion(m, dt, n_in, ratio)


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


def estimate(frames: list[np.ndarray], times: np.ndarray, boxes_per_frame=None,
             shots: np.ndarray | None = None) -> tuple[CameraMotion, list]:
    """Estimate the camera motion of a low-resolution BGR frame sequence.

    ``shots`` numbers each frame's shot (see ``tools/shots.py``): pairs across a cut are not fitted.
    """
    n = len(frames)
    if n < 2:
        return CameraMotion(label=UNCLEAR, speed="unknown", confidence=0.0,
                            hint="A single frame shows no motion, so the camera movement is unclear."), []
    gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    h, w = gray[0].shape

    shots = np.zeros(n, dtype=int) if shots is None else np.asarray(shots)
    n_shots = int(shots.max()) + 1

    def pair(i: int) -> PairMotion:
        dt = float(times[i + 1] - times[i]) or 1e-3
        if shots[i] != shots[i + 1]:
            return PairMotion(None, dt, 0, 0.0)
        mask = _features_mask(gray[i].shape, boxes_per_frame[i] if boxes_per_frame else None)
        return pair_motion(gray[i], gray[i + 1], dt, mask)

    pairs = thread_map(pair, range(n - 1))
    within = [p for i, p in enumerate(pairs) if shots[i] == shots[i + 1]]
    valid = [p for p in within if p.matrix is not None]
    total_dt = float(sum(p.dt for p in within)) or 1e-3
    if len(valid) < max(1, 0.5 * len(within)):
        why = "Too little trackable texture to measure the camera motion; it is unclear." if within else \
            "Every frame pair spans a cut between shots, so the camera movement is unclear."
        return CameraMotion(
            label=UNCLEAR, speed="unknown", confidence=round(len(valid) / max(1, len(within)), 2),
            hint=why, pairs_used=len(valid), pairs_total=len(within), shots=n_shots), pairs

    comps = np.array([decompose(p.matrix, w, h) for p in valid])  # per pair, per step
    net = comps.sum(axis=0)
    path = np.abs(comps).sum(axis=0) + 1e-9
    coverage = sum(p.dt for p in valid) / total_dt
    rates = net / (total_dt * max(coverage, 1e-3))
    consistency = np.abs(net) / path
    pan, tilt, zoom, roll = (float(v) for v in rates)

    prims = []
    for value, minimum, cons, pos, neg in (
        (pan, PAN_MIN, consistency[0], "pan right", "pan left"),
        (tilt, PAN_MIN, consistency[1], "tilt up", "tilt down"),
        (zoom, ZOOM_MIN, consistency[2], "zoom in", "zoom out"),
        (roll, ROLL_MIN, consistency[3], "roll clockwise", "roll counterclockwise"),
    ):
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
    if n_shots > 1:
        hint += f" The clip cuts between {n_shots} shots; this is the motion within them, taken together."
    return CameraMotion(
        label=label, primitives=prims, shaky=shaky, speed=speed, confidence=confidence, hint=hint,
        rates={"pan": round(pan, 4), "tilt": round(tilt, 4), "zoom": round(zoom, 4), "roll": round(roll, 3),
               "jitter": round(jitter, 5)},
        pairs_used=len(valid), pairs_total=len(within), ambiguity=ambiguity, shots=n_shots,
    ), pairs


VERBS = {
    "pan left": "pans left", "pan right": "pans right", "tilt up": "tilts up", "tilt down": "tilts down",
    "zoom in": "zooms in", "zoom out": "zooms out", "roll clockwise": "rolls clockwise",
    "roll counterclockwise": "rolls counterclockwise",
}


def camera_sentence(prims: list[str], speed: str, shaky: bool) -> str:
    """One sentence in plain words, e.g. 'The camera pans left and tilts up slowly.'"""
    if not prims:
        return "The camera is handheld and shakes slightly while holding its view." if shaky \
            else "The camera remains static throughout."
    verbs = [VERBS[p] for p in prims]
    joined = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
    sentence = f"The camera {joined} {speed}" if speed in ("slowly", "steadily", "quickly") else f"The camera {joined}"
    return sentence + (", with a handheld shake." if shaky else ".")


def _hint(prims, speed, shaky) -> str:
    return camera_sentence(prims, speed, shaky)


class EstimateCameraMotion(Tool):
    name = "estimate_camera_motion"
    description = (
        "Measure the camera motion from the background's movement: pan, tilt, zoom, roll, shake and "
        "speed, as CameraBench labels with a one-sentence hint. 'unclear' means the evidence is weak."
    )
    version = "2"

    def run(self, ctx, args) -> Observation:
        motion = ctx.frames.motion
        boxes = _instance_boxes_per_motion_frame(ctx, motion)
        result, pairs = estimate(motion.frames, motion.times, boxes, motion_shots(ctx))
        ctx.artifacts["camera.pairs"] = pairs
        summary = {"label": result.label, "speed": result.speed, "confidence": result.confidence,
                   "hint": result.hint}
        if result.label not in (STATIC, UNCLEAR):
            summary["rates_per_s"] = result.rates
        return Observation(summary, result)


def _instance_boxes_per_motion_frame(ctx, motion):
    """Boxes of already detected instances, mapped to the nearest sampled frame (to mask features)."""
    found = ctx.evidence.get("detect_instances")
    if not found or not found.get("instances"):
        return None
    times = ctx.frames.sample_times
    out = []
    for t in motion.times:
        k = int(np.argmin(np.abs(np.asarray(times) - t)))
        out.append([inst["boxes"][k] for inst in found["instances"]
                    if k < len(inst["boxes"]) and inst["boxes"][k] is not None])
    return out


@hookimpl
def register_tools():
    return [EstimateCameraMotion()]
