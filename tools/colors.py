"""Naming the dominant colours of a set of pixels: k-means in CIELAB, nearest named colour."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np


@lru_cache(maxsize=1)
def palette() -> tuple[list[str], np.ndarray]:
    data = json.loads(resources.files("tools").joinpath("data/colors.json").read_text())
    names = [k for k in data if not k.startswith("_")]
    rgb = np.array([data[k] for k in names], np.uint8).reshape(-1, 1, 3)
    lab = cv2.cvtColor(rgb[:, :, ::-1], cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
    return names, _lab_units(lab)


def _lab_units(lab_u8: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit Lab (L*255/100, a+128, b+128) to true CIELAB units."""
    lab = lab_u8.astype(np.float32)
    return np.stack([lab[:, 0] * 100.0 / 255.0, lab[:, 1] - 128.0, lab[:, 2] - 128.0], axis=1)


def name_lab(lab: np.ndarray) -> str:
    names, ref = palette()
    return names[int(np.argmin(np.linalg.norm(ref - lab[None, :], axis=1)))]


def dominant_colours(pixels_bgr: np.ndarray, k: int = 3, min_share: float = 0.2,
                     max_pixels: int = 4000) -> list[tuple[str, float]]:
    """(name, share) of the main colours of ``pixels_bgr`` (N x 3), largest first, names unique."""
    px = pixels_bgr.reshape(-1, 3)
    if len(px) == 0:
        return []
    if len(px) > max_pixels:  # a fixed stride keeps it deterministic
        px = px[:: len(px) // max_pixels + 1]
    lab = _lab_units(cv2.cvtColor(px.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_BGR2LAB).reshape(-1, 3))
    k = max(1, min(k, len(lab)))
    if k == 1:
        return [(name_lab(lab.mean(axis=0)), 1.0)]
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(7)
    _, labels, centres = cv2.kmeans(lab.astype(np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / float(len(labels))
    out: dict[str, float] = {}
    for idx in np.argsort(-shares):
        if shares[idx] < min_share and out:
            continue
        name = name_lab(centres[idx])
        out[name] = out.get(name, 0.0) + float(shares[idx])
    return sorted(out.items(), key=lambda kv: -kv[1])
