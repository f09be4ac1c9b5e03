"""CPU time per sampled frame of each detection and segmentation backend.

    python benchmarks/backends.py

On a 4 s 640x360 clip with 3 moving objects (8 sampled frames): the classical detector and
GrabCut, YOLO11n with ByteTrack, and the SAM2.1 video predictor (tiny, at its default 1024 input
and at 512). The neural models are built from their configs with random weights (no weights can
be downloaded here); their compute per frame is that of the real models, though a random YOLO
finds no boxes, so its NMS and tracking cost is the smallest possible.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.core.config import Settings  # noqa: E402
from agent.run.context import RunContext  # noqa: E402
from agent.run.media import FrameStore  # noqa: E402
from tools.weights import resolve_sam2, resolve_yolo  # noqa: E402
from agent.run.plugins import load_plugins  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402


def context(clip: Path, settings: Settings) -> RunContext:
    tools = {t.name: t for t in load_plugins().tools(settings)}
    ctx = RunContext(FrameStore(clip, samples=settings.frames), settings, settings.runs_dir / "b", tools=tools).measuring()
    ctx.frames.sampled  # noqa: B018 - decode outside the timings
    ctx.require("estimate_camera_motion")
    return ctx


def timed(fn) -> float:
    fn()  # warm-up: model build, first-call overheads
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    import torch

    folder = Path(tempfile.mkdtemp(prefix="instance-agent-backends-"))
    clip = folder / "clip.mp4"
    render_clip(random_scene(3, "pan left", n_objects=3, duration_s=4.0), clip)
    rows = []

    classical = Settings(backend="classical", runs_dir=folder / "runs")
    ctx = context(clip, classical)
    n = len(ctx.frames.sampled)
    from tools.detect import detect_classical

    rows.append(("classical detection (foreground + people cascades)", timed(lambda: detect_classical(ctx, 3)) / n))
    instances, _ = detect_classical(ctx, 3)
    from tools.segment import refine_mask

    def grabcut():
        for inst in instances.instances:
            for k in inst.seen():
                refine_mask(ctx.frames.sampled[k].image, inst.boxes[k], None)

    per = max(1, sum(len(i.seen()) for i in instances.instances))
    rows.append((f"GrabCut masks ({per} instance-frames)", timed(grabcut) / n))

    neural = Settings(backend="neural", random_weights=True, device="cpu", runs_dir=folder / "runs")
    ctx = context(clip, neural)
    from tools.detect_yolo import detect_yolo

    spec = resolve_yolo(neural)
    rows.append(("YOLO11n + ByteTrack, 640 input", timed(lambda: detect_yolo(ctx, spec, 3)) / n))
    from tools.segment_sam2 import segment_sam2

    for size in (None, 512):
        s = neural.model_copy(update={"sam2_image_size": size})
        c = context(clip, s)
        sam = resolve_sam2(s)
        rows.append((f"SAM2.1 tiny video predictor, {size or 1024} input, {len(instances.instances)} objects",
                     timed(lambda: segment_sam2(c, sam, instances.instances)) / n))

    print(f"clip: 4 s 640x360, {n} sampled frames; CPU: {torch.get_num_threads()} threads; seconds per sampled frame\n")
    print("| backend | s / frame |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
