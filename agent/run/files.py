"""Files written aside, then renamed into place: a reader never sees half a file, and a full disk
never leaves one (the run record, the JSON and parquet exports)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable


def write_atomic(path: Path, text: str) -> None:
    """Write aside, then rename: a reader never sees half a file, a full disk never leaves one."""
    write_aside(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_aside(path: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a file next to ``path``, then rename it to ``path``; a failed write leaves nothing."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
