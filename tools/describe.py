"""``describe``: a local vision-language model answers questions about an instance view, the
background or the camera (``--describer hf:MODEL``), InstanceCap's question answering with no API.

Targets: ``No.k`` (the instance's view with the background hidden, from ``segment_and_blur``),
``background`` (the sampled frames) and ``camera`` (the estimator's measurement in words). The
questions carry what was measured (colours, size, motion) and what to look for by class (for a
person: clothing, age range, expression, accessories). Answers must be JSON with the caption's
field names; wording goes through the lexicon (negative words are replaced by the suggested ones).
An answer that is not JSON, misses a field, or breaks a wording rule that has no replacement is
marked not usable, and the caption keeps the measured text for that field.

The offline planner calls it once per instance, then for the background and the camera: N + 2
model calls per clip, against InstanceCap's 4 + 4N.
"""

from __future__ import annotations

import time

import cv2
from pydantic import BaseModel, ConfigDict, Field

from agent.core.evidence import instances_of, typed
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool
from tools.geometry import crop

HINTS = {
    "person": "clothing (top and bottom, colours), apparent age range, hair, facial expression, accessories",
    "animal": "fur, feather or skin colours and pattern, size and build",
    "vehicle": "kind of vehicle, colour, shape and visible details",
    "object": "colour, shape, material, surface and size",
}
ANIMALS = {"dog", "cat", "horse", "bird", "cow", "sheep", "wolf", "rabbit", "bear", "elephant", "zebra", "giraffe",
           "deer", "fish", "animal"}
VEHICLES = {"car", "bus", "truck", "bicycle", "motorcycle", "boat", "train", "airplane", "vehicle"}


def hints_for(class_name: str) -> str:
    if class_name == "person":
        return HINTS["person"]
    if class_name in ANIMALS:
        return HINTS["animal"]
    if class_name in VEHICLES:
        return HINTS["vehicle"]
    return HINTS["object"]


class DescribeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str = Field(description="'No.0', 'No.1', ... for an instance, 'background', or 'camera'")
    question: str | None = Field(None, description="your own question instead of the standard one")


class DescribeAnswer(BaseModel):
    target: str
    fields: dict[str, str] = Field(default_factory=dict, description="caption field -> text, when usable")
    usable: bool = False
    problem: str | None = None
    raw: str = ""
    seconds: float = 0.0
    model: str = ""


def _check(fields: dict[str, str], expected: tuple[str, ...]) -> tuple[dict[str, str], str | None]:
    from agent.core.lexicon import apply_suggestions, scan

    missing = [f for f in expected if not str(fields.get(f, "")).strip()]
    if missing:
        return {}, f"the answer has no {', '.join(missing)}"
    clean = {}
    for name in expected:
        text = " ".join(str(fields[name]).split())
        text = apply_suggestions(text, [v for v in scan(name, text) if v.suggestion])
        left = [v for v in scan(name, text) if not v.suggestion]
        if left:
            return {}, f"{name} breaks a wording rule ({left[0].kind.replace('_', ' ')}: '{left[0].text}')"
        clean[name] = text
    return clean, None


