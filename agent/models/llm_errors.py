"""What went wrong with a model server, in one line that says what to do (:mod:`agent.models.llm`):
a reply that is not a chat completion (:class:`MalformedReply`, :class:`CutOffReply`), a time-out, a
server that cannot be reached or drops the connection, and the HTTP errors of the OpenAI client.
"""

from __future__ import annotations

import json
from typing import Any

from agent.core.config import Settings


class MalformedReply(Exception):
    """The server answered 200 with something that is not a chat completion."""


class CutOffReply(MalformedReply):
    """The reply stopped at the token limit in the middle of a tool call's arguments."""


def preview(value: Any, limit: int = 120) -> str:
    """``value`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


RETRIED_STATUS = {408, 409, 429}  # and every 5xx: what the OpenAI client retries


def describe_server_error(exc: Exception, settings: Settings, url: str, openai) -> str | None:
    """One line for an error in talking to the server at ``url`` through the OpenAI client (``openai``,
    the module, imported by the caller), or None when ``exc`` is not one."""
    tries = f"after {settings.retries} retr{'y' if settings.retries == 1 else 'ies'}" if settings.retries else \
        "with retries off"
    if isinstance(exc, CutOffReply):
        return (f"the model server at {url} answered with {exc}; raise --max-reply-tokens (now "
                f"{settings.max_tokens}) or use a model that writes shorter replies")
    if isinstance(exc, MalformedReply):
        return f"the model server at {url} answered with {exc}, not a chat completion"
    if isinstance(exc, RecursionError):
        return f"the model server at {url} answered with JSON nested too deeply to read, not a chat completion"
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return (f"the model server at {url} answered with a body that is not JSON (empty, or not UTF-8 text: "
                f"{preview(exc)}), not a chat completion")
    if isinstance(exc, openai.APITimeoutError):
        return (f"the model server at {url} did not finish its reply within {settings.timeout_s:g}s "
                f"(the time-out covers the whole request; {tries}); raise the timeout (--timeout) or check the "
                "server's load")
    if isinstance(exc, openai.APIConnectionError):
        chain, seen = [], exc
        while seen is not None and len(chain) < 8:
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__
        text = " ".join(f"{e} {getattr(e, 'strerror', '') or ''}" for e in chain).lower()
        root = chain[-1]
        broken = _broken_reply(chain)
        if broken:
            return f"the model server at {url} {broken} ({tries}); the server is up: check its log"
        reason = "connection refused" if "refused" in text else f"{type(root).__name__}: {_first_line(str(root), 120)}"
        return (f"cannot reach the model server at {url} ({reason}); start it (for example "
                "`vllm serve MODEL` or `ollama serve`) or point --base-url at a running one")
    if isinstance(exc, openai.AuthenticationError):
        return f"the model server at {url} rejected the API key (HTTP 401); set OPENAI_API_KEY"
    if isinstance(exc, openai.NotFoundError):
        return f"the model server at {url} has no model {settings.llm.removeprefix('openai:')!r} (HTTP 404)"
    if isinstance(exc, openai.RateLimitError):
        return f"the model server at {url} kept answering 429 (rate limited) {tries}"
    if isinstance(exc, openai.APIStatusError):
        retried = exc.status_code in RETRIED_STATUS or exc.status_code >= 500
        line = f"the model server at {url} answered HTTP {exc.status_code}" + (f" {tries}" if retried else "")
        line += f": {_first_line(exc.message)}"
        if exc.status_code in (400, 415, 422) and settings.send_images and \
                any(w in str(exc.message).lower() for w in ("image", "vision", "multimodal", "multi-modal")):
            line += "; if this model takes no images, run with --no-images"
        return line
    return None


def _broken_reply(chain: list) -> str | None:
    """What went wrong with a reply the server began to send (it is up), or None when it was never reached."""
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    if "DecodingError" in names:
        return (f"sent a reply whose body does not match its Content-Encoding header ({_first_line(text, 100)}), "
                "so it could not be read")
    if names & {"RemoteProtocolError", "ReadError", "ConnectionResetError"} and \
            not any(isinstance(e, ConnectionRefusedError) for e in chain):
        if "without sending complete message body" in text or "incomplete" in text.lower() or \
                names & {"ReadError", "ConnectionResetError"}:
            return "dropped the connection in the middle of its reply"
        return f"broke the HTTP exchange ({_first_line(text, 100)})"
    return None


def _first_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
