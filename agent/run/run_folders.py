"""Run folders: each run's folder name (:func:`run_folder`), emptied before a run that does not resume
(:func:`clear_folder`), and which of them a batch keeps (``keep_runs``, :func:`tidy_run_folder`), for
batches too large to keep one per clip.

A run folder holds the clip's record with its evidence, its trace, the sampled frames and the
instance views (about 150 to 240 KB a clip). ``all`` keeps every one; ``not-ok`` keeps only
those of degraded or failed captions (the ones worth a look); ``none`` keeps none. A folder is
removed only after the clip's record is made, only when it is the run's own folder under
``runs_dir`` holding that run's ``record.json``; the record then says ``run_dir: null``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from agent.core.config import Settings, output_key


def tidy_run_folder(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The batch record, after its run folder was removed if ``settings.keep_runs`` says so."""
    keep = getattr(settings, "keep_runs", "all")
    run_dir = record.get("run_dir")
    if keep == "all" or not run_dir or (keep == "not-ok" and record.get("status") != "ok"):
        return record
    folder = Path(run_dir)
    try:
        ours = folder.parent.resolve() == Path(settings.runs_dir).expanduser().resolve()
    except OSError:
        return record
    if ours and (folder / "record.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            record["run_dir"] = None
    return record


def run_folder(stem: str, digest: str, settings: Settings) -> str:
    """A run's folder: the clip's name, its content hash and the key of the settings that change the output."""
    return f"{folder_name(stem)}-{digest[:8]}-{output_key(settings)}"


def clear_folder(folder: Path) -> None:
    """Empty a run folder of an earlier run's files (the folder itself stays)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def folder_name(stem: str) -> str:
    """A clip's name as a folder name: no control characters, separators or leading dots."""
    clean = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", stem).strip(". ") or "clip"
    return clean[:80]
