"""Memory and time against clip length: a whole offline run (``python -m agent run``) per clip.

    python benchmarks/long_clips.py [--minutes 1,5,10,30] [--sizes 320x240,640x360] [--clips-dir DIR]

Clips are generated montages (``agent.testing.synthetic``): shots of 12-20 s with the camera static,
panning, tilting, zooming or rolling, one to three moving objects, joined by cuts, dissolves and
fades, 25 fps H.264. All lengths of one size are rendered in one pass (the frames are drawn once
and written to every clip still shorter than its length) and kept in --clips-dir.

Each run is a child process; its peak resident memory is the child's ``ru_maxrss`` (what
``/usr/bin/time -v`` reports as "Maximum resident set size") and its time the wall clock.
Prints one row per clip: length, size, shots found, peak RSS, seconds, seconds per minute of
video, and the decode pass's share (from the run record's timings).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CAMERAS = ["static", "pan left", "zoom in", "tilt down", "static", "pan right", "roll clockwise", "zoom out",
           "pan left and tilt up", "static"]


def shot_plan(total_s: float, seed: int = 0):
    """Shots (seed, camera, seconds) and the transition after each, filling ``total_s``."""
    import numpy as np

    from agent.testing.synthetic import TransitionSpec

    rng = np.random.default_rng(seed)
    shots, transitions, t, k = [], [], 0.0, 0
    while t < total_s:
        length = float(rng.uniform(12.0, 20.0))
        shots.append((seed * 1000 + k, CAMERAS[k % len(CAMERAS)], length))
        kind = ("cut", "cut", "dissolve", "fade")[k % 4]
        transitions.append(TransitionSpec(kind, 0.6 if kind == "dissolve" else 0.4, 0.2 if kind == "fade" else 0.0))
        t += length
        k += 1
    return shots, transitions[:-1]


def render_lengths(minutes: list[float], width: int, height: int, folder: Path) -> dict[float, Path]:
    """Every length at one size, rendered once: clip i receives frames until it is long enough."""
    import av

    from agent.testing.synthetic import montage_frames, random_scene

    paths = {m: folder / f"long-{width}x{height}-{m:g}min.mp4" for m in minutes}
    todo = [m for m in minutes if not paths[m].exists()]
    if not todo:
        return paths
    fps = 25
    longest = max(todo)
    plan, transitions = shot_plan(longest * 60 + 120)  # with room to spare: a cut adds no frames
    specs = []
    for seed, camera, seconds in plan:
        spec = random_scene(seed, camera, speed="slow", duration_s=seconds, width=width, height=height, noise=2.0)
        specs.append(spec)
    if sum(seconds for _, _, seconds in plan) < longest * 60:  # pragma: no cover - a bug in the plan
        raise RuntimeError("the shot plan is shorter than the clip")
    outs = {}
    for m in todo:
        tmp = paths[m].with_suffix(".part.mp4")
        container = av.open(str(tmp), "w")
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        outs[m] = (container, stream, int(m * 60 * fps), tmp)
    written = 0
    started = time.perf_counter()
    for frame in montage_frames(specs, transitions):
        if not outs:
            break
        vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
        for m in list(outs):
            container, stream, limit, tmp = outs[m]
            for packet in stream.encode(vf):
                container.mux(packet)
            if written + 1 >= limit:
                for packet in stream.encode():
                    container.mux(packet)
                container.close()
                os.replace(tmp, paths[m])
                del outs[m]
                print(f"  wrote {paths[m].name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        written += 1
    return paths


def measure(path: Path, runs_dir: Path, extra: list[str]) -> dict:
    """One offline run of the CLI in a child process: peak RSS (KB), wall seconds, its record.

    The peak is the child's ``ru_maxrss`` (as /usr/bin/time -v reports it); this parent is a small
    process of its own, so what the fork inherits from it does not inflate it."""
    cmd = [sys.executable, "-m", "agent", "run", str(path), "--json", "--runs-dir", str(runs_dir), *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "YOLO_OFFLINE": "1"})
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    record = None
    for line in proc.stdout.splitlines():  # the run's events: the first names its folder
        try:
            event = json.loads(line)
        except ValueError:
            continue
        folder = Path(event["run_dir"]) if isinstance(event, dict) and event.get("run_dir") else None
        if folder is not None and (folder / "record.json").is_file():
            record = json.loads((folder / "record.json").read_text())
            break
    return {"rc": proc.returncode, "seconds": seconds, "peak_kb": peak, "record": record,
            "stderr": proc.stderr[-500:]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", default="1,5,10,30")
    ap.add_argument("--sizes", default="320x240,640x360")
    ap.add_argument("--clips-dir", type=Path, default=Path(tempfile.gettempdir()) / "instance-agent-long")
    ap.add_argument("--json", type=Path)
    ap.add_argument("args", nargs="*", help="arguments for `agent run` (after --)")
    args = ap.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    args.clips_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| length | size | shots | peak RSS | seconds | s per minute | decode pass |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        paths = render_lengths(minutes, w, h, args.clips_dir)
        # smallest first: a child's peak only shows when it is the largest so far, so each clip
        # is measured in a fresh parent of its own
        for m in sorted(minutes):
            out = subprocess.run([sys.executable, __file__, "--one", str(paths[m]), str(args.clips_dir / "runs"),
                                  *args.args], capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rec = r.get("record") or {}
            meta = (rec.get("evidence") or {}).get("read_metadata") or {}
            decode = (rec.get("timings") or {}).get("decode_s")
            row = {"minutes": m, "size": size, "shots": meta.get("shots"), "peak_mb": round(r["peak_kb"] / 1024),
                   "seconds": round(r["seconds"], 1), "s_per_min": round(r["seconds"] / m, 2),
                   "decode_s": decode, "status": rec.get("status"), "rc": r["rc"]}
            rows.append(row)
            print(f"| {m:g} min | {size} | {row['shots']} | {row['peak_mb']} MB | {row['seconds']} | "
                  f"{row['s_per_min']} | {decode} s |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        result = measure(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
        result.pop("stderr") if result["rc"] == 0 else None
        print(json.dumps(result, default=str))
        sys.exit(0)
    sys.exit(main())
