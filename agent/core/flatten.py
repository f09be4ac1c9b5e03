"""From a structured caption to one dense paragraph within a text encoder's token budget.

The caption is cut into sentences, each with an importance rank:

    0  the global description                      (kept; truncated only as a last resort)
    1  the main instance's appearance and action, the camera movement
    2  the other instances' appearance and action
    3  the first sentence of the background
    4  the instances' positions
    5  the rest of the background
    *  each plugin section at the rank it registered (``CaptionSection.rank``; film-language shot
       size and depth layout 5, postures 4, others 6 unless they say), written as its ``text`` says

While the paragraph is over budget, the least important sentence goes (the later instance first
among equals). Deterministic: the same caption and budget always give the same paragraph.

Tokens are counted with a real tokenizer when one can be loaded without network (by default
CogVideoX's T5 tokenizer, ``google/t5-v1_1-xxl``, from the Hugging Face cache, or any path or id
given); otherwise they are estimated, and the report says which.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.core.caption import STRUCTURAL_KEY, Sections, caption_section

DEFAULT_TOKENIZER = "google/t5-v1_1-xxl"
STANDARD_KEYS = {"Video", "Global Description", STRUCTURAL_KEY, "Structural_Description"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Unit:
    rank: int
    order: int  # position in the paragraph
    label: str
    text: str


@dataclass
class Flattened:
    text: str
    tokens: int
    budget: int
    counted_with: str
    dropped: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def report(self) -> str:
        parts = [f"{self.tokens} of {self.budget} tokens ({self.counted_with})"]
        parts.append("dropped: " + ", ".join(self.dropped) if self.dropped else "nothing dropped")
        if self.truncated:
            parts.append("truncated: " + ", ".join(self.truncated))
        return "; ".join(parts)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def units(caption: dict[str, Any], sections: Sections | None = None) -> list[Unit]:
    """The caption as ranked sentences; each of the ``sections`` a plugin declared reads as it says."""
    out: list[Unit] = []

    def add(rank: int, label: str, text: str) -> None:
        if text and text.strip():
            text = text.strip()
            out.append(Unit(rank, len(out), label, text if text.endswith((".", "!", "?")) else text + "."))

    add(0, "Global Description", caption.get("Global Description", ""))
    sd = caption.get(STRUCTURAL_KEY) or caption.get("Structural_Description") or {}
    for k, (key, inst) in enumerate((sd.get("Main Instance") or {}).items()):
        main = k == 0
        add(1 if main else 2, f"{key} Appearance", inst.get("Appearance", ""))
        add(1 if main else 2, f"{key} Actions and Motion", inst.get("Actions and Motion", ""))
        add(4, f"{key} Position", inst.get("Position", ""))
    background = _sentences(sd.get("Background Detail", ""))
    for i, sentence in enumerate(background):
        add(3 if i == 0 else 5, "Background Detail" + (f" sentence {i + 1}" if len(background) > 1 else ""), sentence)
    add(1, "Camera Movement", sd.get("Camera Movement", ""))
    for name, value in caption.items():
        if name not in STANDARD_KEYS:  # a plugin's section: it says how it reads and how much it matters
            section = caption_section(name, sections)
            for label, sentence in section.sentences(value):
                add(section.rank, label, sentence)
    return out


def make_counter(tokenizer: str | None = DEFAULT_TOKENIZER) -> tuple[Callable[[str], int], str]:
    """A token counter and how it counts."""
    if tokenizer:
        try:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
            return (lambda text: len(tok(text).input_ids)), f"counted with the {tokenizer} tokenizer"
        except Exception:  # not in the cache, no network, no transformers: estimate instead
            pass
    why = f"no {tokenizer} tokenizer available offline" if tokenizer else "no tokenizer given"

    def estimate(text: str) -> int:
        words = re.findall(r"[A-Za-z0-9']+", text)
        marks = re.findall(r"[^\w\s]", text)
        return math.ceil(1.3 * len(words)) + len(marks) + 1  # +1: the end-of-sequence token

    return estimate, f"estimated, {why}: 1.3 per word + 1 per punctuation mark + 1"


def flatten(caption: dict[str, Any], max_tokens: int = 226, counter: Callable[[str], int] | None = None,
            counted_with: str = "", sections: Sections | None = None) -> Flattened:
    if counter is None:
        counter, counted_with = make_counter()
    kept = units(caption, sections)
    dropped: list[str] = []

    def text_of(items: list[Unit]) -> str:
        return " ".join(u.text for u in sorted(items, key=lambda u: u.order))

    while counter(text_of(kept)) > max_tokens and any(u.rank > 0 for u in kept):
        victim = max((u for u in kept if u.rank > 0), key=lambda u: (u.rank, u.order))
        kept.remove(victim)
        dropped.append(victim.label)
    truncated = []
    text = text_of(kept)
    if counter(text) > max_tokens:  # only the global description is left and it is too long
        words = text.split()
        while words and counter(" ".join(words) + "…") > max_tokens:
            words.pop()
        text = " ".join(words) + "…" if words else ""
        truncated.append("Global Description")
    return Flattened(text=text, tokens=counter(text), budget=max_tokens, counted_with=counted_with,
                     dropped=dropped, truncated=truncated)
