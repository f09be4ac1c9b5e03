"""Shot boundaries and per-shot camera labels on generated montages and bikes.mp4.

    python benchmarks/shots.py [--clips-dir DIR] [--json FILE] [--quick]

Generated montages (640x360, 25 fps, H.264) with frame-exact ground truth (``agent.testing.synthetic.
render_montage``): hard cuts between static and moving shots, cuts between fast-moving shots,
dissolves (0.3-1.2 s) between static and between moving shots, fades through black (with and
without a black hold, a fade in at the start and a fade out at the end), cuts between similar-
colour shots (two views of one dimly lit world), and single shots of fast camera motion (whip
pans, fast zoom and roll) with no cut at all. Plus ``bikes.mp4`` (five hard cuts, read off its
frames).

Scores, each transition counted once:

* exact: a found transition whose first and last frames are both within one frame of a true
  one's (for a cut: the new shot's first frame); precision and recall;
* PySceneDetect on its own (``scenedetect.detect`` with ``ContentDetector``, its own decoding):
  its cuts against the same truth (a gradual transition counts as found by a cut inside it,
  though never exact), and its run time beside ours: our shot finding alone
  (``agent.run.media.find_shots``: a decode of every frame feeding the same PySceneDetect detector and
  our gradual-transition finder) and our whole decode pass (which also samples the frames, builds
  the motion stream and fits the camera pairs);
* the former detector (HSV histogram jumps on the 10 fps motion stream), for the record;
* camera label per shot (``estimate_camera_motion``'s ``per_shot``) against the shot's generated
  camera, over the montages' shots that were found (matched by overlap); the single shots of
  extreme camera motion are there for false cuts only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from agent.testing.synthetic import CameraSpec, TransitionSpec, camera_for, random_scene, render_montage  # noqa: E402
from tools.camera import PAIR_FEED  # noqa: E402
from tools.shots import SHOT_FEED  # noqa: E402

REAL = {"bikes.mp4": {"transitions": [(30, 30), (76, 76), (137, 137), (187, 187), (242, 242)]}}


def scene(seed: int, camera: str | CameraSpec, speed: str = "medium", seconds: float = 2.0, **kw):
    spec = random_scene(seed, "static", n_objects=kw.pop("n_objects", None), duration_s=seconds,
                        noise=kw.pop("noise", 2.0))
    spec.camera = camera if isinstance(camera, CameraSpec) else camera_for(camera, speed)
    for k, v in kw.items():
        setattr(spec, k, v)
    return spec


def cases(quick: bool = False, variants: tuple[int, ...] = (0, 1)) -> dict[str, dict]:
    cut, dis, fade = TransitionSpec("cut"), (lambda s: TransitionSpec("dissolve", s)), \
        (lambda s, hold=0.0: TransitionSpec("fade", s, hold))
    out: dict[str, dict] = {}
    for v in variants:
        b = 100 * v
        out[f"cuts-{v}"] = dict(shots=[scene(b + 1, "static"), scene(b + 2, "pan left"), scene(b + 3, "zoom in"),
                                       scene(b + 4, "static"), scene(b + 5, "tilt up")], transitions=[cut] * 4)
        out[f"cuts-fast-{v}"] = dict(shots=[scene(b + 6, "pan right", "fast"), scene(b + 7, "roll clockwise", "fast"),
                                            scene(b + 8, "zoom out", "fast"), scene(b + 9, "pan left and tilt up", "fast")],
                                     transitions=[cut] * 3)
        out[f"dissolves-static-{v}"] = dict(shots=[scene(b + 10 + k, "static") for k in range(4)],
                                            transitions=[dis(0.3), dis(0.6), dis(1.0)])
        out[f"dissolves-moving-{v}"] = dict(shots=[scene(b + 14, "pan left"), scene(b + 15, "zoom in"),
                                                   scene(b + 16, "tilt down", "slow"), scene(b + 17, "pan right")],
                                            transitions=[dis(0.4), dis(0.8), dis(1.2)])
        out[f"fades-{v}"] = dict(shots=[scene(b + 18, "static"), scene(b + 19, "pan right"), scene(b + 20, "zoom out"),
                                        scene(b + 21, "static")],
                                 transitions=[fade(0.3), fade(0.5, 0.2), fade(0.4, 0.5)], fade_in_s=0.5, fade_out_s=0.5)
        out[f"mixed-{v}"] = dict(shots=[scene(b + 22, "pan left", "slow"), scene(b + 23, "static"),
                                        scene(b + 24, "roll counterclockwise"), scene(b + 25, "static"),
                                        scene(b + 26, "zoom in", "slow")],
                                 transitions=[cut, dis(0.5), fade(0.3, 0.1), cut])
        # two views of one dimly lit world: the same colours, other places
        world = b + 27
        out[f"similar-{v}"] = dict(shots=[scene(world, "static", view_offset=(ox, oy), gain=0.35, n_objects=1)
                                          for ox, oy in ((-1.0, -0.8), (0.6, 0.7), (-0.4, 0.9), (1.1, -0.6))],
                                   transitions=[cut] * 3)
        out[f"similar-lit-{v}"] = dict(shots=[scene(world + 1, cam, view_offset=(ox, oy), n_objects=1)
                                              for cam, (ox, oy) in zip(("static", "pan left", "static", "tilt down"),
                                                                       ((-1.0, -0.8), (0.6, 0.7), (-0.4, 0.9), (1.1, -0.6)))],
                                       transitions=[cut] * 3)
    # fast camera motion, no cut
    whips = [CameraSpec(pan=1.0), CameraSpec(pan=-2.0), CameraSpec(tilt=1.2), CameraSpec(zoom=0.6),
             CameraSpec(roll=60.0), CameraSpec(pan=1.5, tilt=-0.8)]
    for k, cam in enumerate(whips):
        for v in variants:
            out[f"fast-{k}-{v}"] = dict(shots=[scene(1000 + 10 * v + k, cam, seconds=4.0, n_objects=3)], transitions=[])
    if quick:
        out = {k: v for i, (k, v) in enumerate(out.items()) if i % 3 == 0}
    return out


def make(name: str, case: dict, folder: Path) -> tuple[Path, dict]:
    path = folder / f"{name}.mp4"
    truth_path = path.with_suffix(".json")
    if not truth_path.exists():
        truth = render_montage(case["shots"], case["transitions"], path, fade_in_s=case.get("fade_in_s", 0.0),
                               fade_out_s=case.get("fade_out_s", 0.0))
        truth_path.write_text(json.dumps(truth.to_dict()))
    return path, json.loads(truth_path.read_text())


def match_exact(found: list[tuple[int, int]], truth: list[tuple[int, int]], tol: int = 1) -> int:
    used, hits = set(), 0
    for s, e in truth:
        for k, (fs, fe) in enumerate(found):
            if k not in used and abs(fs - s) <= tol and abs(fe - e) <= tol:
                used.add(k)
                hits += 1
                break
    return hits


def match_inside(cuts: list[int], truth: list[tuple[int, int]], tol: int = 1) -> tuple[int, int]:
    """(true transitions with a cut inside them, cuts inside some transition): each counted once."""
    used, hits = set(), 0
    for s, e in truth:
        for k, c in enumerate(cuts):
            if k not in used and s - tol <= c <= e + tol:
                used.add(k)
                hits += 1
                break
    good = sum(any(s - tol <= c <= e + tol for s, e in truth) for c in cuts)
    return hits, good


def pyscenedetect_cuts(path: Path) -> tuple[list[int], float]:
    from scenedetect import detect
    from scenedetect.detectors import ContentDetector

    t = time.perf_counter()
    scenes = detect(str(path), ContentDetector())
    return [int(s[0].frame_num) for s in scenes[1:]], time.perf_counter() - t


def former_cuts(path: Path) -> list[int]:
    """The project's former detector: HSV histogram jumps between motion-stream frames (10 fps)."""
    from agent.run.media import FrameStore

    motion = FrameStore(path).motion
    frames = [motion.frames[i] for i in range(len(motion.frames))]

    def hist(f):
        h, w = f.shape[:2]
        thumb = cv2.resize(f, (80, max(1, round(h * 80 / w))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(thumb, cv2.COLOR_BGR2HSV)
        return cv2.normalize(cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256]), None).flatten()

    hs = [hist(f) for f in frames]
    scores = np.array([cv2.compareHist(hs[i], hs[i + 1], cv2.HISTCMP_BHATTACHARYYA) for i in range(len(hs) - 1)])
    times = motion.times
    cuts = []
    for i, score in enumerate(scores):
        if score < 0.35:
            continue
        around = [s for k, s in enumerate(scores) if k != i and abs(times[k + 1] - times[i + 1]) <= 1.0]
        if score >= 3.0 * max(float(np.median(around)) if around else 0.0, 0.02):
            cuts.append(motion.indices[i + 1])
    return cuts


