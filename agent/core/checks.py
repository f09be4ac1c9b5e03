"""Built-in validation checks, registered as a plugin like any other."""

from __future__ import annotations

import re
from typing import Any

from agent.core.caption import STRUCTURAL_KEY, Caption
from agent.core.evidence import CameraMotion, Instances, VideoMetadata, evidence_of, instances_of
from agent.core.hookspecs import hookimpl
from agent.core.validation import Problem

PERSON_WORDS = {
    "person", "man", "woman", "boy", "girl", "child", "kid", "people", "adult", "pedestrian", "cyclist",
    "rider", "driver", "player", "worker", "human", "lady", "gentleman", "baby", "toddler", "teenager",
}
BASE = f"{STRUCTURAL_KEY}.Main Instance"


def _norm(text: str) -> str:
    text = text.lower().replace("centre", "center")
    text = re.sub(r"\b(top|middle|bottom)[\s_]+(left|middle|right)\b", r"\1-\2", text)
    text = re.sub(r"\b(left|right)[\s-]+(middle)\b", r"middle-\1", text)
    return text


def instances_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    if evidence_of(evidence, Instances) is None:
        return []
    found = instances_of(evidence)
    written = caption.structural.main_instance
    problems = []
    # an instance whose class the recognisers were unsure of is advice: a vision-language model that sees
    # the frames may merge it into another (two fragments of one man) or leave it out
    # (a moving thing no model could name is still there: its existence binds, only a name could be wrong)
    sure = [i for i in found if i.class_binding or i.class_name == "object"]
    if not len(sure) <= len(written) <= len(found):
        expected = f"{len(found)}" if len(sure) == len(found) else f"{len(sure)} to {len(found)}"
        problems.append(Problem(f"{BASE}", f"has {len(written)} instance(s) but {expected} were detected",
                                ", ".join(f"{i.id} {i.class_name}" for i in found) or "none detected"))
    for inst in found:
        entry = written.get(inst.id)
        if entry is None:
            if inst in sure and len(written) == len(found):
                problems.append(Problem(f"{BASE}.{inst.id}", "is missing", f"{inst.id} {inst.class_name} was detected"))
            continue
        if not inst.class_binding:
            continue  # its class is advice: the model may correct 'object' to 'rabbit
        words = set(re.findall(r"[a-z]+", entry.class_.lower()))
        if inst.class_name == "person" and not words & PERSON_WORDS:
            problems.append(Problem(f"{BASE}.{inst.id}.Class", f"says {entry.class_!r} but a person was detected",
                                    f"{inst.id} recognised as person by {', '.join(inst.recognised_by)}"))
        elif inst.class_name not in ("person", "object") and inst.class_name not in entry.class_.lower():
            problems.append(Problem(f"{BASE}.{inst.id}.Class", f"says {entry.class_!r}",
                                    f"{inst.id} detected as {inst.class_name}"))
    return problems


def positions_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    problems = []
    written = caption.structural.main_instance
    for inst in instances_of(evidence):
        entry = written.get(inst.id)
        if entry is None or inst.start_cell is None:
            continue
        text = _norm(entry.position)
        missing = [c for c in dict.fromkeys([inst.start_cell, inst.end_cell]) if c not in text]
        if missing:
            measured = (f"stays at {inst.start_cell}" if inst.start_cell == inst.end_cell
                        else f"moves from {inst.start_cell} to {inst.end_cell}")
            problems.append(Problem(f"{BASE}.{inst.id}.Position", f"does not name {', '.join(missing)}",
                                    f"measured on the 3x3 grid: {measured}"))
    return problems


CAMERA_FORMS = {
    "pan left": (r"\bpan(s|ning|ned)?\b[^.]*\bleft\b", r"\btruck(s|ing)?\b[^.]*\bleft\b"),
    "pan right": (r"\bpan(s|ning|ned)?\b[^.]*\bright\b", r"\btruck(s|ing)?\b[^.]*\bright\b"),
    "tilt up": (r"\btilt(s|ing|ed)?\b[^.]*\bup(ward)?s?\b", r"\bpedestal(s|ing)?\b[^.]*\bup\b"),
    "tilt down": (r"\btilt(s|ing|ed)?\b[^.]*\bdown(ward)?s?\b", r"\bpedestal(s|ing)?\b[^.]*\bdown\b"),
    "zoom in": (r"\bzoom(s|ing|ed)?\b[^.]*\bin\b", r"\bdoll(y|ies|ying)\b[^.]*\b(in|forward)\b",
                r"\bpush(es|ing)? in\b"),
    "zoom out": (r"\bzoom(s|ing|ed)?\b[^.]*\bout\b", r"\bdoll(y|ies|ying)\b[^.]*\b(out|back(ward)?)\b",
                 r"\bpull(s|ing)? (out|back)\b"),
    "roll clockwise": (r"\broll(s|ing|ed)?\b[^.]*(?<!counter)(?<!counter-)\bclockwise\b", r"\brotat\w*[^.]*(?<!counter)(?<!counter-)\bclockwise\b"),
    "roll counterclockwise": (r"\broll(s|ing|ed)?\b[^.]*counter-?clockwise\b", r"\brotat\w*[^.]*counter-?clockwise\b",
                              r"\banticlockwise\b"),
}
STATIC_FORMS = r"\b(static|still|stationary|fixed|locked|steady|does not move|remains? (still|static|fixed))\b"


def camera_matches(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    cam = evidence_of(evidence, CameraMotion)
    if cam is None or cam.label == "unclear":
        return []
    text = caption.structural.camera_movement.lower()
    field = f"{STRUCTURAL_KEY}.Camera Movement"
    problems = []
    for prim in cam.primitives:
        if not any(re.search(p, text) for p in CAMERA_FORMS[prim]):
            problems.append(Problem(field, f"does not describe the measured '{prim}'", f"estimator label: {cam.label}"))
    for prim, forms in CAMERA_FORMS.items():
        if prim in cam.primitives:
            continue
        # 'pans left' must not be read as 'pan right' inside 'pans left and right' etc.: only flag
        # a primitive whose opposite was measured, or any primitive when the camera was static
        opposite = {"left": "right", "right": "left", "up": "down", "down": "up", "in": "out", "out": "in",
                    "clockwise": "counterclockwise", "counterclockwise": "clockwise"}
        kind, way = prim.rsplit(" ", 1)
        measured_opposite = f"{kind} {opposite[way]}" in cam.primitives
        if (measured_opposite or not cam.primitives) and any(re.search(p, text) for p in forms):
            problems.append(Problem(field, f"describes '{prim}', which was not measured", f"estimator label: {cam.label}"))
    if not cam.primitives and not cam.shaky and not re.search(STATIC_FORMS, text):
        problems.append(Problem(field, "does not say the camera is static", f"estimator label: {cam.label}"))
    return problems


def wording(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    from agent.core.lexicon import scan

    problems = []
    for field, text in caption.text_fields():
        for v in scan(field, text):
            hint = f"; use '{v.suggestion}'" if v.suggestion else ""
            problems.append(Problem(field, f"{v.kind.replace('_', ' ')}: '{v.text}'{hint}"))
    return problems


def video_name(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    meta = evidence_of(evidence, VideoMetadata)
    if meta is not None and caption.video != meta.file_name:
        return [Problem("Video", f"is {caption.video!r}", f"the clip is {meta.file_name!r}")]
    return []


@hookimpl
def register_validation_checks():
    return [video_name, instances_match, positions_match, camera_matches, wording]
