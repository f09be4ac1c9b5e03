"""``validate``: check captions in any form this program writes.

What is read: an InstanceCap caption (``.json``), an output in any format a plugin declares with its
keys (:class:`agent.core.formats.OutputFormat`: built in ``any2caption``, ``cinecap``, and ``dense`` as a
``.txt`` paragraph), a ``.json`` list of captions or of ``export`` entries, a ``.jsonl`` of captions or
of batch records, a run's ``record.json`` or its folder.

What is checked: the schema of the caption's format and the wording rules (the lexicon: sound,
timestamps, metaphors, speculation, word limits, ...) always; the checks against the tools'
evidence (instances, positions, camera, the file name, and the plugins' checks) when the
evidence is there: a run folder or record given with ``--run``, a run record validated itself,
or a batch record whose run folder still exists.

Each problem is one :class:`Finding`: where it is (the item in the file, the field) and what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.core.caption import STRUCTURAL_KEY_ALIASES
from agent.core.errors import InputError
from agent.core.formats import OutputFormat
from agent.core.jsonl import read_text

INSTANCECAP = "instancecap"  # the caption itself, checked against the caption schema and the evidence


@dataclass
class Item:
    """One caption to check: where it is in the file, its format, the caption, and its evidence if known."""

    where: str | None  # "item 3", "line 4"; None for a file holding one caption
    fmt: str
    data: Any
    evidence: dict[str, Any] | None = None
    problem: str | None = None  # the item could not even be read as a caption


@dataclass
class Finding:
    where: str | None
    text: str


def format_of(data: Any, formats: dict[str, OutputFormat]) -> str | None:
    """Which output format a JSON value is in (an InstanceCap caption, or a registered format that
    recognises it), or None."""
    if isinstance(data, dict) and "Video" in data and any(k in data for k in STRUCTURAL_KEY_ALIASES):
        return INSTANCECAP
    found = next((spec.name for spec in formats.values() if spec.name != INSTANCECAP and spec.recognises(data)), None)
    if found is None and isinstance(data, dict) and ("Video" in data or "Global Description" in data):
        return INSTANCECAP  # a broken InstanceCap caption: the schema says what is missing
    return found


def known_formats() -> dict[str, OutputFormat]:
    """The output formats the plugins declare, by name."""
    from agent.run.plugins import load_plugins

    return load_plugins().format_specs


def _run_record(path: Path) -> dict[str, Any]:
    """A run's record.json (given as the file or its folder)."""
    record_path = path / "record.json" if path.is_dir() else path
    if not record_path.is_file():
        raise InputError(f"{path}: not a run folder (it has no record.json)")
    try:
        record = json.loads(read_text(record_path, "run record"))
    except json.JSONDecodeError as e:
        raise InputError(f"{record_path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(record, dict) or "evidence" not in record:
        raise InputError(f"{record_path}: not a run record (no evidence)")
    return record


def _evidence_of_record(record: dict) -> dict | None:
    """The evidence of a batch record's run, when its folder is still there."""
    run_dir = record.get("run_dir")
    if isinstance(run_dir, str) and (Path(run_dir) / "record.json").is_file():
        try:
            return _run_record(Path(run_dir)).get("evidence")
        except InputError:
            return None
    return None


def _item(where: str | None, value: Any, formats: dict[str, OutputFormat]) -> Item:
    """An item from a file: a caption in some format, a batch record, an export entry or a run record."""
    if isinstance(value, dict) and "caption" in value and format_of(value, formats) is None:
        # a batch record, an export entry or a run record: the caption and, if known, its evidence
        evidence = value.get("evidence") if isinstance(value.get("evidence"), dict) else _evidence_of_record(value)
        caption = value.get("caption")
        if caption is None:
            return Item(where, INSTANCECAP, None, problem=f"has no caption (status {value.get('status', '?')})")
        return Item(where, INSTANCECAP, caption, evidence)
    fmt = format_of(value, formats)
    if fmt is None:
        kind = type(value).__name__ if not isinstance(value, dict) else "an object with keys " + \
            ", ".join(sorted(value)[:6])
        return Item(where, "?", value, problem=f"not a caption in a known format ({kind})")
    return Item(where, fmt, value)


def _exported_rows(path: Path) -> list[dict] | None:
    """The batch records in an export (each sample's record, or its caption), or None for other files."""
    def row_of(fields: dict) -> dict:
        if "record" in fields:  # parquet or datasets: the record's caption is a column of its own
            from agent.run.export import sample_of

            return sample_of(fields)
        raw = fields.get("record.json")
        if raw:
            return json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        caption = fields.get("caption") or fields.get("caption.json")
        return {"caption": json.loads(caption) if isinstance(caption, (str, bytes)) else caption,
                "status": fields.get("status", "?")}

    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return [row_of(r) for r in pq.read_table(path).to_pylist()]
        if path.is_dir() and (path / "dataset_info.json").is_file():
            import datasets

            return [row_of(r) for r in datasets.load_from_disk(str(path)).to_list()]
        if path.suffix == ".tar":
            import webdataset as wds

            return [row_of(s) for s in wds.WebDataset(str(path), shardshuffle=False)]
    except (OSError, ValueError, ImportError) as e:  # a broken file: one line, not a traceback
        raise InputError(f"{path}: cannot be read as an export ({type(e).__name__}: {e})") from None
    return None


def read_items(path: Path, formats: dict[str, OutputFormat] | None = None) -> list[Item]:
    """Every caption a file (or run folder) holds, in any of ``formats`` (by default the plugins')."""
    formats = known_formats() if formats is None else formats
    if not path.exists():
        raise InputError(f"{path}: no such file")
    exported = _exported_rows(path)
    if exported is not None:  # what export wrote: parquet, a datasets folder, webdataset shards
        return [_item(f"sample {n}", row, formats) for n, row in enumerate(exported)]
    if path.is_dir():
        record = _run_record(path)
        return [_item(None, record, formats)]
    text = read_text(path, "caption file").removeprefix("\ufeff")  # a UTF-8 byte order mark is not content
    if path.suffix == ".txt":
        if not text.strip():
            raise InputError(f"{path}: is empty")
        paragraph = next((spec.name for spec in formats.values() if spec.kind == "text"), None)
        if paragraph is None:
            raise InputError(f"{path}: a .txt caption, and no plugin declares a text format")
        return [Item(None, paragraph, text.strip())]
    if path.suffix == ".jsonl":
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                items.append(Item(f"line {n}", "?", None, problem=f"not valid JSON ({e.msg})"))
                continue
            items.append(_item(f"line {n}", value, formats))
        return items
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if isinstance(data, list):
        return [_item(f"item {i}", value, formats) for i, value in enumerate(data)]
    return [_item(None, data, formats)]


def check_items(items: list[Item], *, wording: bool = True, evidence: dict | None = None,
                disabled: list[str] = (), plugins=None) -> list[Finding]:
    """Every problem of every item; ``evidence`` (a run's) applies to all items without their own.
    ``plugins``: the plugin manager whose sections, checks and formats apply (by default the loaded one
    less ``disabled``)."""
    from agent.core.checks import english as english_check, wording as wording_check
    from agent.core.config import load_settings
    from agent.core.evidence import Evidence
    from agent.core.lexicon import scan
    from agent.core.validation import validate
    from agent.run.plugins import load_plugins

    settings = load_settings()
    if plugins is None:
        plugins = load_plugins([*settings.disabled_plugins, *disabled])  # plugins add sections, checks, formats
    evidence_checks = plugins.validation_checks(settings)
    models = plugins.evidence_models(settings)
    if not wording:
        evidence_checks = [c for c in evidence_checks if c is not wording_check]
    findings: list[Finding] = []
    for item in items:
        if item.problem:
            findings.append(Finding(item.where, item.problem))
            continue
        if item.fmt == INSTANCECAP:
            known = item.evidence if item.evidence is not None else evidence
            if known is not None:
                checks = evidence_checks
            else:
                checks = [wording_check, english_check] if wording else []
            _, problems = validate(item.data, Evidence(known or {}, models), checks, plugins.sections)
            findings += [Finding(item.where, str(p)) for p in problems]
            continue
        spec = plugins.format_specs.get(item.fmt)
        if spec is None:
            findings.append(Finding(item.where, f"a caption in the format {item.fmt}, whose plugin is disabled"))
            continue
        schema = spec.problems(item.data)
        findings += [Finding(item.where, f"{line} ({item.fmt})") for line in schema]
        if wording and not schema:
            for field, text in spec.texts(item.data):
                for v in scan(field, text):
                    hint = f"; use '{v.suggestion}'" if v.suggestion else ""
                    findings.append(Finding(item.where, f"{field}: {v.kind.replace('_', ' ')}: '{v.text}'{hint}"))
    return findings


def run_evidence(path: Path) -> dict[str, Any]:
    """The evidence of a run folder or record given with ``--run``."""
    return _run_record(path).get("evidence") or {}

