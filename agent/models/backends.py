"""The chat backends this package ships, registered through ``register_chat_backends`` like any plugin's.

Each backend's module is imported at its first use: the chat-model modules import LangChain (about a
second of start-up) that listing plugins, validating, exporting or reporting never needs
(:func:`agent.core.imports.on_first_use`).
"""

from __future__ import annotations

from agent.core.hookspecs import hookimpl
from agent.core.imports import on_first_use
from agent.models.registry import ChatBackend

LLM = "agent.models.llm"
LOCAL = "agent.models.local"


def builtin_backends() -> list[ChatBackend]:
    return [
        ChatBackend("offline", on_first_use(LLM, "offline_model"),
                    summary="the embedded planner: no key, no network (the default)"),
        ChatBackend("openai", on_first_use(LLM, "openai_model"), on_first_use(LLM, "describe_openai_error"),
                    takes_bare_names=True, summary="openai:MODEL, or MODEL with --base-url: any OpenAI-compatible server"),
        ChatBackend("hf", on_first_use(LLM, "hf_model"),
                    summary="hf:MODEL: a vision-language model run in-process with transformers"),
        ChatBackend("replay", on_first_use(LLM, "replay_model"), on_first_use(LLM, "describe_replay_error"),
                    summary="replay:PATH: the replies recorded in an earlier run"),
        ChatBackend("local", on_first_use(LOCAL, "local_model"), on_first_use(LOCAL, "describe_local_error"),
                    summary="local, local:0.5b or local:/path/model.gguf: a GGUF chat model run in process "
                            "(llama.cpp; scripts/fetch_llm.py fetches the models)"),
    ]


@hookimpl
def register_chat_backends():
    return builtin_backends()
