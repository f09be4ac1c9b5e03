"""Choosing the chat model that drives the caption graph, and saying clearly when it fails.

``--llm`` takes:

* ``offline``: the embedded planner (no key, no network); the default;
* ``openai:MODEL``: OpenAI's API (``OPENAI_API_KEY``), or any server given with ``--base-url``;
* ``MODEL`` with ``--base-url URL`` (or ``INSTANCE_AGENT_BASE_URL`` / ``OPENAI_BASE_URL``): any
  OpenAI-compatible server: vLLM, SGLang, Ollama, LM Studio;
* ``hf:MODEL``: a vision-language model run in-process with transformers (:mod:`agent.models.hf`);
* ``replay:PATH``: the model replies recorded in an earlier run (its folder or its ``llm.jsonl``);
* ``PREFIX:...``: a backend a plugin registers (``register_chat_backends``, :mod:`agent.models.registry`).

Retries with exponential backoff on HTTP 429, 5xx, time-outs and dropped connections are the
OpenAI client's own (``retries`` times; it honours ``Retry-After``). What a failed request says is
worded in :mod:`agent.models.llm_errors`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, messages_from_dict, message_to_dict
from langchain_core.outputs import ChatGeneration, ChatResult

from agent.core.config import Settings, url_problem
from agent.core.errors import InputError
from agent.core.jsonl import read_text
from agent.core.secrets import redact
from agent.models.llm_errors import CutOffReply, MalformedReply, describe_server_error, preview
from agent.models.planner import OfflinePlanner
from agent.models.backends import builtin_backends
from agent.models.registry import Backends, backend_for

RECORDING = "llm.jsonl"
OPENAI_URL = "https://api.openai.com/v1"


def base_url(settings: Settings) -> str | None:
    return settings.base_url or os.environ.get("OPENAI_BASE_URL") or None


def known_backends(backends: Backends | None = None) -> Backends:
    """``backends`` (a plugin manager's), or the built-in ones where none are given."""
    return backends if backends is not None else {b.prefix: b for b in builtin_backends()}


def make_chat_model(settings: Settings, backends: Backends | None = None) -> BaseChatModel:
    """The chat model ``settings.llm`` names, made by the one of ``backends`` (a plugin manager's
    ``Plugins.backends``; the built-in ones when not given) that owns its prefix."""
    return backend_for(settings.llm, known_backends(backends)).create(settings.llm.strip(), settings)


def offline_model(spec: str, settings: Settings) -> BaseChatModel:
    return OfflinePlanner()


def replay_model(spec: str, settings: Settings) -> BaseChatModel:
    return ReplayModel.from_path(Path(spec.removeprefix("replay:")).expanduser())


def hf_model(spec: str, settings: Settings) -> BaseChatModel:
    from agent.models.hf import HFChatModel, load_vlm

    load_vlm(spec, settings)  # fail now, in one line, if it cannot be loaded
    return HFChatModel(spec=spec, settings=settings, max_new_tokens=settings.max_tokens)


def openai_model(spec: str, settings: Settings) -> BaseChatModel:
    model = spec.split(":", 1)[1] if spec.startswith("openai:") else spec
    if not model:
        raise InputError(f"--llm {spec}: name a model, e.g. openai:gpt-4o-mini")
    url = base_url(settings)
    if url is not None:
        problem = url_problem(url)
        if problem:
            where = "--base-url" if settings.base_url else "OPENAI_BASE_URL"
            raise InputError(f"{where} {redact(url)}: {problem}")
    key = os.environ.get("OPENAI_API_KEY")
    if not key and not url:
        raise InputError(f"--llm {spec}: set OPENAI_API_KEY, or give --base-url for a local OpenAI-compatible server")
    return CheckedChatOpenAI(model=model, base_url=url, api_key=key or "not-needed",
                             temperature=settings.temperature, max_tokens=settings.max_tokens,
                             timeout=settings.timeout_s, max_retries=settings.retries,
                             http_client=deadline_client(settings.timeout_s))


def deadline_client(total_s: float):
    """An HTTP client whose requests each end within ``total_s`` seconds in all: a server that trickles
    its reply a byte at a time is cut off at the deadline, not held for as long as it keeps sending."""
    import httpx2
    import openai
    from openai._constants import DEFAULT_CONNECTION_LIMITS

    class DeadlineStream(httpx2.SyncByteStream):
        def __init__(self, inner, deadline: float, request):
            self.inner, self.deadline, self.request = inner, deadline, request

        def __iter__(self):
            import time

            for chunk in self.inner:
                if time.monotonic() > self.deadline:
                    raise httpx2.ReadTimeout(f"the reply took longer than {total_s:g}s in all", request=self.request)
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class DeadlineTransport(httpx2.BaseTransport):
        def __init__(self):
            self.inner = httpx2.HTTPTransport(limits=DEFAULT_CONNECTION_LIMITS)

        def handle_request(self, request):
            import time

            deadline = time.monotonic() + total_s
            response = self.inner.handle_request(request)
            if time.monotonic() > deadline:
                response.close()
                raise httpx2.ReadTimeout(f"no reply within {total_s:g}s", request=request)
            response.stream = DeadlineStream(response.stream, deadline, request)
            return response

        def close(self) -> None:
            self.inner.close()

    return openai.DefaultHttpxClient(transport=DeadlineTransport(), timeout=total_s)


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def clean_usage(usage: Any) -> dict | None:
    """A reply's token counts, keeping only whole numbers of 0 or more (usage is optional data: a
    server's "many", NaN or -5 is left out, never the end of the run)."""
    if not isinstance(usage, dict):
        return None
    out = {}
    for k, v in usage.items():
        if k in USAGE_FIELDS or k.endswith("_tokens"):
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                out[k] = v
            elif isinstance(v, float) and v == v and 0 <= v < 1e15 and v == int(v):
                out[k] = int(v)
        elif isinstance(v, dict):
            details = {dk: dv for dk, dv in v.items()
                       if isinstance(dv, int) and not isinstance(dv, bool) and dv >= 0}
            if details:
                out[k] = details
    return out or None


def checked_completion(response: Any) -> dict:
    """The completion as a dict, or :class:`MalformedReply` saying what came back instead.

    Tool-call arguments that are valid JSON but not an object (``42``, ``[1, 2]``) are kept as
    unparsed arguments, so the model is told that call's error instead of the whole reply failing."""
    import openai

    from agent.models.toolcalls import UNPARSED

    if isinstance(response, (bytes, str)):
        text = response.decode("utf-8", "replace") if isinstance(response, bytes) else response
        if text.lstrip().startswith(("data:", "event:")):
            raise MalformedReply("an event stream (streaming was not asked for)")
        if "<html" in text[:500].lower() or "<!doctype" in text[:500].lower():
            raise MalformedReply(f"an HTML page: {preview(text)}")
        raise MalformedReply(f"a body that is not JSON: {preview(text) or '(empty)'}")
    if isinstance(response, openai.BaseModel):
        response = response.model_dump(exclude={"choices": {"__all__": {"message": {"parsed"}}}}, warnings=False)
    if not isinstance(response, dict):
        raise MalformedReply(f"a {type(response).__name__} instead of a JSON object")
    if response.get("error"):
        raise MalformedReply(f"an error object: {preview(response['error'])}")
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("a completion whose choices are empty" if choices == [] else
                             f"a completion with no choices: {preview(json.dumps(response, default=str))}")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise MalformedReply(f"a choice with no message: {preview(json.dumps(choices[0], default=str))}")
    if "usage" in response:
        response["usage"] = clean_usage(response["usage"])
    cut_off = choices[0].get("finish_reason") == "length"
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        args = function.get("arguments")
        if not isinstance(args, str) or not args.strip():
            continue
        try:
            parsed = json.loads(args)
        except RecursionError:  # nested deeper than any caption: kept as unparsed arguments
            function["arguments"] = json.dumps({UNPARSED: args[:200] + "... (nested too deeply)"})
            continue
        except json.JSONDecodeError:
            if cut_off:
                raise CutOffReply(f"a reply cut off at the token limit in the middle of the arguments of "
                                  f"{function.get('name') or 'a tool call'} (finish_reason \"length\")") from None
            continue  # LangChain keeps these as invalid tool calls, answered like unparsed ones
        if not isinstance(parsed, dict):
            function["arguments"] = json.dumps({UNPARSED: args})
    return response


def _chat_openai():
    from langchain_openai import ChatOpenAI

    class CheckedChatOpenAI(ChatOpenAI):
        """ChatOpenAI that turns a 200 reply which is not a chat completion into :class:`MalformedReply`."""

        def _create_chat_result(self, response, generation_info=None):
            return super()._create_chat_result(checked_completion(response), generation_info)

    return CheckedChatOpenAI


def CheckedChatOpenAI(**kwargs: Any) -> BaseChatModel:  # noqa: N802 - a class built on first use
    return _chat_openai()(**kwargs)


def is_offline(model: BaseChatModel) -> bool:
    return isinstance(model, OfflinePlanner)


def describe_llm_error(exc: Exception, settings: Settings, backends: Backends | None = None) -> str | None:
    """One line saying what went wrong with the model server and what to do; None if ``exc`` is
    not a model-server error (then it is a bug and keeps its traceback under --debug).

    The backend ``settings.llm`` names is asked first, then the others (a describer or a plugin
    may have used another backend's client)."""
    known = known_backends(backends)
    try:
        first = [backend_for(settings.llm, known)]
    except InputError:
        first = []
    for backend in [*first, *(b for b in known.values() if b not in first)]:
        line = backend.describe(exc, settings)
        if line is not None:
            return redact(line)
    return None


def describe_openai_error(exc: Exception, settings: Settings) -> str | None:
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        return None
    return describe_server_error(exc, settings, base_url(settings) or OPENAI_URL, openai)


def describe_replay_error(exc: Exception, settings: Settings) -> str | None:
    return str(exc) if isinstance(exc, ReplayExhausted) else None


# -- record and replay -------------------------------------------------------------------------
def record_reply(path: Path, reply: AIMessage) -> None:
    """Append one raw model reply to a run's recording."""
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(redact(message_to_dict(reply)), ensure_ascii=False) + "\n")


