"""One clip, one run: prepare (decode, plugins, the graph), stream the graph, finish with a run record."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from langchain_core.messages import AIMessage, ToolMessage

from agent.core.config import Settings
from agent.core.errors import STORAGE_ERRNOS, AgentError, InputError, storage_error
from agent.core.evidence import Evidence, Instances, Segmentation, evidence_of
from agent.core.jsonl import JsonlSink
from agent.core.observation import readable
from agent.core.secrets import redact
from agent.models.hf import load_vlm
from agent.models.llm import RECORDING, ReplayModel, describe_llm_error, is_offline, make_chat_model
from agent.run.context import RunContext
from agent.run.files import write_atomic
from agent.run.media import FrameStore, content_hash
from agent.run.plugins import Plugins, load_plugins
from agent.run.record import ModelCallRecorder, RunRecord, Usage
from agent.run.run_folders import clear_folder, run_folder
from agent.run.throttle import GatedModel
from graphs.caption import build_caption_graph, initial_state

StepDecision = tuple[str, list[dict] | None]  # ("approve" | "skip" | "edit" | "stop", edited calls)
CHECKPOINTS = "checkpoints.sqlite"

__all__ = ["caption_video", "prepare", "stream", "finish", "CaptionRun", "RunRecord", "Usage", "StepDecision"]


@dataclass
class CaptionRun:
    """Everything one run holds between :func:`prepare`, :func:`stream` and :func:`finish`."""

    path: Path
    settings: Settings
    digest: str
    run_dir: Path
    plugins: Plugins
    formats: dict[str, Any]
    ctx: RunContext
    graph: Any
    config: dict[str, Any]
    usage: Usage
    trace_file: JsonlSink
    checkpointed: bool
    started: float
    state: dict[str, Any] = field(default_factory=dict)  # the graph's state, as it last streamed
    steps: list[dict] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before its end (--step), if it did
    gated: Any = None  # the GatedModel of a batch's model slots, when the run has one


def caption_video(path: str | Path, settings: Settings, *, listeners: list[Callable[[dict], None]] = (),
                  debug: bool = False, step: Callable[[list[dict]], StepDecision] | None = None,
                  resume: bool = False, cache=None, gates=None) -> RunRecord:
    """Caption one clip. Raises :class:`AgentError` for bad input; otherwise always returns a record.

    ``step``: called before every tool call with the pending calls (``--step``); it approves, skips,
    edits them or stops the run. Such runs keep LangGraph checkpoints in the run folder, and
    ``resume=True`` continues a stopped run from there. ``cache``: a :class:`~agent.run.cache.ToolCache`
    that serves tool results measured before on the same clip with the same settings.
    ``gates``: a batch's :class:`~agent.run.throttle.Gates`: model requests take its model slots
    (and retry with their own back-off), the rest of the run holds a vision slot.
    """
    run = prepare(path, settings, listeners=listeners, debug=debug, paused=step is not None, resume=resume,
                  cache=cache, gates=gates)
    try:
        stream(run, step, resume=resume)
    except AgentError:
        run.trace_file.close()
        raise
    except KeyboardInterrupt as e:  # the record says so, then the interrupt goes on
        why = "interrupted (SIGTERM)" if type(e).__name__ == "Terminated" else "interrupted"
        run.state.update(status="failed", caption=None, fallback_reason=why)
        finish(run)
        raise
    except Exception as e:  # a bug or out of memory: the record says what broke, never that the clip is empty
        if debug:
            raise
        if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
            run.trace_file.close()
            raise storage_error(e, "the run's files") from None
        run.ctx.emit("error", error=f"{type(e).__name__}: {e}")
        run.state.update(_failed_run(run, e))
    return finish(run)


def prepare(path: str | Path, settings: Settings, *, listeners=(), debug: bool = False, paused: bool = False,
            resume: bool = False, cache=None, gates=None) -> CaptionRun:
    """Check the settings, open the clip and its run folder, load the plugins and build the graph."""
    started = time.perf_counter()
    path = Path(path)
    plugins = load_plugins(settings.disabled_plugins)  # plugins may add the chat backend settings.llm names
    plugins.check_settings(settings)  # an unknown --condition fails before any work
    # a bad model setting fails before any work; with gates, GatedModel makes the retries, giving up its slot
    llm = make_chat_model(settings if gates is None else settings.model_copy(update={"retries": 0}), plugins.backends)
    if settings.describer:
        load_vlm(settings.describer, settings)
    frames = FrameStore(path, samples=settings.frames, motion_fps=settings.motion_fps,
                        motion_width=settings.motion_width)
    digest = content_hash(path)
    run_dir = _open_run_folder(settings.runs_dir / run_folder(path.stem, digest, settings), resume)
    formats = plugins.output_formats()
    if settings.output_format not in formats:
        raise InputError(f"--format {settings.output_format}: not a known format (known: {', '.join(sorted(formats))})")
    tools = plugins.tools(settings)
    trace_file = _open_trace(run_dir, resume)
    ctx = RunContext(frames=frames, settings=settings, run_dir=run_dir, tools={t.name: t for t in tools},
                     listeners=[trace_file, *listeners], debug=debug, cache=cache, clip_hash=digest)
    _announce_start(ctx, path, run_dir, plugins)

    def sections(evidence: dict) -> dict:
        return plugins.composed_sections(evidence, settings)

    send_images = not is_offline(llm) and settings.send_images
    llm, gated, recording = _run_model(llm, settings, run_dir, sections, gates)
    checkpointed = paused or resume
    graph = build_caption_graph(llm, tools, plugins.validation_checks(settings), settings, send_images=send_images,
                                describe_error=lambda e: describe_llm_error(e, settings, plugins.backends),
                                checkpointer=_checkpointer(run_dir, fresh=not resume) if checkpointed else None,
                                pause_before_tools=paused, sections=sections, declared=plugins.sections)
    usage = Usage(llm=settings.llm)
    config = {"recursion_limit": 4 * settings.max_steps + 20, "configurable": {"thread_id": "caption"},
              "callbacks": [ModelCallRecorder(usage, recording, settings.max_reply_chars)]}
    return CaptionRun(path, settings, digest, run_dir, plugins, formats, ctx, graph, config, usage, trace_file,
                      checkpointed, started, gated=gated)


def _open_run_folder(run_dir: Path, resume: bool) -> Path:
    """The run folder, made; a run that does not resume starts from an empty one."""
    try:
        if not resume:  # a re-run starts from an empty folder: nothing of an earlier run is left beside it
            clear_folder(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise storage_error(e, "the run folder (--runs-dir)") from None
    return run_dir


def _open_trace(run_dir: Path, resume: bool) -> JsonlSink:
    """The run's trace file; a resumed run keeps its history."""
    try:
        return JsonlSink(run_dir / "trace.jsonl", append=bool(resume))
    except OSError as e:
        raise storage_error(e, "the run's trace") from None


