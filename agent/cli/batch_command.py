"""``batch``: caption many clips into a JSONL of records, resumable, with a line (or a progress bar) per clip
and a summary of what the records file holds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn, TimeRemainingColumn

from agent.cli.flags import settings_from_args
from agent.cli.interrupts import Terminated
from agent.cli.outputs import config_files
from agent.cli.shots import shot_options_from_args
from agent.core.errors import EXIT_BACKEND, EXIT_OK, InputError
from agent.core.secrets import redact
from agent.run.batch import refuse_output_among_inputs, run_batch, scan_inputs
from agent.run.plugins import load_plugins
from agent.run.records_file import check_is_records_file


def cmd_batch(args) -> int:
    """Caption the clips ``args.input`` names into ``args.output``; exit 3 when a clip failed or the model did."""
    _limit_workers(args)
    settings = settings_from_args(args)
    formats = load_plugins(settings.disabled_plugins).output_formats()
    if settings.output_format not in formats:  # refused once, not recorded as a failure of every clip
        raise InputError(f"--format {settings.output_format}: not a known format "
                         f"(known: {', '.join(sorted(formats))})")
    shots = shot_options_from_args(args)
    found = scan_inputs(args.input)
    clips, columns = found.clips, found.columns
    cache = None if args.no_cache else (args.cache or args.output.with_name(args.output.stem + ".tool-cache.sqlite"))
    _refuse_outputs_among_inputs(args, found, cache)
    console = Console(stderr=True, highlight=False)
    print(f"{len(clips)} clip(s) from {args.input}; records in {args.output}"
          + (f"; tool cache {cache}" if cache else ""), file=sys.stderr)
    lines = _RecordLines(args, shots, *_progress_bar(console))
    try:
        summary = run_batch(clips, args.output, settings, columns=columns, workers=args.workers, retry_failed=args.retry_failed,
                            cache_path=cache, engine=args.engine, ray_address=args.ray_address, on_record=lines.heard,
                            shots=shots, on_note=lambda note: print(note, file=sys.stderr, flush=True))
    except KeyboardInterrupt as e:
        lines.stop()
        how = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        print(f"{how}: {_recorded(args.output)} record(s) are kept in {args.output} ({len(clips)} clip(s) asked for); "
              "run the same command again to resume: recorded clips are skipped", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        lines.stop()
    return _summarise(args, found, summary, shots, lines.model_errors)


def _limit_workers(args) -> None:
    """At least one worker, and no more than this machine's CPUs (said so when lowered)."""
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    cpus = os.cpu_count() or 1
    if args.workers > cpus:
        print(f"warning: --workers {args.workers} is more than this machine's {cpus} CPU(s); using {cpus}",
              file=sys.stderr)
        args.workers = cpus


def _refuse_outputs_among_inputs(args, found, cache: Path | None) -> None:
    """The records file and the tool cache never overwrite a clip, the manifest, the config file or each other,
    and an existing file that is not our records is left as it is."""
    named = [*found.clips, *([found.manifest] if found.manifest else []), *config_files()]
    refuse_output_among_inputs(args.output, named)
    check_is_records_file(args.output)
    if cache is not None:
        refuse_output_among_inputs(cache, [*named, args.output], "--cache")


def _progress_bar(console: Console) -> tuple[Progress | None, TaskID | None]:
    """A started progress bar and its task on a terminal; (None, None) when stderr is piped."""
    if not console.is_terminal:
        return None, None
    progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console)
    task = progress.add_task("captioning", total=None)
    progress.start()
    return progress, task


class _RecordLines:
    """What the batch shows per record as it comes: the progress bar (with the records that are not ok above
    it) on a terminal, else a line per clip unless quiet; and the first model error, once."""

    def __init__(self, args, shots, progress: Progress | None, task: TaskID | None):
        self.quiet = args.quiet
        self.shots = shots
        self.progress = progress
        self.task = task
        self.model_errors: list[str] = []

    def heard(self, record: dict, done: int, total: int) -> None:
        """The callback for each record the batch writes."""
        if record.get("model_error"):
            if not self.model_errors:  # the first model error once, as it happens; the rest are in the records
                line = f"error: {redact(record['model_error'])}; captions are composed from the tools' evidence"
                (self.progress.console.print(line, style="red") if self.progress is not None else
                 print(line, file=sys.stderr, flush=True))
            self.model_errors.append(record["model_error"])
        self.show(record, done, total)

    def show(self, record: dict, done: int, total: int) -> None:
        """One record's line: on the progress bar's console when it is not ok, or on stderr."""
        shots = self.shots
        line = f"[{done}] {record['status']:<8} {record['path']}" if shots is not None else \
            f"[{done}/{total}] {record['status']:<8} {record['path']}"
        if record.get("shot") is not None:
            line += f" shot {record['shot']}" + (f" part {record['part']}" if record.get("part") else "") + \
                f" ({record['start_s']:.2f}-{record['end_s']:.2f} s)"
        if record["status"] == "failed":
            line += f"  ({record.get('error')})"
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=None if shots is not None else total)
            if record["status"] != "ok":
                self.progress.console.print(line, style="yellow" if record["status"] == "degraded" else "red")
        elif not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Take the progress bar down (again is harmless)."""
        if self.progress is not None:
            self.progress.stop()


def _summarise(args, found, summary, shots, model_errors: list[str]) -> int:
    """The summary on stderr, and the exit status: 3 when a record failed or the model did."""
    parts = ", ".join(f"{n} {status}" for status, n in sorted(summary.done.items())) or "nothing new"
    notes = _summary_notes(summary, found.passed_over)
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


def _summary_notes(summary, passed_over: list[str]) -> list[str]:
    """The parenthesised notes of the summary line: skipped, repaired, retried, passed over."""
    notes = []
    if summary.skipped:
        notes.append(f"{summary.skipped} already recorded")
    if summary.repaired:
        notes.append("a torn last line from an interrupted run was cut off")
    if summary.dropped_failed:
        notes.append(f"{summary.dropped_failed} failed record(s) retried")
    if passed_over:
        notes.append(f"{len(passed_over)} entr{'y' if len(passed_over) == 1 else 'ies'} passed over, "
                     f"not regular files: {', '.join(passed_over[:3])}" + (", ..." if len(passed_over) > 3 else ""))
    return notes


def _recorded(records: Path) -> int:
    """How many complete records a records file holds (0 when it cannot be read)."""
    try:
        with open(records, "rb") as f:
            return sum(1 for line in f if line.endswith(b"\n") and line.strip())
    except OSError:
        return 0
