"""The caption's own words for measured facts: the camera sentence, a montage's per-shot camera
sentences and an instance's position sentence.

The composer, the validator and the tools all phrase these facts through this one module, so the
caption reads the same whichever path wrote it.
"""

from __future__ import annotations

from agent.core.evidence import CameraMotion, InstanceTrack
from agent.core.vocab import UNCLEAR, cell_phrase

UNSURE_MOTION = "unknown"  # motion_speed of an instance whose motion is not sure: the caption says neither way
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def shot_name(k: int) -> str:
    """'the first shot', ..., 'shot 12' (0-based k)."""
    return f"the {ORDINALS[k]} shot" if k < len(ORDINALS) else f"shot {k + 1}"


VERBS = {
    "pan left": "pans left", "pan right": "pans right", "tilt up": "tilts up", "tilt down": "tilts down",
    "zoom in": "zooms in", "zoom out": "zooms out", "roll clockwise": "rolls clockwise",
    "roll counterclockwise": "rolls counterclockwise",
}


def camera_sentence(prims: list[str], speed: str, shaky: bool) -> str:
    """One sentence in plain words, e.g. 'The camera pans left and tilts up slowly.'"""
    if not prims:
        return "The camera is handheld and shakes slightly while holding its view." if shaky \
            else "The camera remains static throughout."
    verbs = [VERBS[p] for p in prims]
    joined = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
    sentence = f"The camera {joined} {speed}" if speed in ("slowly", "steadily", "quickly") else f"The camera {joined}"
    return sentence + (", with a handheld shake." if shaky else ".")


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
MAX_WORDS = 58  # the Camera Movement field's limit is 60


def _phrase(s, short: bool = False) -> str:
    """What the camera does in one shot, after 'the camera': 'pans left slowly', 'remains static
    throughout'; ``short``: the briefer words a montage of many shots needs ('is static', 'pans
    left slowly and shakes')."""
    if s.label == UNCLEAR:
        return "cannot be measured clearly"
    if short:
        if not s.primitives:
            return "is handheld and shaky" if s.shaky else "is static"
        verbs = [VERBS[p] for p in s.primitives]
        joined = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
        speed = f" {s.speed}" if s.speed in ("slowly", "steadily", "quickly") else ""
        return joined + speed + (" and shakes" if s.shaky else "")
    return camera_sentence(s.primitives, s.speed, s.shaky)[len("The camera "):].rstrip(".")


def _names(ks: list[int]) -> str:
    names = [shot_name(k) for k in ks]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def montage_sentences(cam: CameraMotion) -> str:
    """The camera movement of a montage, shot by shot, in words the validator and readers follow.

    Shots that move alike share a sentence; each sentence opens with the shots it is about ("In the
    second shot, it pans left slowly."), so no motion word is read across shots. With too many
    shots to name within the field's word limit, the sentences count them instead. Every motion
    measured in some shot is described, and nothing is said of a shot that it does not do.
    """
    n = cam.shots
    head = f"The clip cuts between {n} shots."
    if len({_phrase(s) for s in cam.per_shot}) == 1:
        return f"{head} In each of them, the camera {_phrase(cam.per_shot[0])}."
    groups: dict[str, list[int]] = {}
    for s in cam.per_shot:
        if s.label != UNCLEAR:
            groups.setdefault(_phrase(s, short=True), []).append(s.index)
    unclear = [s.index for s in cam.per_shot if s.label == UNCLEAR]
    named = [f"In {_names(ks)}, {'the camera' if i == 0 else 'it'} {phrase}."
             for i, (phrase, ks) in enumerate(groups.items())]
    if unclear:
        named.append(f"{_names(unclear)[0].upper()}{_names(unclear)[1:]} "
                     f"{'is' if len(unclear) == 1 else 'are'} not measured clearly.")
    text = " ".join([head, *named])
    if len(text.split()) <= MAX_WORDS:
        return text
    def count(k: int) -> str:
        return NUMBER_WORDS[k] if k < len(NUMBER_WORDS) else str(k)

    counted = []
    for i, (phrase, ks) in enumerate(sorted(groups.items(), key=lambda g: -len(g[1]))):
        counted.append(f"In {count(len(ks))} of them, the camera {phrase}." if i == 0 else
                       f"In {count(len(ks))}, it {phrase}.")
    if unclear:
        counted.append(f"{count(len(unclear)).capitalize()} {'is' if len(unclear) == 1 else 'are'} not measured clearly.")
    return " ".join([head, *counted])


def position_sentence(track: InstanceTrack) -> str:
    """'The person moves from the bottom-left to the center.' / 'The object stays at the top-right.'"""
    who = f"The {track.class_name}"
    if track.start_cell is None:  # not measured, or not surely (one sighting in a long clip)
        return f"{who}'s position is not measured clearly."
    if track.start_cell == track.end_cell:
        verb = "is at" if track.motion_speed == UNSURE_MOTION else "stays at"
        text = f"{who} {verb} {cell_phrase(track.start_cell)}"
    else:
        text = f"{who} moves from {cell_phrase(track.start_cell)} to {cell_phrase(track.end_cell)}"
    if track.leaves_frame:
        text += " and leaves the frame at the end"
    return text + "."
