"""Prompt text for chat models driving the caption graph."""

from __future__ import annotations

import json
from typing import Any

SYSTEM_PROMPT = """\
You write instance-aware structured captions of short video clips for training text-to-video models.

Work in two phases. First gather evidence with the tools: read the metadata, measure the camera
motion, detect and track the main instances, look at each instance with its background hidden, and
measure the background. Then call submit_caption with a caption in this exact structure:

{"Video": file name,
 "Global Description": one sentence of at most 20 words about the whole clip,
 "Structural Description": {
   "Main Instance": {"No.0": {"Class": ..., "Appearance": ..., "Actions and Motion": ..., "Position": ...}, ...},
   "Background Detail": ...,
   "Camera Movement": ...}}

Rules for the text:
- One entry in "Main Instance" per detected instance, in the detector's order and numbering; {} if none.
  A detected class marked "class_is_advice" comes with the recognisers' guesses and their confidence:
  use the frames to keep it, correct it (an "object" or "animal" you can see is a rabbit), or leave that
  instance out when it is a fragment of another one. Every other class and instance is binding.
- Describe colour, shape, material and clothing in concrete words; describe people in detail
  (clothing, apparent age range, hair, accessories) when you can see it.
- Describe actions and how they change over the clip. Position uses the 3x3 grid words the tools
  give (top-left, top-middle, top-right, middle-left, center, middle-right, bottom-left,
  bottom-middle, bottom-right): "<class> moves from the <cell> to the <cell>" or "<class> stays at the <cell>".
- The camera sentence must agree with the measured camera motion; add speed words and shot distance
  when they are clear.
- Videos are silent: never describe sound. No metaphors or personification, no guesses about intent
  or feelings, no timestamps, durations ("for 3 seconds") or frame numbers, no bullet points, never
  mention blurring, masks or other processing. Prefer neutral or positive descriptive words over
  negative ones; check_lexicon flags problems before you submit.
"""


# -- the compact form, for small models run on this machine (--llm local) ------------------------
# The same rules as SYSTEM_PROMPT in fewer tokens. The tools are listed one line each by
# compact_tool_lines(); the caption's structure is enforced by constrained decoding, so it is shown
# once, here, and the submission's JSON schema is not spelled out.
COMPACT_SYSTEM_PROMPT = """\
You caption short silent video clips for training text-to-video models. You read text only: the
tools measure the clip and tell you what they found.
Answer every turn with one tool call. First gather evidence: read_metadata, estimate_camera_motion,
detect_instances, segment_and_blur, describe_background. Then call submit_caption with
{"Video": file name, "Global Description": one sentence of at most 20 words,
 "Structural Description": {"Main Instance": {"No.0": {"Class", "Appearance", "Actions and Motion",
 "Position"}, ...}, "Background Detail", "Camera Movement"}}
Rules:
- Main Instance: one entry per detected instance, in the detector's order and numbering; {} if none.
  A class marked class_is_advice comes with recognisers' guesses: keep it, correct it from the
  guesses, or leave out an instance that is a fragment of another. Other classes and instances are binding.
- Concrete colour, shape, material and clothing; for people: clothing, age range, hair, accessories when known.
- Actions: what each instance does and how that changes. Position in grid words (top-left, top-middle,
  top-right, middle-left, center, middle-right, bottom-left, bottom-middle, bottom-right):
  "<class> moves from the <cell> to the <cell>" or "<class> stays at the <cell>" ("is at" when its
  motion is unsure).
- Camera Movement agrees with the measured camera motion; add speed and shot distance when clear.
- Never: sound, metaphors, personification, intent or feelings, timestamps, durations ("for 3
  seconds") or frame numbers, bullet points, blurring, masks or other processing. Prefer neutral or positive words; check_lexicon checks wording.
"""

PROMPT_FORMS = {SYSTEM_PROMPT: COMPACT_SYSTEM_PROMPT}


def compact_form(text: str) -> str:
    """The compact form of one of the full prompts above; any other text unchanged."""
    return PROMPT_FORMS.get(text, text)


def _type_word(schema: dict) -> str:
    kinds = [s.get("type") for s in schema.get("anyOf", [schema]) if s.get("type") not in (None, "null")]
    return "|".join(kinds) or "any"


