"""One clip, one run: decode, build the graph, run it, keep a run record."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from langchain_core.messages import AIMessage, ToolMessage

from agent.core.config import Settings
from agent.core.evidence import Instances, Segmentation, evidence_of, tools_declaring
from agent.run.context import RunContext
from agent.core.errors import STORAGE_ERRNOS, AgentError, InputError, storage_error
from agent.models.llm import RECORDING, ReplayModel, describe_llm_error, is_offline, make_chat_model, record_reply
from agent.run.media import FrameStore, content_hash
from agent.run.plugins import load_plugins
from agent.core.secrets import redact
from agent.core.jsonl import JsonlSink


@dataclass
class Usage:
    """What the run cost in model calls. ``images`` counts the distinct images put into the
    conversation; ``image_parts_sent`` counts them once per request that carried them."""

    llm: str = "offline"
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    images: int = 0
    image_parts_sent: int = 0
    model_s: float = 0.0


@dataclass
class RunRecord:
    video: str
    path: str
    content_hash: str
    status: str  # ok | degraded | failed
    caption: dict | None
    problems: list[str] = field(default_factory=list)
    backend: str = "classical"
    fallback_reason: str | None = None
    llm_error: str | None = None
    backend_fallback_reason: str | None = None  # why a neural backend was asked for but not used
    evidence: dict[str, Any] = field(default_factory=dict)  # each tool's evidence, as the validator saw it
    cache_hits: int = 0  # tool results served by the tool cache
    output_format: str = "instancecap"
    formatted: Any = None  # the caption in output_format, when that is not instancecap
    usage: Usage = field(default_factory=Usage)
    steps: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    run_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


StepDecision = tuple[str, list[dict] | None]  # ("approve" | "skip" | "edit" | "stop", edited calls)
CHECKPOINTS = "checkpoints.sqlite"


def _checkpointer(run_dir: Path, fresh: bool):
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    db = run_dir / CHECKPOINTS
    if fresh:
        db.unlink(missing_ok=True)
    return SqliteSaver(sqlite3.connect(str(db), check_same_thread=False))


def caption_video(path: str | Path, settings: Settings, *, listeners: list[Callable[[dict], None]] = (),
                  debug: bool = False, step: Callable[[list[dict]], StepDecision] | None = None,
                  resume: bool = False, cache=None) -> RunRecord:
    """Caption one clip. Raises :class:`AgentError` for bad input; otherwise always returns a record.

    ``step``: called before every tool call with the pending calls (``--step``); it approves, skips,
    edits them or stops the run. Such runs keep LangGraph checkpoints in the run folder, and
    ``resume=True`` continues a stopped run from there. ``cache``: a :class:`~agent.run.cache.ToolCache`
    that serves tool results measured before on the same clip with the same vision settings.
    """
    started = time.perf_counter()
    path = Path(path)
    llm = make_chat_model(settings)  # a bad model setting fails before any work
    if settings.describer:
        from agent.models.hf import load_vlm

        load_vlm(settings.describer, settings)
    frames = FrameStore(path, samples=settings.frames, motion_fps=settings.motion_fps,
                        motion_width=settings.motion_width)
    digest = content_hash(path)
    run_dir = settings.runs_dir / f"{folder_name(path.stem)}-{digest[:8]}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise storage_error(e, "the run folder (--runs-dir)") from None

    plugins = load_plugins(settings.disabled_plugins)
    formats = plugins.output_formats()
    if settings.output_format not in formats:
        raise InputError(f"--format {settings.output_format}: not a known format (known: {', '.join(sorted(formats))})")
    tools = plugins.tools(settings)
    checks = plugins.validation_checks(settings)
    try:
        trace_file = JsonlSink(run_dir / "trace.jsonl")
    except OSError as e:
        raise storage_error(e, "the run's trace") from None
    ctx = RunContext(frames=frames, settings=settings, run_dir=run_dir, tools={t.name: t for t in tools},
                     listeners=[trace_file, *listeners], debug=debug, cache=cache, clip_hash=digest)
    frames.on_progress = lambda done, total: ctx.emit("progress", task="decoding", done=done, total=total)
    ctx.emit("start", video=frames.info.file_name, path=str(path), llm=settings.llm, frames=settings.frames,
             run_dir=str(run_dir))
    for info in plugins.infos:
        if info.error:
            ctx.emit("plugin_error", plugin=info.name, error=info.error)

    usage = Usage(llm=settings.llm)
    steps: list[dict] = []
    offline = is_offline(llm)
    recording = None if offline or isinstance(llm, ReplayModel) else run_dir / RECORDING
    if recording is not None:
        recording.unlink(missing_ok=True)

    def on_usage(raw: AIMessage, seconds: float, sent: list) -> None:
        from agent.models.toolcalls import normalise_reply

        usage.calls += 1
        usage.model_s += seconds
        meta = getattr(raw, "usage_metadata", None) or {}
        usage.prompt_tokens += int(meta.get("input_tokens", 0))
        usage.completion_tokens += int(meta.get("output_tokens", 0))
        parts = _image_parts(sent)
        usage.image_parts_sent += parts
        usage.images = max(usage.images, parts)
        if recording is not None:
            record_reply(recording, raw)
        reply = normalise_reply(raw)
        calls = [{"tool": c["name"], "args": c["args"]} for c in reply.tool_calls]
        step = {"node": "model", "step": usage.calls, "duration_s": round(seconds, 3), "calls": [c["tool"] for c in calls],
                "prompt_tokens": int(meta.get("input_tokens", 0)), "completion_tokens": int(meta.get("output_tokens", 0))}
        if reply is not raw:
            step["recovered"] = "tool calls written as text" if not raw.tool_calls and not raw.invalid_tool_calls \
                else "arguments that are not valid JSON"
        steps.append(step)
        ctx.emit("model", step=usage.calls, duration_s=round(seconds, 3), calls=calls,
                 text=_short(reply.content) if isinstance(reply.content, str) else "",
                 tokens=meta.get("total_tokens", 0), recovered=step.get("recovered"))

    from graphs.caption import build_caption_graph, initial_state

    def sections(evidence: dict) -> dict:
        return plugins.composed_sections(evidence, settings)

    if offline:
        llm.section_writer = sections
    checkpoints = _checkpointer(run_dir, fresh=not resume) if (step or resume) else None
    graph = build_caption_graph(ctx, llm, tools, checks, send_images=not offline and settings.send_images, on_usage=on_usage,
                                describe_error=lambda e: describe_llm_error(e, settings),
                                checkpointer=checkpoints, pause_before_tools=step is not None,
                                sections=sections)
    config = {"recursion_limit": 4 * settings.max_steps + 20, "configurable": {"thread_id": "caption"}}
    state: dict[str, Any] = {}
    feed: dict | None = initial_state(frames.info.file_name)
    if resume:
        saved = graph.get_state(config)
        if not saved.values:
            raise InputError(f"{path}: no stopped run to resume in {run_dir} (start one with --step)")
        if not saved.next:
            raise InputError(f"{path}: the run in {run_dir} has already finished; run again without --resume")
        state, feed = dict(saved.values), None
        ctx.evidence.update(state.get("evidence") or {})
        ctx.emit("resumed", before=list(saved.next))
    stopped: str | None = None
    tool_started = time.perf_counter()

    def handle(update: dict) -> None:
        nonlocal tool_started
        for node, delta in update.items():
            if not delta or node.startswith("__"):  # '__interrupt__': a pause before tools
                continue
            _merge_state(state, delta)
            if node == "tools":
                now = time.perf_counter()
                for m in delta.get("messages", []):
                    if isinstance(m, ToolMessage):
                        rec = next((r for r in reversed(ctx.records) if r.name == m.name), None)
                        entry = {"node": node, "tool": m.name, "ok": m.status != "error",
                                 "duration_s": round(rec.duration_s if rec else now - tool_started, 3),
                                 "observation": _short(m.content, 240)}
                        steps.append(entry)
                        ctx.emit("tool", **entry)
            elif node == "validate":
                ok = delta.get("status") == "ok"
                ctx.emit("validation", ok=ok, problems=delta.get("problems", []))
                steps.append({"node": node, "ok": ok, "problems": delta.get("problems", [])})
            elif node == "model" and delta.get("llm_error"):
                ctx.emit("llm_error", error=delta["llm_error"])
                steps.append({"node": node, "error": delta["llm_error"]})
            elif node == "fallback":
                ctx.emit("fallback", reason=delta.get("fallback_reason"))
                steps.append({"node": node, "reason": delta.get("fallback_reason")})
            tool_started = time.perf_counter()

    def finish() -> RunRecord:
        """Write the run record (what was measured and what broke) and end the trace."""
        if stopped:
            state.update(status="stopped", caption=None, fallback_reason=stopped)
        failed = failed_core_tools(ctx)
        if failed and state.get("status") == "ok":  # a caption without what those tools measure is not fine
            state.update(status="degraded", fallback_reason=f"a tool failed and its evidence is missing: {failed}")
        answers = ctx.artifacts.get("describe.answers")
        if answers and not answers["usable"] and state.get("status") == "ok":  # the caption is all measured text
            state.update(status="degraded", fallback_reason=f"the describer ({settings.describer}) gave no usable "
                                                            f"answer to {answers['asked']} question(s)")
        usage.model_s = round(usage.model_s, 3)
        formatted = None
        if state.get("caption") and settings.output_format != "instancecap":
            formatted = formats[settings.output_format](state["caption"], ctx.evidence)
        record = RunRecord(
            video=frames.info.file_name, path=str(path), content_hash=digest,
            status=state.get("status") or "failed", caption=state.get("caption"),
            problems=state.get("problems", []), fallback_reason=redact(state.get("fallback_reason")),
            llm_error=redact(state.get("llm_error")),
            backend=_backend(ctx.evidence), backend_fallback_reason=_backend_fallback(ctx.evidence),
            evidence=dict(ctx.evidence), cache_hits=ctx.cache_hits, output_format=settings.output_format,
            formatted=formatted,
            usage=usage, steps=redact(steps),
            timings={"decode_s": round(frames.stats.decode_s, 3), "total_s": round(time.perf_counter() - started, 3),
                     **{f"tool.{r.name}_s": round(r.duration_s, 3) for r in ctx.records}},
            errors=[e for e in [frames.stats.warning] if e], run_dir=str(run_dir),
        )
        try:
            write_atomic(run_dir / "record.json", json.dumps(redact(record.to_dict()), indent=2, ensure_ascii=False))
        except OSError as e:
            trace_file.close()
            raise storage_error(e, "the run record") from None
        ctx.emit("caption", status=record.status, caption=record.caption)
        ctx.emit("done", status=record.status, total_s=record.timings["total_s"], calls=usage.calls,
                 prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
        trace_file.close()
        return record

    try:
        while True:
            for update in graph.stream(feed, stream_mode="updates", config=config):
                handle(update)
            feed = None
            if checkpoints is None or step is None:
                break
            paused = graph.get_state(config)
            if "tools" not in paused.next:
                break
            stopped = _decide(graph, config, paused, step, ctx, steps)
            if stopped:
                break
        if checkpoints is not None:
            state = dict(graph.get_state(config).values)
    except AgentError:
        trace_file.close()
        raise
    except KeyboardInterrupt:  # the record says so, then the interrupt goes on
        state.update(status="failed", caption=None, fallback_reason="interrupted")
        finish()
        raise
    except Exception as e:  # a bug or out of memory: the record says what broke, never that the clip is empty
        if debug:
            raise
        if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
            trace_file.close()
            raise storage_error(e, "the run's files") from None
        ctx.emit("error", error=f"{type(e).__name__}: {e}")
        state.update(_failed_run(ctx, plugins, settings, e))
    return finish()


def failed_core_tools(ctx) -> str | None:
    """The planned tools that failed and never measured their part, with their errors, or None."""
    from graphs.caption import offline_tools

    core = set(offline_tools(ctx.tools.values()))
    failed = {r.name: r.summary for r in ctx.records if not r.ok and r.name in core and r.name not in ctx.evidence}
    return "; ".join(f"{name} ({_short(summary, 120)})" for name, summary in failed.items()) or None


def write_atomic(path: Path, text: str) -> None:
    """Write aside, then rename: a reader never sees half a file, a full disk never leaves one."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def folder_name(stem: str) -> str:
    """A clip's name as a folder name: no control characters, separators or leading dots."""
    clean = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", stem).strip(". ") or "clip"
    return clean[:80]


