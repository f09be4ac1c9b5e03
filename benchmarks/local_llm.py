"""The local chat models (``--llm local``, ``--llm local:0.5b``) beside the offline planner.

    python benchmarks/local_llm.py                       # everything: prompt cost, clips, enhance
    python benchmarks/local_llm.py --generated 4 --real 2 --llms local:0.5b,offline
    python benchmarks/local_llm.py --only prompt         # only the prompt's cost in real tokens
    INSTANCE_AGENT_LLM_THREADS=1 python benchmarks/local_llm.py ...   # the thread count

* prompt: what the system prompt, the tool descriptions and the submission schema cost in tokens of
  the model's own tokenizer and chat template (the runtime's prompt_tokens), full form (as an
  OpenAI-compatible server renders ``tools=``) against the compact form the local backend sends;
* clips: the real clips (``--clips-dir``, default .venv/clips) and generated ones, each captioned
  with every ``--llms`` spec: model calls, prompt and completion tokens (from the runtime), seconds,
  whether the first submission passed validation, repairs, fallbacks;
* enhance: ``--prompts`` short prompts through ``enhance``: valid captions, calls, tokens, seconds.

Prints markdown tables and the machine's load; ``--json FILE`` keeps every row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.core.config import Settings  # noqa: E402

PROMPTS = [
    "two wolves hunt a rabbit in the snow",
    "a red car drives along a coastal road at sunset",
    "a child flies a yellow kite on a windy beach",
    "a chef slices vegetables in a busy kitchen",
    "a cyclist rides through a forest trail",
    "an old man feeds pigeons in a city square",
    "a black cat jumps onto a wooden table",
    "two dancers spin on a stage under blue light",
    "a dog catches a frisbee in a park",
    "a fishing boat leaves a harbour in the morning fog",
]


def load_text() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} CPUs"
    except OSError:  # pragma: no cover
        return "load unknown"


# -- prompt cost -------------------------------------------------------------------------------
def prompt_cost(spec: str) -> list[dict]:
    """Tokens of each part of the first request, full form against compact form."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from agent.core.prompts import SYSTEM_PROMPT, first_message_text
    from agent.models.local import load, to_chat
    from agent.run.plugins import load_plugins
    from graphs.caption import as_langchain_tool, submit_tool_spec

    model = load(spec)
    plugins = load_plugins([])
    tools = plugins.tools(Settings())
    specs = [convert_to_openai_tool(as_langchain_tool(t)) for t in tools]
    submit = submit_tool_spec(plugins.sections)
    user = first_message_text("clip.mp4", "The video lasts 10.00 seconds. 8 frames were sampled uniformly at "
                              "0.00s, 1.43s, 2.86s, 4.29s, 5.71s, 7.14s, 8.57s, 10.00s.",
                              [t.name for t in tools], "1280x720 pixels, 25.00 fps, 250 frames.")
    chat_user = [{"role": "user", "content": user}]

    def full(system: str, offered: list[dict]) -> int:
        reply = model.chat({"messages": [{"role": "system", "content": system}, *chat_user], "tools": offered,
                            "max_tokens": 1, "temperature": 0.0}) if offered else None
        return int(reply["usage"]["prompt_tokens"]) if reply else model.count_tokens(
            [{"role": "system", "content": system}, *chat_user])

    def compact(offered: list[dict]) -> int:
        return model.count_tokens(to_chat([SystemMessage(SYSTEM_PROMPT), HumanMessage(user)], offered))

    base = model.count_tokens(chat_user)
    rows = [
        {"form": "full", "system prompt": full(SYSTEM_PROMPT, []) - base,
         "tool descriptions": full(SYSTEM_PROMPT, specs) - full(SYSTEM_PROMPT, []),
         "submission schema": full(SYSTEM_PROMPT, [*specs, submit]) - full(SYSTEM_PROMPT, specs),
         "first message": base, "whole first request": full(SYSTEM_PROMPT, [*specs, submit])},
    ]
    bare = model.count_tokens(to_chat([SystemMessage(SYSTEM_PROMPT), HumanMessage(user)], []))
    with_tools = compact(specs)
    rows.append({"form": "compact", "system prompt": bare - base, "tool descriptions": with_tools - bare,
                 "submission schema": compact([*specs, submit]) - with_tools, "first message": base,
                 "whole first request": compact([*specs, submit])})
    return rows


