"""Decoded pictures: a frame as the tools get it, and the conversions the decode pass makes
(upright, shrunk straight from the 4:2:0 planes)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from agent.run.media.probe import VideoInfo


@dataclass
class Frame:
    index: int  # position among the decoded frames
    time_s: float  # presentation time from the start of the clip
    image: np.ndarray  # BGR uint8, upright


def rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    k = (round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def shrink(frame, width: int, height: int) -> np.ndarray:
    """A decoded frame as a small BGR array.

    For 4:2:0 video (nearly all of it) each plane is shrunk by area averaging first and only the
    small picture is converted to BGR: a fifth of the cost of swscale's scale-and-convert, which
    is what the motion stream otherwise spends most of its time on.
    """
    w, h = frame.width, frame.height
    if frame.format.name != "yuv420p" or w % 2 or h % 2 or width % 2 or height % 2:
        return frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
    planes = frame.to_ndarray()  # (h * 3 / 2, w): Y, then U and V at half size each
    y = cv2.resize(planes[:h], (width, height), interpolation=cv2.INTER_AREA)
    uv = planes[h:].reshape(2, h // 2, w // 2)
    u = cv2.resize(uv[0], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    v = cv2.resize(uv[1], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


def coded_size(info: VideoInfo) -> tuple[int, int, bool]:
    """The frames' size as decoded (before the display rotation), and whether rotation swaps it."""
    swapped = (round(info.rotation / 90.0)) % 2 == 1
    coded_w, coded_h = (info.height, info.width) if swapped else (info.width, info.height)
    return coded_w, coded_h, swapped


def shrunk_size(coded_w: int, coded_h: int, long_side: int) -> tuple[int, int]:
    """An even size with the long side at most ``long_side`` (never enlarged)."""
    longest = max(coded_w, coded_h)
    scale = min(1.0, long_side / longest) if longest else 1.0
    return max(2, int(round(coded_w * scale / 2)) * 2), max(2, int(round(coded_h * scale / 2)) * 2)
