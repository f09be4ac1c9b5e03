"""``segment_and_blur``: a mask per instance and instance views with the background hidden.

Masks: GrabCut in a crop around each box, seeded with the detector's mask (or the box alone),
at a reduced size to stay fast. Views: one contact sheet per instance over the frames where it
is seen, its background Gaussian-blurred (default) or pixelated (InstanceCap's mosaic). The
instance evidence (positions, colours, size, motion) is re-measured on the refined masks.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.core.evidence import InstanceTrack, InstanceView, Segmentation
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool

from .frames import contact_sheet
from .geometry import box_ellipse
from .instance_evidence import fill_evidence
from .parallel import thread_map
from .shots import SHOT_FEED, sample_shots

WORK_SIZE = 80  # long side of the GrabCut crop (112 gave the same benchmark scores at 1.4x the time)
VIEW_WIDTH = 320  # width of one tile of an instance's contact sheet


class SegmentArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    background: str | None = Field(None, description="'blur' (default) or 'pixelate'")


def refine_mask(image: np.ndarray, box, seed: np.ndarray | None, iterations: int = 2) -> np.ndarray:
    """GrabCut the instance inside ``box`` (normalised); returns a full-frame boolean mask.

    Where GrabCut cannot run or loses the instance, the mask is the seed, or for a detector's box
    alone the ellipse inscribed in it.
    """
    h, w = image.shape[:2]

    def fallback() -> np.ndarray:
        return seed if seed is not None else box_ellipse((h, w), box)

    x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * w, (y1 - y0) * h
    mx, my = 0.25 * bw + 4, 0.25 * bh + 4
    cx0, cy0 = int(max(0, x0 * w - mx)), int(max(0, y0 * h - my))
    cx1, cy1 = int(min(w, x1 * w + mx)), int(min(h, y1 * h + my))
    if cx1 - cx0 < 8 or cy1 - cy0 < 8:
        return fallback()
    crop = image[cy0:cy1, cx0:cx1]
    scale = min(1.0, WORK_SIZE / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop
    sh, sw = small.shape[:2]
    gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    bx0, by0 = int((x0 * w - cx0) * scale), int((y0 * h - cy0) * scale)
    bx1, by1 = int(np.ceil((x1 * w - cx0) * scale)), int(np.ceil((y1 * h - cy0) * scale))
    gc[by0:by1, bx0:bx1] = cv2.GC_PR_BGD
    if seed is not None and seed[cy0:cy1, cx0:cx1].any():
        s = cv2.resize(seed[cy0:cy1, cx0:cx1].astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
        gc[s] = cv2.GC_PR_FGD
        core = cv2.erode(s.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        gc[core] = cv2.GC_FGD if core.sum() > 20 else cv2.GC_PR_FGD
    else:
        # no seed: the box's centre is probably the instance
        gc[by0 + (by1 - by0) // 4:by1 - (by1 - by0) // 4, bx0 + (bx1 - bx0) // 4:bx1 - (bx1 - bx0) // 4] = cv2.GC_PR_FGD
    if not (gc == cv2.GC_BGD).any() or not np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        return fallback()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models with k-means++ from OpenCV's per-thread random generator; a
    # fixed seed makes a mask depend on this call alone, not on what the process ran before it
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(small, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return fallback()
    fg = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    fg = cv2.resize(fg, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_NEAREST)
    out = np.zeros((h, w), bool)
    out[cy0:cy1, cx0:cx1] = fg > 0
    if out.sum() < 0.2 * (seed.sum() if seed is not None else bw * bh * 0.3):
        return fallback()  # GrabCut lost the instance
    return out


def hide_background(image: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    h, w = image.shape[:2]
    if mode == "pixelate":
        # InstanceCap's mosaic: shrink hard, scale back with nearest neighbours
        factor = max(2, min(h, w) // 24)
        small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        hidden = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    else:
        sigma = max(3.0, 0.02 * max(h, w))
        hidden = cv2.GaussianBlur(image, (0, 0), sigma)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)[..., None]
    return (image * alpha + hidden * (1 - alpha)).astype(np.uint8)


def _view_size(image: np.ndarray, mask: np.ndarray, width: int = VIEW_WIDTH):
    """Shrink a frame and its mask to the contact sheet's tile size before hiding the background."""
    h, w = image.shape[:2]
    if w <= width:
        return image, mask
    size = (width, max(1, int(round(h * width / w))))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0


