"""The offline planner: a chat model that needs no weights, no key and no network.

It makes the tool calls a careful captioner would make, in the order the tools' declarations give
(metadata, camera, instances, segmentation, background, then the conditions' tools), drafts the
caption from the evidence the tools returned (read from the tool messages' artifacts, never from
anything an LLM would not also be given), asks the tool whose ``offline_role`` is ``describe`` (the
local describer, when there is one) about each instance, the background and the camera, checks the
draft's wording with the tool whose role is ``check_draft`` (``check_lexicon``), applies the
suggested rewordings, and submits. It runs through the same graph, tools and validation as an LLM.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.core.caption import STRUCTURAL_KEY
from agent.core.composer import compose
from agent.core.evidence import Evidence, VideoMetadata, evidence_in, evidence_of, instances_of
from agent.models.toolcalls import evidence_models

SUBMIT = "submit_caption"
# how the planner uses a tool that takes arguments (each tool's ``offline_role`` declaration)
DESCRIBES = "describe"  # asked about each instance, the background and the camera; its answers replace measured text
CHECKS_DRAFT = "check_draft"  # given the draft's fields; the rewordings it suggests are applied before submitting
FIELD_LINE = re.compile(r"^- ([^:]+):", re.M)
VIDEO_LINE = re.compile(r"^Video file: (.+)$", re.M)


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        return tool.get("function", tool).get("name")
    return getattr(tool, "name")


class OfflinePlanner(BaseChatModel):
    tool_names: list[str] = []
    plan: list[str] = []  # the tools to call first, in order: each bound tool's metadata gives its plan position
    roles: dict[str, str] = {}  # offline role -> the tool that declares it
    evidence_models: dict[str, Any] = {}  # tool name -> its evidence model, from the bound tools' metadata
    section_writer: Any = None  # evidence -> {section: content}, from the plugins' compose_sections

    @property
    def _llm_type(self) -> str:
        return "offline-planner"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "OfflinePlanner":
        metadata = {_tool_name(t): getattr(t, "metadata", None) or {} for t in tools}
        positions = {name: meta.get("plan_position") for name, meta in metadata.items()}
        plan = sorted((name for name, at in positions.items() if at is not None), key=lambda name: positions[name])
        roles = {meta["offline_role"]: name for name, meta in reversed(metadata.items()) if meta.get("offline_role")}
        return self.model_copy(update={"tool_names": list(metadata), "plan": plan, "roles": roles,
                                       "evidence_models": evidence_models(tools)})

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.next_step(messages))])

    # -- the plan --------------------------------------------------------------------------
    def next_step(self, messages: list[BaseMessage]) -> AIMessage:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        evidence = evidence_in(results, self.evidence_models)
        called = {m.name or "" for m in results}
        for name in self.plan:
            if name not in called:
                return _call(name, {}, f"Next I need {name.replace('_', ' ')}.")
        describer, checker = self.roles.get(DESCRIBES), self.roles.get(CHECKS_DRAFT)
        answers = _described(messages, describer) if describer else {}
        if describer:
            targets = [i.id for i in instances_of(evidence)] + ["background", "camera"]
            for target in targets:
                if target not in answers:
                    return _call(describer, {"target": target}, f"Asking the local model about {target}.")
        sections = self.section_writer(evidence) if self.section_writer else {}
        draft = compose(evidence, video_name(messages, evidence), sections).to_dict()
        draft = _with_answers(draft, answers, _rejected_fields(messages))
        last = messages[-1] if messages else None
        fields = _fields(draft)
        checked_last = checker is not None and isinstance(last, ToolMessage) and last.name == checker
        if checker and not checked_last and not _already_checked(messages, fields, checker):
            return _call(checker, {"fields": fields}, "Checking the draft's wording.")
        if checked_last and isinstance(last.artifact, dict):
            draft = _reword(draft, last.artifact.get("evidence") or {})
        return _call(SUBMIT, draft, "Submitting the caption composed from the evidence.")


def video_name(messages: Sequence[BaseMessage], evidence: Evidence) -> str:
    """The clip's file name: from its metadata, else from the first message's "Video file:" line."""
    meta = evidence_of(evidence, VideoMetadata)
    if meta:
        return meta.file_name
    for m in messages:
        if isinstance(m, HumanMessage):
            text = m.content if isinstance(m.content, str) else " ".join(
                p.get("text", "") for p in m.content if isinstance(p, dict))
            found = VIDEO_LINE.search(text)
            if found:
                return found.group(1).strip()
    return "video"


def _call(name: str, args: dict[str, Any], thought: str) -> AIMessage:
    return AIMessage(content=thought, tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}",
                                                   "type": "tool_call"}])


def _described(messages: list[BaseMessage], describer: str) -> dict[str, dict]:
    """Answers of the describe tool so far, by target; a call that failed counts as an unusable answer."""
    asked = {c["id"]: c["args"].get("target") for m in messages if isinstance(m, AIMessage)
             for c in m.tool_calls if c["name"] == describer}
    out: dict[str, dict] = {}
    for m in messages:
        if isinstance(m, ToolMessage) and m.name == describer:
            found = (m.artifact.get("evidence") if isinstance(m.artifact, dict) else None) or {}
            target = found.get("target") or asked.get(m.tool_call_id)
            if target:
                out[target] = found or {"target": target, "usable": False}
    return out


def _rejected_fields(messages: list[BaseMessage]) -> set[str]:
    """Caption fields that a failed submission's validation named: they go back to the measured text."""
    rejected: set[str] = set()
    for m in messages:
        if isinstance(m, ToolMessage) and m.name == SUBMIT and m.status == "error":
            rejected.update(FIELD_LINE.findall(str(m.content)))
    return rejected


