"""Batch records out as training-set files: JSON, parquet, a Hugging Face ``datasets`` folder, webdataset shards.

Every kind holds one sample per clip (or per shot with ``--split-shots``): the latest record of
each, failures left out (and degraded captions too with ``ok_only``). Each sample carries the
clip's path and content hash (two clips of the same name stay apart and join back to their
files), the shot and its bounds, the status, the output format, the InstanceCap caption, ``text``
(the caption as one dense paragraph within ``text_tokens``, for a text encoder), the rest of the
record, and every column of the manifest the batch read.

* ``json``: a list of objects with those fields (``caption`` and ``output`` as JSON values).
* ``instancevid``: the bare list of captions, as InstanceVid releases them.
* ``parquet`` (pyarrow) and ``hf`` (``datasets.Dataset.save_to_disk``; ``datasets.load_from_disk``
  reads it back): one row per sample; ``caption`` and ``record`` are nested structs (a field one
  sample lacks reads back as null; :func:`sample_of` gives the record back as the batch wrote it).
  ``output`` is there only when some sample's format is not InstanceCap (for an InstanceCap sample
  it would repeat ``caption``), and ``record`` leaves out the caption and output that have columns
  of their own. A column whose values mix types is written as JSON text and named in the schema's
  metadata. Manifest columns keep their own types.
* ``wds`` (webdataset ``ShardWriter``): tar shards of ``shard_size`` samples; each sample has
  ``json`` (the output, in the chosen format), ``record.json`` (the record with its manifest
  row), ``caption.json`` (InstanceCap), ``text.txt`` (the dense paragraph), ``txt`` for a text
  format, and with ``with_clips`` the clip itself (``mp4``; a shot's own clip, cut again if the
  batch did not keep it), after checking that its bytes still have the record's content hash.

What is already at the output is replaced only when it is an earlier export of ours
(:mod:`agent.run.export_paths`); files are written aside and moved into place, so an export that
fails leaves no half-written output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.core.caption import Sections
from agent.core.errors import InputError, storage_error
from agent.core.jsonl import json_lines
from agent.run.export_arrow import drop_nulls, nested_array
from agent.run.export_paths import (EXPORT_MARK, KINDS, check_output, check_shard_targets, kind_of, output_path,
                                    replace_folder, shard_is_ours, shard_name_regex, shard_names,
                                    write_beside)

__all__ = ["KINDS", "kind_of", "export_records", "load_samples", "arrow_table", "sample_of", "ExportResult"]

# the columns every sample has, before the manifest's
BASE_COLUMNS = ("path", "content_hash", "shot", "part", "start_s", "end_s", "status", "format", "output",
                "caption", "text", "error", "record")
NESTED = ("output", "caption", "record")
DEFAULT_TEXT_TOKENS = 226  # CogVideoX's T5 reads 226 tokens, as ``flatten`` assumes


@dataclass
class ExportResult:
    kind: str
    samples: int
    files: list[Path]
    columns: list[str]
    text_counted_with: str = ""
    skipped: list[str] = field(default_factory=list)


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
    return [r for r in latest.values() if r.get("status") in keep and isinstance(r.get("caption"), dict)]


def _output(rec: dict) -> Any:
    """The caption in the format it was asked in: the record's ``output`` (None for InstanceCap, the caption itself)."""
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


# -- the dense paragraph -----------------------------------------------------------------------------
def text_maker(text_tokens: int | None = DEFAULT_TEXT_TOKENS, tokenizer: str | None = None,
               sections: Sections | None = None) -> tuple[Callable[[dict], str], str]:
    """The caption -> paragraph function of the ``text`` column, and how its tokens are counted.
    ``text_tokens`` 0 or None: the whole paragraph. Without ``tokenizer`` the tokens are estimated
    (loading a tokenizer takes seconds; ``flatten`` says how the estimate is made). ``sections``: the plugins'
    caption sections, read as they say."""
    from agent.core.flatten import flatten, make_counter

    counter, how = make_counter(tokenizer)
    budget = text_tokens if text_tokens else 10 ** 9
    if not text_tokens:
        how = "the whole paragraph, no budget"
    return (lambda caption: flatten(caption, budget, counter, how, sections).text), how


def _entry(rec: dict, names: list[str], text_of: Callable[[dict], str]) -> dict[str, Any]:
    row = {"path": rec.get("path"), "content_hash": rec.get("content_hash"), "shot": rec.get("shot"),
           "part": rec.get("part"), "start_s": rec.get("start_s"), "end_s": rec.get("end_s"),
           "status": rec.get("status"), "format": rec.get("format") or "instancecap", "output": rec.get("output"),
           "caption": rec.get("caption"), "text": text_of(rec["caption"]), "error": rec.get("error"), "record": rec}
    manifest = rec.get("manifest") or {}
    for name in names:
        row[column_name(name)] = manifest.get(name)
    return row


# -- arrow: nested columns -----------------------------------------------------------------------------
def _record_rest(rec: dict) -> dict:
    """The record less what has a column of its own (the caption, the output)."""
    return {k: v for k, v in rec.items() if k not in ("caption", "output")}