class Describe(Tool):
    name = "describe"
    description = ("Ask the local vision-language model about an instance ('No.0', ...), the 'background' or the "
                   "'camera'; returns caption text for those fields.")
    Args = DescribeArgs
    version = "1"
    evidence_model = DescribeAnswer
    requires = ("estimate_camera_motion", "describe_background", "segment_and_blur")
    produces = ("describe.answers",)  # how many questions were asked and answered usably: the run's status
    reads_settings = ("describer", "max_tokens", "device", "allow_downloads")
    stage = "llm"
    offline_role = "describe"  # the offline planner asks it about each instance, the background and the camera

    def run(self, ctx, args: DescribeArgs) -> Observation:
        from agent.models.toolcalls import ModelReplyError, read_json

        from agent.models.hf import generate_text, load_vlm

        model, processor, _ = load_vlm(ctx.settings.describer, ctx.settings)
        messages, expected = self._question(ctx, args)
        started = time.perf_counter()
        raw, _, _ = generate_text(model, processor, messages, max_new_tokens=min(ctx.settings.max_tokens, 320))
        answer = DescribeAnswer(target=args.target, raw=raw[:600], seconds=round(time.perf_counter() - started, 3),
                                model=ctx.settings.describer)
        try:
            parsed = read_json(raw)
            if not isinstance(parsed, dict):
                raise ModelReplyError("expected a JSON object")
            answer.fields, answer.problem = _check(parsed, expected)
        except ModelReplyError as e:
            answer.problem = f"not usable: {e}"
        answer.usable = answer.problem is None
        tally = ctx.artifacts.setdefault("describe.answers", {"asked": 0, "usable": 0})  # the run's status reads it
        tally["asked"] += 1
        tally["usable"] += int(answer.usable)
        summary = {"target": args.target, "usable": answer.usable, **(answer.fields or {"problem": answer.problem})}
        return Observation(summary, answer, ok=True)

    def _question(self, ctx, args: DescribeArgs) -> tuple[list[dict], tuple[str, ...]]:
        from PIL import Image

        target = args.target
        sampled = ctx.frames.sampled
        if target == "camera":
            ctx.require("estimate_camera_motion")
            cam = typed(ctx.evidence, "estimate_camera_motion")
            measured = cam.hint if cam else "the camera motion could not be measured"
            text = args.question or (
                f"A camera-motion estimator measured this about a video clip: {measured}\n"
                'Write one plain sentence describing the camera movement that agrees with the measurement. '
                'Answer as JSON: {"Camera Movement": "..."}')
            return [{"role": "user", "content": [{"type": "text", "text": text}]}], ("Camera Movement",)
        if target == "background":
            from tools.frames import contact_sheet

            ctx.require("describe_background")
            bg = typed(ctx.evidence, "describe_background")
            sheet = contact_sheet([f.image for f in sampled], [""] * len(sampled))
            measured = f" Measured: mostly {', '.join(bg.colours[:3])}, {bg.brightness}, {bg.texture}." if bg else ""
            text = args.question or (
                "These are frames of one video clip in time order. Describe the background behind the main "
                f"subjects (the place, its colours and the light) in one or two sentences.{measured} Describe only "
                'what is visible; the video is silent. Answer as JSON: {"Background Detail": "..."}')
            image = Image.fromarray(cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB))
            return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]}], \
                ("Background Detail",)
        ctx.require("segment_and_blur")
        inst = next((i for i in instances_of(ctx.evidence) if i.id == target), None)
        if inst is None:
            raise ValueError(f"no instance {target!r}; the instances are "
                             f"{', '.join(i.id for i in instances_of(ctx.evidence)) or 'none'}")
        view = next((v for v in (ctx.evidence.get("segment_and_blur") or {}).get("views", []) if v["id"] == target), None)
        image = cv2.imread(view["image"]) if view else None
        if image is None:
            k = inst.seen()[0]
            image = crop(sampled[k].image, inst.boxes[k], pad=0.0)
        motion = f"{inst.motion_speed} {inst.direction}" if inst.direction else "mostly still"
        text = args.question or (
            f"The image shows one {inst.class_name} ({target}) in several frames of a video, everything else blurred. "
            f"Measured: colours {', '.join(inst.colours[:3]) or 'unknown'}, {inst.relative_size or 'medium'} size, "
            f"moving {motion}. Describe only what is visible. Answer as JSON: "
            f'{{"Appearance": "one sentence on {hints_for(inst.class_name)}", '
            f'"Actions and Motion": "one sentence on what it does and how that changes over the frames"}}')
        pil = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return [{"role": "user", "content": [{"type": "image", "image": pil}, {"type": "text", "text": text}]}], \
            ("Appearance", "Actions and Motion")


@hookimpl
def register_tools(settings):
    return [Describe()] if settings is not None and settings.describer else []
