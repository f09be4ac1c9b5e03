"""``check_lexicon``: the wording rules (:mod:`agent.core.lexicon`) as a tool the model calls on
its draft, each violation returned with its span and suggestion.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.core.evidence import LexiconReport
from agent.core.lexicon import scan
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool


class LexiconArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, str] = Field(
        ..., description="caption fields to check, e.g. {'Global Description': '...', 'No.0.Appearance': '...'}"
    )


class CheckLexicon(Tool):
    name = "check_lexicon"
    description = (
        "Check caption wording before submitting: negative words (with positive suggestions), sound, "
        "timestamps or frame numbers, metaphor, speculation, bullet points, processing words, length."
    )
    Args = LexiconArgs
    version = "1"
    evidence_model = LexiconReport
    offline_role = "check_draft"  # the offline planner checks its draft with it
    cacheable = False  # cheap, and its arguments are the model's draft

    def run(self, ctx, args: LexiconArgs) -> Observation:
        violations = [v for field, text in args.fields.items() for v in scan(field, text)]
        report = LexiconReport(violations=violations, checked_fields=len(args.fields))
        summary = {"ok": not violations, "violations": [
            {"field": v.field, "kind": v.kind, "text": v.text, **({"use": v.suggestion} if v.suggestion else {})}
            for v in violations[:20]]}
        return Observation(summary, report)


@hookimpl
def register_tools():
    return [CheckLexicon()]
