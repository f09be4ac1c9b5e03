"""Choosing the chat model that drives the caption graph."""

from __future__ import annotations

import os

from langchain_core.language_models import BaseChatModel

from .config import Settings
from .errors import InputError
from .planner import OfflinePlanner


def make_chat_model(settings: Settings) -> BaseChatModel:
    """``offline`` (the embedded default), ``openai:MODEL``, or ``MODEL`` served at ``base_url``."""
    spec = settings.llm.strip()
    if spec in ("", "offline"):
        return OfflinePlanner()
    from langchain_openai import ChatOpenAI

    model = spec.split(":", 1)[1] if spec.startswith("openai:") else spec
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL")
    key = os.environ.get("OPENAI_API_KEY")
    if not key and not base_url:
        raise InputError(f"--llm {spec}: set OPENAI_API_KEY, or give --base-url for a local OpenAI-compatible server")
    return ChatOpenAI(model=model, base_url=base_url, api_key=key or "not-needed",
                      temperature=settings.temperature, max_tokens=settings.max_tokens,
                      timeout=settings.timeout_s, max_retries=settings.retries)


def is_offline(model: BaseChatModel) -> bool:
    return isinstance(model, OfflinePlanner)
