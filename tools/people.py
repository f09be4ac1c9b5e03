"""What people do, from MoveNet keypoints: posture per frame, an action over the clip, clothing by body part.

Used by the packaged tier of detection for every person instance. Speeds are judged against the
person's own size (body heights per second), so a pedestrian far away who crosses a tenth of the
frame in a second walks, where frame widths per second would call them still.

Rules (keypoints with a score under :data:`VISIBLE` are not used):

* **sitting**: the thighs (hip to knee) lie closer to horizontal than vertical, or the knees are
  bent under 120 degrees with the hips no higher than a thigh's length above the knees; a person
  whose legs are out of the frame and who sits next to a vehicle seat cannot be told apart, and is
  not called sitting;
* **arms raised**: a wrist clearly above its shoulder;
* **walking** / **running**: the body moves at least :data:`WALK` (:data:`RUN`) body heights per
  second between sightings, upright;
* **riding**: a bicycle or motorcycle is under the person: its box overlaps the lower half of the person's
  box in at least one sighting and in most of the sightings where the detector sees a two-wheeler at all
  (a rider's bicycle drops out of the frame or out of the detector's sight in some samples; a parked one
  that a pedestrian passes stays under them in few), or the classifier sees a two-wheeler in the person's
  own crops (``carried``). The person "rides" it when the body moves at walking speed or more, and "is
  on" it when stopped or seen once (a cyclist waiting at the kerb does not ride);
* **talking**: a face (nose and both eyes) turned to the camera in a close view, whose head moves or
  turns from frame to frame (a head held still in a close view is not called talking).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from tools.geometry import covered_share

VISIBLE = 0.3  # least keypoint score used
WALK = 0.25  # body heights per second
RUN = 1.5
RIDE_SHARE = 0.5  # of sightings with a ridden vehicle under the person
HEAD_MOTION = 0.25  # std of the head's position or turn over the sightings, in eye gaps, that reads as a moving head
CARRIED_SURE = 0.8  # how sure "is on a bicycle" is when the classifier sees the two-wheeler in the person's crops
CLOSE_VIEW = 0.12  # a face this share of the frame's height is a close view


@dataclass
class PersonEvidence:
    action: str | None  # 'walks', 'runs', 'rides a bicycle', 'is on a bicycle', 'sits', 'stands', 'talks', or None
    posture: str | None  # 'standing', 'sitting', 'arms raised', ...
    upper_colours: list[str]
    lower_colours: list[str]
    frames_with_pose: int
    action_confidence: float = 0.0  # how many of the samples agree with the action (0..1)


def _kp(pose, name):
    k = pose.keypoint(name)
    return (k.x, k.y) if k.score >= VISIBLE else None


def _angle(a, b, c) -> float:
    """The angle at b, in degrees."""
    v1, v2 = np.subtract(a, b), np.subtract(c, b)
    cos = float(np.dot(v1, v2) / max(np.linalg.norm(v1) * np.linalg.norm(v2), 1e-6))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def posture(pose) -> str | None:
    """'sitting', 'standing', 'arms raised' (or 'arms raised, sitting'), or None where too little is visible."""
    words = []
    for side in ("left", "right"):
        wrist, shoulder = _kp(pose, f"{side}_wrist"), _kp(pose, f"{side}_shoulder")
        if wrist and shoulder and wrist[1] < shoulder[1] - 0.1 * _torso(pose, default=50.0):
            words.append("arms raised")
            break
    legs = []
    for side in ("left", "right"):
        hip, knee, ankle = _kp(pose, f"{side}_hip"), _kp(pose, f"{side}_knee"), _kp(pose, f"{side}_ankle")
        if hip and knee:
            dx, dy = knee[0] - hip[0], knee[1] - hip[1]
            thigh = math.hypot(dx, dy)
            if thigh < 1:
                continue
            flat = abs(dy) < abs(dx)
            bent = ankle is not None and _angle(hip, knee, ankle) < 120 and dy < 0.6 * thigh
            legs.append("sitting" if flat or bent else "standing")
    if legs:
        words.append(_most_common(legs))
    return ", ".join(words) or None


def _torso(pose, default: float | None = None) -> float | None:
    s = [p for p in (_kp(pose, "left_shoulder"), _kp(pose, "right_shoulder")) if p]
    h = [p for p in (_kp(pose, "left_hip"), _kp(pose, "right_hip")) if p]
    if s and h:
        return float(abs(np.mean([p[1] for p in h]) - np.mean([p[1] for p in s])))
    return default


def match(poses, box_px) -> object | None:
    """The pose whose keypoints fall most inside a person's box (pixels)."""
    best, best_share = None, 0.3
    x0, y0, x1, y1 = box_px
    for pose in poses:
        pts = [(k.x, k.y) for k in pose.keypoints if k.score >= VISIBLE]
        if not pts:
            continue
        share = sum(x0 <= x <= x1 and y0 <= y <= y1 for x, y in pts) / len(pts)
        if share > best_share:
            best, best_share = pose, share
    return best


