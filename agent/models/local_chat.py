"""What the local backend's model (:mod:`agent.models.local`) reads and may call.

* :func:`to_chat`: the conversation as the runtime's chat: the compact prompt, one line per tool, tool
  calls as the JSON the model writes, tool results as plain user turns;
* :func:`still_offered` / :func:`next_planned`: the tools offered in a turn, and the plan's next tool,
  called without asking the model;
* :func:`grounded_draft` / :func:`draft_note`: the caption composed from the evidence so far, offered
  for the model to submit as it is (``submit_draft``) or to improve.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.core.composer import compose
from agent.core.evidence import CameraMotion, Instances, evidence_in, evidence_of
from agent.core.prompts import compact_form, compact_tool_lines, plain_result, text_only
from agent.models.planner import video_name
from agent.models.toolcalls import is_planned

SUBMIT = "submit_caption"
ACCEPT_DRAFT = "submit_draft"  # a reply that submits the grounded draft as it is, without writing it out again
ACCEPT_SPEC = {"type": "function", "function": {"name": ACCEPT_DRAFT, "description": "Submit the draft as it is.",
                                                "parameters": {"type": "object", "properties": {}}}}


def still_offered(tools: list[dict], messages: Sequence[BaseMessage], plan: Sequence[str] = ()) -> list[dict]:
    """The tools not called yet; a tool that takes arguments (the wording check) comes back after
    each submission (its answer depends on the text it is given). The submission is offered once every
    tool of the ``plan`` (the measurements a caption rests on) has been called: a small model that
    submits early writes about a background nobody measured."""
    called: set[str] = set()
    since_submission: set[str] = set()
    for m in messages:
        for c in m.tool_calls if isinstance(m, AIMessage) else []:
            called.add(c["name"])
            since_submission = set() if c["name"] == SUBMIT else since_submission | {c["name"]}
    out = []
    for spec in tools:
        fn = spec.get("function", spec)
        takes_arguments = bool((fn.get("parameters") or {}).get("required"))
        if fn["name"] == SUBMIT:
            if all(name in called for name in plan):
                out.append(spec)
        elif fn["name"] not in (since_submission if takes_arguments else called):
            out.append(spec)
    return out


def next_planned(messages: Sequence[BaseMessage], plan: Sequence[str]) -> str | None:
    """The first tool of the ``plan`` not called yet. Its measurements are needed before any submission
    and their order is fixed, so the backend calls them without asking the model: the model reads
    their results in one request instead of writing six calls with a request each."""
    called = {c["name"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    return next((name for name in plan if name not in called), None)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else p.get("text", "") for p in content or [] if isinstance(p, (str, dict))]
    return "\n".join(p for p in parts if p)


def _call_text(call: dict) -> str:
    return json.dumps({"name": call["name"], "arguments": call["args"]}, ensure_ascii=False, separators=(",", ":"))


def to_chat(messages: Sequence[BaseMessage], tools: list[dict], offered: list[dict] | None = None,
            planned: Sequence[str] = (), models: Mapping[str, Any] | None = None) -> list[dict]:
    """LangChain messages as the runtime's chat: the compact prompt and tool lines (all ``tools``, so the
    prompt's start stays the same turn after turn, for the runtime's prompt cache), text only, tool calls
    as the JSON the model writes, tool results as user turns in plain ``key: value`` lines (an unsure
    note said by an earlier result left out); the draft once the submission is offered (``offered``,
    default all). The tools of the plan (``planned``), called before the model is asked, are not listed,
    and their results follow the first message in the same turn. ``models``: the tools' evidence models,
    by tool name (the draft reads the evidence typed)."""
    chat: list[dict] = []
    notes_shown: set[str] = set()
    by_plan = {c["id"] for m in messages if isinstance(m, AIMessage) and is_planned(m) for c in m.tool_calls}
    for m in messages:
        if isinstance(m, SystemMessage):
            text = compact_form(_text(m.content))
            listed = [t for t in tools if tool_name(t) not in planned]
            chat.append({"role": "system", "content": text + ("\n" + compact_tool_lines(listed) if listed else "")})
        elif isinstance(m, ToolMessage):
            result, *notes = plain_result(_text(m.content)).split("\n(")  # a note already shown is left out
            kept = [n for n in notes if n not in notes_shown]
            notes_shown.update(notes)
            text = f"Result of {m.name}:\n" + "\n(".join([result, *kept])
            if m.tool_call_id in by_plan and chat and chat[-1]["role"] == "user":  # the plan's results: one turn
                chat[-1]["content"] += "\n\n" + text
            else:
                chat.append({"role": "user", "content": text})
        elif isinstance(m, AIMessage) and is_planned(m):
            continue  # the model did not write these calls: their results follow the first message
        elif isinstance(m, AIMessage):
            text = "\n".join(_call_text(c) for c in m.tool_calls) or _text(m.content)
            chat.append({"role": "assistant", "content": text})
        elif isinstance(m, HumanMessage):
            shows_images = isinstance(m.content, list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in m.content)
            text = _text(m.content)
            # this model reads text only: a later message that carries images says nothing to it
            if text.strip() and not (shows_images and any(c["role"] == "user" for c in chat)):
                chat.append({"role": "user", "content": text_only(text) if shows_images else text})
    submission_offered = any(tool_name(t) == SUBMIT for t in (tools if offered is None else offered))
    note = draft_note(messages, models or {}) if submission_offered else None
    if note:
        chat.append({"role": "user", "content": note})
    return chat


def tool_name(tool: dict) -> str:
    return tool.get("function", tool).get("name", "")


def grounded_draft(messages: Sequence[BaseMessage], models: Mapping[str, Any]) -> dict | None:
    """Once the instances and the camera are measured: the caption composed from the evidence so far,
    which states only the sure facts. A small text-only model that writes from nothing misreads the
    evidence ("the car is on a bicycle"); one given a grounded draft keeps its facts and spends its
    words on the wording."""
    evidence = evidence_in([m for m in messages if isinstance(m, ToolMessage)], models)
    if evidence_of(evidence, Instances) is None or evidence_of(evidence, CameraMotion) is None:
        return None
    return compose(evidence, video_name(messages, evidence)).to_dict()


def draft_note(messages: Sequence[BaseMessage], models: Mapping[str, Any]) -> str | None:
    """The grounded draft, for the model to submit as it is (``submit_draft``) or to improve."""
    draft = grounded_draft(messages, models)
    if draft is None:
        return None
    return ("A draft caption composed from the tools' results; it states only what they measured surely:\n"
            + json.dumps(draft, ensure_ascii=False, separators=(",", ":"))
            + f"\nWhen the evidence is complete, call {ACCEPT_DRAFT} to submit this draft as it is, or {SUBMIT} "
              "with a better one: reword a field or add detail only where a tool result above supports it; keep "
              "every fact of the draft; never add what no tool measured.")
