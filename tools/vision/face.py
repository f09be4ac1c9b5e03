"""Faces in close-ups with MediaPipe's BlazeFace short-range detector (Apache-2.0; the tflite file of
PyPI ``mediapipe==0.10.21`` converted to ONNX by ``scripts/convert_tfjs.py``; mediapipe itself is
not installed).

The graph takes RGB [1, 128, 128, 3] in -1..1 and gives, for 896 SSD anchors (16x16 cells with 2
anchors at stride 8, 8x8 cells with 6 at stride 16, all of size 1), 16 regressors (box centre
offset, width, height, then 6 keypoints, in input pixels) and a logit. Faces are letterboxed in,
decoded from the anchors, merged by weighted non-maximum suppression (overlapping detections are
averaged by score, as MediaPipe does) and mapped back to the image's pixels. The model is meant
for faces within about 2 m of the camera: on wide shots (bikes.mp4) it finds none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.geometry import iou_many

from .image import letterbox
from .models import session

NAME = "face-detection-short-range"
SIZE = 128
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


def _anchors() -> np.ndarray:
    centres = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = SIZE // stride
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) * stride, (y + 0.5) * stride)] * per_cell
    return np.array(centres, np.float32)


ANCHORS = _anchors()  # [896, 2] anchor centres in input pixels


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image given
    score: float
    keypoints: dict[str, tuple[float, float]]  # the 6 of KEYPOINTS -> (x, y) in pixels


def detect_faces(image_bgr: np.ndarray, min_score: float = 0.5, *, iou: float = 0.3,
                 threads: int | None = None) -> list[Face]:
    """Faces in a BGR uint8 image (H, W, 3), best first."""
    canvas, lb = letterbox(image_bgr, SIZE, SIZE)
    x = np.ascontiguousarray(canvas[None, :, :, ::-1], dtype=np.float32) / 127.5 - 1.0
    sess = session(NAME, threads)
    outputs = dict(zip((o.name for o in sess.get_outputs()), sess.run(None, {sess.get_inputs()[0].name: x})))
    reg, logits = outputs["regressors"][0], outputs["classificators"][0, :, 0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
    keep = np.nonzero(scores >= min_score)[0]
    if not len(keep):
        return []
    r, a, s = reg[keep], ANCHORS[keep], scores[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    boxes = np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], 1)
    points = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
    faces = []
    order = np.argsort(-s, kind="stable")
    while len(order):
        cluster = order[iou_many(boxes[order[0]], boxes[order]) > iou]
        w = s[cluster][:, None]
        box = lb.to_image((boxes[cluster] * w).sum(0) / w.sum())
        pts = lb.to_image(((points[cluster] * w[:, :, None]).sum(0) / w.sum()).reshape(-1)).reshape(6, 2)
        faces.append(Face(tuple(float(v) for v in box), float(s[order[0]]),
                          {n: (float(px), float(py)) for n, (px, py) in zip(KEYPOINTS, pts)}))
        order = order[~np.isin(order, cluster)]
    return faces