def compact_tool_lines(tools: list[dict]) -> str:
    """One line per tool (OpenAI tool specs): ``name(arg: type, ...): its description's first sentence``,
    with the required arguments only (the others keep their defaults); the submission's fields are
    shown by the system prompt instead."""
    lines = []
    for spec in tools:
        fn = spec.get("function", spec)
        params = fn.get("parameters") or {}
        required = set(params.get("required") or [])
        args = "" if fn["name"] == "submit_caption" else ", ".join(
            f"{name}: {_type_word(schema)}" for name, schema in (params.get("properties") or {}).items()
            if name in required)
        first = (fn.get("description") or "").split(". ")[0].strip().rstrip(".")
        lines.append(f"- {fn['name']}({args}): {first}.")
    return "Tools:\n" + "\n".join(lines)


def _plain_value(value: Any, inner: bool = False) -> str:
    """A JSON value in plain words; a list inside an object or another list is bracketed."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, float):  # each digit is a token of a small model's prompt: two decimals say enough
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_plain_value(v, True)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        text = ", ".join(_plain_value(v, True) for v in value)
        return f"[{text}]" if inner else text
    return str(value)


def plain_result(text: str) -> str:
    """A tool's JSON result as ``key: value`` lines, a list of objects one item a line: the same facts
    in fewer tokens of a small model's prompt (no quotes, no braces, numbers to two decimals). Lines after the
    JSON (the unsure note) and text that is not JSON stay as they are."""
    head, _, rest = text.partition("\n")
    try:
        data = json.loads(head)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{key}:")
            lines.extend("- " + _plain_value(item)[1:-1] for item in value)
        else:
            lines.append(f"{key}: {_plain_value(value)}")
    return "\n".join(lines) + (f"\n{rest}" if rest else "")


FRAMES_ATTACHED = "The sampled frames are attached in time order (left to right, top to bottom)."


def text_only(first_message: str) -> str:
    """The first message for a model that reads text only: without the clip's sample times and the
    line about frames it cannot see (a small model copies the times into its caption as timestamps);
    the metadata tool still gives the duration."""
    lines = [line for line in first_message.splitlines()
             if line != FRAMES_ATTACHED and not (line.startswith("The video lasts") and "were sampled" in line)]
    return "\n".join(lines)


def first_message_text(video: str, temporal_metadata: str, tool_names: list[str], metadata: str = "") -> str:
    return (
        f"Video file: {video}\n"
        + (f"{metadata}\n" if metadata else "")
        + f"{temporal_metadata}\n"
        f"{FRAMES_ATTACHED}\n"
        f"Available tools: {', '.join(tool_names)}, submit_caption.\n"
        "Gather the evidence you need, then submit the caption."
    )


# -- the enhancer: short prompt -> structured caption ------------------------------------------
ENHANCE_SYSTEM = """\
You turn short video ideas into precise descriptions for training and prompting text-to-video
models. The video is silent. Describe only what a camera would record: no sound, no feelings or
intentions, no metaphors, no timestamps, no lists with bullets. Prefer neutral, concrete words.
When asked for JSON, answer with JSON only."""

ENHANCE_EXPAND = """\
Idea: {prompt}

Write one paragraph (80 to 140 words) describing a single continuous shot of this idea: who or
what is in it, what they look like, what they do from start to end, where they are in the frame,
the setting and light, and how the camera moves. The first sentence must summarise the whole
shot in at most 20 words."""

ENHANCE_LIST = """\
Scene:
{scene}

List at most {n} main instances: physical things in the scene one could touch (people, animals,
vehicles, objects), most important first. Leave out light, sky, weather and the ground.
Answer as JSON: {{"instances": [{{"name": "...", "class": "..."}}]}} where class is one or two
plain words such as "person", "wolf", "car"."""

ENHANCE_DESCRIBE_INSTANCES = """\
Scene:
{scene}

Instances:
{instances}

For each instance write three single sentences: "Appearance" (colours, shape, material,
clothing, size), "Actions and Motion" (what it does and how that changes over the shot) and
"Position" (where it is in the frame and where it moves, using words like top-left, center,
bottom-right). Answer as JSON keyed by instance number:
{{"No.0": {{"Appearance": "...", "Actions and Motion": "...", "Position": "..."}}, ...}}"""

ENHANCE_DESCRIBE_SCENE = """\
Scene:
{scene}

Write "Background Detail" (one or two sentences about the setting behind the instances: place,
colours, light) and "Camera Movement" (one sentence: static, or how it pans, tilts, zooms or
follows, and how fast). Answer as JSON: {{"Background Detail": "...", "Camera Movement": "..."}}"""

ENHANCE_REPAIR = """\
This caption breaks the rules below. Rewrite only what each problem names, keep everything else,
and answer with the corrected caption as JSON in the same structure.

Caption:
{caption}

Problems:
{problems}"""
