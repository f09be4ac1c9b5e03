"""A chat model run in this process with llama.cpp (``--llm local``): no server, no network.

* ``local`` or ``local:1.5b``: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), the default;
* ``local:0.5b``: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), faster and weaker;
* ``local:/path/model.gguf``: any chat GGUF file.

The runtime is the ``xllamacpp`` wheel; the model files are in the models folder
(:mod:`agent.models.local_files`; ``scripts/fetch_llm.py`` puts them there).

Small models do not write reliable tool calls on their own, so every reply is decoded under a
JSON schema: one of ``{"name": <tool>, "arguments": <its parameters>}`` for each offered tool, the
submission included, written without optional whitespace. The model gets the compact prompt
(:func:`agent.core.prompts.compact_form`) and one line per tool instead of the chat template's
tool listing. A tool is offered until it has been called (asked again, it measures the same), one
that takes arguments (the wording check) again after each submission. Token counts and seconds come from the runtime.

The offline plan's measurements (metadata, frames, camera, instances, segmentation, background) are
taken first, without asking the model (:func:`next_planned`; the trace shows them as plan steps):
they are needed before any submission and their order is fixed. The model then reads them in one
request with the caption composed from them (:func:`grounded_draft`), and chooses: another tool, the
draft as it is (``submit_draft``, a reply of a few tokens), or a caption of its own.

One model per file, context size and thread count is loaded per process and shared by every run in
it; calls to it are serialised (one llama.cpp context decodes one sequence at a time here).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl
from agent.models.local_files import DEFAULT_MODEL, FETCH, LOCAL_MODELS, model_file_problem, models_dir
from agent.models.toolcalls import PLANNED, is_planned

PREFIX = "local"
RUNTIME = "xllamacpp==2026.10.11549"
ENV_THREADS = "INSTANCE_AGENT_LLM_THREADS"
CONTEXT_TOKENS = 8192
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
SUBMIT = "submit_caption"
ACCEPT_DRAFT = "submit_draft"  # a reply that submits the grounded draft as it is, without writing it out again
ACCEPT_SPEC = {"type": "function", "function": {"name": ACCEPT_DRAFT, "description": "Submit the draft as it is.",
                                                "parameters": {"type": "object", "properties": {}}}}


class LocalModelError(RuntimeError):
    """The runtime answered with an error (a prompt longer than the context, say)."""


# -- which file, how many threads --------------------------------------------------------------
def resolve(spec: str) -> tuple[str, Path]:
    """(a short name for records, the GGUF path) for ``local``, ``local:0.5b`` or ``local:/path/x.gguf``."""
    rest = spec.strip().removeprefix(PREFIX).removeprefix(":").strip() or DEFAULT_MODEL
    if rest.lower() in LOCAL_MODELS:
        name = rest.lower()
        return f"local:{name}", models_dir() / LOCAL_MODELS[name]["file"]
    path = Path(rest).expanduser()
    if path.suffix.lower() != ".gguf":
        raise InputError(f"--llm {spec}: expected local, local:{' or local:'.join(LOCAL_MODELS)}, "
                         "or local:/path/model.gguf")
    return f"local:{path.name}", path


def check_model_file(spec: str) -> Path:
    """The model file, or one line naming the file and how to fetch it."""
    label, path = resolve(spec)
    name = label.removeprefix("local:")
    if name in LOCAL_MODELS:
        why = model_file_problem(name, path, full=False)
        if why:
            raise InputError(f"--llm {spec}: the model file {path} {why}; fetch it with `{FETCH} {name}` "
                             f"({LOCAL_MODELS[name]['size'] / 1e9:.1f} GB)")
    elif not path.is_file():
        raise InputError(f"--llm {spec}: the model file {path} does not exist")
    return path


def thread_count() -> int:
    """``INSTANCE_AGENT_LLM_THREADS``, else the CPUs this process may use (at most 8)."""
    given = os.environ.get(ENV_THREADS, "").strip()
    if given:
        try:
            return max(1, int(given))
        except ValueError:
            raise InputError(f"{ENV_THREADS}={given}: expected a whole number of threads") from None
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


# -- the runtime, loaded once per process ------------------------------------------------------
class LoadedModel:
    """One llama.cpp model in this process; :meth:`chat` is safe to call from several threads."""

    def __init__(self, path: Path, threads: int, context: int = CONTEXT_TOKENS):
        try:
            import xllamacpp
        except ImportError:
            raise InputError(f"--llm local needs the llama.cpp runtime: pip install {RUNTIME}") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = context
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.use_jinja = True
        params.warmup = False
        params.verbosity = -1  # the runtime's own log lines stay off stderr
        started = time.perf_counter()
        self.server = xllamacpp.Server(params)
        self.load_s = time.perf_counter() - started
        self.path, self.threads, self.context = path, threads, context
        self.lock = threading.Lock()

    def chat(self, request: dict) -> dict:
        with self.lock:
            reply = self.server.handle_chat_completions(request)
        if not isinstance(reply, dict) or reply.get("error") or not reply.get("choices"):
            error = reply.get("error") if isinstance(reply, dict) else reply
            message = error.get("message") if isinstance(error, dict) else error
            raise LocalModelError(" ".join(str(message or "no completion").split())[:200])
        return reply

    def count_tokens(self, messages: list[dict]) -> int:
        """The prompt tokens of a chat, by the model's own tokenizer and chat template."""
        reply = self.chat({"messages": messages, "max_tokens": 1, "temperature": 0.0})
        return int(reply["usage"]["prompt_tokens"])


