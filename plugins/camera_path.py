"""Camera path (an Any2Caption condition the user supplies): CameraBench words from 3D poses.

Reads two formats:

* the RealEstate10K / CameraCtrl text format: the first line a URL or a name, then one line per
  frame ``timestamp fx fy cx cy 0 0 r11 r12 r13 t1 r21 r22 r23 t2 r31 r32 r33 t3``, intrinsics
  normalised by the image size and a 3x4 **world-to-camera** matrix, row-major; timestamps in
  microseconds (as RealEstate10K writes them) or seconds (a file whose timestamps step by less than
  1000 is read as seconds);
* JSON: a list of 4x4 **camera-to-world** matrices, or ``{"fps": .., "poses": [...], "focal": [...]}``
  (``focal`` optional, one focal length per pose in any unit; fps 30 when not given).

Convention (OpenCV): the camera looks along its +z axis, x points right, y points down. The motion
between two frames is expressed in the earlier camera's own axes, so the words are the camera's:

* rotation about camera y: positive turns +z towards +x, a **pan right**; negative, pan left;
* rotation about camera x: positive turns +z towards -y (up), a **tilt up**; negative, tilt down;
* rotation about camera z: positive turns +x towards +y (the right side goes down), the camera
  **rolls clockwise** as seen from behind it (the picture turns counterclockwise);
* translation along x: **truck right/left**; along -y: **pedestal up** (+y: down); along +z:
  **dolly in** (-z: out);
* the focal length growing: **zoom in** (shrinking: out);
* translation sideways while panning the other way (so the view stays on a point in front): **orbit**,
  named by the way the camera travels (``orbit right`` moves right and pans left).

Speed words: rotation in degrees per second (under 8 slowly, under 25 steadily, else quickly);
translation as the share of the path's extent (the largest distance of any position from the first)
covered per second, since a path's units are arbitrary (under 0.15 slowly, under 0.4 steadily, else
quickly); zoom as the focal length's relative change per second (under 0.05, under 0.15).
A phase is a run of frames with the same primitives that lasts at least :data:`MIN_PHASE_S` seconds
(shorter runs are merged into their longer neighbour); a pan, tilt or roll must turn at least
:data:`MIN_ANGLE` degrees over its phase, so a path's jitter is not read as a short pan.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl

ROT_MIN = 2.0  # degrees per second about one axis that counts as rotation
ROT_SHARE = 0.3  # of the strongest axis, for a second axis to count too
TRANS_MIN = 0.02  # share of the path's extent per second
TRANS_SHARE = 0.35  # of the translation's length, for one axis to count
TRANS_FLOOR = 1e-3  # a path whose extent is smaller than this (in its own units) does not translate
ZOOM_MIN = 0.01  # relative focal change per second
MIN_PHASE_S = 0.4
MIN_ANGLE = 3.0  # degrees a phase must turn about an axis for a pan, tilt or roll
COHERENT = 0.6  # a component's mean over its mean size, for it to count as motion
WINDOW_S = 0.15  # seconds each side of a step that its label is measured on (at least two steps)
ORTHO_TOL = 1e-2
PRIMITIVES = ("pan left", "pan right", "tilt up", "tilt down", "truck left", "truck right", "pedestal up",
              "pedestal down", "dolly in", "dolly out", "zoom in", "zoom out", "roll clockwise",
              "roll counterclockwise", "orbit left", "orbit right")
VERBS = {"pan": "pans", "tilt": "tilts", "truck": "trucks", "pedestal": "pedestals", "dolly": "dollies",
         "zoom": "zooms", "roll": "rolls", "orbit": "orbits"}


class CameraPhase(BaseModel):
    start_s: float
    end_s: float
    primitives: list[str] = Field(description="CameraBench primitives; empty: static")
    speeds: dict[str, str] = Field(default_factory=dict, description="primitive -> slowly / steadily / quickly")
    rotation_deg_per_s: list[float] = Field(description="about camera x, y, z (OpenCV axes)")
    translation_per_s: list[float] = Field(description="along camera x, y, z, in path extents per second")
    zoom_per_s: float = Field(description="relative focal length change per second")
    sentence: str


class CameraPathEvidence(BaseModel):
    source: str
    format: str
    frames: int
    duration_s: float
    convention: str = "OpenCV: the camera looks along +z, x right, y down"
    extent: float = Field(description="largest distance of a camera position from the first, in the path's units")
    primitives: list[str] = Field(description="every primitive over the path, in order of first appearance")
    phases: list[CameraPhase]
    label: str = Field(description="the phases' primitives, ' then ' between phases; 'static' when none")
    sentence: str


# -- reading ------------------------------------------------------------------------------------
def _check_rotation(R: np.ndarray, where: str) -> None:
    if not np.all(np.isfinite(R)):
        raise InputError(f"{where}: the pose has non-finite numbers")
    if np.abs(R.T @ R - np.eye(3)).max() > ORTHO_TOL or abs(np.linalg.det(R) - 1) > ORTHO_TOL:
        raise InputError(f"{where}: the rotation is not orthonormal with determinant 1")


def read_path(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """(times in seconds (n,), camera-to-world 4x4 (n, 4, 4), focal (n,) or None, format name)."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"camera path {p}: cannot read it ({e.__class__.__name__})") from None
    if text.lstrip().startswith(("[", "{")):
        times, c2w, focal = _read_json(text, p)
        fmt = "json camera-to-world"
    else:
        times, c2w, focal = _read_realestate(text, p)
        fmt = "realestate10k"
    if len(c2w) < 2:
        raise InputError(f"camera path {p}: needs at least two poses, found {len(c2w)}")
    if np.any(np.diff(times) <= 0):
        raise InputError(f"camera path {p}: the timestamps do not increase")
    return times, c2w, focal, fmt


