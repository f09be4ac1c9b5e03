"""The work of one clip, as a batch worker does it: in this process, a pool's worker process or a Ray
task. Everything here takes settings objects, shot options and paths and returns record dicts (pickled only
where they cross into another process), so the local pool (:mod:`agent.run.batch`) and the Ray engine
(:mod:`agent.run.ray_engine`) call the same functions.

* :func:`caption_one`: one clip into one record; never raises.
* :func:`caption_shots` / :func:`shots_in_worker`: each shot of a clip into its own record.
* :func:`cache_for`: the process's tool cache connection; :func:`init_worker`: a process's thread count.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from agent.core.config import Settings
from agent.core.errors import AgentError, InputError, StorageError, storage_error
from agent.core.evidence import VideoMetadata, evidence_of
from agent.core.registry import ToolRegistry
from agent.run.media import content_hash, find_shots, write_shots
from agent.run.plugins import load_plugins


# -- one clip --------------------------------------------------------------------------------------
WORKER_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


def cache_for(path: str | None):
    """This process's connection to the tool cache at ``path`` (None: no cache), opened once."""
    if not path:
        return None
    with _CACHE_LOCK:  # clip threads share one cache connection (it locks its own use)
        if path not in WORKER_CACHE:
            from agent.run.cache import ToolCache

            WORKER_CACHE[path] = ToolCache(Path(path))
        return WORKER_CACHE[path]


STORAGE_FAILURE = "storage-failure"  # a worker's answer that stops the batch; never written as a record


def failed_record(path: str, digest: str, error: str, started: float | None = None) -> dict[str, Any]:
    """The record of a clip that got no caption (with its time spent, when it was tried)."""
    record = {"path": path, "content_hash": digest, "status": "failed", "caption": None, "error": error}
    if started is not None:
        record["timings"] = {"total_s": round(time.perf_counter() - started, 3)}
    return record


def caption_one(clip: str, digest: str, settings: Settings, cache_path: str | None, gates=None) -> dict[str, Any]:
    """Caption one clip into a batch record; never raises. ``gates``: the batch's shared slots
    (:mod:`agent.run.throttle`), for clips run in threads."""
    from agent.run.run_folders import tidy_run_folder
    from agent.run.runner import caption_video

    started = time.perf_counter()
    try:
        rec = caption_video(clip, settings, cache=cache_for(cache_path), gates=gates)
    except StorageError as e:  # not this clip's fault: the batch stops, nothing is recorded for it
        return {"path": clip, "content_hash": digest, "status": STORAGE_FAILURE, "error": e.message}
    except AgentError as e:
        return failed_record(clip, digest, e.message, started)
    except Exception as e:  # a bug: the batch goes on, the record says what broke
        return failed_record(clip, digest, f"{type(e).__name__}: {e}", started)
    return tidy_run_folder(run_record(clip, digest, rec), settings)  # keep_runs: all, not-ok or none


def run_record(clip: str, digest: str, rec) -> dict[str, Any]:
    """The batch record of a finished run."""
    found = evidence_of(rec.evidence, VideoMetadata)  # a montage is worth filtering or splitting at its cuts
    meta = found.model_dump() if found else {}
    return {"path": clip, "content_hash": digest, "status": rec.status, "caption": rec.caption,
            "error": rec.llm_error or rec.fallback_reason, "model_error": rec.llm_error, "shots": meta.get("shots"), "cuts_s": meta.get("cuts_s"),
            "problems": rec.problems, "backend": rec.backend, "backend_fallback_reason": rec.backend_fallback_reason,
            "timings": rec.timings, "usage": vars(rec.usage), "cache_hits": rec.cache_hits, "run_dir": rec.run_dir,
            # the formatted output only when it is not the caption itself (a text or another JSON format)
            "format": rec.output_format, "output": rec.formatted}


# -- one clip, shot by shot -----------------------------------------------------------------------
@dataclass
class ShotOptions:
    """How ``--split-shots`` cuts a clip into samples."""

    min_shot_s: float = 0.0
    max_shot_s: float | None = None
    write_dir: Path | None = None  # keep each shot's clip here (else a scratch folder, removed after)
    cut: str = "auto"  # auto | copy | encode (see agent.run.media.write_shots)

    def check(self) -> "ShotOptions":
        from agent.run.media import CUT_MODES

        if self.min_shot_s < 0:
            raise InputError("--min-shot must be 0 or more seconds")
        if self.max_shot_s is not None and self.max_shot_s <= 0:
            raise InputError("--max-shot must be more than 0 seconds")
        if self.max_shot_s is not None and self.max_shot_s < self.min_shot_s:
            raise InputError(f"--max-shot ({self.max_shot_s:g} s) is shorter than --min-shot ({self.min_shot_s:g} s)")
        if self.cut not in CUT_MODES:
            raise InputError(f"--cut {self.cut}: use one of {', '.join(CUT_MODES)}")
        if self.write_dir is not None:
            try:
                self.write_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise storage_error(e, "the shot clips (--write-shots)") from None
        return self



@dataclass
class Piece:
    """One sample cut from a clip: a shot, or a part of a shot longer than ``max_shot_s``."""

    shot: int  # 1-based, as the parent's shots are numbered
    part: int | None  # 1-based when the shot was split, else None
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float

    def name(self, stem: str) -> str:
        return f"{stem}-shot{self.shot:03d}" + (f"-part{self.part}" if self.part else "") + ".mp4"