def _failed_run(ctx, plugins, settings, error: Exception) -> dict:
    """State of a run that broke inside: the caption composed from the evidence when every planned tool
    measured its part, else none; either way the status is failed."""
    from graphs.caption import offline_tools

    from agent.core.composer import compose

    reason = f"run failed: {type(error).__name__}: {error}"
    try:
        measured = all(ctx.require(name) is not None for name in offline_tools(ctx.tools.values()) if name in ctx.tools)
        caption = compose(ctx.evidence, ctx.frames.info.file_name,
                          _safe_sections(plugins, ctx.evidence, settings)).to_dict() if measured else None
    except Exception as again:  # the tools fail too: no caption at all
        ctx.log_exception("compose", again)
        caption = None
    return {"status": "failed", "caption": caption, "fallback_reason": reason}


def _decide(graph, config, paused, step, ctx, steps) -> str | None:
    """Ask ``step`` about the pending tool calls and apply the answer; returns why the run stopped, if it did."""
    from langchain_core.messages import AIMessage

    ai = next(m for m in reversed(paused.values["messages"]) if isinstance(m, AIMessage))
    calls = list(ai.tool_calls)
    action, edited = step(calls)
    names = [c["name"] for c in calls]
    ctx.emit("step_decision", action=action, tools=names)
    steps.append({"node": "step", "action": action, "tools": names})
    if action == "stop":
        return f"stopped by the user before {', '.join(names)}"
    if action == "skip":
        skipped = [ToolMessage("Skipped by the user: do without this tool's result.", tool_call_id=c["id"],
                               name=c["name"], status="error") for c in calls]
        graph.update_state(config, {"messages": skipped}, as_node="tools")
    elif action == "edit" and edited is not None:
        graph.update_state(config, {"messages": [AIMessage(content=ai.content, tool_calls=edited, id=ai.id)]},
                           as_node="model")
    return None


