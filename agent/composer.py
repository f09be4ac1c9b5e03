"""Writing a caption from the tools' evidence alone.

The offline planner submits what this composes, and any run that exhausts its repairs falls back
to it. Every sentence states something a tool measured; nothing is canned.
"""

from __future__ import annotations

from typing import Any

from .caption import STRUCTURAL_KEY, Caption, parse_caption
from .evidence import Background, CameraMotion, InstanceTrack, instances_of, typed

PERSON = "person"


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def shot_size_sentence(size: str) -> str:
    """A film-language shot size as a sentence of free text, e.g. 'It is a close-up shot.'"""
    return f"It is {article(size)} {size} shot."


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _noun(inst: InstanceTrack) -> str:
    if inst.class_name == PERSON:
        return "person"
    if inst.class_name != "object":
        return inst.class_name
    return f"{inst.shape} object" if inst.shape else "object"


def short_name(inst: InstanceTrack) -> str:
    """'a person in a red top', 'a yellow round object'."""
    colour = inst.colours[0] if inst.colours else ""
    if inst.class_name == PERSON:
        return f"a person in {article(colour)} {colour} top" if colour else "a person"
    noun = _noun(inst)
    phrase = f"{colour} {noun}".strip()
    return f"{article(phrase)} {phrase}"


def appearance(inst: InstanceTrack) -> str:
    size = inst.relative_size or "visible"
    colours = inst.colours
    if inst.class_name == PERSON:
        if len(colours) >= 2:
            wear = f"wearing {article(colours[0])} {colours[0]} top and {colours[1]} clothing on the lower body"
        elif colours:
            wear = f"dressed mainly in {colours[0]}"
        else:
            wear = "whose clothing colors are hard to make out"
        return f"A person {wear}, {size} in the frame."
    noun = _noun(inst)
    main = colours[0] if colours else None
    text = f"{article(size).capitalize()} {size} {noun}"
    if main:
        text += f", mainly {main}"
        if len(colours) > 1:
            text += f" with some {_join(colours[1:3])} areas"
    return text + "."


def actions(inst: InstanceTrack) -> str:
    who = "The person" if inst.class_name == PERSON else f"The {_noun(inst)}"
    if not inst.direction or inst.motion_speed in (None, "still"):
        text = f"{who} stays almost in place"
    else:
        verb = "moves"
        speed = {"slowly": "slowly", "steadily": "steadily", "quickly": "quickly"}.get(inst.motion_speed or "", "")
        text = f"{who} {verb} {speed} {_direction_phrase(inst.direction)} across the frame".replace("  ", " ")
    if inst.enters_frame:
        text += ", entering from the edge of the frame"
    if inst.leaves_frame:
        text += " and then leaves the frame"
    return text + "."


def _direction_phrase(direction: str) -> str:
    if direction in ("left", "right"):
        return f"to the {direction}"
    return direction


def position(inst: InstanceTrack) -> str:
    from tools.instance_evidence import position_sentence

    return position_sentence(inst)


def background_detail(bg: Background | None) -> str:
    if bg is None:
        return "The background could not be measured."
    main = _join(bg.colours[:3]) or "mixed"
    text = f"The background is {bg.texture} and {bg.brightness}, dominated by {main} tones"
    text += f", with {bg.saturation} colors and {bg.contrast} contrast."
    if bg.upper_colours and bg.lower_colours and bg.upper_colours[0] != bg.lower_colours[0]:
        text += (f" The upper part of the frame is mostly {bg.upper_colours[0]}, while the lower part is "
                 f"mostly {bg.lower_colours[0]}.")
    return text


def camera_movement(cam: CameraMotion | None) -> str:
    from tools.camera import camera_sentence

    if cam is None or cam.label == "unclear":
        text = "The camera movement cannot be measured clearly; the view shows no clear pan, tilt or zoom."
    else:
        text = camera_sentence(cam.primitives, cam.speed, cam.shaky)
    if cam is not None and cam.shots > 1:
        text = f"The clip cuts between {cam.shots} shots; within them, {text[0].lower()}{text[1:]}"
    return text


def global_description(insts: list[InstanceTrack], bg: Background | None, cam: CameraMotion | None,
                       detected: bool = True) -> str:
    """``detected``: whether detection measured the clip (if not, nothing is claimed about its subjects)."""
    setting = f"{article(bg.texture)} {bg.texture} {bg.colours[0]} background" if bg and bg.colours else "the scene"
    camera = ""
    if cam is not None and cam.label not in ("unclear",):
        from tools.camera import VERBS

        if cam.shots > 1:
            camera = f" in a montage of {cam.shots} shots"
        elif cam.primitives:
            camera = " as the camera " + " and ".join(VERBS[p] for p in cam.primitives[:2])
        else:
            camera = " in a static shot"
    if not insts and not detected:
        return f"A view of {setting}{camera}; what it shows could not be measured."
    if not insts:
        return f"A view of {setting}{camera} with no distinct moving subject."
    subjects = _join([short_name(i) for i in insts[:3]])
    moving = any(i.direction for i in insts)
    plural = len(insts) > 1
    verb = ("move across" if plural else "moves across") if moving else ("stay in front of" if plural else "stays in front of")
    text = f"{subjects} {verb} {setting}{camera}."
    if len(text.split()) > 28:  # keep it one short sentence
        text = f"{subjects} {verb} {setting}."
    return text[0].upper() + text[1:]


def compose(evidence: dict[str, Any], video: str, sections: dict[str, Any] | None = None) -> Caption:
    """The caption the evidence supports; ``sections``: plugin sections written from the same evidence."""
    insts = instances_of(evidence)
    bg = typed(evidence, "describe_background")
    cam = typed(evidence, "estimate_camera_motion")
    data = {
        "Video": video,
        "Global Description": global_description(insts, bg, cam, detected="detect_instances" in evidence),
        STRUCTURAL_KEY: {
            "Main Instance": {
                f"No.{k}": {
                    "Class": inst.class_name,
                    "Appearance": appearance(inst),
                    "Actions and Motion": actions(inst),
                    "Position": position(inst),
                } for k, inst in enumerate(insts)
            },
            "Background Detail": background_detail(bg),
            "Camera Movement": camera_movement(cam),
        },
        **(sections or {}),
    }
    return parse_caption(data)
