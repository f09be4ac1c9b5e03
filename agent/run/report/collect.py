"""What the report shows of each clip, gathered from a batch's records or one run folder.

A batch record names its run folder; while that folder is there, the report reads its
``record.json`` (the evidence, the steps, the validation rounds) and its images (the sampled
frames, the instance views). When the folder is gone the clip is still shown, from the record
alone, and says that its images are gone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.core.caption import STRUCTURAL_KEY
from agent.core.errors import InputError
from agent.core.jsonl import json_lines

_WORD = re.compile(r"[A-Za-z0-9']+")


@dataclass
class ClipView:
    """One clip (or shot) as the page shows it."""

    name: str
    path: str
    status: str
    caption: dict | None
    error: str | None = None
    backend: str = "?"
    notes: list[str] = field(default_factory=list)  # fallback reasons, model errors, run errors
    problems: list[str] = field(default_factory=list)  # left in the final caption
    disagreements: list[tuple[int, str]] = field(default_factory=list)  # (validation round, problem) fixed on the way
    evidence: dict[str, str] = field(default_factory=dict)  # tool -> what it measured, short
    timings: dict[str, float] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    camera: list[str] = field(default_factory=list)
    frames: list[Path] = field(default_factory=list)
    instances: list[Path] = field(default_factory=list)
    run_dir: str | None = None
    run_folder_found: bool = False

    @property
    def seconds(self) -> float | None:
        return self.timings.get("total_s")

    @property
    def words(self) -> int:
        return len(_WORD.findall(" ".join(caption_texts(self.caption)))) if self.caption else 0


def caption_texts(value: Any) -> list[str]:
    """Every free-text value of a caption, in order (the video's file name left out)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() if k not in ("Video", "Class") for t in caption_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in caption_texts(v)]
    return []


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _classes(caption: dict | None, evidence: dict) -> list[str]:
    instances = ((caption or {}).get(STRUCTURAL_KEY) or {}).get("Main Instance") or {}
    found = [str(i.get("Class")) for i in instances.values() if isinstance(i, dict) and i.get("Class")]
    return found or (["(none)"] if caption else [])


def _camera(evidence: dict, caption: dict | None) -> list[str]:
    motion = evidence.get("estimate_camera_motion") if isinstance(evidence, dict) else None
    if isinstance(motion, dict):
        if motion.get("primitives"):
            return [str(p) for p in motion["primitives"]]
        label = str(motion.get("label") or "")
        return ["static"] if "static" in label else [label or "unclear"]
    if not caption:
        return []
    text = str((caption.get(STRUCTURAL_KEY) or {}).get("Camera Movement") or "").lower()
    return ["static"] if "static" in text else ["(no evidence)"]


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + " …"


def _evidence_summary(evidence: dict, steps: list) -> dict[str, str]:
    """Per tool, what it measured (its evidence, or the observation the model was shown), short."""
    said = {s["tool"]: s.get("observation") for s in steps
            if isinstance(s, dict) and s.get("node") == "tools" and s.get("tool") and s.get("observation")}
    names = list(dict.fromkeys([*evidence.keys(), *said.keys()]))
    return {name: _short(evidence[name] if evidence.get(name) is not None else said.get(name)) for name in names}


def _disagreements(steps: list) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    rounds = 0
    for step in steps:
        if isinstance(step, dict) and step.get("node") == "validate":
            rounds += 1
            found += [(rounds, str(p)) for p in step.get("problems") or []]
    return found


def _images(run_dir: Path) -> tuple[list[Path], list[Path]]:
    frames = sorted((run_dir / "frames").glob("*.jpg")) + sorted((run_dir / "frames").glob("*.png"))
    instances = sorted((run_dir / "instances").glob("*.jpg")) + sorted((run_dir / "instances").glob("*.png"))
    return frames, instances


def clip_view(record: dict) -> ClipView:
    """A batch record (or a run's record.json) as the page shows it, with its run folder's details."""
    name = Path(str(record.get("path") or record.get("video") or "?")).name
    if record.get("shot") is not None:
        name += f" shot {record['shot']}" + (f" part {record['part']}" if record.get("part") else "")
    view = ClipView(name=name, path=str(record.get("path") or ""), status=str(record.get("status") or "?"),
                    caption=record.get("caption") if isinstance(record.get("caption"), dict) else None,
                    error=record.get("error"), backend=str(record.get("backend") or "not recorded"),
                    problems=[str(p) for p in record.get("problems") or []],
                    timings={k: v for k, v in (record.get("timings") or {}).items() if isinstance(v, (int, float))})
    run = dict(record)
    run_dir = record.get("run_dir")
    if isinstance(run_dir, str) and run_dir:
        view.run_dir = run_dir
        folder = Path(run_dir)
        full = _read_json(folder / "record.json")
        if isinstance(full, dict):
            view.run_folder_found = True
            run = {**full, **{k: v for k, v in record.items() if v is not None}}
        if folder.is_dir():
            view.frames, view.instances = _images(folder)
    evidence = run.get("evidence") if isinstance(run.get("evidence"), dict) else {}
    steps = run.get("steps") if isinstance(run.get("steps"), list) else []
    view.evidence = _evidence_summary(evidence, steps)
    view.disagreements = _disagreements(steps)
    view.classes = _classes(view.caption, evidence)
    view.camera = _camera(evidence, view.caption)
    for key in ("fallback_reason", "llm_error", "backend_fallback_reason"):
        if run.get(key):
            view.notes.append(f"{key.replace('_', ' ')}: {run[key]}")
    view.notes += [str(e) for e in run.get("errors") or []]
    return view


def _latest_records(path: Path) -> list[dict]:
    latest: dict[tuple, dict] = {}
    for n, rec in json_lines(path):
        if not isinstance(rec, dict) or "path" not in rec:
            raise InputError(f"{path}:{n}: not a batch record (no \"path\")")
        latest[(rec.get("path"), rec.get("content_hash"), rec.get("shot"), rec.get("part"))] = rec
    return list(latest.values())


def collect(source: Path, max_clips: int | None = None) -> list[ClipView]:
    """The clips of a records file (the latest record of each) or of one run folder."""
    source = Path(source)
    if source.is_dir():
        record = _read_json(source / "record.json")
        if not isinstance(record, dict):
            raise InputError(f"{source}: not a run folder (it has no readable record.json)")
        record["run_dir"] = str(source)
        return [clip_view(record)]
    if not source.is_file():
        raise InputError(f"{source}: no such records file or run folder")
    records = _latest_records(source)
    if max_clips is not None:
        if max_clips < 1:
            raise InputError("--max-clips must be at least 1")
        records = records[:max_clips]
    return [clip_view(r) for r in records]
