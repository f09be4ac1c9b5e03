"""The tool contract.

A tool has a name, a description written for an LLM, a pydantic model of its arguments, a
version (part of any cache key) and ``run(ctx, args) -> Observation``. An observation has:

* ``summary``: compact JSON for the LLM (it pays for every token);
* ``evidence``: typed data kept in the graph state for the composer and the validator;
* ``images``: files shown to the LLM afterwards, as parts of a user message.

Tools never take file paths from the LLM: they work on the run's clip through ``ctx.frames``
and write only inside ``ctx.run_dir``. A tool that fails returns an observation that says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Observation:
    summary: dict[str, Any] | str
    evidence: BaseModel | dict[str, Any] | None = None
    images: list[Path] = field(default_factory=list)
    ok: bool = True

    def summary_text(self) -> str:
        if isinstance(self.summary, str):
            return self.summary
        return json.dumps(self.summary, ensure_ascii=False, separators=(",", ":"))

    def evidence_dict(self) -> dict[str, Any] | None:
        if self.evidence is None:
            return None
        if isinstance(self.evidence, BaseModel):
            return self.evidence.model_dump(mode="json")
        return self.evidence


class Tool:
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]] = NoArgs
    version: ClassVar[str] = "1"
    cacheable: ClassVar[bool] = True  # results depend only on the clip, the arguments and the vision settings
    offline_plan: ClassVar[bool] = False  # the offline planner calls it (with no arguments) after the core tools

    def run(self, ctx, args: BaseModel) -> Observation:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, ctx, **kwargs) -> Observation:
        """Validate ``kwargs`` against ``Args`` and run; failures become observations, never exceptions."""
        started = time.perf_counter()
        try:
            args = self.Args(**kwargs)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'args'}: {err['msg']}" for err in e.errors()
            )
            obs = Observation({"error": f"invalid arguments for {self.name}: {problems}"}, ok=False)
        else:
            obs = ctx.cached(self, args) if self.cacheable else None
            if obs is None:
                caching = self.cacheable and ctx.cache is not None
                before = dict(ctx.artifacts) if caching else {}
                try:
                    obs = self.run(ctx, args)
                except Exception as e:  # the run goes on; the observation says what broke
                    ctx.log_exception(self.name, e)
                    obs = Observation({"error": f"{self.name} failed: {type(e).__name__}: {e}"}, ok=False)
                else:
                    if caching and obs.ok:
                        made = {k: v for k, v in ctx.artifacts.items() if before.get(k) is not v}
                        ctx.store(self, args, obs, made)
        ctx.remember(self.name, obs, time.perf_counter() - started)
        return obs
