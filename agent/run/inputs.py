"""What a batch reads and what it must never write over.

* Inputs: a folder (searched recursively for videos: each regular file once, however it is linked;
  FIFOs, devices and broken or looping links are passed over and counted), a glob, a single clip, or
  a manifest (``.jsonl`` with a ``path`` field per line, or ``.csv`` with a ``path`` column; relative
  paths are read against the manifest's folder). Two manifest rows naming one clip are refused.
* An output that is one of the inputs (a clip, the manifest, the config file) is refused before any work.
* The settings a batch's records were made with, so that a resume with other settings says so.
"""

from __future__ import annotations

import csv
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from agent.core.config import Settings
from agent.core.errors import InputError
from agent.core.jsonl import json_lines
from agent.run.media import not_regular
from agent.run.records_file import clip_identity, key

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".gif"}


# -- inputs ------------------------------------------------------------------------------------
@dataclass
class Inputs:
    """What a batch's input names: its clips in a stable order, each clip's manifest row (keyed by the
    clip's identity, :func:`clip_identity`), and the entries passed over (not regular files)."""

    clips: list[Path]
    columns: dict[str, dict[str, Any]]
    passed_over: list[str]
    manifest: Path | None = None


def _manifest(path: Path) -> list[tuple[Path, dict[str, Any], int]]:
    """The clips of a manifest, each with its row (every column, the path column included) and line."""
    base = path.parent
    out: list[tuple[Path, dict[str, Any], int]] = []
    if path.suffix == ".jsonl":
        for n, row in json_lines(path):
            value = (row.get("path") or row.get("video")) if isinstance(row, dict) else row
            if not isinstance(value, str):
                raise InputError(f"{path}:{n}: needs a \"path\" field")
            out.append((base / value, dict(row) if isinstance(row, dict) else {"path": value}, n))
    else:
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                column = next((c for c in (reader.fieldnames or []) if c.lower() in ("path", "video", "file")), None)
                if column is None:
                    raise InputError(f"{path}: a CSV manifest needs a 'path' column")
                out = [(base / row[column], dict(row), reader.line_num) for row in reader if row.get(column)]
        except UnicodeDecodeError as e:
            raise InputError(f"{path}: file is not UTF-8 text (byte {e.start})") from None
    _refuse_duplicates(path, out)
    return out


def _refuse_duplicates(path: Path, rows: list[tuple[Path, dict[str, Any], int]]) -> None:
    """Two rows naming one clip (the same file, however spelled) would be one sample with one row's
    columns: refused in one line, naming both."""
    first: dict[str, tuple[int, Path]] = {}
    for clip, _, line in rows:
        ident = clip_identity(clip)
        if ident in first:
            earlier, spelled = first[ident]
            raise InputError(f"{path}: lines {earlier} and {line} both name {spelled}; give each clip once "
                             "(a clip is one sample; copy the file to caption it twice)")
        first[ident] = (line, clip)


def _video_entries(folder: Path) -> tuple[list[Path], list[str]]:
    """The regular video files under ``folder`` (each once, however linked), and the video-named
    entries passed over: FIFOs, devices, broken or looping links."""
    clips, passed, seen = [], [], set()
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        why = not_regular(p)
        if why:
            if not p.is_dir():
                passed.append(f"{p} ({why})")
            continue
        ident = clip_identity(p)
        if ident not in seen:
            seen.add(ident)
            clips.append(p)
    return clips, passed


