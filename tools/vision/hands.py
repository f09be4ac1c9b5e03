"""Hands with MediaPipe's palm detector and hand landmark model (Apache-2.0; the tflite files of PyPI
``mediapipe==0.10.21``, run with ``ai-edge-litert``; mediapipe itself is not installed).

The palm detector takes RGB [1, 192, 192, 3] in 0..1 and gives, for 2016 SSD anchors (24x24 cells with
2 anchors at stride 8, 12x12 cells with 6 at stride 16, all of size 1), 18 regressors (palm centre
offset, width, height in input pixels, then 7 keypoints) and a logit. Palms are letterboxed in, merged
by weighted non-maximum suppression and mapped back. A palm box covers the palm only: the hand is the
palm box widened by :data:`HAND_SCALE` around its centre. Each hand is confirmed by the landmark model
on a square crop of it (its hand-presence output, 0..1): a palm detection the landmark model does not
see a hand in (a face, a fist-shaped texture) is dropped. Measured here: the pointing hand in
ultralytics' ``zidane.jpg`` at palm 0.70 and presence 0.87; a face, a suit and a crowd at presence
0.001 or less.
"""

from __future__ import annotations

import contextlib
import os

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from tools.weights import WeightsMissing, keep_loaded

from .image import letterbox
from .models import model_path
from .ssd import anchor_centres, blended

PALM = "palm-detection-full"
LANDMARK = "hand-landmark-lite"
SIZE = 192
LANDMARK_SIZE = 224
PALM_SCORE = 0.5  # MediaPipe's own threshold for a palm
PRESENCE = 0.5  # the landmark model's hand presence above which a palm is a hand
HAND_SCALE = 2.2  # a hand's box is this many palm boxes wide and tall (fingers and wrist around the palm)
CHECK_SCALE = 3.0  # the landmark model is shown this many palm boxes (it expects the hand with a margin:
# on zidane.jpg's hand its presence is 0.21 at 2.2 palm boxes, 0.46 at 2.6, 0.87 at 3.0)


ANCHORS = anchor_centres(SIZE)  # [2016, 2] anchor centres in input pixels
_lock = threading.Lock()


@dataclass(frozen=True)
class Hand:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image given (the whole hand)
    score: float  # the palm detector's
    presence: float  # the landmark model's hand presence


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send what native code writes to file descriptor 2 to /dev/null for the moment of a model build
    (Python's own ``sys.stderr`` is untouched)."""
    try:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def interpreter(name: str, threads: int | None = None):
    """One LiteRT interpreter per model and process, or WeightsMissing naming what is not here."""
    path = model_path(name)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise WeightsMissing(f"{name} needs the ai-edge-litert package (pip install ai-edge-litert==2.3.0)") from None

    def build():
        with _native_stderr_silenced():  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" here
            it = Interpreter(model_path=str(path), num_threads=max(1, threads or 1))
            it.allocate_tensors()
        return it

    return keep_loaded(("litert", name, str(path), threads or 1), build)


def _run(it, x: np.ndarray) -> list[np.ndarray]:
    with _lock:  # an interpreter is not safe to share between threads
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return [it.get_tensor(o["index"]).copy() for o in it.get_output_details()]


def detect_palms(image_bgr: np.ndarray, min_score: float = PALM_SCORE, *, iou: float = 0.3,
                 threads: int | None = None) -> list[tuple[tuple[float, float, float, float], float]]:
    """(palm box in image pixels, score) of each palm, best first."""
    canvas, lb = letterbox(image_bgr, SIZE, SIZE)
    x = np.ascontiguousarray(canvas[None, :, :, ::-1], dtype=np.float32) / 255.0
    reg, logits = _run(interpreter(PALM, threads), x)
    return [(tuple(float(v) for v in lb.to_image(box)), score)
            for box, score, _, _ in blended(reg[0], logits[0, :, 0], ANCHORS, min_score, iou)]


def hand_box(palm: tuple[float, float, float, float], width: int, height: int,
             scale: float = HAND_SCALE) -> tuple[float, float, float, float]:
    """The square ``scale`` palm boxes wide around a palm (the whole hand), clipped to the image."""
    x1, y1, x2, y2 = palm
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * scale / 2
    return max(0.0, cx - half), max(0.0, cy - half), min(float(width), cx + half), min(float(height), cy + half)


def presence(image_bgr: np.ndarray, box, threads: int | None = None) -> float:
    """The landmark model's hand presence (0..1) in a square crop around ``box``."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    patch = image_bgr[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]
    if patch.size == 0:
        return 0.0
    side = max(patch.shape[:2])
    square = np.zeros((side, side, 3), np.uint8)
    oy, ox = (side - patch.shape[0]) // 2, (side - patch.shape[1]) // 2
    square[oy:oy + patch.shape[0], ox:ox + patch.shape[1]] = patch
    x = cv2.resize(square, (LANDMARK_SIZE, LANDMARK_SIZE), interpolation=cv2.INTER_AREA)[None, :, :, ::-1]
    outputs = _run(interpreter(LANDMARK, threads), np.ascontiguousarray(x, dtype=np.float32) / 255.0)
    return float(outputs[1].ravel()[0])


def detect_hands(image_bgr: np.ndarray, *, threads: int | None = None) -> list[Hand]:
    """Hands in a BGR uint8 image, each a palm the landmark model confirms, best first."""
    h, w = image_bgr.shape[:2]
    hands = []
    for palm, score in detect_palms(image_bgr, threads=threads):
        p = presence(image_bgr, hand_box(palm, w, h, CHECK_SCALE), threads)
        if p >= PRESENCE:
            hands.append(Hand(hand_box(palm, w, h), score, p))
    return hands
