"""The conditions and what they determine: the caption fields they fix (:func:`determined`), those
still left to a model (:func:`still_needed`), and the facts worded for the model's prompts
(:func:`conditions_text`)."""

from __future__ import annotations

import itertools
import math

from agent.core.caption import STRUCTURAL_KEY
from agent.core.hookspecs import hookimpl
from plugins.depth_map import DEFAULT_DEPTH_CONVENTION, DEPTH_CONVENTIONS, layout_sentence  # noqa: F401 (read here)

FLAGS = {"camera_path": "--camera-path", "pose": "--pose", "image": "--image", "style": "--style",
         "depth": "--depth", "reference_video": "--reference-video"}
OPTIONS = ("depth_convention",)  # passed to the readers that take them, by name
CAMERA = f"{STRUCTURAL_KEY}.Camera Movement"
INSTANCE = f"{STRUCTURAL_KEY}.Main Instance"
BACKGROUND = f"{STRUCTURAL_KEY}.Background Detail"
ASPECT_MATCH = 0.3  # |log| of the height-over-width ratio within which an image's subject fits a depth blob
ASPECT_MARGIN = 0.2  # by which the best pairing of images and blobs must beat the next


def reference_images(evidence: dict) -> list:
    """The reference images' evidence, as a list (none, one or several)."""
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
    images = reference_images(evidence)
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
    for k, img in enumerate(reference_images(evidence), start=1):
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

        for rank, i in place_images(reference_images(evidence), depth).items():
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
    for k, img in enumerate(reference_images(evidence), start=1):
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



@hookimpl
def describe_conditions(evidence):
    return conditions_text(evidence) or None
