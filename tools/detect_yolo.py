"""The neural detection backend: ultralytics YOLO with ByteTrack over the sampled frames.

Any detection weights work (YOLO11, YOLOv8, YOLO-World and YOLOE with ``class_hints``); a
segmentation model (``-seg``) also gives each instance a mask per frame. The tracker runs over
the sampled frames in order, which are far apart in time, so our ByteTrack settings
(``data/bytetrack_sampled.yaml``) match boxes more leniently than the video default. Instances are
chosen like the classical backend's: by persistence over all frames times size, at most N.

An ONNX export works too (``--yolo-weights x.onnx``; its task, class names and input size come from
the metadata ultralytics writes), notably ``nanodet-ultralytics.onnx``, the real COCO-80 NanoDet
weights that ``scripts/fetch_models.py`` wraps for ultralytics: it runs on onnxruntime, so it has
boxes and ByteTrack tracks but no masks (the segmentation backend makes those), and it runs on the
CPU unless onnxruntime has the execution provider of the device asked for (ultralytics would
otherwise try to pip-install onnxruntime-gpu when downloads are on).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from agent.core.evidence import Instances, InstanceTrack
from tools.weights import YoloSpec, keep_loaded, pick_device, prepare_ultralytics

from .instance_evidence import fill_evidence
from .shots import sample_shots

TRACKER = Path(__file__).parent / "data" / "bytetrack_sampled.yaml"
ONNX_PROVIDERS = {"cuda": "CUDAExecutionProvider", "mps": "CoreMLExecutionProvider"}


def load_yolo(spec: YoloSpec, settings):
    """The YOLO model for ``spec`` (kept for the process: a batch loads it once)."""
    prepare_ultralytics(settings)

    def build():
        from ultralytics import YOLO

        model = YOLO(spec.source)
        _name_classes(model)
        if settings.class_hints and hasattr(model, "set_classes"):
            model.set_classes(list(settings.class_hints))
        return model

    return keep_loaded(("yolo", spec.source, tuple(settings.class_hints)), build)


def _name_classes(model) -> None:
    """A model built from a config has numbers for class names; an 80-class one is COCO's layout.
    An export (ONNX) has its names in its metadata: asking before a predictor exists would load it
    an extra time, so it is left alone."""
    if isinstance(model.model, (str, Path)):
        return
    names = model.names
    if len(names) == 80 and all(str(v).isdigit() for v in names.values()):
        from ultralytics.utils import ROOT, YAML

        model.model.names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]


def onnx_device(source: str, device: str) -> str:
    """``device`` for a torch model; for an ONNX file, ``cpu`` unless onnxruntime can run it on ``device``."""
    if not str(source).lower().endswith(".onnx") or device == "cpu":
        return device
    import onnxruntime

    provider = ONNX_PROVIDERS.get(device.split(":")[0])
    return device if provider in onnxruntime.get_available_providers() else "cpu"


def _mask_from_polygons(polygons, shape) -> np.ndarray | None:
    h, w = shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for poly in polygons:
        if len(poly) >= 3:
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return mask.astype(bool) if mask.any() else None


def _track(model, sampled, settings, device, seen) -> None:
    for k, frame in enumerate(sampled):
        result = model.track(frame.image, persist=k > 0, tracker=str(TRACKER), conf=settings.yolo_conf,
                             device=device, verbose=False)[0]
        boxes = result.boxes
        if boxes is None or boxes.id is None or len(boxes) == 0:
            continue
        polygons = result.masks.xy if result.masks is not None else None
        for j, (xyxyn, tid, cls, conf) in enumerate(zip(boxes.xyxyn.tolist(), boxes.id.int().tolist(),
                                                        boxes.cls.int().tolist(), boxes.conf.tolist())):
            mask = _mask_from_polygons([polygons[j]], frame.image.shape) if polygons is not None else None
            seen[tid][k] = ([round(float(v), 4) for v in xyxyn], cls, float(conf), mask)


def detect_yolo(ctx, spec: YoloSpec, max_instances: int, loader=None) -> tuple[Instances, dict[str, list]]:
    settings = ctx.settings
    model = (loader or load_yolo)(spec, settings)
    device = onnx_device(spec.source, pick_device(settings.device))
    sampled = ctx.frames.sampled
    n = len(sampled)
    seen: dict[int, dict[int, tuple]] = defaultdict(dict)  # track id -> frame -> (box, class, conf, mask)
    import torch

    threads = torch.get_num_threads()  # ultralytics lowers it to cores - 1 on CPU; SAM2 runs next
    try:
        _track(model, sampled, settings, device, seen)
    finally:
        torch.set_num_threads(threads)
    names = model.names  # after tracking: an export's names come from the predictor's backend

    # the tracker follows boxes across a cut between shots too: a track is split there
    shots = sample_shots(ctx)
    per_shot: dict[tuple[int, int], dict[int, tuple]] = defaultdict(dict)
    for tid, items in seen.items():
        for k, item in items.items():
            per_shot[tid, shots[k]][k] = item
    min_seen = 1 if n < 3 else 2
    scored = []
    for key, items in per_shot.items():
        if len(items) < min(min_seen, shots.count(key[1])):
            continue
        area = float(np.mean([(b[2] - b[0]) * (b[3] - b[1]) for b, *_ in items.values()]))
        conf = float(np.mean([c for _, _, c, _ in items.values()]))
        scored.append((len(items) / n * math.sqrt(area) * conf, key))
    scored.sort(reverse=True)

    times = [f.time_s for f in sampled]
    instances, masks = [], {}
    for idx, (_, key) in enumerate(scored[:max_instances]):
        items, tid = per_shot[key], key[0]
        cls = Counter(c for _, c, _, _ in items.values()).most_common(1)[0][0]
        class_name = str(names[cls]) if cls in names else f"class {cls}"
        track = InstanceTrack(
            id=f"No.{idx}", class_name=class_name,
            confidence=round(float(np.mean([c for _, _, c, _ in items.values()])) * len(items) / n, 2),
            boxes=[items[k][0] if k in items else None for k in range(n)],
            recognised_by=["yolo"], track_id=tid,
        )
        frame_masks = [items[k][3] if k in items else None for k in range(n)]
        fill_evidence(track, times, [f.image for f in sampled], frame_masks, person=class_name == "person",
                      shots=shots)
        instances.append(track)
        masks[track.id] = frame_masks
    note = None if instances else "no instances: the detector found nothing it could track over two frames"
    return Instances(backend="neural", model=spec.label, instances=instances, frames_used=n,
                     candidates=sum(len(v) for v in seen.values()), note=note), masks
