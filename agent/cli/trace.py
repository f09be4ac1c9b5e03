"""Watching a run: its events as a live view, as lines, as JSONL, and saved traces shown again.

Every run emits events (dicts with ``event``, ``seq`` and ``time``): ``start``, ``model_start`` and
``model`` (step, tool calls, duration, tokens), ``tool_start`` and ``tool`` (arguments, duration,
short observation), ``dependency``, ``progress`` (decoding), ``validation``, ``fallback``,
``llm_error``, ``tool_error``, ``caption`` and ``done``. Listeners turn them into:

* :class:`LiveTrace`: a rich Live view on a terminal (steps so far, the running step with a
  spinner and its elapsed time, a progress bar while decoding, running totals);
* :class:`TracePrinter`: one line per event, plain when stderr is not a terminal;
* :class:`JsonlSink`: JSON lines, to stdout (``--json``) or a file (``--trace``; every run also
  keeps ``trace.jsonl`` in its folder), which ``python -m agent trace show FILE`` renders again.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from agent.core.errors import InputError
from agent.core.jsonl import json_lines
from agent.core.observation import readable


def _args(args: Any, limit: int = 80) -> str:
    if not args:
        return ""
    text = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_event(event: dict[str, Any]) -> Text | None:
    """One event as one (styled) line, or None for events that only update a live view."""
    kind = event.get("event")
    if kind == "start":
        return Text.assemble(("run ", "bold"), (event.get("video", ""), "bold cyan"),
                             (f"  llm={event.get('llm')}  frames={event.get('frames')}", "dim"))
    if kind == "model":
        calls = ", ".join(c["tool"] for c in event.get("calls", [])) or "no tool call"
        who = "  plan  → " if event.get("planned") else "  model → "  # a plan step takes no model call
        t = Text.assemble(("step ", "dim"), (f"{event['step']:>2}", "bold"), who, (calls, "cyan"),
                          (f"  {event['duration_s']:.2f}s", "dim"))
        if event.get("tokens"):
            t.append(f"  {event['tokens']} tok", "dim")
        if event.get("recovered"):
            t.append(f"  (recovered {event['recovered']})", "yellow")
        return t
    if kind == "tool":
        style = "green" if event.get("ok", True) else "red"
        return Text.assemble("         ", (event["tool"], style), (f"  {event['duration_s']:.2f}s  ", "dim"),
                             (event.get("summary") or readable(event.get("observation", "")), "white"))
    if kind == "dependency":
        if event.get("overrides_skip"):
            return Text.assemble("         ", ("runs anyway: ", "yellow"), (event["tool"], "cyan"),
                                 (" (you skipped it, but the next tool requires its result)", "yellow"))
        return Text.assemble("         ", ("runs first: ", "dim"), (event["tool"], "cyan"))
    if kind == "validation":
        if event["ok"]:
            return Text("         validation passed", style="bold green")
        t = Text("         validation failed:", style="bold red")
        for p in event.get("problems", [])[:8]:
            t.append(f"\n           - {p}", style="red")
        return t
    if kind == "fallback":
        return Text(f"         fallback: caption composed from evidence ({event.get('reason')})", style="yellow")
    if kind == "llm_error":
        return Text(f"         model failed: {event.get('error')}", style="bold red")
    if kind in ("tool_error", "plugin_error", "error"):
        who = event.get("tool") or event.get("plugin") or "run"
        return Text(f"         {kind.replace('_', ' ')} in {who}: {event.get('error')}", style="red")
    if kind == "backend":
        return None  # which models ran is said once, on the done line
    if kind == "backend_fallback":
        if event.get("level") != "warning":
            return None  # a tier the default tries and passes over is no news; the done line names what ran
        return Text(f"         {event['tool']}: using {event['backend']} ({event['reason']})", style="yellow")
    if kind == "step_decision":
        return Text(f"         you chose: {event['action']} ({', '.join(event.get('tools', []))})", style="yellow")
    if kind == "resumed":
        return Text(f"resumed before {', '.join(event.get('before', []))}", style="bold")
    if kind == "done":
        t = Text.assemble(("done: ", "bold"), (event["status"], "green" if event["status"] == "ok" else "yellow"),
                          (f" in {event['total_s']:.2f}s", "dim"))
        if event.get("models"):
            t.append(f"  models: {', '.join(event['models'])}", "dim")
        return t
    return None


class ModelsUsed:
    """Which model (or method) each tool ran, from its ``backend`` and ``backend_fallback`` events."""

    def __init__(self) -> None:
        self.by_tool: dict[str, str] = {}

    def add(self, event: dict[str, Any]) -> dict[str, Any]:
        """Notes ``event``; a ``done`` event comes back with the list of models used added."""
        kind = event.get("event")
        if kind == "backend":
            self.by_tool[event["tool"]] = str(event.get("model") or event.get("backend"))
        elif kind == "backend_fallback":
            self.by_tool[event["tool"]] = str(event.get("backend"))
        elif kind == "done" and self.by_tool and "models" not in event:
            return {**event, "models": [f"{model} ({tool})" for tool, model in self.by_tool.items()]}
        return event


class Totals:
    """Running totals of a run, from its events."""

    def __init__(self) -> None:
        self.calls = self.tokens = self.tools = self.failed_checks = 0
        self.model = True  # False when the offline planner drives the run: no model calls or tokens to count
        self.started = time.monotonic()

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            self.model = event.get("llm") not in ("offline", None)
        elif kind == "model" and not event.get("planned"):
            self.calls += 1
            self.tokens += int(event.get("tokens") or 0)
        elif kind == "tool":
            self.tools += 1
        elif kind == "validation" and not event.get("ok"):
            self.failed_checks += 1

    def summary(self) -> str:
        model = f"model calls {self.calls} · tokens {self.tokens} · " if self.model else ""
        return f"{model}tools run {self.tools} · failed validations {self.failed_checks}"

    def text(self) -> Text:
        return Text(f"{self.summary()} · {time.monotonic() - self.started:.1f}s", style="dim")


class TracePrinter:
    """One line per event on stderr: rich on a terminal, plain text when piped."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.plain = not self.console.is_terminal
        self.models = ModelsUsed()

    def __call__(self, event: dict[str, Any]) -> None:
        line = format_event(self.models.add(event))
        if line is None:
            return
        if self.plain:
            print(line.plain, file=self.console.file or sys.stderr, flush=True)
        else:
            self.console.print(line)

    def close(self) -> None:
        pass


