"""``python -m agent conditions``: what the user's conditions determine, before any model runs.

Runs the condition readers plugins register (``register_condition_readers``; built in:
``camera_path``, ``pose`` (JSON or a video), ``image`` (one per instance, repeatable), ``style``,
``depth`` and ``reference_video``) on the files given and prints, as JSON, each reader's evidence and
the caption fields it determines; on one line on stderr, the caption fields that still need a
model. A file a reader cannot read is one line on stderr and exit status 2.

The same module holds the caption to the conditions in ``enhance`` (the validation checks below)
and words them for the model's prompts (:func:`conditions_text`).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys

from agent.core.caption import STRUCTURAL_KEY
from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl

FLAGS = {"camera_path": "--camera-path", "pose": "--pose", "image": "--image", "style": "--style",
         "depth": "--depth", "reference_video": "--reference-video"}
DEPTH_CONVENTIONS = ("nearer-larger", "farther-larger")  # plugins/depth_map.py says what each means
DEFAULT_DEPTH_CONVENTION = "nearer-larger"
OPTIONS = ("depth_convention",)  # passed to the readers that take them, by name
CAMERA = f"{STRUCTURAL_KEY}.Camera Movement"
INSTANCE = f"{STRUCTURAL_KEY}.Main Instance"
BACKGROUND = f"{STRUCTURAL_KEY}.Background Detail"
ASPECT_MATCH = 0.3  # |log| of the height-over-width ratio within which an image's subject fits a depth blob
ASPECT_MARGIN = 0.2  # by which the best pairing of images and blobs must beat the next


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


def _images(evidence: dict) -> list:
    ev = evidence.get("image")
    return [] if ev is None else ev if isinstance(ev, list) else [ev]


def place_images(images: list, depth) -> dict[int, int]:
    """Depth blob rank -> index of the reference image whose subject stands there, where the pairing is
    clear: each pair's silhouettes (height over width) agree within :data:`ASPECT_MATCH` (as a log
    ratio), and the best pairing beats every other by :data:`ASPECT_MARGIN`."""
    if depth is None or not images or not depth.blobs:
        return {}
    blobs = depth.blobs
    n = min(len(images), len(blobs))
    scored = []
    for chosen in itertools.permutations(range(len(images)), n):
        pairs = list(zip((b.rank for b in blobs[:n]), chosen))
        errors = [abs(math.log(max(images[i].aspect, 1e-3) / max(blobs[r].aspect, 1e-3))) for r, i in pairs]
        scored.append((sum(errors), max(errors), pairs))
    scored.sort(key=lambda s: s[0])
    total, worst, pairs = scored[0]
    if worst > ASPECT_MATCH or (len(scored) > 1 and scored[1][0] - total < ASPECT_MARGIN):
        return {}
    return dict(pairs)


def layout_text(evidence: dict) -> str | None:
    depth = evidence.get("depth")
    if depth is None:
        return None
    from plugins.depth_map import layout_sentence

    images = _images(evidence)
    placed = place_images(images, depth)
    names = {rank: f"{' and '.join(images[i].colours[:1])} {images[i].class_name}".strip() for rank, i in placed.items()}
    return layout_sentence(depth.cells, depth.gradient, depth.blobs, names)


def determined(evidence: dict) -> dict[str, str]:
    """Caption field -> the text the conditions fix for it (a plugin's condition: its ``sentence``, under
    its name, when its evidence has one)."""
    out: dict[str, str] = {name: ev.sentence for name, ev in evidence.items()
                           if name not in FLAGS and isinstance(getattr(ev, "sentence", None), str)}
    cam = evidence.get("camera_path")
    ref = evidence.get("reference_video")
    if cam is not None:
        out[CAMERA] = cam.sentence
    elif ref is not None and ref.camera.get("label") != "unclear":
        out[CAMERA] = ref.camera_sentence
    pose = evidence.get("pose")
    if pose is not None:
        for person in pose.people:
            out[f"{INSTANCE}.pose {person.id}.Class"] = "person"
            if person.action:
                out[f"{INSTANCE}.pose {person.id}.Actions and Motion"] = f"The person {person.action}."
    for k, img in enumerate(_images(evidence), start=1):
        if img.class_name != "object":
            out[f"{INSTANCE}.image {k}.Class"] = img.class_name
        out[f"{INSTANCE}.image {k}.Appearance"] = img.sentence
    if ref is not None:
        for inst in ref.instances:
            if inst.binding and inst.class_name != "object":
                out[f"{INSTANCE}.reference {inst.id}.Class"] = inst.class_name
            out[f"{INSTANCE}.reference {inst.id}.Appearance and motion"] = inst.sentence
    depth = evidence.get("depth")
    if depth is not None:
        from agent.core.vocab import cell_phrase

        for rank, i in place_images(_images(evidence), depth).items():
            where = "nearest the camera" if rank == 0 else f"{'second' if rank == 1 else 'further'} from the front"
            out[f"{INSTANCE}.image {i + 1}.Position"] = f"At {cell_phrase(depth.blobs[rank].cell)}, {where}."
    style = evidence.get("style")
    if style is not None:
        out["Style"] = style.sentence
    layout = layout_text(evidence)
    if layout:
        out[f"{BACKGROUND} (layout)"] = layout
    return out


def still_needed(fixed: dict[str, str], evidence: dict) -> list[str]:
    need = ["Global Description", BACKGROUND if f"{BACKGROUND} (layout)" not in fixed
            else f"{BACKGROUND} (what the places are; the layout is fixed)"]
    subjects = [k.rsplit(".", 1)[0] for k in fixed if k.startswith(INSTANCE + ".")]
    if not subjects:
        need.append(f"{INSTANCE} (which instances, and all their fields)")
    for subject in dict.fromkeys(subjects):
        for field in ("Class", "Appearance", "Position", "Actions and Motion"):
            key = f"{subject}.{field}"
            if key not in fixed and not (field in ("Appearance", "Actions and Motion")
                                         and f"{subject}.Appearance and motion" in fixed):
                need.append(key)
    if subjects:
        need.append(f"{INSTANCE} (any instance besides those the conditions give)")
    if CAMERA not in fixed:
        need.append(CAMERA)
    if "Style" not in fixed:
        need.append("Style (for --format any2caption)")
    return need


def _command(args) -> int:
    files, options = condition_files(args)
    if not files:
        raise InputError("conditions: give at least one of " + ", ".join(FLAGS.values()) + ", --reader NAME=F")
    evidence = args.plugins.read_conditions(files, options)
    fixed = determined(evidence)
    report = {"conditions": {name: _dump(ev) for name, ev in evidence.items()}, "determined": fixed}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print("needs a model: " + "; ".join(still_needed(fixed, evidence)), file=sys.stderr)
    return 0


@hookimpl
def register_commands(subparsers):
    cmd = subparsers.add_parser("conditions", help="what the conditions (camera path, poses, images, style, depth, "
                                                   "reference video) determine, without a model")
    add_condition_flags(cmd)
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


def _colour_forms(name: str) -> str:
    """A colour name as the caption may write it: 'gray' or 'grey'; 'dark gray' also as 'gray'."""
    words = name.replace("gray", "gr[ae]y").split()
    forms = {" ".join(words), words[-1]} if words[-1] not in ("tone",) else {" ".join(words)}
    return r"\b(" + "|".join(sorted(forms, key=len, reverse=True)) + r")\b"


def _class_fits(written: str, measured: str) -> bool:
    from agent.core.checks import PERSON_WORDS

    words = set(re.findall(r"[a-z]+", written.lower()))
    if measured == "person":
        return bool(words & PERSON_WORDS)
    return all(w in words or w + "s" in words for w in measured.split())


def images_match(caption, evidence: dict) -> list:
    """Each reference image's subject is an instance of its class (when the models named it) whose
    Appearance names its main colour (a person's: the upper body's, else the subject's)."""
    from agent.core.validation import Problem

    problems = []
    written = caption.structural.main_instance
    for k, img in enumerate(_images(evidence), start=1):
        basis = f"reference image {k} ({img.source}): {img.sentence}"
        pool = [(key, inst) for key, inst in written.items()
                if img.class_name == "object" or _class_fits(inst.class_, img.class_name)]
        if not pool:
            problems.append(Problem(INSTANCE, f"has no {img.class_name}", basis))
            continue
        colour = (img.upper_colours or img.colours or [None])[0]
        if colour and not any(re.search(_colour_forms(colour), inst.appearance.lower()) for _, inst in pool):
            who = "the " + img.class_name if img.class_name != "object" else "any instance"
            problems.append(Problem(f"{INSTANCE}.*.Appearance", f"does not give {who} the colour {colour}", basis))
    return problems


def reference_video_matches(caption, evidence: dict) -> list:
    """The reference video's camera (where no camera path is given: a path's 3D truth is stronger) as
    ``run`` holds a caption to the estimator, and an instance of each class its recognisers were sure of."""
    from agent.core.checks import camera_matches
    from agent.core.validation import Problem

    ref = evidence.get("reference_video")
    if ref is None:
        return []
    problems = [] if evidence.get("camera_path") is not None else \
        [Problem(p.field, p.message, f"reference video: {p.evidence}")
         for p in camera_matches(caption, {"estimate_camera_motion": ref.camera})]
    written = [inst.class_ for inst in caption.structural.main_instance.values()]
    for inst in ref.instances:
        if inst.binding and inst.class_name != "object" and not any(_class_fits(w, inst.class_name) for w in written):
            problems.append(Problem(INSTANCE, f"has no {inst.class_name}", f"reference video {inst.id}: {inst.sentence}"))
    return problems


def depth_matches(caption, evidence: dict) -> list:
    """A reference image placed at a depth blob (:func:`place_images`) is written there: the instances
    that are it (its class, or for an unnamed ``object`` its main colour in the Appearance) name the
    blob's 3x3 cell in their Position."""
    from agent.core.checks import _norm
    from agent.core.validation import Problem

    depth, images = evidence.get("depth"), _images(evidence)
    problems = []
    for rank, i in place_images(images, depth).items():
        img, cell = images[i], depth.blobs[rank].cell
        colour = (img.upper_colours or img.colours or [""])[0]
        pool = [inst for inst in caption.structural.main_instance.values()
                if (_class_fits(inst.class_, img.class_name) if img.class_name != "object"
                    else colour and re.search(_colour_forms(colour), inst.appearance.lower()))]
        if pool and not any(cell in _norm(inst.position) for inst in pool):
            what = f"{colour} {img.class_name}".strip()
            problems.append(Problem(f"{INSTANCE}.*.Position", f"does not put the {what} at {cell.replace('-', ' ')}",
                                    f"depth map: the {what} of reference image {i + 1} stands at {cell}, "
                                    f"{'nearest the camera' if rank == 0 else 'behind ' + str(rank) + ' nearer shape(s)'}"))
    return problems


_BRIGHT = r"\b(bright(ly)?|sunny|sunlit|brilliant|high-key|dazzling)\b"
_DARK = r"\b(dark|dim(ly)?|night|gloomy|shadowy|low-key|unlit)\b"


def style_matches(caption, evidence: dict) -> list:
    """The light the caption writes does not contradict the style image's: no 'bright' or 'sunny' for
    a dark or dim image, no 'dark' or 'dim' for a bright one."""
    from agent.core.validation import Problem

    style = evidence.get("style")
    if style is None:
        return []
    wrong = _BRIGHT if style.brightness in ("dark", "dim") else _DARK if style.brightness == "bright" else None
    if wrong is None:
        return []
    problems = []
    fields = [("Global Description", caption.global_description), (BACKGROUND, caption.structural.background_detail)]
    for field, text in fields:
        m = re.search(wrong, text.lower())
        if m:
            problems.append(Problem(field, f"says '{m.group(0)}', but the style image is {style.brightness}",
                                    f"style image: {style.light}"))
    return problems


def conditions_text(evidence: dict) -> str:
    """The conditions as facts for the model's prompts."""
    lines = []
    cam = evidence.get("camera_path")
    ref = evidence.get("reference_video")
    if cam is not None:
        lines.append(f"- Camera, from the camera path the user gave: {cam.sentence} Write the camera movement with "
                     "exactly these motions (a pan is not a truck, a tilt is not a pedestal, a dolly is not a zoom).")
    elif ref is not None:
        lines.append(f"- Camera, measured on the reference video: {ref.camera_sentence}")
    pose = evidence.get("pose")
    if pose is not None:
        for p in pose.people:
            lines.append(f"- A person (pose {p.id}), from the pose sequence: {p.action or 'seen'}"
                         f"{'; posture ' + p.posture if p.posture else ''}.")
    for k, img in enumerate(_images(evidence), start=1):
        named = f"a {img.class_name}" if img.class_name != "object" else "an instance (its class is for you to name)"
        lines.append(f"- Reference image {k}, {named}: {img.sentence} Use its class and colours.")
    if ref is not None and ref.instances:
        lines.append("- In the reference video: " + "; ".join(
            i.sentence + ("" if i.binding else " (class unsure)") for i in ref.instances) + ".")
    style = evidence.get("style")
    if style is not None:
        lines.append(f"- Style, from the style image: {style.sentence}")
    layout = layout_text(evidence)
    if layout:
        lines.append(f"- Depth layout, from the depth map: {layout}")
    for name, ev in evidence.items():  # a plugin's condition: its sentence, when its evidence has one
        if name not in FLAGS and isinstance(getattr(ev, "sentence", None), str):
            lines.append(f"- {name.replace('_', ' ').capitalize()}: {ev.sentence}")
    if not lines:
        return ""
    return "\n\nConditions the user supplied (measured; the caption must agree with them):\n" + "\n".join(lines)


CHECKS = [camera_path_matches, pose_actions_match, images_match, reference_video_matches, depth_matches,
          style_matches]


@hookimpl
def register_validation_checks():
    return list(CHECKS)
