"""The tool contract.

A tool has a name, a description written for an LLM, a pydantic model of its arguments, a
version (part of any cache key) and ``run(ctx, args) -> Observation``. An observation has:

* ``summary``: compact JSON for the LLM (it pays for every token);
* ``evidence``: typed data kept in the graph state for the composer and the validator;
* ``images``: files shown to the LLM afterwards, as parts of a user message.

Tools never take file paths from the LLM: they work on the run's clip through ``ctx.frames``
and write only inside ``ctx.run_dir``. A tool that fails returns an observation that says so.

A tool also declares, once, what the run needs to know about it (:mod:`agent.core.registry` derives
the offline plan, the Ray stages, the evidence models and the cache keys from these):

* ``evidence_model``: the pydantic model of its evidence;
* ``requires``: the tools whose evidence it reads (run first when missing; it sees no other tool's);
* ``produces`` / ``consumes``: the in-memory artifacts it leaves for other tools and those it reads
  (each consumed artifact has a producer among the tools it requires, directly or not);
* ``reads_settings``: the settings it reads; with the versions, they are its cache key;
* ``stage``: ``cpu``, ``gpu`` or ``llm``, where the Ray engine runs it;
* ``plan``: its place in the offline plan (lower first), or ``None`` when the planner does not call it;
* ``offline_role``: how the offline planner uses a tool that takes arguments: ``describe`` (asked about
  each instance, the background and the camera) or ``check_draft`` (given the draft caption's fields);
* ``feeds``: the frame feeds (:class:`agent.core.feeds.FrameFeed`) it reads, fed by the one decode pass.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.core.feeds import FrameFeed


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


Stage = Literal["cpu", "gpu", "llm"]
DECLARATIONS = frozenset({"name", "description", "Args", "version", "evidence_model", "requires", "produces",
                          "consumes", "reads_settings", "stage", "plan", "offline_role", "cacheable", "feeds"})


class Tool:
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]] = NoArgs
    version: ClassVar[str] = "1"
    evidence_model: ClassVar[type[BaseModel] | None] = None
    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()
    consumes: ClassVar[tuple[str, ...]] = ()
    reads_settings: ClassVar[tuple[str, ...]] = ()
    stage: ClassVar[Stage] = "cpu"
    plan: ClassVar[int | None] = None
    offline_role: ClassVar[Literal["describe", "check_draft"] | None] = None
    cacheable: ClassVar[bool] = True  # results depend only on the clip, the arguments and the settings it reads
    feeds: ClassVar[tuple[FrameFeed, ...]] = ()  # what it reads from the decode pass as frames stream past

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for key, value in cls.__dict__.items():  # a misspelled declaration would silently change nothing
            if not (key in DECLARATIONS or key.startswith("_") or key.isupper() or callable(value)
                    or isinstance(value, (property, staticmethod, classmethod))):
                raise TypeError(f"{cls.__name__}.{key} is not a tool declaration "
                                f"(a tool declares: {', '.join(sorted(DECLARATIONS))})")

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
                obs = self._measure(ctx, args)
                if self.cacheable and obs.ok:
                    ctx.store(self, args, obs, {k: ctx.artifacts[k] for k in self.produces if k in ctx.artifacts})
        ctx.remember(self.name, obs, time.perf_counter() - started)
        return obs

    def _measure(self, ctx, args: BaseModel) -> Observation:
        """``run`` within the tool time-out; whatever it raises (``SystemExit`` and ``KeyboardInterrupt``
        included) or returns that cannot be kept as JSON is a failed observation, never the end of the run."""
        limit = tool_timeout(ctx.settings)
        try:
            obs = run_bounded(lambda: self.run(ctx.view(self), args), limit, self.name)
        except ToolTimedOut:
            ctx.emit("tool_error", tool=self.name, error=f"no result within {limit:g}s")
            return Observation({"error": f"{self.name} failed: no result within {limit:g}s (the tool time-out, "
                                         "setting tool-timeout); the run goes on without it"}, ok=False)
        except ToolRaised as raised:  # the run goes on; the observation says what broke
            e = raised.error
            ctx.log_exception(self.name, e)
            what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            if isinstance(e, SystemExit):
                what = f"it tried to end the program (SystemExit {e.code!r})"
            return Observation({"error": f"{self.name} failed: {what}"}, ok=False)
        problem = unkeepable(obs)
        if problem:
            ctx.emit("tool_error", tool=self.name, error=problem)
            return Observation({"error": f"{self.name} failed: {problem}"}, ok=False)
        return obs


def tool_timeout(settings: Any) -> float | None:
    """The run's tool time-out: read from the fields as stored, since it is the run's setting, not one the
    tool reads (a tool's cache key holds only the settings it reads)."""
    value = vars(settings).get("tool_timeout_s") if hasattr(settings, "__dict__") else None
    return float(value) if isinstance(value, (int, float)) else None


LEFT_RUNNING: list = []  # the threads of tools past their time-out


def tools_left_running() -> bool:
    """Whether a tool past its time-out still runs: then the program leaves without waiting for it at
    exit (``agent/__main__.py``), since a thread still inside a library when the interpreter ends
    can abort the exit."""
    return any(t.is_alive() for t in LEFT_RUNNING)


class ToolTimedOut(Exception):
    """A tool gave no result within the time-out."""


class ToolRaised(Exception):
    """What a tool raised, carried out of the thread it ran in (a Ctrl-C of the user is never one)."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def run_bounded(work, limit: float | None, name: str):
    """``work()`` on a thread of its own, waited for at most ``limit`` seconds. A tool that hangs is left
    behind (a daemon thread: it never keeps the process alive); what it raises comes back as
    :class:`ToolRaised`; a Ctrl-C while waiting stops the run as before."""
    import contextvars
    import threading

    box: dict[str, Any] = {}
    context = contextvars.copy_context()  # the graph's stream writer and config, as on the caller's thread

    def target() -> None:
        try:
            box["result"] = context.run(work)
        except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt of a tool are its failure
            box["error"] = e

    thread = threading.Thread(target=target, name=f"tool-{name}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        LEFT_RUNNING.append(thread)
        raise ToolTimedOut(name)
    if "error" in box:
        raise ToolRaised(box["error"])
    return box["result"]


def unkeepable(obs: Any) -> str | None:
    """Why an observation cannot be kept (not an Observation, evidence that is not JSON), or None."""
    if not isinstance(obs, Observation):
        return f"it returned a {type(obs).__name__}, not an Observation"
    try:
        json.dumps(obs.evidence_dict(), allow_nan=True)
        obs.summary_text()
    except Exception as e:  # TypeError, ValueError, RecursionError, a model_dump that fails
        return f"its evidence cannot be kept as JSON ({type(e).__name__}: {str(e)[:160]})"
    return None
