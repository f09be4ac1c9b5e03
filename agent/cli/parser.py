"""The command line's parser: the top-level flags, one builder per built-in command, and the commands and
options that plugins add."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version as installed_version
from pathlib import Path

from agent.cli.flags import add_condition_flags, add_settings_flags, add_shot_options
from agent.cli.report import add_export_flags, add_report_command
from agent.core.errors import AgentError
from agent.run.plugins import load_plugins


def prog_name(argv0: str | None = None) -> str:
    """The program name as the user typed it: ``python -m agent`` or the script's name."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    return "python -m agent" if name in ("", "__main__.py", "-c") else name


def version() -> str:
    """The installed package's version, or a note that it is not installed."""
    try:
        return installed_version("instance-agent")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The whole parser: top-level flags, the built-in commands in the order ``--help`` lists them, then the
    plugins' commands."""
    p = argparse.ArgumentParser(prog=prog or prog_name(), description="Instance-aware structured video captions.")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs (anywhere on the line)")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_validate(sub)
    _add_schema(sub)
    _add_batch(sub)
    _add_export(sub)
    _add_enhance(sub)
    _add_flatten(sub)
    _add_trace(sub)
    _add_plugins(sub)
    _add_demo_clip(sub)
    add_report_command(sub)
    _plugin_commands(sub)
    return p


def _output_flag(p, what: str, required: bool = False) -> None:
    p.add_argument("-o", "--output", "--out", dest="output", type=Path, required=required, metavar="PATH", help=what)


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="caption one video", description="Caption one video.")
    run.add_argument("video", type=Path, help="the clip")
    _output_flag(run, "also write the caption to this file (.json for JSON formats, .txt for text)")
    run.add_argument("-q", "--quiet", action="store_true", help="no trace on stderr")
    run.add_argument("--step", action="store_true", help="pause before each tool call: approve, skip, edit or stop")
    run.add_argument("--resume", action="store_true", help="continue a run stopped in --step mode")
    run.add_argument("--json", action="store_true", help="print the run's events as JSON lines on stdout")
    run.add_argument("--trace", type=Path, metavar="FILE", help="also save the run's events as JSON lines here")
    add_shot_options(run)
    add_settings_flags(run)
    add_condition_flags(run, load_plugins().conditions())


def _add_validate(sub) -> None:
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


def _add_schema(sub) -> None:
    sub.add_parser("schema", help="print the caption's JSON Schema", description="Print the caption's JSON Schema "
                                                                                 "(with the plugins' sections).")


def _add_batch(sub) -> None:
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
    add_shot_options(batch)
    add_settings_flags(batch)
    add_condition_flags(batch, load_plugins().conditions())


def _add_export(sub) -> None:
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
    add_export_flags(export)  # --skip-changed, --text-tokens, --tokenizer


def _add_enhance(sub) -> None:
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


def _add_flatten(sub) -> None:
    flat = sub.add_parser("flatten", help="one paragraph from a caption, within a text encoder's token budget",
                          description="One paragraph from a caption, within a text encoder's token budget.")
    flat.add_argument("caption", type=Path, help="a caption file (.json)")
    flat.add_argument("--token-budget", "--max-tokens", dest="token_budget", type=int, default=226, metavar="N",
                      help="the most tokens of the paragraph (default 226: CogVideoX's T5 reads 226)")
    flat.add_argument("--tokenizer", default=None,
                      help="tokenizer id or folder to count with, loaded offline (default google/t5-v1_1-xxl)")
    flat.add_argument("--json", action="store_true", help="print text, tokens, how they were counted, what was dropped")


def _add_trace(sub) -> None:
    trace = sub.add_parser("trace", help="work with saved traces", description="Work with saved traces.")
    trace_sub = trace.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    show = trace_sub.add_parser("show", help="render a saved trace (a run's trace.jsonl, or a --trace file)",
                                description="Render a saved trace.")
    show.add_argument("file", type=Path, help="a trace (JSON lines)")


def _add_plugins(sub) -> None:
    plug = sub.add_parser("plugins", help="list plugins and the tools they register",
                          description="List plugins and the tools they register.")
    plug.add_argument("--json", action="store_true", help="print the list as JSON")


def _add_demo_clip(sub) -> None:
    demo = sub.add_parser("demo-clip", help="render a synthetic clip with ground truth",
                          description="Render a synthetic clip and its ground truth (next to it, .json).")
    demo.add_argument("output", type=Path, help="the clip to write (.mp4)")
    demo.add_argument("--camera", default="pan left", help="e.g. 'static', 'zoom in', 'pan left and tilt up'")
    demo.add_argument("--speed", choices=["slow", "medium", "fast"], default="medium", help="camera speed")
    demo.add_argument("--objects", type=int, default=None, help="1-3 (default: chosen by the seed)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the scene (default 0)")
    demo.add_argument("--duration", type=float, default=4.0, help="seconds (default 4)")
    demo.add_argument("--noise", type=float, default=None, help="pixel noise level (default: chosen by the seed)")


def _plugin_options(command: str, parser) -> None:
    """Options that plugins add to a built-in command (``add_command_options``)."""
    try:
        load_plugins().add_command_options(command, parser)
    except AgentError:
        pass


def _plugin_commands(sub) -> None:
    """Commands that plugins add through ``register_commands``; a plugin that fails is named by
    ``python -m agent plugins`` and the built-in commands still work."""
    try:
        load_plugins().add_commands(sub)
    except AgentError:
        pass
