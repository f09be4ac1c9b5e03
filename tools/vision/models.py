"""Where the pretrained vision models live, whether each file is the one pinned, and their sessions.

The runtime files (ONNX) are in the models folder: ``INSTANCE_AGENT_MODELS_DIR`` when set, else
``~/.cache/instance-agent/models`` (beside the ``weights`` folder of :mod:`tools.weights`).
``scripts/fetch_models.py`` (run by ``scripts/setup.sh``) puts them there. :func:`model_path` finds
a file, checks its sha256 against ``manifest.json`` once per process (per file size and
modification time) and raises :class:`tools.weights.WeightsMissing` with a one-line message naming
the file and how to fetch it again when it is missing, truncated or not the pinned file.
:func:`session` gives one onnxruntime CPU session per model and thread count per process
(:func:`tools.weights.keep_loaded`); ``threads`` (or ``INSTANCE_AGENT_VISION_THREADS``) sets its
intra-op threads, 0 leaving onnxruntime's default.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path

from agent.core.model_files import WeightsMissing, models_dir, sha256_file  # noqa: F401 - callers read them here
from agent.models.devices import keep_loaded

HERE = Path(__file__).resolve().parent
MANIFEST_FILE = HERE / "manifest.json"
ENV_THREADS = "INSTANCE_AGENT_VISION_THREADS"
FETCH = "python scripts/fetch_models.py"

_checked: dict[tuple, str | None] = {}  # (path, size, mtime) -> None when good, else the reason
_checking = threading.Lock()


@lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads(MANIFEST_FILE.read_text())


def spec(name: str) -> dict:
    try:
        return manifest()["models"][name]
    except KeyError:
        raise KeyError(f"unknown vision model {name!r} (known: {', '.join(manifest()['models'])})") from None


def problem(name: str, path: Path) -> str | None:
    """Why ``path`` is not model ``name``'s pinned file (missing, truncated, other bytes), or None."""
    m = spec(name)
    try:
        st = path.stat()
    except OSError:
        return "is missing"
    if not path.is_file():
        return "is not a file"
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _checking:
        if key not in _checked:
            if st.st_size != m["size"]:
                why = f"has {st.st_size} bytes, not {m['size']} (truncated or another file)"
            else:
                digest = sha256_file(path)
                why = None if digest == m["sha256"] else f"has sha256 {digest[:12]}..., not the pinned {m['sha256'][:12]}..."
            _checked[key] = why
        return _checked[key]


def model_path(name: str) -> Path:
    """The checked runtime file of model ``name`` (``nanodet``, ``movenet-multipose``, ``efficientnet-lite0``)."""
    path = models_dir() / spec(name)["file"]
    why = problem(name, path)
    if why:
        raise WeightsMissing(f"{name} model file {path} {why}; fetch it with `{FETCH}`")
    return path


def default_threads() -> int:
    try:
        return max(0, int(os.environ.get(ENV_THREADS, "0")))
    except ValueError:
        return 0


def session(name: str, threads: int | None = None):
    """One onnxruntime CPU ``InferenceSession`` of model ``name`` per process and thread count."""
    path = model_path(name)
    n = default_threads() if threads is None else max(0, int(threads))

    def build():
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = n
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    return keep_loaded(("vision", name, str(path), n), build)


def available(name: str) -> bool:
    return problem(name, models_dir() / spec(name)["file"]) is None


def labels(file_name: str) -> list[str]:
    return (HERE / "data" / file_name).read_text().splitlines()
