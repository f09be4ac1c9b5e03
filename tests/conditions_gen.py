"""Generated conditions of known truth: camera paths per CameraBench primitive, pose sequences."""

from __future__ import annotations

import json
import math

import numpy as np

FPS = 30.0


def rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


D = math.radians
# per second, in the camera's own axes (OpenCV: +z forward, x right, y down): (rotation, translation, zoom)
MOTIONS = {
    "pan left": (lambda dt: ry(-D(20) * dt), (0, 0, 0), 0.0),
    "pan right": (lambda dt: ry(D(20) * dt), (0, 0, 0), 0.0),
    "tilt up": (lambda dt: rx(D(15) * dt), (0, 0, 0), 0.0),
    "tilt down": (lambda dt: rx(-D(15) * dt), (0, 0, 0), 0.0),
    "roll clockwise": (lambda dt: rz(D(15) * dt), (0, 0, 0), 0.0),
    "roll counterclockwise": (lambda dt: rz(-D(15) * dt), (0, 0, 0), 0.0),
    "truck left": (None, (-1, 0, 0), 0.0),
    "truck right": (None, (1, 0, 0), 0.0),
    "pedestal up": (None, (0, -1, 0), 0.0),
    "pedestal down": (None, (0, 1, 0), 0.0),
    "dolly in": (None, (0, 0, 1), 0.0),
    "dolly out": (None, (0, 0, -1), 0.0),
    "zoom in": (None, (0, 0, 0), 0.1),
    "zoom out": (None, (0, 0, 0), -0.1),
    "static": (None, (0, 0, 0), 0.0),
}


def path(segments, fps: float = FPS, noise: float = 0.0, seed: int = 0):
    """``segments``: [(primitive names, seconds)]; primitives of one segment happen together, 'orbit
    left/right' circles a point 4 units in front. Returns (times, camera-to-world (n,4,4), focal (n,))."""
    rng = np.random.default_rng(seed)
    R = rx(0.3) @ ry(-1.1) @ rz(0.2)  # any start orientation: the words are the camera's own
    c = np.array([2.0, -1.0, 5.0])
    f = 0.8
    dt = 1 / fps
    mats, focal = [], []

    def put():
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = R, c
        mats.append(m)
        focal.append(f)

    put()
    for names, seconds in segments:
        for _ in range(round(seconds * fps)):
            dR, d, z = np.eye(3), np.zeros(3), 0.0
            for name in names:
                if name.startswith("orbit"):
                    phi = D(20) * dt * (1 if name.endswith("right") else -1)
                    r = 4.0
                    d = d + np.array([r * math.sin(phi), 0, r - r * math.cos(phi)])
                    dR = dR @ ry(-phi)
                    continue
                rot, tr, zoom = MOTIONS[name]
                if rot is not None:
                    dR = dR @ rot(dt)
                d = d + np.array(tr, float) * dt
                z += zoom * dt
            if noise:
                dR = dR @ rx(rng.normal(0, noise * 1e-3)) @ ry(rng.normal(0, noise * 1e-3))
                d = d + rng.normal(0, noise * 1e-4, 3)
            c = c + R @ d
            R = R @ dR
            f = f * math.exp(z)
            put()
    times = np.arange(len(mats)) / fps
    return times, np.array(mats), np.array(focal)


def write_realestate(file, times, c2w, focal):
    lines = ["https://www.youtube.com/watch?v=generated"]
    for t, m, fx in zip(times, c2w, focal):
        w2c = np.linalg.inv(m)[:3, :4]
        vals = [int(round(t * 1e6)), fx, fx * 16 / 9, 0.5, 0.5, 0, 0, *w2c.reshape(-1)]
        lines.append(" ".join(f"{v:.9g}" if isinstance(v, float) else str(v) for v in vals))
    file.write_text("\n".join(lines) + "\n")


def write_json(file, times, c2w, focal, wrapped: bool = True):
    poses = [m.tolist() for m in c2w]
    data = {"fps": FPS, "poses": poses, "focal": list(map(float, focal))} if wrapped else poses
    file.write_text(json.dumps(data))


# -- poses -----------------------------------------------------------------------------------------
# COCO-17 standing skeleton in body heights (x right, y down), feet at y=1
STAND = {0: (0.0, 0.06), 1: (-0.02, 0.04), 2: (0.02, 0.04), 3: (-0.04, 0.05), 4: (0.04, 0.05),
         5: (-0.1, 0.2), 6: (0.1, 0.2), 7: (-0.13, 0.35), 8: (0.13, 0.35), 9: (-0.14, 0.48), 10: (0.14, 0.48),
         11: (-0.07, 0.52), 12: (0.07, 0.52), 13: (-0.07, 0.75), 14: (0.07, 0.75), 15: (-0.07, 0.98),
         16: (0.07, 0.98)}
# COCO's left is the person's left: seen from the front, on the image's right; mirrored here is fine


def skeleton(x: float, y: float, height: float, arms_up: bool = False, stride: float = 0.0):
    pts = []
    for k in range(17):
        px, py = STAND[k]
        if arms_up and k in (7, 8):
            py = 0.1
        if arms_up and k in (9, 10):
            py = -0.02
        if k in (13, 15):
            px += stride
        if k in (14, 16):
            px -= stride
        pts.append([x + px * height, y + py * height, 0.9])
    return pts