def _read_realestate(text: str, p: Path):
    lines = text.splitlines()
    stamps, c2w, focal = [], [], []
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            v = [float(x) for x in line.split()]
        except ValueError:
            raise InputError(f"camera path {p}: line {no} has a value that is not a number") from None
        if len(v) != 19:
            raise InputError(f"camera path {p}: line {no} has {len(v)} values, expected 19 "
                             "(timestamp, fx fy cx cy, 0 0, a 3x4 world-to-camera matrix)")
        w2c = np.eye(4)
        w2c[:3, :4] = np.array(v[7:19]).reshape(3, 4)
        _check_rotation(w2c[:3, :3], f"camera path {p}: line {no}")
        stamps.append(v[0])
        focal.append(v[1])
        c2w.append(np.linalg.inv(w2c))
    stamps = np.array(stamps, float)
    if len(stamps) > 1 and np.median(np.diff(stamps)) >= 1000:
        stamps = stamps / 1e6  # microseconds
    return stamps - (stamps[0] if len(stamps) else 0), np.array(c2w), np.array(focal)


def _read_json(text: str, p: Path):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"camera path {p}: not valid JSON (line {e.lineno}: {e.msg})") from None
    fps, focal = 30.0, None
    if isinstance(data, dict):
        fps = float(data.get("fps", 30.0))
        focal = data.get("focal")
        data = data.get("poses")
    if not isinstance(data, list) or fps <= 0:
        raise InputError(f"camera path {p}: expected a list of 4x4 matrices or {{\"poses\": [...]}} with fps > 0")
    mats = []
    for k, m in enumerate(data):
        try:
            a = np.array(m, float)
        except (ValueError, TypeError):
            a = None
        if a is None or a.shape not in ((4, 4), (3, 4)):
            raise InputError(f"camera path {p}: pose {k} is not a 4x4 (or 3x4) matrix")
        full = np.eye(4)
        full[: a.shape[0]] = a
        _check_rotation(full[:3, :3], f"camera path {p}: pose {k}")
        mats.append(full)
    if focal is not None:
        focal = np.array(focal, float)
        if focal.shape != (len(mats),) or np.any(focal <= 0):
            raise InputError(f"camera path {p}: 'focal' needs one positive number per pose")
    return np.arange(len(mats)) / fps, np.array(mats), focal


# -- the decomposition --------------------------------------------------------------------------
def _rotvec(R: np.ndarray) -> np.ndarray:
    """Axis-angle vector (radians) of a rotation matrix."""
    cos = max(-1.0, min(1.0, (np.trace(R) - 1) / 2))
    angle = math.acos(cos)
    if angle < 1e-9:
        return np.zeros(3)
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    return w / (2 * math.sin(angle)) * angle


def step_motion(times, c2w, focal):
    """Per step: rotation rate (deg/s about camera x, y, z), translation rate (units/s along camera
    x, y, z), zoom rate (log focal per second); all in the earlier camera's axes."""
    rot, trans, zoom = [], [], []
    for i in range(len(c2w) - 1):
        dt = times[i + 1] - times[i]
        Ri, Rj = c2w[i][:3, :3], c2w[i + 1][:3, :3]
        rot.append(np.degrees(_rotvec(Ri.T @ Rj)) / dt)
        trans.append(Ri.T @ (c2w[i + 1][:3, 3] - c2w[i][:3, 3]) / dt)
        zoom.append(math.log(focal[i + 1] / focal[i]) / dt if focal is not None else 0.0)
    return np.array(rot), np.array(trans), np.array(zoom)


