"""The tools as the caption graph (:mod:`graphs.caption`) runs them: each of ours wrapped as a LangChain
tool whose evidence and images travel as its artifact, the submission's tool spec, and the wrapper of
every call ToolNode makes (an unparsed call answered with its error, the others one at a time).
"""

from __future__ import annotations

import threading

from langchain_core.messages import ToolMessage
from langchain_core.tools import StructuredTool
from langgraph.runtime import get_runtime

from agent.core.caption import Sections, json_schema
from agent.core.sureness import note_for
from agent.models.toolcalls import unparsed_error

SUBMIT = "submit_caption"


def as_langchain_tool(tool, plan_position: int | None = None) -> StructuredTool:
    """Wrap one of our tools so ToolNode can run it; evidence and images travel as the artifact.
    ``plan_position``: its place in the offline plan (the planner reads it from the tool's metadata)."""

    def run(**kwargs):
        ctx = get_runtime().context
        ctx.emit("tool_start", tool=tool.name, args=kwargs)
        before = len(ctx.records)
        obs = tool(ctx, **kwargs)
        # tools this one ran first (ctx.require): the model sees their results too, since the
        # validator will hold the caption to them
        ran_first = [r for r in ctx.records[before:] if r.name != tool.name]
        artifact = {"evidence": obs.evidence_dict(), "images": [str(p) for p in obs.images], "ok": obs.ok,
                    "dependencies": {r.name: ctx.evidence.get(r.name) for r in ran_first}}
        content = obs.summary_text()
        unsure = note_for(ctx.evidence, obs.evidence) if obs.evidence is not None else None
        if unsure:
            content += f"\n({unsure})"
        for r in ran_first:
            content += f"\n(ran first: {r.name} -> {r.summary})"
        return content, artifact

    return StructuredTool.from_function(func=run, name=tool.name, description=tool.description,
                                        args_schema=tool.Args, response_format="content_and_artifact",
                                        metadata={"plan_position": plan_position, "offline_role": tool.offline_role})


def submit_tool_spec(declared: Sections | None = None) -> dict:
    """The submission tool, whose parameters are the caption's schema with the ``declared`` plugin sections."""
    schema = json_schema(declared)
    schema.pop("title", None)
    return {"type": "function", "function": {
        "name": SUBMIT,
        "description": "Submit the finished caption. It is validated against the schema, the tools' "
                       "evidence and the wording rules; any problems come back for you to fix.",
        "parameters": schema}}


def seed_evidence(ctx, state) -> None:
    """Give the run context's working copy the evidence the state holds (a resumed run's, say)."""
    for name, found in (state.get("evidence") or {}).items():
        ctx.evidence.setdefault(name, found)


def guarded_tool_call(one_at_a_time: threading.Lock):
    """ToolNode's wrapper of each call: an unparsed call is answered with its error; the others run one
    at a time, with the run context's working copy seeded from the state."""

    def guarded(request, execute):
        error = unparsed_error(request.tool_call)
        if error:
            return ToolMessage(error, tool_call_id=request.tool_call["id"], name=request.tool_call["name"] or "unknown",
                               status="error")
        with one_at_a_time:
            seed_evidence(request.runtime.context, request.state)
            return execute(request)

    return guarded