class ReplayExhausted(RuntimeError):
    pass


class ReplayModel(BaseChatModel):
    """Answers with the replies recorded in an earlier run, in order.

    The n-th call gets the n-th reply, where n counts the model replies already in the
    conversation, so a replay needs no state and no server. Tools still run for real; with the
    same clip and settings they measure the same evidence, so the run ends with the same caption.
    """

    replies: list[AIMessage]
    source: str = ""

    @classmethod
    def from_path(cls, path: Path) -> "ReplayModel":
        file = path / RECORDING if path.is_dir() else path
        if not file.is_file():
            raise InputError(f"replay: {file} does not exist (a run folder holds {RECORDING} after a run with an LLM)")
        try:
            rows = [json.loads(line) for line in read_text(file, "recording").splitlines() if line.strip()]
            replies = [m for m in messages_from_dict(rows) if isinstance(m, AIMessage)]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise InputError(f"replay: {file} is not a recording of model replies ({e})")
        if not replies:
            raise InputError(f"replay: {file} holds no model replies")
        return cls(replies=replies, source=str(file))

    @property
    def _llm_type(self) -> str:
        return "replay"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ReplayModel":
        return self

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        n = sum(isinstance(m, AIMessage) for m in messages)
        if n >= len(self.replies):
            raise ReplayExhausted(f"replay: {self.source} has {len(self.replies)} replies and the run asked for more "
                                  "(the clip, settings or tools differ from the recorded run)")
        return ChatResult(generations=[ChatGeneration(message=self.replies[n])])
