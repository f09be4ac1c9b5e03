"""Decoding of MediaPipe's single-shot detectors (BlazeFace, the palm detector): anchor centres on two
strides, offsets to boxes in input pixels, and overlapping boxes blended by their scores."""

from __future__ import annotations

import numpy as np

from tools.geometry import iou_many


def anchor_centres(size: int) -> np.ndarray:
    """[N, 2] anchor centres in input pixels: 2 anchors a cell at stride 8, 6 at stride 16."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = size // stride
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) * stride, (y + 0.5) * stride)] * per_cell
    return np.array(centres, np.float32)


def blended(reg: np.ndarray, logits: np.ndarray, anchors: np.ndarray, min_score: float,
            iou: float) -> list[tuple[np.ndarray, float, np.ndarray, np.ndarray]]:
    """Each detection, best first, as (box [x1, y1, x2, y2] in input pixels, score, the rows of ``reg``
    blended into it, their weights [k, 1]): boxes overlapping the best one by more than ``iou`` are
    averaged with it, weighted by score."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
    keep = np.nonzero(scores >= min_score)[0]
    if not len(keep):
        return []
    r, a, s = reg[keep], anchors[keep], scores[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    boxes = np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], 1)
    out = []
    order = np.argsort(-s, kind="stable")
    while len(order):
        cluster = order[iou_many(boxes[order[0]], boxes[order]) > iou]
        w = s[cluster][:, None]
        out.append(((boxes[cluster] * w).sum(0) / w.sum(), float(s[order[0]]), keep[cluster], w))
        order = order[~np.isin(order, cluster)]
    return out
