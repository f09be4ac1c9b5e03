"""Model calls and prompt size per clip, through a real OpenAI-compatible HTTP server (scripted).

    python benchmarks/llm_calls.py

Renders a 3-instance clip, lets the offline planner write the caption a well-behaved model
would submit, then drives the agent over HTTP with two scripted models:

* batched: all measuring tools in one turn, then the submission;
* one tool per turn: the offline planner's order, including the wording check.

Prints calls, tools run, prompt and completion tokens (estimated by the server as characters / 4
of the text; images are counted apart) and images, next to InstanceCap's 4 + 4N calls per clip.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agent.core.config import Settings  # noqa: E402
from agent.run.runner import caption_video  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402
from openai_server import ScriptedOpenAI, reply  # noqa: E402

MEASURE = ["read_metadata", "estimate_camera_motion", "detect_instances", "segment_and_blur", "describe_background"]


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="instance-agent-calls-"))
    clip = folder / "three.mp4"
    render_clip(random_scene(3, "pan left", n_objects=3, noise=3.0), clip)
    offline = caption_video(clip, Settings(runs_dir=folder / "offline"))
    caption = offline.caption
    n = len(caption["Structural Description"]["Main Instance"])
    lexicon_fields = {"Global Description": caption["Global Description"]}
    scripts = {
        "batched": [reply("", [(t, {}) for t in MEASURE]), reply("", [("submit_caption", caption)])],
        "one tool per turn": [reply("", [(t, {})]) for t in MEASURE]
        + [reply("", [("check_lexicon", {"fields": lexicon_fields})]), reply("", [("submit_caption", caption)])],
    }
    print(f"clip: 3 s, 640x360, {n} instances; InstanceCap's pipeline: 4 + 4N = {4 + 4 * n} model calls\n")
    print("| script | status | model calls | tools run | calls <= tools + 2 | prompt tokens (est.) "
          "| completion tokens (est.) | images in conversation | image parts sent | model s | total s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, script in scripts.items():
        with ScriptedOpenAI(script) as server:
            rec = caption_video(clip, Settings(llm="scripted", base_url=server.base_url, runs_dir=folder / name))
        tools = sum(1 for s in rec.steps if s.get("node") == "tools")
        u = rec.usage
        print(f"| {name} | {rec.status} | {u.calls} | {tools} | {'yes' if u.calls <= tools + 2 else 'no'} "
              f"| {u.prompt_tokens} | {u.completion_tokens} | {u.images} | {u.image_parts_sent} "
              f"| {u.model_s:.2f} | {rec.timings['total_s']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
