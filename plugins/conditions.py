"""``python -m agent conditions``: what the user's conditions determine, before any model runs.

Runs the condition readers plugins register (``register_condition_readers``; built in: ``camera_path``
and ``pose``) on the files given and prints, as JSON, each reader's evidence and the caption fields it
determines; on one line on stderr, the caption fields that still need a model. A file a reader cannot
read is one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import re
import sys

from agent.core.caption import STRUCTURAL_KEY
from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl

FLAGS = {"camera_path": "--camera-path", "pose": "--pose"}
CAMERA = f"{STRUCTURAL_KEY}.Camera Movement"
INSTANCE = f"{STRUCTURAL_KEY}.Main Instance"


def determined(evidence: dict) -> dict[str, str]:
    """Caption field -> the text the conditions fix for it."""
    out: dict[str, str] = {}
    cam = evidence.get("camera_path")
    if cam is not None:
        out[CAMERA] = cam.sentence
    pose = evidence.get("pose")
    if pose is not None:
        for person in pose.people:
            out[f"{INSTANCE}.{person.id}.Class"] = "person"
            if person.action:
                out[f"{INSTANCE}.{person.id}.Actions and Motion"] = f"The person {person.action}."
    return out


def still_needed(fixed: dict[str, str], evidence: dict) -> list[str]:
    need = ["Global Description", f"{STRUCTURAL_KEY}.Background Detail"]
    pose = evidence.get("pose")
    if pose is None:
        need.append(f"{INSTANCE} (which instances, and all their fields)")
    else:
        for person in pose.people:
            for field in ("Appearance", "Position", "Actions and Motion"):
                key = f"{INSTANCE}.{person.id}.{field}"
                if key not in fixed:
                    need.append(key)
        need.append(f"{INSTANCE} (any instance besides the posed people)")
    if CAMERA not in fixed:
        need.append(CAMERA)
    return need


def read_conditions(files: dict[str, str]) -> dict:
    """``{condition name: path}`` -> ``{condition name: evidence model}``, through the plugins' readers."""
    from agent.run.plugins import load_plugins

    readers = load_plugins().condition_readers()
    out = {}
    for name, path in files.items():
        if name not in readers:
            raise InputError(f"no condition reader named {name!r} is registered (is its plugin disabled?)")
        out[name] = readers[name](path)
    return out


def _command(args) -> int:
    files = {name: getattr(args, name) for name in FLAGS if getattr(args, name, None)}
    if not files:
        raise InputError("conditions: give at least one of " + ", ".join(FLAGS.values()))
    evidence = read_conditions(files)
    fixed = determined(evidence)
    report = {"conditions": {name: ev.model_dump(mode="json") for name, ev in evidence.items()},
              "determined": fixed}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print("needs a model: " + "; ".join(still_needed(fixed, evidence)), file=sys.stderr)
    return 0


@hookimpl
def register_commands(subparsers):
    cmd = subparsers.add_parser("conditions", help="what a camera path and a pose sequence determine (no model)")
    cmd.add_argument("--camera-path", dest="camera_path", metavar="F",
                     help="RealEstate10K/CameraCtrl .txt, or JSON camera-to-world 4x4 poses")
    cmd.add_argument("--pose", dest="pose", metavar="F",
                     help="COCO-17 pose JSON, OpenPose JSON list, or a folder of OpenPose frames")
    cmd.set_defaults(handler=_command)


# -- holding an enhanced caption to the conditions ----------------------------------------------------
# stricter than agent.core.checks.CAMERA_FORMS: a path tells a pan from a truck and a dolly from a zoom
_DIR = {"left": r"\bleft(ward)?s?\b", "right": r"\bright(ward)?s?\b", "up": r"\b(up(ward)?s?|rais\w*|ris\w*)\b",
        "down": r"\b(down(ward)?s?|lower\w*|descend\w*)\b", "in": r"\b(in|forward|closer|towards?)\b",
        "out": r"\b(out|back(ward)?s?|away)\b", "clockwise": r"(?<!counter)(?<!counter-)(?<!anti)\bclockwise\b",
        "counterclockwise": r"\b(counter-?clockwise|anti-?clockwise)\b"}
_KIND = {"pan": r"\bpan(s|ning|ned)?\b", "tilt": r"\btilt(s|ing|ed)?\b", "truck": r"\btruck(s|ing|ed)?\b",
         "pedestal": r"\b(pedestal(s|ing|ed)?|crane(s|d)?|boom(s|ing|ed)?)\b",
         "dolly": r"\b(doll(y|ies|ying|ied)|push(es|ing|ed)?|pull(s|ing|ed)?|track(s|ing|ed)?)\b",
         "zoom": r"\bzoom(s|ing|ed)?\b", "roll": r"\b(roll(s|ing|ed)?|rotat\w*)\b",
         "orbit": r"\b(orbit(s|ing|ed)?|arc(s|ing|ed)?|circl(es|ing|ed))\b"}
