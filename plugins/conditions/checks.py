"""Holding an enhanced caption to the conditions: the validation checks ``enhance`` runs."""

from __future__ import annotations

import re

from agent.core.hookspecs import hookimpl
from plugins.conditions.facts import BACKGROUND, CAMERA, INSTANCE, place_images, reference_images

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
    for k, img in enumerate(reference_images(evidence), start=1):
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
    from agent.core.evidence import CameraMotion, Evidence
    from agent.core.validation import Problem

    ref = evidence.get("reference_video")
    if ref is None:
        return []
    problems = [] if evidence.get("camera_path") is not None else \
        [Problem(p.field, p.message, f"reference video: {p.evidence}")
         for p in camera_matches(caption, Evidence({"camera": ref.camera}, {"camera": CameraMotion}))]
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

    depth, images = evidence.get("depth"), reference_images(evidence)
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


CHECKS = [camera_path_matches, pose_actions_match, images_match, reference_video_matches, depth_matches,
          style_matches]


@hookimpl
def register_validation_checks():
    return list(CHECKS)


@hookimpl
def register_condition_checks():
    return list(CHECKS)
