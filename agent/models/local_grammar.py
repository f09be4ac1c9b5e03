"""The constrained reply of the local backend (:mod:`agent.models.local`): the JSON schema a reply is
decoded under and the llama.cpp grammar for it.

A reply is one of ``{"name": <tool>, "arguments": <its parameters>}`` for each offered tool (only the
required parameters, the submission's all), with free text and maps with free keys bounded and the
caption fields whose form the wording rules fix held to it while the reply is decoded.
"""

from __future__ import annotations

import json
from typing import Any

from agent.models.local_chat import SUBMIT

MAX_STRING_CHARS = 400  # a free-text field of a constrained reply; bounds a small model's run-on text
MAX_FREE_KEYS = 10  # keys of a map with free keys (the wording check's fields, the instances)
INSTANCE_KEY = r"^No\.[0-9]{1,2}$"
CELL = "(top-left|top-middle|top-right|middle-left|center|middle-right|bottom-left|bottom-middle|bottom-right)"
# caption fields whose form the rules fix, held to it while the reply is decoded
FIELD_FORMS = {
    # one sentence of at most 20 words asked, 30 allowed by the wording rules: 25 words at most while decoding
    "Global Description": {"maxLength": 180, "pattern": r"^[^ ]+( [^ ]+){0,24}$"},
    "Position": {"pattern": rf"^(The|A|An) [a-z][a-z -]{{0,30}}( (moves from the {CELL} to the {CELL}|(stays|is) "
                            rf"at the {CELL})[a-z ,'-]{{0,40}}|'s position is not measured clearly)\.$"},
}


def bounded(schema: Any) -> Any:
    """The schema with free strings neither empty nor endless and maps with free keys bounded (a small
    model can run on forever), the fields of :data:`FIELD_FORMS` in the form the rules give, and
    instances keyed ``No.N``."""
    if isinstance(schema, dict):
        out = {k: bounded(v) for k, v in schema.items()}
        if isinstance(out.get("properties"), dict):
            out["properties"] = {name: {**prop, **FIELD_FORMS[name]} if name in FIELD_FORMS and
                                 isinstance(prop, dict) and prop.get("type") == "string" else prop
                                 for name, prop in out["properties"].items()}
        if out.get("type") == "string" and not ({"maxLength", "enum", "const", "pattern"} & out.keys()):
            out.update(minLength=1, maxLength=MAX_STRING_CHARS)
        if out.get("type") == "object" and "No.0" in str(out.get("description", "")) \
                and isinstance(out.get("additionalProperties"), dict) and not out.get("properties"):
            out["patternProperties"] = {INSTANCE_KEY: out.pop("additionalProperties")}
            out["additionalProperties"] = False
        free_keys = isinstance(out.get("additionalProperties"), dict) or "patternProperties" in out
        if out.get("type") == "object" and free_keys and "maxProperties" not in out:
            out["maxProperties"] = MAX_FREE_KEYS  # else a small model can add keys until max_tokens (2048 seen)
        return out
    if isinstance(schema, list):
        return [bounded(v) for v in schema]
    return schema


def _without_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_without_titles(v) for v in schema]
    return schema


def required_only(params: dict) -> dict:
    """A tool's parameters with only the required ones: the others keep their defaults. (A small model
    fills optional numbers with runaway digits; the submission's optional sections stay.)"""
    required = params.get("required") or []
    return {**params, "properties": {k: v for k, v in (params.get("properties") or {}).items() if k in required}}


def call_schema(tools: list[dict]) -> dict:
    """One of ``{"name": const, "arguments": parameters}`` per tool, ``$defs`` lifted to the top."""
    options, defs = [], {}
    for spec in tools:
        fn = spec.get("function", spec)
        params = dict(fn.get("parameters") or {"type": "object", "properties": {}})
        if fn["name"] != SUBMIT:
            params = required_only(params)
        defs.update(params.pop("$defs", {}))
        params.pop("title", None)
        params.setdefault("type", "object")
        params.setdefault("additionalProperties", False)
        options.append({"type": "object", "additionalProperties": False, "required": ["name", "arguments"],
                        "properties": {"name": {"const": fn["name"]}, "arguments": params}})
    schema = {"oneOf": options} if len(options) > 1 else options[0]
    if defs:
        schema["$defs"] = defs
    return bounded(_without_titles(schema))


def grammar(schema: dict) -> str:
    """A llama.cpp (llguidance) grammar for JSON under ``schema``, written with no optional whitespace."""
    compact = {**schema, "x-guidance": {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}}
    return "%llguidance {}\nstart: %json " + json.dumps(compact, separators=(",", ":"))
