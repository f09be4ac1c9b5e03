"""Where model files live and how a file is checked: shared by the packaged vision models, the local chat
models and the set-up scripts. Standard library only, so the fetch scripts can use it before anything
else is installed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

class WeightsMissing(Exception):
    """Weights that cannot be found here and may not be downloaded."""


DEFAULT_DIR = "~/.cache/instance-agent/models"
ENV_DIR = "INSTANCE_AGENT_MODELS_DIR"


def models_dir() -> Path:
    """The models folder: ``INSTANCE_AGENT_MODELS_DIR``, else ``~/.cache/instance-agent/models``."""
    return Path(os.environ.get(ENV_DIR) or DEFAULT_DIR).expanduser()


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
