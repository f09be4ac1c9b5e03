"""What a tool gets to work with during one run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.core.config import Settings
from agent.run.media import FrameStore

log = logging.getLogger("agent")


@dataclass
class ToolRecord:
    name: str
    ok: bool
    duration_s: float
    summary: str


@dataclass
class RunContext:
    """The FrameStore, the settings, the run folder, an event emitter and the evidence so far.

    ``evidence`` holds each tool's latest typed evidence (as JSON-able dicts), so a tool can
    build on another's results; ``require`` runs a tool on demand when its evidence is missing.
    ``artifacts`` holds large in-memory results (masks) that never enter the graph state.
    """

    frames: FrameStore
    settings: Settings
    run_dir: Path
    tools: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    records: list[ToolRecord] = field(default_factory=list)
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    debug: bool = False
    cache: Any = None  # a ToolCache, or None
    clip_hash: str | None = None
    cache_hits: int = 0
    _seq: int = 0

    def emit(self, kind: str, **data: Any) -> None:
        from agent.core.secrets import redact

        self._seq += 1
        event = {"event": kind, "seq": self._seq, "time": round(time.time(), 3), **redact(data)}
        for listener in self.listeners:
            listener(event)

    def remember(self, name: str, obs, duration_s: float) -> None:
        evidence = obs.evidence_dict()
        if evidence is not None:
            self.evidence[name] = evidence
        self.records.append(ToolRecord(name, obs.ok, duration_s, obs.summary_text()[:200]))

    def require(self, name: str, **kwargs: Any) -> dict[str, Any] | None:
        """Evidence of tool ``name``, running it first if it has not run yet."""
        if name not in self.evidence and name in self.tools:
            self.emit("dependency", tool=name)
            self.tools[name](self, **kwargs)
        return self.evidence.get(name)

    # -- the tool cache ---------------------------------------------------------------------
    def _key(self, tool, args) -> tuple[str, str]:
        from agent.run.cache import cache_key

        return cache_key(self.clip_hash or "", tool.name, tool.version, args.model_dump(mode="json"), self.settings)

    def cached(self, tool, args):
        """The tool's cached observation for this clip and these arguments (artifacts and images restored)."""
        if self.cache is None or self.clip_hash is None:
            return None
        from agent.core.tool import Observation

        key, _ = self._key(tool, args)
        hit = self.cache.get(key)
        if hit is None:
            return None
        self.artifacts.update(hit["artifacts"])
        images = []
        for name, folder, data in hit["images"]:
            path = self.output_path(folder, name)
            path.write_bytes(data)
            images.append(path)
        self.cache_hits += 1
        self.emit("cache_hit", tool=tool.name)
        return Observation(hit["summary"], hit["evidence"], images, hit["ok"])

    def store(self, tool, args, obs, artifacts: dict[str, Any]) -> None:
        if self.cache is None or self.clip_hash is None:
            return
        key, params = self._key(tool, args)
        self.cache.put(key, self.clip_hash, tool.name, tool.version, params, obs.summary, obs.evidence_dict(), obs.ok,
                       list(obs.images), artifacts)

    def log_exception(self, tool: str, exc: BaseException) -> None:
        log.debug("tool %s failed", tool, exc_info=exc)
        self.emit("tool_error", tool=tool, error=f"{type(exc).__name__}: {exc}")

    def output_path(self, *parts: str) -> Path:
        path = self.run_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
