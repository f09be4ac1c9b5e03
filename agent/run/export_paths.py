"""Where an export may write: the kind a name asks for, and the rule that an export never
destroys what it did not write.

An export replaces only an earlier export of ours: a file or folder already at ``-o`` is
recognised by its content (a JSON list of export entries or captions, a parquet file with our
columns, a ``datasets`` folder saved by ``export`` holding nothing else, webdataset shards whose
samples carry ``record.json``). Anything else there, the records file being exported, or a folder
where a file is asked for, is refused in one line before any work. Files are written under a
fresh hidden name beside the target and renamed into place, so a failed export leaves nothing and
never touches a file of the user's that happens to share a temporary name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable

from agent.core.errors import InputError
from agent.run.files import refuse_a_foreign_folder

KINDS = ("json", "instancevid", "parquet", "hf", "wds")
FILE_KINDS = ("json", "instancevid", "parquet")
EXPORT_MARK = "instance-agent export"  # the datasets folder's description, and the parquet metadata key
_SHARD_NUMBER = re.compile(r"%0?\d*d")
_HF_FILES = re.compile(r"(state\.json|dataset_info\.json|data-\d+-of-\d+\.arrow)")


def output_path(out: Path) -> Path:
    """The output as an absolute path (``.`` and ``..`` resolved by name, symlinks kept)."""
    return Path(os.path.abspath(os.path.expanduser(str(out))))


def shard_pattern(name: str) -> bool:
    """Whether a name is a shard pattern: exactly one ``%d`` (``%06d``), any other ``%`` doubled."""
    rest = name.replace("%%", "")
    return len(_SHARD_NUMBER.findall(rest)) == 1 and rest.count("%") == 1


def kind_of(out: Path) -> str:
    """The export kind an output path asks for: ``.parquet``, ``.tar`` (or a ``%06d`` pattern) for
    webdataset shards, ``.json``; a path without a suffix is a ``datasets`` folder."""
    name = out.name
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".tar") or shard_pattern(name):
        return "wds"
    if name.endswith(".json"):
        return "json"
    if "%" in name:
        raise InputError(f"{out}: a shard pattern holds one %d (e.g. shard-%06d.tar); give --to, or a name "
                         "ending in .tar, .parquet or .json")
    if not out.suffix:
        return "hf"
    raise InputError(f"{out}: cannot tell the export kind from the name; give --to ({', '.join(KINDS)})")


def shard_names(out: Path) -> Path:
    """The ``ShardWriter`` pattern for ``out``: ``x.tar`` -> ``x-%06d.tar``; a pattern as given; a
    folder -> ``folder/shard-%06d.tar``. A ``%`` that is not the shard number is kept literally."""
    if shard_pattern(out.name):
        return out
    if out.name.endswith(".tar"):
        return out.with_name(out.name[:-4].replace("%", "%%") + "-%06d.tar")
    return out / "shard-%06d.tar"


def shard_name_regex(pattern: Path) -> re.Pattern:
    """A regular expression matching exactly the names the pattern makes (``x-%06d.tar``: ``x-`` and
    six or more digits; not the shards of ``x-y.tar``)."""
    out = []
    for piece in re.split(r"(%%|%0?\d*d)", pattern.name):
        if piece == "%%":
            out.append("%")
        elif _SHARD_NUMBER.fullmatch(piece):
            width = re.sub(r"\D", "", piece).lstrip("0") or "1"
            out.append(r"\d{%s,}" % width)
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


# -- is it ours? -------------------------------------------------------------------------------------
def _json_is_ours(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, list):
        return False
    if not data:
        return True
    first = data[0]
    return isinstance(first, dict) and ({"path", "content_hash", "caption"} <= first.keys()
                                        or {"Video", "Global Description"} <= first.keys())


def _parquet_is_ours(path: Path) -> bool:
    try:
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    except Exception:  # not parquet at all, or unreadable: not ours
        return False
    marked = EXPORT_MARK.encode() in (schema.metadata or {})
    return marked or {"path", "content_hash", "caption", "record"} <= set(schema.names)


def _hf_is_ours(folder: Path) -> tuple[bool, list[str]]:
    """Whether a folder is a datasets export of ours, and the entries in it that an export never writes."""
    try:
        names = sorted(p.name for p in folder.iterdir())
        info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, []
    foreign = [n for n in names if not _HF_FILES.fullmatch(n)]
    features = info.get("features") if isinstance(info, dict) else None
    ours = isinstance(info, dict) and (info.get("description") == EXPORT_MARK or (
        isinstance(features, dict) and {"path", "content_hash", "caption", "record"} <= features.keys()))
    return ours, foreign


def shard_is_ours(path: Path) -> bool:
    try:
        with tarfile.open(path) as tar:
            first = tar.next()
    except (OSError, tarfile.TarError, EOFError):
        return False
    return first is not None and first.name.endswith((".caption.json", ".record.json"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# -- the checks, before any work ---------------------------------------------------------------------
def check_output(records: Path, out: Path, kind: str) -> None:
    """Refuse (one line, exit 2) an output that is the records file, a folder where a file is asked
    for, or anything already there that is not an export of ours."""
    if _same_file(records, out) or output_path(records) == out:
        raise InputError(f"{out}: is the records file being exported; give another -o")
    if kind in FILE_KINDS:
        if out.is_dir():
            raise InputError(f"{out}: is a folder; give a file name (e.g. {out / ('captions.' + _suffix(kind))})")
        if out.exists() and not (_parquet_is_ours(out) if kind == "parquet" else _json_is_ours(out)):
            raise InputError(f"{out}: exists and is not an export of ours; give another -o (nothing was written)")
    elif kind == "hf":
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder; give another -o for a datasets folder")
        refuse_a_foreign_folder(out, _hf_is_ours, "an export")
    elif out.exists() and not out.is_dir() and not shard_pattern(out.name) and not out.name.endswith(".tar"):
        raise InputError(f"{out}: exists and is not a folder for shards; give another -o")


def _suffix(kind: str) -> str:
    return "parquet" if kind == "parquet" else "json"


def check_shard_targets(targets: list[Path], records: Path) -> None:
    """Refuse before moving any shard into place if one would replace a file that is not a shard of ours."""
    for target in targets:
        if _same_file(records, target):
            raise InputError(f"{target}: is the records file being exported; give another -o")
        if target.is_dir() or (target.exists() and not shard_is_ours(target)):
            raise InputError(f"{target}: exists and is not a shard of ours; give another -o (nothing was written)")


# -- writing aside -----------------------------------------------------------------------------------
def write_beside(out: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a fresh hidden file beside ``out``, then rename it to ``out``. A failure
    leaves nothing, and its error names ``out``, not the temporary file."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name[:80]}.", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # a file as open() makes it, not the private one mkstemp makes
        write(tmp)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(out)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_folder(out: Path, write: Callable[[Path], Any]) -> None:
    """``write(folder)`` into a fresh hidden folder beside ``out``, then put it in place of ``out``
    (an earlier export of ours, already checked) or at ``out``."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name[:80]}.", suffix=".part", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # a folder as mkdir makes it, not the private one mkdtemp makes
        write(tmp)
        if out.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name[:80]}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "export")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(e.errno, e.strerror, str(out)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
