"""Built-in validation checks, registered as a plugin like any other.

Each check holds the caption to the evidence through :mod:`agent.core.sureness`: a fact the tools were
sure of binds (a problem), one they were not sure of is advice (an advisory problem: recorded, the
caption accepted). Words are read through the tables of :mod:`agent.core.vocab` (``words.json``):
kinds and parts of a person, hyponyms of a class, colour words, plain position phrases, numbers.
"""

from __future__ import annotations

import re
from typing import Any

from agent.core import sureness
from agent.core.caption import STRUCTURAL_KEY, Caption
from agent.core.evidence import Background, CameraMotion, Instances, InstanceTrack, VideoMetadata, evidence_of, instances_of
from agent.core.hookspecs import hookimpl
from agent.core.validation import Problem
from agent.core.vocab import (
    category, cells_named, class_word, colour_fits, colour_words, english_share, number_claims, person_word, plain_text,
    tokens, words,
)

BASE = f"{STRUCTURAL_KEY}.Main Instance"
PLURAL_PEOPLE = {"people", "men", "women", "children", "folk", "police"}
PERSON_WORDS = set(words()["person_kinds"])  # kept for plugins that read it
# "a man", "an old woman", "a helmeted cyclist": one more person named
ONE_PERSON = re.compile(r"\ban? (?:[a-z-]+ ){0,2}?(%s)\b" % "|".join(
    w for w in words()["person_kinds"] if not w.endswith("s") and w not in PLURAL_PEOPLE))


def _norm(text: str) -> str:
    text = plain_text(text).lower().replace("centre", "center")
    text = re.sub(r"\b(top|middle|bottom)[\s_]+(left|middle|right)\b", r"\1-\2", text)
    text = re.sub(r"\b(left|right)[\s-]+(middle)\b", r"middle-\1", text)
    return text


def _problem(field: str, message: str, evidence: str, confidence: float | None, measured: str, said: str) -> Problem:
    """A binding problem when ``confidence`` is sure, else advice."""
    advisory = not sureness.sure(confidence)
    note = f"{evidence}; confidence {confidence:.2f}" if confidence is not None else evidence
    return Problem(field, message, note, advisory=advisory, measured=measured,
                   confidence=None if confidence is None else round(confidence, 3), said=said)


# -- instances --------------------------------------------------------------------------------------
def instances_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    if evidence_of(evidence, Instances) is None:
        return []
    found = instances_of(evidence)
    ratings = sureness.rate(evidence)
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
        if inst.class_name == "object" or class_word(entry.class_, inst.class_name):
            continue
        conf = sureness.confidence(ratings, inst.id, "class_name")
        kind, said_kind = category(inst.class_name), category(entry.class_)
        if not sureness.sure(conf) and kind and said_kind and kind != said_kind:
            # the name is unsure, but not what kind of thing it is
            conf = sureness.confidence(ratings, inst.id, "category")
        problems.append(_problem(f"{BASE}.{inst.id}.Class", f"says {entry.class_!r} but a {inst.class_name} was detected",
                                 f"{inst.id} recognised as {inst.class_name} by {', '.join(inst.recognised_by) or 'the detector'}",
                                 conf, inst.class_name, entry.class_))
    return problems


def positions_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    problems = []
    ratings = sureness.rate(evidence)
    written = caption.structural.main_instance
    for inst in instances_of(evidence):
        entry = written.get(inst.id)
        if entry is None or inst.start_cell is None:
            continue
        named = cells_named(entry.position) | set(re.findall(r"[a-z]+-[a-z]+|center", _norm(entry.position)))
        for fact, cell in (("start_cell", inst.start_cell), ("end_cell", inst.end_cell)):
            if cell is None or cell in named:
                continue
            conf = sureness.confidence(ratings, inst.id, fact)
            where = "starts" if fact == "start_cell" else "ends"
            problems.append(_problem(f"{BASE}.{inst.id}.Position", f"does not name {cell}",
                                     f"measured on the 3x3 grid: {where} at {cell}", conf, cell, entry.position))
        if inst.leaves_frame is False and re.search(r"\b(leaves|exits|leaving|exiting) the (frame|view|shot)\b",
                                                    _norm(entry.position + " " + entry.actions_and_motion)):
            conf = sureness.confidence(ratings, inst.id, "leaves_frame")
            problems.append(_problem(f"{BASE}.{inst.id}.Position", "says it leaves the frame",
                                     "it was still seen in the last samples", conf, "stays in the frame",
                                     entry.position))
    return problems


