"""The commands that work on captions and records rather than caption clips: ``export``,
``flatten``, ``trace show``, ``validate``, ``schema``, ``plugins`` and ``demo-clip``."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from agent.cli.trace import print_caption, read_trace, show_trace
from agent.core.caption import json_schema, load_captions
from agent.core.config import load_settings
from agent.core.errors import EXIT_INVALID, EXIT_OK, EXIT_STORAGE, AgentError, InputError
from agent.core.flatten import DEFAULT_TOKENIZER, flatten, make_counter
from agent.run.export import export_records
from agent.run.plugins import load_plugins
from agent.run.validate import check_items, read_items, run_evidence
from agent.testing.synthetic import random_scene, render_clip, write_ground_truth


def cmd_export(args) -> int:
    """Batch records as a training set in the kind ``--to`` (or the output's name) asks for."""
    result = export_records(args.records, args.output, args.to, ok_only=args.ok_only, shard_size=args.shard_size,
                            with_clips=args.with_clips, skip_changed=args.skip_changed,
                            text_tokens=args.text_tokens, tokenizer=args.tokenizer,
                            sections=load_plugins().sections)  # the text column reads plugin sections as they say
    files = result.files  # the names written (a .tar or % pattern becomes numbered shards)
    where = args.output if not files else files[0] if len(files) == 1 else \
        f"{len(files)} shards, {files[0].name} to {files[-1].name} in {files[0].parent}"
    print(f"wrote {result.samples} sample(s) to {where} ({result.kind})", file=sys.stderr)
    if result.skipped:
        print(f"left out {len(result.skipped)} clip(s) that changed since they were captioned "
              f"(first: {result.skipped[0]})", file=sys.stderr)
    return EXIT_OK


def cmd_flatten(args) -> int:
    """One caption as one paragraph within the token budget."""
    if args.token_budget < 8:
        raise InputError("--token-budget must be at least 8")
    items = load_captions(args.caption)
    if len(items) != 1:
        raise InputError(f"{args.caption}: flatten takes one caption, the file holds {len(items)}")
    counter, how = make_counter(args.tokenizer or DEFAULT_TOKENIZER)
    result = flatten(items[0][1], args.token_budget, counter, how, load_plugins().sections)  # as plugin sections read
    if args.json:
        print(json.dumps({"text": result.text, "tokens": result.tokens, "budget": result.budget,
                          "counted_with": result.counted_with, "dropped": result.dropped,
                          "truncated": result.truncated}, indent=2, ensure_ascii=False))
    else:
        print(result.text)
        print(result.report(), file=sys.stderr)
    return EXIT_OK


def cmd_trace(args) -> int:
    """``trace show``: a saved trace rendered, then its caption."""
    caption = show_trace(read_trace(args.file))
    if caption is not None:
        print_caption(caption)
    return EXIT_OK


def cmd_validate(args) -> int:
    """Each problem found in the captions a line on stdout, a summary on stderr; exit 1 when any is invalid."""
    items = read_items(args.file)
    if not items:
        raise InputError(f"{args.file}: holds no captions")
    evidence = run_evidence(args.run) if args.run else None
    findings = check_items(items, wording=args.wording, evidence=evidence, disabled=args.no_plugin)
    for f in findings:  # the file once, then where in it, the field and what is wrong
        print(f"{args.file}: {f.where}: {f.text}" if f.where else f"{args.file}: {f.text}")
    bad = len({f.where for f in findings})
    with_evidence = sum(1 for i in items if i.evidence is not None) if evidence is None else len(items)
    what = "schema and wording" if args.wording else "schema"
    checked = f"{what}" + (f"; evidence for {with_evidence}" if with_evidence else "")
    if findings:
        print(f"{bad} of {len(items)} caption(s) invalid ({len(findings)} problem(s); checked {checked})",
              file=sys.stderr)
        return EXIT_INVALID
    print(f"{len(items)} caption(s) valid (checked {checked})", file=sys.stderr)
    return EXIT_OK


def cmd_schema(args) -> int:
    """The caption's JSON Schema, with the plugins' sections."""
    load_plugins()  # plugins may add sections
    print(json.dumps(json_schema(load_plugins().sections), indent=2))
    return EXIT_OK


def cmd_plugins(args) -> int:
    """The plugins, what each provides and its status, as a table or JSON."""
    settings = load_settings()
    plugins = load_plugins(settings.disabled_plugins)
    plugins.tools(settings)
    rows = [_plugin_row(info, settings) for info in plugins.infos]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    table = Table("plugin", "source", "provides", "status")
    for r in rows:
        provides = [*r["tools"], *(f"condition {c}" for c in r["conditions"]),
                    *(f"--llm {b}" for b in r["chat_backends"]), *(f"section {s}" for s in r["sections"]),
                    *(f"--format {f}" for f in r["formats"]), *(f"reader {n}" for n in r["condition_readers"])]
        if not provides and r["hooks"]:  # a plugin that extends rather than adds: the hooks it implements
            provides = [f"hooks {', '.join(r['hooks'])}"]
        table.add_row(r["name"], r["source"], ", ".join(provides) or "-", r.get("error") or r.get("status", "ok"))
    Console().print(table)
    return EXIT_OK


def _plugin_row(info, settings) -> dict:
    """One plugin's entry in ``plugins --json``: what it provides, and its error or why it is off."""
    row = {"name": info.name, "source": info.source, "tools": info.tools, "conditions": info.conditions,
           "chat_backends": info.backends, "sections": info.sections, "formats": info.formats,
           "condition_readers": info.readers, "hooks": info.hooks}
    off = [name for name in info.conditions if name not in settings.conditions]
    if info.error:
        row["error"] = info.error
    elif off and not info.tools:
        row["status"] = f"off (enable with {', '.join(f'--condition {name}' for name in off)})"
    return row


def cmd_demo_clip(args) -> int:
    """A synthetic clip and its ground truth (next to it, .json)."""
    out = args.output
    if out.suffix.lower() not in (".mp4", ".mkv", ".mov") or out.is_dir():
        raise InputError(f"demo-clip {out}: name a video file to write (.mp4, .mkv or .mov)")
    if args.objects is not None and not 1 <= args.objects <= 3:
        raise InputError(f"--objects {args.objects}: give 1 to 3")
    if not args.duration > 0:
        raise InputError(f"--duration {args.duration:g}: give a length above 0 seconds")
    if args.noise is not None and not args.noise >= 0:
        raise InputError(f"--noise {args.noise:g}: give 0 or more")
    try:
        spec = random_scene(args.seed, args.camera, speed=args.speed, n_objects=args.objects, noise=args.noise,
                            duration_s=args.duration)
    except (ValueError, KeyError) as e:
        raise InputError(f"demo-clip: {e}")
    try:
        truth = render_clip(spec, out)
        gt_path = out.with_suffix(".json")
        write_ground_truth(truth, gt_path)
    except OSError as e:
        raise AgentError(f"demo-clip {out}: cannot write it ({e.strerror or e})", exit_code=EXIT_STORAGE) from None
    print(f"wrote {args.output} and {gt_path} (camera: {truth.camera}; "
          f"{len(truth.objects)} object(s): {', '.join(o.colour + ' ' + o.shape for o in truth.objects)})")
    return EXIT_OK
