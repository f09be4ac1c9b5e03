"""Captioning datasets: many clips, one JSONL of records, resumable, in parallel.

* Inputs (:mod:`agent.run.inputs`): a folder, a glob, a single clip, or a manifest (``.jsonl`` or
  ``.csv``); an output that is one of them is refused before any work.
* Output (:mod:`agent.run.records_file`): one JSON line per clip (its resolved path, content hash,
  status ok/degraded/failed, caption, error, model error, backend, timings, LLM usage, cache hits,
  run folder, the settings it was made with). A line is written with a single ``write`` on an
  append-only file and flushed to disk before the next clip is counted done; a torn last line (the
  machine died mid-write) is cut off when the file is opened again, and only from a file whose
  lines are all records of ours.
* Resume: clips already recorded (same resolved path and content hash) are skipped, with a warning
  when they were captioned with other settings; ``retry_failed`` drops the failed records first and
  runs those clips again.
* Engines (:mod:`agent.run.engines`): ``local`` runs clips in N worker processes (1: in this process);
  ``ray`` runs the same work as Ray Data stages (:mod:`agent.run.ray_engine`).
* Shots (``split_shots``): each shot of a clip is captioned as its own sample, one record per shot
  (parent clip and its hash, shot number, part, start and end), the shot written as its own clip
  (kept under ``write_dir``, else in a scratch folder for the run): packets copied as they are
  where the shot starts on a keyframe, else re-encoded (``cut``). Shots shorter than ``min_shot_s``
  are left out; longer than ``max_shot_s``, split into equal parts. Resume, retry, the tool cache
  (keyed by the shot file's content) and export all work per shot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from agent.core.config import Settings
from agent.core.errors import StorageError
from agent.run.engines import EngineRun, caption_clips, caption_shot_jobs
from agent.run.media import content_hash, not_regular
from agent.run.inputs import (VIDEO_SUFFIXES, Inputs, expand_inputs, other_settings_note,  # noqa: F401
                               read_inputs, refuse_output_among_inputs, same_file, scan_inputs, settings_summary)
from agent.run.records_file import RecordFile, clip_identity, key  # noqa: F401  (importable from here too)
from agent.run.worker import (STORAGE_FAILURE, Piece, ShotOptions, caption_one, caption_shots,  # noqa: F401
                              failed_record, init_worker, plan_pieces, shots_in_worker)



def annotate(record: dict[str, Any], settings: Settings, columns: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The record as it is written: with the output format, the settings it was made with, and the
    clip's manifest row if it has one."""
    from agent.core.config import output_key

    record.setdefault("format", settings.output_format)
    record["settings_key"] = output_key(settings)
    record["settings"] = settings_summary(settings)
    if columns and record.get("path") in columns:
        record["manifest"] = columns[record["path"]]
    return record


def unique_clips(inputs: Iterable[Path]) -> list[Path]:
    """The clips, each once (two spellings of one file are one clip), in their order."""
    seen: set[str] = set()
    out = []
    for clip in inputs:
        ident = clip_identity(clip)
        if ident not in seen:
            seen.add(ident)
            out.append(Path(clip))
    return out


def clip_digest(clip: Path) -> str:
    """The clip's content hash; an OSError naming why when it is not a regular file (a FIFO would
    block the batch forever, a device never ends)."""
    why = not_regular(Path(clip))
    if why:
        raise OSError(0, why)
    return content_hash(clip)


# -- the batch -------------------------------------------------------------------------------------
@dataclass
class BatchSummary:
    total: int
    skipped: int
    done: dict[str, int]
    seconds: float
    repaired: bool
    dropped_failed: int
    in_file: dict[str, int]  # statuses of every record in the file, earlier runs' included
    other_settings: str | None = None  # a warning: clips already recorded with other settings

    @property
    def ran(self) -> int:
        return sum(self.done.values())


def run_batch(inputs: Iterable[Path], out: Path, settings: Settings, *, workers: int = 1,
              retry_failed: bool = False, cache_path: Path | None = None, engine: str = "local",
              ray_address: str | None = None, on_record: Callable[[dict, int, int], None] | None = None,
              shots: ShotOptions | None = None, on_note: Callable[[str], None] | None = None,
              columns: dict[str, dict[str, Any]] | None = None) -> BatchSummary:
    """Caption every clip not yet recorded in ``out``; ``on_record(record, done, total)`` follows along.

    ``columns``: a manifest's row for each clip (by path), carried into its records as ``manifest``;
    every record also names the output ``format`` its ``output`` is in.

    ``shots``: caption each shot of each clip as its own sample (see :class:`ShotOptions`); then
    ``total`` counts clips, and ``on_note`` hears of clips that give no records.
    """
    started = time.perf_counter()
    clips = unique_clips(inputs)
    refuse_output_among_inputs(out, clips)
    store = RecordFile(out)
    dropped = store.drop_failed() if retry_failed else 0
    note = other_settings_note(store.records(), {clip_identity(c) for c in clips}, settings)
    engine_run = EngineRun(settings, engine, workers, str(cache_path) if cache_path else None, ray_address)
    if shots is not None:
        try:
            summary = _run_shot_batch(clips, store, engine_run, shots, on_record, on_note, dropped, started,
                                      columns or {})
            summary.other_settings = note
            return summary
        finally:
            store.close()
    jobs, unreadable = _clip_jobs(clips, store)
    total = len(jobs) + len(unreadable)
    finish = RecordWriter(store, out, settings, columns, on_record, total)
    try:
        for record in unreadable:
            finish(record)
        caption_clips(jobs, engine_run, finish)
    finally:
        store.close()
    return BatchSummary(total=len(clips), skipped=len(clips) - total, done=finish.counts,
                        seconds=time.perf_counter() - started, repaired=store.repaired, dropped_failed=dropped,
                        in_file=statuses_in(store), other_settings=note)


