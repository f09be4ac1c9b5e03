"""Writing a caption from the tools' evidence alone.

The offline planner submits what this composes, and any run that exhausts its repairs falls back
to it. Every sentence states something a tool measured; nothing is canned.
"""

from __future__ import annotations

from typing import Any

from agent.core.caption import STRUCTURAL_KEY, Caption, parse_caption
from agent.core.evidence import SURE, Background, CameraMotion, Instances, InstanceTrack, evidence_of, instances_of

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


NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
PLURALS = {"person": "people", "bus": "buses", "sheep": "sheep", "fish": "fish", "mouse": "mice", "knife": "knives",
           "bench": "benches", "box": "boxes", "couch": "couches", "glass": "glasses", "giraffe": "giraffes"}


def plural(noun: str) -> str:
    if noun in PLURALS:
        return PLURALS[noun]
    head, _, last = noun.rpartition(" ")
    word = PLURALS.get(last) or (last[:-1] + "ies" if last.endswith("y") and last[-2:-1] not in "aeiou"
                                 else last + "es" if last.endswith(("s", "x", "ch", "sh")) else last + "s")
    return f"{head} {word}".strip()


def counted(noun: str, n: int) -> str:
    """'a car', 'two people', '12 cars'."""
    if n == 1:
        return f"{article(noun)} {noun}"
    return f"{NUMBERS.get(n, str(n))} {plural(noun)}"


from agent.core.wording import UNSURE_MOTION  # noqa: E402  (motion_speed of an instance whose motion is unsure)


def say_only_sure(inst: InstanceTrack, ratings: dict[str, float]) -> InstanceTrack:
    """The instance as the caption states it: unsure facts left out or said with less detail (see
    :mod:`agent.core.sureness`). An unsure class becomes 'object' (unless it binds); an unsure edge
    ('leaves the frame' on one missed sample) is dropped; an unsure end cell is the start cell, so
    position and motion never contradict, and a position seen in one sample only is not said; unsure
    colours and actions are left out."""
    from agent.core.sureness import sure

    update: dict[str, Any] = {}
    if inst.leaves_frame and not sure(ratings.get("leaves_frame")):
        update["leaves_frame"] = False
    if inst.enters_frame and not sure(ratings.get("enters_frame")):
        update["enters_frame"] = False
    sightings = sum(1 for box in inst.boxes if box is not None)
    one_of_several = sightings < 2 and len(inst.boxes) > 1
    if one_of_several and not sure(ratings.get("start_cell")) and not sure(ratings.get("end_cell")):
        # where it is rests on one sighting in a clip of several samples: the position is not said
        update.update(start_cell=None, end_cell=None, direction=None, motion_speed=UNSURE_MOTION)
    elif inst.start_cell != inst.end_cell and not sure(ratings.get("end_cell")):
        update.update(end_cell=inst.start_cell, direction=None, motion_speed="still")
    if inst.action and not sure(ratings.get("action")):
        update["action"] = None
    if not sure(ratings.get("colours")):
        update.update(colours=[], upper_colours=[], lower_colours=[], wearing=[])
    if not sure(ratings.get("direction")) and update.get("end_cell", inst.end_cell) == inst.start_cell:
        # a sure move between cells keeps its direction; otherwise neither a move nor stillness is said
        update.update(direction=None, motion_speed=UNSURE_MOTION)
    return inst.model_copy(update=update) if update else inst


def _noun(inst: InstanceTrack) -> str:
    if inst.class_name == PERSON:
        return "person"
    if inst.class_name != "object":
        return inst.class_name
    return f"{inst.shape} object" if inst.shape else "object"


def _upper(inst: InstanceTrack) -> str:
    return (inst.upper_colours or inst.colours or [""])[0]


def short_name(inst: InstanceTrack) -> str:
    """'a person in a red top', 'a yellow round object', 'a white car'."""
    if inst.class_name == PERSON:
        if inst.wearing:
            return f"a person wearing {inst.wearing[0]}"
        colour = _upper(inst)
        return f"a person in {article(colour)} {colour} top" if colour else "a person"
    colour = inst.colours[0] if inst.colours else ""
    phrase = f"{colour} {_noun(inst)}".strip()
    return f"{article(phrase)} {phrase}"


def appearance(inst: InstanceTrack) -> str:
    size = inst.relative_size or "visible"
    colours = inst.colours
    if inst.class_name == PERSON:
        if inst.wearing:
            wear = f"wearing {_join(inst.wearing)}"
            colour, lower = _upper(inst), (inst.lower_colours or [None])[0]
            if colour:
                wear += f", mainly {colour} on the upper body" + (f" and {lower} below" if lower else "")
        elif inst.upper_colours:  # measured on the body parts the pose model found
            upper, lower = inst.upper_colours[0], (inst.lower_colours or [None])[0]
            wear = f"wearing {article(upper)} {upper} top" + (f" and {lower} clothing on the lower body" if lower
                                                                else "")
        elif len(colours) >= 2:
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


