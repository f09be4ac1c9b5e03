"""Captioning datasets: many clips, one JSONL of records, resumable, in parallel.

* Inputs: a folder (searched recursively for videos), a glob, a single clip, or a manifest
  (``.jsonl`` with a ``path`` field per line, or ``.csv`` with a ``path`` column; relative paths
  are read against the manifest's folder).
* Output: one JSON line per clip (path, content hash, status ok/degraded/failed, caption, error,
  backend, timings, LLM usage, cache hits, run folder). A line is written with a single
  ``write`` on an append-only file and flushed to disk before the next clip is counted done; a
  torn last line (the machine died mid-write) is cut off when the file is opened again.
* Resume: clips already recorded (same path and content hash) are skipped; ``retry_failed``
  drops the failed records first and runs those clips again.
* Engines: ``local`` runs clips in N worker processes (1: in this process); ``ray`` runs the same
  work as Ray Data stages (:mod:`agent.ray_engine`).
"""

from __future__ import annotations

import csv
import glob
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import Settings
from .errors import AgentError, InputError, StorageError, storage_error
from .jsonl import json_lines
from .media import content_hash

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".gif"}


# -- inputs ------------------------------------------------------------------------------------
def _manifest(path: Path) -> list[Path]:
    base = path.parent
    out: list[Path] = []
    if path.suffix == ".jsonl":
        for n, row in json_lines(path):
            value = row.get("path") or row.get("video") if isinstance(row, dict) else row
            if not isinstance(value, str):
                raise InputError(f"{path}:{n}: needs a \"path\" field")
            out.append(base / value)
    else:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            column = next((c for c in (reader.fieldnames or []) if c.lower() in ("path", "video", "file")), None)
            if column is None:
                raise InputError(f"{path}: a CSV manifest needs a 'path' column")
            out = [base / row[column] for row in reader if row.get(column)]
    return out


def expand_inputs(spec: str) -> list[Path]:
    """The clips named by a folder, a glob, a clip or a manifest, in a stable order."""
    path = Path(spec).expanduser()
    if path.is_dir():
        clips = sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    elif path.is_file() and path.suffix.lower() in (".jsonl", ".csv"):
        clips = _manifest(path)
    elif path.is_file():
        clips = [path]
    else:
        clips = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True)
                       if Path(p).suffix.lower() in VIDEO_SUFFIXES)
        if not clips and not any(ch in spec for ch in "*?["):
            raise InputError(f"{spec}: no such file or folder")
    if not clips:
        raise InputError(f"{spec}: holds no video clips")
    return clips