# -- clips -------------------------------------------------------------------------------------
def generated_clips(folder: Path, n: int) -> list[Path]:
    from agent.testing.synthetic import random_scene, render_clip

    cameras = ["static", "pan left", "pan right", "tilt up", "zoom in", "zoom out", "tilt down", "pan left and tilt up"]
    clips = []
    for k in range(n):
        path = folder / f"generated-{k:02d}.mp4"
        if not path.exists():
            render_clip(random_scene(k, cameras[k % len(cameras)], n_objects=1 + k % 3), path)
        clips.append(path)
    return clips


QUIET_PROMPT_PER_S = {"local": 61.0, "local:1.5b": 61.0, "local:0.5b": 114.0}  # 2 threads, an idle 2-core machine
QUIET_GENERATED_PER_S = {"local": 27.0, "local:1.5b": 27.0, "local:0.5b": 45.0}


def runtime_timings(run_dir: str | None) -> dict:
    """What the runtime itself reports over a run's replies (llm.jsonl): prompt tokens it evaluated
    (the rest came from its prompt cache), tokens generated, and the milliseconds of each."""
    out = {"evaluated": 0, "cached": 0, "generated": 0, "prompt_ms": 0.0, "generated_ms": 0.0}
    path = Path(run_dir or "") / "llm.jsonl"
    if not run_dir or not path.is_file():
        return out
    for line in path.read_text().splitlines():
        timings = (json.loads(line).get("data", {}).get("response_metadata") or {}).get("timings") or {}
        out["evaluated"] += int(timings.get("prompt_n", 0))
        out["cached"] += int(timings.get("cache_n", 0))
        out["generated"] += int(timings.get("predicted_n", 0))
        out["prompt_ms"] += float(timings.get("prompt_ms", 0.0))
        out["generated_ms"] += float(timings.get("predicted_ms", 0.0))
    return out


def quiet_estimate(spec: str, timings: dict) -> float | None:
    """Seconds of model time on an idle 2-core machine at the rates measured there (2 threads)."""
    if spec not in QUIET_PROMPT_PER_S:
        return None
    return timings["evaluated"] / QUIET_PROMPT_PER_S[spec] + timings["generated"] / QUIET_GENERATED_PER_S[spec]


def caption_row(clip: Path, spec: str, runs: Path) -> dict:
    from agent.run.runner import caption_video

    started = time.perf_counter()
    rec = caption_video(clip, Settings(llm=spec, runs_dir=runs, send_images=False))
    seconds = time.perf_counter() - started
    checks = [s for s in rec.steps if s.get("node") == "validate"]
    timings = runtime_timings(rec.run_dir)
    return {"clip": clip.name, "llm": spec, "status": rec.status, "calls": rec.usage.calls,
            "prompt_tokens": rec.usage.prompt_tokens, "completion_tokens": rec.usage.completion_tokens,
            "seconds": round(seconds, 1), "model_s": round(rec.usage.model_s, 1),
            "submissions": len(checks), "first_passed": bool(checks and checks[0]["ok"]),
            "repairs": sum(1 for s in checks if not s["ok"]), "fallback": rec.fallback_reason,
            "caption": rec.caption, "load": load_text(), "runtime": timings,
            "quiet_model_s": quiet_estimate(spec, timings)}


