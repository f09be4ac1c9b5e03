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


def refuse_a_foreign_folder(out: Path, is_ours: Callable[[Path], tuple[bool, list[str]]], what: str) -> None:
    """An output folder that is not empty must be ``what`` of ours (``is_ours``: whether it is, and the
    files in it that ours did not write), holding nothing else; otherwise one line (``InputError``),
    before anything is written: nothing the user owns is replaced."""
    from agent.core.errors import InputError

    if out.is_dir() and any(out.iterdir()):
        ours, foreign = is_ours(out)
        if not ours:
            raise InputError(f"{out}: a folder that is not empty and not {what} of ours; give a new folder "
                             "with -o (nothing was written)")
        if foreign:
            raise InputError(f"{out}: holds files {what} did not write ({', '.join(foreign[:3])}); give another "
                             "-o (nothing was written)")