class LiveTrace:
    """A rich Live view: finished steps scroll above; the running step, progress and totals stay below."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.totals = Totals()
        self.models = ModelsUsed()
        self.running: str | None = None
        self.running_since = time.monotonic()
        self.progress: tuple[str, int, int] | None = None
        self.spinner = Spinner("dots", style="cyan")
        self.live = Live(console=self.console, renderable=Group(), refresh_per_second=10, transient=True,
                         get_renderable=self._render)
        self.live.start()

    def _render(self):
        rows = []
        if self.running:
            grid = Table.grid(padding=(0, 1))
            grid.add_row(self.spinner, Text(self.running, style="cyan"),
                         Text(f"{time.monotonic() - self.running_since:.1f}s", style="dim"))
            rows.append(grid)
        if self.progress:
            task, done, total = self.progress
            bar = Table.grid(padding=(0, 1))
            bar.add_row(Text(f"  {task}", style="dim"), ProgressBar(total=max(total, 1), completed=done, width=40),
                        Text(f"{done}/{total}", style="dim"))
            rows.append(bar)
        rows.append(self.totals.text())
        return Group(*rows)

    def _start(self, label: str) -> None:
        self.running, self.running_since = label, time.monotonic()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        self.totals.add(event)
        if kind == "model_start":
            self._start(f"step {event.get('step', '?')}: waiting for the model")
        elif kind == "tool_start":
            self._start(f"running {event['tool']}({_args(event.get('args'))})")
        elif kind == "progress":
            self.progress = (event["task"], int(event["done"]), int(event["total"]))
            if event["done"] >= event["total"]:
                self.progress = None
        elif kind in ("model", "tool", "validation", "fallback", "llm_error", "done"):
            self.running = None
        line = format_event(self.models.add(event))
        if line is not None:
            self.live.console.print(line)
        self.live.refresh()
        if kind == "done":
            self.close()

    def close(self) -> None:
        if self.live.is_started:
            self.live.stop()


def read_trace(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError(f"{path}: no such trace file")
    events = []
    for n, event in json_lines(path):
        if not isinstance(event, dict) or "event" not in event:
            raise InputError(f"{path}:{n}: not a trace event (no 'event' key)")
        events.append(event)
    if not events:
        raise InputError(f"{path}: holds no events")
    return events


def show_trace(events: Iterable[dict[str, Any]], console: Console | None = None) -> dict | None:
    """Render saved events as the run showed them; returns the caption the trace ends with."""
    printer = TracePrinter(console)
    totals = Totals()
    caption = None
    for event in events:
        totals.add(event)
        printer(event)
        if event.get("event") == "caption":
            caption = event.get("caption")
    summary = totals.summary()
    if printer.plain:
        print(summary, file=printer.console.file or sys.stderr)
    else:
        printer.console.print(Text(summary, style="dim"))
    return caption


def print_caption(caption: dict, console: Console | None = None) -> None:
    """The caption on stdout: highlighted JSON on a terminal, plain JSON otherwise."""
    text = json.dumps(caption, indent=2, ensure_ascii=False)
    console = console or Console()
    if console.is_terminal:
        from rich.syntax import Syntax

        console.print(Syntax(text, "json", word_wrap=True, background_color="default"))
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
