"""The local describer: CPU time per model call and model calls per clip.

    python benchmarks/local_vlm.py

Builds the tiny random Qwen2.5-VL of the tests (same architecture and processor as
Qwen/Qwen2.5-VL-*, about 0.2M parameters), captions a 3-instance clip with it as the describer,
and reports the time per describe call (image preprocessing, prefill, up to 320 new tokens of
greedy decoding) and the number of calls, next to InstanceCap's 4 + 4N. A real 3B or 7B model
costs far more per call; this measures our path's overhead, not a model's speed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agent.core.config import Settings  # noqa: E402
from agent.run.runner import caption_video  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402
from tiny_vlm import build_tiny_vlm  # noqa: E402


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="instance-agent-vlm-"))
    model = build_tiny_vlm(folder / "tiny")
    clip = folder / "three.mp4"
    render_clip(random_scene(3, "pan left", n_objects=3, noise=3.0), clip)
    times, calls, n = [], [], 0
    for run in range(3):
        rec = caption_video(clip, Settings(describer=f"hf:{model}", runs_dir=folder / f"runs{run}"))
        steps = [s for s in rec.steps if s.get("node") == "tools" and s["tool"] == "describe"]
        times += [s["duration_s"] for s in (steps if run else steps[1:])]
        calls.append(len(steps))
        n = len(rec.caption["Structural Description"]["Main Instance"])
    print(f"3 s 640x360 clip, {n} instances, tiny random Qwen2.5-VL on CPU, 3 runs\n")
    print(f"describe calls per clip: {calls[0]} (N + 2); InstanceCap's pipeline: 4 + 4N = {4 + 4 * n}")
    print(f"seconds per describe call: median {statistics.median(times):.3f}, max {max(times):.3f} "
          f"({len(times)} calls; the first call of the first run also loads the model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