def _announce_start(ctx: RunContext, path: Path, run_dir: Path, plugins: Plugins) -> None:
    """The run's first events: decoding progress from here on, the start, and the plugins that failed to load."""
    frames, settings = ctx.frames, ctx.settings
    frames.on_progress = lambda done, total: ctx.emit("progress", task="decoding", done=done, total=total)
    ctx.emit("start", video=frames.info.file_name, path=str(path), llm=settings.llm, frames=settings.frames,
             run_dir=str(run_dir))
    for info in plugins.infos:
        if info.error:
            ctx.emit("plugin_error", plugin=info.name, error=info.error)


def _run_model(llm, settings: Settings, run_dir: Path, sections: Callable[[dict], dict], gates):
    """The chat model as the run uses it, the GatedModel of the batch's model slots (or None), and the
    file the model's replies are recorded in (None for the offline planner and a replay). The offline
    planner writes the plugins' sections into the caption it composes."""
    offline = is_offline(llm)
    recording = None if offline or isinstance(llm, ReplayModel) else run_dir / RECORDING
    if recording is not None:
        recording.unlink(missing_ok=True)
    if offline:
        llm.section_writer = sections
    gated = None
    if gates is not None and not offline and not isinstance(llm, ReplayModel):
        llm = gated = GatedModel(llm, gates, settings.retries)
    return llm, gated, recording


