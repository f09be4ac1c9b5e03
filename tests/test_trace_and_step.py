"""Watching runs: the live view, JSON events, saved traces, and --step driven in tmux."""

import io
import json
import shutil
import subprocess
import sys
import time

import pytest
from rich.console import Console

from agent.core.config import Settings
from agent.run.runner import caption_video
from agent.cli.trace import LiveTrace
from conftest import ROOT, run_cli


def test_live_view_shows_steps_running_work_and_totals(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    console = Console(file=io.StringIO(), force_terminal=True, width=160, record=True)
    live = LiveTrace(console)
    snapshots = []

    def watch(event):
        if event["event"] in ("tool_start", "progress"):
            snapshots.append(Console(width=160, record=True, file=io.StringIO()))
            snapshots[-1].print(live._render())

    record = caption_video(path, Settings(runs_dir=tmp_path), listeners=[live, watch])
    text = console.export_text()
    assert record.status == "ok"
    for line in ("run three.mp4", "step  1  model → read_metadata", "detect_instances", "validation passed",
                 "done: ok"):
        assert line in text
    running = [s.export_text() for s in snapshots]
    assert any("running detect_instances" in r for r in running)
    assert any("decoding" in r and "/" in r for r in running)  # the decode progress bar
    assert all("tools run" in r for r in running)  # the running totals (no model counters: the offline planner)
    assert not live.live.is_started  # stopped when the run was done


def test_json_events_on_stdout_and_a_saved_trace_shown_again(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    trace = tmp_path / "trace.jsonl"
    out = tmp_path / "caption.json"
    result = run_cli("run", str(path), "--json", "--trace", str(trace), "-o", str(out),
                     "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["caption", "done"]
    assert {"model_start", "model", "tool_start", "tool", "validation", "progress"} <= set(kinds)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[-2]["caption"] == json.loads(out.read_text())
    assert "step " not in result.stderr  # no human trace with --json
    assert trace.read_text() == result.stdout
    tool_events = [e for e in events if e["event"] == "tool"]
    assert all({"tool", "duration_s", "observation", "ok"} <= e.keys() for e in tool_events)

    shown = run_cli("trace", "show", str(trace))
    assert shown.returncode == 0
    assert "step  1  model → read_metadata" in shown.stderr and "validation passed" in shown.stderr
    assert "tools run 6 · failed validations 0" in shown.stderr and "model calls" not in shown.stderr  # offline: no model
    assert json.loads(shown.stdout) == json.loads(out.read_text())

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"event": "start"}\nnot json\n')
    bad = run_cli("trace", "show", str(broken))
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {broken}:2: not a JSON line (Expecting value)"


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session, "-S", "-200"], capture_output=True,
                          text=True).stdout


def _wait_for(session: str, text: str, count: int = 1, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pane = _pane(session)
        if pane.count(text) >= count:
            return pane
        time.sleep(0.2)
    raise AssertionError(f"{text!r} (x{count}) did not appear:\n{_pane(session)}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="the --step test drives a terminal through tmux")
def test_step_mode_approve_skip_edit_stop_then_resume(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    runs = tmp_path / "runs"
    session = f"step-{time.monotonic_ns()}"
    done = tmp_path / "exit-code"
    command = (f"cd {ROOT} && {sys.executable} -m agent run {path} --runs-dir {runs} --step; "
               f"echo $? > {done}; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "60", command], check=True)
    prompt = "[a]pprove  [s]kip  [e]dit arguments  [q] stop >"
    try:
        _wait_for(session, "1. read_metadata")
        subprocess.run(["tmux", "send-keys", "-t", session, "a", "Enter"], check=True)
        _wait_for(session, "1. estimate_camera_motion")
        subprocess.run(["tmux", "send-keys", "-t", session, "s", "Enter"], check=True)
        _wait_for(session, "1. detect_instances")
        subprocess.run(["tmux", "send-keys", "-t", session, "e", "Enter"], check=True)
        _wait_for(session, "detect_instances arguments as JSON")
        subprocess.run(["tmux", "send-keys", "-t", session, '{"max_instances": "many"}', "Enter"], check=True)
        _wait_for(session, "detect_instances does not take these arguments")  # checked at the prompt
        _wait_for(session, "detect_instances arguments as JSON", count=2)
        subprocess.run(["tmux", "send-keys", "-t", session, '{"max_instances": 2}', "Enter"], check=True)
        _wait_for(session, "1. segment_and_blur")
        _wait_for(session, prompt, count=4)
        subprocess.run(["tmux", "send-keys", "-t", session, "q", "Enter"], check=True)
        pane = _wait_for(session, "Resume with:")
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert done.read_text().strip() == "0"
    assert "you chose: skip (estimate_camera_motion)" in pane
    assert "you chose: edit (detect_instances)" in pane
    # detection needs the skipped camera estimate: it runs anyway, and the user is told why
    assert "runs anyway: estimate_camera_motion (you skipped it" in pane
    assert "stopped by the user before segment_and_blur" in pane

    resumed = run_cli("run", str(path), "--runs-dir", str(runs), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed before tools" in resumed.stderr
    caption = json.loads(resumed.stdout)
    assert len(caption["Structural Description"]["Main Instance"]) == 2  # the edited argument held
    record = json.loads(next(runs.glob("three-*/record.json")).read_text())
    assert record["status"] == "ok"
    # the run folder's trace keeps the whole history: the stopped part, then the resumed one
    kinds = [json.loads(line)["event"] for line in next(runs.glob("three-*/trace.jsonl")).read_text().splitlines()]
    assert "step_decision" in kinds and "resumed" in kinds and kinds.index("step_decision") < kinds.index("resumed")
    again = run_cli("run", str(path), "--runs-dir", str(runs), "--resume")
    assert again.returncode == 2 and "has already finished" in again.stderr
