"""The chat backends ``--llm`` can name, registered by plugins (hook ``register_chat_backends``).

A backend owns a prefix: ``--llm PREFIX`` or ``--llm PREFIX:REST`` goes to it (``hf:Qwen/...``,
``replay:runs/x``, ``local:0.5b``). One backend may also take bare model names (``openai``: any name with
``--base-url``). The plugin manager collects them (``Plugins.backends``) and the run hands them to
:func:`agent.models.llm.make_chat_model`; a script that gives none gets the built-in ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

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


Backends = dict[str, ChatBackend]  # prefix -> backend, as a plugin manager collected them (``Plugins.backends``)


def backend_for(spec: str, backends: Backends) -> ChatBackend:
    """The backend an ``--llm`` spec names (an empty spec is ``offline``), among ``backends``."""
    spec = spec.strip() or "offline"
    prefix = spec.split(":", 1)[0]
    if prefix in backends:
        return backends[prefix]
    bare = next((b for b in backends.values() if b.takes_bare_names), None)
    if bare is None:
        raise InputError(f"--llm {spec}: no chat backend takes it (known: {', '.join(sorted(backends))}; "
                         "is its plugin disabled?)")
    return bare
