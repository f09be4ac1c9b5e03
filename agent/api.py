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

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from agent.core.config import Settings, load_settings
from agent.core.errors import InputError
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

    return caption_video(_clip_path(video, "caption"), _settings(settings, overrides), listeners=list(listeners))


def _clip_path(video: Any, where: str) -> Path:
    """A clip given as a str or a path; anything else is one :class:`AgentError` line."""
    if isinstance(video, (str, os.PathLike)) and not isinstance(video, bytes) and str(os.fspath(video)).strip():
        return Path(video)
    shown = repr(video) if len(repr(video)) <= 60 else repr(video)[:57] + "..."
    raise InputError(f"agent.{where}: a clip is a path (str or pathlib.Path), not {type(video).__name__} {shown}")


def _clip_paths(videos: Any) -> list[Path]:
    if isinstance(videos, (str, bytes, os.PathLike)):
        raise InputError(f"agent.caption_many: give a list of clips, not one {type(videos).__name__} "
                         f"({videos!r}); for one clip use agent.caption")
    try:
        items = list(videos)
    except TypeError:
        raise InputError(f"agent.caption_many: give a list of clips, not {type(videos).__name__}") from None
    return [_clip_path(v, "caption_many") for v in items]


def caption_many(videos: Iterable[str | Path], *, workers: int = 1, records: str | Path | None = None,
                 cache: str | Path | None = None, settings: Settings | None = None,
                 **overrides: Any) -> list[dict[str, Any]]:
    """Caption clips as ``python -m agent batch`` does; returns one batch record per clip, in order.

    ``workers``: clips captioned at once, each in its own process. ``records``: a JSON-lines file the
    records are appended to; a clip it already holds is not captioned again (without it, the records
    are kept in a temporary file). ``cache``: a tool-cache file shared by the runs."""
    from agent.run.batch import RecordFile, clip_identity, run_batch

    paths = _clip_paths(videos)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InputError(f"agent.caption_many: workers must be a whole number of at least 1, not {workers!r}")
    resolved = _settings(settings, overrides)
    with tempfile.TemporaryDirectory(prefix="instance-agent-batch-") as scratch:
        out = Path(records) if records is not None else Path(scratch) / "records.jsonl"
        run_batch(paths, out, resolved, workers=workers, cache_path=Path(cache) if cache else None)
        store = RecordFile(out)
        try:
            by_path = {clip_identity(r["path"]): r for r in store.records() if r.get("shot") is None}
        finally:
            store.close()
    return [by_path[clip_identity(p)] for p in paths if clip_identity(p) in by_path]
