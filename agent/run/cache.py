"""A cache of tool results, so that changing the LLM or the prompt re-runs no vision work.

One SQLite file holds, per (clip content hash, tool, arguments, the settings the tool and the tools
it requires declare they read, their versions and the package's): the observation the model saw,
the evidence, the images the tool wrote (as bytes, put back into the new run's folder on a hit) and
the in-memory artifacts it declares it produces (camera transforms, masks), pickled and compressed.
Settings no tool reads (which language model, its endpoint, limits, where runs go) are in no key.

SQLite in WAL mode with one short transaction per write, so parallel workers can share it.

The cache is an optimisation: a file that is corrupt, locked, unreadable or on a full disk gets
one warning naming it, and the run goes on without the cache (a miss, and nothing stored).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import sqlite3
import threading
import time
import zlib
from pathlib import Path
from typing import Any

log = logging.getLogger("agent.run.cache")

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    clip TEXT NOT NULL,
    tool TEXT NOT NULL,
    version TEXT NOT NULL,
    params TEXT NOT NULL,
    summary TEXT NOT NULL,
    evidence TEXT,
    ok INTEGER NOT NULL,
    images BLOB,
    artifacts BLOB,
    created REAL NOT NULL
)
"""


def package_version() -> str:
    """Part of every key: a new release of the tools never reads an older release's results."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("instance-agent")
    except PackageNotFoundError:  # running from a source tree
        return "source"


def cache_key(clip_hash: str, tool: str, versions: dict[str, str], args: dict[str, Any],
              settings: dict[str, Any]) -> tuple[str, str]:
    """The key of one tool result: ``versions`` of the tool and the tools it requires, and ``settings``:
    the values of exactly the settings they declare they read (:meth:`ToolRegistry.key_settings`)."""
    params = json.dumps({"args": args, "settings": settings, "versions": versions, "package": package_version()},
                        sort_keys=True, default=str)
    key = hashlib.sha256(f"{clip_hash}\0{tool}\0{params}".encode()).hexdigest()
    return key, params


class ToolCache:
    def __init__(self, path: Path):
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = self.misses = 0
        self.broken: str | None = None  # why the cache is off, once it is
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except (sqlite3.Error, OSError) as e:
            self._give_up(e)

    def _give_up(self, error: Exception) -> None:
        if self.broken is None:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            self.broken = reason
            log.warning("tool cache %s cannot be used (%s); going on without it", self.path, reason)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with self._lock:
                if self._db is None:
                    self.misses += 1
                    return None
                row = self._db.execute("SELECT summary, evidence, ok, images, artifacts FROM results WHERE key = ?",
                                       (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            summary, evidence, ok, images, artifacts = row
            hit = {"summary": json.loads(summary), "evidence": json.loads(evidence) if evidence else None,
                   "ok": bool(ok), "images": pickle.loads(zlib.decompress(images)) if images else [],
                   "artifacts": pickle.loads(zlib.decompress(artifacts)) if artifacts else {}}
        except (sqlite3.Error, ValueError, TypeError, zlib.error, pickle.UnpicklingError, EOFError,
                AttributeError, ImportError) as e:  # a damaged file or row: measure again
            with self._lock:
                self._give_up(e)
            self.misses += 1
            return None
        self.hits += 1
        return hit

    def put(self, key: str, clip: str, tool: str, version: str, params: str, summary: Any,
            evidence: dict | None, ok: bool, images: list[Path], artifacts: dict[str, Any]) -> None:
        if self._db is None:
            return
        try:
            files = [(p.name, p.parent.name, p.read_bytes()) for p in images if p.is_file()]
            blob_images = zlib.compress(pickle.dumps(files), 1) if files else None
            blob_artifacts = zlib.compress(pickle.dumps(artifacts, protocol=pickle.HIGHEST_PROTOCOL), 1) \
                if artifacts else None
            with self._lock:
                if self._db is None:
                    return
                self._db.execute(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, clip, tool, version, params, json.dumps(summary, ensure_ascii=False),
                     json.dumps(evidence, ensure_ascii=False) if evidence is not None else None, int(ok),
                     blob_images, blob_artifacts, time.time()))
        except (sqlite3.Error, OSError, pickle.PicklingError) as e:
            with self._lock:
                self._give_up(e)

    def stats(self) -> dict[str, int]:
        with self._lock:
            try:
                rows = self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0] if self._db else 0
            except sqlite3.Error:
                rows = 0
        return {"entries": rows, "hits": self.hits, "misses": self.misses}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
