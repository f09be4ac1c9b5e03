"""The neural segmentation backend: the SAM2 video predictor, seeded with the detector's boxes.

The sampled frames come from the run's frame cache (written once as JPEGs into the run folder,
which is the form SAM2's video loader reads); each instance is prompted with its box on the first
frame where it was detected, and the masks are propagated forwards and backwards over the frames.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import cv2
import numpy as np

from tools.weights import Sam2Spec, keep_loaded, pick_device


def load_predictor(spec: Sam2Spec, settings):
    device = pick_device(settings.device)

    def build():
        extra = [f"++model.image_size={settings.sam2_image_size}"] if settings.sam2_image_size else []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if spec.hub_id:
                from sam2.sam2_video_predictor import SAM2VideoPredictor

                return SAM2VideoPredictor.from_pretrained(spec.hub_id, device=device)
            from sam2.build_sam import build_sam2_video_predictor

            return build_sam2_video_predictor(spec.config, ckpt_path=spec.checkpoint, device=device,
                                              hydra_overrides_extra=extra)

    return keep_loaded(("sam2", spec.config, spec.checkpoint, spec.hub_id, device, settings.sam2_image_size), build)


def segment_sam2(ctx, spec: Sam2Spec, instances, loader=None) -> dict[str, list[np.ndarray | None]]:
    """Per instance id, a full-frame mask per sampled frame: None where the detector did not see the
    instance, possibly empty where SAM2 lost it."""
    import torch

    predictor = (loader or load_predictor)(spec, ctx.settings)
    sampled = ctx.frames.sampled
    folder = ctx.output_path("frames", "sam2", "x").parent
    for k, frame in enumerate(sampled):
        path = folder / f"{k:05d}.jpg"
        if not path.exists():
            cv2.imwrite(str(path), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    h, w = sampled[0].image.shape[:2]
    out: dict[str, list[np.ndarray | None]] = {inst.id: [None] * len(sampled) for inst in instances}
    prompted = [(i + 1, inst) for i, inst in enumerate(instances) if inst.seen()]
    if not prompted:
        return out
    # SAM2 draws tqdm bars on stderr, which belongs to our trace
    with torch.inference_mode(), warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        state = predictor.init_state(video_path=str(folder))
        for obj_id, inst in prompted:
            k = inst.seen()[0]
            x0, y0, x1, y1 = inst.boxes[k]
            predictor.add_new_points_or_box(state, frame_idx=k, obj_id=obj_id,
                                            box=np.array([x0 * w, y0 * h, x1 * w, y1 * h], np.float32))
        by_obj = {obj_id: inst for obj_id, inst in prompted}
        first = min(inst.seen()[0] for _, inst in prompted)
        passes = [False, True] if first > 0 else [False]
        for reverse in passes:
            for k, obj_ids, logits in predictor.propagate_in_video(state, reverse=reverse):
                for j, obj_id in enumerate(obj_ids):
                    inst = by_obj[int(obj_id)]
                    if inst.boxes[k] is None:
                        continue
                    mask = (logits[j, 0] > 0).cpu().numpy()
                    if mask.shape != (h, w):
                        mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                    out[inst.id][k] = mask  # may be empty: the caller decides what to do then
        predictor.reset_state(state)
    return out
