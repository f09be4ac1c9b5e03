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

The reply's schema and grammar are in :mod:`agent.models.local_grammar`; the chat the model reads, the
tools it is offered and the draft in :mod:`agent.models.local_chat`.
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
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.core.errors import InputError
from agent.models.local_files import DEFAULT_MODEL, FETCH, LOCAL_MODELS, model_file_problem, models_dir
from agent.models.local_chat import (ACCEPT_DRAFT, ACCEPT_SPEC, SUBMIT, draft_note, grounded_draft,  # noqa: F401
                                     next_planned, still_offered, to_chat, tool_name)
from agent.models.local_grammar import (FIELD_FORMS, INSTANCE_KEY, MAX_FREE_KEYS, MAX_STRING_CHARS,  # noqa: F401
                                        bounded, call_schema, grammar, required_only)
from agent.models.toolcalls import PLANNED, evidence_models, is_planned  # noqa: F401  (importable from here too)

# importable under their earlier names too
_bounded, _still_offered = bounded, still_offered

PREFIX = "local"
RUNTIME = "xllamacpp==2026.10.11549"
ENV_THREADS = "INSTANCE_AGENT_LLM_THREADS"
CONTEXT_TOKENS = 8192


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
    evidence_models: dict[str, Any] = {}  # tool name -> its evidence model, from the bound tools' metadata
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
        plan = [tool_name(spec) for t, spec in zip(ordered, specs) if place(t) != float("inf")]
        return self.model_copy(update={"tools": specs, "plan": plan, "evidence_models": evidence_models(tools)})

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
        offered = still_offered(self.tools, messages, self.plan) if self.tools else []
        draft = grounded_draft(messages, self.evidence_models) if any(tool_name(t) == SUBMIT for t in offered) else None
        choices = [*offered, ACCEPT_SPEC] if draft is not None else offered
        schema = kwargs.get("json_schema") or (call_schema(choices) if choices else None)
        request: dict[str, Any] = {"messages": to_chat(messages, self.tools, offered, self.plan, self.evidence_models),
                                   "max_tokens": self.max_tokens,
                                   "temperature": self.temperature}
        if schema is not None:
            request["grammar"] = grammar(bounded(schema))
        started = time.perf_counter()
        completion = model.chat(request)
        reply = _reply(completion, label, time.perf_counter() - started, expects_call=bool(offered)
                       and "json_schema" not in kwargs, draft=draft)
        return ChatResult(generations=[ChatGeneration(message=reply)])


# -- the backend -------------------------------------------------------------------------------
def local_model(spec: str, settings: Any) -> BaseChatModel:
    load(spec)  # fail now, in one line, when the file or the runtime is missing
    return LocalChatModel(spec=spec, temperature=settings.temperature, max_tokens=settings.max_tokens)


def describe_local_error(exc: Exception, settings: Any) -> str | None:
    if isinstance(exc, LocalModelError):
        return f"the local model ({settings.llm}) failed: {exc}"
    return None