def plan_pieces(shots, opts: ShotOptions) -> list[Piece]:
    """The samples of a clip: its shots no shorter than ``min_shot_s``, each longer than
    ``max_shot_s`` split into equal parts (at frames) no longer than it."""
    out: list[Piece] = []
    for k, (s, e) in enumerate(shots.spans):
        t0, t1 = shots.time_of(s), shots.time_of(e)
        length = t1 - t0
        if length + 1e-6 < opts.min_shot_s:
            continue
        parts = 1 if not opts.max_shot_s or length <= opts.max_shot_s + 1e-6 else int(-(-length // opts.max_shot_s))
        bounds = [s + round(i * (e - s) / parts) for i in range(parts + 1)]
        for i in range(parts):
            a, b = bounds[i], bounds[i + 1]
            out.append(Piece(k + 1, i + 1 if parts > 1 else None, a, b, shots.time_of(a), shots.time_of(b)))
    return out


def caption_shots(clip: str, digest: str, settings: Settings, cache_path: str | None, opts: ShotOptions,
                  done: Iterable[tuple] = (), on_note: Callable[[str], None] | None = None, gates=None):
    """Caption each shot of one clip as its own sample: yields one record per shot not in ``done``
    (``(shot, part)`` pairs), as each is finished; never raises. A clip none of whose shots is long
    enough yields nothing and says so through ``on_note``."""
    started = time.perf_counter()
    done = {tuple(d) for d in done}  # (shot, part) pairs; a list of lists when they came through JSON (Ray)
    try:
        _, shots = find_shots(clip, ToolRegistry.of(load_plugins().tools(settings)).feed("shots"))
    except AgentError as e:
        yield failed_record(clip, digest, e.message, started)
        return
    except Exception as e:  # a bug: the batch goes on, the record says what broke
        yield failed_record(clip, digest, f"{type(e).__name__}: {e}", started)
        return
    pieces = plan_pieces(shots, opts)
    if not pieces:
        if on_note:
            n = shots.count
            on_note(f"{clip}: {'its shot is' if n == 1 else f'all {n} shots are'} shorter than --min-shot "
                    f"({opts.min_shot_s:g} s); no records")
        return
    todo = [p for p in pieces if (p.shot, p.part) not in done]
    if not todo:
        return
    stem = Path(clip).stem
    with shot_folder(opts.write_dir, stem, digest) as (folder, kept):
        try:
            cuts = write_shots(clip, [(p.start_frame, p.end_frame) for p in todo],
                               [folder / p.name(stem) for p in todo], opts.cut, frames=shots.frames)
        except OSError as e:
            yield {"path": clip, "content_hash": digest, "status": STORAGE_FAILURE,
                   "error": storage_error(e, "the shot clips").message}
            return
        except AgentError as e:
            yield failed_record(clip, digest, e.message, started)
            return
        infos = [_piece_info(piece, cut, shots.count, len(pieces)) for piece, cut in zip(todo, cuts)]
        yield from _caption_cuts(clip, digest, cuts, infos, kept, settings, cache_path, gates)


@contextmanager
def shot_folder(write_dir: Path | None, stem: str, digest: str) -> Iterator[tuple[Path, bool]]:
    """The folder a clip's shots are written to, and whether it is kept: under ``write_dir``, else a
    scratch folder, removed after."""
    if write_dir is not None:
        yield write_dir / f"{stem}-{digest[:8]}", True
        return
    scratch = tempfile.mkdtemp(prefix="instance-agent-shots-")
    try:
        yield Path(scratch), False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _piece_info(piece: Piece, cut, parent_shots: int, pieces: int) -> dict[str, Any]:
    """What a shot's record says of the piece it is and of how it was cut from its clip."""
    info = {"shot": piece.shot, "part": piece.part, "start_s": piece.start_s, "end_s": piece.end_s,
            "start_frame": piece.start_frame, "end_frame": piece.end_frame, "parent_shots": parent_shots,
            "pieces": pieces, "cut": cut.mode}
    if cut.note:
        info["cut_note"] = cut.note
    return info


def _caption_cuts(clip: str, digest: str, cuts: list, infos: list[dict[str, Any]], kept: bool, settings: Settings,
                  cache_path: str | None, gates):
    """Caption each shot clip cut from ``clip``: yields its record (with its piece's ``infos``), the
    shot clip's path when it is ``kept``; a storage failure is yielded and ends them."""
    for cut, info in zip(cuts, infos):
        if cut.error:
            yield {**failed_record(clip, digest, cut.error), **info, "shot_path": None}
            continue
        shot_path = str(cut.path)
        rec = caption_one(shot_path, content_hash(cut.path), settings, cache_path, gates)
        if rec.get("status") == STORAGE_FAILURE:
            yield rec
            return
        rec["shot_hash"] = rec.pop("content_hash")
        rec.pop("path")
        yield {"path": clip, "content_hash": digest, **info, "shot_path": shot_path if kept else None, **rec}


def shots_in_worker(clip: str, digest: str, settings: Settings, cache_path: str | None, opts: ShotOptions,
                    done: list) -> tuple[list[dict], list[str]]:
    """:func:`caption_shots` as one call that returns (a process pool or a Ray task): (records, notes)."""
    notes: list[str] = []
    records = list(caption_shots(clip, digest, settings, cache_path, opts, done, notes.append))
    return records, notes


def init_worker(threads: int) -> None:
    """A worker process's start: its native libraries use ``threads`` threads."""
    import cv2

    cv2.setNumThreads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
