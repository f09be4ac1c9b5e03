"""What a run leaves: its record, and the accounting of its model calls (a LangChain callback handler)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler


@dataclass
class Usage:
    """What the run cost in model calls. ``images`` counts the distinct images put into the
    conversation; ``image_parts_sent`` counts them once per request that carried them."""

    llm: str = "offline"
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    images: int = 0
    image_parts_sent: int = 0
    model_s: float = 0.0  # the server's time on this run's requests
    queue_s: float = 0.0  # time the requests waited for a model slot or a back-off (a batch's --llm-concurrency)
    retried: int = 0  # requests tried again after a 429, 5xx, time-out or dropped connection (batch)
    planned: int = 0  # steps a backend took from the offline plan without calling its model (--llm local)


@dataclass
class RunRecord:
    video: str
    path: str
    content_hash: str
    status: str  # ok | degraded | failed
    caption: dict | None
    problems: list[str] = field(default_factory=list)
    # disagreements with unsure evidence that the caption was accepted with: field, measured, confidence, said
    advice: list[dict] = field(default_factory=list)
    # a degraded caption kept field by field: where each field came from ('model' or 'composed')
    field_sources: dict[str, str] = field(default_factory=dict)
    backend: str = "classical"
    fallback_reason: str | None = None
    llm_error: str | None = None
    backend_fallback_reason: str | None = None  # why a neural backend was asked for but not used
    # each tool's evidence, as the validator saw it (an agent.core.evidence.Evidence: it reads typed)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    cache_hits: int = 0  # tool results served by the tool cache
    output_format: str = "instancecap"
    formatted: Any = None  # the caption in output_format, when that is not instancecap
    usage: Usage = field(default_factory=Usage)
    steps: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    run_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(replace(self, evidence=dict(self.evidence)))


class ModelCallRecorder(BaseCallbackHandler):
    """Counts every chat-model call of a run (tokens, images, seconds) into a :class:`Usage` and appends
    each reply, cut as the conversation keeps it, to ``recording`` (``llm.jsonl``) when one is given."""

    def __init__(self, usage: Usage, recording: Path | None, max_reply_chars: int):
        self.usage, self.recording, self.max_reply_chars = usage, recording, max_reply_chars
        self._started: dict[UUID, float] = {}

    def on_chat_model_start(self, serialized, messages, *, run_id: UUID, **kwargs: Any) -> None:
        self._started[run_id] = time.perf_counter()
        parts = _image_parts(messages[0] if messages else [])
        self.usage.image_parts_sent += parts
        self.usage.images = max(self.usage.images, parts)

    def on_llm_end(self, response, *, run_id: UUID, **kwargs: Any) -> None:
        from agent.models.llm import record_reply
        from agent.models.toolcalls import cap_reply, is_planned

        started = self._started.pop(run_id, None)
        if started is None:  # not a chat model of this run
            return
        usage = self.usage
        reply = response.generations[0][0].message
        if is_planned(reply):  # no model call was made
            usage.planned += 1
            return
        usage.calls += 1
        usage.model_s += time.perf_counter() - started
        meta = getattr(reply, "usage_metadata", None) or {}
        usage.prompt_tokens += int(meta.get("input_tokens", 0))
        usage.completion_tokens += int(meta.get("output_tokens", 0))
        if self.recording is not None:
            record_reply(self.recording, cap_reply(reply, self.max_reply_chars))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._started.pop(run_id, None)


def _image_parts(messages: list) -> int:
    return sum(1 for m in messages if isinstance(m.content, list)
               for p in m.content if isinstance(p, dict) and p.get("type") == "image_url")
