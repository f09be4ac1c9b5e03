"""A reference video (an Any2Caption condition the user supplies): our own caption pipeline, offline.

The clip goes through the same run as ``python -m agent run CLIP`` with no language model (the
offline planner: metadata, camera motion, instances with the packaged models where set-up fetched
them, segmentation, background), in a temporary run folder; what it measured becomes conditions:

* the camera: the estimator's label and primitives (image motion cannot tell a pan from a truck, so
  the caption is held to it as ``run`` holds its captions: :func:`agent.core.checks.camera_matches`);
* the instances: class (and whether it binds), colours, where they go, a person's action;
* the background: colours, brightness, texture.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from agent.core.errors import AgentError, InputError
from agent.core.hookspecs import hookimpl


class ReferenceInstance(BaseModel):
    id: str
    class_name: str
    binding: bool = Field(description="the recognisers were sure of the class")
    colours: list[str]
    direction: str | None = None
    motion_speed: str | None = None
    action: str | None = None
    start_cell: str | None = None
    end_cell: str | None = None
    sentence: str


class ReferenceVideoEvidence(BaseModel):
    source: str
    status: str = Field(description="the offline run's status: ok, degraded or failed")
    duration_s: float
    backend: str
    camera: dict = Field(description="estimate_camera_motion's evidence")
    camera_sentence: str
    instances: list[ReferenceInstance]
    background: dict | None = None
    sentence: str


def _instance_sentence(inst) -> str:
    colours = " and ".join(inst.colours[:2])
    text = f"{'a ' + colours + ' ' if colours else 'a '}{inst.class_name}"
    if inst.action:
        text += f" that {inst.action}"
    elif inst.direction and inst.direction not in ("none", "still"):
        text += f" moving {inst.direction}"
    if inst.start_cell and inst.end_cell and inst.start_cell != inst.end_cell:
        text += f", from the {inst.start_cell} to the {inst.end_cell}"
    elif inst.start_cell:
        text += f", at the {inst.start_cell}"
    return text


def read_reference_video(path: str | Path, caption_video=None) -> ReferenceVideoEvidence:
    """``caption_video(path, settings) -> run record``: the pipeline, which the caller of
    ``Plugins.read_conditions`` hands on in its options (a plugin sits below the run services it would
    otherwise import)."""
    from agent.core.config import load_settings
    from agent.core.evidence import Background, CameraMotion, VideoMetadata, evidence_of, instances_of

    p = Path(path)
    if not p.is_file():
        raise InputError(f"reference video {p}: no such file")
    if caption_video is None:
        raise InputError("reference video: give the caption pipeline (read_conditions(..., {'caption_video': "
                         "agent.run.runner.caption_video}))")
    with tempfile.TemporaryDirectory(prefix="reference-video-") as runs:
        settings = load_settings(llm="offline", runs_dir=Path(runs))
        try:
            record = caption_video(p, settings)
        except AgentError as e:
            raise InputError(f"reference video: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    ev = record.evidence
    cam = evidence_of(ev, CameraMotion)
    meta = evidence_of(ev, VideoMetadata)
    if cam is None or meta is None:
        raise InputError(f"reference video {p}: the offline run measured no camera motion "
                         f"({record.fallback_reason or record.status})")
    instances = [ReferenceInstance(id=i.id, class_name=i.class_name, binding=i.class_binding, colours=i.colours[:3],
                                   direction=i.direction, motion_speed=i.motion_speed, action=i.action,
                                   start_cell=i.start_cell, end_cell=i.end_cell, sentence=_instance_sentence(i))
                 for i in instances_of(ev)]
    camera = cam.hint.split(" Note:")[0]
    bg = evidence_of(ev, Background)
    bg = bg.model_dump(mode="json") if bg is not None else None
    sentence = f"{camera} " + (f"It shows {'; '.join(i.sentence for i in instances)}." if instances
                               else "No distinct instance was found.")
    return ReferenceVideoEvidence(source=str(p), status=record.status, duration_s=meta.duration_s,
                                  backend=record.backend, camera=cam.model_dump(mode="json"), camera_sentence=camera,
                                  instances=instances, background=bg, sentence=sentence)


@hookimpl
def register_condition_readers():
    return {"reference_video": read_reference_video}
