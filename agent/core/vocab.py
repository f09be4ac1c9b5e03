"""Shared words: the 3x3 grid, camera-motion labels (CameraBench's primitives), speeds, directions.

The synthetic clip generator and the tools both use these, so ground truth and measurements
speak the same language.
"""

from __future__ import annotations

import math

ROWS = ("top", "middle", "bottom")
COLS = ("left", "middle", "right")


def grid_cell(x: float, y: float) -> str:
    """Name of the 3x3 cell holding the normalised point (x, y), with (0, 0) the top-left corner."""
    col = min(2, max(0, int(x * 3)))
    row = min(2, max(0, int(y * 3)))
    if row == 1 and col == 1:
        return "center"
    if row == 1:
        return f"middle-{COLS[col]}"
    return f"{ROWS[row]}-{COLS[col]}"


GRID_CELLS = tuple(grid_cell((c + 0.5) / 3, (r + 0.5) / 3) for r in range(3) for c in range(3))


def cell_phrase(cell: str) -> str:
    return "the center" if cell == "center" else f"the {cell}"


# -- camera ----------------------------------------------------------------------------------
# Primitive labels, in the order they are written in a combined label.
CAMERA_PRIMITIVES = (
    "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out",
    "roll clockwise", "roll counterclockwise",
)
STATIC = "static"
UNCLEAR = "unclear"
SHAKY = "shaky"


def join_camera_label(primitives: list[str], shaky: bool = False) -> str:
    ordered = [p for p in CAMERA_PRIMITIVES if p in primitives]
    label = " and ".join(ordered) if ordered else STATIC
    if shaky:
        label = f"{label}, {SHAKY}"
    return label


def direction_word(dx: float, dy: float) -> str:
    """Compass-like screen direction of a displacement (y grows downwards)."""
    if math.hypot(dx, dy) == 0:
        return "nowhere"
    angle = math.degrees(math.atan2(-dy, dx)) % 360  # 0 = right, 90 = up
    names = ["right", "up and to the right", "up", "up and to the left", "left",
             "down and to the left", "down", "down and to the right"]
    return names[int(((angle + 22.5) % 360) // 45)]


# -- what caption words mean (agent/core/data/words.json) ------------------------------------------
import json as _json
import re as _re
import unicodedata as _unicodedata
from functools import lru_cache as _lru_cache
from importlib import resources as _resources


@_lru_cache(maxsize=1)
def words() -> dict:
    return _json.loads(_resources.files("agent.core").joinpath("data/words.json").read_text())


def plain_text(text: str) -> str:
    """``text`` as the wording rules read it: NFKC (full-width letters become plain ones) with format
    characters (zero-width spaces and joiners, soft hyphens, direction marks) taken out."""
    text = _unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if _unicodedata.category(ch) != "Cf")


def tokens(text: str) -> list[str]:
    return _re.findall(r"[a-z]+(?:-[a-z]+)*", plain_text(text).lower().replace("centre", "center"))


def _has_phrase(text: str, phrase: str) -> bool:
    return _re.search(rf"(?<![a-z-]){_re.escape(phrase)}(?![a-z-])", text) is not None


def person_word(text: str) -> bool:
    """Whether ``text`` names a person, a kind of person or a part of one ('hand', 'cyclist', 'young man')."""
    w = words()
    found = set(tokens(text))
    return bool(found & set(w["person_kinds"]) or found & set(w["person_parts"]))


def category(text: str) -> str | None:
    """'person', 'animal' or 'vehicle' for the first word of ``text`` that names one ('young man' ->
    person, 'sheep' -> animal, 'van' -> vehicle); None when no word does."""
    w = words()
    for t in tokens(text):
        if t in w["person_kinds"] or t in w["person_parts"]:
            return "person"
        if t in w["animals"]:
            return "animal"
        if t in w["vehicles"]:
            return "vehicle"
    return None


def class_word(text: str, class_name: str) -> bool:
    """Whether ``text`` names ``class_name``, one of its hyponyms or its hypernym ('van' for a car)."""
    low = " ".join(tokens(text))
    if class_name == "person":
        return person_word(text)
    if class_name == "animal":
        return any(_has_phrase(low, a) for a in words()["animals"])
    accepted = [class_name, *words()["class_words"].get(class_name, [])]
    return any(_has_phrase(low, a) or _has_phrase(low, a + "s") for a in accepted)


def cells_named(text: str) -> set[str]:
    """The 3x3 cells that a position phrase in plain words names: 'near the top right corner' ->
    {top-right}; 'on the left' -> the left column; 'at the top' -> the top row; 'in the middle of
    the frame' -> {center}; 'fills the frame' -> every cell."""
    low = " " + " ".join(tokens(text)) + " "
    pos = words()["positions"]
    named: set[str] = set()
    for cell, phrases in pos["cells"].items():
        for phrase in sorted(phrases, key=len, reverse=True):
            if _has_phrase(low, phrase):
                named.add(cell)
                low = _re.sub(rf"(?<![a-z-]){_re.escape(phrase)}(?![a-z-])", " ", low)
    for col, phrases in pos["columns"].items():
        if any(_has_phrase(low, p) for p in phrases):
            named |= {c for c in GRID_CELLS if c.endswith(col)}
    for row, phrases in pos["rows"].items():
        if any(_has_phrase(low, p) for p in phrases):
            named |= {c for c in GRID_CELLS if c.startswith(row)}
    if any(_has_phrase(low, p) for p in pos["whole_frame"]):
        named |= set(GRID_CELLS)
    return named


def colour_words(text: str, skip_small_parts: bool = False) -> list[str]:
    """The colour words of ``text``, in order ('dark', 'grey', ...); ``skip_small_parts``: leave out
    those that colour a small part within the next two words ('red bow tie', 'brown hair')."""
    table, small = words()["colour_words"], set(words()["small_parts"])
    found = tokens(text)
    out = []
    for k, t in enumerate(found):
        if not (t.split("-")[-1] in table or t in table):
            continue
        if skip_small_parts and small & set(found[k + 1:k + 3]):
            continue
        out.append(t)
    return out


def colour_fits(word: str, measured: list[str]) -> bool:
    """Whether a caption's colour ``word`` may describe something measured as ``measured`` colours."""
    table = words()["colour_words"]
    near = table.get(word) or table.get(word.split("-")[-1]) or []
    return any(m in near for m in measured)


def number_claims(text: str) -> list[tuple[int, str]]:
    """(count, the next four words) for each 'three people', 'a dozen pedestrians', '2 cars' in ``text``."""
    numbers = words()["numbers"]
    low = " ".join(tokens(plain_text(text).lower())) if not _re.search(r"\d", text) else plain_text(text).lower()
    alts = "|".join(sorted((_re.escape(n) for n in numbers), key=len, reverse=True))
    out = []
    for m in _re.finditer(rf"(?<![a-z-])({alts}|\d+)((?:\s+[a-z-]+){{1,4}})", low):
        word, noun = m.group(1), m.group(2).strip()
        count = int(word) if word.isdigit() else numbers[word]
        out.append((count, noun))
    return out


def english_share(text: str) -> tuple[int, int]:
    """(English function words, other languages' function words) in ``text``; letters outside the
    Latin script count as the latter."""
    w = words()
    plain = plain_text(text)
    foreign_script = sum(1 for ch in plain if ch.isalpha() and not _unicodedata.name(ch, "").startswith("LATIN"))
    found = _re.findall(r"[^\W\d_]+", plain.lower())
    english = sum(t in w["english_function_words"] for t in found)
    other = sum(t in w["foreign_function_words"] for t in found) + (foreign_script + 1) // 2
    return english, other