# -- camera -----------------------------------------------------------------------------------------
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
STATIC_FORMS = (r"\b(static|still|stationary|fixed|locked|steady|steadily|motionless|does not move|"
                r"remains? (still|static|fixed)|holds? (still|its view|steady))\b")
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "in": "out", "out": "in",
            "clockwise": "counterclockwise", "counterclockwise": "clockwise"}


def _camera_problems(text: str, prims: list[str], shaky: bool, label: str, conf: float | None,
                     field: str, which: str = "", absent=lambda move: None) -> list[Problem]:
    """``absent(move)``: how sure it is that the camera did not make ``move`` (None: as sure as the label)."""
    problems = []
    for prim in prims:
        if not any(re.search(p, text) for p in CAMERA_FORMS[prim]):
            problems.append(_problem(field, f"does not describe the measured '{prim}'{which}",
                                     f"estimator label: {label}", conf, label, text))
    for prim, forms in CAMERA_FORMS.items():
        if prim in prims:
            continue
        # 'pans left' must not be read as 'pan right' inside 'pans left and right' etc.: only flag
        # a primitive whose opposite was measured, or any primitive when the camera was static
        kind, way = prim.rsplit(" ", 1)
        if (f"{kind} {OPPOSITE[way]}" in prims or not prims) and any(re.search(p, text) for p in forms):
            sure_not = absent(prim)
            problems.append(_problem(field, f"describes '{prim}', which was not measured{which}",
                                     f"estimator label: {label}", conf if sure_not is None else sure_not, label, text))
    if not prims and not shaky and not re.search(STATIC_FORMS, text):
        problems.append(_problem(field, f"does not say the camera is static{which}", f"estimator label: {label}",
                                 conf, label, text))
    return problems


