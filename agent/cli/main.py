"""``python -m agent``: caption a clip, validate captions, print the schema, list plugins, make test clips."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from agent.core.errors import EXIT_BACKEND, EXIT_INPUT, EXIT_INVALID, EXIT_OK, EXIT_STORAGE, AgentError, InputError, storage_error
from agent.core.secrets import redact


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agent", description="Instance-aware structured video captions.")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="caption one video")
    run.add_argument("video", type=Path)
    run.add_argument("-o", "--output", type=Path, help="also write the caption to this JSON file")
    run.add_argument("--llm", help="'offline' (default), 'openai:MODEL', or a model name with --base-url")
    run.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    run.add_argument("--temperature", type=float, help="sampling temperature of the LLM (default 0)")
    run.add_argument("--max-tokens", type=int, help="most tokens per LLM reply (default 2048)")
    run.add_argument("--timeout", type=float, help="seconds to wait for one LLM reply (default 120)")
    run.add_argument("--retries", type=int, help="retries on HTTP 429/5xx, time-outs and dropped connections (default 2)")
    run.add_argument("--no-images", dest="send_images", action="store_false", default=None,
                     help="send the LLM no images (for text-only servers)")
    run.add_argument("--max-calls-per-turn", type=int, help="most tool calls in one model reply (default 16)")
    run.add_argument("--max-tool-calls", type=int, help="most tool calls in one run (default 64)")
    run.add_argument("--frames", type=int, help="frames sampled uniformly (default 8)")
    run.add_argument("--max-instances", type=int, help="most main instances (default 3)")
    run.add_argument("--background", choices=["blur", "pixelate"], help="how instance views hide the background")
    run.add_argument("--runs-dir", type=Path, help="where run folders go (default ./runs)")
    run.add_argument("--backend", choices=["auto", "neural", "packaged", "classical"],
                     help="detection and segmentation: neural (YOLO + SAM2) where weights exist, or classical")
    run.add_argument("--device", help="auto (default: cuda, mps, cpu) or a torch device such as cuda:1")
    run.add_argument("--yolo-weights", help="YOLO weights path or name (default yolo11n.pt)")
    run.add_argument("--class-hint", action="append", dest="class_hints", metavar="CLASS",
                     help="a class for open-vocabulary YOLO (YOLO-World, YOLOE); repeatable")
    run.add_argument("--sam2-model", choices=["tiny", "small", "base_plus", "large"], help="SAM2.1 size (default tiny)")
    run.add_argument("--sam2-checkpoint", help="SAM2 checkpoint path (or a hub id with --allow-downloads)")
    run.add_argument("--describer", metavar="hf:MODEL",
                     help="a local vision-language model (transformers) writes the caption's free text")
    run.add_argument("--condition", action="append", dest="conditions", metavar="NAME",
                     help="add an optional condition (depth, pose, film_language, or a plugin's: python -m agent "
                          "plugins): its tools run and its section joins the caption (repeatable)")
    run.add_argument("--format", dest="output_format", metavar="FORMAT",
                     help="output format: instancecap (default), any2caption, cinecap, dense, or a plugin's")
    run.add_argument("--allow-downloads", action="store_true", default=None,
                     help="let ultralytics and the Hugging Face hub download missing weights")
    run.add_argument("--no-plugin", action="append", default=[], metavar="NAME", help="disable a plugin (repeatable)")
    run.add_argument("-q", "--quiet", action="store_true", help="no trace on stderr")
    run.add_argument("--step", action="store_true", help="pause before each tool call: approve, skip, edit or stop")
    run.add_argument("--resume", action="store_true", help="continue a run stopped in --step mode")
    run.add_argument("--json", action="store_true", help="print the run's events as JSON lines on stdout")
    run.add_argument("--trace", type=Path, metavar="FILE", help="also save the run's events as JSON lines here")
    _shot_options(run)

    val = sub.add_parser("validate", help="validate captions (.json, a .json list, or .jsonl)")
    val.add_argument("file", type=Path)

    sub.add_parser("schema", help="print the caption's JSON Schema")

    batch = sub.add_parser("batch", help="caption many clips into a JSONL of records (resumable)")
    batch.add_argument("input", help="a folder, a glob (quote it), a clip, or a manifest (.jsonl or .csv)")
    batch.add_argument("--out", type=Path, required=True, help="the JSONL of records; re-running resumes it")
    batch.add_argument("--workers", type=int, default=1, help="worker processes (or Ray actors per stage)")
    batch.add_argument("--engine", choices=["local", "ray"], default="local")
    batch.add_argument("--ray-address", help="attach to a running Ray cluster (default: start Ray locally)")
    batch.add_argument("--retry-failed", action="store_true", help="run the clips recorded as failed again")
    batch.add_argument("--no-cache", action="store_true", help="do not read or write the tool cache")
    batch.add_argument("--cache", type=Path, help="tool cache file (default: next to --out)")
    batch.add_argument("--llm", help="as for run")
    batch.add_argument("--base-url", help="as for run")
    batch.add_argument("--backend", choices=["auto", "neural", "packaged", "classical"])
    batch.add_argument("--frames", type=int)
    batch.add_argument("--runs-dir", type=Path)
    _shot_options(batch)

    export = sub.add_parser("export", help="InstanceVid-style JSON (a list of captions) from batch records")
    export.add_argument("records", type=Path)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--ok-only", action="store_true", help="leave out degraded captions")

    enhance = sub.add_parser("enhance", help="expand a short prompt into a structured caption (needs an LLM)")
    enhance.add_argument("prompt")
    enhance.add_argument("-o", "--output", type=Path, help="also write the caption to this JSON file")
    enhance.add_argument("--llm", help="'openai:MODEL', or a model name with --base-url")
    enhance.add_argument("--base-url")
    enhance.add_argument("--max-instances", type=int, help="most instances (default 3)")
    enhance.add_argument("--format", dest="output_format", metavar="FORMAT",
                         help="output format: instancecap (default), any2caption, dense, or a plugin's")
    from plugins.conditions import add_condition_flags

    add_condition_flags(enhance)  # --camera-path, --pose, --image, --style, --depth, --reference-video

    flat = sub.add_parser("flatten", help="one paragraph from a caption, within a text encoder's token budget")
    flat.add_argument("caption", type=Path)
    flat.add_argument("--max-tokens", type=int, default=226, help="the budget (CogVideoX's T5 reads 226)")
    flat.add_argument("--tokenizer", default=None,
                      help="tokenizer id or folder to count with, loaded offline (default google/t5-v1_1-xxl)")
    flat.add_argument("--json", action="store_true", help="print text, tokens, how they were counted, what was dropped")

    trace = sub.add_parser("trace", help="work with saved traces")
    trace_sub = trace.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    show = trace_sub.add_parser("show", help="render a saved trace (a run's trace.jsonl, or a --trace file)")
    show.add_argument("file", type=Path)

    plug = sub.add_parser("plugins", help="list plugins and the tools they register")
    plug.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo-clip", help="render a synthetic clip with ground truth")
    demo.add_argument("output", type=Path)
    demo.add_argument("--camera", default="pan left", help="e.g. 'static', 'zoom in', 'pan left and tilt up'")
    demo.add_argument("--speed", choices=["slow", "medium", "fast"], default="medium")
    demo.add_argument("--objects", type=int, default=None, help="1-3 (default: chosen by the seed)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--duration", type=float, default=4.0)
    demo.add_argument("--noise", type=float, default=None)
    _plugin_commands(sub)
    return p


def _shot_options(p) -> None:
    g = p.add_argument_group("shots as samples")
    g.add_argument("--split-shots", action="store_true",
                   help="caption each shot as its own sample (one record per shot: clip, shot, start and end)")
    g.add_argument("--min-shot", type=float, default=0.0, metavar="SECONDS", help="leave out shots shorter than this")
    g.add_argument("--max-shot", type=float, default=None, metavar="SECONDS",
                   help="split longer shots into equal parts no longer than this")
    g.add_argument("--write-shots", type=Path, metavar="DIR",
                   help="keep each shot as its own clip here (video only; else they are removed after captioning)")
    g.add_argument("--cut", choices=["auto", "copy", "encode"], default="auto",
                   help="auto (default): copy the packets of a shot that starts on a keyframe, re-encode the others "
                        "(libx264, crf 18); copy: refuse shots that cannot be cut without re-encoding; encode: always")


def _shot_opts(args):
    from agent.run.batch import ShotOptions

    used = [f for f, v in (("--min-shot", args.min_shot != 0.0), ("--max-shot", args.max_shot is not None),
                           ("--write-shots", args.write_shots is not None), ("--cut", args.cut != "auto")) if v]
    if not args.split_shots:
        if used:
            raise InputError(f"{', '.join(used)}: only with --split-shots")
        return None
    return ShotOptions(args.min_shot, args.max_shot, args.write_shots, args.cut).check()


def _plugin_commands(sub) -> None:
    """Commands that plugins add through ``register_commands``; a plugin that fails is named by
    ``python -m agent plugins`` and the built-in commands still work."""
    from agent.run.plugins import load_plugins

    try:
        load_plugins().add_commands(sub)
    except AgentError:
        pass


def cmd_run(args) -> int:
    from agent.core.config import load_settings
    from agent.run.runner import caption_video
    from agent.cli.trace import print_caption

    disabled = list(args.no_plugin)
    settings = load_settings(llm=args.llm, base_url=args.base_url, temperature=args.temperature,
                             max_tokens=args.max_tokens, timeout_s=args.timeout, retries=args.retries,
                             send_images=args.send_images, max_calls_per_turn=args.max_calls_per_turn,
                             max_tool_calls=args.max_tool_calls,
                             frames=args.frames, backend=args.backend, device=args.device,
                             yolo_weights=args.yolo_weights, class_hints=args.class_hints,
                             sam2_model=args.sam2_model, sam2_checkpoint=args.sam2_checkpoint,
                             allow_downloads=args.allow_downloads, conditions=args.conditions,
                             describer=args.describer,
                             output_format=args.output_format,
                             max_instances=args.max_instances, background=args.background,
                             runs_dir=args.runs_dir)
    if disabled:
        settings.disabled_plugins = [*settings.disabled_plugins, *disabled]
    shots = _shot_opts(args)
    if shots is not None:
        return _run_shots(args, settings, shots)
    listeners = _listeners(args)
    try:
        step = None
        if args.step:
            from agent.cli.stepper import StepPrompt

            step = StepPrompt()
        record = caption_video(args.video, settings, listeners=listeners, debug=args.debug, step=step,
                               resume=args.resume)
    finally:
        for listener in listeners:
            listener.close()
    if record.status == "stopped":
        again = " --step" if args.step else ""
        print(f"{record.fallback_reason}; the run is saved in {record.run_dir}. Resume with: "
              f"python -m agent run {args.video} --resume{again}", file=sys.stderr)
        return EXIT_OK
    if record.caption is None:
        raise AgentError(f"{args.video}: no caption was produced ({record.fallback_reason or 'unknown reason'}); "
                         f"the run record is {record.run_dir}/record.json")
    output = record.formatted if record.formatted is not None else record.caption
    text = output if isinstance(output, str) else json.dumps(output, indent=2, ensure_ascii=False)
    if not args.json:  # with --json the caption is in the 'caption' event
        if isinstance(output, str):
            print(output)
        else:
            print_caption(output)
    if not args.quiet and not args.json:
        print(f"run record: {record.run_dir}/record.json", file=sys.stderr)
    code = EXIT_OK
    if args.output:  # after the caption is out and recorded: a bad -o loses nothing
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            print(f"error: {storage_error(e, 'the caption (-o)').message}; the caption is above and in "
                  f"{record.run_dir}/record.json", file=sys.stderr)
            code = EXIT_STORAGE
    if record.status == "failed":
        print(f"error: the run failed inside ({record.fallback_reason}); the caption above was composed "
              "from the tools' evidence", file=sys.stderr)
        return EXIT_BACKEND
    if record.llm_error:
        # the caption composed from the evidence is written above; the exit status says the model failed
        print(f"error: {record.llm_error}", file=sys.stderr)
        return EXIT_BACKEND
    return code


def _run_shots(args, settings, opts) -> int:
    """``run --split-shots``: each shot of one clip captioned as its own sample."""
    from agent.run.batch import caption_shots
    from agent.run.media import content_hash, probe
    from agent.cli.trace import print_caption

    if args.step or args.resume:
        raise InputError("--split-shots cannot be combined with --step or --resume")
    probe(args.video)  # a clip we cannot read is one line before anything runs
    notes: list[str] = []
    records = []
    for record in caption_shots(str(args.video), content_hash(Path(args.video)), settings.model_dump_json(), None,
                                opts.to_json(), on_note=notes.append):
        if record.get("status") == "storage-failure":
            raise AgentError(record["error"], exit_code=EXIT_STORAGE)
        if record.get("shot") is None:  # the clip itself failed
            raise AgentError(record.get("error") or "the clip could not be cut into shots")
        records.append(record)
        span = f"shot {record['shot']}" + (f" part {record['part']}" if record.get("part") else "")
        where = f"{record['start_s']:.2f}-{record['end_s']:.2f} s"
        if not args.quiet:
            print(f"{span} ({where}, {record['cut']}): {record['status']}"
                  + (f" ({record.get('error')})" if record["status"] == "failed" else ""), file=sys.stderr)
        if record.get("caption") and not args.json:
            print_caption(record["caption"])
        elif record.get("caption"):
            print(json.dumps({"shot": record["shot"], "part": record.get("part"), "start_s": record["start_s"],
                              "end_s": record["end_s"], "caption": record["caption"]}, ensure_ascii=False))
    for note in notes:
        print(note, file=sys.stderr)
    if not records:
        return EXIT_INPUT
    if args.output:
        out = [{k: r.get(k) for k in ("shot", "part", "start_s", "end_s", "start_frame", "end_frame", "status",
                                      "shot_path", "cut", "caption", "error")} for r in records]
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as e:
            print(f"error: {storage_error(e, 'the captions (-o)').message}", file=sys.stderr)
            return EXIT_STORAGE
    return EXIT_BACKEND if any(r["status"] == "failed" for r in records) else EXIT_OK


def _listeners(args) -> list:
    """JSON lines on stdout with --json; otherwise a live view on a terminal, lines when piped."""
    from rich.console import Console

    from agent.cli.trace import LiveTrace, TracePrinter
    from agent.core.jsonl import JsonlSink

    out: list = []
    if args.trace:
        out.append(JsonlSink(args.trace))
    if args.json:
        out.append(JsonlSink(sys.stdout))
    elif not args.quiet:
        console = Console(stderr=True, highlight=False)
        live = console.is_terminal and not args.step  # --step reads answers from the terminal
        out.append(LiveTrace(console) if live else TracePrinter(console))
    return out


def cmd_batch(args) -> int:
    from rich.console import Console

    from agent.run.batch import expand_inputs, run_batch
    from agent.core.config import load_settings

    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    cpus = os.cpu_count() or 1
    if args.workers > cpus:
        print(f"warning: --workers {args.workers} is more than this machine's {cpus} CPU(s); using {cpus}",
              file=sys.stderr)
        args.workers = cpus
    settings = load_settings(llm=args.llm, base_url=args.base_url, backend=args.backend, frames=args.frames,
                             runs_dir=args.runs_dir)
    shots = _shot_opts(args)
    clips = expand_inputs(args.input)
    cache = None if args.no_cache else (args.cache or args.out.with_name(args.out.stem + ".tool-cache.sqlite"))
    console = Console(stderr=True, highlight=False)
    print(f"{len(clips)} clip(s) from {args.input}; records in {args.out}"
          + (f"; tool cache {cache}" if cache else ""), file=sys.stderr)
    progress = None
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        task = progress.add_task("captioning", total=None)
        progress.start()

    def on_record(record: dict, done: int, total: int) -> None:
        line = f"[{done}] {record['status']:<8} {record['path']}" if shots is not None else \
            f"[{done}/{total}] {record['status']:<8} {record['path']}"
        if record.get("shot") is not None:
            line += f" shot {record['shot']}" + (f" part {record['part']}" if record.get("part") else "") + \
                f" ({record['start_s']:.2f}-{record['end_s']:.2f} s)"
        if record["status"] == "failed":
            line += f"  ({record.get('error')})"
        if progress is not None:
            progress.update(task, completed=done, total=None if shots is not None else total)
            if record["status"] != "ok":
                progress.console.print(line, style="yellow" if record["status"] == "degraded" else "red")
        else:
            print(line, file=sys.stderr, flush=True)

    try:
        summary = run_batch(clips, args.out, settings, workers=args.workers, retry_failed=args.retry_failed,
                            cache_path=cache, engine=args.engine, ray_address=args.ray_address, on_record=on_record,
                            shots=shots, on_note=lambda note: print(note, file=sys.stderr, flush=True))
    finally:
        if progress is not None:
            progress.stop()
    parts = ", ".join(f"{n} {status}" for status, n in sorted(summary.done.items())) or "nothing new"
    notes = []
    if summary.skipped:
        notes.append(f"{summary.skipped} already recorded")
    if summary.repaired:
        notes.append("a torn last line from an interrupted run was cut off")
    if summary.dropped_failed:
        notes.append(f"{summary.dropped_failed} failed record(s) retried")
    print(f"{parts} in {summary.seconds:.1f}s" + (f" ({'; '.join(notes)})" if notes else ""), file=sys.stderr)
    failed = summary.in_file.get("failed", 0)
    if summary.in_file != summary.done:  # earlier runs' records count too: say what the file holds
        held = ", ".join(f"{n} {status}" for status, n in sorted(summary.in_file.items()))
        print(f"{args.out} holds {held}", file=sys.stderr)
    if failed:
        what = "record(s)" if shots is not None else "clip(s)"
        print(f"{failed} {what} failed; run again with --retry-failed to retry them", file=sys.stderr)
    return EXIT_BACKEND if failed else EXIT_OK


def cmd_export(args) -> int:
    from agent.run.batch import export_captions

    n = export_captions(args.records, args.out, include_degraded=not args.ok_only)
    print(f"wrote {n} caption(s) to {args.out}", file=sys.stderr)
    return EXIT_OK


def enhance_format(name: str | None):
    """The formatter for ``enhance --format NAME`` (None: the caption as it is), or a one-line InputError."""
    from agent.run.plugins import load_plugins

    if name in (None, "instancecap"):
        return None
    formats = load_plugins().output_formats()
    if name not in formats:
        raise InputError(f"--format {name}: not a known format (known: {', '.join(sorted(formats))})")
    return formats[name]


def cmd_enhance(args) -> int:
    from agent.core.config import load_settings
    from agent.run.enhance import enhance_prompt
    from agent.cli.trace import print_caption

    settings = load_settings(llm=args.llm, base_url=args.base_url, max_instances=args.max_instances)
    from agent.run.plugins import load_plugins
    from plugins.conditions import condition_files

    formatter = enhance_format(args.output_format)
    files, options = condition_files(args)
    conditions = load_plugins().read_conditions(files, options) if files else None
    result = enhance_prompt(args.prompt, settings, conditions)
    out = formatter(result.caption, conditions or {}) if formatter else result.caption
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    if isinstance(out, dict):
        print_caption(out)
    else:
        print(out)
    print(f"{result.calls} model call(s), {result.repairs} repair(s)", file=sys.stderr)
    if result.problems:
        for p in result.problems:
            print(f"still invalid: {p}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def cmd_flatten(args) -> int:
    from agent.core.caption import load_captions
    from agent.core.flatten import DEFAULT_TOKENIZER, flatten, make_counter
    from agent.run.plugins import load_plugins

    load_plugins()  # plugin sections say how they read and how much they matter
    if args.max_tokens < 8:
        raise InputError("--max-tokens must be at least 8")
    items = load_captions(args.caption)
    if len(items) != 1:
        raise InputError(f"{args.caption}: flatten takes one caption, the file holds {len(items)}")
    counter, how = make_counter(args.tokenizer or DEFAULT_TOKENIZER)
    result = flatten(items[0][1], args.max_tokens, counter, how)
    if args.json:
        print(json.dumps({"text": result.text, "tokens": result.tokens, "budget": result.budget,
                          "counted_with": result.counted_with, "dropped": result.dropped,
                          "truncated": result.truncated}, indent=2, ensure_ascii=False))
    else:
        print(result.text)
        print(result.report(), file=sys.stderr)
    return EXIT_OK


def cmd_trace(args) -> int:
    from agent.cli.trace import print_caption, read_trace, show_trace

    caption = show_trace(read_trace(args.file))
    if caption is not None:
        print_caption(caption)
    return EXIT_OK


def cmd_validate(args) -> int:
    from agent.core.caption import load_captions, validate_raw
    from agent.run.plugins import load_plugins

    load_plugins()  # plugin sections are part of what a caption may hold
    items = load_captions(args.file)
    if not items:
        raise InputError(f"{args.file}: holds no captions")
    bad = 0
    for label, raw in items:
        _, errors = validate_raw(raw)
        if errors:
            bad += 1
            for e in errors:
                print(f"{args.file}: {label}: {e}")
    if bad:
        print(f"{bad} of {len(items)} caption(s) invalid", file=sys.stderr)
        return EXIT_INVALID
    print(f"{len(items)} caption(s) valid", file=sys.stderr)
    return EXIT_OK


def cmd_schema(args) -> int:
    from agent.core.caption import json_schema
    from agent.run.plugins import load_plugins

    load_plugins()  # plugins may add sections
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_plugins(args) -> int:
    from agent.core.config import load_settings
    from agent.run.plugins import load_plugins

    settings = load_settings()
    plugins = load_plugins(settings.disabled_plugins)
    plugins.tools(settings)
    rows = []
    for i in plugins.infos:
        row = {"name": i.name, "source": i.source, "tools": i.tools, "conditions": i.conditions,
               "chat_backends": i.backends}
        off = [name for name in i.conditions if name not in settings.conditions]
        if i.error:
            row["error"] = i.error
        elif off and not i.tools:
            row["status"] = f"off (enable with {', '.join(f'--condition {name}' for name in off)})"
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table("plugin", "source", "provides", "status")
    for r in rows:
        provides = [*r["tools"], *(f"condition {c}" for c in r["conditions"]),
                    *(f"--llm {b}" for b in r["chat_backends"])]
        table.add_row(r["name"], r["source"], ", ".join(provides) or "-", r.get("error") or r.get("status", "ok"))
    Console().print(table)
    return EXIT_OK


def cmd_demo_clip(args) -> int:
    from agent.testing.synthetic import random_scene, render_clip, write_ground_truth

    try:
        spec = random_scene(args.seed, args.camera, speed=args.speed, n_objects=args.objects, noise=args.noise,
                            duration_s=args.duration)
    except (ValueError, KeyError) as e:
        raise InputError(f"demo-clip: {e}")
    truth = render_clip(spec, args.output)
    gt_path = args.output.with_suffix(".json")
    write_ground_truth(truth, gt_path)
    print(f"wrote {args.output} and {gt_path} (camera: {truth.camera}; "
          f"{len(truth.objects)} object(s): {', '.join(o.colour + ' ' + o.shape for o in truth.objects)})")
    return EXIT_OK


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "schema": cmd_schema, "plugins": cmd_plugins, "trace": cmd_trace,
            "batch": cmd_batch, "export": cmd_export, "enhance": cmd_enhance, "flatten": cmd_flatten,
            "demo-clip": cmd_demo_clip}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(name)s: %(message)s")
    try:
        if args.command not in COMMANDS and hasattr(args, "handler"):
            from agent.run.plugins import load_plugins

            args.plugins = load_plugins()  # a plugin's command reaches the other plugins through it
            return int(args.handler(args) or 0)
        return COMMANDS[args.command](args)
    except AgentError as e:
        if args.debug:
            raise
        print(f"error: {redact(e.message)}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a file we had to write or read that the checks above did not foresee
        if args.debug:
            raise
        print(f"error: {redact(storage_error(e, 'a file').message)}", file=sys.stderr)
        return EXIT_STORAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