def scan_inputs(spec: str) -> Inputs:
    """The clips named by a folder, a glob, a clip or a manifest (see :class:`Inputs`)."""
    path = Path(spec).expanduser()
    columns: dict[str, dict[str, Any]] = {}
    passed: list[str] = []
    manifest = None
    if path.is_dir():
        clips, passed = _video_entries(path)
    elif path.is_file() and path.suffix.lower() in (".jsonl", ".csv"):
        rows = _manifest(path)
        clips = [clip for clip, _, _ in rows]
        columns = {clip_identity(clip): row for clip, row, _ in rows}
        manifest = path
    elif path.is_file() or (path.exists() and not path.is_dir()):
        clips = [path]  # a FIFO or a device is one failed record, said in one line
    else:
        clips = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True)
                       if Path(p).suffix.lower() in VIDEO_SUFFIXES)
        if not clips and not any(ch in spec for ch in "*?["):
            raise InputError(f"{spec}: no such file or folder")
    if not clips:
        raise InputError(f"{spec}: holds no video clips" + (f" ({len(passed)} entries that are not regular files "
                                                            "passed over)" if passed else ""))
    return Inputs(clips, columns, passed, manifest)


def read_inputs(spec: str) -> tuple[list[Path], dict[str, dict[str, Any]]]:
    """The clips named by a folder, a glob, a clip or a manifest, in a stable order, and for a
    manifest each clip's row (keyed by the clip's identity, :func:`clip_identity`)."""
    found = scan_inputs(spec)
    return found.clips, found.columns


def expand_inputs(spec: str) -> list[Path]:
    """The clips named by a folder, a glob, a clip or a manifest, in a stable order."""
    return read_inputs(spec)[0]


def refuse_output_among_inputs(out: Path, inputs: Iterable[Path], what: str = "-o") -> None:
    """An output that is one of the inputs (a clip, the manifest, the config file) is refused in one
    line before any work: writing it would destroy the input."""
    target = Path(out).expanduser()
    for item in inputs:
        if same_file(target, Path(item)):
            raise InputError(f"{what} {out}: is one of the inputs ({item}); give another file to write")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (by identity when both exist, else by their resolved paths)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return clip_identity(a) == clip_identity(b)


# -- settings the records were made with ---------------------------------------------------------
def settings_summary(settings: Settings) -> dict[str, Any]:
    """The settings that change a caption, where they differ from the defaults (kept in each record)."""
    from agent.core.config import NOT_OUTPUT, key_of

    now = settings.model_dump(mode="json", exclude=NOT_OUTPUT)
    default = Settings().model_dump(mode="json", exclude=NOT_OUTPUT)
    return {key_of(k): v for k, v in now.items() if v != default.get(k)}


def settings_differences(record: dict[str, Any], settings: Settings) -> str | None:
    """How the settings a record was made with differ from ``settings`` ("format dense (now
    instancecap)"), or None when they are the same (or the record does not say)."""
    from agent.core.config import output_key

    made = record.get("settings")
    if record.get("settings_key") == output_key(settings):
        return None
    if not isinstance(made, dict):  # an older record: only its format is known
        fmt = record.get("format")
        return f"format {fmt} (now {settings.output_format})" if fmt and fmt != settings.output_format else None
    from agent.core.config import NOT_OUTPUT, key_of

    now = settings_summary(settings)
    default = {key_of(k): v for k, v in Settings().model_dump(mode="json", exclude=NOT_OUTPUT).items()}
    changed = []
    for name in sorted(set(made) | set(now)):
        was, is_now = made.get(name, default.get(name)), now.get(name, default.get(name))
        if was != is_now:
            changed.append(f"{name} {_shown(was)} (now {_shown(is_now)})")
    # none named: the same settings under an earlier version's key (a setting that moved, such as the depth
    # model into [plugins.depth]), nothing the user changed
    return ", ".join(changed) or None


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def other_settings_note(records: list[dict[str, Any]], identities: set[str], settings: Settings) -> str | None:
    """One line when clips of this batch are already recorded with other settings, and how to re-caption."""
    differing: dict[str, str] = {}
    for r in records:
        ident = key(r)[0]
        if ident in identities and ident not in differing:
            why = settings_differences(r, settings)
            if why:
                differing[ident] = why
    if not differing:
        return None
    example = next(iter(differing.values()))
    return (f"warning: {len(differing)} clip(s) already recorded were captioned with other settings ({example}); "
            "they are kept and not captioned again: to caption them with these settings, give another -o")
