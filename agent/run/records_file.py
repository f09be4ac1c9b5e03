"""The batch's JSONL of records: recognised by its content, written so that it survives being killed.

A records file is ours when every line is a JSON object with a ``path`` and a ``status``; only then
is it appended to, and only then is a torn last line (the machine died mid-write) cut off. Any other
existing file (a manifest, a clip, notes) is refused in one line before any work, never "repaired".

A clip's identity in the records is its resolved absolute path and its content hash, so the same
folder named as ``in`` or ``/abs/path/in`` (or from another working folder) is one set of clips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent.core.errors import InputError, storage_error

RECORD_KEYS = ("path", "status")
SNIFF_BYTES = 64


def clip_identity(path: str | Path, base: Path | None = None) -> str:
    """A clip's path as the records spell it: absolute, with links and ``..`` resolved."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        return str(p.resolve())
    except (OSError, RuntimeError):  # a symlink loop: the absolute path as it is
        return os.path.abspath(p)


def key(record: dict[str, Any]) -> tuple:
    """What a record is of: the clip (resolved path and content), and the shot and part when it is of one."""
    path = record.get("path") or ""
    return (clip_identity(path) if path else ""), record.get("content_hash") or "", record.get("shot"), record.get("part")


def _is_record(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and all(k in value for k in RECORD_KEYS)


def _looks_like_a_torn_record(tail: bytes) -> bool:
    return tail.lstrip().startswith(b'{"path"')


def check_is_records_file(path: Path) -> None:
    """Refuse (one :class:`InputError` line) an existing file that is not a JSONL of our records."""
    if not path.exists():
        return
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file"
        raise InputError(f"{path}: is {what}; -o names the JSONL file of records")
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        return  # empty: a new records file
    if head.strip() and not head.lstrip().startswith(b"{"):  # a clip, a CSV, notes: no need to read it all
        raise _not_ours(path, "it does not hold JSON records")
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the file ends with one
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not _is_record(line):
            last = n == len(lines) and not tail
            if not (last and _looks_like_a_torn_record(line)):
                raise _not_ours(path, f"line {n} is not a batch record")
    if tail.strip() and not _is_record(tail) and not _looks_like_a_torn_record(tail):
        raise _not_ours(path, f"line {len(lines) + 1} is not a batch record")


def _not_ours(path: Path, why: str) -> InputError:
    return InputError(f"{path}: exists and is not a batch records file ({why}); it is left as it is: "
                      "give -o a new file or an earlier batch's records")


class RecordFile:
    """An append-only JSONL of batch records that survives being killed at any point."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._lock_path: Path | None = None
        check_is_records_file(self.path)  # before anything is created or changed
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
            self.repaired = self._cut_torn_tail()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            self._unlock()
            raise storage_error(e, "the batch records (-o)") from None

    def _lock(self) -> None:
        """One batch per records file: a second one is refused instead of recording every clip twice.

        The lock is ``RECORDS.lock`` beside the records, removed when the batch ends (nothing is left
        behind). A batch that opened the lock file just as the holder removed it holds a file no one
        else can see, so after taking the lock it checks that the name still leads to its file, and
        takes the new one when not."""
        import fcntl

        lock = self.path.with_name(self.path.name + ".lock")
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise InputError(f"{self.path}: another batch is writing these records (it holds {lock}); "
                                 "wait for it to finish, or give another -o") from None
            try:
                current = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                self._lock_fd, self._lock_path = fd, lock
                return
            os.close(fd)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            try:
                os.unlink(self._lock_path)  # while still holding it: see _lock
            except OSError:
                pass
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    def _cut_torn_tail(self) -> bool:
        """Cut a torn last line off (the file was checked to be ours first)."""
        if not self.path.exists():
            return False
        data = self.path.read_bytes()
        good = len(data)
        if data and not data.endswith(b"\n"):
            good = data.rfind(b"\n") + 1
        else:
            lines = data.splitlines(keepends=True)
            if lines and lines[-1].strip() and not _is_record(lines[-1]):
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
                except (ValueError, RecursionError):
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
            raise storage_error(e, "the batch records (-o)") from None
        os.close(self._fd)
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return len(records) - len(kept)

    def append(self, record: dict[str, Any]) -> None:
        """One line, on disk before it counts; a write the disk cannot take is undone, so the file stays valid."""
        from agent.core.secrets import redact

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
                                "the batch records (-o)") from None

    def close(self) -> None:
        os.close(self._fd)
        self._unlock()