def stream(run: CaptionRun, step: Callable[[list[dict]], StepDecision] | None = None, *, resume: bool = False) -> None:
    """Run the graph to its end (or to a stop at a ``step`` pause), passing its events on as they come."""
    graph, config, ctx = run.graph, run.config, run.ctx
    feed: dict | None = initial_state(ctx.frames.info.file_name)
    if resume:
        saved = graph.get_state(config)
        if not saved.values:
            raise InputError(f"{run.path}: no stopped run to resume in {run.run_dir} (start one with --step)")
        if not saved.next:
            raise InputError(f"{run.path}: the run in {run.run_dir} has already finished; run again without --resume")
        feed = None
        run.state = dict(saved.values)
        ctx.emit("resumed", before=list(saved.next))
    while True:
        tool_started = time.perf_counter()
        for mode, chunk in graph.stream(feed, config, context=ctx, stream_mode=["custom", "updates", "values"]):
            if mode == "custom":
                ctx.deliver(chunk)
                if chunk["event"] == "model":
                    run.steps.append(_model_step(chunk))
            elif mode == "values":
                run.state = dict(chunk)
            else:
                _note_updates(run, chunk, tool_started)
                tool_started = time.perf_counter()
        feed = None
        if not run.checkpointed or step is None:
            break
        paused = graph.get_state(config)
        if "tools" not in paused.next:
            break
        run.stopped = _decide(run, paused, step)
        if run.stopped:
            break
    if run.checkpointed:
        run.state = dict(graph.get_state(config).values)


