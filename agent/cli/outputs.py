"""Where the commands write: stdout kept for machine output, the file ``-o`` names, and the inputs (the config
file among them) that an output must never overwrite."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from agent.core.config import _config_file


def tools_print_to_stderr():
    """While a run writes machine output on stdout, what tools and plugins print goes to stderr."""
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


def config_files() -> list[Path]:
    """The config file the settings were read from, if any (an output must never overwrite it)."""
    found = _config_file()
    return [found] if found else []
