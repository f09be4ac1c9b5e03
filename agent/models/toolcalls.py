"""Making sense of what real servers send back as tool calls.

Well-configured servers put tool calls in the ``tool_calls`` field. Many do not: a vLLM or
Ollama model without a tool parser writes them as text in ``content``, as Hermes/Qwen
``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` blocks, as a bare JSON object or list,
or inside a fenced code block. And when a server does fill ``tool_calls`` but the arguments are
not valid JSON, LangChain keeps them apart as ``invalid_tool_calls``, which the server still
expects answers to.

:func:`normalise_reply` turns all of these into ordinary tool calls, so the graph has one
shape to route on. Calls whose arguments could not be parsed keep their id and carry the raw
text under :data:`UNPARSED`; the tools node answers them with an error the model can act on.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from langchain_core.messages import AIMessage

UNPARSED = "__unparsed_arguments__"
PLANNED = "planned"  # response_metadata of a reply a backend took from the offline plan without calling its model
HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return ""


def _as_call(obj: Any) -> dict | None:
    """``{"name": ..., "arguments"|"parameters"|"args": {...}}`` (or OpenAI's nested ``function``)."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    args = next((obj[k] for k in ("arguments", "parameters", "args", "input") if k in obj), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            args = {UNPARSED: args}
    if not isinstance(args, dict):
        args = {UNPARSED: json.dumps(args)}
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def _calls_in(fragment: str) -> list[dict]:
    try:
        data = json.loads(fragment)
    except json.JSONDecodeError:
        return []
    items = data if isinstance(data, list) else [data]
    calls = [_as_call(i) for i in items]
    return [c for c in calls if c] if all(calls) else []


def calls_from_text(content: Any) -> tuple[list[dict], str]:
    """Tool calls written as text, and the text that is left once they are taken out."""
    text = _text(content)
    if not text.strip():
        return [], text
    if "<tool_call>" in text:
        calls = [c for block in HERMES.findall(text) for c in _calls_in(block)]
        return calls, HERMES.sub("", text).strip()
    calls = _calls_in(text.strip())
    if calls:
        return calls, ""
    for block in FENCE.findall(text):
        calls = _calls_in(block.strip())
        if calls:
            return calls, FENCE.sub("", text).strip()
    return [], text


def evidence_models(tools) -> dict[str, Any]:
    """``{tool name: evidence model}`` of bound tools whose metadata names one (the graph's tools do), so
    that a backend reading the conversation reads the evidence typed."""
    models = {}
    for tool in tools:
        model = (getattr(tool, "metadata", None) or {}).get("evidence_model")
        if model is not None:
            models[tool.name] = model
    return models


def is_planned(reply: Any) -> bool:
    """Whether ``reply`` is a step a backend took from the offline plan, with no model call (``--llm local``)."""
    return bool((getattr(reply, "response_metadata", None) or {}).get(PLANNED))


def normalise_reply(reply: AIMessage) -> AIMessage:
    """The reply with every tool call it holds, in whatever form, as a proper tool call."""
    calls = list(reply.tool_calls)
    for bad in reply.invalid_tool_calls:
        calls.append({"name": bad.get("name") or "", "args": {UNPARSED: bad.get("args") or ""},
                      "id": bad.get("id") or f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"})
    content = reply.content
    if not calls:
        calls, rest = calls_from_text(reply.content)
        if calls:
            content = rest
    if calls == list(reply.tool_calls) and content == reply.content:
        return reply
    return AIMessage(content=content, tool_calls=calls, id=reply.id, response_metadata=reply.response_metadata,
                     usage_metadata=reply.usage_metadata)


def cap_reply(reply: AIMessage, limit: int) -> AIMessage:
    """The reply with its text cut to ``limit`` characters (a runaway reply is not kept whole, nor sent
    back with every later request); tool calls whose arguments are longer than that become unparsed."""
    text = reply.content if isinstance(reply.content, str) else None
    long_text = text is not None and len(text) > limit
    long_calls = [c for c in reply.tool_calls if len(json.dumps(c.get("args"), default=str)) > limit]
    if not long_text and not long_calls:
        return reply
    content = text[:limit] + f" [... {len(text) - limit} characters cut]" if long_text else reply.content
    calls = [{**c, "args": {UNPARSED: json.dumps(c["args"], default=str)[:limit]}} if c in long_calls else c
             for c in reply.tool_calls]
    return AIMessage(content=content, tool_calls=calls, id=reply.id, response_metadata=reply.response_metadata,
                     usage_metadata=reply.usage_metadata)


def unparsed_error(call: dict) -> str | None:
    """The error to send back for a call whose arguments were not valid JSON, or None."""
    raw = call["args"].get(UNPARSED) if isinstance(call.get("args"), dict) else None
    if raw is None:
        return None
    shown = raw if len(raw) <= 200 else raw[:200] + "…"
    return f"Error: the arguments of {call['name'] or 'this call'} are not a valid JSON object: {shown}"


class ModelReplyError(ValueError):
    """The model's reply could not be read as the JSON asked for."""


def read_json(text: str) -> Any:
    """The first JSON value in a reply (bare, or in a fenced block), else ModelReplyError."""
    fenced = FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    for candidate in candidates:
        candidate = candidate.strip()
        for opener, closer in (("{", "}"), ("[", "]")):
            start, end = candidate.find(opener), candidate.rfind(closer)
            if start != -1 and end > start:
                try:
                    return json.loads(candidate[start:end + 1])
                except json.JSONDecodeError:
                    continue
    raise ModelReplyError(f"expected JSON, got: {' '.join(text.split())[:160]}")
