"""The tools as the caption graph (:mod:`graphs.caption`) runs them: each of ours wrapped as a LangChain
tool that returns its update to the graph state (a ``Command``), the submission's tool spec, and the
wrapper of every call ToolNode makes (an unparsed call answered with its error, the others one at a
time).
"""

from __future__ import annotations

import functools
import threading
from typing import Annotated, Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import InjectedToolArg, StructuredTool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, create_model

from agent.core.caption import Sections, json_schema
from agent.core.sureness import note_for
from agent.models.toolcalls import unparsed_error

SUBMIT = "submit_caption"


def as_langchain_tool(tool, plan_position: int | None = None) -> StructuredTool:
    """Wrap one of our tools so ToolNode can run it. It measures on the evidence of the graph state and
    returns its update (a ``Command``): what it measured, with the tools it required first, goes into the
    state's evidence; its message carries the same evidence and its images as the artifact, for the
    models that read the conversation. ``plan_position``: its place in the offline plan (the planner reads
    it from the tool's metadata)."""

    def run(runtime: ToolRuntime, **kwargs):
        ctx = runtime.context
        step = ctx.measuring(runtime.state.get("evidence"))
        ctx.emit("tool_start", tool=tool.name, args=kwargs)
        before = len(ctx.records)
        obs = tool(step, **kwargs)
        # tools this one ran first (require): the model sees their results too, since the
        # validator will hold the caption to them
        ran_first = [r for r in ctx.records[before:] if r.name != tool.name]
        artifact = {"evidence": obs.evidence_dict(), "images": [str(p) for p in obs.images], "ok": obs.ok,
                    "dependencies": {r.name: step.evidence.get(r.name) for r in ran_first}}
        content = obs.summary_text()
        unsure = note_for(step.evidence, obs.evidence) if obs.evidence is not None else None
        if unsure:
            content += f"\n({unsure})"
        for r in ran_first:
            content += f"\n(ran first: {r.name} -> {r.summary})"
        message = ToolMessage(content, artifact=artifact, tool_call_id=runtime.tool_call_id, name=tool.name)
        return Command(update={"evidence": step.measured, "messages": [message]})

    return StructuredTool.from_function(func=run, name=tool.name, description=tool.description,
                                        args_schema=_with_runtime(tool.Args),
                                        metadata={"plan_position": plan_position, "offline_role": tool.offline_role,
                                                  "evidence_model": tool.evidence_model})


@functools.cache
def _with_runtime(args: type[BaseModel]) -> type[BaseModel]:
    """``args`` with the ``runtime`` that ToolNode injects, which the model never sees (an injected argument
    is left out of the schema it is shown)."""
    return create_model(args.__name__, __base__=args, __module__=args.__module__,
                        runtime=(Annotated[Any, InjectedToolArg], None))


def submit_tool_spec(declared: Sections | None = None) -> dict:
    """The submission tool, whose parameters are the caption's schema with the ``declared`` plugin sections."""
    schema = json_schema(declared)
    schema.pop("title", None)
    return {"type": "function", "function": {
        "name": SUBMIT,
        "description": "Submit the finished caption. It is validated against the schema, the tools' "
                       "evidence and the wording rules; any problems come back for you to fix.",
        "parameters": schema}}


def guarded_tool_call(one_at_a_time: threading.Lock):
    """ToolNode's wrapper of each call: an unparsed call is answered with its error; the others run one
    at a time, each on the state's evidence with what the calls before it in the same turn measured, as
    if the turn ran them in sequence (a requirement two calls share is measured once)."""
    turn: dict[str, Any] = {"calls": None, "measured": {}}

    def guarded(request, execute):
        error = unparsed_error(request.tool_call)
        if error:
            return ToolMessage(error, tool_call_id=request.tool_call["id"], name=request.tool_call["name"] or "unknown",
                               status="error")
        with one_at_a_time:
            calls = _turn_calls(request.state)
            if calls != turn["calls"]:
                turn.update(calls=calls, measured={})
            if turn["measured"]:
                evidence = {**(request.state.get("evidence") or {}), **turn["measured"]}
                request = request.override(state={**request.state, "evidence": evidence})
            result = execute(request)
            if isinstance(result, Command) and isinstance(result.update, dict):
                turn["measured"].update(result.update.get("evidence") or {})
            return result

    return guarded


def _turn_calls(state) -> tuple[str, ...]:
    """The ids of the tool calls of the turn ToolNode is running (the last model reply's)."""
    last = next((m for m in reversed(state.get("messages") or []) if isinstance(m, AIMessage)), None)
    return tuple(c.get("id") or "" for c in (last.tool_calls if last is not None else []))
