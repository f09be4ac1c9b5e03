"""NanoDet through ultralytics (nanodet-ultralytics.onnx) against NanoDet on bare onnxruntime.

    python benchmarks/ultralytics_onnx.py [--runs 15]

Frames: bikes.mp4 frames 120 and 190 (640x272: a cyclist; a bicycle), carphone_pristine.mp4 frame 30
(176x144, the man in the car) and bigbuckbunny.mp4 frame 60 scaled to 640x360. Per frame, the
median of ``--runs`` calls after a warm-up, in ms, the five calls taken in turns:

* ``ort nanodet``: ``session.run`` of nanodet.onnx alone (input already letterboxed and normalised);
* ``ort wrapped``: ``session.run`` of nanodet-ultralytics.onnx alone (the same network plus the
  input conversion and box decoding of scripts/make_ultralytics_onnx.py);
* ``detector.py``: tools/vision/detector.py whole (letterbox, onnxruntime, decoding, NMS);
* ``YOLO predict``: ``YOLO(nanodet-ultralytics.onnx).predict`` whole, and its own
  preprocess / inference / postprocess split (``Results.speed``);
* ``YOLO track``: ``model.track(persist=True)`` with our ByteTrack settings, whole.

All onnxruntime sessions use its default thread count (what ultralytics uses). Then the agent's
detection tool with that model (``detect_yolo``, 8 and 24 sampled frames of bikes.mp4, frames
decoded beforehand), per sampled frame. Prints what each found.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np  # noqa: E402

from benchmarks.models import frame  # noqa: E402
from tools.vision import models  # noqa: E402

NAME = "nanodet-ultralytics"


def medians_ms(calls: dict, runs: int) -> dict[str, float]:
    """Median ms of each call, timed in turns (one call of each per round, after a warm-up round),
    so that a load that comes and goes on the machine weighs on all of them alike."""
    times = {k: [] for k in calls}
    for round_ in range(runs + 1):
        for key, fn in calls.items():
            start = time.perf_counter()
            fn()
            if round_:
                times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def found(labels_scores) -> str:
    return ", ".join(f"{label} {score:.2f}" for label, score in labels_scores[:5]) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    path = models.model_path(NAME)  # one line naming the file if it is missing
    from agent.core.config import Settings
    from tools.weights import prepare_ultralytics
    from tools.detect_yolo import TRACKER
    from tools.vision.detector import MEAN, STD, detect_objects, preprocess

    prepare_ultralytics(Settings())
    from ultralytics import YOLO

    frames = {"bikes 120 640x272": frame("bikes.mp4", 120), "bikes 190 640x272": frame("bikes.mp4", 190),
              "carphone 30 176x144": frame("carphone_pristine.mp4", 30),
              "bunny 60 640x360": frame("bigbuckbunny.mp4", 60, (640, 360))}
    bare = models.session("nanodet", 0)
    wrapped = models.session(NAME, 0)
    yolo = YOLO(str(path), task="detect")
    tracker = YOLO(str(path), task="detect")
    rows = ["| frame | ort nanodet | ort wrapped | detector.py | YOLO predict (pre / inference / post) | YOLO track |",
            "|---|---|---|---|---|---|"]
    for label, image in frames.items():
        x, _ = preprocess(image)
        bgr = x * STD.reshape(1, 3, 1, 1) + MEAN.reshape(1, 3, 1, 1)  # the letterboxed frame, 0..255
        rgb = np.ascontiguousarray(bgr[:, ::-1] / 255.0, dtype=np.float32)
        speeds = []

        def predict():
            r = yolo.predict(image, conf=0.25, verbose=False)[0]
            speeds.append(r.speed)
            return r

        t = medians_ms({
            "bare": lambda: bare.run(None, {bare.get_inputs()[0].name: x}),
            "wrapped": lambda: wrapped.run(None, {"images": rgb}),
            "ours": lambda: detect_objects(image, threads=0),
            "predict": predict,
            "track": lambda: tracker.track(image, persist=True, tracker=str(TRACKER), conf=0.25, verbose=False),
        }, args.runs)
        split = {k: statistics.median(s[k] for s in speeds[1:]) for k in ("preprocess", "inference", "postprocess")}
        rows.append(f"| {label} | {t['bare']:.1f} | {t['wrapped']:.1f} | {t['ours']:.1f} | {t['predict']:.1f} "
                    f"({split['preprocess']:.1f} / {split['inference']:.1f} / {split['postprocess']:.1f}) | "
                    f"{t['track']:.1f} |")
        r = predict()
        theirs = [(r.names[int(c)], float(s)) for s, c in zip(r.boxes.conf.tolist(), r.boxes.cls.tolist())]
        ours = [(d.label, d.score) for d in detect_objects(image, 0.25)]
        print(f"{label}: ultralytics {found(theirs)}\n{' ' * len(label)}  detector.py {found(ours)}")

    print(f"\nms per frame, median of {args.runs} calls in turns after a warm-up, onnxruntime default threads "
          f"({os.cpu_count()} CPUs here)\n")
    print("\n".join(rows))
    print()
    for n in (8, 24):
        per_frame, result = tool_time(n)
        names = sorted({(i.class_name, len(i.seen())) for i in result.instances}, key=lambda t: -t[1])
        print(f"detect_yolo on bikes.mp4, {n} sampled frames: {per_frame:.1f} ms per sampled frame; "
              f"{result.candidates} tracks, kept {', '.join(f'{c} ({k} frames)' for c, k in names)}")
    return 0


def tool_time(samples: int):
    from agent.core.config import Settings
    from agent.run.context import RunContext
    from agent.run.media import FrameStore
    from tools.weights import resolve_yolo
    from agent.testing.clips import find_clip
    from tools.detect_yolo import detect_yolo

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(backend="neural", yolo_weights=f"{NAME}.onnx", frames=samples, max_instances=20,
                            device="cpu", runs_dir=Path(tmp))
        ctx = RunContext(FrameStore(find_clip("bikes.mp4"), samples=samples), settings, Path(tmp) / "run")
        ctx.frames.sampled  # decode first
        spec = resolve_yolo(settings)
        detect_yolo(ctx, spec, 20)  # the model loaded, shot cuts found
        start = time.perf_counter()
        result, _ = detect_yolo(ctx, spec, 20)
        return (time.perf_counter() - start) / samples * 1000, result


if __name__ == "__main__":
    raise SystemExit(main())
