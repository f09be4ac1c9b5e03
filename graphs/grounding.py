"""What holds a submitted caption to measurements: the core measurements run before any caption is
accepted, and a caption that runs out of repairs is kept field by field.
"""

from __future__ import annotations

import copy
from typing import Any

from langchain_core.messages import AIMessage

from agent.core.caption import STRUCTURAL_KEY, Sections
from agent.core.evidence import CameraMotion, Instances, VideoMetadata, evidence_of
from agent.core.validation import assess

CORE = (VideoMetadata, Instances, CameraMotion)  # metadata (with the shots), instances, camera
INSTANCES = f"{STRUCTURAL_KEY}.Main Instance"


def core_measured(step) -> tuple[list[tuple[str, str]], list[str]]:
    """Make every core measurement in ``step`` (a :class:`~agent.run.context.Measuring`): ([(tool, summary)]
    of those that had to run now, the core measurements that could not be had). A core measurement no
    tool of the run makes is not asked for."""
    ran, missing = [], []
    for model in CORE:
        if evidence_of(step.evidence, model) is not None:
            continue
        names = step.evidence.tools_declaring(model)
        if not names:
            continue
        before = len(step.records)
        try:
            step.require(names[0])
        except Exception as e:  # a tool that breaks leaves its measurement missing
            step.emit("tool_error", tool=names[0], error=f"{type(e).__name__}: {e}")
        for record in step.records[before:]:
            ran.append((record.name, _short(str(record.summary))))
        if evidence_of(step.evidence, model) is None:
            failed = [r.summary for r in step.records if r.name == names[0] and not r.ok]
            missing.append(f"{names[0]} ({_short(str(failed[-1]), 160)})" if failed else names[0])
    return ran, missing


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def last_submission(messages: list, submit: str) -> dict | None:
    for m in reversed(messages):
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                if call["name"] == submit and isinstance(call.get("args"), dict):
                    return call["args"]
    return None


def text_fields(caption: dict) -> list[str]:
    sd = caption.get(STRUCTURAL_KEY, {})
    out = ["Video", "Global Description"]
    for key, inst in (sd.get("Main Instance") or {}).items():
        out += [f"{INSTANCES}.{key}.{name}" for name in inst]
    out += [f"{STRUCTURAL_KEY}.Background Detail", f"{STRUCTURAL_KEY}.Camera Movement"]
    out += [k for k in caption if k not in ("Video", "Global Description", STRUCTURAL_KEY)]
    return out


def _replace(caption: dict, composed: dict, field: str) -> bool:
    """Put the composed text of ``field`` into ``caption``; False when the field cannot be told apart."""
    sd, csd = caption[STRUCTURAL_KEY], composed[STRUCTURAL_KEY]
    if field in ("Video", "Global Description"):
        caption[field] = composed[field]
    elif field in (f"{STRUCTURAL_KEY}.Background Detail", f"{STRUCTURAL_KEY}.Camera Movement"):
        leaf = field.rsplit(".", 1)[1]
        sd[leaf] = csd[leaf]
    elif field == INSTANCES or field.startswith(INSTANCES + "."):
        rest = field[len(INSTANCES) + 1:]  # 'No.0.Class'
        key, _, leaf = rest.rpartition(".") if rest.count(".") == 2 else (rest, "", "")
        same_set = list(sd["Main Instance"]) == list(csd["Main Instance"])
        if leaf and same_set and key in csd["Main Instance"]:
            sd["Main Instance"][key][leaf] = csd["Main Instance"][key][leaf]
        else:
            sd["Main Instance"] = copy.deepcopy(csd["Main Instance"])
    elif field.split(".")[0] in composed and field.split(".")[0] not in ("Video", STRUCTURAL_KEY):
        caption[field.split(".")[0]] = copy.deepcopy(composed[field.split(".")[0]])
    else:
        return False
    return True


def field_by_field(messages: list, composed: dict, evidence: dict[str, Any], checks: list,
                   submit: str, declared: Sections | None = None) -> tuple[dict, dict[str, str], list[dict]] | None:
    """The model's last submission with only its failed fields composed from the evidence:
    (caption, {field: 'model' | 'composed'}, advice), or None when no submission can be kept."""
    raw = last_submission(messages, submit)
    if raw is None:
        return None
    caption_model, problems, _ = assess(raw, evidence, checks, declared)
    if caption_model is None:
        return None
    original = caption_model.to_dict()
    merged = copy.deepcopy(original)
    for _ in range(2):
        for problem in problems:
            if not _replace(merged, composed, problem.field):
                return None
        checked, problems, advice = assess(merged, evidence, checks, declared)
        if checked is None:
            return None
        if not problems:
            merged = checked.to_dict()
            sources = {f: "model" if _get(original, f) == _get(merged, f) else "composed" for f in text_fields(merged)}
            return merged, sources, [a.disagreement() for a in advice]
    return None


def _get(caption: dict, field: str) -> Any:
    if field.startswith(INSTANCES + "."):
        key, _, leaf = field[len(INSTANCES) + 1:].rpartition(".")
        return ((caption[STRUCTURAL_KEY].get("Main Instance") or {}).get(key) or {}).get(leaf)
    if field.startswith(STRUCTURAL_KEY + "."):
        return caption[STRUCTURAL_KEY].get(field.rsplit(".", 1)[1])
    return caption.get(field)
