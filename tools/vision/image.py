"""Letterboxing: fit an image into a model's input without distorting it, and map points back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Letterbox:
    """How an image of ``size`` (w, h) was placed in the model input: scaled by ``scale``, then shifted by
    (``dx``, ``dy``) input pixels. ``to_image`` maps input pixel coordinates back to the image's."""

    scale: float
    dx: float
    dy: float
    size: tuple[int, int]

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """``xy`` [..., 2k] as x, y, x, y, ... in input pixels -> image pixels, clipped to the image."""
        out = np.array(xy, dtype=np.float64, copy=True)
        out[..., 0::2] = np.clip((out[..., 0::2] - self.dx) / self.scale, 0, self.size[0])
        out[..., 1::2] = np.clip((out[..., 1::2] - self.dy) / self.scale, 0, self.size[1])
        return out


def letterbox(image: np.ndarray, width: int, height: int, *, center: bool = True, pad: int = 0,
              max_side: int | None = None) -> tuple[np.ndarray, Letterbox]:
    """``image`` (H, W, 3) scaled to fit ``width`` x ``height`` (aspect kept) on a ``pad`` canvas of that size."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    dx, dy = ((width - nw) // 2, (height - nh) // 2) if center else (0, 0)
    canvas = np.full((height, width, 3), pad, np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[dy:dy + nh, dx:dx + nw] = cv2.resize(np.ascontiguousarray(image), (nw, nh), interpolation=interp)
    # the exact scale of each axis differs from ``scale`` by the rounding of nw, nh: use the mean
    exact = (nw / w + nh / h) / 2
    return canvas, Letterbox(exact, dx, dy, (w, h))
