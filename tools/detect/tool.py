"""The ``detect_instances`` tool: the best detection tier that can run here (YOLO, the packaged models,
the classical pipeline), the masks it leaves for segmentation, and what the model reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.core.evidence import Instances
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool

from .classical import detect_classical
from ..shots import SHOT_FEED
from .instances import instance_summary


class DetectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_instances: int | None = Field(None, ge=1, le=20, description="most instances to keep (default from settings)")


class DetectInstances(Tool):
    name = "detect_instances"
    description = (
        "Detect and track the main instances (people and moving objects) across the sampled frames. "
        "Returns each instance's class, colours, size, start and end cell on a 3x3 grid and motion."
    )
    Args = DetectArgs
    version = "3"
    evidence_model = Instances
    requires = ("estimate_camera_motion",)
    consumes = ("camera.pairs",)
    produces = ("detect.masks",)  # per instance and sampled frame, at the motion stream's size
    reads_settings = ("backend", "max_instances", "yolo_weights", "yolo_conf", "class_hints",
                      "device", "weights_dir", "allow_downloads", "random_weights")
    stage = "gpu"
    plan = 30
    feeds = (SHOT_FEED,)

    def run(self, ctx, args: DetectArgs) -> Observation:
        limit = ctx.settings.max_instances if args.max_instances is None else args.max_instances
        backend = ctx.settings.backend
        result, masks = None, {}
        reasons = []
        if backend in ("auto", "neural"):
            result, masks, why = _try_neural(ctx, limit, "packaged" if backend == "auto" else "classical")
            reasons += [why] if why else []
        if result is None and backend in ("auto", "packaged"):
            result, masks, why = _try_packaged(ctx, limit)
            reasons += [why] if why else []
        if result is None:
            result, masks = detect_classical(ctx, limit)
        if result.backend != "neural":
            result.fallback_reason = "; ".join(reasons) or None
        ctx.artifacts["detect.masks"] = masks
        summary = {"backend": result.backend, "count": len(result.instances),
                   "instances": [instance_summary(i) for i in result.instances]}
        if result.model:
            summary["model"] = result.model
        if result.note:
            summary["note"] = result.note
        return Observation(summary, result)


def _try_neural(ctx, limit: int, fallback: str):
    """(instances, masks, None) from YOLO, or (None, {}, why not) when it cannot run here."""
    from tools.weights import resolve_yolo

    def run():
        spec = resolve_yolo(ctx.settings)
        from tools.detect_yolo import detect_yolo

        found = detect_yolo(ctx, spec, limit)
        ctx.emit("backend", tool="detect_instances", backend="neural", model=spec.label)
        return found

    return _tier(ctx, "YOLO", fallback, run)


def _try_packaged(ctx, limit: int):
    """(instances, masks, None) from the packaged models, or (None, {}, why not) when their files are not here."""

    def run():
        from tools.recognise import packaged_recogniser

        found = detect_classical(ctx, limit, recogniser=packaged_recogniser(ctx.settings))
        ctx.emit("backend", tool="detect_instances", backend="packaged", model=found[0].model)
        return found

    return _tier(ctx, "the packaged models", "classical", run)


def _tier(ctx, model: str, fallback: str, run):
    """(instances, masks, None) from ``run``, or (None, {}, why not) when that tier cannot run here."""
    from tools.weights import try_neural

    found, reason = try_neural(ctx, "detect_instances", model, fallback, run)
    return (found[0], found[1], None) if found else (None, {}, reason)


@hookimpl
def register_tools():
    return [DetectInstances()]
