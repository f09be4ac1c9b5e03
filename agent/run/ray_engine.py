"""The batch on Ray Data: the same work as the local engine, split into stages that scale apart.

    measure (CPU tasks)      decode and the planned tools whose stage is ``cpu`` (metadata, camera
                             motion); with the classical backend also the ``gpu`` ones
    neural (GPU actors)      the planned tools whose stage is ``gpu``, or that require one (detection,
                             segmentation, background; depth and pose with their conditions), one
                             model copy per actor (only when the backend is not classical)
    caption (LLM actors)     the agent graph; every tool call is served from the tool cache the
                             stages above filled, so this stage holds only model calls; its
                             concurrency caps the requests in flight to the LLM server

Each tool's stage comes from its declaration (:meth:`agent.core.registry.ToolRegistry.stages`).
The stages hand over through the tool cache (SQLite), so on a multi-node cluster it must live on
storage every node sees, or each node's stages must share a node-local cache. Local by default
(``ray.init()`` with this machine's CPUs); ``address`` attaches to a running cluster.

Each stage's actors ask for a share of the CPUs Ray has, so that all of them fit at once: actors that
ask for more than the cluster holds would wait forever.
"""

from __future__ import annotations

from typing import Any, Iterator

from agent.core.config import Settings


def planned_stages(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tools the CPU stage measures, tools the GPU stage measures), from the registered tools' declarations;
    with a backend that loads no neural model, the CPU stage measures them all."""
    from agent.core.registry import ToolRegistry
    from agent.run.plugins import load_plugins

    registry = ToolRegistry.of(load_plugins(settings.disabled_plugins).tools(settings))
    stages = registry.stages(registry.plan())
    if settings.backend in ("auto", "neural"):
        return tuple(stages["cpu"]), tuple(stages["gpu"])
    return tuple(stages["cpu"] + stages["gpu"]), ()


def _measure(clip: str, settings: Settings, cache_path: str | None, tools: tuple[str, ...]) -> str | None:
    """Run ``tools`` on a clip through the cache; returns an error line, or None."""
    import tempfile
    from pathlib import Path

    from agent.run.worker import cache_for
    from agent.run.context import RunContext
    from agent.core.errors import AgentError
    from agent.run.media import FrameStore, content_hash
    from agent.run.plugins import load_plugins

    try:
        frames = FrameStore(Path(clip), samples=settings.frames, motion_fps=settings.motion_fps,
                            motion_width=settings.motion_width)
        registry = {t.name: t for t in load_plugins(settings.disabled_plugins).tools(settings)}
        with tempfile.TemporaryDirectory(prefix="instance-agent-stage-") as scratch:
            ctx = RunContext(frames=frames, settings=settings, run_dir=Path(scratch), tools=registry,
                             cache=cache_for(cache_path), clip_hash=content_hash(Path(clip))).measuring()
            for name in tools:
                if name in registry:
                    ctx.require(name)
    except AgentError as e:
        return e.message
    return None


class MeasureStage:
    def __init__(self, settings: Settings, cache_path: str | None, tools: tuple[str, ...]):
        self.settings, self.cache_path, self.tools = settings, cache_path, tools

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if not row.get("error"):
            row["error"] = _measure(row["path"], self.settings, self.cache_path, self.tools) or ""
        return row


class CaptionStage:
    def __init__(self, settings: Settings, cache_path: str | None):
        self.settings, self.cache_path = settings, cache_path

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        import json

        from agent.run.worker import caption_one

        record = caption_one(row["path"], row["content_hash"], self.settings, self.cache_path)
        return {"record": json.dumps(record, ensure_ascii=False, default=str)}


def stage_cpus(cluster_cpus: float, measure: int, vision: int, caption: int) -> float:
    """CPUs each measuring actor asks for (caption actors ask half), so every stage's actors fit at once."""
    wanted = measure + vision + caption / 2
    return max(0.01, min(1.0, round(cluster_cpus / wanted - 0.005, 2)))