_CONFUSED = {"pan": "truck", "truck": "pan", "tilt": "pedestal", "pedestal": "tilt", "dolly": "zoom", "zoom": "dolly",
             "orbit": "pan"}
_OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "in": "out", "out": "in",
             "clockwise": "counterclockwise", "counterclockwise": "clockwise"}


def _says(text: str, prim: str) -> bool:
    kind, way = prim.split(" ", 1)
    return any(re.search(_KIND[kind], clause) and re.search(_DIR[way], clause)
               for clause in re.split(r"[.;]|,\s*(?:then|and then|before|after)\b|\bthen\b", text))


def camera_path_matches(caption, evidence: dict) -> list:
    """The Camera Movement names every primitive of the camera path, and no primitive that the path
    contradicts (the opposite direction, or the motion image motion confuses it with), and says static
    for a static path."""
    from agent.core.checks import STATIC_FORMS
    from agent.core.validation import Problem

    ev = evidence.get("camera_path")
    if ev is None:
        return []
    text = caption.structural.camera_movement.lower()
    field, basis = CAMERA, f"camera path: {ev.label}"
    problems = []
    for prim in ev.primitives:
        if not _says(text, prim):
            problems.append(Problem(field, f"does not describe the path's '{prim}'", basis))
    kinds = {p.split()[0]: p.split(" ", 1)[1] for p in ev.primitives}
    for kind in _KIND:
        for way in ("left", "right", "up", "down", "in", "out", "clockwise", "counterclockwise"):
            prim = f"{kind} {way}"
            if prim in ev.primitives or not _says(text, prim):
                continue
            opposite = kinds.get(kind) == _OPPOSITE.get(way)
            confused = _CONFUSED.get(kind) in kinds and kind not in kinds
            if opposite or confused or not ev.primitives:
                problems.append(Problem(field, f"describes '{prim}', which the camera path does not have", basis))
    if not ev.primitives and not re.search(STATIC_FORMS, text):
        problems.append(Problem(field, "does not say the camera is static", basis))
    if ev.primitives and re.search(r"\b(static|stationary|locked|does not move)\b", text):
        problems.append(Problem(field, "says the camera is static, but it moves", basis))
    return problems


def pose_actions_match(caption, evidence: dict) -> list:
    """A person the poses show walking or running (to the left or right) is written so: some person
    instance's Actions and Motion names the gait and the direction."""
    from agent.core.checks import PERSON_WORDS
    from agent.core.validation import Problem

    ev = evidence.get("pose")
    if ev is None:
        return []
    people = [(key, inst) for key, inst in caption.structural.main_instance.items()
              if set(re.findall(r"[a-z]+", inst.class_.lower())) & PERSON_WORDS]
    problems = []
    if not people:
        return [Problem(INSTANCE, f"has no person, but the pose sequence shows {len(ev.people)}", ev.sentence)]
    for person in ev.people:
        act = person.action or ""
        need = []
        if act.startswith(("walks", "runs")):
            need.append(r"\bwalk" if act.startswith("walks") else r"\b(run|runn|jog|sprint)")
            for way in ("left", "right"):
                if act.endswith(way):
                    need.append(_DIR[way])
        elif "arms" in act:
            need.append(r"\barms?\b")
        if need and not any(all(re.search(n, inst.actions_and_motion.lower()) for n in need) for _, inst in people):
            problems.append(Problem(f"{INSTANCE}.*.Actions and Motion", f"no person {act}", f"pose sequence: person {person.id} {act}"))
    return problems


def conditions_text(evidence: dict) -> str:
    """The conditions as facts for the model's prompts."""
    lines = []
    cam = evidence.get("camera_path")
    if cam is not None:
        lines.append(f"- Camera, from the camera path the user gave: {cam.sentence} Write the camera movement with "
                     "exactly these motions (a pan is not a truck, a tilt is not a pedestal, a dolly is not a zoom).")
    pose = evidence.get("pose")
    if pose is not None:
        for p in pose.people:
            lines.append(f"- A person (pose {p.id}), from the pose sequence: {p.action or 'seen'}"
                         f"{'; posture ' + p.posture if p.posture else ''}.")
    if not lines:
        return ""
    return "\n\nConditions the user supplied (measured; the caption must agree with them):\n" + "\n".join(lines)


@hookimpl
def register_validation_checks():
    return [camera_path_matches, pose_actions_match]
