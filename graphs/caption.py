"""The caption graph.

    observe -> model -> tools -> record -> model ... -> model -> validate -> END
                  \\                                              |   ^
                   \\-> nudge -> model        (repair) <- - - - -+   |
                   \\-> fallback -> END        (repairs spent) -> fallback

* ``observe``: temporal metadata and the sampled frames go into the first user message;
* ``model``: the chat model (an LLM, or the offline planner) picks tools or submits;
* ``tools``: LangGraph's ToolNode runs the registered tools; each returns its evidence as its update to
  the state;
* ``record``: tool images into a user message (never inside a tool message);
* ``validate``: schema, evidence and wording checks of the submitted caption; problems go back to
  the model as the submit call's result (a repair), a bounded number of times;
* ``fallback``: the caption composed from the evidence, marked degraded with the reasons.

The tools as ToolNode runs them (and the submission's spec) are in :mod:`graphs.caption_tools`.

The graph is built once per model and tool set; a run hands it its :class:`~agent.run.context.RunContext`
as LangGraph's runtime context (``graph.stream(..., context=ctx)``): nodes read it from their
``Runtime``, tools from their ``ToolRuntime``. The evidence has one home, the state (merged by its
reducer): a step that measures (a tool call, the validation, the fallback) reads it through a
:class:`~agent.run.context.Measuring`, which runs what a tool requires in the middle of a call, and
returns what it measured as its update. Events go out on the ``custom`` stream.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Annotated, Any, Callable, Protocol, TypedDict

import cv2
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from agent.core.caption import Sections
from agent.core.composer import compose
from agent.core.prompts import SYSTEM_PROMPT, first_message_text
from agent.core.registry import ToolRegistry
from agent.core.validation import assess, validate
from agent.models.toolcalls import cap_reply, is_planned, normalise_reply, unparsed_error
from graphs.caption_tools import SUBMIT, as_langchain_tool, guarded_tool_call, submit_tool_spec
from graphs.grounding import core_measured, field_by_field
from tools.frames import contact_sheet


def merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


def add(left: int | None, right: int | None) -> int:
    return (left or 0) + (right or 0)


class RunContextLike(Protocol):
    """What the graph uses of the run context (:class:`agent.run.context.RunContext`)."""

    frames: Any

    def emit(self, kind: str, **data: Any) -> None: ...

    def measuring(self, known: dict[str, Any] | None) -> Any: ...

    def output_path(self, *parts: str) -> Any: ...


class CaptionState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    evidence: Annotated[dict[str, Any], merge]
    video: str
    steps: Annotated[int, add]  # model turns taken
    repairs: Annotated[int, add]  # failed submissions
    nudges: Annotated[int, add]
    tool_calls: Annotated[int, add]  # tool calls the model asked for, submissions included
    status: str  # ok | degraded
    caption: dict | None
    problems: list[str]
    fallback_reason: str | None
    llm_error: str | None  # the model could not be reached or answered with an error
    advice: list[dict]  # disagreements with unsure evidence of the caption accepted (field, measured, confidence, said)
    field_sources: dict[str, str]  # a degraded caption kept field by field: each field's source (model or composed)


def _image_part(path: str) -> dict:
    data = base64.b64encode(open(path, "rb").read()).decode()
    return {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}"}}


def build_caption_graph(llm, tools: list, checks: list, settings, *, send_images: bool = True,
                        describe_error: Callable[[Exception], str | None] = lambda e: None,
                        checkpointer=None, pause_before_tools: bool = False,
                        sections: Callable[[dict], dict] = lambda evidence: {},
                        declared: Sections | None = None):
    """The caption graph for ``llm`` and ``tools``; run it with ``context=`` the run's context. ``sections``
    writes the plugins' caption sections from the evidence; ``declared`` are those a caption may carry (the
    plugin manager's ``sections``), offered in the submission's schema and checked by their models.
    ``describe_error`` turns an exception of the chat model into one line (None: not a model error).
    Model calls are accounted for by the callbacks the run passes in its config."""
    plan = offline_tools(tools)
    lc_tools = [as_langchain_tool(t, plan.index(t.name) if t.name in plan else None) for t in tools]
    model = llm.bind_tools([*lc_tools, submit_tool_spec(declared)])
    one_at_a_time = threading.Lock()  # tools share the run's services; ToolNode runs a turn's calls in threads

    graph = StateGraph(CaptionState, context_schema=RunContextLike)
    graph.add_node("observe", observe_node(tools, send_images))
    graph.add_node("model", model_node(model, settings, describe_error))
    graph.add_node("tools", ToolNode(lc_tools, wrap_tool_call=guarded_tool_call(one_at_a_time)))
    graph.add_node("record", record_node(send_images))
    graph.add_node("nudge", nudge)
    graph.add_node("validate", validate_node(checks, declared))
    graph.add_node("fallback", fallback_node(plan, checks, settings, sections, declared))
    graph.add_edge(START, "observe")
    graph.add_edge("observe", "model")
    graph.add_conditional_edges("model", route_after_model(settings), ["validate", "tools", "nudge", "fallback"])
    graph.add_edge("tools", "record")
    graph.add_edge("record", "model")
    graph.add_edge("nudge", "model")
    graph.add_conditional_edges("validate", route_after_validate(settings), ["model", "fallback", END])
    graph.add_edge("fallback", END)
    return graph.compile(checkpointer=checkpointer, interrupt_before=["tools"] if pause_before_tools else None)


# -- the nodes ---------------------------------------------------------------------------------
def observe_node(tools: list, send_images: bool):
    """``observe``: the system prompt and the first user message (the clip's metadata, and the sheet of
    sampled frames when the model is sent images)."""

    def observe(state: CaptionState, runtime: Runtime) -> dict:
        ctx = runtime.context
        fs = ctx.frames
        info = fs.info
        fps = fs.stats.mean_fps or info.fps
        metadata = f"{info.width}x{info.height} pixels, {fps:.2f} fps, {fs.frame_count} frames."
        text = first_message_text(state["video"], fs.temporal_metadata(), [t.name for t in tools], metadata)
        content: list[dict] | str = text
        # the sheet of sampled frames is kept in the run folder whether or not the model sees it
        sheet = contact_sheet([f.image for f in fs.sampled], [f"{f.time_s:.2f}s" for f in fs.sampled])
        path = ctx.output_path("frames", "sampled.jpg")
        cv2.imwrite(str(path), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if send_images:
            content = [{"type": "text", "text": text}, _image_part(str(path))]
        return {"messages": [SystemMessage(SYSTEM_PROMPT), HumanMessage(content)]}

    return observe


def model_node(model, settings, describe_error: Callable[[Exception], str | None]):
    """``model``: one turn of the chat model; a model error, or more tool calls than the limits allow,
    sends the run to the fallback."""

    def call_model(state: CaptionState, runtime: Runtime) -> dict:
        ctx = runtime.context
        step = state.get("steps", 0) + 1
        ctx.emit("model_start", step=step)
        started = time.perf_counter()
        try:
            raw = model.invoke(state["messages"])
        except Exception as e:
            line = describe_error(e)
            if line is None:
                raise
            return {"llm_error": line, "fallback_reason": f"the model failed: {line}"}
        raw = cap_reply(raw, settings.max_reply_chars)
        reply = normalise_reply(raw)  # once: the graph and the usage accounting read the same reply
        _model_event(ctx, step, raw, reply, time.perf_counter() - started)
        calls = len(reply.tool_calls)
        update: dict[str, Any] = {"messages": [reply], "steps": 1, "tool_calls": calls}
        reason = _too_many_calls(calls, state.get("tool_calls", 0) + calls, settings)
        if reason:
            update["fallback_reason"] = reason
        return update

    return call_model


def _too_many_calls(calls: int, total: int, settings) -> str | None:
    """Why a reply of ``calls`` tool calls (``total`` in the run) breaks the limits, or None."""
    if calls > settings.max_calls_per_turn:
        return (f"the model asked for {calls} tool calls in one reply "
                f"(at most {settings.max_calls_per_turn}: --max-calls-per-turn)")
    if total > settings.max_tool_calls:
        return f"the model asked for more than {settings.max_tool_calls} tool calls in the run (--max-tool-calls)"
    return None


def record_node(send_images: bool):
    """``record``: the images of the last turn's tool messages into a user message (a tool message may
    carry only text; the tools put their evidence into the state themselves)."""

    def record(state: CaptionState) -> dict:
        fresh: list[ToolMessage] = []
        for m in reversed(state["messages"]):
            if not isinstance(m, ToolMessage):
                break
            fresh.append(m)
        fresh.reverse()
        images = [p for m in fresh if isinstance(m.artifact, dict) for p in m.artifact.get("images", [])]
        update: dict[str, Any] = {}
        if images and send_images:
            parts = [{"type": "text", "text": f"Images from {', '.join(sorted({m.name for m in fresh}))}:"}]
            parts += [_image_part(p) for p in images]
            update["messages"] = [HumanMessage(parts)]
        return update

    return record


def nudge(state: CaptionState) -> dict:
    """``nudge``: ask a model that answered without a tool call for one."""
    return {"nudges": 1, "messages": [HumanMessage(
        f"Reply with a tool call: use the tools to gather evidence, then call {SUBMIT} with the caption.")]}


def validate_node(checks: list, declared: Sections | None = None):
    """``validate``: check the submitted caption; its problems go back to the model as the submission's
    result. The other calls of the reply are answered as not run."""

    def validate_submission(state: CaptionState, runtime: Runtime) -> dict:
        last: AIMessage = state["messages"][-1]
        calls = last.tool_calls
        submit = next(c for c in calls if c["name"] == SUBMIT)
        replies = [ToolMessage(f"Not run: {SUBMIT} ends the turn; call tools before submitting.",
                               tool_call_id=c["id"], name=c["name"]) for c in calls if c is not submit]
        unparsed = unparsed_error(submit)
        update: dict[str, Any] = {}
        if unparsed:
            lines = [unparsed.removeprefix("Error: ")]
        else:
            # nothing unmeasured passes: the core measurements the model skipped run now
            step = runtime.context.measuring(state.get("evidence"))
            ran, missing = core_measured(step)
            update["evidence"] = step.measured
            caption, problems, advice = assess(submit["args"], step.evidence, checks, declared)
            update["advice"] = [a.disagreement() for a in advice]
            if caption is not None and not problems:
                return {**update, **_accepted(caption, missing, submit, replies)}
            lines = _problem_lines(problems, ran)
        replies.append(ToolMessage("The caption was not accepted. Fix these problems and submit again:\n- "
                                   + "\n- ".join(lines), tool_call_id=submit["id"], name=SUBMIT, status="error"))
        return {**update, "messages": replies, "repairs": 1, "problems": lines}

    return validate_submission


def _accepted(caption, missing: list[str], submit: dict, replies: list[ToolMessage]) -> dict:
    """The update of a caption that passed its checks (``replies``: to the reply's other calls): ok, or
    degraded when a core measurement (``missing``) could not be made to check it against."""
    if missing:
        kept = ToolMessage("Caption kept, unchecked against: " + ", ".join(missing), tool_call_id=submit["id"],
                           name=SUBMIT)
        return {"messages": [*replies, kept], "status": "degraded", "caption": caption.to_dict(), "problems": [],
                "fallback_reason": f"the caption could not be checked: {', '.join(missing)} could not be measured"}
    accepted = ToolMessage("Caption accepted.", tool_call_id=submit["id"], name=SUBMIT)
    return {"messages": [*replies, accepted], "status": "ok", "caption": caption.to_dict(), "problems": []}


def _problem_lines(problems: list, ran: list[tuple[str, str]]) -> list[str]:
    """The problems as the model reads them, and the measurements that ran before the check."""
    lines = [str(p) for p in problems]
    if ran:
        lines.append("these measurements were missing and ran before the check: "
                     + "; ".join(f"{name} -> {summary}" for name, summary in ran))
    return lines


def fallback_node(plan: list[str], checks: list, settings, sections: Callable[[dict], dict],
                  declared: Sections | None = None):
    """``fallback``: the caption composed from the evidence (the plan's tools measure what the model
    left unmeasured, into the state), keeping the model's fields that passed; marked degraded with the
    reasons."""

    def fallback(state: CaptionState, runtime: Runtime) -> dict:
        ctx = runtime.context
        reason = state.get("fallback_reason") or _fallback_reason(state, settings)
        step = ctx.measuring(state.get("evidence"))
        for name in plan:  # measure what the model left unmeasured
            step.require(name)
        evidence = step.evidence
        composed = compose(evidence, state["video"], sections(evidence)).to_dict()
        kept = field_by_field(state["messages"], composed, evidence, checks, SUBMIT, declared)
        if kept is not None:  # the model's fields that passed, composed text for the ones that failed
            caption, sources, advice = kept
            failed = sorted(f for f, source in sources.items() if source == "composed")
            if failed:
                reason = f"{reason}; composed from the evidence: {', '.join(failed)}"
            return {"status": "degraded", "caption": caption, "evidence": step.measured, "field_sources": sources,
                    "advice": advice, "problems": state.get("problems", []), "fallback_reason": reason}
        _, problems = validate(composed, evidence, checks, declared)
        return {"status": "degraded", "caption": composed, "fallback_reason": reason, "evidence": step.measured,
                "field_sources": {"(caption)": "composed"},
                "problems": [str(p) for p in problems] or state.get("problems", [])}

    return fallback


# -- routing -----------------------------------------------------------------------------------
def route_after_model(settings):
    """Where a model turn goes: the fallback, the validation of a submission, the tools, or a nudge."""

    def after_model(state: CaptionState) -> str:
        if state.get("llm_error") or state.get("fallback_reason"):
            return "fallback"
        last = state["messages"][-1]
        calls = getattr(last, "tool_calls", None) or []
        if any(c["name"] == SUBMIT for c in calls):
            return "validate"
        if state.get("steps", 0) >= settings.max_steps:
            return "fallback"
        if calls:
            return "tools"
        return "nudge" if state.get("nudges", 0) < 2 else "fallback"

    return after_model


def route_after_validate(settings):
    """Where a validation goes: the end, back to the model for a repair, or the fallback."""

    def after_validate(state: CaptionState) -> str:
        if state.get("status") in ("ok", "degraded"):  # degraded here: accepted, but a core check could not run
            return END
        if state.get("repairs", 0) > settings.max_repairs or state.get("steps", 0) >= settings.max_steps:
            return "fallback"
        return "model"

    return after_validate


def _model_event(ctx, step: int, raw: AIMessage, reply: AIMessage, seconds: float) -> None:
    """The ``model`` event: what the model asked for, and whether its calls had to be recovered from text."""
    recovered = None
    if reply is not raw:
        recovered = "tool calls written as text" if not raw.tool_calls and not raw.invalid_tool_calls \
            else "arguments that are not valid JSON"
    meta = getattr(raw, "usage_metadata", None) or {}
    ctx.emit("model", step=step, duration_s=round(seconds, 3),
             calls=[{"tool": c["name"], "args": c["args"]} for c in reply.tool_calls],
             text=_short(reply.content) if isinstance(reply.content, str) else "",
             tokens=meta.get("total_tokens", 0), prompt_tokens=int(meta.get("input_tokens", 0)),
             completion_tokens=int(meta.get("output_tokens", 0)), recovered=recovered,
             planned=is_planned(raw))


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def offline_tools(tools) -> list[str]:
    """The tools a caption composed from evidence needs, in the order their declarations give."""
    return ToolRegistry.of(tools).plan()


def _fallback_reason(state: CaptionState, settings) -> str:
    if state.get("repairs", 0) > settings.max_repairs:
        return f"caption still invalid after {settings.max_repairs} repair(s)"
    if state.get("steps", 0) >= settings.max_steps:
        return f"step limit reached ({settings.max_steps} model turns)"
    return "the model stopped calling tools without submitting a caption"
def initial_state(video: str) -> CaptionState:
    return {"messages": [], "evidence": {}, "video": video, "steps": 0, "repairs": 0, "nudges": 0, "tool_calls": 0,
            "status": "running", "caption": None, "problems": [], "fallback_reason": None, "llm_error": None,
            "advice": [], "field_sources": {}}


__all__ = ["build_caption_graph", "initial_state", "offline_tools", "CaptionState", "SUBMIT"]