def arrow_table(samples: list[dict], text_of: Callable[[dict], str] | None = None, sections: Sections | None = None):
    """One row per sample: the caption and record as structs, the text paragraph, manifest columns
    in their own types; ``output`` only when a sample's format is not InstanceCap."""
    import pyarrow as pa

    text_of = text_of or text_maker(sections=sections)[0]
    names = manifest_names(samples)
    rows = [_entry(r, names, text_of) for r in samples]
    with_output = any(row["format"] != "instancecap" for row in rows)
    fixed = {"path": pa.string(), "content_hash": pa.string(), "shot": pa.int64(), "part": pa.int64(),
             "start_s": pa.float64(), "end_s": pa.float64(), "status": pa.string(), "format": pa.string(),
             "output": None, "caption": None, "text": pa.string(), "error": pa.string(), "record": None}
    arrays, fields, as_json = [], [], []
    for name, typ in fixed.items():
        if name == "output" and not with_output:
            continue
        values = [row[name] for row in rows]
        if name == "output":
            values = [row["output"] if row["format"] != "instancecap" else None for row in rows]
        if name == "record":
            values = [_record_rest(v) for v in values]
        if typ is None:
            array, is_json = nested_array(values)
            if is_json:
                as_json.append(name)
        else:
            array = pa.array(values, type=typ)
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    for name in names:
        col = column_name(name)
        array, is_json = nested_array([row[col] for row in rows])
        if is_json:
            as_json.append(col)
        arrays.append(array)
        fields.append(pa.field(col, array.type))
    meta = {EXPORT_MARK: json.dumps({"json_columns": as_json})}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))


def sample_of(row: dict[str, Any]) -> dict[str, Any]:
    """A parquet or datasets row read back as the batch record it came from (its caption and output
    in it again; the fields a struct gave it that the record did not have left out)."""
    def value(name: str) -> Any:
        raw = row.get(name)
        return json.loads(raw) if isinstance(raw, (str, bytes)) and name in NESTED else drop_nulls(raw)

    record = value("record")
    record = dict(record) if isinstance(record, dict) else {k: row.get(k) for k in ("path", "content_hash", "status")}
    record["caption"] = value("caption")
    if row.get("output") is not None:
        record["output"] = value("output")
    return record


