"""Validation beyond the schema: does the caption agree with the evidence and the wording rules?

A check is a callable ``check(caption, evidence) -> list[Problem]``; the built-in ones live in
``agent/core/checks.py`` and plugins add more through ``register_validation_checks``. Each problem
names the field and, where one exists, the evidence it contradicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from agent.core.caption import Caption, validate_raw


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    evidence: str | None = None

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}"
        return f"{text} (evidence: {self.evidence})" if self.evidence else text


Check = Callable[[Caption, dict[str, Any]], list[Problem]]


def validate(raw: Any, evidence: dict[str, Any], checks: list[Check]) -> tuple[Caption | None, list[Problem]]:
    caption, errors = validate_raw(raw)
    if caption is None:
        return None, [Problem(*e.split(": ", 1)) if ": " in e else Problem("(caption)", e) for e in errors]
    problems: list[Problem] = []
    for check in checks:
        try:
            problems.extend(check(caption, evidence) or [])
        except Exception as e:  # a broken check must not hide the others
            name = getattr(check, "__name__", repr(check))
            problems.append(Problem("(validator)", f"check {name} failed: {type(e).__name__}: {e}"))
    return caption, problems
