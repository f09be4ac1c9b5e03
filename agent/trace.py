"""Showing a run's events on the terminal as they happen (stderr; stdout carries the caption)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text


class TracePrinter:
    """One line per event: rich on a terminal, plain text when piped."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.plain = not self.console.is_terminal

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        line = self.format(event)
        if line is None:
            return
        if self.plain:
            print(line.plain, file=self.console.file if self.console.file else sys.stderr, flush=True)
        else:
            self.console.print(line)

    @staticmethod
    def format(event: dict[str, Any]) -> Text | None:
        kind = event["event"]
        if kind == "model":
            calls = ", ".join(c["tool"] for c in event.get("calls", [])) or "no tool call"
            t = Text.assemble(("step ", "dim"), (f"{event['step']:>2}", "bold"), "  model → ", (calls, "cyan"),
                              (f"  {event['duration_s']:.2f}s", "dim"))
            if event.get("tokens"):
                t.append(f"  {event['tokens']} tok", "dim")
            if event.get("recovered"):
                t.append(f"  (recovered {event['recovered']})", "yellow")
            return t
        if kind == "tool":
            style = "green" if event.get("ok", True) else "red"
            return Text.assemble("         ", (event["tool"], style), (f"  {event['duration_s']:.2f}s  ", "dim"),
                                 (event.get("observation", ""), "white"))
        if kind == "dependency":
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
        if kind == "done":
            return Text.assemble(("done: ", "bold"), (event["status"], "green" if event["status"] == "ok" else "yellow"),
                                 (f" in {event['total_s']:.2f}s", "dim"))
        return None


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