def ours(path: Path, settings, tools) -> tuple[list[tuple[int, int, str]], float, list]:
    from agent.run.context import RunContext
    from agent.run.media import FrameStore

    fs = FrameStore(path, feeds=[SHOT_FEED, PAIR_FEED])
    t = time.perf_counter()
    shots = fs.streamed(SHOT_FEED)  # the whole decode pass
    seconds = time.perf_counter() - t
    ctx = RunContext(fs, settings, settings.runs_dir / path.stem, tools=tools).measuring()
    cam = tools["estimate_camera_motion"](ctx).evidence
    per_shot = cam.per_shot or [None]
    labels = [(s.start_s, s.end_s, s.label) for s in cam.per_shot] if cam.per_shot else \
        [(shots.span_s(0)[0], shots.span_s(0)[1], cam.label)]
    return [(t.start, t.end, t.kind) for t in shots.transitions], seconds, labels if per_shot else []


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips-dir", type=Path, default=Path(tempfile.gettempdir()) / "instance-agent-shots")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="a third of the generated montages")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--only", help="only the clips whose name holds this")
    ap.add_argument("--variants", default="0,1", help="seed sets of the generated montages (default 0,1)")
    args = ap.parse_args()
    args.clips_dir.mkdir(parents=True, exist_ok=True)

    from agent.testing.clips import find_clip
    from agent.core.config import Settings
    from agent.run.plugins import load_plugins

    settings = Settings(runs_dir=args.clips_dir / "runs")
    tools = {t.name: t for t in load_plugins().tools(settings)}
    items = []
    for name, case in cases(args.quick, tuple(int(v) for v in args.variants.split(","))).items():
        if args.only and args.only not in name:
            continue
        path, truth = make(name, case, args.clips_dir)
        items.append((name, path, truth))
    if not args.no_real and not args.only:
        for name, ann in REAL.items():
            path = find_clip(name)
            if path is not None:
                items.append((name, Path(path), {"transitions": [{"start_frame": s, "end_frame": e, "kind": "cut"}
                                                                  for s, e in ann["transitions"]], "shots": []}))

    rows = []
    totals = {k: 0 for k in ("truth", "found", "exact", "psd_found", "psd_cuts", "psd_good", "old_found", "old_cuts",
                             "old_good", "old_exact", "cam_total", "cam_ok")}
    time_ours = time_psd = time_find = 0.0
    by_kind: dict[str, list[int]] = {}
    for name, path, truth in items:
        true = [(t["start_frame"], t["end_frame"]) for t in truth["transitions"]]
        found, seconds, labels = ours(path, settings, tools)
        psd, psd_s = pyscenedetect_cuts(path)
        from agent.run.media import find_shots

        t0 = time.perf_counter()
        find_shots(path, SHOT_FEED)
        time_find += time.perf_counter() - t0
        old = former_cuts(path)
        exact = match_exact([(s, e) for s, e, _ in found], true)
        p_hits, p_good = match_inside(psd, true)
        o_hits, o_good = match_inside(old, true)
        o_exact = match_exact([(c, c) for c in old], true)
        for t in truth["transitions"]:
            k = by_kind.setdefault(t["kind"], [0, 0])
            k[1] += 1
            k[0] += match_exact([(s, e) for s, e, _ in found], [(t["start_frame"], t["end_frame"])])
        cam_ok = cam_total = 0
        cam_rows = []
        for shot in truth.get("shots", []) if len(truth.get("shots", [])) > 1 else []:  # montages only
            s0, s1 = shot["start_s"], shot["end_s"]
            best = max(labels, key=lambda lab: min(s1, lab[1]) - max(s0, lab[0]), default=None)
            if best is None or min(s1, best[1]) - max(s0, best[0]) < 0.5 * (s1 - s0):
                continue
            cam_total += 1
            cam_ok += best[2] == shot["camera"]
            cam_rows.append((shot["camera"], best[2]))
        totals["truth"] += len(true)
        totals["found"] += len(found)
        totals["exact"] += exact
        totals["psd_found"] += p_hits
        totals["psd_cuts"] += len(psd)
        totals["psd_good"] += p_good
        totals["old_found"] += o_hits
        totals["old_cuts"] += len(old)
        totals["old_good"] += o_good
        totals["old_exact"] += o_exact
        totals["cam_total"] += cam_total
        totals["cam_ok"] += cam_ok
        time_ours += seconds
        time_psd += psd_s
        rows.append({"clip": name, "truth": true, "found": found, "pyscenedetect": psd, "former": old,
                     "exact": exact, "ours_s": round(seconds, 3), "pyscenedetect_s": round(psd_s, 3),
                     "camera": cam_rows})
        miss = "" if exact == len(true) == len(found) else f"  truth {true} found {[(s, e) for s, e, _ in found]}"
        print(f"{name:<22} transitions {len(true)} found {len(found)} exact {exact}  camera {cam_ok}/{cam_total}"
              f"  {seconds:.2f}s vs PySceneDetect {psd_s:.2f}s{miss}", file=sys.stderr)
        for want, got in cam_rows:
            if want != got:
                print(f"    camera: {want} -> {got}", file=sys.stderr)

    def pr(good, found, hits, truth):
        return f"{good / max(1, found):.1%} / {hits / max(1, truth):.1%}"

    t = totals
    print(f"\n{len(items)} clips, {t['truth']} transitions\n")
    print("| detector | precision / recall | |")
    print("|---|---|---|")
    print(f"| ours, exact to 1 frame (start and end) | {pr(t['exact'], t['found'], t['exact'], t['truth'])} | "
          f"{t['exact']} of {t['found']} found, {t['truth']} true |")
    print(f"| PySceneDetect ContentDetector alone, a cut inside the transition | "
          f"{pr(t['psd_good'], t['psd_cuts'], t['psd_found'], t['truth'])} | {t['psd_cuts']} cuts |")
    print(f"| former histogram detector (10 fps), a cut inside | {pr(t['old_good'], t['old_cuts'], t['old_found'], t['truth'])}"
          f" | exact: {t['old_exact']} |")
    print("\n| kind | exact |\n|---|---|")
    for kind, (ok, tot) in sorted(by_kind.items()):
        print(f"| {kind} | {ok}/{tot} |")
    print(f"\ncamera label per shot: {t['cam_ok']}/{t['cam_total']} = {t['cam_ok'] / max(1, t['cam_total']):.1%}")
    print(f"time: PySceneDetect's own run {time_psd:.2f} s; our shot finding alone {time_find:.2f} s "
          f"(ratio {time_find / max(time_psd, 1e-9):.2f}); our whole decode pass {time_ours:.2f} s "
          f"(ratio {time_ours / max(time_psd, 1e-9):.2f})")
    if args.json:
        args.json.write_text(json.dumps({"totals": totals, "rows": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