def primitives_of(rots, transs, zooms, extent: float) -> list[str]:
    """The primitives of the motion over some steps: rots (n, 3) deg/s, transs (n, 3) units/s, zooms (n,)
    log-focal/s. A component counts only where it is coherent over the steps (its mean at least
    :data:`COHERENT` of its mean size), so a path's jitter is not read as motion."""
    rots, transs, zooms = np.atleast_2d(rots), np.atleast_2d(transs), np.atleast_1d(zooms)
    rot, trans, zoom = rots.mean(0), transs.mean(0), float(zooms.mean())
    out: list[str] = []
    top = float(np.abs(rot).max())
    steady = np.abs(rot) >= COHERENT * np.abs(rots).mean(0)
    active_rot = [bool(steady[k]) and abs(rot[k]) >= ROT_MIN and abs(rot[k]) >= ROT_SHARE * top for k in range(3)]
    rel = trans / extent if extent > TRANS_FLOOR else np.zeros(3)
    length = float(np.linalg.norm(rel))
    coherent = np.linalg.norm(trans) >= COHERENT * np.linalg.norm(transs, axis=1).mean()
    active_tr = [coherent and length >= TRANS_MIN and abs(rel[k]) >= TRANS_SHARE * length for k in range(3)]
    orbit = active_tr[0] and active_rot[1] and np.sign(rel[0]) == -np.sign(rot[1])
    if orbit:
        out.append("orbit right" if rel[0] > 0 else "orbit left")
    elif active_rot[1]:
        out.append("pan right" if rot[1] > 0 else "pan left")
    if active_rot[0]:
        out.append("tilt up" if rot[0] > 0 else "tilt down")
    if active_rot[2]:
        out.append("roll clockwise" if rot[2] > 0 else "roll counterclockwise")
    if active_tr[0] and not orbit:
        out.append("truck right" if rel[0] > 0 else "truck left")
    if active_tr[1]:
        out.append("pedestal down" if rel[1] > 0 else "pedestal up")
    if active_tr[2] and not orbit:
        out.append("dolly in" if rel[2] > 0 else "dolly out")
    if abs(zoom) >= ZOOM_MIN:
        out.append("zoom in" if zoom > 0 else "zoom out")
    return out


def _speed(prim: str, rot, rel, zoom) -> str:
    kind = prim.split()[0]
    if kind in ("pan", "tilt", "roll", "orbit"):
        axis = {"pan": 1, "tilt": 0, "roll": 2, "orbit": 1}[kind]
        v, cuts = abs(rot[axis]), (8.0, 25.0)
    elif kind == "zoom":
        v, cuts = abs(zoom), (0.05, 0.15)
    else:
        axis = {"truck": 0, "pedestal": 1, "dolly": 2}[kind]
        v, cuts = abs(rel[axis]), (0.15, 0.4)
    return "slowly" if v < cuts[0] else "steadily" if v < cuts[1] else "quickly"


def _words(prims: list[str], speeds: dict[str, str]) -> str:
    if not prims:
        return "stays static"
    parts = []
    for prim in prims:
        kind, way = prim.split(" ", 1)
        extra = " around the subject" if kind == "orbit" else ""
        parts.append(f"{speeds.get(prim, '')} {VERBS[kind]} {way}{extra}".strip())
    return " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _runs(labels: list[tuple]) -> list[list[int]]:
    runs: list[list[int]] = []
    for k, lab in enumerate(labels):
        if runs and labels[runs[-1][0]] == lab:
            runs[-1][1] = k + 1
        else:
            runs.append([k, k + 1])
    return runs