def finish(run: CaptionRun) -> RunRecord:
    """Write the run record (what was measured and what broke) and end the trace."""
    state, ctx, settings, usage = run.state, run.ctx, run.settings, run.usage
    if run.stopped:
        state.update(status="stopped", caption=None, fallback_reason=run.stopped)
    evidence = Evidence(dict(state.get("evidence") or {}), ctx.registry.evidence_models())
    failed = failed_core_tools(ctx, evidence)
    if failed and state.get("status") == "ok":  # a caption without what those tools measure is not fine
        state.update(status="degraded", fallback_reason=f"a tool failed and its evidence is missing: {failed}")
    cut_short = ctx.frames._stats.warning if ctx.frames._motion is not None else None
    if cut_short and state.get("status") == "ok":  # measured on part of the clip: not a fine caption
        state.update(status="degraded", fallback_reason=f"the clip could not be read to its end ({cut_short})")
    answers = ctx.artifacts.get("describe.answers")
    if answers and not answers["usable"] and state.get("status") == "ok":  # the caption is all measured text
        state.update(status="degraded", fallback_reason=f"the describer ({settings.describer}) gave no usable "
                                                        f"answer to {answers['asked']} question(s)")
    usage.model_s = round(usage.model_s, 3)
    if run.gated is not None:
        usage.queue_s, usage.retried = round(run.gated.queue_s, 3), run.gated.retried
    formatted = None
    if state.get("caption") and settings.output_format != "instancecap":
        formatted = run.formats[settings.output_format](state["caption"], evidence)
    frames = ctx.frames
    record = RunRecord(
        video=frames.info.file_name, path=str(run.path), content_hash=run.digest,
        status=state.get("status") or "failed", caption=state.get("caption"),
        problems=state.get("problems", []), fallback_reason=redact(state.get("fallback_reason")),
        advice=state.get("advice") or [], field_sources=state.get("field_sources") or {},
        llm_error=redact(state.get("llm_error")),
        backend=_backend(evidence), backend_fallback_reason=_backend_fallback(evidence),
        evidence=evidence, cache_hits=ctx.cache_hits, output_format=settings.output_format, formatted=formatted,
        usage=usage, steps=redact(run.steps),
        timings={"decode_s": round(frames.stats.decode_s, 3), "total_s": round(time.perf_counter() - run.started, 3),
                 **{f"tool.{r.name}_s": round(r.duration_s, 3) for r in ctx.records}},
        errors=[e for e in [frames.stats.warning] if e], run_dir=str(run.run_dir),
    )
    try:
        write_atomic(run.run_dir / "record.json", json.dumps(redact(record.to_dict()), indent=2, ensure_ascii=False))
    except OSError as e:
        run.trace_file.close()
        raise storage_error(e, "the run record") from None
    ctx.emit("caption", status=record.status, caption=record.caption)
    ctx.emit("done", status=record.status, total_s=record.timings["total_s"], calls=usage.calls,
             prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
    run.trace_file.close()
    return record


def _model_step(event: dict) -> dict:
    step = {"node": "model", "step": event["step"], "duration_s": event["duration_s"],
            "calls": [c["tool"] for c in event["calls"]], "prompt_tokens": event["prompt_tokens"],
            "completion_tokens": event["completion_tokens"]}
    if event.get("recovered"):
        step["recovered"] = event["recovered"]
    if event.get("planned"):
        step["planned"] = True
    return step


def _note_updates(run: CaptionRun, update: dict, tool_started: float) -> None:
    """Steps and events for what the graph's nodes did."""
    ctx, steps = run.ctx, run.steps
    for node, delta in update.items():
        if not delta or node.startswith("__"):  # '__interrupt__': a pause before tools
            continue
        if node == "tools":  # one update per call: each tool returns its own (a Command)
            now = time.perf_counter()
            parts = delta if isinstance(delta, list) else [delta]
            for m in [m for part in parts for m in (part.get("messages") or [])]:
                if isinstance(m, ToolMessage):
                    rec = next((r for r in reversed(ctx.records) if r.name == m.name), None)
                    entry = {"node": node, "tool": m.name, "ok": m.status != "error",
                             "duration_s": round(rec.duration_s if rec else now - tool_started, 3),
                             "observation": _short(m.content, 240), "summary": readable(m.content)}
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


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _checkpointer(run_dir: Path, fresh: bool):
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    db = run_dir / CHECKPOINTS
    if fresh:
        db.unlink(missing_ok=True)
    return SqliteSaver(sqlite3.connect(str(db), check_same_thread=False))


def failed_core_tools(ctx, evidence: dict) -> str | None:
    """The planned tools that failed and never measured their part, with their errors, or None."""
    core = set(ctx.registry.plan())
    failed = {r.name: r.summary for r in ctx.records if not r.ok and r.name in core and r.name not in evidence}
    return "; ".join(f"{name} ({_short(summary, 120)})" for name, summary in failed.items()) or None


def _failed_run(run: CaptionRun, error: Exception) -> dict:
    """State of a run that broke inside: the caption composed from the evidence when every planned tool
    measured its part, else none; either way the status is failed."""
    from agent.core.composer import compose

    ctx = run.ctx
    reason = f"run failed: {type(error).__name__}: {error}"
    step = ctx.measuring(run.state.get("evidence"))
    try:
        measured = all(step.require(name) is not None for name in ctx.registry.plan())
        caption = compose(step.evidence, ctx.frames.info.file_name,
                          _safe_sections(run.plugins, step.evidence, run.settings)).to_dict() if measured else None
    except Exception as again:  # the tools fail too: no caption at all
        ctx.log_exception("compose", again)
        caption = None
    return {"status": "failed", "caption": caption, "fallback_reason": reason, "evidence": dict(step.evidence)}


def _decide(run: CaptionRun, paused, step) -> str | None:
    """Ask ``step`` about the pending tool calls and apply the answer; returns why the run stopped, if it did."""
    graph, config, ctx = run.graph, run.config, run.ctx
    ai = next(m for m in reversed(paused.values["messages"]) if isinstance(m, AIMessage))
    calls = list(ai.tool_calls)
    action, edited = step(calls)
    names = [c["name"] for c in calls]
    ctx.emit("step_decision", action=action, tools=names)
    run.steps.append({"node": "step", "action": action, "tools": names})
    if action == "stop":
        return f"stopped by the user before {', '.join(names)}"
    if action == "skip":
        ctx.skipped_by_user.update(names)
        skipped = [ToolMessage("Skipped by the user: do without this tool's result.", tool_call_id=c["id"],
                               name=c["name"], status="error") for c in calls]
        graph.update_state(config, {"messages": skipped}, as_node="tools")
    elif action == "edit" and edited is not None:
        graph.update_state(config, {"messages": [AIMessage(content=ai.content, tool_calls=edited, id=ai.id)]},
                           as_node="model")
    return None


def _backend(evidence: Evidence) -> str:
    """neural, classical, or mixed (e.g. YOLO boxes with GrabCut masks)."""
    found, segmented = evidence_of(evidence, Instances), evidence_of(evidence, Segmentation)
    detect = found.backend if found else "classical"
    segment = segmented.method if segmented else None
    if segment in (None, "none") or (segment == "sam2") == (detect == "neural"):
        return detect
    return "mixed"


def _backend_fallback(evidence: Evidence) -> str | None:
    """Why the detector's and the segmenter's neural backends were not used, where they were not."""
    reasons = [f"{tool}: {why}" for model in (Instances, Segmentation) for tool in evidence.tools_declaring(model)
               if (why := (evidence.get(tool) or {}).get("fallback_reason"))]
    return "; ".join(reasons) or None


def _safe_sections(plugins, evidence: dict, settings) -> dict:
    try:
        return plugins.composed_sections(evidence, settings)
    except Exception:  # the run already failed once; keep the standard caption
        return {}
