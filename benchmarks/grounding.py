"""Grounded validation on the real clips: correct captions accepted, planted errors rejected,
submissions without tool calls never accepted unmeasured, and how well sureness is calibrated.

    python benchmarks/grounding.py                 # all real clips in benchmarks/grounding_captions.json
    python benchmarks/grounding.py --skip-replay   # without the no-tool-call runs (faster)

1. Each clip is captioned once with the offline planner (``python -m agent run``): its status must be
   ``ok`` (the planner's captions still validate), and its run record gives the tools' evidence.
2. The hand-written captions (``benchmarks/grounding_captions.json``, written from the frames) are
   validated against that evidence with the registered checks: accepted = no binding problem.
3. One planted error per kind on the first caption of each clip: rejected = some binding problem.
4. A model that submits in its first reply without calling a tool (a replayed recording: a wrong
   caption, then the correct one, each submitted again on every repair) must not end ``ok`` without
   the core evidence in its record.
5. Calibration: each rated fact of each clip against the truth read from the frames
   (``truth`` in the captions file): the share of sure facts that are right and of unsure facts that
   are wrong.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
DATA = Path(__file__).resolve().with_name("grounding_captions.json")
CLIPS = next((p for p in (ROOT / ".venv" / "clips", Path(sys.prefix) / "clips") if p.is_dir()), ROOT / ".venv" / "clips")
STRUCT = "Structural Description"
WRONG = {"Global Description": "A man in a red coat walks a dog along a river as the camera zooms in.",
         STRUCT: {"Main Instance": {"No.0": {"Class": "man", "Appearance": "A man in a red coat.",
                                             "Actions and Motion": "He walks a dog.", "Position": "He walks from left to right."}},
                  "Background Detail": "A river bank with trees.", "Camera Movement": "The camera zooms in."}}


def agent(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, check=False, capture_output=True, text=True,
                   timeout=900)


def record_of(runs: Path, clip: str) -> dict | None:
    found = sorted(runs.glob(f"{Path(clip).stem}-*/record.json"))
    return json.loads(found[-1].read_text()) if found else None


def planted(caption: dict, error: dict) -> dict:
    out = copy.deepcopy(caption)
    field = error["field"]
    if field in ("Global Description",):
        out[field] = error["text"]
    elif field in ("Background Detail", "Camera Movement"):
        out[STRUCT][field] = error["text"]
    else:
        key, leaf = field.rsplit(".", 1)
        out[STRUCT]["Main Instance"][key][leaf] = error["text"]
    return out


def judge(raw: dict, evidence: dict, checks) -> tuple[bool, list[str], int]:
    from agent.core.validation import assess

    caption, problems, advice = assess(raw, evidence, checks)
    return caption is not None and not problems, [str(p) for p in problems], len(advice)


def replay_run(clip: Path, submissions: list[dict], runs: Path) -> dict | None:
    """Run the graph with a model that submits ``submissions`` in turn, calling no tool."""
    from langchain_core.messages import AIMessage, message_to_dict

    runs.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for k, args in enumerate(submissions):
            reply = AIMessage(content="", tool_calls=[{"name": "submit_caption", "args": args, "id": f"call_{k}",
                                                      "type": "tool_call"}])
            f.write(json.dumps(message_to_dict(reply)) + "\n")
    agent("run", str(clip), "--llm", f"replay:{f.name}", "--runs-dir", str(runs), "-o", str(runs / f"{clip.stem}.json"))
    return record_of(runs, clip.name)


def calibration(evidence: dict, truth: dict) -> list[tuple[str, float, bool]]:
    from agent.core.sureness import SHOWN, rate

    out = []
    for subject, facts in rate(evidence).items():
        for fact in SHOWN:
            key = f"{subject} {fact}"
            if fact in facts and key in truth:
                out.append((key, facts[fact], bool(truth[key])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", type=Path, default=Path(tempfile.gettempdir()) / "instance-agent-grounding")
    ap.add_argument("--skip-replay", action="store_true")
    ap.add_argument("--clips-dir", type=Path, default=CLIPS, help="where the real clips are (default: %(default)s)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--generated", type=int, default=0, metavar="N",
                    help="also compose and validate captions of the first N of benchmarks/accuracy.py's 64 "
                         "generated clips (every 64 // N-th), as the offline planner does")
    args = ap.parse_args()
    from agent.core.config import load_settings
    from agent.core.evidence import SURE, Evidence
    from agent.run.plugins import load_plugins

    settings = load_settings()
    plugins = load_plugins(settings.disabled_plugins)
    checks = plugins.validation_checks(settings)
    models = plugins.evidence_models(settings)
    data = json.loads(DATA.read_text())
    offline, correct, planted_, contested, replays, calib = [], [], [], [], [], []
    for name, entry in data["clips"].items():
        clip = args.clips_dir / name
        runs = args.runs_dir / "offline"
        if record_of(runs, name) is None:
            agent("run", str(clip), "--runs-dir", str(runs), "-o", str(runs / f"{clip.stem}.json"))
        record = record_of(runs, name)
        if record is None:
            print(f"{name}: the offline run left no record", file=sys.stderr)
            continue
        evidence = Evidence(record["evidence"], models)
        offline.append((name, record["status"] == "ok", record["problems"]))
        for k, caption in enumerate(entry["captions"]):
            ok, problems, advice = judge(caption, evidence, checks)
            correct.append((f"{name} caption {k + 1}", ok, problems, advice))
        for error in entry["errors"]:
            ok, problems, _ = judge(planted(entry["captions"][0], error), evidence, checks)
            planted_.append((f"{name} {error['kind']}", not ok, problems))
        if name in data.get("contested", {}):
            c = data["contested"][name]
            ok, problems, _ = judge(planted(entry["captions"][0], c), evidence, checks)
            contested.append((f"{name} {c['field']}: {c['text']}", ok, problems))
        calib += [(name, *row) for row in calibration(evidence, entry.get("truth", {}))]
        if not args.skip_replay:
            wrong = {"Video": name, **WRONG}
            rec = replay_run(clip, [wrong] * 4, args.runs_dir / "wrong")
            core = all(k in (rec or {}).get("evidence", {}) for k in ("read_metadata", "detect_instances",
                                                                      "estimate_camera_motion"))
            replays.append((f"{name} wrong caption, no tool call", (rec or {}).get("status"), core))
            rec = replay_run(clip, [entry["captions"][0]] * 4, args.runs_dir / "right")
            core = all(k in (rec or {}).get("evidence", {}) for k in ("read_metadata", "detect_instances",
                                                                      "estimate_camera_motion"))
            replays.append((f"{name} correct caption, no tool call", (rec or {}).get("status"), core))
    report(offline, correct, planted_, contested, replays, calib, SURE)
    if args.generated:
        generated = generated_clips(args.generated, args.runs_dir / "generated", checks)
        rate_line("offline captions of generated clips valid", generated)
        for name, ok, problems in generated:
            if not ok:
                print(f"  MISS {name}: {problems}")
    if args.json:
        args.json.write_text(json.dumps({"offline": offline, "correct": correct, "planted": planted_,
                                         "contested": contested, "replays": replays, "calibration": calib}, indent=1))
    return 0


def generated_clips(n: int, where: Path, checks) -> list[tuple[str, bool, list[str]]]:
    """Compose the caption of each generated clip from the offline plan's evidence and validate it."""
    from accuracy import cases
    from agent.core.composer import compose
    from agent.core.config import Settings
    from agent.run.context import RunContext
    from agent.run.media import FrameStore
    from agent.testing.synthetic import random_scene, render_clip
    from graphs.caption import offline_tools

    settings = Settings(runs_dir=where / "runs")
    tools = {t.name: t for t in load_plugins_tools(settings)}
    everything = cases()
    picked = everything[:: max(1, len(everything) // n)][:n]
    out = []
    for label, speed, seed in picked:
        path = where / f"{seed}.mp4"
        if not path.exists():
            where.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{seed}.partial.mp4")  # a stopped run leaves no half-written clip
            render_clip(random_scene(seed, label, speed=speed), partial)
            partial.rename(path)
        ctx = RunContext(FrameStore(path), settings, settings.runs_dir / str(seed), tools=tools).measuring()
        for name in offline_tools(list(tools.values())):
            ctx.require(name)
        judged_ = judge(compose(ctx.evidence, path.name).to_dict(), ctx.evidence, checks)
        out.append((f"{seed} {label} {speed}", judged_[0], judged_[1]))
    return out


def load_plugins_tools(settings):
    from agent.run.plugins import load_plugins

    return load_plugins(settings.disabled_plugins).tools(settings)


def rate_line(label: str, rows: list, index: int = 1) -> None:
    hits = sum(1 for r in rows if r[index])
    print(f"{label}: {hits}/{len(rows)} ({100 * hits / max(1, len(rows)):.0f}%)")


def report(offline, correct, planted_, contested, replays, calib, sure) -> None:
    rate_line("offline planner captions valid", offline)
    rate_line("correct captions accepted", correct)
    for name, ok, problems, advice in correct:
        print(f"  {'ok  ' if ok else 'MISS'} {name}  ({advice} advice)" + ("" if ok else f": {problems}"))
    rate_line("planted errors rejected", planted_)
    for name, ok, problems in planted_:
        print(f"  {'ok  ' if ok else 'MISS'} {name}" + (f": {problems[0]}" if ok and problems else ""))
    for name, ok, problems in contested:
        print(f"contested: {'accepted' if ok else 'rejected'} {name}" + ("" if ok else f": {problems}"))
    unmeasured_ok = sum(1 for _, status, core in replays if status == "ok" and not core)
    print(f"no-tool-call runs accepted without core evidence: {unmeasured_ok}/{len(replays)}")
    for name, status, core in replays:
        print(f"  {name}: status {status}, core evidence in record: {core}")
    sure_rows = [r for r in calib if r[2] >= sure]
    unsure_rows = [r for r in calib if r[2] < sure]
    print(f"calibration: sure facts right {sum(r[3] for r in sure_rows)}/{len(sure_rows)}, "
          f"unsure facts wrong {sum(not r[3] for r in unsure_rows)}/{len(unsure_rows)}")
    for clip, key, value, right in calib:
        print(f"  {clip} {key} {value:.2f} {'sure' if value >= sure else 'unsure'} {'right' if right else 'WRONG'}")


if __name__ == "__main__":
    sys.exit(main())