def _backend(evidence: dict) -> str:
    """neural, classical, or mixed (e.g. YOLO boxes with GrabCut masks)."""
    found, segmented = evidence_of(evidence, Instances), evidence_of(evidence, Segmentation)
    detect = found.backend if found else "classical"
    segment = segmented.method if segmented else None
    if segment in (None, "none") or (segment == "sam2") == (detect == "neural"):
        return detect
    return "mixed"


def _backend_fallback(evidence: dict) -> str | None:
    """Why the detector's and the segmenter's neural backends were not used, where they were not."""
    reasons = [f"{tool}: {why}" for model in (Instances, Segmentation) for tool in tools_declaring(model)
               if (why := (evidence.get(tool) or {}).get("fallback_reason"))]
    return "; ".join(reasons) or None


def _image_parts(messages: list) -> int:
    return sum(1 for m in messages if isinstance(m.content, list)
               for p in m.content if isinstance(p, dict) and p.get("type") == "image_url")


def _merge_state(state: dict, delta: dict) -> None:
    for key, value in delta.items():
        if key == "messages":
            state.setdefault("messages", []).extend(value)
        elif key == "evidence":
            state.setdefault("evidence", {}).update(value)
        elif key in ("steps", "repairs", "nudges", "tool_calls"):
            state[key] = state.get(key, 0) + value
        else:
            state[key] = value


def _safe_sections(plugins, evidence: dict, settings) -> dict:
    try:
        return plugins.composed_sections(evidence, settings)
    except Exception:  # the run already failed once; keep the standard caption
        return {}