def camera_matches(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    cam = evidence_of(evidence, CameraMotion)
    if cam is None or cam.label == "unclear":
        return []
    text = _norm(caption.structural.camera_movement)
    field = f"{STRUCTURAL_KEY}.Camera Movement"
    ratings = sureness.rate(evidence)
    if cam.shots > 1 and cam.per_shot:
        return _montage_problems(text, cam, ratings, field)
    return _camera_problems(text, cam.primitives, cam.shaky, cam.label,
                            sureness.confidence(ratings, sureness.CAMERA, "label"), field,
                            absent=lambda move: sureness.absent(ratings, sureness.CAMERA, move))


def _montage_problems(text: str, cam: CameraMotion, ratings, field: str) -> list[Problem]:
    """A montage: every move measured surely in some shot must be described; a move the caption names
    is wrong only when no shot has it and every shot was measured surely."""
    problems = []
    shots = [s for s in cam.per_shot if s.label != "unclear"]
    conf = {s.index: sureness.confidence(ratings, sureness.shot_subject(s.index), "label") for s in shots}
    for prim in dict.fromkeys(p for s in shots for p in s.primitives):
        best = max(conf[s.index] or 0.0 for s in shots if prim in s.primitives)
        if not any(re.search(p, text) for p in CAMERA_FORMS[prim]):
            problems.append(_problem(field, f"does not describe the measured '{prim}'", f"estimator label: {cam.label}",
                                     best, cam.label, text))
    measured = {p for s in shots for p in s.primitives}
    least = min((c or 0.0 for c in conf.values()), default=0.0)
    for prim, forms in CAMERA_FORMS.items():
        if prim not in measured and any(re.search(p, text) for p in forms):
            kind, way = prim.rsplit(" ", 1)
            if f"{kind} {OPPOSITE[way]}" in measured or not measured:
                # wrong when every shot surely did not make it (its own "no <move>" rating, else its label's)
                sure_not = [sureness.absent(ratings, sureness.shot_subject(s.index), prim) for s in shots]
                surest = min((n if n is not None else (conf[s.index] or 0.0) for n, s in zip(sure_not, shots)),
                             default=least)
                problems.append(_problem(field, f"describes '{prim}', which no shot measured",
                                         f"estimator label: {cam.label}", surest, cam.label, text))
    return problems


# -- claims against the evidence ----------------------------------------------------------------------
def colours_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    """At least half of an instance's colour words (those of its small parts aside: 'a red bow tie') must
    be near a colour measured on it; free text also colours what surrounds it ('locked to a green railing')."""
    problems = []
    ratings = sureness.rate(evidence)
    written = caption.structural.main_instance
    for inst in instances_of(evidence):
        entry = written.get(inst.id)
        measured = [*inst.colours, *inst.upper_colours, *inst.lower_colours]
        if entry is None or not measured:
            continue
        said = colour_words(entry.appearance, skip_small_parts=True)
        if said and 2 * sum(colour_fits(w, measured) for w in said) < len(said):
            conf = sureness.confidence(ratings, inst.id, "colours")
            if inst.colours_in_view and 2 * sum(colour_fits(w, inst.colours_in_view) for w in said) < len(said):
                # most words name colours seen nowhere on it: wrong even where its main colours are unsure
                conf = max(conf or 0.0, sureness.confidence(ratings, inst.id, "colours_in_view") or 0.0)
            problems.append(_problem(f"{BASE}.{inst.id}.Appearance", f"says {', '.join(dict.fromkeys(said))}",
                                     f"{inst.id} measured as {', '.join(dict.fromkeys(measured))}",
                                     conf, ", ".join(measured), entry.appearance))
    return problems


def background_colours_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    """A background described in two or more colour words, none of them near a measured background colour."""
    bg = evidence_of(evidence, Background)
    if bg is None:
        return []
    measured = [*bg.colours, *bg.upper_colours, *bg.lower_colours]
    text = caption.structural.background_detail
    said = colour_words(text)
    if len(said) < 2 or any(colour_fits(w, measured) for w in said):
        return []
    conf = sureness.confidence(sureness.rate(evidence), sureness.BACKGROUND, "colours")
    return [_problem(f"{STRUCTURAL_KEY}.Background Detail", f"says {', '.join(dict.fromkeys(said))}",
                     f"the background measured as {', '.join(dict.fromkeys(measured))}", conf,
                     ", ".join(dict.fromkeys(measured)), text)]


def _measured_counts(evidence: dict[str, Any], ratings) -> dict[str, tuple[int, int, bool]]:
    """class -> (main instances of it, those plus the others seen at once, whether the count is sure).
    A caption may count either: 'three cars move' (the main ones) or 'six cars' (all in view)."""
    found = evidence_of(evidence, Instances)
    counts: dict[str, list] = {}
    for inst in instances_of(evidence):
        entry = counts.setdefault(inst.class_name, [0, 0, True])
        entry[0] += 1
        entry[1] += 1
        entry[2] = entry[2] and sureness.is_sure(ratings, inst.id, "exists")
    for noun, n in (found.also_seen if found else {}).items():  # seen besides the main instances
        counts.setdefault(noun, [0, 0, True])[1] += n
    return {k: (low, high, ok) for k, (low, high, ok) in counts.items()}


def _caption_texts(caption: Caption) -> list[tuple[str, str]]:
    return [(f, t) for f, t in caption.text_fields() if not f.endswith((".Class", ".Position"))]


def counts_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    """'three people' against the people seen: two or more above all that were seen, or two or more below
    the main instances, contradicts a sure count."""
    if evidence_of(evidence, Instances) is None:
        return []
    ratings = sureness.rate(evidence)
    counts = _measured_counts(evidence, ratings)
    problems = []
    for field, text in _caption_texts(caption):
        for sentence in re.split(r"(?<=[.!?;])\s+", text):
            for claimed, phrase, cls in _counted(sentence, counts):
                low, high, is_sure = counts[cls]
                if claimed >= high + 2 or claimed <= low - 2:
                    seen = f"{low}" if low == high else f"{low} main, {high} in all"
                    problems.append(_problem(field, f"counts {claimed} ({phrase})", f"{seen} {cls} seen",
                                             0.9 if is_sure else 0.5, f"{seen} {cls}", text))
                    break
    return problems


def _counted(sentence: str, counts: dict[str, tuple[int, int, bool]]) -> list[tuple[int, str, str]]:
    """(count, phrase, measured class) of each number claim in one sentence. People counted in a sentence
    add up: "three men ride through traffic, a cyclist waits at the kerb" names four people."""
    out = []
    for claimed, phrase in number_claims(sentence):
        cls = next((c for c in counts if class_word(phrase.split(" and ")[0], c)), None)
        if cls is not None:
            out.append((claimed, phrase, cls))
    people = [(n, phrase) for n, phrase, cls in out if cls == "person"]
    if people:
        singles = [m.group(1) for m in ONE_PERSON.finditer(plain_text(sentence).lower())]
        if singles:
            total = sum(n for n, _ in people) + len(singles)
            out.append((total, " and ".join([p for _, p in people] + [f"a {w}" for w in singles]), "person"))
    return out


def _accounted(word_: str, insts: list[InstanceTrack], seen: set[str]) -> bool:
    """Whether a thing the caption names could be something the detector saw: a class it saw (or a
    hyponym of one), anything for an unnamed 'object', any animal for an 'animal', or one of an
    unsure instance's candidate classes."""
    if any(class_word(word_, cls) for cls in seen if cls not in ("object", "animal")):
        return True
    for inst in insts:
        if inst.class_name == "object":
            return True
        if inst.class_name == "animal" and word_ in words()["animals"]:
            return True
        if any(class_word(word_, c) for c in inst.class_candidates):
            return True
    return False


def things_match(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    """People, animals and vehicles the caption names must be among what the detector saw (or a
    setting: 'sits in a car'); the detector finds these reliably, so a clean miss is sure absence."""
    found = evidence_of(evidence, Instances)
    if found is None or found.backend == "classical":
        return []
    insts = instances_of(evidence)
    seen = {i.class_name for i in insts} | set(found.also_seen)
    table = words()
    settings = "|".join(re.escape(p) for p in sorted(table["setting_prepositions"], key=len, reverse=True))
    parts = "|".join(re.escape(p) for p in table["setting_parts"])
    # a model may correct a class the tools were unsure of: its word stands for that instance
    ratings = sureness.rate(evidence)
    corrected = {w for inst in insts if not inst.class_binding and inst.id in caption.structural.main_instance
                 for w in tokens(caption.structural.main_instance[inst.id].class_)
                 if category(w) in (None, category(inst.class_name))
                 or not sureness.is_sure(ratings, inst.id, "category")}
    problems = []
    for field, text in caption.text_fields():
        low = " ".join(tokens(text))
        low = re.sub(rf"\b(?:{settings}) (?:a|an|the|his|her|their|its) (?:[a-z-]+ )?([a-z]+)", " ", low)
        low = re.sub(rf"\b[a-z]+ (?:{parts})\b", " ", low)  # 'a car interior', 'the bus window': a setting
        names = [t for t in low.split() if t in table["animals"] or t in table["vehicles"]]
        names += [t for t in low.split() if t in table["person_kinds"] and t not in ("figure", "someone", "host")]
        for name in dict.fromkeys(names):
            if name not in corrected and name.rstrip("s") not in corrected and not _accounted(name, insts, seen):
                problems.append(Problem(field, f"names '{name}', which no tool detected",
                                        f"detected: {', '.join(sorted(seen)) or 'nothing'}", measured="not detected",
                                        confidence=0.8, said=text))
    return problems


def english(caption: Caption, evidence: dict[str, Any]) -> list[Problem]:
    """Captions are English (InstanceVid's language)."""
    problems = []
    for field, text in caption.text_fields():
        if len(text.split()) < 3 and not re.search(r"[^\x00-\u024f]", text):
            continue
        en, other = english_share(text)
        if other > en:
            problems.append(Problem(field, "is not in English; write the caption in English"))
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
    return [video_name, instances_match, positions_match, camera_matches, colours_match, background_colours_match,
            counts_match, things_match, english, wording]
