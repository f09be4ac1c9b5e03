"""The enhance graph: from a short prompt to a structured caption in our schema.

    expand -> list_instances -> describe_instances -> describe_scene -> assemble -> check -> END
                                                                          ^           |
                                                                          +- repair <-+  (bounded)
                                                                          +- leave_out <-+  (once, repairs spent)

* ``expand``: the prompt becomes a detailed description of a silent scene;
* ``list_instances``: up to N touchable instances (things that can be touched, not light or sky);
* ``describe_instances``: per instance, one sentence each of appearance, action and position;
* ``describe_scene``: the background and the camera;
* ``assemble``: the caption in our schema;
* ``check``: the schema and the wording rules (lexicon); problems go back to the model (``repair``)
  a bounded number of times;
* ``leave_out``: when the repairs are spent, each sentence that still breaks a wording rule is left out
  of its field (a field keeps at least one sentence) and the caption is checked once more; a caption
  that still fails ends the run with the problems listed.

Model calls: 4 + the repairs, against InstanceCap's enhancer's 4 + 3N.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from agent.core.caption import STRUCTURAL_KEY, Sections, json_schema
from agent.core.evidence import Evidence
from agent.core.lexicon import without_rejected_sentences
from agent.core.prompts import (ENHANCE_DESCRIBE_INSTANCES, ENHANCE_DESCRIBE_SCENE, ENHANCE_EXPAND, ENHANCE_LIST,
                                ENHANCE_REPAIR, ENHANCE_SYSTEM)
from agent.core.validation import validate
from agent.models.toolcalls import ModelReplyError, read_json


def _add(a: int | None, b: int | None) -> int:
    return (a or 0) + (b or 0)


class EnhanceState(TypedDict, total=False):
    prompt: str
    scene: str
    instances: list[dict[str, str]]
    details: dict[str, dict[str, str]]
    background: str
    camera: str
    caption: dict[str, Any]
    problems: list[str]
    repairs: Annotated[int, _add]
    calls: Annotated[int, _add]  # model calls made
    left_out: list[str]  # sentences left out by leave_out, as "field: sentence"


def _instances_schema(n: int) -> dict:
    item = {"type": "object", "additionalProperties": False, "required": ["name", "class"],
            "properties": {"name": {"type": "string", "maxLength": 80}, "class": {"type": "string", "maxLength": 40}}}
    return {"type": "object", "additionalProperties": False, "required": ["instances"],
            "properties": {"instances": {"type": "array", "items": item, "maxItems": n}}}


def _details_schema(count: int) -> dict:
    entry = {"type": "object", "additionalProperties": False, "required": list(DETAIL_FIELDS),
             "properties": {field: {"type": "string"} for field in DETAIL_FIELDS}}
    keys = [f"No.{k}" for k in range(count)]
    return {"type": "object", "additionalProperties": False, "required": keys, "properties": {k: entry for k in keys}}


SCENE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["Background Detail", "Camera Movement"],
                "properties": {"Background Detail": {"type": "string"}, "Camera Movement": {"type": "string"}}}
DETAIL_FIELDS = ("Appearance", "Actions and Motion", "Position")
EXPAND_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["paragraph"],
                 "properties": {"paragraph": {"type": "string", "minLength": 200, "maxLength": 1400}}}



def _text(reply) -> str:
    content = reply.content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


class EnhanceNodes:
    """The enhance graph's nodes; they share the model, the checks and the run's settings (see
    :func:`build_enhance_graph`)."""

    def __init__(self, llm, checks: list, *, max_instances: int, max_repairs: int, video_name: str, conditions: str,
                 evidence: dict | None, callbacks: list | None, sections: Sections | None = None):
        self.llm, self.checks, self.evidence, self.callbacks = llm, checks, evidence, callbacks
        self.sections = sections  # the plugin sections a caption may carry
        self.max_instances, self.max_repairs = max_instances, max_repairs
        self.video_name, self.conditions = video_name, conditions
        # a model that decodes under a JSON schema (--llm local) gets one for each JSON answer
        self.constrained = bool(getattr(llm, "takes_json_schema", False))

    def ask(self, instruction: str, schema: dict | None = None) -> str:
        """One model call: the enhance system prompt and ``instruction``; the reply's text."""
        extra = {"json_schema": schema} if self.constrained and schema is not None else {}
        return _text(self.llm.invoke([SystemMessage(ENHANCE_SYSTEM), HumanMessage(instruction)],
                                     config={"callbacks": self.callbacks or []}, **extra))

    def expand(self, state: EnhanceState) -> dict:
        instruction = ENHANCE_EXPAND.format(prompt=state["prompt"]) + self.conditions
        if not self.constrained:
            return {"scene": self.ask(instruction).strip(), "calls": 1}
        # a small model answers a system prompt that mentions JSON with JSON: ask for the paragraph in it
        raw = read_json(self.ask(instruction + '\nAnswer as JSON: {"paragraph": "..."}', EXPAND_SCHEMA))
        if not isinstance(raw, dict) or not str(raw.get("paragraph", "")).strip():
            raise ModelReplyError("expected the paragraph")
        return {"scene": str(raw["paragraph"]).strip(), "calls": 1}

    def list_instances(self, state: EnhanceState) -> dict:
        raw = read_json(self.ask(ENHANCE_LIST.format(scene=state["scene"], n=self.max_instances),
                                 _instances_schema(self.max_instances)))
        items = raw.get("instances", raw) if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise ModelReplyError("expected a list of instances")
        instances = []
        for item in items[:self.max_instances]:
            if isinstance(item, str):
                item = {"name": item, "class": item}
            if isinstance(item, dict) and (item.get("name") or item.get("class")):
                instances.append({"name": str(item.get("name") or item["class"]),
                                  "class": str(item.get("class") or item["name"])})
        return {"instances": instances, "calls": 1}

    def describe_instances(self, state: EnhanceState) -> dict:
        if not state["instances"]:
            return {"details": {}}
        listing = "\n".join(f"No.{k}: {i['name']} ({i['class']})" for k, i in enumerate(state["instances"]))
        raw = read_json(self.ask(ENHANCE_DESCRIBE_INSTANCES.format(scene=state["scene"], instances=listing)
                                 + self.conditions, _details_schema(len(state["instances"]))))
        if not isinstance(raw, dict):
            raise ModelReplyError("expected an object keyed by instance number")
        details = {}
        for k in range(len(state["instances"])):
            entry = raw.get(f"No.{k}") or raw.get(str(k)) or {}
            details[f"No.{k}"] = {field: str(entry.get(field, "")).strip()
                                  for field in DETAIL_FIELDS}
        return {"details": details, "calls": 1}

    def describe_scene(self, state: EnhanceState) -> dict:
        raw = read_json(self.ask(ENHANCE_DESCRIBE_SCENE.format(scene=state["scene"]) + self.conditions, SCENE_SCHEMA))
        if not isinstance(raw, dict):
            raise ModelReplyError("expected an object with Background Detail and Camera Movement")
        return {"background": str(raw.get("Background Detail", "")).strip(),
                "camera": str(raw.get("Camera Movement", "")).strip(), "calls": 1}

    def assemble(self, state: EnhanceState) -> dict:
        first = state["scene"].split(". ")[0].strip().rstrip(".") + "."
        caption = {
            "Video": self.video_name,
            "Global Description": first,
            STRUCTURAL_KEY: {
                "Main Instance": {
                    key: {"Class": state["instances"][k]["class"], **state["details"][key]}
                    for k, key in enumerate(state["details"])
                },
                "Background Detail": state["background"],
                "Camera Movement": state["camera"],
            },
        }
        return {"caption": caption}

    def check(self, state: EnhanceState) -> dict:
        # the conditions' evidence, by condition: no tool measured it, so no tool's model types it
        caption, problems = validate(state["caption"], Evidence(self.evidence or {}), self.checks, self.sections)
        if caption is not None and not problems:
            return {"caption": caption.to_dict(), "problems": []}
        return {"problems": [str(p) for p in problems]}

    def repair(self, state: EnhanceState) -> dict:
        reply = self.ask(ENHANCE_REPAIR.format(caption=json.dumps(state["caption"], indent=2, ensure_ascii=False),
                                               problems="\n".join(f"- {p}" for p in state["problems"])),
                         json_schema(self.sections))
        fixed = read_json(reply)
        if not isinstance(fixed, dict):
            raise ModelReplyError("expected the corrected caption as a JSON object")
        fixed["Video"] = self.video_name
        return {"caption": fixed, "repairs": 1, "calls": 1}

    def after_check(self, state: EnhanceState) -> str:
        if not state.get("problems"):
            return END
        if state.get("repairs", 0) < self.max_repairs:
            return "repair"
        return "leave_out" if "left_out" not in state else END


