"""Pretrained vision models on the CPU (onnxruntime), each loaded once per process.

* :func:`detect_objects` (:mod:`.detector`): COCO-80 boxes with NanoDet -> ``list[Detection]``;
* :func:`estimate_poses` (:mod:`.pose`): up to 6 people with 17 keypoints, MoveNet MultiPose -> ``list[Pose]``;
* :func:`classify` (:mod:`.classifier`): ImageNet-1k labels of a crop, EfficientNet-Lite0 -> ``list[(label, score)]``;
* :func:`detect_faces` (:mod:`.face`): faces in close-ups with 6 keypoints, BlazeFace short range -> ``list[Face]``.

The model files are installed by ``python scripts/fetch_models.py`` (``scripts/setup.sh`` runs it) into
``INSTANCE_AGENT_MODELS_DIR`` or ``~/.cache/instance-agent/models``; :func:`.models.model_path` finds and
checks them and raises :class:`tools.weights.WeightsMissing` when one is missing or damaged.
"""

from __future__ import annotations

_EXPORTS = {
    "Detection": "detector", "detect_objects": "detector", "COCO_LABELS": "detector",
    "Pose": "pose", "Keypoint": "pose", "estimate_poses": "pose", "KEYPOINTS": "pose",
    "classify": "classifier", "IMAGENET_LABELS": "classifier",
    "Face": "face", "detect_faces": "face",
    "model_path": "models", "models_dir": "models",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