def decompose(times, c2w, focal=None, source: str = "", fmt: str = "") -> CameraPathEvidence:
    times = np.asarray(times, float)
    centres = c2w[:, :3, 3]
    extent = float(np.linalg.norm(centres - centres[0], axis=1).max())
    rot, trans, zoom = step_motion(times, c2w, focal)
    n = len(rot)
    # label each step on a short window around it, so noise in one step does not split a phase
    labels = []
    window = max(2, round(WINDOW_S / float(np.median(np.diff(times)))))
    for k in range(n):
        a, b = max(0, k - window), min(n, k + window + 1)
        labels.append(tuple(primitives_of(rot[a:b], trans[a:b], zoom[a:b], extent)))
    dts = np.diff(times)
    runs = _runs(labels)
    # a run that only blends its two neighbours (A, then A and B, then B) is the window straddling a change
    # of motion: it is split where the steps' own labels (no window) agree best with the two neighbours
    for k in range(1, len(runs) - 1):
        a, b = runs[k]
        before, after = set(labels[runs[k - 1][0]]), set(labels[runs[k + 1][0]])
        if set(labels[a]) == before | after and dts[a:b].sum() <= 2 * WINDOW_S + 2 * MIN_PHASE_S:
            own = [set(primitives_of(rot[i:i + 1], trans[i:i + 1], zoom[i:i + 1], extent)) for i in range(a, b)]
            early, late = before - after, after - before  # the primitives only one neighbour has
            score = np.array([sum(bool(o & early) - bool(o & late) for o in own[:m - a]) +
                              sum(bool(o & late) - bool(o & early) for o in own[m - a:]) for m in range(a, b + 1)])
            best = np.flatnonzero(score == score.max())
            mid = a + int(best[len(best) // 2])
            labels[a:mid] = [labels[runs[k - 1][0]]] * (mid - a)
            labels[mid:b] = [labels[runs[k + 1][0]]] * (b - mid)
    runs = _runs(labels)
    # merge runs shorter than MIN_PHASE_S into the longer neighbour
    while len(runs) > 1:
        lengths = [dts[a:b].sum() for a, b in runs]
        k = int(np.argmin(lengths))
        if lengths[k] >= MIN_PHASE_S:
            break
        j = k - 1 if k == len(runs) - 1 or (k > 0 and lengths[k - 1] >= lengths[k + 1]) else k + 1
        a, b = min(runs[k][0], runs[j][0]), max(runs[k][1], runs[j][1])
        keep = runs[j]
        for idx in range(a, b):
            labels[idx] = labels[keep[0]]
        runs = _runs(labels)
    phases = []
    for a, b in runs:
        r, t, z = rot[a:b].mean(0), trans[a:b].mean(0), float(zoom[a:b].mean())
        prims = primitives_of(rot[a:b], trans[a:b], zoom[a:b], extent)
        seconds = float(dts[a:b].sum())
        axis = {"pan": 1, "tilt": 0, "roll": 2}
        # a phase's rotation must add up to MIN_ANGLE: a short wobble in a path's noise is not a pan
        prims = [q for q in prims if q.split()[0] not in axis or abs(r[axis[q.split()[0]]]) * seconds >= MIN_ANGLE]
        rel = t / extent if extent > TRANS_FLOOR else np.zeros(3)
        speeds = {p: _speed(p, r, rel, z) for p in prims}
        phases.append(CameraPhase(start_s=round(float(times[a]), 3), end_s=round(float(times[b]), 3),
                                  primitives=prims, speeds=speeds,
                                  rotation_deg_per_s=[round(float(x), 3) for x in r],
                                  translation_per_s=[round(float(x), 4) for x in rel], zoom_per_s=round(z, 4),
                                  sentence=_words(prims, speeds)))
    # neighbours that ended with the same primitives after merging become one phase
    merged: list[CameraPhase] = []
    for ph in phases:
        if merged and merged[-1].primitives == ph.primitives:
            merged[-1] = merged[-1].model_copy(update={"end_s": ph.end_s})
        else:
            merged.append(ph)
    prims_all = list(dict.fromkeys(p for ph in merged for p in ph.primitives))
    label = " then ".join(", ".join(ph.primitives) or "static" for ph in merged)
    if all(not ph.primitives for ph in merged):
        label = "static"
    sentence = "The camera " + ", then ".join(ph.sentence for ph in merged) + "."
    return CameraPathEvidence(source=source, format=fmt, frames=len(c2w), duration_s=round(float(times[-1] - times[0]), 3),
                              extent=round(extent, 6), primitives=prims_all, phases=merged, label=label,
                              sentence=sentence)


def read_camera_path(path: str | Path) -> CameraPathEvidence:
    times, c2w, focal, fmt = read_path(path)
    return decompose(times, c2w, focal, source=str(path), fmt=fmt)


# -- the plugin ---------------------------------------------------------------------------------
@hookimpl
def register_condition_readers():
    return {"camera_path": read_camera_path}
