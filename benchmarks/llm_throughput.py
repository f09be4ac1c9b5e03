"""LLM throughput of the local batch: --llm-concurrency 8 against 1, with a server that takes 1 s per reply.

    python benchmarks/llm_throughput.py [--clips 16] [--delay 1.0] [--concurrency 8] [--size 320x180]

Renders N generated 1 s clips (320x180: small, so that the vision work, which stays serial at
``--workers 1``, is a small share next to the model's replies) and captions them offline once (their captions are what the
scripted OpenAI-compatible server of tests/openai_server.py submits for each clip, by name). A
warm-up batch through the server fills the tool cache, so both measured batches do the same
(cached) vision work. Then `python -m agent batch` runs against the server, answering every
request after ``--delay`` seconds, with `--llm-concurrency 1` and with `--llm-concurrency N`:
the wall time of each, the ratio, the most requests the server held at once, and a check that
every clip got exactly its own caption once (no reply lost or duplicated). The ratio is of the
batch's own time (the summary line's, from the first clip to the last record); the process's wall
time, with its start-up (imports, the plugins) the same in both, is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agent.core.config import Settings  # noqa: E402
from agent.run.batch import run_batch  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402
from openai_server import ScriptedOpenAI, caption_responder  # noqa: E402

CAMERAS = ["static", "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out", "roll clockwise"]


def batch(folder: Path, server: ScriptedOpenAI, out: Path, concurrency: int) -> tuple[float, float, float, list[dict]]:
    cmd = [sys.executable, "-m", "agent", "batch", str(folder / "videos"), "-o", str(out), "-q",
           "--llm", "scripted-vl", "--base-url", server.base_url, "--no-images", "--timeout", "60",
           "--llm-concurrency", str(concurrency), "--cache", str(folder / "cache.sqlite"),
           "--runs-dir", str(folder / "runs")]
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"batch --llm-concurrency {concurrency} failed ({proc.returncode}): {proc.stderr}")
    summary = re.search(r" in (\d+\.\d+)s", proc.stderr)
    if summary is None:
        raise SystemExit(f"no summary line from the batch: {proc.stderr}")
    return float(summary.group(1)), seconds, cpu, [json.loads(line) for line in out.read_text().splitlines()]


def check(records: list[dict], captions: dict[str, dict], responder) -> str:
    got = {r["caption"]["Video"]: r["caption"] for r in records}
    lost = sorted(set(captions) - set(got))
    wrong = sorted(name for name in got if got[name] != captions.get(name))
    twice = sorted(name for name, n in responder.served.items() if n != 1)
    ok = len(records) == len(captions) and not lost and not wrong and not twice and \
        all(r["status"] == "ok" for r in records)
    return "all replies once, each clip its own caption" if ok else \
        f"PROBLEM: lost {lost}, wrong {wrong}, served more than once {twice}, records {len(records)}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--delay", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--size", default="320x180", help="WIDTHxHEIGHT of the generated clips")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    folder = Path(tempfile.mkdtemp(prefix="instance-agent-llm-"))
    videos = []
    for i in range(args.clips):
        videos.append(folder / "videos" / f"clip{i:03d}.mp4")
        render_clip(random_scene(700 + i, CAMERAS[i % len(CAMERAS)], duration_s=1.0, width=width, height=height),
                    videos[-1])
    run_batch(videos, folder / "offline.jsonl", Settings(runs_dir=folder / "runs"))
    captions = {}
    for line in (folder / "offline.jsonl").read_text().splitlines():
        record = json.loads(line)
        captions[record["caption"]["Video"]] = record["caption"]

    with ScriptedOpenAI(responder=caption_responder(captions), delay=0.0) as server:
        batch(folder, server, folder / "warm-up.jsonl", args.concurrency)  # fills the tool cache
    rows = []
    for n in (1, args.concurrency):
        responder = caption_responder(captions)
        with ScriptedOpenAI(responder=responder, delay=args.delay) as server:
            seconds, wall, cpu, records = batch(folder, server, folder / f"c{n}.jsonl", n)
            rows.append((n, seconds, wall, cpu, server.peak, len(server.requests), check(records, captions, responder),
                         sum(r["usage"]["model_s"] for r in records), sum(r["usage"]["queue_s"] for r in records)))
    print(f"{args.clips} clips of {width}x{height}, 1 s, the server answers after {args.delay:g} s, "
          "2 requests per clip, warm tool cache")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average before the summary: {load} on {os.cpu_count()} CPU(s)")
    print("| --llm-concurrency | batch s | clips/min | process wall s | process CPU s | most requests at once | "
          "requests | model s (sum) | queue s (sum) | replies |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, seconds, wall, cpu, peak, requests, verdict, model_s, queue_s in rows:
        print(f"| {n} | {seconds:.1f} | {60 * args.clips / seconds:.1f} | {wall:.1f} | {cpu:.1f} | {peak} | {requests} | "
              f"{model_s:.1f} | {queue_s:.1f} | {verdict} |")
    print(f"ratio: {rows[0][1] / rows[1][1]:.2f}x faster with --llm-concurrency {args.concurrency} "
          f"(process wall time: {rows[0][2] / rows[1][2]:.2f}x)")
    return 0 if all(r[6].startswith("all") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
