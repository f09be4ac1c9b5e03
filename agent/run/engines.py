"""Where a batch's clips are captioned (:mod:`agent.run.batch` plans the work and writes the records):

* in this process, one clip after another (``workers`` 1);
* in ``workers`` spawned worker processes;
* in threads, when the model is a server whose requests can overlap (:func:`overlaps_model_calls`):
  ``workers`` clips at their vision work at once, ``llm_concurrency`` at the model;
* on Ray (``engine="ray"``, :mod:`agent.run.ray_engine`).

Each engine hands every record to the batch's ``finish`` as it comes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from agent.core.config import Settings
from agent.run.ray_engine import run_on_ray, run_shots_on_ray
from agent.run.worker import ShotOptions, caption_one, caption_shots, failed_record, init_worker, shots_in_worker


@dataclass
class EngineRun:
    """Where and how a batch's work runs: the engine, its workers, the tool cache and the Ray cluster."""

    settings: Settings
    engine: str  # local | ray
    workers: int
    cache: str | None  # the tool cache's path
    ray_address: str | None


def in_processes(work: Callable, calls: list[tuple], workers: int,
                 take: Callable[[tuple, Any, Exception | None], None]) -> None:
    """Run ``work(*args)`` for each of ``calls`` in ``workers`` spawned processes; ``take(args, result,
    error)`` hears of each as it ends (``error``: why the worker process died, then ``result`` is None)."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(work, *args): args for args in calls}
        for future in as_completed(futures):
            try:
                result, error = future.result(), None
            except Exception as e:  # the worker process died (out of memory, a crash in a library)
                result, error = None, e
            take(futures[future], result, error)


def caption_clips(jobs: list[tuple[str, str]], run: EngineRun, finish: Callable[[dict], None]) -> None:
    """Caption each clip on the batch's engine; each record goes to ``finish`` as it comes."""
    settings, cache, workers = run.settings, run.cache, run.workers
    if run.engine == "ray":
        llm = settings.llm_concurrency if model_is_a_server(settings) else None  # the caption stage's actors
        for record in run_on_ray(jobs, settings, cache, workers=workers, address=run.ray_address, llm_concurrency=llm):
            finish(record)
    elif overlaps_model_calls(settings, run.engine):
        gates = _gates(settings, workers)
        for item in threaded(jobs, _clip_in_thread(gates, settings, cache), in_flight(settings, workers)):
            if isinstance(item, tuple):
                _, (clip, digest), e = item
                item = failed_record(clip, digest, f"{type(e).__name__}: {e}")
            finish(item)
    elif workers <= 1:
        for clip, digest in jobs:
            finish(caption_one(clip, digest, settings, cache))
    else:
        def take(args: tuple, record: dict | None, error: Exception | None) -> None:
            clip, digest = args[:2]
            if error is not None:
                record = failed_record(clip, digest, f"worker died: {type(error).__name__}: {error}")
            finish(record)

        in_processes(caption_one, [(clip, digest, settings, cache) for clip, digest in jobs], workers, take)


def caption_shot_jobs(jobs: list[tuple[str, str, list]], run: EngineRun, opts: ShotOptions, finish: Callable[[dict], None],
                       on_note: Callable[[str], None] | None) -> None:
    """Caption the shots of each clip on the batch's engine; each shot's record goes to ``finish`` (on
    disk) as soon as it is captioned, the clips' notes to ``on_note``."""
    settings, cache, workers = run.settings, run.cache, run.workers
    if run.engine == "ray":
        for records, notes in run_shots_on_ray(jobs, settings, cache, opts, workers=workers,
                                               address=run.ray_address):
            _finish_all(records, notes, finish, on_note)
    elif overlaps_model_calls(settings, run.engine):
        _shots_in_threads(jobs, run, opts, finish, on_note)
    elif workers <= 1:
        for clip, digest, parts in jobs:
            for record in caption_shots(clip, digest, settings, cache, opts, parts, on_note):
                finish(record)
    else:
        def take(args: tuple, result: tuple | None, error: Exception | None) -> None:
            clip, digest = args[:2]
            if error is not None:
                result = [failed_record(clip, digest, f"worker died: {type(error).__name__}: {error}")], []
            _finish_all(*result, finish, on_note)

        in_processes(shots_in_worker, [(clip, digest, settings, cache, opts, parts)
                                       for clip, digest, parts in jobs], workers, take)


def _shots_in_threads(jobs: list[tuple[str, str, list]], run: EngineRun, opts: ShotOptions, finish: Callable[[dict], None],
                      on_note: Callable[[str], None] | None) -> None:
    """The shot jobs in threads, so that their model requests overlap (see :func:`threaded`)."""
    gates = _gates(run.settings, run.workers)

    def work(job, put) -> None:
        clip, digest, parts = job
        with gates.vision():
            for record in caption_shots(clip, digest, run.settings, run.cache, opts, parts,
                                        lambda note: put(("note", note)), gates):
                put(record)

    for item in threaded(jobs, work, in_flight(run.settings, run.workers)):
        if isinstance(item, tuple) and item[0] == "note":
            on_note and on_note(item[1])
        elif isinstance(item, tuple):
            _, (clip, digest, _parts), e = item
            finish(failed_record(clip, digest, f"{type(e).__name__}: {e}"))
        else:
            finish(item)


def _finish_all(records: list[dict], notes: list[str], finish: Callable[[dict], None],
                on_note: Callable[[str], None] | None) -> None:
    """A clip's notes, then its records."""
    for note in notes:
        on_note and on_note(note)
    for record in records:
        finish(record)


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


def _clip_in_thread(gates, settings: Settings, cache: str | None):
    def work(job, put) -> None:
        clip, digest = job
        with gates.vision():
            record = caption_one(clip, digest, settings, cache, gates)
            waited = gates.vision_wait()
        if isinstance(record.get("timings"), dict):
            record["timings"]["vision_wait_s"] = round(waited, 3)
        put(record)
    return work
