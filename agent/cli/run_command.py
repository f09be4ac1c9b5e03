"""``run``: caption one clip, with the trace on stderr (or JSON lines on stdout), ``--step`` and ``--resume``,
and the caption printed and written to ``-o``; ``--split-shots`` goes to :func:`agent.cli.shots.run_shots`."""

from __future__ import annotations

import json
import sys

from rich.console import Console

from agent.cli.flags import settings_from_args
from agent.cli.outputs import config_files, output_path, tools_print_to_stderr
from agent.cli.shots import run_shots, shot_options_from_args
from agent.cli.stepper import StepPrompt
from agent.cli.trace import LiveTrace, TracePrinter, print_caption
from agent.core.errors import EXIT_BACKEND, EXIT_OK, EXIT_STORAGE, AgentError, InputError, storage_error
from agent.core.jsonl import JsonlSink
from agent.run.batch import refuse_output_among_inputs
from agent.run.plugins import load_plugins
from agent.run.runner import caption_video


def cmd_run(args) -> int:
    """Caption ``args.video``; the exit status says whether the caption is the model's, composed, or missing."""
    settings = settings_from_args(args)
    _refuse_run_outputs_among_inputs(args)
    shots = shot_options_from_args(args)
    if shots is not None:
        return run_shots(args, settings, shots)
    if args.step and not sys.stdin.isatty():
        raise InputError("--step asks before each tool call and needs a terminal to answer on; stdin is not one "
                         "(run without --step, or from a terminal)")
    record = _caption(args, settings)
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
        code = _write_output(args, record, output, text, settings.output_format)
    status = _caption_status(record, settings)
    return code if status is None else status


def _caption(args, settings):
    """The run's record, its events going to the listeners (closed however the run ends)."""
    listeners = _listeners(args)
    try:
        step = _step_prompt(settings) if args.step else None
        with tools_print_to_stderr():  # the caption and --json own stdout
            return caption_video(args.video, settings, listeners=listeners, debug=args.debug, step=step,
                                 resume=args.resume)
    finally:
        for listener in listeners:
            listener.close()


def _step_prompt(settings) -> StepPrompt:
    """The ``--step`` prompt, knowing each tool's arguments so that an edit is checked."""
    tools = load_plugins(settings.disabled_plugins).tools(settings)
    return StepPrompt(args_models={tool.name: tool.Args for tool in tools})


def _write_output(args, record, output, text: str, fmt: str) -> int:
    """The caption in ``-o`` (EXIT_OK), or the error said and EXIT_STORAGE."""
    target = output_path(args.output, output, fmt)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
    except OSError as e:
        print(f"error: {storage_error(e, 'the caption (-o)').message}; the caption is above and in "
              f"{record.run_dir}/record.json", file=sys.stderr)
        return EXIT_STORAGE
    return EXIT_OK


def _caption_status(record, settings) -> int | None:
    """EXIT_BACKEND (and why) when the caption was not the model's as asked; None when it is as asked."""
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
    return None


def _refuse_run_outputs_among_inputs(args) -> None:
    """``-o`` and ``--trace`` never overwrite the clip, the config file or each other."""
    inputs = [args.video, *config_files()]
    if args.trace:
        refuse_output_among_inputs(args.trace, inputs, "--trace")
    if args.output:
        targets = {args.output, args.output.with_suffix(".txt"), args.output.with_suffix(".json")}
        for target in targets:  # output_path may move text or JSON next to the name given
            refuse_output_among_inputs(target, [*inputs, *([args.trace] if args.trace else [])])


def _listeners(args) -> list:
    """JSON lines on stdout with --json; otherwise a live view on a terminal, lines when piped."""
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
