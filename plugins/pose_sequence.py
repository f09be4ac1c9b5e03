"""Pose sequence (an Any2Caption condition the user supplies): posture and action per person over time.

Reads COCO-17 keypoints (x, y, score; y grows downwards, pixels or any consistent unit) per frame per
person, in two formats:

* ours: ``{"fps": .., "width": .., "height": .., "frames": [{"people": [{"id": .., "keypoints":
  [[x, y, score] * 17]}]}]}`` (width and height optional);
* OpenPose JSON: a folder of per-frame files (``*_keypoints.json``, read in name order) or one JSON list
  of such documents; each person's ``pose_keypoints_2d`` flat ``[x, y, c] * 25`` (BODY_25) or ``* 18``
  (COCO-18), mapped to COCO-17. OpenPose gives no identities: a person takes the id of the nearest
  person in the frame before (by the keypoints' mean), else a new one. fps 30 unless given with
  ``--fps`` in a wrapper ``{"fps": .., "frames": [...]}``;
* a video, read with the packaged pose model (:func:`poses_from_video`: filmed people, not rendered
  skeletons, which that model does not read; :mod:`plugins.pose_video` says how it was measured).

The rules are :mod:`tools.people`'s, the ones the packaged pose model's keypoints go through:
``posture()`` per frame and ``describe_person``'s body-height speeds (walks from 0.25 body heights
a second, runs from 1.5). Added here: the direction of a walk or run (``walks to the left`` where the
horizontal travel is larger than the vertical; left and right are the picture's) and arms raised over
time (``raises both arms`` when both wrists start at or below the shoulders and end above them, the
same wrist-above-shoulder rule as ``posture()``; ``with both arms raised`` when they stay up).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, Field

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl
from agent.core.model_files import WeightsMissing
from tools import people as rules
from tools.vision.pose import KEYPOINTS, Keypoint, Pose, estimate_poses

COCO_FROM_BODY25 = [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]
COCO_FROM_COCO18 = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
MIN_VISIBLE = 5  # keypoints a person needs in a frame to be used there


class PosturePhase(BaseModel):
    start_s: float
    end_s: float
    posture: str


class PersonTrack(BaseModel):
    id: str
    frames_seen: int
    action: str | None = Field(description="walks to the left, runs, stands, sits, raises both arms, ...")
    posture: str | None = Field(description="the most common posture from tools.people.posture")
    arms: str | None = Field(default=None, description="raises both arms / both arms raised / one arm raised")
    speed_body_heights_per_s: float | None = None
    postures: list[PosturePhase] = Field(default_factory=list)


class PoseSequenceEvidence(BaseModel):
    source: str
    format: str
    fps: float
    frames: int
    people: list[PersonTrack]
    sentence: str


# -- reading ------------------------------------------------------------------------------------
def _load_json(p: Path):
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"pose file {p}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"pose file {p}: cannot read it ({e.__class__.__name__})") from None


def _points(values, where: str) -> np.ndarray:
    try:
        a = np.array(values, float)
    except (ValueError, TypeError):
        raise InputError(f"{where}: keypoints are not numbers") from None
    if a.ndim == 1 and a.size % 3 == 0:
        a = a.reshape(-1, 3)
    if a.ndim != 2 or a.shape[1] != 3:
        raise InputError(f"{where}: keypoints must be [x, y, score] triples")
    n = a.shape[0]
    if n == 17:
        return a
    if n == 25:
        return a[COCO_FROM_BODY25]
    if n == 18:
        return a[COCO_FROM_COCO18]
    raise InputError(f"{where}: {n} keypoints; expected COCO-17, COCO-18 or BODY_25")


VIDEO = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
SAMPLE_FPS = 10.0
PERSON_SCORE = 0.3
MIN_FRAMES_SHARE = 0.5
MIN_TRACK, MIN_TRACK_SHARE = 3, 0.1  # sampled frames a person must be seen in (at least both)



def poses_from_video(path: str | Path):
    """(fps of the samples, [frame: {person id: (17, 3)}], (width, height), format), as ``read_poses``."""
    p = Path(path)
    cap = cv2.VideoCapture(str(p))
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not cap.isOpened() or fps <= 0:
        raise InputError(f"pose video {p}: cannot read it as a video")
    step = max(1, round(fps / SAMPLE_FPS))
    docs, best, size, k = [], 0.0, None, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if k % step == 0:
                size = (float(frame.shape[1]), float(frame.shape[0]))
                people = []
                for pose in estimate_poses(frame, min_score=0.0, threads=1):
                    best = max(best, pose.score)
                    pts = np.array([[q.x, q.y, q.score] for q in pose.keypoints])
                    if pose.score >= PERSON_SCORE and (pts[:, 2] >= rules.VISIBLE).sum() >= MIN_VISIBLE:
                        people.append({"pose_keypoints_2d": pts.reshape(-1).tolist()})
                docs.append({"people": people})
            k += 1
    except WeightsMissing as e:
        raise InputError(f"pose video {p}: {str(e).splitlines()[0]}") from None
    finally:
        cap.release()
    if not docs:
        raise InputError(f"pose video {p}: no frames could be decoded")
    with_people = sum(bool(d["people"]) for d in docs)
    if with_people < MIN_FRAMES_SHARE * len(docs):
        raise InputError(f"pose video {p}: the pose model is sure of a person in {with_people} of {len(docs)} sampled "
                         f"frames (best person score {best:.2f}; half are needed); it reads filmed people, not "
                         "rendered skeletons: give the keypoints as JSON (COCO-17 or OpenPose) with --pose")
    frames = _openpose(docs, str(p))
    # a person MoveNet saw in a frame or two is a false sighting, not someone to describe
    counts = {pid: sum(pid in fr for fr in frames) for fr in frames for pid in fr}
    keep = {pid for pid, n in counts.items() if n >= max(MIN_TRACK, MIN_TRACK_SHARE * len(frames))}
    return fps / step, [{pid: pts for pid, pts in fr.items() if pid in keep} for fr in frames], size, "video (movenet)"


def read_poses(path: str | Path):
    """(fps, [frame: {person id: (17, 3) array}], (width, height) or None, format name)."""
    p = Path(path)
    if p.suffix.lower() in VIDEO:
        return poses_from_video(p)
    if p.is_dir():
        files = sorted(p.glob("*.json"))
        if not files:
            raise InputError(f"pose folder {p}: no .json files in it")
        docs = [_load_json(f) for f in files]
        return 30.0, _openpose(docs, str(p)), None, "openpose folder"
    if not p.exists():
        raise InputError(f"pose file {p}: cannot read it (not found)")
    data = _load_json(p)
    fps, size = 30.0, None
    if isinstance(data, dict) and "frames" in data:
        fps = data.get("fps", 30.0)
        if not isinstance(fps, (int, float)) or fps <= 0:
            raise InputError(f"pose file {p}: fps must be a positive number")
        if data.get("width") and data.get("height"):
            size = (float(data["width"]), float(data["height"]))
        frames = data["frames"]
    else:
        frames = data
    if not isinstance(frames, list) or not frames:
        raise InputError(f"pose file {p}: expected a list of frames, each {{\"people\": [...]}}")
    openpose = any(isinstance(f, dict) and any("pose_keypoints_2d" in q for q in f.get("people", []) if isinstance(q, dict))
                   for f in frames)
    if openpose:
        return float(fps), _openpose(frames, str(p)), size, "openpose list"
    out = []
    for k, fr in enumerate(frames):
        if not isinstance(fr, dict) or not isinstance(fr.get("people"), list):
            raise InputError(f"pose file {p}: frame {k} has no 'people' list")
        people = {}
        for j, person in enumerate(fr["people"]):
            if not isinstance(person, dict) or "keypoints" not in person:
                raise InputError(f"pose file {p}: frame {k}, person {j} has no 'keypoints'")
            people[str(person.get("id", j))] = _points(person["keypoints"], f"pose file {p}: frame {k}, person {j}")
        out.append(people)
    return float(fps), out, size, "coco17 json"


def _openpose(docs, where: str) -> list[dict[str, np.ndarray]]:
    out: list[dict[str, np.ndarray]] = []
    last: dict[str, np.ndarray] = {}
    next_id = 1
    for k, doc in enumerate(docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise InputError(f"pose file {where}: frame {k} is not an OpenPose document with 'people'")
        people: dict[str, np.ndarray] = {}
        for j, person in enumerate(doc["people"]):
            pts = _points(person.get("pose_keypoints_2d", []), f"pose file {where}: frame {k}, person {j}")
            centre = _centre(pts)
            free = {i: c for i, c in last.items() if i not in people}
            pid = None
            if centre is not None and free:
                pid = min(free, key=lambda i: np.hypot(*(free[i] - centre)))
            if pid is None:
                pid, next_id = str(next_id), next_id + 1
            people[pid] = pts
        last = {i: c for i, q in people.items() if (c := _centre(q)) is not None} or last
        out.append(people)
    return out


def _centre(pts: np.ndarray):
    vis = pts[pts[:, 2] >= rules.VISIBLE]
    return vis[:, :2].mean(0) if len(vis) else None


# -- the rules ----------------------------------------------------------------------------------
def _pose(pts: np.ndarray) -> Pose:
    vis = pts[pts[:, 2] >= rules.VISIBLE]
    box = (*vis[:, :2].min(0), *vis[:, :2].max(0))
    kps = tuple(Keypoint(n, float(x), float(y), float(s)) for n, (x, y, s) in zip(KEYPOINTS, pts))
    return Pose(tuple(map(float, box)), float(vis[:, 2].mean()), kps)


def _both_raised(pts: np.ndarray) -> int:
    """How many wrists are clearly above their shoulders (tools.people.posture's rule)."""
    pose = _pose(pts)
    torso = rules._torso(pose, default=50.0)
    n = 0
    for side in ("left", "right"):
        w, s = rules._kp(pose, f"{side}_wrist"), rules._kp(pose, f"{side}_shoulder")
        n += bool(w and s and w[1] < s[1] - 0.1 * torso)
    return n


def _phases(times, words) -> list[PosturePhase]:
    out: list[PosturePhase] = []
    for t, w in zip(times, words):
        if w is None:
            continue
        if out and out[-1].posture == w:
            out[-1].end_s = round(t, 3)
        else:
            out.append(PosturePhase(start_s=round(t, 3), end_s=round(t, 3), posture=w))
    return out


def describe_track(pid: str, frames: list[np.ndarray | None], times: list[float], size) -> PersonTrack:
    seen = [k for k, f in enumerate(frames) if f is not None]
    if size is None:
        pts = np.concatenate([frames[k][frames[k][:, 2] >= rules.VISIBLE, :2] for k in seen])
        size = (max(1.0, float(pts[:, 0].max()) * 1.05), max(1.0, float(pts[:, 1].max()) * 1.05))
    w, h = size
    poses = {k: _pose(frames[k]) for k in seen}
    boxes = [None] * len(frames)
    for k, pose in poses.items():
        x0, y0, x1, y1 = pose.box
        boxes[k] = (x0 / w, y0 / h, x1 / w, y1 / h)
    blank = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (int(h), int(w), 3))  # shape only: no colours
    ev = rules.describe_person(boxes, [blank] * len(frames), times, lambda k: [poses[k]] if k in poses else [])
    words = [rules.posture(poses[k]) if k in poses else None for k in range(len(frames))]
    # direction, from the same centres describe_person measures speed on
    centres = [((boxes[k][0] + boxes[k][2]) / 2 * w, (boxes[k][1] + boxes[k][3]) / 2 * h) for k in seen]
    heights = [rules._body_height(boxes[k], poses[k], h) for k in seen]
    speed = rules._body_speed([(*c, times[k]) for c, k in zip(centres, seen)], heights)
    action = ev.action
    if action in ("walks", "runs") and len(centres) >= 2:
        dx, dy = np.subtract(centres[-1], centres[0])
        if abs(dx) > abs(dy):
            action += " to the left" if dx < 0 else " to the right"
    raised = [_both_raised(frames[k]) for k in seen]
    arms = None
    third = max(1, len(raised) // 3)
    if raised and min(raised[:third]) == 2:
        arms = "both arms raised"
    elif raised and max(raised[:third]) == 0 and min(raised[-third:]) == 2:
        arms = "raises both arms"
    elif raised and sorted(raised)[len(raised) // 2] == 1:
        arms = "one arm raised"
    if arms == "raises both arms" and action in (None, "stands", "sits", "stands with the arms raised",
                                                 "sits with the arms raised"):
        action = "raises both arms"
    elif arms == "both arms raised" and action in (None, "stands", "stands with the arms raised"):
        action = "stands with both arms raised"
    elif arms == "both arms raised" and action == "sits with the arms raised":
        action = "sits with both arms raised"
    return PersonTrack(id=pid, frames_seen=len(seen), action=action, posture=ev.posture, arms=arms,
                       speed_body_heights_per_s=None if speed is None else round(speed, 3),
                       postures=_phases(times, words))


def read_pose_sequence(path: str | Path) -> PoseSequenceEvidence:
    fps, frames, size, fmt = read_poses(path)
    times = [k / fps for k in range(len(frames))]
    ids = list(dict.fromkeys(pid for fr in frames for pid in fr))
    if not ids:
        raise InputError(f"pose file {path}: no people in any frame")
    tracks = []
    for pid in ids:
        seq = []
        for fr in frames:
            pts = fr.get(pid)
            seq.append(pts if pts is not None and (pts[:, 2] >= rules.VISIBLE).sum() >= MIN_VISIBLE else None)
        if not any(s is not None for s in seq):
            continue
        tracks.append(describe_track(pid, seq, times, size))
    if not tracks:
        raise InputError(f"pose file {path}: keypoints missing: no person has {MIN_VISIBLE} keypoints "
                         f"with a score of at least {rules.VISIBLE} in any frame")
    sentence = " ".join(f"Person {t.id} {t.action or 'is seen'}." for t in tracks)
    return PoseSequenceEvidence(source=str(path), format=fmt, fps=fps, frames=len(frames), people=tracks,
                                sentence=sentence)


@hookimpl
def register_condition_readers():
    return {"pose": read_pose_sequence}
