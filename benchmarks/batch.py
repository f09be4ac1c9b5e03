"""Batch throughput: 1 and 2 workers, the warm-cache re-run, and kill -9 then resume.

    python benchmarks/batch.py [--clips 20]

Renders N generated 3 s 640x360 clips, then (offline planner, classical tools):
* captions them with 1 worker and with 2 workers (no cache), clips per minute and the ratio;
* captions them once more against a cache filled by a first cached run: the warm re-run speed-up;
* starts a batch, kills it with SIGKILL after a few records, resumes, and counts records per clip.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.run.batch import run_batch  # noqa: E402
from agent.core.config import Settings  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402

CAMERAS = ["static", "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out", "roll clockwise"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=20)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="instance-agent-batch-"))
    videos = []
    for i in range(args.clips):
        path = folder / "videos" / f"clip{i:03d}.mp4"
        render_clip(random_scene(500 + i, CAMERAS[i % len(CAMERAS)], duration_s=3.0), path)
        videos.append(path)
    rows = []
    for workers in (1, 2):
        s = run_batch(videos, folder / f"w{workers}.jsonl", Settings(runs_dir=folder / f"runs{workers}"), workers=workers)
        rows.append((f"{workers} worker{'s' if workers > 1 else ''}, no cache", s.seconds, s.done))
    cache = folder / "cache.sqlite"
    cold = run_batch(videos, folder / "cold.jsonl", Settings(runs_dir=folder / "rc"), cache_path=cache)
    warm = run_batch(videos, folder / "warm.jsonl", Settings(runs_dir=folder / "rw"), cache_path=cache)
    rows.append(("1 worker, filling the cache", cold.seconds, cold.done))
    rows.append(("1 worker, warm cache (new records file)", warm.seconds, warm.done))

    out = folder / "killed.jsonl"
    command = [sys.executable, "-m", "agent", "batch", str(folder / "videos"), "--out", str(out),
               "--runs-dir", str(folder / "rk"), "--no-cache"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while not out.exists() or out.read_text().count("\n") < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = out.read_text().count("\n")
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    per_clip = Counter(json.loads(line)["path"] for line in out.read_text().splitlines())

    print(f"{args.clips} clips of 3 s 640x360, offline planner, classical tools, {os.cpu_count()} cores\n")
    print("| run | seconds | clips / min | statuses |\n|---|---|---|---|")
    for name, seconds, done in rows:
        print(f"| {name} | {seconds:.1f} | {60 * args.clips / seconds:.1f} | {dict(done)} |")
    print(f"\n2 workers / 1 worker throughput: {rows[0][1] / rows[1][1]:.2f}x")
    print(f"warm cache speed-up: {cold.seconds / warm.seconds:.2f}x")
    print(f"kill -9 after {killed_at} records, then resume: {len(per_clip)} clips recorded, "
          f"records per clip {sorted(set(per_clip.values()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
