"""``--step``: pause before each tool call and let the user approve, skip, edit or stop."""

from __future__ import annotations

import json
from typing import Callable

from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.text import Text

CHOICES = "[a]pprove  [s]kip  [e]dit arguments  [q] stop"


class StepPrompt:
    """Asks on the terminal; ``read`` is ``input`` unless a test gives another."""

    def __init__(self, console: Console | None = None, read: Callable[[str], str] = input,
                 args_models: dict[str, type[BaseModel]] | None = None):
        self.console = console or Console(stderr=True, highlight=False)
        self.read = read
        self.args_models = args_models or {}  # tool name -> its Args: edited arguments are checked at the prompt

    def _ask(self, prompt: str) -> str | None:
        try:
            return self.read(prompt)
        except EOFError:  # no more input: stop, keeping the run resumable
            return None

    def __call__(self, calls: list[dict]) -> tuple[str, list[dict] | None]:
        self.console.print(Text("paused before:", style="bold yellow"))
        for i, call in enumerate(calls, 1):
            self.console.print(Text.assemble(f"  {i}. ", (call["name"], "cyan"), " ",
                                             (json.dumps(call["args"], ensure_ascii=False), "dim")))
        while True:
            answer = self._ask(f"{CHOICES} > ")
            if answer is None:
                return "stop", None
            answer = answer.strip().lower()
            if answer in ("", "a", "approve", "y", "yes"):
                return "approve", None
            if answer in ("s", "skip"):
                return "skip", None
            if answer in ("q", "quit", "stop"):
                return "stop", None
            if answer in ("e", "edit"):
                edited = self._edit(calls)
                if edited is None:
                    return "stop", None
                return "edit", edited
            self.console.print(f"answer one of: {CHOICES}", style="red")

    def _check(self, name: str, args: dict) -> str | None:
        model = self.args_models.get(name)
        if model is None:
            return None
        try:
            model(**args)
        except ValidationError as e:
            return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'arguments'}: {err['msg']}" for err in e.errors())
        return None

    def _edit(self, calls: list[dict]) -> list[dict] | None:
        out = []
        for call in calls:
            while True:
                raw = self._ask(f"{call['name']} arguments as JSON (Enter keeps {json.dumps(call['args'])}) > ")
                if raw is None:
                    return None
                if not raw.strip():
                    out.append(call)
                    break
                try:
                    args = json.loads(raw)
                except json.JSONDecodeError as e:
                    self.console.print(f"not JSON: {e.msg}; try again", style="red")
                    continue
                if not isinstance(args, dict):
                    self.console.print("arguments must be a JSON object; try again", style="red")
                    continue
                problem = self._check(call["name"], args)
                if problem:
                    self.console.print(f"{call['name']} does not take these arguments: {problem}; try again", style="red")
                    continue
                out.append({**call, "args": args})
                break
        return out
