"""The Python API: caption one clip, or many.

    import agent

    record = agent.caption("clip.mp4", frames=16)
    print(record.status, record.caption["Global Description"])

    for row in agent.caption_many(["a.mp4", "b.mp4"], workers=2):
        print(row["path"], row["status"])

Keyword arguments are settings (:class:`agent.core.config.Settings`: ``frames``, ``backend``, ``llm``,
``runs_dir``, ...). Without ``settings=``, they are resolved as the command line resolves its flags:
over the environment variables and the config file; with ``settings=``, they replace its values.
Bad input raises :class:`agent.core.errors.AgentError` with a one-line ``message``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from agent.core.config import Settings, load_settings
from agent.run.record import RunRecord

__all__ = ["caption", "caption_many"]


def _settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    if settings is None:
        return load_settings(**overrides)
    return Settings.model_validate({**settings.model_dump(), **overrides})


def caption(video: str | Path, *, settings: Settings | None = None,
            listeners: Iterable[Callable[[dict], None]] = (), **overrides: Any) -> RunRecord:
    """Caption one clip; returns its run record (``status``, ``caption``, ``evidence``, ``usage``, ...).
    ``listeners`` hear every event of the run (the trace's lines, as dicts)."""
    from agent.run.runner import caption_video

    return caption_video(video, _settings(settings, overrides), listeners=list(listeners))


def caption_many(videos: Iterable[str | Path], *, workers: int = 1, records: str | Path | None = None,
                 cache: str | Path | None = None, settings: Settings | None = None,
                 **overrides: Any) -> list[dict[str, Any]]:
    """Caption clips as ``python -m agent batch`` does; returns one batch record per clip, in order.

    ``workers``: clips captioned at once, each in its own process. ``records``: a JSON-lines file the
    records are appended to; a clip it already holds is not captioned again (without it, the records
    are kept in a temporary file). ``cache``: a tool-cache file shared by the runs."""
    from agent.run.batch import RecordFile, run_batch

    paths = [Path(v) for v in videos]
    resolved = _settings(settings, overrides)
    with tempfile.TemporaryDirectory(prefix="instance-agent-batch-") as scratch:
        out = Path(records) if records is not None else Path(scratch) / "records.jsonl"
        run_batch(paths, out, resolved, workers=workers, cache_path=Path(cache) if cache else None)
        store = RecordFile(out)
        try:
            by_path = {r["path"]: r for r in store.records() if r.get("shot") is None}
        finally:
            store.close()
    return [by_path[str(p)] for p in paths if str(p) in by_path]