def _ray():
    try:
        import ray
    except ImportError:
        from agent.core.errors import InputError

        raise InputError("--engine ray needs Ray: pip install 'instance-agent[scale]'")
    return ray


def _start(ray, address: str | None) -> bool:
    """Start Ray on this machine's CPUs (or attach to ``address``) unless it runs; True when started here."""
    started_here = not ray.is_initialized()
    if started_here:
        import os

        ray.init(address=address, num_cpus=None if address else max(1, os.cpu_count() or 1),
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return started_here


def run_on_ray(jobs: list[tuple[str, str]], settings: Settings, cache_path: str | None, *, workers: int = 1,
               address: str | None = None, llm_concurrency: int | None = None, gpus: int | None = None
               ) -> Iterator[dict[str, Any]]:
    """Yield one batch record per job as the caption stage finishes it."""
    import json

    ray = _ray()
    if not jobs:
        return
    started_here = _start(ray, address)
    try:
        rows = [{"path": clip, "content_hash": digest, "error": ""} for clip, digest in jobs]
        ds = ray.data.from_items(rows)
        cpu_tools, gpu_tools = planned_stages(settings)
        neural = bool(gpu_tools)
        n_gpus = gpus if gpus is not None else int(ray.cluster_resources().get("GPU", 0))
        measure = max(1, workers)
        vision = max(1, n_gpus or 1) if neural else 0
        caption = llm_concurrency or max(1, workers)
        cpu_share = stage_cpus(float(ray.cluster_resources().get("CPU", 1)), measure, vision, caption)
        ds = ds.map(MeasureStage, fn_constructor_args=(settings, cache_path, cpu_tools),
                    concurrency=measure, num_cpus=cpu_share)
        if neural:
            ds = ds.map(MeasureStage, fn_constructor_args=(settings, cache_path, gpu_tools),
                        concurrency=vision, num_gpus=1 if n_gpus else 0, num_cpus=cpu_share)
        ds = ds.map(CaptionStage, fn_constructor_args=(settings, cache_path),
                    concurrency=caption, num_cpus=cpu_share / 2)
        for row in ds.iter_rows():
            yield json.loads(row["record"])
    finally:
        if started_here:
            ray.shutdown()


class ShotStage:
    """``--split-shots`` on Ray: one clip per row, its shots cut and captioned one after another."""

    def __init__(self, settings: Settings, cache_path: str | None, opts):
        self.settings, self.cache_path, self.opts = settings, cache_path, opts

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        import json

        from agent.run.worker import shots_in_worker

        records, notes = shots_in_worker(row["path"], row["content_hash"], self.settings, self.cache_path, self.opts,
                                          json.loads(row["done"]))
        return {"records": json.dumps(records, ensure_ascii=False, default=str), "notes": json.dumps(notes)}


def run_shots_on_ray(jobs: list[tuple[str, str, list]], settings: Settings, cache_path: str | None, opts,
                     *, workers: int = 1, address: str | None = None) -> Iterator[tuple[list[dict], list[str]]]:
    """Yield (records, notes) per clip; ``jobs`` holds (clip, content hash, shots already recorded)."""
    import json

    ray = _ray()
    if not jobs:
        return
    started_here = _start(ray, address)
    try:
        rows = [{"path": clip, "content_hash": digest, "done": json.dumps(done)} for clip, digest, done in jobs]
        cpu_share = stage_cpus(float(ray.cluster_resources().get("CPU", 1)), max(1, workers), 0, 0)
        ds = ray.data.from_items(rows).map(ShotStage, fn_constructor_args=(settings, cache_path, opts),
                                           concurrency=max(1, workers), num_cpus=cpu_share)
        for row in ds.iter_rows():
            yield json.loads(row["records"]), json.loads(row["notes"])
    finally:
        if started_here:
            ray.shutdown()