TRAVELLING = ("walks", "runs", "rides")  # actions that carry the person along a direction
STATES = ("is ",)  # actions that say where the person is ('is on a bicycle'), not what the body does in place


def actions(inst: InstanceTrack) -> str:
    who = "The person" if inst.class_name == PERSON else f"The {_noun(inst)}"
    moving = bool(inst.direction) and inst.motion_speed not in (None, "still")
    shifted = inst.start_cell is not None and inst.end_cell is not None and inst.start_cell != inst.end_cell
    if inst.action and inst.action.startswith(TRAVELLING):
        text = f"{who} {inst.action}"
        if inst.direction and (moving or shifted):
            text += f" {_direction_phrase(inst.direction)}"
    elif inst.action:
        text = f"{who} {inst.action}"
        if "," in inst.action:  # the action already says how the body moves
            pass
        elif moving:
            text += f", moving {inst.motion_speed} {_direction_phrase(inst.direction)}"
        elif shifted and inst.direction:
            text += f", shifting slightly {_direction_phrase(inst.direction)}"
        elif not inst.action.startswith(STATES) and inst.motion_speed != UNSURE_MOTION:
            text += " in place"
    elif moving:
        text = f"{who} moves {inst.motion_speed} {_direction_phrase(inst.direction)} across the frame"
    elif shifted and inst.direction:  # the grid cell changed: Actions must not say it stayed
        text = f"{who} shifts slightly {_direction_phrase(inst.direction)}"
    elif inst.motion_speed == UNSURE_MOTION:
        text = f"{who} is in view"
    else:
        text = f"{who} stays almost in place"
    text += held_thing(inst)
    text = text.replace("  ", " ")
    if inst.enters_frame:
        text += ", entering from the edge of the frame"
    if inst.leaves_frame:
        text += " and then leaves the frame"
    return text + "."


def held_thing(inst: InstanceTrack) -> str:
    """", holding a bottle" for a hand whose held thing is measured surely; nothing otherwise."""
    from agent.core.evidence import SURE

    if not inst.holds or inst.fact_confidence.get("holds", 0.0) < SURE:
        return ""
    return f", holding {article(inst.holds)} {inst.holds}"


def _direction_phrase(direction: str) -> str:
    if direction in ("left", "right"):
        return f"to the {direction}"
    return direction


def position(inst: InstanceTrack) -> str:
    from agent.core.wording import position_sentence

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


def camera_said(cam: CameraMotion | None, ratings: dict[str, dict[str, float]]) -> CameraMotion | None:
    """The camera as the composer may state it: a move or a still camera whose label is not sure is not
    named (the clip's and each shot's label rated in ``ratings``); the evidence keeps what was measured."""
    from agent.core.sureness import CAMERA, shot_subject

    def unsure(subject: str) -> bool:
        return ratings.get(subject, {}).get("label", 1.0) < SURE

    if cam is None:
        return None
    unclear = {"label": "unclear", "primitives": [], "shaky": False}
    shots = [s.model_copy(update=unclear) if s.label != "unclear" and unsure(shot_subject(s.index)) else s
             for s in cam.per_shot]
    update: dict[str, Any] = {"per_shot": shots}
    if cam.label != "unclear" and unsure(CAMERA):
        update.update(unclear)
    return cam.model_copy(update=update)


def camera_movement(cam: CameraMotion | None) -> str:
    from agent.core.wording import camera_sentence

    if cam is not None and cam.shots > 1 and cam.per_shot:
        from agent.core.wording import montage_sentences

        return montage_sentences(cam)
    if cam is None or cam.label == "unclear":
        text = "The camera movement cannot be measured clearly."  # no claim either way: not even "no pan"
    else:
        text = camera_sentence(cam.primitives, cam.speed, cam.shaky)
    if cam is not None and cam.shots > 1:
        text = f"The clip cuts between {cam.shots} shots; within them, {text[0].lower()}{text[1:]}"
    return text


ROAD_VEHICLES = {"car", "bus", "truck", "motorcycle", "bicycle", "taxi", "van", "scooter"}


def street(evidence: dict[str, Any]) -> bool:
    """Road vehicles, two or more in all (main instances and what else is in view), make a street scene."""
    found = evidence_of(evidence, Instances)
    if found is None:
        return False
    seen = sum(1 for i in found.instances if i.class_name in ROAD_VEHICLES and i.class_confidence)
    seen += sum(n for noun, n in found.also_seen.items() if noun in ROAD_VEHICLES)
    return seen >= 2


