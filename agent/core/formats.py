"""An output format, declared once: what writes it, how a file in it is recognised, and how it is checked.

``run --format``, ``batch`` and ``export`` write with :attr:`OutputFormat.write`; ``validate`` asks the
registered formats which one a value is in (:meth:`OutputFormat.recognises`), what is wrong with it
(:meth:`OutputFormat.problems`) and which of its fields the wording rules read
(:meth:`OutputFormat.texts`). A plugin's format is read back like the built-in ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from agent.core.named_args import call_naming


@dataclass(frozen=True)
class OutputFormat:
    """``write(caption, evidence)`` (or ``write(caption, evidence, sections)``: the plugins' caption sections
    too) returns the output: a JSON object (``kind="json"``) or a paragraph
    (``kind="text"``, written to ``.txt``). A JSON format names its top-level ``keys`` (all required, no
    others), the keys that mark a value as being in it (``marks``: by default all of ``keys``), the
    fields that hold free text (non-empty, held to the wording rules) and ``check(output) -> [problem]``
    for anything else. A format with neither keys nor a text kind is written but never recognised."""

    name: str
    write: Callable[[dict, dict], Any]
    kind: Literal["json", "text"] = "json"
    keys: tuple[str, ...] = ()
    marks: tuple[str, ...] = ()
    text_fields: tuple[str, ...] = ()
    check: Callable[[Any], list[str]] | None = None

    def render(self, caption: dict, evidence: dict, sections: Any = None) -> Any:
        """The output; a writer that names ``sections`` (``write(caption, evidence, sections)``) gets the
        plugin sections' declarations, to read them as they say."""
        return call_naming(self.write, caption, evidence, sections=sections)

    def recognises(self, value: Any) -> bool:
        if self.kind == "text":
            return isinstance(value, str)
        marks = self.marks or self.keys
        return bool(marks) and isinstance(value, dict) and set(marks) <= value.keys()

    def problems(self, value: Any) -> list[str]:
        """What is wrong with one output of this format (empty: nothing)."""
        if self.kind == "text":
            return [] if isinstance(value, str) and value.strip() else ["(text): must be non-empty text"]
        out = [f"{k}: missing" for k in self.keys if k not in value]
        out += [f"{k}: must be non-empty text" for k in self.text_fields
                if k in value and (not isinstance(value[k], str) or not value[k].strip())]
        out += self.check(value) if self.check is not None else []
        out += [f"{k}: not a field of {self.name}" for k in value if self.keys and k not in self.keys]
        return out

    def texts(self, value: Any) -> list[tuple[str, str]]:
        """(field, text) of the free text the wording rules read."""
        if self.kind == "text":
            return [(self.text_fields[0] if self.text_fields else self.name, value)]
        return [(k, value[k]) for k in self.text_fields if isinstance(value.get(k), str)]