# -- the record file -----------------------------------------------------------------------------
class RecordFile:
    """An append-only JSONL of batch records that survives being killed at any point."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock_fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
            self.repaired = self._cut_torn_tail()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            self._unlock()
            raise storage_error(e, "the batch records (--out)") from None

    def _lock(self) -> None:
        """One batch per records file: a second one is refused instead of recording every clip twice."""
        import fcntl

        lock = self.path.with_name(self.path.name + ".lock")
        self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._unlock()
            raise InputError(f"{self.path}: another batch is writing these records (it holds {lock}); "
                             "wait for it to finish, or give another --out") from None

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    def _cut_torn_tail(self) -> bool:
        if not self.path.exists():
            return False
        data = self.path.read_bytes()
        good = len(data)
        if data and not data.endswith(b"\n"):
            good = data.rfind(b"\n") + 1
        else:
            lines = data.splitlines(keepends=True)
            if lines:
                try:
                    json.loads(lines[-1])
                except ValueError:
                    good = len(data) - len(lines[-1])
        if good == len(data):
            return False
        with self.path.open("r+b") as f:
            f.truncate(good)
        return True

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def drop_failed(self) -> int:
        """Rewrite the file without its failed records (atomically: write aside, then rename)."""
        records = self.records()
        kept = [r for r in records if r.get("status") != "failed"]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        try:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise storage_error(e, "the batch records (--out)") from None
        os.close(self._fd)
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return len(records) - len(kept)

    def append(self, record: dict[str, Any]) -> None:
        """One line, on disk before it counts; a write the disk cannot take is undone, so the file stays valid."""
        from .secrets import redact

        data = (json.dumps(redact(record), ensure_ascii=False, default=str) + "\n").encode("utf-8")
        size = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(28, "No space left on device", str(self.path))
            os.fsync(self._fd)
        except OSError as e:
            try:
                os.truncate(self.path, size)
            except OSError:
                pass  # the torn line is cut off when the file is next opened
            raise storage_error(e if e.filename else OSError(e.errno, e.strerror, str(self.path)),
                                "the batch records (--out)") from None

    def close(self) -> None:
        os.close(self._fd)
        self._unlock()


def key(record: dict[str, Any]) -> tuple[str, str]:
    return record.get("path", ""), record.get("content_hash") or ""


# -- one clip --------------------------------------------------------------------------------------
_WORKER_CACHE: dict[str, Any] = {}


def _cache_for(path: str | None):
    if not path:
        return None
    if path not in _WORKER_CACHE:
        from .cache import ToolCache

        _WORKER_CACHE[path] = ToolCache(Path(path))
    return _WORKER_CACHE[path]


STORAGE_FAILURE = "storage-failure"  # a worker's answer that stops the batch; never written as a record


def failed_record(path: str, digest: str, error: str, started: float | None = None) -> dict[str, Any]:
    """The record of a clip that got no caption (with its time spent, when it was tried)."""
    record = {"path": path, "content_hash": digest, "status": "failed", "caption": None, "error": error}
    if started is not None:
        record["timings"] = {"total_s": round(time.perf_counter() - started, 3)}
    return record


def caption_one(clip: str, digest: str, settings_json: str, cache_path: str | None) -> dict[str, Any]:
    """Caption one clip into a batch record; never raises."""
    from .runner import caption_video

    started = time.perf_counter()
    try:
        settings = Settings.model_validate_json(settings_json)
        rec = caption_video(clip, settings, cache=_cache_for(cache_path))
    except StorageError as e:  # not this clip's fault: the batch stops, nothing is recorded for it
        return {"path": clip, "content_hash": digest, "status": STORAGE_FAILURE, "error": e.message}
    except AgentError as e:
        return failed_record(clip, digest, e.message, started)
    except Exception as e:  # a bug: the batch goes on, the record says what broke
        return failed_record(clip, digest, f"{type(e).__name__}: {e}", started)
    meta = rec.evidence.get("read_metadata") or {}  # a montage is worth filtering or splitting at its cuts
    return {"path": clip, "content_hash": digest, "status": rec.status, "caption": rec.caption,
            "error": rec.llm_error or rec.fallback_reason, "shots": meta.get("shots"), "cuts_s": meta.get("cuts_s"),
            "problems": rec.problems, "backend": rec.backend, "backend_fallback_reason": rec.backend_fallback_reason,
            "timings": rec.timings, "usage": vars(rec.usage), "cache_hits": rec.cache_hits, "run_dir": rec.run_dir}


def _init_worker(threads: int) -> None:
    import cv2

    cv2.setNumThreads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


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

    @property
    def ran(self) -> int:
        return sum(self.done.values())


def run_batch(inputs: Iterable[Path], out: Path, settings: Settings, *, workers: int = 1,
              retry_failed: bool = False, cache_path: Path | None = None, engine: str = "local",
              ray_address: str | None = None, on_record: Callable[[dict, int, int], None] | None = None
              ) -> BatchSummary:
    """Caption every clip not yet recorded in ``out``; ``on_record(record, done, total)`` follows along."""
    started = time.perf_counter()
    store = RecordFile(out)
    dropped = store.drop_failed() if retry_failed else 0
    done_keys = {key(r) for r in store.records()}
    clips = list(inputs)
    jobs: list[tuple[str, str]] = []
    unreadable: list[dict] = []
    for clip in clips:
        try:
            digest = content_hash(clip)
        except OSError as e:
            record = failed_record(str(clip), "", f"{clip}: {e.strerror or e}")
            if key(record) not in done_keys:
                unreadable.append(record)
            continue
        if (str(clip), digest) not in done_keys:
            jobs.append((str(clip), digest))
    total = len(jobs) + len(unreadable)
    counts: dict[str, int] = {}

    def finish(record: dict) -> None:
        if record.get("status") == STORAGE_FAILURE:
            raise StorageError(f"{record['error']}; the batch stopped, the records in {out} are valid and a "
                               "re-run resumes after what they hold")
        store.append(record)  # on disk before the clip counts as done
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        if on_record:
            on_record(record, sum(counts.values()), total)

    settings_json = settings.model_dump_json()
    cache = str(cache_path) if cache_path else None
    try:
        for record in unreadable:
            finish(record)
        if engine == "ray":
            from .ray_engine import run_on_ray

            for record in run_on_ray(jobs, settings, cache, workers=workers, address=ray_address):
                finish(record)
        elif workers <= 1:
            for clip, digest in jobs:
                finish(caption_one(clip, digest, settings_json, cache))
        else:
            import multiprocessing

            threads = max(1, (os.cpu_count() or 1) // workers)
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init_worker, initargs=(threads,)) as pool:
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
                        in_file=in_file)


# -- export ------------------------------------------------------------------------------------------
def export_captions(records_path: Path, out: Path, include_degraded: bool = True) -> int:
    """InstanceVid-style JSON: a list of captions, the latest record per clip, failures left out."""
    store_path = Path(records_path)
    if not store_path.is_file():
        raise InputError(f"{store_path}: no such records file")
    latest: dict[tuple[str, str], dict] = {}
    for _, rec in json_lines(store_path):
        latest[key(rec)] = rec
    keep = ("ok", "degraded") if include_degraded else ("ok",)
    captions = [r["caption"] for r in latest.values() if r.get("status") in keep and r.get("caption")]
    tmp = out.with_suffix(out.suffix + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(captions, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise storage_error(e, "the export (--out)") from None
    return len(captions)
