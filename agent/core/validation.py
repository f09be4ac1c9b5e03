"""Validation beyond the schema: does the caption agree with the evidence and the wording rules?

A check is a callable ``check(caption, evidence) -> list[Problem]``; the built-in ones live in
``agent/core/checks.py`` and plugins add more through ``register_validation_checks``. Each problem
names the field and, where one exists, the evidence it contradicts.

A problem against a fact the tools were not sure of (see :mod:`agent.core.sureness`) is *advice*
(``advisory``): the caption is accepted, and the disagreement is recorded with the measured value, its
confidence and what the caption says, so a dataset builder can filter on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from agent.core.caption import Caption, Sections, validate_raw
from agent.core.evidence import Evidence


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    evidence: str | None = None
    advisory: bool = False  # against an unsure fact: recorded, not binding
    measured: str | None = None
    confidence: float | None = None
    said: str | None = None  # what the caption says

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}"
        return f"{text} (evidence: {self.evidence})" if self.evidence else text

    def disagreement(self) -> dict[str, Any]:
        """The record's entry for advice: field, measured value, its confidence, what the caption says."""
        out = {k: v for k, v in asdict(self).items() if k not in ("advisory",) and v is not None}
        return out


Check = Callable[[Caption, dict[str, Any]], list[Problem]]


def assess(raw: Any, evidence: Evidence, checks: list[Check], sections: Sections | None = None
           ) -> tuple[Caption | None, list[Problem], list[Problem]]:
    """(caption, binding problems, advice): every check run on ``raw`` (which may carry the extra
    ``sections``); a check that breaks is a binding problem, so a caption whose checks could not run is never
    accepted."""
    caption, errors = validate_raw(raw, sections)
    if caption is None:
        return None, [Problem(*e.split(": ", 1)) if ": " in e else Problem("(caption)", e) for e in errors], []
    problems: list[Problem] = []
    for check in checks:
        try:
            problems.extend(check(caption, evidence) or [])
        except Exception as e:  # a broken check must not hide the others
            name = getattr(check, "__name__", repr(check))
            problems.append(Problem("(validator)", f"check {name} failed: {type(e).__name__}: {e}"))
    return caption, [p for p in problems if not p.advisory], [p for p in problems if p.advisory]


def validate(raw: Any, evidence: Evidence, checks: list[Check], sections: Sections | None = None
             ) -> tuple[Caption | None, list[Problem]]:
    """(caption, the binding problems); see :func:`assess` for the advice too."""
    caption, problems, _ = assess(raw, evidence, checks, sections)
    return caption, problems