def leave_out(state: EnhanceState) -> dict:
    """Each sentence that still breaks a wording rule, left out of its field (a field keeps one)."""
    caption = json.loads(json.dumps(state["caption"]))
    left_out: list[str] = []

    def prune(holder: dict, key: str, field: str) -> None:
        if isinstance(holder.get(key), str):
            holder[key], dropped = without_rejected_sentences(field, holder[key])
            left_out.extend(f"{field}: {sentence}" for sentence in dropped)

    prune(caption, "Global Description", "Global Description")
    sd = caption.get(STRUCTURAL_KEY) if isinstance(caption.get(STRUCTURAL_KEY), dict) else {}
    for key, inst in (sd.get("Main Instance") or {}).items():
        for name in list(inst) if isinstance(inst, dict) else []:
            prune(inst, name, f"{key}.{name}")
    for name in ("Background Detail", "Camera Movement"):
        prune(sd, name, name)
    return {"caption": caption, "left_out": left_out}


def build_enhance_graph(llm, checks: list, *, max_instances: int = 3, max_repairs: int = 2, video_name: str = "prompt",
                        conditions: str = "", evidence: dict | None = None, callbacks: list | None = None,
                        sections: Sections | None = None):
    """``conditions``: the user's conditions as facts, added to the expand, describe and scene prompts;
    ``evidence``: what the condition readers measured, given to the checks; ``callbacks``: LangChain
    callbacks every model call gets (the caller's usage accounting); ``sections``: the plugin sections a
    caption may carry."""
    nodes = EnhanceNodes(llm, checks, max_instances=max_instances, max_repairs=max_repairs, video_name=video_name,
                         conditions=conditions, evidence=evidence, callbacks=callbacks, sections=sections)
    graph = StateGraph(EnhanceState)
    for name, fn in (("expand", nodes.expand), ("list_instances", nodes.list_instances),
                     ("describe_instances", nodes.describe_instances), ("describe_scene", nodes.describe_scene),
                     ("assemble", nodes.assemble), ("check", nodes.check), ("repair", nodes.repair),
                     ("leave_out", leave_out)):
        graph.add_node(name, fn)
    graph.add_edge(START, "expand")
    graph.add_edge("expand", "list_instances")
    graph.add_edge("list_instances", "describe_instances")
    graph.add_edge("describe_instances", "describe_scene")
    graph.add_edge("describe_scene", "assemble")
    graph.add_edge("assemble", "check")
    graph.add_conditional_edges("check", nodes.after_check, ["repair", "leave_out", END])
    graph.add_edge("repair", "check")
    graph.add_edge("leave_out", "check")
    return graph.compile()
