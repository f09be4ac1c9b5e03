"""Accuracy of the embedded tools on generated clips with known ground truth.

    python benchmarks/accuracy.py [--clips-dir DIR] [--quick] [--backend auto|packaged|classical]
                                  [--threshold NAME=VALUE ...]

Covers every camera primitive at three speeds, static clips and combinations, each with 1-3
moving objects, texture and pixel noise. Prints a table; clips are cached in --clips-dir.
``--threshold colour_gate=0.4`` runs with a detection threshold changed (any field of
``tools.detect.thresholds.DetectionThresholds``; JSON values, so ``neighbour_offsets_s=[0.6,1.2]``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.core.config import Settings  # noqa: E402
from agent.run.context import RunContext  # noqa: E402
from agent.core.evidence import instances_of  # noqa: E402
from agent.run.media import FrameStore  # noqa: E402
from agent.run.plugins import load_plugins  # noqa: E402
from agent.testing.synthetic import random_scene, render_clip  # noqa: E402
from tools.detect.thresholds import overridden  # noqa: E402
from tools.shots import motion_shots  # noqa: E402

PRIMITIVES = ["pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out", "roll clockwise",
              "roll counterclockwise"]
COMBOS = ["pan left and tilt up", "pan right and zoom in", "tilt down and zoom out", "pan right and tilt down"]
SPEEDS = ["slow", "medium", "fast"]


def cases(quick: bool = False):
    out = []
    seed = 1000
    for i in range(12):
        out.append(("static", SPEEDS[i % 3], seed := seed + 1))
    for prim in PRIMITIVES:
        for i in range(5):
            out.append((prim, SPEEDS[i % 3], seed := seed + 1))
    for combo in COMBOS:
        for i in range(3):
            out.append((combo, SPEEDS[i % 3], seed := seed + 1))
    return out[::4] if quick else out


def match(truth_objects, found):
    """Pair each ground-truth object with the nearest unclaimed instance by start centroid."""
    pairs, used = [], set()
    for obj in truth_objects:
        best, best_d = None, 0.25
        for inst in found:
            if inst.id in used:
                continue
            first = next((c for c in inst.centroids if c is not None), None)
            if first is None:
                continue
            d = math.dist(first, obj["start_xy"])
            if d < best_d:
                best, best_d = inst, d
        if best is not None:
            used.add(best.id)
        pairs.append((obj, best))
    return pairs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips-dir", type=Path, default=Path(tempfile.gettempdir()) / "instance-agent-bench")
    ap.add_argument("--quick", action="store_true", help="a quarter of the clips")
    ap.add_argument("--json", type=Path, help="also write the per-clip results here")
    ap.add_argument("--backend", default="auto", choices=["auto", "packaged", "classical"],
                    help="auto: the default run (the packaged models where set-up fetched them)")
    ap.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                    help="a detection threshold to change for this run (repeatable)")
    args = ap.parse_args()
    args.clips_dir.mkdir(parents=True, exist_ok=True)
    with overridden(**threshold_values(args.threshold)):
        return measure(args)


def threshold_values(pairs: list[str]) -> dict:
    """``NAME=VALUE`` pairs as threshold overrides; a value is read as JSON where it parses, else as text."""
    values = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--threshold {pair!r}: expected NAME=VALUE")
        try:
            values[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[name.strip()] = raw
    return values


def measure(args) -> int:
    settings = Settings(runs_dir=args.clips_dir / "runs", backend=args.backend)
    tools = {t.name: t for t in load_plugins().tools(settings)}

    rows = []
    started = time.perf_counter()
    for label, speed, seed in cases(args.quick):
        path = args.clips_dir / f"{seed}.mp4"
        truth_path = path.with_suffix(".json")
        if not truth_path.exists():
            spec = random_scene(seed, label, speed=speed)
            truth_path.write_text(json.dumps(render_clip(spec, path).to_dict()))
        truth = json.loads(truth_path.read_text())
        ctx = RunContext(FrameStore(path), settings, settings.runs_dir / str(seed), tools=tools).measuring()
        cam = tools["estimate_camera_motion"](ctx).evidence.label
        tools["segment_and_blur"](ctx)
        found = instances_of(ctx.evidence)
        pairs = match(truth["objects"], found)
        rows.append({
            "seed": seed, "camera_truth": truth["camera"], "camera": cam, "speed": speed,
            "objects": len(truth["objects"]), "instances": len(found),
            "cells": [(o["start_cell"], o["end_cell"], i.start_cell if i else None, i.end_cell if i else None)
                      for o, i in pairs],
            "colours": [(o["colour"], (i.colours[0] if i and i.colours else None)) for o, i in pairs],
            "shots": int(motion_shots(ctx).max()) + 1,  # every generated clip is one shot
        })
        print(f"{seed} {truth['camera']:<26} -> {cam:<32} objects {len(truth['objects'])} found {len(found)}",
              file=sys.stderr)

    n = len(rows)
    cam_ok = sum(r["camera"] == r["camera_truth"] for r in rows)
    static = [r for r in rows if r["camera_truth"] == "static"]
    static_moving = sum(r["camera"] not in ("static", "static, shaky", "unclear") for r in static)
    count_ok = sum(r["objects"] == r["instances"] for r in rows)
    cells = [c for r in rows for c in r["cells"]]
    cell_ok = sum(c[0] == c[2] and c[1] == c[3] for c in cells)
    start_ok = sum(c[0] == c[2] for c in cells)
    end_ok = sum(c[1] == c[3] for c in cells)
    colours = [c for r in rows for c in r["colours"]]
    colour_ok = sum(a == b for a, b in colours)
    false_cuts = sum(r["shots"] > 1 for r in rows)
    per_label = {}
    for r in rows:
        key = r["camera_truth"] if " and " not in r["camera_truth"] else "combinations"
        ok, tot = per_label.get(key, (0, 0))
        per_label[key] = (ok + (r["camera"] == r["camera_truth"]), tot + 1)

    print(f"\nclips: {n}   objects: {len(cells)}   time: {time.perf_counter() - started:.0f} s\n")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| camera label exact | {cam_ok}/{n} = {cam_ok / n:.1%} | >= 95% |")
    print(f"| static clips labelled as moving | {static_moving}/{len(static)} = {static_moving / max(1, len(static)):.1%} | <= 5% |")
    print(f"| instance count exact | {count_ok}/{n} = {count_ok / n:.1%} | >= 90% |")
    print(f"| start and end grid cell both right | {cell_ok}/{len(cells)} = {cell_ok / max(1, len(cells)):.1%} | >= 90% |")
    print(f"| start cell / end cell right | {start_ok / max(1, len(cells)):.1%} / {end_ok / max(1, len(cells)):.1%} | |")
    print(f"| colour name | {colour_ok}/{len(colours)} = {colour_ok / max(1, len(colours)):.1%} | >= 85% |")
    print(f"| clips cut into shots (all are one shot) | {false_cuts}/{n} | 0 |")
    print("\n| camera truth | right |")
    print("|---|---|")
    for key, (ok, tot) in per_label.items():
        print(f"| {key} | {ok}/{tot} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