def _refined(ctx, inst: InstanceTrack, masks: list, images: list, times: list[float], shots: list[int],
             mode: str) -> tuple[InstanceView, Path]:
    """The instance's evidence on its refined masks (filled in place), and its view with the background hidden."""
    fill_evidence(inst, times, images, masks, person=inst.class_name == "person", shots=shots)
    seen = [k for k, m in enumerate(masks) if m is not None]
    tiles = [hide_background(*_view_size(images[k], masks[k]), mode) for k in seen]
    sheet = contact_sheet(tiles, [f"{inst.id} {inst.class_name}"] + [""] * (len(tiles) - 1), VIEW_WIDTH)
    path = ctx.output_path("instances", f"{inst.id.replace('.', '')}_{inst.class_name}.jpg")
    cv2.imwrite(str(path), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    area = float(np.mean([masks[k].mean() for k in seen])) if seen else 0.0
    return InstanceView(id=inst.id, image=str(path), mask_area=round(area, 5), frames=len(seen)), path


def _try_sam2(ctx, instances):
    """(masks by instance, model label, None) from SAM2, or (None, None, why not)."""
    from tools.weights import resolve_sam2, try_neural

    def run():
        spec = resolve_sam2(ctx.settings)
        from .segment_sam2 import segment_sam2

        masks = segment_sam2(ctx, spec, instances)
        ctx.emit("backend", tool="segment_and_blur", backend="neural", model=spec.label)
        return masks, spec.label

    found, reason = try_neural(ctx, "segment_and_blur", "SAM2", "grabcut", run)
    return (found[0], found[1], None) if found else (None, None, reason)


class SegmentAndBlur(Tool):
    name = "segment_and_blur"
    description = (
        "Segment each detected instance and make one view per instance with the background hidden "
        "(blurred, or pixelated), shown to you as images; re-measures positions and colours on the masks."
    )
    Args = SegmentArgs
    version = "2"
    evidence_model = Segmentation
    requires = ("detect_instances",)
    consumes = ("detect.masks",)
    produces = ("segment.masks",)  # per instance and sampled frame, at full resolution
    reads_settings = ("background", "backend", "sam2_model", "sam2_checkpoint", "sam2_image_size",
                      "device", "weights_dir", "allow_downloads", "random_weights")
    stage = "gpu"
    plan = 40
    feeds = (SHOT_FEED,)

    def run(self, ctx, args: SegmentArgs) -> Observation:
        mode = args.background or ctx.settings.background
        if mode not in ("blur", "pixelate"):
            return Observation({"error": f"background must be 'blur' or 'pixelate', not {mode!r}"}, ok=False)
        found = ctx.require("detect_instances")
        if not found or not found.get("instances"):
            ctx.artifacts["segment.masks"] = {}
            return Observation({"views": 0, "note": "no instances to segment"},
                               Segmentation(method="none", background=mode))
        sampled = ctx.frames.sampled
        times = [f.time_s for f in sampled]
        shots = sample_shots(ctx)
        seeds = ctx.artifacts.get("detect.masks", {})
        instances = [InstanceTrack.model_validate(raw) for raw in found["instances"]]
        neural, model, fallback = _try_sam2(ctx, instances) if ctx.settings.backend in ("auto", "neural") else (None, None, None)
        by_method: dict[str, int] = {}
        masks_of: dict[tuple[str, int], np.ndarray] = {}
        grabcut: list[tuple[str, int]] = []  # the (instance, frame) masks SAM2 did not give
        for inst in instances:
            for k in range(len(sampled)):
                if k >= len(inst.boxes) or inst.boxes[k] is None:
                    continue
                from_sam2 = neural[inst.id][k] if neural is not None else None
                if from_sam2 is not None and from_sam2.any():
                    masks_of[inst.id, k] = from_sam2
                    method = "sam2"
                else:
                    grabcut.append((inst.id, k))
                    method = "grabcut" if from_sam2 is None else "grabcut (sam2 mask empty)"
                by_method[method] = by_method.get(method, 0) + 1
        boxes = {inst.id: inst.boxes for inst in instances}
        no_seeds = [None] * len(sampled)
        cut = thread_map(lambda job: refine_mask(sampled[job[1]].image, boxes[job[0]][job[1]],
                                                 seeds.get(job[0], no_seeds)[job[1]]), grabcut)
        masks_of.update(zip(grabcut, cut))
        images_of = [f.image for f in sampled]
        masks_by = {inst.id: [masks_of.get((inst.id, k)) for k in range(len(sampled))] for inst in instances}
        done = thread_map(lambda inst: _refined(ctx, inst, masks_by[inst.id], images_of, times, shots, mode),
                          instances)  # one instance per core
        views, images = [view for view, _ in done], [path for _, path in done]
        ctx.artifacts["segment.masks"] = masks_by
        method = "sam2" if neural is not None else "grabcut"
        evidence = Segmentation(method=method, model=model, fallback_reason=fallback, background=mode, views=views,
                                instances=instances, frames_by_method=by_method)
        summary = {
            "views": [{"id": v.id, "mask_area": v.mask_area, "frames": v.frames} for v in views],
            "instances": [{"id": i.id, "colours": i.colours[:3], "from": i.start_cell, "to": i.end_cell}
                          for i in instances],
            "images": "attached below, one per instance",
        }
        return Observation(summary, evidence, images)


@hookimpl
def register_tools():
    return [SegmentAndBlur()]
