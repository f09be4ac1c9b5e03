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
* Engines: ``local`` runs clips in N worker processes (1: in this process); ``ray`` runs the same
  work as Ray Data stages (:mod:`agent.run.ray_engine`).
* Shots (``split_shots``): each shot of a clip is captioned as its own sample, one record per shot
  (parent clip and its hash, shot number, part, start and end), the shot written as its own clip
  (kept under ``write_dir``, else in a scratch folder for the run): packets copied as they are
  where the shot starts on a keyframe, else re-encoded (``cut``). Shots shorter than ``min_shot_s``
  are left out; longer than ``max_shot_s``, split into equal parts. Resume, retry, the tool cache
  (keyed by the shot file's content) and export all work per shot.
"""

from __future__ import annotations

import os
import queue
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from agent.core.config import Settings
from agent.core.errors import StorageError
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


# -- clips in threads, model calls overlapping ------------------------------------------------------
def model_is_a_server(settings: Settings) -> bool:
    """Whether the model is a server, whose requests can overlap (not the offline planner, a
    recording replayed or a model in this process)."""
    spec = settings.llm.strip()
    return not (spec in ("", "offline") or spec.startswith(("replay:", "hf:")) or spec == "hf")


def overlaps_model_calls(settings: Settings, engine: str) -> bool:
    """Whether the local batch runs its clips in threads, so that model requests overlap."""
    return engine == "local" and model_is_a_server(settings)


def threaded(jobs: list, work: Callable[[Any, Callable[[Any], None]], None], threads: int) -> Iterable[Any]:
    """Run ``work(job, put)`` for each job in ``threads`` threads; yields what they ``put``, as it
    comes, and ``("crashed", job, exception)`` for a job whose work raised. Stopping early (an
    error in the caller, Ctrl-C) starts no further job; the ones running finish unrecorded."""
    results: queue.Queue = queue.Queue()
    finished = object()

    def run(job) -> None:
        try:
            work(job, results.put)
        except Exception as e:  # a bug: the batch goes on, the record says what broke
            results.put(("crashed", job, e))
        finally:
            results.put(finished)

    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="clip")
    try:
        for job in jobs:
            pool.submit(run, job)
        left = len(jobs)
        while left:
            try:
                item = results.get(timeout=0.5)  # a short wait keeps Ctrl-C responsive
            except queue.Empty:
                continue
            if item is finished:
                left -= 1
            else:
                yield item
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def in_flight(settings: Settings, workers: int) -> int:
    """Clips in flight at once: enough that while ``llm_concurrency`` of them wait for the model,
    as many more have their vision work done and their next request ready (the model slots never
    wait for the vision), plus the ``workers`` at their vision work."""
    return workers + 2 * settings.llm_concurrency


def _gates(settings: Settings, workers: int):
    from agent.run.plugins import load_plugins
    from agent.run.throttle import Gates

    load_plugins(settings.disabled_plugins)  # once here, before the threads ask for it
    return Gates(vision=workers, llm=settings.llm_concurrency, retries=settings.retries)


def _clip_in_thread(gates, settings_json: str, cache: str | None):
    def work(job, put) -> None:
        clip, digest = job
        with gates.vision():
            record = caption_one(clip, digest, settings_json, cache, gates)
            waited = gates.vision_wait()
        if isinstance(record.get("timings"), dict):
            record["timings"]["vision_wait_s"] = round(waited, 3)
        put(record)
    return work


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
    if shots is not None:
        try:
            summary = _run_shot_batch(clips, store, settings, shots, workers, cache_path, engine, ray_address,
                                      on_record, on_note, dropped, started, columns or {})
            summary.other_settings = note
            return summary
        finally:
            store.close()
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
    total = len(jobs) + len(unreadable)
    counts: dict[str, int] = {}

    def finish(record: dict) -> None:
        if record.get("status") == STORAGE_FAILURE:
            raise StorageError(f"{record['error']}; the batch stopped, the records in {out} are valid and a "
                               "re-run resumes after what they hold")
        store.append(annotate(record, settings, columns))  # on disk before the clip counts as done
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        if on_record:
            on_record(record, sum(counts.values()), total)

    settings_json = settings.model_dump_json()
    cache = str(cache_path) if cache_path else None
    try:
        for record in unreadable:
            finish(record)
        if engine == "ray":
            from agent.run.ray_engine import run_on_ray

            llm = settings.llm_concurrency if model_is_a_server(settings) else None  # the caption stage's actors
            for record in run_on_ray(jobs, settings, cache, workers=workers, address=ray_address, llm_concurrency=llm):
                finish(record)
        elif overlaps_model_calls(settings, engine):
            gates = _gates(settings, workers)
            for item in threaded(jobs, _clip_in_thread(gates, settings_json, cache), in_flight(settings, workers)):
                if isinstance(item, tuple):
                    _, (clip, digest), e = item
                    item = failed_record(clip, digest, f"{type(e).__name__}: {e}")
                finish(item)
        elif workers <= 1:
            for clip, digest in jobs:
                finish(caption_one(clip, digest, settings_json, cache))
        else:
            import multiprocessing

            threads = max(1, (os.cpu_count() or 1) // workers)
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=init_worker, initargs=(threads,)) as pool:
                futures = {pool.submit(caption_one, clip, digest, settings_json, cache): (clip, digest)
                           for clip, digest in jobs}
                for future in as_completed(futures):
                    clip, digest = futures[future]
                    try:
                        record = future.result()
                    except Exception as e:  # the worker process died (out of memory, a crash in a library)
                        record = failed_record(clip, digest, f"worker died: {type(e).__name__}: {e}")
                    finish(record)
    finally:
        store.close()
    in_file: dict[str, int] = {}
    for record in store.records():
        in_file[record.get("status", "?")] = in_file.get(record.get("status", "?"), 0) + 1
    return BatchSummary(total=len(clips), skipped=len(clips) - total, done=counts,
                        seconds=time.perf_counter() - started, repaired=store.repaired, dropped_failed=dropped,
                        in_file=in_file, other_settings=note)


def _run_shot_batch(clips: list[Path], store: RecordFile, settings: Settings, opts: ShotOptions, workers: int,
                    cache_path: Path | None, engine: str, ray_address: str | None,
                    on_record: Callable[[dict, int, int], None] | None, on_note: Callable[[str], None] | None,
                    dropped: int, started: float, columns: dict[str, dict[str, Any]]) -> BatchSummary:
    """The batch with one record per shot: a clip is done when all its pieces are recorded."""
    opts.check()
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
    jobs: list[tuple[str, str, list]] = []
    counts: dict[str, int] = {}
    skipped = 0
    out = store.path

    def finish(record: dict, total: int) -> None:
        if record.get("status") == STORAGE_FAILURE:
            raise StorageError(f"{record['error']}; the batch stopped, the records in {out} are valid and a "
                               "re-run resumes after what they hold")
        store.append(annotate(record, settings, columns))
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        if on_record:
            on_record(record, sum(counts.values()), total)

    unreadable = []
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
    total = len(jobs) + len(unreadable)
    settings_json = settings.model_dump_json()
    cache = str(cache_path) if cache_path else None
    opts_json = opts.to_json()
    for record in unreadable:
        finish(record, total)
    if engine == "ray":
        from agent.run.ray_engine import run_shots_on_ray

        for records, notes in run_shots_on_ray(jobs, settings, cache, opts_json, workers=workers, address=ray_address):
            for note in notes:
                on_note and on_note(note)
            for record in records:
                finish(record, total)
    elif overlaps_model_calls(settings, engine):
        gates = _gates(settings, workers)

        def work(job, put) -> None:
            clip, digest, parts = job
            with gates.vision():
                for record in caption_shots(clip, digest, settings_json, cache, opts_json, parts,
                                            lambda note: put(("note", note)), gates):
                    put(record)

        for item in threaded(jobs, work, in_flight(settings, workers)):
            if isinstance(item, tuple) and item[0] == "note":
                on_note and on_note(item[1])
            elif isinstance(item, tuple):
                _, (clip, digest, _parts), e = item
                finish(failed_record(clip, digest, f"{type(e).__name__}: {e}"), total)
            else:
                finish(item, total)  # each shot on disk as soon as it is captioned
    elif workers <= 1:
        for clip, digest, parts in jobs:
            for record in caption_shots(clip, digest, settings_json, cache, opts_json, parts, on_note):
                finish(record, total)  # each shot on disk as soon as it is captioned
    else:
        import multiprocessing

        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=init_worker, initargs=(threads,)) as pool:
            futures = {pool.submit(shots_in_worker, clip, digest, settings_json, cache, opts_json, parts): (clip, digest)
                       for clip, digest, parts in jobs}
            for future in as_completed(futures):
                clip, digest = futures[future]
                try:
                    records, notes = future.result()
                except Exception as e:  # the worker process died
                    records, notes = [failed_record(clip, digest, f"worker died: {type(e).__name__}: {e}")], []
                for note in notes:
                    on_note and on_note(note)
                for record in records:
                    finish(record, total)
    in_file: dict[str, int] = {}
    for record in store.records():
        in_file[record.get("status", "?")] = in_file.get(record.get("status", "?"), 0) + 1
    return BatchSummary(total=len(clips), skipped=skipped, done=counts, seconds=time.perf_counter() - started,
                        repaired=store.repaired, dropped_failed=dropped, in_file=in_file)


# -- export ------------------------------------------------------------------------------------------
def export_captions(records_path: Path, out: Path, include_degraded: bool = True) -> int:
    """InstanceVid-style JSON: a list of captions, the latest record per clip, failures left out
    (the other kinds are in :mod:`agent.run.export`)."""
    from agent.run.export import export_records

    return export_records(Path(records_path), Path(out), "instancevid", ok_only=not include_degraded).samples