def load(spec: str) -> LoadedModel:
    from agent.models.devices import keep_loaded

    path = check_model_file(spec)
    threads = thread_count()
    return keep_loaded(("llama.cpp", str(path.resolve()), threads, CONTEXT_TOKENS),
                       lambda: LoadedModel(path, threads))


# -- the constrained reply ---------------------------------------------------------------------
def _bounded(schema: Any) -> Any:
    """The schema with free strings neither empty nor endless and maps with free keys bounded (a small
    model can run on forever), the fields of :data:`FIELD_FORMS` in the form the rules give, and
    instances keyed ``No.N``."""
    if isinstance(schema, dict):
        out = {k: _bounded(v) for k, v in schema.items()}
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
        return [_bounded(v) for v in schema]
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
    return _bounded(_without_titles(schema))


def grammar(schema: dict) -> str:
    """A llama.cpp (llguidance) grammar for JSON under ``schema``, written with no optional whitespace."""
    compact = {**schema, "x-guidance": {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}}
    return "%llguidance {}\nstart: %json " + json.dumps(compact, separators=(",", ":"))


def _still_offered(tools: list[dict], messages: Sequence[BaseMessage], plan: Sequence[str] = ()) -> list[dict]:
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


# -- messages ------------------------------------------------------------------------------------
def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else p.get("text", "") for p in content or [] if isinstance(p, (str, dict))]
    return "\n".join(p for p in parts if p)


def _call_text(call: dict) -> str:
    return json.dumps({"name": call["name"], "arguments": call["args"]}, ensure_ascii=False, separators=(",", ":"))


def to_chat(messages: Sequence[BaseMessage], tools: list[dict], offered: list[dict] | None = None,
            planned: Sequence[str] = ()) -> list[dict]:
    """LangChain messages as the runtime's chat: the compact prompt and tool lines (all ``tools``, so the
    prompt's start stays the same turn after turn, for the runtime's prompt cache), text only, tool calls
    as the JSON the model writes, tool results as user turns in plain ``key: value`` lines (an unsure
    note said by an earlier result left out); the draft once the submission is offered (``offered``,
    default all). The tools of the plan (``planned``), called before the model is asked, are not listed,
    and their results follow the first message in the same turn."""
    from agent.core.prompts import compact_form, compact_tool_lines, plain_result, text_only

    chat: list[dict] = []
    notes_shown: set[str] = set()
    by_plan = {c["id"] for m in messages if isinstance(m, AIMessage) and is_planned(m) for c in m.tool_calls}
    for m in messages:
        if isinstance(m, SystemMessage):
            text = compact_form(_text(m.content))
            listed = [t for t in tools if _name(t) not in planned]
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
    note = draft_note(messages) if any(_name(t) == SUBMIT for t in (tools if offered is None else offered)) else None
    if note:
        chat.append({"role": "user", "content": note})
    return chat


def _name(tool: dict) -> str:
    return tool.get("function", tool).get("name", "")


def grounded_draft(messages: Sequence[BaseMessage]) -> dict | None:
    """Once the instances and the camera are measured: the caption composed from the evidence so far,
    which states only the sure facts. A small text-only model that writes from nothing misreads the
    evidence ("the car is on a bicycle"); one given a grounded draft keeps its facts and spends its
    words on the wording."""
    from agent.core.composer import compose
    from agent.core.evidence import CameraMotion, Instances, evidence_in, evidence_of
    from agent.models.planner import video_name

    evidence = evidence_in([m for m in messages if isinstance(m, ToolMessage)])
    if evidence_of(evidence, Instances) is None or evidence_of(evidence, CameraMotion) is None:
        return None
    return compose(evidence, video_name(messages, evidence)).to_dict()


def draft_note(messages: Sequence[BaseMessage]) -> str | None:
    """The grounded draft, for the model to submit as it is (``submit_draft``) or to improve."""
    draft = grounded_draft(messages)
    if draft is None:
        return None
    return ("A draft caption composed from the tools' results; it states only what they measured surely:\n"
            + json.dumps(draft, ensure_ascii=False, separators=(",", ":"))
            + f"\nWhen the evidence is complete, call {ACCEPT_DRAFT} to submit this draft as it is, or {SUBMIT} "
              "with a better one: reword a field or add detail only where a tool result above supports it; keep "
              "every fact of the draft; never add what no tool measured.")


