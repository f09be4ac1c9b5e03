"""What a tool gets to work with during one run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections import ChainMap
from typing import Any, Callable, Iterator, Mapping

from agent.core.config import Settings
from agent.core.evidence import Evidence
from agent.core.registry import ToolRegistry
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
    """What a run lends its tools: the FrameStore, the settings, the run folder, the event emitter, the tool
    cache, the artifacts and the log of tool runs. It holds no evidence: the graph state is the one home of
    the evidence, and a graph step measures through a :class:`Measuring` (:meth:`measuring`) that reads the
    state's evidence and returns what it measured as the step's update.

    ``artifacts`` holds large in-memory results (camera transforms, masks) that never enter the graph
    state. A tool works on a :class:`ToolView` of a :class:`Measuring`, which shows it only what it declares.
    """

    frames: FrameStore
    settings: Settings
    run_dir: Path
    tools: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    records: list[ToolRecord] = field(default_factory=list)
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    debug: bool = False
    cache: Any = None  # a ToolCache, or None
    clip_hash: str | None = None
    cache_hits: int = 0
    _seq: int = 0
    _recomputed: set[str] = field(default_factory=set)
    _uncached: set[str] = field(default_factory=set)  # producers measuring again for a missing artifact
    skipped_by_user: set[str] = field(default_factory=set)  # --step: tools the user chose to skip

    def __post_init__(self) -> None:
        self.frames.attach(self.registry.feeds())  # fed by the decode pass, which knows no tool

    @property
    def registry(self) -> ToolRegistry:
        return ToolRegistry.of(self.tools.values())

    def measuring(self, known: Mapping[str, Any] | None = None) -> "Measuring":
        """A step that measures on top of ``known`` evidence (the graph state's; none outside a graph)."""
        return Measuring(self, known or {})

    def emit(self, kind: str, **data: Any) -> None:
        """One event: inside the caption graph it goes out on LangGraph's ``custom`` stream (the runner
        passes it on to the listeners as the stream yields it), elsewhere straight to the listeners."""
        from agent.core.secrets import redact

        self._seq += 1
        event = {"event": kind, "seq": self._seq, "time": round(time.time(), 3), **redact(data)}
        writer = _graph_stream_writer()
        if writer is None:
            self.deliver(event)
        else:
            writer(event)

    def deliver(self, event: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(event)

    # -- the tool cache ---------------------------------------------------------------------
    def _key(self, tool, args) -> tuple[str, str]:
        from agent.run.cache import cache_key

        registry = ToolRegistry({**self.tools, tool.name: tool})
        return cache_key(self.clip_hash or "", tool.name, registry.versions(tool.name), args.model_dump(mode="json"),
                         self.settings.model_dump(mode="json", include=set(registry.key_settings(tool.name))))

    def cached(self, tool, args):
        """The tool's cached observation for this clip and these arguments (artifacts and images restored)."""
        if self.cache is None or self.clip_hash is None or tool.name in self._uncached:
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


class Measuring:
    """One graph step's measuring: the run's services (a :class:`RunContext`, whose attributes it passes
    on) with the evidence the step sees, the ``known`` evidence of the graph state (read, never written)
    under what the step's tools measure (``measured``), which the step returns as its update to the state.

    ``require`` runs a tool on demand when its evidence is missing; ``artifact`` makes a missing artifact
    again through its producer. Tools are called with a Measuring: ``tool(step, **args)``.
    """

    def __init__(self, ctx: RunContext, known: Mapping[str, Any]):
        self.ctx = ctx
        self.measured: dict[str, Any] = {}
        self.evidence = Evidence(ChainMap(self.measured, dict(known)), ctx.registry.evidence_models())

    _OWN = frozenset({"ctx", "measured", "evidence"})

    def __getattr__(self, name: str) -> Any:  # frames, settings, run_dir, emit, output_path, records, ...
        return getattr(self.ctx, name)

    def __setattr__(self, name: str, value: Any) -> None:  # the run's services are set on the run context
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.ctx, name, value)

    def view(self, tool) -> "ToolView":
        """What ``tool`` may see of this step: the evidence and artifacts it declares it reads."""
        return ToolView(self, tool, ToolRegistry({**self.ctx.tools, tool.name: tool}))

    def remember(self, name: str, obs, duration_s: float) -> None:
        """Keep ``obs``'s evidence as measured in this step, and log the run."""
        evidence = obs.evidence_dict()
        if evidence is not None:
            self.measured[name] = evidence
        self.ctx.records.append(ToolRecord(name, obs.ok, duration_s, obs.summary_text()[:200]))

    def require(self, name: str, **kwargs: Any) -> dict[str, Any] | None:
        """Evidence of tool ``name``, running it first if it has not run yet."""
        ctx = self.ctx
        if name not in self.evidence and name in ctx.tools:
            # a tool the user skipped at a --step prompt still runs when another needs it: say so
            ctx.emit("dependency", tool=name, **({"overrides_skip": True} if name in ctx.skipped_by_user else {}))
            ctx.tools[name](self, **kwargs)
        return self.evidence.get(name)

    def artifact(self, name: str, default: Any = None) -> Any:
        """An artifact, made again by its producer when it is missing (a resumed run, a cached result
        stored without it): the producer measures again, past the cache, once per run, so a producer
        that cannot make it is not asked again."""
        ctx = self.ctx
        if name not in ctx.artifacts and name not in ctx._recomputed:
            ctx._recomputed.add(name)
            producer = ctx.registry.producer_of(name)
            if producer is not None:
                ctx.emit("dependency", tool=producer, artifact=name)
                ctx._uncached.add(producer)
                try:
                    ctx.tools[producer](self)
                finally:
                    ctx._uncached.discard(producer)
        return ctx.artifacts.get(name, default)


def _graph_stream_writer() -> Callable[[Any], None] | None:
    """The custom-stream writer of the graph step running on this thread, or None outside a graph."""
    from langgraph.config import get_stream_writer

    try:
        return get_stream_writer()
    except RuntimeError:  # not inside a graph's node or tool
        return None


class UndeclaredRead(RuntimeError):
    """A tool reached for evidence, an artifact or a tool it did not declare."""


class _VisibleEvidence(Evidence):
    """The step's evidence, limited to the tools one tool may read."""

    def __init__(self, evidence: Evidence, names: set[str]):
        super().__init__(evidence.raw, {n: m for n, m in evidence.models.items() if n in names})
        self._names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        return self.raw[name]

    def __iter__(self) -> Iterator[str]:
        return (n for n in self.raw if n in self._names)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _DeclaredArtifacts(Mapping):
    """The artifacts one tool consumes or produces: a missing one is made by its producer; writing one the
    tool does not declare it produces, or reading one it does not consume, raises :class:`UndeclaredRead`."""

    def __init__(self, ctx: Measuring, tool):
        self._ctx, self._tool = ctx, tool

    def _check(self, name: str, allowed: tuple[str, ...], verb: str) -> None:
        if name not in allowed:
            raise UndeclaredRead(f"{self._tool.name} {verb} the artifact {name!r} without declaring it")

    def __getitem__(self, name: str) -> Any:
        self._check(name, (*self._tool.consumes, *self._tool.produces), "reads")
        if name in self._tool.produces:
            return self._ctx.artifacts[name]
        found = self._ctx.artifact(name, _MISSING)
        if found is _MISSING:
            raise KeyError(name)
        return found

    def __setitem__(self, name: str, value: Any) -> None:
        self._check(name, self._tool.produces, "writes")
        self._ctx.artifacts[name] = value

    def setdefault(self, name: str, default: Any = None) -> Any:
        self._check(name, self._tool.produces, "writes")
        return self._ctx.artifacts.setdefault(name, default)

    def __iter__(self) -> Iterator[str]:
        allowed = {*self._tool.consumes, *self._tool.produces}
        return (n for n in self._ctx.artifacts if n in allowed)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_MISSING = object()


class ToolView:
    """A tool's window on the run: everything of the :class:`Measuring` step, but only the evidence of the tools
    it requires, only the artifacts it declares, and ``require`` only for declared requirements, so what a
    tool measures never depends on which tools happened to run before it."""

    def __init__(self, ctx: Measuring, tool, registry: ToolRegistry):
        self._ctx, self._tool = ctx, tool
        self._visible = registry.visible(tool.name)
        self.evidence = _VisibleEvidence(ctx.evidence, self._visible)
        self.artifacts = _DeclaredArtifacts(ctx, tool)

    def require(self, name: str, **kwargs: Any) -> dict[str, Any] | None:
        if name not in self._visible:
            raise UndeclaredRead(f"{self._tool.name} requires {name!r} without declaring it")
        return self._ctx.require(name, **kwargs)

    def __getattr__(self, name: str) -> Any:  # frames, settings, run_dir, emit, output_path, ...
        return getattr(self._ctx, name)
