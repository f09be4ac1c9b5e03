"""Output formats, registered as a plugin like any other: ``--format NAME``.

* ``instancecap`` (default): the InstanceCap JSON as validated;
* ``any2caption``: Any2Caption's six components (Dense, Main Object, Background, Camera, Style,
  Action), written from the caption's fields and the tools' evidence (in ``enhance``, the
  conditions': the style image's words, the depth map's layout);
* ``cinecap``: the film-language caption with its evidence (needs the film-language condition);
* ``dense``: one paragraph, for models trained on plain prompts (each plugin section in it as the
  section's ``CaptionSection.text`` writes it).
"""

from __future__ import annotations


from typing import Any

from agent.core.caption import STRUCTURAL_KEY, Sections, caption_section
from agent.core.evidence import Background, evidence_of
from agent.core.flatten import STANDARD_KEYS
from agent.core.formats import OutputFormat
from agent.core.hookspecs import hookimpl

ANY2CAPTION_KEYS = ("Dense", "Main Object", "Background", "Camera", "Style", "Action")
CINECAP_KEYS = ("Video", "Evidence", "Caption", "Text")


def _instances(caption: dict) -> list[dict]:
    return list(caption[STRUCTURAL_KEY]["Main Instance"].values())


def _sentences(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def instancecap(caption: dict, evidence: dict) -> dict:
    return caption


def dense(caption: dict, evidence: dict, sections: Sections | None = None) -> str:
    sd = caption[STRUCTURAL_KEY]
    text = [caption["Global Description"]]
    for inst in _instances(caption):
        text += [inst["Appearance"], inst["Actions and Motion"]]
    text += [sd["Background Detail"], sd["Camera Movement"]]
    for name, value in caption.items():
        if name not in STANDARD_KEYS:  # each plugin section as it says it reads
            text += [_full_stop(sentence) for _, sentence in caption_section(name, sections).sentences(value)]
    return _sentences(*text)


def _full_stop(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def _style(evidence: dict) -> str:
    style = evidence.get("style")  # a style image the user gave (plugins/reference_image.py)
    if hasattr(style, "sentence"):
        return style.sentence
    bg = evidence_of(evidence, Background)
    if bg is None:
        return "Live-action footage."
    tone = {"dark": "low-key", "dim": "dim", "moderately lit": "evenly lit", "bright": "bright, high-key"}[bg.brightness]
    return (f"Live-action footage with {tone} lighting, {bg.saturation} colors and {bg.contrast} contrast, "
            f"dominated by {', '.join(bg.colours[:2]) or 'mixed'} tones.")


def any2caption(caption: dict, evidence: dict, sections: Sections | None = None) -> dict:
    sd = caption[STRUCTURAL_KEY]
    instances = _instances(caption)
    main = instances[0] if instances else None
    others = instances[1:]
    main_object = _sentences(main["Appearance"], main["Position"]) if main else "No distinct main object."
    if others:
        main_object += " " + _sentences(*(f"Also present: {i['Appearance']}" for i in others))
    action = _sentences(*(i["Actions and Motion"] for i in instances)) or "Nothing in the scene moves distinctly."
    depth = caption.get("Depth")
    pose = caption.get("Pose")
    if isinstance(pose, dict) and pose.get("Summary"):
        action = _sentences(action, pose["Summary"])
    background = sd["Background Detail"]
    if isinstance(depth, dict) and depth.get("Layout"):
        background = _sentences(background, depth["Layout"])
    if hasattr(evidence.get("depth"), "blobs"):  # a depth map the user gave (plugins/depth_map.py)
        from plugins.conditions import layout_text

        background = _sentences(background, layout_text(evidence))
    return {"Dense": dense(caption, evidence, sections), "Main Object": main_object, "Background": background,
            "Camera": sd["Camera Movement"], "Style": _style(evidence), "Action": action}


def cinecap(caption: dict, evidence: dict) -> dict:
    film = caption.get("Film Language")
    if not isinstance(film, dict):
        from agent.core.errors import InputError

        raise InputError("--format cinecap needs the film-language condition (--condition film_language)")
    claims = {k: v for k, v in film.items() if k != "Evidence"}
    return {"Video": caption["Video"], "Evidence": film.get("Evidence", []), "Caption": claims,
            "Text": _sentences(*(f"{k}: {v}." for k, v in claims.items() if v))}


def _cinecap_problems(output: dict[str, Any]) -> list[str]:
    out = []
    if "Video" in output and (not isinstance(output["Video"], str) or not output["Video"].strip()):
        out.append("Video: must be the clip's file name")
    if "Evidence" in output and not isinstance(output["Evidence"], list):
        out.append("Evidence: must be a list")
    claims = output.get("Caption")
    if "Caption" in output and not (isinstance(claims, dict) and all(isinstance(v, str) for v in claims.values())):
        out.append("Caption: every claim must be text")
    return out


FORMATS = [
    OutputFormat("instancecap", instancecap),  # the caption itself: validated against the caption schema
    OutputFormat("any2caption", any2caption, keys=ANY2CAPTION_KEYS, marks=("Dense", "Main Object"),
                 text_fields=ANY2CAPTION_KEYS),
    OutputFormat("cinecap", cinecap, keys=CINECAP_KEYS, text_fields=("Text",), check=_cinecap_problems),
    OutputFormat("dense", dense, kind="text", text_fields=("Dense",)),
]


@hookimpl
def register_output_formats():
    return FORMATS
