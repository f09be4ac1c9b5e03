"""``python -m agent conditions``: what the user's conditions determine, before any model runs.

Runs the condition readers plugins register (``register_condition_readers``; built in: ``camera_path``
and ``pose``) on the files given and prints, as JSON, each reader's evidence and the caption fields it
determines; on one line on stderr, the caption fields that still need a model. A file a reader cannot
read is one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import sys

from agent.caption import STRUCTURAL_KEY
from agent.errors import InputError
from agent.hookspecs import hookimpl

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
    from agent.plugins import load_plugins

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
