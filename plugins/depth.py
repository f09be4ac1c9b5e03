"""Depth (an Any2Caption condition): the scene's depth layout and each instance's depth order.

Condition ``depth`` (``--condition depth``). The tool ``estimate_depth`` has two backends:

* neural: a transformers depth model (Depth Anything V2 Small by default, ``[plugins.depth]
  model`` or ``--depth-model``: a hub id or a local folder) on three sampled frames (first, middle, last). It
  predicts relative inverse depth: larger is nearer. An instance's depth is the median over its
  mask; its order (foreground, middle, background) is where that median falls among the
  frame's values. The layout compares the frame's top and bottom, left and right halves.
* classical (no weights): where each instance meets the ground. The lower an instance's bottom
  edge sits in the frame, the nearer it is (a camera above a ground plane); the scene layout is
  not measured.
"""

from __future__ import annotations

from statistics import median

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.core.caption import CaptionSection
from agent.core.conditions import Condition
from agent.core.evidence import instances_of
from agent.core.hookspecs import hookimpl
from tools.geometry import box_mask
from tools.weights import try_neural
from agent.core.tool import NoArgs, Observation, Tool

SECTION = "Depth"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class DepthEvidence(BaseModel):
    method: str
    layout: str | None = None
    order: dict[str, str] = Field(default_factory=dict, description="instance id -> foreground | middle | background")
    nearness: dict[str, float] = Field(default_factory=dict, description="instance id -> 0 (far) .. 1 (near)")
    frames: list[float] = Field(default_factory=list)
    fallback_reason: str | None = None


