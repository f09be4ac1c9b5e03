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


from .image import letterbox
from .models import session
from .ssd import anchor_centres, blended

NAME = "face-detection-short-range"
SIZE = 128
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


ANCHORS = anchor_centres(SIZE)  # [896, 2] anchor centres in input pixels


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
    faces = []
    for box, score, rows, w in blended(reg, logits, ANCHORS, min_score, iou):
        points = reg[rows, 4:16].reshape(-1, 6, 2) + ANCHORS[rows][:, None, :]
        pts = lb.to_image(((points * w[:, :, None]).sum(0) / w.sum()).reshape(-1)).reshape(6, 2)
        faces.append(Face(tuple(float(v) for v in lb.to_image(box)), score,
                          {n: (float(px), float(py)) for n, (px, py) in zip(KEYPOINTS, pts)}))
    return faces