def _reply(completion: dict, model_label: str, seconds: float, expects_call: bool,
           draft: dict | None = None) -> AIMessage:
    content = completion["choices"][0]["message"].get("content") or ""
    usage = completion.get("usage") or {}
    timings = completion.get("timings") or {}
    prompt, generated = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    meta = {"input_tokens": prompt, "output_tokens": generated, "total_tokens": prompt + generated,
            "input_token_details": {"cache_read": int(timings.get("cache_n", 0))}}
    info = {"model": model_label, "model_name": model_label, "seconds": round(seconds, 3),
            "finish_reason": completion["choices"][0].get("finish_reason"),
            "timings": {k: timings[k] for k in ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "cache_n")
                        if k in timings}}
    if not expects_call:
        return AIMessage(content=content, usage_metadata=meta, response_metadata=info)
    try:
        data = json.loads(content)
        name, args = data["name"], data["arguments"]
    except (json.JSONDecodeError, KeyError, TypeError):
        # a reply cut at max_tokens: the graph reads the text, finds no call and nudges or falls back
        return AIMessage(content=content, usage_metadata=meta, response_metadata=info)
    if name == ACCEPT_DRAFT and draft is not None:  # the draft, submitted as it is
        name, args, info["accepted_draft"] = SUBMIT, draft, True
    call = {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
    return AIMessage(content="", tool_calls=[call], usage_metadata=meta, response_metadata=info)


class LocalChatModel(BaseChatModel):
    """A GGUF chat model run in process as the graph's chat model (``--llm local``)."""

    spec: str = PREFIX
    tools: list[dict] = []
    plan: list[str] = []  # the tools with a plan position: called before the submission is offered
    temperature: float = 0.0
    max_tokens: int = 2048
    takes_json_schema: bool = True  # invoke(..., json_schema=S) decodes the reply under S

    @property
    def _llm_type(self) -> str:
        return "llama.cpp"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "LocalChatModel":
        from langchain_core.utils.function_calling import convert_to_openai_tool

        def place(t: Any) -> float:  # the offline plan's tools first, in its order (a small model follows it)
            position = (getattr(t, "metadata", None) or {}).get("plan_position")
            return float(position) if position is not None else float("inf")

        ordered = sorted(tools, key=place)  # stable: the others keep their order, the submission last
        specs = [t if isinstance(t, dict) else convert_to_openai_tool(t) for t in ordered]
        plan = [_name(spec) for t, spec in zip(ordered, specs) if place(t) != float("inf")]
        return self.model_copy(update={"tools": specs, "plan": plan})

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        label = resolve(self.spec)[0]
        planned = next_planned(messages, self.plan) if self.tools and "json_schema" not in kwargs else None
        if planned:
            reply = AIMessage(content="", tool_calls=[{"name": planned, "args": {}, "type": "tool_call",
                                                       "id": f"call_{uuid.uuid4().hex[:12]}"}],
                              usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
                              response_metadata={"model": label, "model_name": label, PLANNED: True, "seconds": 0.0})
            return ChatResult(generations=[ChatGeneration(message=reply)])
        model = load(self.spec)
        offered = _still_offered(self.tools, messages, self.plan) if self.tools else []
        draft = grounded_draft(messages) if any(_name(t) == SUBMIT for t in offered) else None
        choices = [*offered, ACCEPT_SPEC] if draft is not None else offered
        schema = kwargs.get("json_schema") or (call_schema(choices) if choices else None)
        request: dict[str, Any] = {"messages": to_chat(messages, self.tools, offered, self.plan),
                                   "max_tokens": self.max_tokens,
                                   "temperature": self.temperature}
        if schema is not None:
            request["grammar"] = grammar(_bounded(schema))
        started = time.perf_counter()
        completion = model.chat(request)
        reply = _reply(completion, label, time.perf_counter() - started, expects_call=bool(offered)
                       and "json_schema" not in kwargs, draft=draft)
        return ChatResult(generations=[ChatGeneration(message=reply)])


# -- the backend -------------------------------------------------------------------------------
def _create(spec: str, settings: Any) -> BaseChatModel:
    load(spec)  # fail now, in one line, when the file or the runtime is missing
    return LocalChatModel(spec=spec, temperature=settings.temperature, max_tokens=settings.max_tokens)


def _describe(exc: Exception, settings: Any) -> str | None:
    if isinstance(exc, LocalModelError):
        return f"the local model ({settings.llm}) failed: {exc}"
    return None


def local_backends() -> list:
    from agent.models.registry import ChatBackend

    return [ChatBackend(PREFIX, _create, _describe,
                        summary="local, local:0.5b or local:/path/model.gguf: a GGUF chat model run in process "
                                "(llama.cpp; scripts/fetch_llm.py fetches the models)")]


@hookimpl
def register_chat_backends():
    return local_backends()
