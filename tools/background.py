"""``describe_background``: measured facts about everything that is not an instance."""

from __future__ import annotations

import cv2
import numpy as np

from agent.core.evidence import Background
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool

from .colors import dominant_colours


def describe(frames: list[np.ndarray], masks: list[np.ndarray]) -> Background:
    """``masks`` marks instance pixels (True) per frame; the rest is background."""
    pixels, upper, lower, lum, grad, chroma = [], [], [], [], [], []
    for img, inst in zip(frames, masks):
        h, w = img.shape[:2]
        scale = min(1.0, 320.0 / max(h, w))
        small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img
        m = cv2.resize(inst.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) == 0
        sh = small.shape[0]
        pixels.append(small[m])
        rows = np.arange(sh)[:, None]
        upper.append(small[m & (rows < sh // 3)])
        lower.append(small[m & (rows >= 2 * sh // 3)])
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
        lum.append(lab[..., 0][m] * 100 / 255)
        chroma.append(np.hypot(lab[..., 1][m] - 128, lab[..., 2][m] - 128))
        g = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
        mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
        grad.append(mag[m])
    px = np.concatenate(pixels) if pixels else np.zeros((0, 3), np.uint8)
    lum_all = np.concatenate(lum) if lum else np.zeros(1)
    mean_l, std_l = float(lum_all.mean()), float(lum_all.std())
    g_mean = float(np.concatenate(grad).mean()) if grad else 0.0
    c_mean = float(np.concatenate(chroma).mean()) if chroma else 0.0
    names = lambda arr: [n for n, _ in dominant_colours(arr, k=4, min_share=0.15)] if len(arr) else []  # noqa: E731
    return Background(
        colours=names(px)[:3],
        brightness="dark" if mean_l < 20 else "dim" if mean_l < 40 else "moderately lit" if mean_l < 65 else "bright",
        contrast="low" if std_l < 10 else "moderate" if std_l < 22 else "high",
        texture="smooth" if g_mean < 20 else "lightly textured" if g_mean < 60 else "richly textured",
        upper_colours=names(np.concatenate(upper))[:2] if upper else [],
        lower_colours=names(np.concatenate(lower))[:2] if lower else [],
        saturation="muted" if c_mean < 12 else "moderate" if c_mean < 30 else "vivid",
    )


class DescribeBackground(Tool):
    name = "describe_background"
    description = (
        "Measure the background (everything but the detected instances): main colours, colours of "
        "the upper and lower parts of the frame, brightness, contrast, saturation and texture."
    )
    version = "2"
    evidence_model = Background
    requires = ("segment_and_blur",)  # so instance pixels are left out
    consumes = ("segment.masks", "detect.masks")
    plan = 50

    def run(self, ctx, args) -> Observation:
        ctx.require("segment_and_blur")
        sampled = ctx.frames.sampled
        # the segmentation's masks; the detector's where segmentation failed
        masks_by_id = ctx.artifacts.get("segment.masks") or ctx.artifacts.get("detect.masks", {})
        union = []
        for k, f in enumerate(sampled):
            m = np.zeros(f.image.shape[:2], bool)
            for per_frame in masks_by_id.values():
                if k < len(per_frame) and per_frame[k] is not None:
                    m |= per_frame[k]
            union.append(m)
        result = describe([f.image for f in sampled], union)
        return Observation(result.model_dump(), result)


@hookimpl
def register_tools():
    return [DescribeBackground()]
