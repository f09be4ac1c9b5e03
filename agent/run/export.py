"""Batch records out as training-set files: JSON, parquet, a Hugging Face ``datasets`` folder, webdataset shards.

Every kind holds one sample per clip (or per shot with ``--split-shots``): the latest record of
each, failures left out (and degraded captions too with ``ok_only``). Each sample carries the
clip's path and content hash (two clips of the same name stay apart and join back to their
files), the shot and its bounds, the status, the output format and the output in it, the
InstanceCap caption, the whole record, and every column of the manifest the batch read.

* ``json``: a list of objects with those fields (``caption`` and ``output`` as JSON values).
* ``instancevid``: the bare list of captions, as InstanceVid releases them.
* ``parquet`` (pyarrow) and ``hf`` (``datasets.Dataset.save_to_disk``; ``datasets.load_from_disk``
  reads it back): one row per sample; ``caption``, ``output`` and ``record`` are JSON text,
  manifest columns keep their own types (a column whose values mix types is written as JSON text).
* ``wds`` (webdataset ``ShardWriter``): tar shards of ``shard_size`` samples; each sample has
  ``json`` (the output, in the chosen format), ``record.json`` (the record with its manifest
  row), ``caption.json`` (InstanceCap), ``txt`` for a text format, and with ``with_clips`` the
  clip itself (``mp4``; a shot's own clip, cut again if the batch did not keep it).

Files are written aside and moved into place, so an export that fails leaves no half-written output.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.core.errors import InputError, storage_error
from agent.core.jsonl import json_lines
from agent.run.files import write_aside, write_atomic

KINDS = ("json", "instancevid", "parquet", "hf", "wds")
# the columns every sample has, before the manifest's
BASE_COLUMNS = ("path", "content_hash", "shot", "part", "start_s", "end_s", "status", "format", "output",
                "caption", "error", "record")


@dataclass
class ExportResult:
    kind: str
    samples: int
    files: list[Path]
    columns: list[str]


def kind_of(out: Path) -> str:
    """The export kind an output path asks for: ``.parquet``, ``.tar`` (or a ``%`` pattern) for
    webdataset shards, ``.json``; a path without a suffix is a ``datasets`` folder."""
    name = out.name
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".tar") or "%" in name:
        return "wds"
    if name.endswith(".json"):
        return "json"
    if not out.suffix:
        return "hf"
    raise InputError(f"{out}: cannot tell the export kind from the name; give --to ({', '.join(KINDS)})")


def _key(record: dict) -> tuple:
    return record.get("path", ""), record.get("content_hash") or "", record.get("shot"), record.get("part")


def load_samples(records_path: Path, ok_only: bool = False) -> list[dict[str, Any]]:
    """The latest record of each clip or shot that has a caption, in the order first seen."""
    path = Path(records_path)
    if not path.is_file():
        raise InputError(f"{path}: no such records file")
    latest: dict[tuple, dict] = {}
    for n, rec in json_lines(path):
        if not isinstance(rec, dict) or "path" not in rec:
            raise InputError(f"{path}:{n}: not a batch record (no \"path\")")
        latest[_key(rec)] = rec
    keep = ("ok",) if ok_only else ("ok", "degraded")
    return [r for r in latest.values() if r.get("status") in keep and r.get("caption")]


def _output(rec: dict) -> Any:
    return rec["output"] if rec.get("output") is not None else rec.get("caption")


def manifest_names(samples: list[dict]) -> list[str]:
    """Manifest columns in the order first seen; one that shares a name with ours gets ``manifest_``."""
    names: list[str] = []
    for rec in samples:
        for name in (rec.get("manifest") or {}):
            if name not in names:
                names.append(name)
    return names


def column_name(name: str) -> str:
    return f"manifest_{name}" if name in BASE_COLUMNS else name


def _entry(rec: dict, names: list[str]) -> dict[str, Any]:
    row = {"path": rec.get("path"), "content_hash": rec.get("content_hash"), "shot": rec.get("shot"),
           "part": rec.get("part"), "start_s": rec.get("start_s"), "end_s": rec.get("end_s"),
           "status": rec.get("status"), "format": rec.get("format") or "instancecap", "output": _output(rec),
           "caption": rec.get("caption"), "error": rec.get("error"), "record": rec}
    manifest = rec.get("manifest") or {}
    for name in names:
        row[column_name(name)] = manifest.get(name)
    return row


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def arrow_table(samples: list[dict]):
    """One row per sample; the JSON-valued columns as text, manifest columns in their own types."""
    import pyarrow as pa

    names = manifest_names(samples)
    rows = [_entry(r, names) for r in samples]
    fixed = {"path": pa.string(), "content_hash": pa.string(), "shot": pa.int64(), "part": pa.int64(),
             "start_s": pa.float64(), "end_s": pa.float64(), "status": pa.string(), "format": pa.string(),
             "output": pa.string(), "caption": pa.string(), "error": pa.string(), "record": pa.string()}
    arrays, fields = [], []
    for name, typ in fixed.items():
        values = [row[name] for row in rows]
        if name in ("output", "caption", "record"):
            values = [_text(v) for v in values]
        arrays.append(pa.array(values, type=typ))
        fields.append(pa.field(name, typ))
    for name in names:
        col = column_name(name)
        values = [row[col] for row in rows]
        try:
            array = pa.array(values)
            if pa.types.is_null(array.type):
                array = pa.array(values, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):  # mixed types: JSON text
            array = pa.array([None if v is None else json.dumps(v, ensure_ascii=False) for v in values],
                             type=pa.string())
        arrays.append(array)
        fields.append(pa.field(col, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _replace(tmp: Path, out: Path) -> None:
    """Move a finished export into place, over an earlier one."""
    if out.is_dir() and not out.is_symlink():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _write_json(samples: list[dict], out: Path, bare: bool) -> list[Path]:
    names = manifest_names(samples)
    if bare:
        data: Any = [r["caption"] for r in samples]
    else:
        data = []
        for rec in samples:
            row = _entry(rec, names)
            row.pop("record")
            data.append(row)
    write_atomic(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return [out]


def _write_parquet(samples: list[dict], out: Path) -> list[Path]:
    import pyarrow.parquet as pq

    write_aside(out, lambda tmp: pq.write_table(arrow_table(samples), tmp))
    return [out]


def _write_hf(samples: list[dict], out: Path) -> list[Path]:
    try:
        import datasets
    except ImportError:
        raise InputError("--to hf needs the 'datasets' package (pip install datasets)") from None
    datasets.disable_progress_bars()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    datasets.Dataset(arrow_table(samples)).save_to_disk(str(tmp))
    _replace(tmp, out)
    return [out]


def sample_key(n: int, rec: dict) -> str:
    """A webdataset key: unique in the export, and without dots (webdataset splits names at the first)."""
    key = f"{n:06d}_{rec.get('content_hash') or 'nohash'}"
    if rec.get("shot") is not None:
        key += f"_shot{rec['shot']:03d}" + (f"_part{rec['part']}" if rec.get("part") else "")
    return key


def _clip_bytes(rec: dict, scratch: Path) -> bytes:
    """The sample's clip: the clip, a shot's kept clip, or the shot cut from its clip again."""
    if rec.get("shot") is None:
        return Path(rec["path"]).read_bytes()
    if rec.get("shot_path") and Path(rec["shot_path"]).is_file():
        return Path(rec["shot_path"]).read_bytes()
    from agent.run.media import write_shots

    target = scratch / "shot.mp4"
    cut = write_shots(rec["path"], [(rec["start_frame"], rec["end_frame"])], [target], "auto")[0]
    if cut.error:
        raise InputError(f"{rec['path']} shot {rec['shot']}: cannot cut the shot's clip again ({cut.error})")
    data = target.read_bytes()
    target.unlink(missing_ok=True)
    return data


def _write_wds(samples: list[dict], out: Path, shard_size: int, with_clips: bool) -> list[Path]:
    try:
        import webdataset as wds
    except ImportError:
        raise InputError("--to wds needs the 'webdataset' package (pip install webdataset)") from None
    if out.name.endswith(".tar") and "%" not in out.name:
        pattern = out.with_name(out.stem + "-%06d.tar")
    elif "%" in out.name:
        pattern = out
    else:
        pattern = out / "shard-%06d.tar"
    pattern.parent.mkdir(parents=True, exist_ok=True)
    names = manifest_names(samples)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=pattern.parent))
    written: list[Path] = []
    try:
        with wds.ShardWriter(str(staging / pattern.name), maxcount=shard_size, verbose=0) as sink:
            for n, rec in enumerate(samples):
                row = _entry(rec, names)
                sample: dict[str, Any] = {"__key__": sample_key(n, rec), "caption.json": rec["caption"],
                                          "record.json": rec}
                output = row["output"]
                if isinstance(output, str):
                    sample["txt"] = output
                    sample["json"] = {"format": row["format"], "text": output}
                else:
                    sample["json"] = output
                if with_clips:
                    sample["mp4"] = _clip_bytes(rec, staging)
                sink.write(sample)
        for shard in sorted(staging.glob("*.tar")):
            final = pattern.parent / shard.name
            os.replace(shard, final)
            written.append(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def export_records(records_path: Path, out: Path, kind: str | None = None, *, ok_only: bool = False,
                   shard_size: int = 1000, with_clips: bool = False) -> ExportResult:
    """Write the batch's captioned samples to ``out`` as ``kind`` (from the name when None)."""
    kind = kind or kind_of(out)
    if kind not in KINDS:
        raise InputError(f"--to {kind}: use one of {', '.join(KINDS)}")
    if shard_size < 1:
        raise InputError("--shard-size must be at least 1")
    if with_clips and kind != "wds":
        raise InputError("--with-clips: only with --to wds")
    samples = load_samples(records_path, ok_only)
    try:
        import pyarrow as pa

        table_errors: tuple = (pa.ArrowInvalid, pa.ArrowTypeError)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        table_errors = ()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if kind in ("json", "instancevid"):
            files = _write_json(samples, out, bare=kind == "instancevid")
        elif kind == "parquet":
            files = _write_parquet(samples, out)
        elif kind == "hf":
            files = _write_hf(samples, out)
        else:
            files = _write_wds(samples, out, shard_size, with_clips)
    except OSError as e:
        raise storage_error(e, "the export (-o)") from None
    except table_errors as e:  # a hand-edited record whose fields are not what a batch writes
        raise InputError(f"{records_path}: a record cannot be written as {kind} ({e})") from None
    names = [column_name(n) for n in manifest_names(samples)]
    return ExportResult(kind, len(samples), files, [*BASE_COLUMNS, *names])
