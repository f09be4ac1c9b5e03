"""JSON Lines: reading the files a user hands us (manifests, traces, batch records to export), and
writing events as JSON lines (:class:`JsonlSink`).

Blank lines are skipped; a line that is not JSON is one clear error naming the file and the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, Iterator

from agent.core.errors import InputError


def read_text(path: Path, what: str = "file") -> str:
    """A user's UTF-8 text file; one :class:`InputError` line when it is unreadable or not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: {what} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise InputError(f"{path}: {what} cannot be read ({e.strerror or e})") from None


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; :class:`InputError` at the first bad one."""
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not a JSON line ({e.msg})") from None


class JsonlSink:
    """Events as JSON lines on a stream or in a file."""

    def __init__(self, target: IO[str] | Path, append: bool = False):
        self._own = isinstance(target, Path)
        if isinstance(target, Path):
            target.parent.mkdir(parents=True, exist_ok=True)
        self.stream = target.open("a" if append else "w", encoding="utf-8") if isinstance(target, Path) else target

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            self.stream.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")  # emit() masked the keys
            self.stream.flush()
        except OSError as e:  # a full disk, /dev/full: the error names the file
            if e.filename:
                raise
            raise OSError(e.errno, e.strerror or str(e), getattr(self.stream, "name", "a JSON-lines stream")) from None

    def close(self) -> None:
        if self._own:
            try:
                self.stream.close()
            except OSError:  # every line was flushed as written: a failure here was already raised there
                pass