def pose_sequence(kind: str, seconds: float = 3.0, fps: float = 10.0, width: int = 1280):
    frames = []
    n = round(seconds * fps)
    for k in range(n):
        t = k / fps
        if kind == "walk_right":
            x, arms, stride = 200 + 150 * t, False, 0.05 * math.sin(2 * math.pi * t)
        elif kind == "walk_left":
            x, arms, stride = 1000 - 150 * t, False, 0.05 * math.sin(2 * math.pi * t)
        elif kind == "arms_up":
            x, arms, stride = 640, True, 0.0
        elif kind == "raise_arms":  # arms down, then up from the middle on
            x, arms, stride = 640, t >= seconds / 2, 0.0
        elif kind == "run_right":
            x, arms, stride = 100 + 700 * t, False, 0.1 * math.sin(4 * math.pi * t)
        else:  # stand
            x, arms, stride = 640, False, 0.0
        frames.append({"people": [{"id": 1, "keypoints": skeleton(x, 100, 400, arms, stride)}]})
    return {"fps": fps, "width": width, "height": 720, "frames": frames}


# OpenPose BODY_25 index of each COCO-17 keypoint
COCO_FROM_BODY25 = [0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]


def to_openpose_body25(seq) -> list[dict]:
    """One OpenPose JSON document per frame (BODY_25, flat [x, y, c] * 25)."""
    out = []
    for fr in seq["frames"]:
        people = []
        for person in fr["people"]:
            flat = [0.0] * 75
            for coco, b25 in enumerate(COCO_FROM_BODY25):
                flat[3 * b25: 3 * b25 + 3] = person["keypoints"][coco]
            people.append({"person_id": [-1], "pose_keypoints_2d": flat})
        out.append({"version": 1.3, "people": people})
    return out


# -- images and depth -------------------------------------------------------------------------------
def solid_object_image(file, colour_bgr, backdrop_bgr=(245, 245, 245), size=(320, 240), box=(100, 60, 220, 200)):
    """A plain rectangle of one colour on a plain backdrop: its colour is the truth."""
    import cv2

    img = np.full((size[1], size[0], 3), backdrop_bgr, np.uint8)
    cv2.rectangle(img, box[:2], box[2:], tuple(int(c) for c in colour_bgr), -1)
    cv2.imwrite(str(file), img)
    return file


def style_image(file, kind: str, size=(320, 240), seed: int = 0):
    """'dark_cool_smooth': a dim navy gradient; 'bright_warm_textured': orange and yellow noise."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    if kind == "dark_cool_smooth":
        ramp = np.linspace(0, 1, w)[None, :, None]
        img = (np.array([70, 30, 20]) * (0.8 + 0.2 * ramp)).repeat(h, 0)  # BGR: navy
    else:
        base = np.where(rng.random((h, w, 1)) < 0.5, np.array([25, 140, 240]), np.array([35, 218, 238]))
        img = base + rng.normal(0, 30, (h, w, 3))
    cv2.imwrite(str(file), np.clip(img, 0, 255).astype(np.uint8))
    return file


def depth_scene(width=320, height=240, far_larger=False, bits=16):
    """A ground receding to the top (far) with a tall shape at the left (nearest) and a wide shape at the
    right (behind it). Returns (depth array, truth)."""
    rows = np.linspace(8.0, 2.0, height)[:, None]  # metres: far at the top, near at the bottom
    depth = np.repeat(rows, width, axis=1)
    depth[60:200, 40:100] = 1.2  # tall: 140 x 60 pixels, at the left, nearest
    depth[120:170, 190:300] = 1.8  # wide: 50 x 110, at the right, behind it
    value = depth if far_larger else 1.0 / depth
    top = 65535 if bits == 16 else 255
    scaled = value / value.max() * top * 0.95
    truth = {"nearest": "tall", "order": ["middle-left", "middle-right"], "aspects": [140 / 60, 50 / 110],
             "gradient": "recedes from the bottom of the frame towards the top"}
    return scaled.astype(np.uint16 if bits == 16 else np.uint8), truth


LIMBS = [(0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12),
         (11, 13), (13, 15), (12, 14), (14, 16)]


def skeleton_video(file, seq, colours: bool = True, thickness: int = 8):
    """The pose sequence drawn as a skeleton video (OpenPose-coloured or white limbs, on black)."""
    import cv2

    w, h = int(seq.get("width", 1280)), int(seq.get("height", 720))
    out = cv2.VideoWriter(str(file), cv2.VideoWriter_fourcc(*"mp4v"), seq["fps"], (w, h))
    for fr in seq["frames"]:
        img = np.zeros((h, w, 3), np.uint8)
        for person in fr["people"]:
            kp = np.array(person["keypoints"])
            for i, (a, b) in enumerate(LIMBS):
                hue = np.uint8([[[i * 11 % 180, 255, 255]]])
                col = tuple(int(c) for c in cv2.cvtColor(hue, cv2.COLOR_HSV2BGR)[0, 0]) if colours else (255, 255, 255)
                cv2.line(img, tuple(map(int, kp[a][:2])), tuple(map(int, kp[b][:2])), col, thickness)
            for x, y, _ in kp:
                cv2.circle(img, (int(x), int(y)), thickness, (0, 0, 255), -1)
        out.write(img)
    out.release()
    return file
