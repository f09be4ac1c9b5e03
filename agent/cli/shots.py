"""Shots as samples: the ``--split-shots`` options of ``run`` and ``batch``, and ``run --split-shots``, which
captions each shot of one clip as its own sample."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.core.errors import EXIT_BACKEND, EXIT_INPUT, EXIT_OK, EXIT_STORAGE, AgentError, InputError, storage_error
from agent.run.batch import ShotOptions, caption_shots
from agent.run.media import content_hash, probe

SHOT_RECORD_KEYS = ("shot", "part", "start_s", "end_s", "start_frame", "end_frame", "status", "shot_path", "cut",
                    "caption", "error")


def shot_options_from_args(args) -> ShotOptions | None:
    """The checked shot options with ``--split-shots``, else None (and the other shot flags are refused)."""
    used = [f for f, v in (("--min-shot", args.min_shot != 0.0), ("--max-shot", args.max_shot is not None),
                           ("--write-shots", args.write_shots is not None), ("--cut", args.cut != "auto")) if v]
    if not args.split_shots:
        if used:
            raise InputError(f"{', '.join(used)}: only with --split-shots")
        return None
    return ShotOptions(args.min_shot, args.max_shot, args.write_shots, args.cut).check()


def shot_output(record: dict):
    """A shot's caption in the chosen format (its record's ``output``), else the InstanceCap caption."""
    output = record.get("output")
    return output if output is not None else record.get("caption")


def run_shots(args, settings, opts: ShotOptions) -> int:
    """``run --split-shots``: each shot of one clip captioned as its own sample."""
    if args.step or args.resume:
        raise InputError("--split-shots cannot be combined with --step or --resume")
    probe(args.video)  # a clip we cannot read is one line before anything runs
    notes: list[str] = []
    records = []
    for record in caption_shots(str(args.video), content_hash(Path(args.video)), settings, None,
                                opts, on_note=notes.append):
        if record.get("status") == "storage-failure":
            raise AgentError(record["error"], exit_code=EXIT_STORAGE)
        if record.get("shot") is None:  # the clip itself failed
            raise AgentError(record.get("error") or "the clip could not be cut into shots")
        records.append(record)
        _report_shot(args, settings, record)
    for note in notes:
        print(note, file=sys.stderr)
    if not records:
        return EXIT_INPUT
    _print_shot_outputs(args, records)
    if args.output and not _write_shot_captions(args, settings, records):
        return EXIT_STORAGE
    return EXIT_BACKEND if any(r["status"] == "failed" for r in records) else EXIT_OK


def _report_shot(args, settings, record: dict) -> None:
    """A shot as it is captioned: a line on stderr (unless quiet), and its JSON line on stdout with --json."""
    span = f"shot {record['shot']}" + (f" part {record['part']}" if record.get("part") else "")
    where = f"{record['start_s']:.2f}-{record['end_s']:.2f} s"
    if not args.quiet:
        print(f"{span} ({where}, {record['cut']}): {record['status']}"
              + (f" ({record.get('error')})" if record["status"] == "failed" else ""), file=sys.stderr)
    if record.get("caption") and args.json:  # one JSON line per shot as it is captioned
        print(json.dumps({"shot": record["shot"], "part": record.get("part"), "start_s": record["start_s"],
                          "end_s": record["end_s"], "format": settings.output_format,
                          "output": shot_output(record)}, ensure_ascii=False))


def _print_shot_outputs(args, records: list[dict]) -> None:
    """Without --json, stdout holds one value: a JSON list, or one paragraph a line for text."""
    outputs = [shot_output(r) for r in records if r.get("caption")]
    if not args.json and outputs:
        if all(isinstance(o, str) for o in outputs):
            print("\n".join(outputs))
        else:
            print(json.dumps(outputs, indent=2, ensure_ascii=False))


def _write_shot_captions(args, settings, records: list[dict]) -> bool:
    """The shots' records and outputs as a JSON list in ``-o``; False (and the error said) when it cannot be
    written."""
    out = [{**{k: r.get(k) for k in SHOT_RECORD_KEYS}, "format": settings.output_format, "output": shot_output(r)}
           for r in records]
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        print(f"error: {storage_error(e, 'the captions (-o)').message}", file=sys.stderr)
        return False
    return True
