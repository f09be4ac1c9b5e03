"""``python -m agent conditions`` and the condition flags it shares with ``enhance``."""

from __future__ import annotations

import json
import sys

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl
from plugins.conditions.facts import (DEFAULT_DEPTH_CONVENTION, DEPTH_CONVENTIONS, FLAGS, OPTIONS, determined,
                                      still_needed)


def add_condition_flags(parser) -> None:
    """The condition flags, shared by ``conditions`` and ``enhance``."""
    parser.add_argument("--camera-path", dest="camera_path", metavar="F",
                        help="RealEstate10K/CameraCtrl .txt, or JSON camera-to-world 4x4 poses")
    parser.add_argument("--pose", dest="pose", metavar="F",
                        help="COCO-17 pose JSON, OpenPose JSON list or folder, or a video of filmed people")
    parser.add_argument("--image", dest="image", metavar="F", action="append",
                        help="a reference image of one instance (identity); repeat for more instances")
    parser.add_argument("--style", dest="style", metavar="F", help="a style reference image (light, palette, texture)")
    parser.add_argument("--depth", dest="depth", metavar="F",
                        help="a depth map (16/8-bit PNG), a folder of them, a .npy (H x W or T x H x W), or a depth video")
    parser.add_argument("--depth-convention", dest="depth_convention", choices=DEPTH_CONVENTIONS,
                        default=DEFAULT_DEPTH_CONVENTION,
                        help=f"what larger depth values mean (default {DEFAULT_DEPTH_CONVENTION}: inverse depth, as "
                             "monocular estimators give; farther-larger: metric or sensor depth)")
    parser.add_argument("--reference-video", dest="reference_video", metavar="F",
                        help="a reference video: our own offline pipeline's evidence (camera, instances) as conditions")
    parser.add_argument("--reader", dest="readers", metavar="NAME=F", action="append",
                        help="a file for a condition reader a plugin registers under NAME (repeatable)")


def condition_files(args) -> tuple[dict, dict]:
    """(``{condition name: path or [paths]}``, ``{option: value}``) from parsed arguments."""
    files = {name: getattr(args, name) for name in FLAGS if getattr(args, name, None)}
    for item in getattr(args, "readers", None) or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--reader {item}: expected NAME=FILE")
        if name in files:
            raise InputError(f"--reader {item}: {name} is given twice")
        files[name] = path
    options = {o: getattr(args, o) for o in OPTIONS if getattr(args, o, None) is not None}
    return files, options


def _dump(ev):
    return [e.model_dump(mode="json") for e in ev] if isinstance(ev, list) else ev.model_dump(mode="json")


def _command(args) -> int:
    files, options = condition_files(args)
    if not files:
        raise InputError("conditions: give at least one of " + ", ".join(FLAGS.values()) + ", --reader NAME=F")
    evidence = args.plugins.read_conditions(files, {**options, "caption_video": args.caption_video})
    fixed = determined(evidence)
    report = {"conditions": {name: _dump(ev) for name, ev in evidence.items()}, "determined": fixed}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print("needs a model: " + "; ".join(still_needed(fixed, evidence)), file=sys.stderr)
    return 0


@hookimpl
def add_command_options(command, parser):
    if command == "enhance":  # --camera-path, --pose, --image, --style, --depth, --reference-video, --reader
        add_condition_flags(parser)


@hookimpl
def condition_inputs(args):
    files, options = condition_files(args)
    return (files, options) if files else None


@hookimpl
def register_commands(subparsers):
    cmd = subparsers.add_parser("conditions", help="what the conditions (camera path, poses, images, style, depth, "
                                                   "reference video) determine, without a model")
    add_condition_flags(cmd)
    cmd.set_defaults(handler=_command)