def global_description(insts: list[InstanceTrack], bg: Background | None, cam: CameraMotion | None,
                       detected: bool = True, on_street: bool = False) -> str:
    """``detected``: whether detection measured the clip (if not, nothing is claimed about its subjects);
    ``on_street``: the detector saw traffic (see :func:`street`)."""
    setting = f"{article(bg.texture)} {bg.texture} {bg.colours[0]} background" if bg and bg.colours else "the scene"
    if on_street:
        setting = "a street with traffic"
    camera = ""
    if cam is not None and cam.label not in ("unclear",):
        from agent.core.wording import VERBS

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
    subjects = _subjects(insts)
    moving = any(i.direction for i in insts) or any((i.action or "").startswith(TRAVELLING) for i in insts)
    plural_ = len(insts) > 1
    # things stay in front of a background, but on a street
    still = ("are on" if plural_ else "is on") if on_street else ("stay in front of" if plural_ else "stays in front of")
    if not on_street and all(i.motion_speed == UNSURE_MOTION for i in insts):
        still = "are in front of" if plural_ else "is in front of"  # stillness is not sure either
    verb = ("move across" if plural_ else "moves across") if moving else still
    one = insts[0]
    if len(insts) == 1 and one.action and not one.action.startswith(TRAVELLING) \
            and one.motion_speed in (None, "still", "slowly", UNSURE_MOTION):
        # what the person does, not how the mask drifts
        verb = f"{one.action.split(',')[0]} {'on' if on_street else 'in front of'}"
    text = f"{subjects} {verb} {setting}{camera}."
    if len(text.split()) > 28:  # keep it one short sentence
        text = f"{subjects} {verb} {setting}."
    return text[0].upper() + text[1:]


def _subjects(insts: list[InstanceTrack]) -> str:
    """'a person in a red top, a car and a bicycle', 'two people and a car' (same class: counted)."""
    by_noun: dict[str, list[InstanceTrack]] = {}
    for inst in insts[:3]:
        by_noun.setdefault(_noun(inst), []).append(inst)
    parts = [short_name(group[0]) if len(group) == 1 else counted(noun, len(group)) for noun, group in by_noun.items()]
    return _join(parts)


def _also_in_view(evidence: dict[str, Any]) -> str | None:
    """'Two cars and a bus are also in view.': what the detector saw besides the main instances."""
    found = evidence_of(evidence, Instances)
    extra = getattr(found, "also_seen", None) or {}
    if not extra:
        return None
    parts = [counted(noun, n) for noun, n in sorted(extra.items(), key=lambda kv: -kv[1])[:3]]
    text = _join(parts)
    verb = "are" if len(parts) > 1 or next(iter(extra.values())) > 1 else "is"
    where = " along the street" if street(evidence) else ""
    return f"{text[0].upper()}{text[1:]} {verb} also in view{where}."


def _distinct(texts: list[str], insts: list[InstanceTrack]) -> list[str]:
    """The same sentence for two instances tells a reader nothing: say where each one is."""
    from agent.core.vocab import cell_phrase

    out = []
    for text, inst in zip(texts, insts):
        if texts.count(text) > 1 and inst.start_cell:
            text = f"{text[:-1]}, at {cell_phrase(inst.start_cell)} of the frame."
        out.append(text)
    return out


def compose(evidence: dict[str, Any], video: str, sections: dict[str, Any] | None = None) -> Caption:
    """The caption the evidence supports; ``sections``: plugin sections written from the same evidence.
    Only sure facts are stated (:func:`say_only_sure`)."""
    from agent.core.sureness import rate

    ratings = rate(evidence)
    insts = [say_only_sure(i, ratings.get(i.id, {})) for i in instances_of(evidence)]
    looks = _distinct([appearance(i) for i in insts], insts)
    acts = _distinct([actions(i) for i in insts], insts)
    bg = evidence_of(evidence, Background)
    cam = camera_said(evidence_of(evidence, CameraMotion), ratings)
    data = {
        "Video": video,
        "Global Description": global_description(insts, bg, cam, detected=evidence_of(evidence, Instances) is not None,
                                                 on_street=street(evidence)),
        STRUCTURAL_KEY: {
            "Main Instance": {
                f"No.{k}": {
                    "Class": inst.class_name,
                    "Appearance": looks[k],
                    "Actions and Motion": acts[k],
                    "Position": position(inst),
                } for k, inst in enumerate(insts)
            },
            "Background Detail": " ".join(t for t in (background_detail(bg), _also_in_view(evidence)) if t),
            "Camera Movement": camera_movement(cam),
        },
    }
    caption = parse_caption(data)
    caption.extra_sections.update(sections or {})  # the plugins' own composers wrote them; validation checks them
    return caption
