"""The wording rules engine: negative-lexicon words (with a positive suggestion), sound words
(videos are silent), timestamps and frame numbers, metaphor and personification markers,
speculation, bullet points, mentions of our own image processing, and fields over their word
limit; each violation comes with its span. The word lists are data (``agent/core/data/lexicon.json``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from agent.core.evidence import LexiconViolation

TIMESTAMP = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|sec|secs|seconds?|ms|milliseconds?)\b|\b\d{1,2}:\d{2}(?::\d{2})?\b", re.I)
FRAME_NUMBER = re.compile(r"\bframes?\s*(?:#|no\.?|number)?\s*\d+\b|\b\d+(?:st|nd|rd|th)\s+frames?\b", re.I)
BULLET = re.compile(r"(?m)^\s*(?:[-*\u2022]|\d+[.)])\s+")
MARKUP = re.compile(r"</?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>", re.I)
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


@lru_cache(maxsize=1)
def lexicon() -> dict:
    return json.loads(resources.files("agent.core").joinpath("data/lexicon.json").read_text())


def _phrase_pattern(phrases) -> re.Pattern:
    alts = sorted((re.escape(p) for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alts) + r")(?![\w-])", re.I)


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern]:
    lx = lexicon()
    return {
        "negative_word": _phrase_pattern(lx["negative"]),
        "sound": _phrase_pattern(lx["sound"]),
        "speculation": _phrase_pattern(lx["speculation"]),
        "metaphor": _phrase_pattern(lx["metaphor"]),
        "processing": _phrase_pattern(lx["processing"]),
    }


def word_limit(field: str) -> int:
    limits = lexicon()["word_limits"]
    leaf = field.rsplit(".", 1)[-1]
    return limits.get(leaf, limits["default"])


def hidden_characters(field: str, text: str) -> list[LexiconViolation]:
    """Control characters (NUL, escape, ...), direction overrides and invisible format characters
    (zero-width spaces, soft hyphens): a caption is plain visible text."""
    import unicodedata

    out = []
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if ch in BIDI:
            kind = "bidirectional_character"
        elif category == "Cc" and ch not in "\n\t":
            kind = "control_character"
        elif category == "Cf" and ch != "\ufeff" or ch == "\ufeff" and i > 0:
            kind = "invisible_character"
        else:
            continue
        out.append(LexiconViolation(field=field, kind=kind, text=f"U+{ord(ch):04X}", start=i, end=i + 1))
    return out


def scan(field: str, text: str) -> list[LexiconViolation]:
    """The wording rules on ``field``'s ``text``, read after NFKC with format characters taken out (so
    zero-width spaces, soft hyphens and full-width letters hide nothing); spans are on that reading.
    The hidden characters themselves are violations too."""
    from agent.core.vocab import plain_text

    out: list[LexiconViolation] = hidden_characters(field, text)
    text = plain_text(text)
    negative = lexicon()["negative"]
    for kind, pattern in _patterns().items():
        for m in pattern.finditer(text):
            suggestion = negative.get(m.group(0).lower()) if kind == "negative_word" else None
            out.append(LexiconViolation(field=field, kind=kind, text=m.group(0), start=m.start(), end=m.end(),
                                        suggestion=suggestion))
    for kind, pattern in (("timestamp", TIMESTAMP), ("frame_number", FRAME_NUMBER), ("bullet", BULLET),
                          ("markup", MARKUP)):
        for m in pattern.finditer(text):
            out.append(LexiconViolation(field=field, kind=kind, text=m.group(0).strip(), start=m.start(), end=m.end()))
    words = len(text.split())
    limit = word_limit(field)
    if words > limit:
        out.append(LexiconViolation(field=field, kind="too_long", text=f"{words} words", start=0, end=len(text),
                                    suggestion=f"at most {limit} words"))
    return sorted(out, key=lambda v: (v.start, v.kind))


def apply_suggestions(text: str, violations: list[LexiconViolation]) -> str:
    """Replace negative words by their suggestions (others are left for a writer to fix)."""
    for v in sorted(violations, key=lambda v: -v.start):
        if v.kind == "negative_word" and v.suggestion:
            text = text[:v.start] + v.suggestion + text[v.end:]
    return text


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def without_rejected_sentences(field: str, text: str) -> tuple[str, list[str]]:
    """``text`` with its negative words replaced by their suggestions and every sentence that still breaks
    a wording rule left out, when at least one sentence is left (a field is never emptied): (the text, the
    sentences left out). A writer's last resort when repairs kept a forbidden word ("the noise of the
    waves"): a caption says less rather than something its rules forbid."""
    from agent.core.vocab import plain_text

    text = plain_text(text)
    text = apply_suggestions(text, scan(field, text))
    sentences = [s for s in SENTENCE_END.split(text.strip()) if s]
    kept = [s for s in sentences if not [v for v in scan(field, s) if v.kind != "too_long"]]
    if not kept or len(kept) == len(sentences):
        return text, []
    return " ".join(kept), [s for s in sentences if s not in kept]