class RecordWriter:
    """Writes each finished record to the batch's file and counts it by status; ``on_record`` follows."""

    def __init__(self, store: RecordFile, out: Path, settings: Settings, columns: dict[str, dict[str, Any]] | None,
                 on_record: Callable[[dict, int, int], None] | None, total: int):
        self.store, self.out, self.settings, self.columns = store, out, settings, columns
        self.on_record, self.total = on_record, total
        self.counts: dict[str, int] = {}

    def __call__(self, record: dict) -> None:
        if record.get("status") == STORAGE_FAILURE:
            raise StorageError(f"{record['error']}; the batch stopped, the records in {self.out} are valid and a "
                               "re-run resumes after what they hold")
        self.store.append(annotate(record, self.settings, self.columns))  # on disk before the clip counts as done
        self.counts[record["status"]] = self.counts.get(record["status"], 0) + 1
        if self.on_record:
            self.on_record(record, sum(self.counts.values()), self.total)


def statuses_in(store: RecordFile) -> dict[str, int]:
    """How many records of each status the file holds, earlier runs' included."""
    in_file: dict[str, int] = {}
    for record in store.records():
        in_file[record.get("status", "?")] = in_file.get(record.get("status", "?"), 0) + 1
    return in_file


# -- one record per clip ---------------------------------------------------------------------------
def _clip_jobs(clips: list[Path], store: RecordFile) -> tuple[list[tuple[str, str]], list[dict]]:
    """The clips not recorded yet, as (path, content hash) jobs, and the failed records of the clips
    that cannot be read (those not recorded as failed already)."""
    done_keys = {key(r)[:2] for r in store.records() if r.get("shot") is None}
    jobs: list[tuple[str, str]] = []
    unreadable: list[dict] = []
    for clip in clips:
        ident = clip_identity(clip)
        try:
            digest = clip_digest(clip)
        except OSError as e:
            record = failed_record(ident, "", f"{clip}: {e.strerror or e}")
            if key(record)[:2] not in done_keys:
                unreadable.append(record)
            continue
        if (ident, digest) not in done_keys:
            jobs.append((ident, digest))
    return jobs, unreadable


# -- one record per shot ---------------------------------------------------------------------------
def _run_shot_batch(clips: list[Path], store: RecordFile, run: EngineRun, opts: ShotOptions,
                    on_record: Callable[[dict, int, int], None] | None, on_note: Callable[[str], None] | None,
                    dropped: int, started: float, columns: dict[str, dict[str, Any]]) -> BatchSummary:
    """The batch with one record per shot: a clip is done when all its pieces are recorded."""
    opts.check()
    jobs, unreadable, skipped = _shot_jobs(clips, store)
    finish = RecordWriter(store, store.path, run.settings, columns, on_record, len(jobs) + len(unreadable))
    for record in unreadable:
        finish(record)
    caption_shot_jobs(jobs, run, opts, finish, on_note)
    return BatchSummary(total=len(clips), skipped=skipped, done=finish.counts, seconds=time.perf_counter() - started,
                        repaired=store.repaired, dropped_failed=dropped, in_file=statuses_in(store))


def _shots_recorded(store: RecordFile) -> tuple[dict[tuple[str, str], set], dict[tuple[str, str], int], set]:
    """What the file holds, by (path, content hash): the (shot, part) pairs recorded, how many pieces
    the clip has, and the clips recorded whole (failed: they could not be read, and count as done)."""
    done_parts: dict[tuple[str, str], set] = {}
    pieces_of: dict[tuple[str, str], int] = {}
    whole: set[tuple[str, str]] = set()
    for r in store.records():
        k = key(r)[:2]
        if r.get("shot") is None:
            if r.get("status") == "failed":  # the clip itself could not be read: it counts as done
                whole.add(k)
            continue
        done_parts.setdefault(k, set()).add((r.get("shot"), r.get("part")))
        if isinstance(r.get("pieces"), int):
            pieces_of[k] = r["pieces"]
    return done_parts, pieces_of, whole


def _shot_jobs(clips: list[Path], store: RecordFile) -> tuple[list[tuple[str, str, list]], list[dict], int]:
    """The clips with shots not recorded yet, as (path, content hash, the pieces done) jobs; the failed
    records of the clips that cannot be read; and how many clips are done already."""
    done_parts, pieces_of, whole = _shots_recorded(store)
    jobs: list[tuple[str, str, list]] = []
    unreadable: list[dict] = []
    skipped = 0
    for clip in clips:
        ident = clip_identity(clip)
        try:
            digest = clip_digest(clip)
        except OSError as e:
            k = (ident, "")
            if k not in whole:
                unreadable.append(failed_record(ident, "", f"{clip}: {e.strerror or e}"))
            else:
                skipped += 1
            continue
        k = (ident, digest)
        parts = done_parts.get(k, set())
        if k in whole or (k in pieces_of and len(parts) >= pieces_of[k]):
            skipped += 1
            continue
        jobs.append((ident, digest, sorted(parts, key=lambda p: (p[0], p[1] or 0))))
    return jobs, unreadable, skipped


# -- export ------------------------------------------------------------------------------------------
def export_captions(records_path: Path, out: Path, include_degraded: bool = True) -> int:
    """InstanceVid-style JSON: a list of captions, the latest record per clip, failures left out
    (the other kinds are in :mod:`agent.run.export`)."""
    from agent.run.export import export_records

    return export_records(Path(records_path), Path(out), "instancevid", ok_only=not include_degraded).samples
