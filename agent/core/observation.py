"""A tool's observation in a few words, for people watching a run.

The model reads a tool's full observation (compact JSON); a person watching the live view reads
this line instead: what was found, with the long hints and per-item details left to the trace file
and the run record.
"""

from __future__ import annotations

import json
from typing import Any

_UNSAID = {"hint", "note", "images", "fact_confidence", "rates_per_s", "guesses", "views"}
_NAMES = ("class", "label", "kind", "id")


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _label(item: dict[str, Any]) -> str:
    name = next((str(item[k]) for k in _NAMES if item.get(k) not in (None, "")), "?")
    colours = item.get("colours")
    return f"{colours[0]} {name}" if isinstance(colours, list) and colours else name


def readable(observation: str, limit: int = 110) -> str:
    """A tool's observation as a short line to read: what it found, not its JSON. The raw observation
    stays in the trace file and the run record."""
    try:
        data = json.loads(observation)
    except (TypeError, ValueError):
        text = " ".join(str(observation or "").split())
        return text if len(text) <= limit else text[: limit - 1] + "…"
    if not isinstance(data, dict):
        data = {"result": data}
    parts = []
    for key, value in data.items():
        if key in _UNSAID or value in (None, "", [], {}):
            continue
        name = key.replace("_", " ")
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            labels = [_label(v) for v in value]
            shown = ", ".join(labels[:4]) + (", …" if len(labels) > 4 else "")
            parts.append(f"{len(value)} {name} ({shown})")
        elif isinstance(value, list):
            parts.append(f"{name} {', '.join(_word(v) for v in value[:4])}{', …' if len(value) > 4 else ''}")
        elif isinstance(value, dict):
            inner = ", ".join(f"{k} {_word(v)}" for k, v in list(value.items())[:3] if not isinstance(v, (dict, list)))
            if inner:
                parts.append(f"{name}: {inner}")
        else:
            parts.append(f"{name} {_word(value)}")
    text = " · ".join(parts) or "nothing found"
    return text if len(text) <= limit else text[: limit - 1] + "…"