def _body_height(box, pose, frame_h: int) -> float:
    """The person's height in pixels: the box's, or from the keypoints when the box is cut by the frame."""
    height = (box[3] - box[1]) * frame_h
    if pose is not None:
        torso = _torso(pose)
        if torso:
            height = max(height, 3.0 * torso)  # a torso is about a third of a standing body
    return max(height, 1.0)


def region_colours(image, pose, part: str) -> list[str]:
    """Dominant colours of the upper body (shoulders to hips) or lower body (hips to ankles or knees)."""
    import cv2

    from .colors import dominant_colours

    if part == "upper":
        corners = [_kp(pose, n) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
    else:
        ends = [_kp(pose, f"{s}_ankle") or _kp(pose, f"{s}_knee") for s in ("right", "left")]
        corners = [_kp(pose, "left_hip"), _kp(pose, "right_hip"), *ends]
    if any(c is None for c in corners):
        return []  # that part is not visible: say nothing about it
    polygon = np.array(corners, np.float32)
    centre = polygon.mean(axis=0)
    polygon = centre + 0.8 * (polygon - centre)  # stay inside the body, off the background
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    pixels = image[mask.astype(bool)]
    if len(pixels) < 30:
        return []
    return [name for name, _ in dominant_colours(pixels)]


def _face_points(faces, box_px):
    """(nose, left eye, right eye) of the face whose centre lies in a person's box (pixels), or Nones."""
    x0, y0, x1, y1 = box_px
    for face in faces:
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        if x0 <= cx <= x1 and y0 <= cy <= y1:
            k = face.keypoints
            return k.get("nose_tip"), k.get("left_eye"), k.get("right_eye")
    return None, None, None


def describe_person(boxes: list, images: list[np.ndarray], times: list[float], poses_at,
                    vehicles: list[list[tuple]] | None = None, faces_at=None,
                    carried: str | None = None) -> PersonEvidence:
    """``boxes``: the person's normalised box per sampled frame (or None); ``poses_at(k)``: the poses found
    in sampled frame k; ``vehicles``: per frame, (normalised box, class) of the bicycles and motorcycles
    there; ``carried``: the two-wheeler a classifier sees in the person's crops, if any."""
    seen = [k for k, b in enumerate(boxes) if b is not None]
    postures, uppers, lowers = [], [], []
    centres, heights, head = [], [], []
    ridden: list[str] = []
    with_vehicle = 0  # sightings in whose frame the detector sees a two-wheeler anywhere
    face_close = 0
    with_pose = 0
    for k in seen:
        h, w = images[k].shape[:2]
        b = boxes[k]
        box_px = (b[0] * w, b[1] * h, b[2] * w, b[3] * h)
        pose = match(poses_at(k), box_px)
        height = _body_height(b, pose, h)
        centres.append(((b[0] + b[2]) / 2 * w, (b[1] + b[3]) / 2 * h, times[k]))
        heights.append(height)
        here = vehicles[k] if vehicles is not None else []
        with_vehicle += bool(here)
        under = [label for v, label in here if _under(v, b)]
        if under:
            ridden.append(under[0])
        nose = le = re_ = None
        if pose is not None:
            with_pose += 1
            p = posture(pose)
            if p:
                postures.append(p)
            uppers += region_colours(images[k], pose, "upper")[:1]
            lowers += region_colours(images[k], pose, "lower")[:1]
            nose, le, re_ = _kp(pose, "nose"), _kp(pose, "left_eye"), _kp(pose, "right_eye")
        if not (nose and le and re_) and faces_at is not None:  # a face detector finds faces MoveNet misses
            nose, le, re_ = _face_points(faces_at(k), box_px)
        if nose and le and re_:
            eye_gap = max(math.dist(le, re_), 1.0)
            if eye_gap * 4 / h >= CLOSE_VIEW:  # a face about four eye gaps tall
                face_close += 1
            mid = ((le[0] + re_[0]) / 2, (le[1] + re_[1]) / 2)
            # where the head is, and how it is turned (the nose against the eyes), in eye gaps
            head.append((mid[0] / eye_gap, mid[1] / eye_gap, (nose[0] - mid[0]) / eye_gap))
    speed = _body_speed(centres, heights)
    usual = _most_common(postures) if postures else None
    action = None
    on = _most_common(ridden) if ridden and len(ridden) >= RIDE_SHARE * with_vehicle else carried
    if seen and on:
        action = f"rides a {on}" if speed is not None and speed >= WALK else f"is on a {on}"
    elif speed is not None and speed >= RUN and usual != "sitting":
        action = "runs"
    elif speed is not None and speed >= WALK and usual != "sitting":
        action = "walks"
    elif len(head) >= 3 and face_close >= 0.5 * len(seen) and float(np.std(np.array(head), axis=0).max()) >= HEAD_MOTION:
        action = "talks, moving the head"
    elif usual and "sitting" in usual:
        action = "sits"
    elif usual and "standing" in usual:
        action = "stands"
    if usual and "arms raised" in usual and action in (None, "stands", "sits"):
        action = ("sits" if action == "sits" else "stands") + " with the arms raised"
    sure = _action_agreement(action, centres, heights, postures, len(head), len(seen), ridden, carried)
    return PersonEvidence(action, usual, _common(uppers), _common(lowers), with_pose, sure)


def _action_agreement(action, centres, heights, postures, faces: int, seen: int, ridden,
                      carried: str | None = None) -> float:
    """How many of the samples agree with ``action``: for a moving action the share of steps between
    consecutive sightings at walking speed or more, for a posture the share of poses showing it, each
    scaled down when fewer than three samples carry it. A two-wheeler the classifier sees in the person's
    own crops rates :data:`CARRIED_SURE` (its score separates the cyclist from every other person crop of the
    real clips by a factor of 25, see ``tools/recognise/labels.py``)."""
    if action is None:
        return 0.0
    few = lambda count: min(1.0, count / 3.0)  # noqa: E731 - one or two samples are weak evidence
    steps = _step_speeds(centres, heights)
    if action in ("walks", "runs") or action.startswith("rides"):
        fast = sum(v >= WALK for v in steps)
        return round(fast / max(len(steps), 1) * few(len(steps)), 2)
    if action.startswith("is on"):
        under = len(ridden) / max(seen, 1) * few(len(ridden))
        return round(max(under, CARRIED_SURE if carried else 0.0), 2)
    if action.startswith("talks"):
        return round(few(faces), 2)
    word = "sitting" if action.startswith("sits") else "standing"
    slow = sum(v < WALK for v in steps) / max(len(steps), 1) if steps else 0.5
    agree = sum(word in p for p in postures) / max(len(postures), 1)
    return round(agree * slow * few(len(postures)), 2)


def _step_speeds(centres, heights) -> list[float]:
    """Body heights per second between each pair of consecutive sightings."""
    h = float(np.median(heights)) if heights else 1.0
    return [math.hypot(xb - xa, yb - ya) / h / (tb - ta)
            for (xa, ya, ta), (xb, yb, tb) in zip(centres, centres[1:]) if tb > ta]


def _common(names: list[str]) -> list[str]:
    """The two names seen most, most first (ties: the first seen)."""
    return [n for n, _ in Counter(names).most_common(2)]


def _most_common(items: list[str]) -> str:
    """The item seen most; a tie goes to the first seen, the same on every run (a set's order is not)."""
    return Counter(items).most_common(1)[0][0]


def _under(vehicle, person) -> bool:
    """A vehicle box overlapping the lower half of a person's box (both normalised)."""
    x0, y0, x1, y1 = person
    lower = (x0, (y0 + y1) / 2, x1, y1)
    return covered_share(vehicle, lower) > 0.3


def _body_speed(centres, heights) -> float | None:
    """Body heights per second between the first and last sighting (None when seen once)."""
    if len(centres) < 2:
        return None
    (xa, ya, ta), (xb, yb, tb) = centres[0], centres[-1]
    if tb - ta <= 0:
        return None
    return math.hypot(xb - xa, yb - ya) / float(np.median(heights)) / (tb - ta)
