"""Boxes and masks: the geometry detection, segmentation, pose, depth, description and film language share.

A box is ``(x0, y0, x1, y1)`` in frame widths and heights (0..1) unless a function says pixels; a mask
is a boolean array of one frame (or of a low-resolution copy of it).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Box = Sequence[float]


def box_area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    """The area the two boxes share."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when both are empty)."""
    inter = intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def iou_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each row of ``boxes`` (n, 4), vectorised."""
    w = (np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])).clip(0)
    h = (np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])).clip(0)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def covered_share(outer: Box, inner: Box) -> float:
    """The share of ``inner``'s area that lies inside ``outer`` (0 for an empty ``inner``)."""
    area = box_area(inner)
    return intersection(outer, inner) / area if area > 0 else 0.0


def contains(outer: Box, inner: Box, share: float = 0.6) -> bool:
    """At least ``share`` of ``inner``'s area lies inside ``outer``."""
    return box_area(inner) > 0 and covered_share(outer, inner) >= share


def at_edge(box: Box, margin: float = 0.02) -> bool:
    """The box reaches within ``margin`` of the frame's border."""
    return box[0] <= margin or box[1] <= margin or box[2] >= 1 - margin or box[3] >= 1 - margin


def median_box(boxes: Sequence[Box | None]) -> list[float] | None:
    """The per-coordinate median of the boxes that are there (None when none is), rounded to 3 places."""
    present = [b for b in boxes if b is not None]
    if not present:
        return None
    return [round(float(np.median([b[i] for b in present])), 3) for i in range(4)]


def crop(image: np.ndarray, box: Box, pad: float = 0.1) -> np.ndarray:
    """The part of ``image`` under a box, with a margin of ``pad`` box sizes (never empty)."""
    h, w = image.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = int(max(0, (box[0] - pad * bw) * w)), int(max(0, (box[1] - pad * bh) * h))
    x1, y1 = int(min(w, (box[2] + pad * bw) * w)), int(min(h, (box[3] + pad * bh) * h))
    return image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]


def box_mask(shape, box: Box) -> np.ndarray:
    """The box as a boolean mask of a frame of ``shape`` (at least one pixel each way)."""
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), bool)
    mask[int(y0 * h):max(int(y1 * h), int(y0 * h) + 1), int(x0 * w):max(int(x1 * w), int(x0 * w) + 1)] = True
    return mask


def box_ellipse(shape, box: Box) -> np.ndarray:
    """The ellipse inscribed in ``box`` as a full-frame boolean mask: where a box with no mask of its own
    (a face or body detector's hit) most likely has its instance."""
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), np.uint8)
    centre = (int(round((x0 + x1) / 2 * w)), int(round((y0 + y1) / 2 * h)))
    axes = (max(1, int(round((x1 - x0) / 2 * w))), max(1, int(round((y1 - y0) / 2 * h))))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    return mask > 0


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """The bounding box of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


def mask_centre(mask: np.ndarray) -> tuple[float, float]:
    """The centroid of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (float(xs.mean()) + 0.5) / w, (float(ys.mean()) + 0.5) / h


def upsample(mask: np.ndarray, shape) -> np.ndarray:
    """A low-resolution mask at the size of a frame of ``shape`` (nearest neighbour)."""
    h, w = shape[:2]
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