def row_from_run_folder(folder: Path) -> dict | None:
    """A caption row rebuilt from a finished run's folder (its trace and the runtime's timings)."""
    trace = folder / "trace.jsonl"
    if not trace.is_file():
        return None
    events = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    start = next((e for e in events if e["event"] == "start"), None)
    done = next((e for e in events if e["event"] == "done"), None)
    if start is None or done is None:
        return None
    checks = [e for e in events if e["event"] == "validation"]
    fallback = next((e.get("reason") for e in events if e["event"] == "fallback"), None)
    timings = runtime_timings(str(folder))
    spec = start.get("llm", "offline")
    return {"clip": start["video"], "llm": spec, "status": done["status"], "calls": done.get("calls", 0),
            "prompt_tokens": done.get("prompt_tokens", 0), "completion_tokens": done.get("completion_tokens", 0),
            "seconds": round(done.get("total_s", 0.0), 1), "submissions": len(checks),
            "first_passed": bool(checks and checks[0]["ok"]), "repairs": sum(1 for e in checks if not e["ok"]),
            "fallback": fallback, "runtime": timings, "quiet_model_s": quiet_estimate(spec, timings)}


def caption_table(rows: list[dict]) -> str:
    out = ["| --llm | runs | ended ok, no fallback | first submission passed | model calls / clip "
           "| prompt tokens / clip | completion tokens / clip | s / clip (here) | model s / clip, idle machine (est.) "
           "| repairs | fallbacks |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for spec in dict.fromkeys(r["llm"] for r in rows):
        mine = [r for r in rows if r["llm"] == spec]
        n = len(mine)

        def mean(key):
            return sum(r[key] for r in mine) / n

        ok = sum(r["status"] == "ok" and not r["fallback"] for r in mine)
        first = sum(r["first_passed"] for r in mine)
        quiet = [r["quiet_model_s"] for r in mine if r.get("quiet_model_s") is not None]
        evaluated = sum(r.get("runtime", {}).get("evaluated", 0) for r in mine) / n
        idle = f"{sum(quiet) / len(quiet):.0f}" if quiet else "-"
        out.append(f"| {spec} | {n} | {ok}/{n} | {first}/{n} | {mean('calls'):.1f} | {mean('prompt_tokens'):.0f} "
                   f"({evaluated:.0f} evaluated) | {mean('completion_tokens'):.0f} | {mean('seconds'):.1f} | {idle} "
                   f"| {sum(r['repairs'] for r in mine)} | {sum(bool(r['fallback']) for r in mine)} |")
    return "\n".join(out)


# -- enhance -----------------------------------------------------------------------------------
def enhance_row(prompt: str, spec: str) -> dict:
    from agent.core.errors import AgentError
    from agent.core.checks import wording
    from agent.core.evidence import Evidence
    from agent.core.validation import validate
    from agent.run.enhance import enhance_prompt

    started = time.perf_counter()
    try:
        result = enhance_prompt(prompt, Settings(llm=spec))
        caption, problems = validate(result.caption, Evidence(), [wording])
        valid, calls, repairs, error = caption is not None and not problems, result.calls, result.repairs, None
        problems = [str(p) for p in problems]
        tokens = {"input": result.prompt_tokens, "output": result.completion_tokens}
    except AgentError as e:
        valid, calls, repairs, error, problems, result = False, 0, 0, str(e), [], None
        tokens = {"input": 0, "output": 0}
    return {"prompt": prompt, "llm": spec, "valid": valid, "calls": calls, "repairs": repairs, "error": error,
            "left_out": result.left_out if result else [],
            "problems": problems, "prompt_tokens": tokens["input"], "completion_tokens": tokens["output"],
            "seconds": round(time.perf_counter() - started, 1), "caption": result.caption if result else None,
            "load": load_text()}


def enhance_table(rows: list[dict]) -> str:
    out = ["| --llm | prompts | valid captions | calls / prompt | repairs | prompt tokens / prompt "
           "| completion tokens / prompt | s / prompt | sentences left out |", "|---|---|---|---|---|---|---|---|---|"]
    for spec in dict.fromkeys(r["llm"] for r in rows):
        mine = [r for r in rows if r["llm"] == spec]
        n = len(mine)
        out.append(f"| {spec} | {n} | {sum(r['valid'] for r in mine)}/{n} | {sum(r['calls'] for r in mine) / n:.1f} "
                   f"| {sum(r['repairs'] for r in mine)} | {sum(r['prompt_tokens'] for r in mine) / n:.0f} "
                   f"| {sum(r['completion_tokens'] for r in mine) / n:.0f} | {sum(r['seconds'] for r in mine) / n:.1f} "
                   f"| {sum(len(r.get('left_out') or []) for r in mine)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llms", default="offline,local:0.5b,local", help="comma-separated --llm specs")
    parser.add_argument("--clips-dir", type=Path, default=ROOT / ".venv" / "clips", help="real clips (*.mp4)")
    parser.add_argument("--real", type=int, default=None, help="at most this many real clips (default: all)")
    parser.add_argument("--generated", type=int, default=16, help="generated clips")
    parser.add_argument("--prompts", type=int, default=len(PROMPTS), help="enhance prompts (at most 10)")
    parser.add_argument("--only", choices=["prompt", "clips", "enhance"], action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--work", type=Path, default=None, help="folder for generated clips and run folders")
    parser.add_argument("--json", type=Path, default=None, help="append every row here as JSON lines")
    parser.add_argument("--summarise", type=Path, default=None, metavar="RUNS",
                        help="only print the clips' table from the run folders under RUNS (an earlier --work/runs)")
    args = parser.parse_args(argv)
    if args.summarise:
        rows = [r for f in sorted(args.summarise.iterdir()) if (r := row_from_run_folder(f)) is not None]
        print(caption_table(sorted(rows, key=lambda r: r["llm"])))
        return 0
    parts = set(args.only or ["prompt", "clips", "enhance"])
    specs = [s.strip() for s in args.llms.split(",") if s.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="local-llm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    from agent.models.local import thread_count

    print(f"threads: {thread_count()}; {load_text()}", flush=True)

    def keep(row: dict) -> None:
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    if "prompt" in parts:
        for spec in [s for s in specs if s.startswith("local")]:
            rows = prompt_cost(spec)
            print(f"\nprompt cost in tokens, {spec}:\n| form | system prompt | tool descriptions | submission schema "
                  "| first message | whole first request |\n|---|---|---|---|---|---|")
            for r in rows:
                keep({"part": "prompt", "llm": spec, **r})
                print(f"| {r['form']} | {r['system prompt']} | {r['tool descriptions']} | {r['submission schema']} "
                      f"| {r['first message']} | {r['whole first request']} |", flush=True)
    if "clips" in parts:
        real = sorted(args.clips_dir.glob("*.mp4"))[: args.real] if args.clips_dir.is_dir() else []
        clips = real + generated_clips(work, args.generated)
        rows = []
        for clip in clips:
            for spec in specs:
                row = caption_row(clip, spec, work / "runs")
                rows.append(row)
                keep({"part": "clips", **row})
                print(f"{clip.name} {spec}: {row['status']} calls {row['calls']} tokens {row['prompt_tokens']}+"
                      f"{row['completion_tokens']} {row['seconds']} s first passed {row['first_passed']} "
                      f"repairs {row['repairs']} fallback {row['fallback']} ({row['load']})", flush=True)
        print("\n" + caption_table(rows), flush=True)
    if "enhance" in parts:
        rows = []
        for prompt in PROMPTS[: args.prompts]:
            for spec in [s for s in specs if s != "offline"]:
                row = enhance_row(prompt, spec)
                rows.append(row)
                keep({"part": "enhance", **row})
                print(f"{prompt!r} {spec}: valid {row['valid']} calls {row['calls']} {row['seconds']} s "
                      f"{row['error'] or ''} {row['problems'][:2]} ({row['load']})", flush=True)
        print("\n" + enhance_table(rows), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