def _with_answers(draft: dict[str, Any], answers: dict[str, dict], rejected: set[str]) -> dict[str, Any]:
    """The draft with the describer's usable answers in place of the measured text."""
    fixed = json.loads(json.dumps(draft))
    sd = fixed[STRUCTURAL_KEY]
    for target, answer in answers.items():
        if not answer.get("usable"):
            continue
        for field, text in (answer.get("fields") or {}).items():
            if target.startswith("No.") and target in sd["Main Instance"] and field in sd["Main Instance"][target]:
                path, holder = f"{STRUCTURAL_KEY}.Main Instance.{target}.{field}", sd["Main Instance"][target]
            elif field in ("Background Detail", "Camera Movement"):
                path, holder = f"{STRUCTURAL_KEY}.{field}", sd
            else:
                continue
            if path not in rejected:
                holder[field] = text
    return fixed


def _fields(draft: dict[str, Any]) -> dict[str, str]:
    """Flatten a caption into {field path: text} for the lexicon check."""
    out = {"Global Description": draft["Global Description"]}
    sd = draft[STRUCTURAL_KEY]
    for key, inst in sd["Main Instance"].items():
        for name, text in inst.items():
            out[f"{key}.{name}"] = text
    out["Background Detail"] = sd["Background Detail"]
    out["Camera Movement"] = sd["Camera Movement"]
    return out


def _already_checked(messages: list[BaseMessage], fields: dict[str, str], checker: str) -> bool:
    for m in messages:
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                if call["name"] == checker and call["args"].get("fields") == fields:
                    return True
    return False


def _reword(draft: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    from agent.core.lexicon import apply_suggestions
    from agent.core.evidence import LexiconReport

    violations = LexiconReport.model_validate(report).violations
    if not violations:
        return draft
    fixed = json.loads(json.dumps(draft))
    by_field: dict[str, list] = {}
    for v in violations:
        by_field.setdefault(v.field, []).append(v)
    sd = fixed[STRUCTURAL_KEY]
    for field, vs in by_field.items():
        if field in ("Global Description",):
            fixed[field] = apply_suggestions(fixed[field], vs)
        elif field in ("Background Detail", "Camera Movement"):
            sd[field] = apply_suggestions(sd[field], vs)
        elif "." in field:  # 'No.0.Appearance'
            inst_key, _, attr = field.rpartition(".")
            if inst_key in sd["Main Instance"] and attr in sd["Main Instance"][inst_key]:
                sd["Main Instance"][inst_key][attr] = apply_suggestions(sd["Main Instance"][inst_key][attr], vs)
    return fixed
