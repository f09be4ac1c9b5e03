"""Speed of the embedded tools against decoding the clip once.

    python benchmarks/speed.py [--runs 5]

Renders a 10 s 640x360 25 fps clip, then times (median of N runs):
* decode: PyAV decoding every frame to a BGR array (what any pipeline must do at least once);
* tools: a fresh run context doing our single decode pass plus every offline tool
  (metadata, camera, detection, segmentation and views, background, lexicon).
Prints the times and their ratio (targets: 2x with the classical tools, 3x for the default run with
the packaged pretrained models).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402

from agent.core.config import Settings  # noqa: E402
from agent.run.context import RunContext  # noqa: E402
from agent.core.evidence import instances_of  # noqa: E402
from agent.run.media import FrameStore  # noqa: E402
from agent.run.plugins import load_plugins  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402


def decode_once(path: Path) -> float:
    t = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            frame.to_ndarray(format="bgr24")
    return time.perf_counter() - t


def all_tools(path: Path, tools, settings) -> tuple[float, dict]:
    t = time.perf_counter()
    ctx = RunContext(FrameStore(path, samples=settings.frames), settings, settings.runs_dir / "speed", tools=tools).measuring()
    for name in ("read_metadata", "estimate_camera_motion", "detect_instances", "segment_and_blur",
                 "describe_background"):
        tools[name](ctx)
    tools["check_lexicon"](ctx, fields={"Global Description": "A person walks across a sunlit plaza."})
    total = time.perf_counter() - t
    parts = {r.name: r.duration_s for r in ctx.records}
    parts["decode pass"] = ctx.frames.stats.decode_s
    parts["instances"] = len(instances_of(ctx.evidence))  # masks and views cost per instance
    parts["backend"] = (ctx.evidence.get("detect_instances") or {}).get("backend", "?")
    return total, parts


def ctx_backend(runs) -> str:
    return runs[-1][1]["backend"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", default="auto", choices=["auto", "packaged", "classical"],
                    help="auto (the default run: the packaged models where set-up fetched them) or classical")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="instance-agent-speed-"))
    clip = folder / "ten_seconds.mp4"
    render_clip(random_scene(42, "pan right", speed="medium", n_objects=3, duration_s=10.0), clip)
    settings = Settings(runs_dir=folder / "runs", backend=args.backend)
    tools = {t.name: t for t in load_plugins().tools(settings)}
    all_tools(clip, tools, settings)  # warm-up: imports, OpenCV start-up
    decodes, runs = [], []
    for _ in range(args.runs):  # alternating, so a slow spell of the machine hits both sides
        decodes.append(decode_once(clip))
        runs.append(all_tools(clip, tools, settings))
    decode = statistics.median(decodes)
    total = statistics.median(r[0] for r in runs)
    parts = {k: statistics.median(r[1][k] for r in runs) for k in runs[0][1] if k != "backend"}
    print(f"clip: 10 s, 640x360, 25 fps, {args.runs} runs, median")
    print(f"| step | seconds |\n|---|---|\n| decode once (PyAV, every frame to BGR) | {decode:.3f} |")
    for k, v in parts.items():
        if k != "instances":
            print(f"| {k} | {v:.3f} |")
    print(f"| all offline tools, decode pass included | {total:.3f} |")
    print(f"\ninstances found: {parts['instances']:.0f} (the scene has 3 moving objects)")
    backend = ctx_backend(runs)
    target = "<= 2x" if backend == "classical" else "<= 3x"
    print(f"detection backend: {backend}")
    print(f"ratio all tools / decode once: {total / decode:.2f}x (target {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
