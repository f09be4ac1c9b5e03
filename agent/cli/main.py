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


def prog_name(argv0: str | None = None) -> str:
    """The program name as the user typed it: ``python -m agent`` or the script's name."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    return "python -m agent" if name in ("", "__main__.py", "-c") else name


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("instance-agent")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _output_flag(p, what: str, required: bool = False) -> None:
    p.add_argument("-o", "--output", "--out", dest="output", type=Path, required=required, metavar="PATH", help=what)


def _parser(prog: str | None = None) -> argparse.ArgumentParser:
    from agent.cli.flags import add_settings_flags

    p = argparse.ArgumentParser(prog=prog or prog_name(), description="Instance-aware structured video captions.")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs (anywhere on the line)")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="caption one video", description="Caption one video.")
    run.add_argument("video", type=Path, help="the clip")
    _output_flag(run, "also write the caption to this file (.json for JSON formats, .txt for text)")
    run.add_argument("-q", "--quiet", action="store_true", help="no trace on stderr")
    run.add_argument("--step", action="store_true", help="pause before each tool call: approve, skip, edit or stop")
    run.add_argument("--resume", action="store_true", help="continue a run stopped in --step mode")
    run.add_argument("--json", action="store_true", help="print the run's events as JSON lines on stdout")
    run.add_argument("--trace", type=Path, metavar="FILE", help="also save the run's events as JSON lines here")
    _shot_options(run)
    add_settings_flags(run)

    val = sub.add_parser("validate", help="check captions: schema and wording rules, evidence with --run",
                         description="Check captions in any format this program writes (a caption, a list, "
                                     "batch records, an export): the schema and the wording rules, and the "
                                     "tools' evidence when a run folder or record is given or named by a record.")
    val.add_argument("file", type=Path, help="a caption (.json, any output format), a .json list, a .jsonl of "
                                             "captions or batch records, a run folder or its record.json")
    val.add_argument("--run", type=Path, metavar="RUN", help="a run folder (or its record.json) whose evidence "
                                                             "the caption is checked against")
    val.add_argument("--no-wording", dest="wording", action="store_false", help="check the schema only")
    val.add_argument("--no-plugin", action="append", default=[], metavar="NAME",
                     help="leave this plugin's sections and checks out (repeatable)")

    sub.add_parser("schema", help="print the caption's JSON Schema", description="Print the caption's JSON Schema "
                                                                                 "(with the plugins' sections).")

    batch = sub.add_parser("batch", help="caption many clips into a JSONL of records (resumable)",
                           description="Caption many clips into a JSONL of records; re-running resumes it.")
    batch.add_argument("input", help="a folder, a glob (quote it), a clip, or a manifest (.jsonl or .csv)")
    _output_flag(batch, "the JSONL of records; re-running resumes it", required=True)
    batch.add_argument("--workers", type=int, default=1, help="processes (or Ray actors per stage) for the vision "
                                                              "work (default 1)")
    batch.add_argument("--engine", choices=["local", "ray"], default="local", help="local processes (default) or "
                                                                                   "Ray Data stages")
    batch.add_argument("--ray-address", help="attach to a running Ray cluster (default: start Ray locally)")
    batch.add_argument("--retry-failed", action="store_true", help="run the clips recorded as failed again")
    batch.add_argument("--no-cache", action="store_true", help="do not read or write the tool cache")
    batch.add_argument("--cache", type=Path, metavar="FILE", help="tool cache file (default: next to the records)")
    batch.add_argument("-q", "--quiet", action="store_true", help="no line per clip, only the summary")
    _shot_options(batch)
    add_settings_flags(batch)

    export = sub.add_parser("export", help="batch records as JSON, parquet, a datasets folder or webdataset shards",
                            description="Batch records as a training set: one sample per clip (or shot), with "
                                        "path, content hash, status, format, output, caption, record and every "
                                        "manifest column.")
    export.add_argument("records", type=Path, help="the batch's JSONL of records")
    _output_flag(export, "where to write: FILE.json, FILE.parquet, a folder (datasets), FILE.tar or "
                         "shard-%%06d.tar (webdataset)", required=True)
    export.add_argument("--to", choices=["json", "instancevid", "parquet", "hf", "wds"],
                        help="the kind (default: from the output's name); instancevid: the bare caption list")
    export.add_argument("--ok-only", action="store_true", help="leave out degraded captions")
    export.add_argument("--shard-size", type=int, default=1000, metavar="N", help="samples per webdataset shard "
                                                                                  "(default 1000)")
    export.add_argument("--with-clips", action="store_true", help="webdataset: put each sample's clip in too (mp4)")
    from agent.cli.report import add_export_flags, add_report_command

    add_export_flags(export)  # --skip-changed, --text-tokens, --tokenizer

    enhance = sub.add_parser("enhance", help="expand a short prompt into a structured caption (needs an LLM)",
                             description="Expand a short prompt into a structured caption.")
    enhance.add_argument("prompt", help="the prompt")
    _output_flag(enhance, "also write the caption to this JSON file")
    enhance.add_argument("--llm", help="'openai:MODEL', or a model name with --base-url")
    enhance.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    enhance.add_argument("--max-instances", type=int, help="most instances (default 3)")
    enhance.add_argument("--format", dest="output_format", metavar="FORMAT",
                         help="output format: instancecap (default), any2caption, dense, or a plugin's")
    _plugin_options("enhance", enhance)  # the conditions plugin: --camera-path, --pose, --image, --style, ...

    flat = sub.add_parser("flatten", help="one paragraph from a caption, within a text encoder's token budget",
                          description="One paragraph from a caption, within a text encoder's token budget.")
    flat.add_argument("caption", type=Path, help="a caption file (.json)")
    flat.add_argument("--token-budget", "--max-tokens", dest="token_budget", type=int, default=226, metavar="N",
                      help="the most tokens of the paragraph (default 226: CogVideoX's T5 reads 226)")
    flat.add_argument("--tokenizer", default=None,
                      help="tokenizer id or folder to count with, loaded offline (default google/t5-v1_1-xxl)")
    flat.add_argument("--json", action="store_true", help="print text, tokens, how they were counted, what was dropped")

    trace = sub.add_parser("trace", help="work with saved traces", description="Work with saved traces.")
    trace_sub = trace.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    show = trace_sub.add_parser("show", help="render a saved trace (a run's trace.jsonl, or a --trace file)",
                                description="Render a saved trace.")
    show.add_argument("file", type=Path, help="a trace (JSON lines)")

    plug = sub.add_parser("plugins", help="list plugins and the tools they register",
                          description="List plugins and the tools they register.")
    plug.add_argument("--json", action="store_true", help="print the list as JSON")

    demo = sub.add_parser("demo-clip", help="render a synthetic clip with ground truth",
                          description="Render a synthetic clip and its ground truth (next to it, .json).")
    demo.add_argument("output", type=Path, help="the clip to write (.mp4)")
    demo.add_argument("--camera", default="pan left", help="e.g. 'static', 'zoom in', 'pan left and tilt up'")
    demo.add_argument("--speed", choices=["slow", "medium", "fast"], default="medium", help="camera speed")
    demo.add_argument("--objects", type=int, default=None, help="1-3 (default: chosen by the seed)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the scene (default 0)")
    demo.add_argument("--duration", type=float, default=4.0, help="seconds (default 4)")
    demo.add_argument("--noise", type=float, default=None, help="pixel noise level (default: chosen by the seed)")
    add_report_command(sub)
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


def _plugin_options(command: str, parser) -> None:
    """Options that plugins add to a built-in command (``add_command_options``)."""
    from agent.run.plugins import load_plugins

    try:
        load_plugins().add_command_options(command, parser)
    except AgentError:
        pass


def _plugin_commands(sub) -> None:
    """Commands that plugins add through ``register_commands``; a plugin that fails is named by
    ``python -m agent plugins`` and the built-in commands still work."""
    from agent.run.plugins import load_plugins

    try:
        load_plugins().add_commands(sub)
    except AgentError:
        pass


def cmd_run(args) -> int:
    from agent.cli.flags import settings_from_args
    from agent.run.runner import caption_video
    from agent.cli.trace import print_caption

    settings = settings_from_args(args)
    _refuse_run_outputs_among_inputs(args)
    shots = _shot_opts(args)
    if shots is not None:
        return _run_shots(args, settings, shots)
    if args.step and not sys.stdin.isatty():
        raise InputError("--step asks before each tool call and needs a terminal to answer on; stdin is not one "
                         "(run without --step, or from a terminal)")
    listeners = _listeners(args)
    try:
        step = None
        if args.step:
            from agent.cli.stepper import StepPrompt
            from agent.run.plugins import load_plugins

            tools = load_plugins(settings.disabled_plugins).tools(settings)
            step = StepPrompt(args_models={tool.name: tool.Args for tool in tools})
        with tools_print_to_stderr():  # the caption and --json own stdout
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
        target = output_path(args.output, output, settings.output_format)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text + "\n", encoding="utf-8")
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
        print(f"error: {record.llm_error}; the caption (status {record.status}) was composed from the tools' "
              "evidence, not written by the model", file=sys.stderr)
        return EXIT_BACKEND
    if record.status == "degraded":
        composed = sorted(f for f, source in (record.field_sources or {}).items() if source == "composed")
        if composed and settings.llm != "offline":
            print(f"degraded: the model's caption did not pass for {', '.join(composed)}; composed from the tools' "
                  f"evidence instead ({record.fallback_reason}); exit 3", file=sys.stderr)
            return EXIT_BACKEND
        print(f"degraded: {record.fallback_reason}", file=sys.stderr)
    return code


def _refuse_run_outputs_among_inputs(args) -> None:
    """``-o`` and ``--trace`` never overwrite the clip, the config file or each other."""
    from agent.run.batch import refuse_output_among_inputs

    inputs = [args.video, *_config_files()]
    if args.trace:
        refuse_output_among_inputs(args.trace, inputs, "--trace")
    if args.output:
        targets = {args.output, args.output.with_suffix(".txt"), args.output.with_suffix(".json")}
        for target in targets:  # output_path may move text or JSON next to the name given
            refuse_output_among_inputs(target, [*inputs, *([args.trace] if args.trace else [])])


def tools_print_to_stderr():
    """While a run writes machine output on stdout, what tools and plugins print goes to stderr."""
    import contextlib

    return contextlib.redirect_stdout(sys.stderr)


def output_path(path: Path, output, fmt: str) -> Path:
    """Where ``-o`` writes: the path given, but text never goes into a .json file (it goes next to it as
    .txt) and JSON never into a .txt file (it goes next to it as .json), so ``validate`` reads it back."""
    if isinstance(output, str) and path.suffix.lower() in (".json", ".jsonl"):
        target = path.with_suffix(".txt")
        print(f"note: --format {fmt} is text, not JSON: writing {target} instead of {path}", file=sys.stderr)
        return target
    if not isinstance(output, str) and path.suffix.lower() == ".txt":
        target = path.with_suffix(".json")
        print(f"note: --format {fmt} is JSON, not text: writing {target} instead of {path}", file=sys.stderr)
        return target
    return path


def _run_shots(args, settings, opts) -> int:
    """``run --split-shots``: each shot of one clip captioned as its own sample."""
    from agent.run.batch import caption_shots
    from agent.run.media import content_hash, probe

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
        if record.get("caption") and args.json:  # one JSON line per shot as it is captioned
            print(json.dumps({"shot": record["shot"], "part": record.get("part"), "start_s": record["start_s"],
                              "end_s": record["end_s"], "format": settings.output_format,
                              "output": _shot_output(record)}, ensure_ascii=False))
    for note in notes:
        print(note, file=sys.stderr)
    if not records:
        return EXIT_INPUT
    outputs = [_shot_output(r) for r in records if r.get("caption")]
    if not args.json and outputs:  # stdout holds one value: a JSON list, or one paragraph a line for text
        if all(isinstance(o, str) for o in outputs):
            print("\n".join(outputs))
        else:
            print(json.dumps(outputs, indent=2, ensure_ascii=False))
    if args.output:
        out = [{**{k: r.get(k) for k in ("shot", "part", "start_s", "end_s", "start_frame", "end_frame", "status",
                                         "shot_path", "cut", "caption", "error")},
                "format": settings.output_format, "output": _shot_output(r)} for r in records]
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as e:
            print(f"error: {storage_error(e, 'the captions (-o)').message}", file=sys.stderr)
            return EXIT_STORAGE
    return EXIT_BACKEND if any(r["status"] == "failed" for r in records) else EXIT_OK


def _shot_output(record: dict):
    """A shot's caption in the chosen format (its record's ``output``), else the InstanceCap caption."""
    output = record.get("output")
    return output if output is not None else record.get("caption")


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

    from agent.cli.flags import settings_from_args
    from agent.run.batch import refuse_output_among_inputs, run_batch, scan_inputs
    from agent.run.records_file import check_is_records_file
    from agent.run.plugins import load_plugins

    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    cpus = os.cpu_count() or 1
    if args.workers > cpus:
        print(f"warning: --workers {args.workers} is more than this machine's {cpus} CPU(s); using {cpus}",
              file=sys.stderr)
        args.workers = cpus
    settings = settings_from_args(args)
    formats = load_plugins(settings.disabled_plugins).output_formats()
    if settings.output_format not in formats:  # refused once, not recorded as a failure of every clip
        raise InputError(f"--format {settings.output_format}: not a known format "
                         f"(known: {', '.join(sorted(formats))})")
    shots = _shot_opts(args)
    found = scan_inputs(args.input)
    clips, columns = found.clips, found.columns
    cache = None if args.no_cache else (args.cache or args.output.with_name(args.output.stem + ".tool-cache.sqlite"))
    named = [*clips, *([found.manifest] if found.manifest else []), *_config_files()]
    refuse_output_among_inputs(args.output, named)
    check_is_records_file(args.output)  # an existing file that is not our records is left as it is
    if cache is not None:
        refuse_output_among_inputs(cache, [*named, args.output], "--cache")
    console = Console(stderr=True, highlight=False)
    print(f"{len(clips)} clip(s) from {args.input}; records in {args.output}"
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
        elif not args.quiet:
            print(line, file=sys.stderr, flush=True)

    model_errors: list[str] = []

    def heard(record: dict, done: int, total: int) -> None:
        if record.get("model_error"):
            if not model_errors:  # the first model error once, as it happens; the rest are in the records
                line = f"error: {redact(record['model_error'])}; captions are composed from the tools' evidence"
                (progress.console.print(line, style="red") if progress is not None else
                 print(line, file=sys.stderr, flush=True))
            model_errors.append(record["model_error"])
        on_record(record, done, total)

    try:
        summary = run_batch(clips, args.output, settings, columns=columns, workers=args.workers, retry_failed=args.retry_failed,
                            cache_path=cache, engine=args.engine, ray_address=args.ray_address, on_record=heard,
                            shots=shots, on_note=lambda note: print(note, file=sys.stderr, flush=True))
    except KeyboardInterrupt as e:
        if progress is not None:
            progress.stop()
        how = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        print(f"{how}: {_recorded(args.output)} record(s) are kept in {args.output} ({len(clips)} clip(s) asked for); "
              "run the same command again to resume: recorded clips are skipped", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
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
    if found.passed_over:
        notes.append(f"{len(found.passed_over)} entr{'y' if len(found.passed_over) == 1 else 'ies'} passed over, "
                     f"not regular files: {', '.join(found.passed_over[:3])}" + (", ..." if len(found.passed_over) > 3 else ""))
    print(f"{parts} in {summary.seconds:.1f}s" + (f" ({'; '.join(notes)})" if notes else ""), file=sys.stderr)
    failed = summary.in_file.get("failed", 0)
    if summary.in_file != summary.done:  # earlier runs' records count too: say what the file holds
        held = ", ".join(f"{n} {status}" for status, n in sorted(summary.in_file.items()))
        print(f"{args.output} holds {held}", file=sys.stderr)
    if summary.other_settings:
        print(summary.other_settings, file=sys.stderr)
    if failed:
        what = "record(s)" if shots is not None else "clip(s)"
        print(f"{failed} {what} failed; run again with --retry-failed to retry them", file=sys.stderr)
    if model_errors:
        print(f"error: the model failed for {len(model_errors)} clip(s); their captions were composed from the "
              "tools' evidence, not written by the model (exit 3)", file=sys.stderr)
    return EXIT_BACKEND if failed or model_errors else EXIT_OK


def _recorded(records: Path) -> int:
    """How many complete records a records file holds (0 when it cannot be read)."""
    try:
        with open(records, "rb") as f:
            return sum(1 for line in f if line.endswith(b"\n") and line.strip())
    except OSError:
        return 0


def _config_files() -> list[Path]:
    """The config file the settings were read from, if any (an output must never overwrite it)."""
    from agent.core.config import _config_file

    found = _config_file()
    return [found] if found else []


def cmd_export(args) -> int:
    from agent.run.export import export_records

    result = export_records(args.records, args.output, args.to, ok_only=args.ok_only, shard_size=args.shard_size,
                            with_clips=args.with_clips, skip_changed=args.skip_changed,
                            text_tokens=args.text_tokens, tokenizer=args.tokenizer)
    files = result.files  # the names written (a .tar or % pattern becomes numbered shards)
    where = args.output if not files else files[0] if len(files) == 1 else \
        f"{len(files)} shards, {files[0].name} to {files[-1].name} in {files[0].parent}"
    print(f"wrote {result.samples} sample(s) to {where} ({result.kind})", file=sys.stderr)
    if result.skipped:
        print(f"left out {len(result.skipped)} clip(s) that changed since they were captioned "
              f"(first: {result.skipped[0]})", file=sys.stderr)
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

    formatter = enhance_format(args.output_format)
    plugins = load_plugins(settings.disabled_plugins)
    files, options = plugins.condition_inputs(args)
    conditions = plugins.read_conditions(files, options) if files else None
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
    for sentence in result.left_out:
        print(f"left out after the repairs (it broke a wording rule): {sentence}", file=sys.stderr)
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
    if args.token_budget < 8:
        raise InputError("--token-budget must be at least 8")
    items = load_captions(args.caption)
    if len(items) != 1:
        raise InputError(f"{args.caption}: flatten takes one caption, the file holds {len(items)}")
    counter, how = make_counter(args.tokenizer or DEFAULT_TOKENIZER)
    result = flatten(items[0][1], args.token_budget, counter, how)
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
    from agent.run.validate import check_items, read_items, run_evidence

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
               "chat_backends": i.backends, "sections": i.sections, "formats": i.formats,
               "condition_readers": i.readers, "hooks": i.hooks}
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
                    *(f"--llm {b}" for b in r["chat_backends"]), *(f"section {s}" for s in r["sections"]),
                    *(f"--format {f}" for f in r["formats"]), *(f"reader {n}" for n in r["condition_readers"])]
        if not provides and r["hooks"]:  # a plugin that extends rather than adds: the hooks it implements
            provides = [f"hooks {', '.join(r['hooks'])}"]
        table.add_row(r["name"], r["source"], ", ".join(provides) or "-", r.get("error") or r.get("status", "ok"))
    Console().print(table)
    return EXIT_OK


def cmd_demo_clip(args) -> int:
    from agent.testing.synthetic import random_scene, render_clip, write_ground_truth

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


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "schema": cmd_schema, "plugins": cmd_plugins, "trace": cmd_trace,
            "batch": cmd_batch, "export": cmd_export, "enhance": cmd_enhance, "flatten": cmd_flatten,
            "demo-clip": cmd_demo_clip}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug anywhere on the line (before a '--' that ends the options)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end]
    argv = [a for i, a in enumerate(argv) if not (i < end and a == "--debug")]
    with tools_print_to_stderr():  # a plugin that prints while it loads never reaches stdout
        parser = _parser()
    if "--version" in argv[:end]:  # anywhere on the line too, as the reference says of the top-level flags
        print(f"{parser.prog} {version()}")
        return EXIT_OK
    args = parser.parse_args(argv)
    args.debug = debug
    _terminate_like_interrupt()
    if args.command in ("run", "batch"):
        _warn_of_a_memory_limit()
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
    except RecursionError:  # a file or reply nested deeper than Python reads (100,000 levels of JSON)
        if args.debug:
            raise
        print("error: an input is nested too deeply to read (JSON or TOML thousands of levels deep); nothing "
              "this program writes is nested like that", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        if args.debug:
            raise
        print("error: out of memory; give the process more memory, or fewer --frames / --workers", file=sys.stderr)
        return EXIT_STORAGE
    except KeyboardInterrupt as e:
        if isinstance(e, Terminated):
            print("terminated (SIGTERM); a clip in progress has its run record marked failed (interrupted)",
                  file=sys.stderr)
            return 143
        print("interrupted", file=sys.stderr)
        return 130


LOW_MEMORY_LIMIT = 3 << 30  # the vision libraries and their threads reserve about this much address space


def _warn_of_a_memory_limit() -> None:
    """A limit on the address space (``ulimit -v``) below what the vision libraries reserve makes them
    fail inside native code, sometimes with no message at all: say so once, before any work."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, ValueError, OSError):
        return
    if soft != resource.RLIM_INFINITY and soft < LOW_MEMORY_LIMIT:
        print(f"warning: this process may use at most {soft >> 20} MB of memory (ulimit -v); the vision "
              f"libraries need about {LOW_MEMORY_LIMIT >> 30} GB and may run out of memory, or crash without a "
              "message, below that", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run in progress writes its record (failed, interrupted)."""


def _terminate_like_interrupt() -> None:
    import signal

    def on_term(signum, frame):
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (main() called from a thread): leave the default
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
