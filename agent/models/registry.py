"""The chat backends ``--llm`` can name, registered by plugins (hook ``register_chat_backends``).

A backend owns a prefix: ``--llm PREFIX`` or ``--llm PREFIX:REST`` goes to it (``hf:Qwen/...``,
``replay:runs/x``, ``local:0.5b``). One backend may also take bare model names (``openai``: any name with
``--base-url``). The plugin manager makes the backends of the loaded plugins the active ones; a
process that never loads plugins (a script calling :func:`agent.models.llm.make_chat_model`
directly) gets the built-in ones (:func:`agent.models.llm.backends`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from agent.core.errors import InputError


@dataclass(frozen=True)
class ChatBackend:
    prefix: str  # what --llm starts with: "hf" takes "hf" and "hf:MODEL"
    create: Callable[[str, Any], Any]  # (the --llm spec, settings) -> a LangChain BaseChatModel
    describe_error: Callable[[Exception, Any], str | None] | None = None  # one line for an error it knows, else None
    summary: str = ""  # one line for `python -m agent plugins`
    takes_bare_names: bool = False  # a spec with no registered prefix is a model name for this backend

    def describe(self, exc: Exception, settings: Any) -> str | None:
        return self.describe_error(exc, settings) if self.describe_error is not None else None


_active: dict[str, ChatBackend] | None = None


def use_backends(backends: Iterable[ChatBackend]) -> None:
    """Make these the backends ``--llm`` can name (the plugin manager calls this as it loads)."""
    global _active
    _active = {}
    for backend in backends:
        _active.setdefault(backend.prefix, backend)


def backends_loaded() -> bool:
    """A plugin manager was loaded (its backends are the ones there are, even when it has none)."""
    return _active is not None


def chat_backends() -> dict[str, ChatBackend]:
    """Prefix -> backend of the loaded plugins (empty before any plugin manager was loaded)."""
    return dict(_active or {})


def backend_for(spec: str, backends: dict[str, ChatBackend] | None = None) -> ChatBackend:
    """The backend an ``--llm`` spec names (an empty spec is ``offline``), among ``backends`` (by default
    the loaded plugins')."""
    spec = spec.strip() or "offline"
    backends = chat_backends() if backends is None else backends
    prefix = spec.split(":", 1)[0]
    if prefix in backends:
        return backends[prefix]
    bare = next((b for b in backends.values() if b.takes_bare_names), None)
    if bare is None:
        raise InputError(f"--llm {spec}: no chat backend takes it (known: {', '.join(sorted(backends))}; "
                         "is its plugin disabled?)")
    return bare