def _write_json(samples: list[dict], out: Path, bare: bool, text_of: Callable[[dict], str]) -> list[Path]:
    names = manifest_names(samples)
    if bare:
        data: Any = [r["caption"] for r in samples]
    else:
        data = []
        for rec in samples:
            row = _entry(rec, names, text_of)
            row.pop("record")
            data.append(row)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_beside(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return [out]


def _write_parquet(samples: list[dict], out: Path, text_of: Callable[[dict], str]) -> list[Path]:
    import pyarrow.parquet as pq

    table = arrow_table(samples, text_of)
    write_beside(out, lambda tmp: pq.write_table(table, tmp))
    return [out]


def _write_hf(samples: list[dict], out: Path, text_of: Callable[[dict], str]) -> list[Path]:
    try:
        import datasets
    except ImportError:
        raise InputError("--to hf needs the 'datasets' package (pip install datasets)") from None
    datasets.disable_progress_bars()
    table = arrow_table(samples, text_of)
    info = datasets.DatasetInfo(description=EXPORT_MARK)
    replace_folder(out, lambda tmp: datasets.Dataset(table, info=info).save_to_disk(str(tmp)))
    return [out]


def sample_key(n: int, rec: dict) -> str:
    """A webdataset key: unique in the export, and without dots (webdataset splits names at the first)."""
    key = f"{n:06d}_{rec.get('content_hash') or 'nohash'}"
    if rec.get("shot") is not None:
        key += f"_shot{rec['shot']:03d}" + (f"_part{rec['part']}" if rec.get("part") else "")
    return key


class ChangedClip(Exception):
    """A clip whose bytes no longer have the content hash its record was made from."""


def _read_clip(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read {what} for --with-clips ({e.strerror or type(e).__name__}); "
                         "export without --with-clips, or put the clip back") from None


def _checked(data: bytes, expected: str | None, path: str) -> bytes:
    if expected and hashlib.sha256(data).hexdigest()[:16] != expected:
        raise ChangedClip(path)
    return data


def _clip_bytes(rec: dict, scratch: Path) -> bytes:
    """The sample's clip: the clip, a shot's kept clip, or the shot cut from its clip again; each
    checked against the content hash in the record (:class:`ChangedClip` when it differs)."""
    if rec.get("shot") is None:
        return _checked(_read_clip(rec["path"], "the clip"), rec.get("content_hash"), rec["path"])
    if rec.get("shot_path") and Path(rec["shot_path"]).is_file():
        return _checked(_read_clip(rec["shot_path"], "the shot's clip"), rec.get("shot_hash"), rec["shot_path"])
    from agent.run.media import write_shots

    _checked(_read_clip(rec["path"], "the clip"), rec.get("content_hash"), rec["path"])
    target = scratch / "shot.mp4"
    cut = write_shots(rec["path"], [(rec["start_frame"], rec["end_frame"])], [target], "auto")[0]
    if cut.error:
        raise InputError(f"{rec['path']} shot {rec['shot']}: cannot cut the shot's clip again ({cut.error})")
    data = target.read_bytes()
    target.unlink(missing_ok=True)
    return data


def _wds_sample(n: int, rec: dict, names: list[str], text_of: Callable[[dict], str]) -> dict[str, Any]:
    row = _entry(rec, names, text_of)
    sample: dict[str, Any] = {"__key__": sample_key(n, rec), "caption.json": rec["caption"], "record.json": rec,
                              "text.txt": row["text"]}
    output = _output(rec)  # a shard's json is the caption in the chosen format
    if isinstance(output, str):
        sample["txt"] = output
        sample["json"] = {"format": row["format"], "text": output}
    else:
        sample["json"] = output
    return sample


def _write_wds(samples: list[dict], out: Path, records: Path, text_of: Callable[[dict], str], shard_size: int,
               with_clips: bool, skip_changed: bool, skipped: list[str]) -> list[Path]:
    try:
        import webdataset as wds
    except ImportError:
        raise InputError("--to wds needs the 'webdataset' package (pip install webdataset)") from None
    pattern = shard_names(out)
    pattern.parent.mkdir(parents=True, exist_ok=True)
    names = manifest_names(samples)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=pattern.parent))
    written: list[Path] = []
    try:
        with wds.ShardWriter(str(staging / pattern.name), maxcount=shard_size, verbose=0) as sink:
            n = 0
            for rec in samples:
                sample = _wds_sample(n, rec, names, text_of)
                if with_clips:
                    try:
                        sample["mp4"] = _clip_bytes(rec, staging)
                    except ChangedClip as e:
                        if not skip_changed:
                            raise InputError(f"{e}: the clip changed since it was captioned (its content hash "
                                             "differs from the record's); caption it again, or give "
                                             "--skip-changed to leave such clips out (nothing was written)") from None
                        skipped.append(str(e))
                        continue
                sink.write(sample)
                n += 1
        shards = sorted(staging.glob("*.tar"))
        targets = [pattern.parent / shard.name for shard in shards]
        check_shard_targets(targets, records)
        for shard, final in zip(shards, targets):
            os.replace(shard, final)
            written.append(final)
        _drop_stale_shards(pattern, written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _drop_stale_shards(pattern: Path, written: list[Path]) -> None:
    """Shards of an earlier, longer export of ours under the same pattern: removed, so the folder
    holds this export only (a file that is not a shard of ours is left alone)."""
    kept, names = set(written), shard_name_regex(pattern)
    for path in pattern.parent.iterdir():
        if names.fullmatch(path.name) and path not in kept and path.is_file() and shard_is_ours(path):
            path.unlink(missing_ok=True)


def export_records(records_path: Path, out: Path, kind: str | None = None, *, ok_only: bool = False,
                   shard_size: int = 1000, with_clips: bool = False, skip_changed: bool = False,
                   text_tokens: int | None = DEFAULT_TEXT_TOKENS, tokenizer: str | None = None,
                   sections: Sections | None = None) -> ExportResult:
    """Write the batch's captioned samples to ``out`` as ``kind`` (from the name when None)."""
    out = output_path(out)
    kind = kind or kind_of(out)
    if kind not in KINDS:
        raise InputError(f"--to {kind}: use one of {', '.join(KINDS)}")
    if shard_size < 1:
        raise InputError("--shard-size must be at least 1")
    if with_clips and kind != "wds":
        raise InputError("--with-clips: only with --to wds")
    if text_tokens is not None and text_tokens < 0:
        raise InputError("--text-tokens must be 0 (no budget) or more")
    check_output(Path(records_path), out, kind)
    samples = load_samples(records_path, ok_only)
    text_of, how = text_maker(text_tokens, tokenizer, sections)
    skipped: list[str] = []
    try:
        import pyarrow as pa

        table_errors: tuple = (pa.ArrowInvalid, pa.ArrowTypeError)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        table_errors = ()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if kind in ("json", "instancevid"):
            files = _write_json(samples, out, kind == "instancevid", text_of)
        elif kind == "parquet":
            files = _write_parquet(samples, out, text_of)
        elif kind == "hf":
            files = _write_hf(samples, out, text_of)
        else:
            files = _write_wds(samples, out, Path(records_path), text_of, shard_size, with_clips, skip_changed,
                               skipped)
    except OSError as e:
        raise storage_error(e, "the export (-o)") from None
    except table_errors as e:  # a hand-edited record whose fields are not what a batch writes
        raise InputError(f"{records_path}: a record cannot be written as {kind} ({e})") from None
    names = [column_name(n) for n in manifest_names(samples)]
    return ExportResult(kind, len(samples) - len(skipped), files, [*BASE_COLUMNS, *names], how, skipped)