class DepthSection(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    layout: str = Field(alias="Layout")
    instances: dict[str, str] = Field(default_factory=dict, alias="Instances")
    method: str = Field(alias="Method")


def order_word(nearness: float) -> str:
    return "foreground" if nearness >= 0.66 else "middle ground" if nearness >= 0.33 else "background"


def layout_sentence(depth: np.ndarray) -> str:
    """From a relative inverse-depth map (larger = nearer)."""
    h, w = depth.shape
    top, bottom = float(np.median(depth[: h // 2])), float(np.median(depth[h // 2:]))
    left, right = float(np.median(depth[:, : w // 2])), float(np.median(depth[:, w // 2:]))
    spread = float(np.percentile(depth, 95) - np.percentile(depth, 5)) or 1.0
    parts = []
    if (bottom - top) / spread > 0.15:
        parts.append("the scene recedes from the bottom of the frame towards the top")
    elif (top - bottom) / spread > 0.15:
        parts.append("the upper part of the frame is nearer than the lower part")
    else:
        parts.append("the scene lies at a similar distance from top to bottom")
    if abs(left - right) / spread > 0.15:
        parts.append(f"the {'left' if left > right else 'right'} side is nearer")
    text = ", and ".join(parts)
    return text[0].upper() + text[1:] + "."


def random_depth_model():
    """Depth Anything V2 Small's architecture with random weights (tests, CI)."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, image_size=518,
                            patch_size=14, out_features=["stage3", "stage6", "stage9", "stage12"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, fusion_hidden_size=64, head_hidden_size=32,
                                 neck_hidden_sizes=[48, 96, 192, 384], reassemble_hidden_size=384)
    return DepthAnythingForDepthEstimation(config).eval()


class DepthSettings(BaseModel):
    """``[plugins.depth]`` (flags ``--depth-model``)."""
    model_config = ConfigDict(extra="forbid")
    model: str = Field("depth-anything/Depth-Anything-V2-Small-hf",
                       description="transformers depth model id or folder (neural depth backend)")


def load_depth_model(settings, model_id: str):
    from tools.weights import WeightsMissing, keep_loaded, pick_device

    device = pick_device(settings.device)

    def build():
        if settings.random_weights:
            model = random_depth_model()
        else:
            from transformers import AutoModelForDepthEstimation

            try:
                model = AutoModelForDepthEstimation.from_pretrained(model_id,
                                                                    local_files_only=not settings.allow_downloads)
            except OSError as e:
                raise WeightsMissing(f"depth model {model_id} is not in the Hugging Face cache or a local "
                                     f"folder and downloads are off ({type(e).__name__})") from e
            model.eval()
        return model.to(device)

    return keep_loaded(("depth", model_id, settings.random_weights, device), build), device


def predict_depth(model, device: str, image: np.ndarray, size: int = 518) -> np.ndarray:
    import torch

    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(14, int(round(h * scale / 14)) * 14), max(14, int(round(w * scale / 14)) * 14)
    rgb = cv2.cvtColor(cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    x = ((rgb.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(x).to(device)).predicted_depth[0].float().cpu().numpy()
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


class EstimateDepth(Tool):
    name = "estimate_depth"
    description = ("Estimate the scene's depth layout and put each instance in the foreground, middle ground or "
                   "background.")
    Args = NoArgs
    version = "1"
    evidence_model = DepthEvidence
    requires = ("segment_and_blur",)
    consumes = ("segment.masks",)
    reads_settings = ("backend", "plugins",
                      "device", "weights_dir", "allow_downloads", "random_weights")
    stage = "gpu"
    plan = 70

    def run(self, ctx, args) -> Observation:
        ctx.require("segment_and_blur")
        insts = instances_of(ctx.evidence)
        sampled = ctx.frames.sampled
        masks = ctx.artifacts.get("segment.masks") or {}
        evidence, reason = None, None
        if ctx.settings.backend in ("auto", "neural"):
            evidence, reason = try_neural(ctx, self.name, "depth model", "ground contact",
                                          lambda: self._neural(ctx, insts, sampled, masks))
        if evidence is None:
            evidence = self._ground_contact(insts, sampled)
            evidence.fallback_reason = reason
        summary = {"method": evidence.method, "layout": evidence.layout, "order": evidence.order}
        return Observation(summary, evidence)

    def _neural(self, ctx, insts, sampled, masks) -> DepthEvidence:
        model_id = CONDITION.settings_from(ctx.settings).model
        model, device = load_depth_model(ctx.settings, model_id)
        picks = sorted({0, len(sampled) // 2, len(sampled) - 1})
        near: dict[str, list[float]] = {i.id: [] for i in insts}
        maps = []
        for k in picks:
            depth = predict_depth(model, device, sampled[k].image)
            maps.append(depth)
            ranked = np.sort(depth.ravel())
            for inst in insts:
                m = masks.get(inst.id, [None] * len(sampled))[k] if inst.boxes[k] is not None else None
                if m is None and inst.boxes[k] is not None:
                    m = box_mask(depth.shape, inst.boxes[k])
                if m is None or not m.any():
                    continue
                value = float(np.median(depth[m]))
                near[inst.id].append(float(np.searchsorted(ranked, value)) / ranked.size)
        nearness = {k: round(median(v), 3) for k, v in near.items() if v}
        label = "random weights" if ctx.settings.random_weights else model_id
        return DepthEvidence(method=f"depth model ({label})", layout=layout_sentence(np.mean(maps, axis=0)),
                             order={k: order_word(v) for k, v in nearness.items()}, nearness=nearness,
                             frames=[sampled[k].time_s for k in picks])

    @staticmethod
    def _ground_contact(insts, sampled) -> DepthEvidence:
        nearness = {}
        for inst in insts:
            bottoms = [b[3] for b in inst.boxes if b is not None]
            if bottoms:
                nearness[inst.id] = round(float(np.clip((median(bottoms) - 0.35) / 0.6, 0.0, 1.0)), 3)
        return DepthEvidence(method="ground contact (no depth model)", layout=None,
                             order={k: order_word(v) for k, v in nearness.items()}, nearness=nearness,
                             frames=[f.time_s for f in sampled])


def _sentences(section: dict) -> list[tuple[str, str]]:
    """How the section reads in a paragraph: the layout a depth model measured (ground contact orders the
    instances but says nothing of the scene's layout)."""
    if not isinstance(section, dict) or not str(section.get("Method", "")).startswith("depth model"):
        return []
    return [(f"{SECTION} layout", section.get("Layout", ""))]


def section_from(ev: DepthEvidence) -> dict:
    """The Depth section: the layout (a depth model's), each instance's plane, and how it was measured."""
    instances = {k: f"in the {v}" for k, v in ev.order.items()}
    layout = ev.layout or "Not measured without a depth model; the instances are ordered by where they meet the ground."
    return {"Layout": layout, "Instances": instances, "Method": ev.method}


CONDITION = Condition(
    "depth", "Any2Caption's depth: the layout, and each instance in the foreground, middle ground or background",
    section=CaptionSection(SECTION, DepthSection, rank=5, text=_sentences),
    settings=DepthSettings, tools=(EstimateDepth,), compose=section_from)


@hookimpl
def register_conditions():
    return [CONDITION]
