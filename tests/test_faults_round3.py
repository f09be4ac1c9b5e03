"""Faults, round three: every wait has a bound, no secret leaks, a model's or a tool's fault is one line
and a record, never a traceback, a hang or the end of the process."""

import json
import os
import signal
import time

import pytest

from agent.core.config import Settings
from agent.core.tool import Observation
from agent.run.runner import caption_video
from conftest import run_cli, signal_main_thread
from openai_server import ScriptedOpenAI, gzip_header, raw, reply, reset_mid_body, status, trickle


def settings_for(server, tmp_path, **kw) -> Settings:
    return Settings(**{"llm": "scripted-vl", "base_url": server.base_url, "runs_dir": tmp_path / "runs",
                       "timeout_s": 5, "retries": 0, **kw})


# -- the model server ------------------------------------------------------------------------------
def test_the_time_out_covers_the_whole_request_not_each_read(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    slow = trickle(reply("a reply that takes a minute to arrive " * 4), every=0.25)  # ~60 s in all
    with ScriptedOpenAI([slow]) as server:
        started = time.perf_counter()
        record = caption_video(path, settings_for(server, tmp_path, timeout_s=2))
        took = time.perf_counter() - started
    assert record.llm_error.startswith(f"the model server at {server.base_url} did not finish its reply within 2s")
    assert record.status == "degraded" and took < 30, took


def test_a_reset_mid_body_is_not_called_unreachable(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    with ScriptedOpenAI([reset_mid_body()]) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert "dropped the connection in the middle of its reply" in record.llm_error
    assert "cannot reach" not in record.llm_error and "start it" not in record.llm_error


def test_a_gzip_header_on_a_plain_body_says_so(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    with ScriptedOpenAI([gzip_header()]) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert "does not match its Content-Encoding header" in record.llm_error and "cannot reach" not in record.llm_error


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": "many", "completion_tokens": 3, "total_tokens": "lots"},
    {"prompt_tokens": float("nan"), "completion_tokens": -5, "total_tokens": None},
])
def test_bad_usage_numbers_are_ignored(usage, three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    script = [reply("", [("read_metadata", {})], usage=usage), status(400, "end of the script")]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert record.status == "degraded" and "HTTP 400" in record.llm_error  # the first reply was taken
    assert [s["tool"] for s in record.steps if s.get("node") == "tools"] == ["read_metadata"]
    assert record.usage.calls >= 1 and record.usage.prompt_tokens >= 0


def test_a_reply_cut_at_the_token_limit_suggests_max_reply_tokens(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    cut = reply("", [("submit_caption", '{"Video": "three.mp4", "Global Descr')], finish_reason="length")
    with ScriptedOpenAI([cut]) as server:
        record = caption_video(path, settings_for(server, tmp_path, max_tokens=64))
    assert "cut off at the token limit" in record.llm_error and "raise --max-reply-tokens (now 64)" in record.llm_error


def test_a_reply_nested_too_deeply_is_a_model_error(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    deep = "[" * 100_000 + "]" * 100_000
    with ScriptedOpenAI([raw(deep), reply("", [("read_metadata", deep)]), status(400, "end")]) as server:
        first = caption_video(path, settings_for(server, tmp_path))
        second = caption_video(path, settings_for(server, tmp_path, runs_dir=tmp_path / "runs2"))
    assert "nested too deeply" in first.llm_error and first.status == "degraded"
    tools = [s for s in second.steps if s.get("node") == "tools"]
    assert tools and tools[0]["ok"] is False and "HTTP 400" in second.llm_error  # the call's error went back


def test_a_password_in_the_url_never_leaks(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    secret = "Hunter2Secret"
    with ScriptedOpenAI([raw("<html>bad gateway</html>", "text/html")] * 2) as server:
        url = server.base_url.replace("http://", f"http://alice:{secret}@")
        trace = tmp_path / "t.jsonl"
        result = run_cli("run", str(path), "--llm", "m", "--base-url", url, "--retries", "0", "--runs-dir",
                         str(tmp_path / "runs"), "--trace", str(trace))
        batch = run_cli("batch", str(path), "-o", str(tmp_path / "r.jsonl"), "--llm", "m", "--base-url", url,
                        "--retries", "0", "--runs-dir", str(tmp_path / "runs2"))
    assert result.returncode == 3 and "http://alice:***@127.0.0.1" in result.stderr
    kept = [result.stdout, result.stderr, trace.read_text(), batch.stderr, (tmp_path / "r.jsonl").read_text()]
    kept += [p.read_text() for p in tmp_path.rglob("*") if p.suffix in (".json", ".jsonl")]
    assert all(secret not in text for text in kept)


@pytest.mark.parametrize("url, says", [
    ("http://[::1", "not a valid URL"),
    ("ftp://example.com/v1", "not an http(s) URL (ftp://)"),
    ("file:///etc/passwd", "not an http(s) URL (file://)"),
    ("not-a-url", "not an http(s) URL (no http:// or https://)"),
    ("http://127.0.0.1:99999/v1", "not a valid URL"),
])
def test_a_bad_base_url_is_refused_before_any_work(url, says, three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    result = run_cli("run", str(path), "--llm", "m", "--base-url", url, "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2 and result.stderr.startswith(f"error: --base-url: {says}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_a_batch_against_a_dead_server_says_so_and_exits_3(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    result = run_cli("batch", str(path), "-o", str(tmp_path / "r.jsonl"), "--llm", "m", "--base-url",
                     "http://127.0.0.1:9/v1", "--retries", "0", "--runs-dir", str(tmp_path / "runs"), "-q")
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: cannot reach the model server")]
    assert len(errors) == 1 and "captions are composed from the tools' evidence" in errors[0]
    assert "the model failed for 1 clip(s)" in result.stderr


# -- deep nesting in files ---------------------------------------------------------------------------
def test_files_nested_too_deeply_are_one_line(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    for args in (("trace", "show", str(deep)), ("validate", str(deep)), ("flatten", str(tmp_path / "deep.json")),
                 ("export", str(deep), "-o", str(tmp_path / "out.json"))):
        result = run_cli(*args)
        assert result.returncode == 2 and "nested too deeply" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    config = tmp_path / "deep.toml"
    config.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = run_cli("plugins", env={"INSTANCE_AGENT_CONFIG": str(config)})
    assert result.returncode == 2 and result.stderr.strip() == \
        f"error: {config}: nested too deeply to read (a config file is a few flat tables)"


# -- tools -------------------------------------------------------------------------------------------
def _patch_camera(monkeypatch, run):
    import tools.camera

    monkeypatch.setattr(tools.camera.EstimateCameraMotion, "run", run)


@pytest.mark.parametrize("raised, says", [(SystemExit(0), "it tried to end the program (SystemExit 0)"),
                                          (KeyboardInterrupt(), "KeyboardInterrupt")])
def test_a_tool_that_exits_is_a_failed_tool_not_the_end_of_the_run(raised, says, three_objects_clip, tmp_path,
                                                                   monkeypatch):
    path, _ = three_objects_clip

    def leaves(self, ctx, args):
        raise raised

    _patch_camera(monkeypatch, leaves)
    record = caption_video(path, Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "degraded" and "estimate_camera_motion" in record.fallback_reason
    assert says in record.fallback_reason
    saved = json.loads(next((tmp_path / "runs").glob("*/record.json")).read_text())
    assert saved["status"] == "degraded" and saved["caption"]


def test_a_tool_that_hangs_is_failed_at_the_tool_time_out(three_objects_clip, tmp_path, monkeypatch):
    import threading

    from agent.core.tool import tools_left_running

    path, _ = three_objects_clip
    release = threading.Event()

    def hangs(self, ctx, args):
        release.wait(60)

    _patch_camera(monkeypatch, hangs)
    started = time.perf_counter()
    try:
        record = caption_video(path, Settings(runs_dir=tmp_path / "runs", tool_timeout_s=1))
        assert time.perf_counter() - started < 40 and tools_left_running()
    finally:
        release.set()  # the test process never ends with a tool still running
    assert record.status == "degraded" and "no result within 1s" in record.fallback_reason
    assert next((tmp_path / "runs").glob("*/record.json")).exists()


def test_the_command_exits_cleanly_with_a_tool_still_running(three_objects_clip, tmp_path):
    import subprocess
    import sys

    path, _ = three_objects_clip
    script = ("import runpy, sys, time, tools.camera\n"
              "tools.camera.EstimateCameraMotion.run = lambda self, ctx, args: time.sleep(120)\n"
              f"sys.argv = ['agent', 'run', {str(path)!r}, '-q', '--runs-dir', {str(tmp_path / 'runs')!r}]\n"
              "runpy.run_module('agent', run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "INSTANCE_AGENT_TOOL_TIMEOUT": "1",
                                 "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))})
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["Video"] == path.name


def test_the_tool_time_out_is_a_setting(tmp_path):
    from agent.core.config import load_settings

    (tmp_path / "c.toml").write_text("tool-timeout = 30\n")
    os.environ["INSTANCE_AGENT_CONFIG"] = str(tmp_path / "c.toml")
    try:
        assert load_settings().tool_timeout_s == 30
    finally:
        del os.environ["INSTANCE_AGENT_CONFIG"]
    assert Settings().tool_timeout_s == 600


def test_evidence_that_is_not_json_fails_the_tool_and_the_record_is_written(three_objects_clip, tmp_path,
                                                                           monkeypatch):
    path, _ = three_objects_clip

    def odd(self, ctx, args):
        return Observation({"ok": True}, {"when": object()})

    _patch_camera(monkeypatch, odd)
    record = caption_video(path, Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "degraded" and "cannot be kept as JSON" in record.fallback_reason
    saved = json.loads(next((tmp_path / "runs").glob("*/record.json")).read_text())
    assert saved["status"] == "degraded"


def test_what_a_tool_prints_never_reaches_the_json_stream(three_objects_clip, tmp_path, monkeypatch, capsys):
    import tools.camera
    from agent.cli.main import main

    path, _ = three_objects_clip
    measure = tools.camera.EstimateCameraMotion.run

    def chatty(self, ctx, args):
        print("hello from a plugin")
        return measure(self, ctx, args)

    _patch_camera(monkeypatch, chatty)
    code = _run_keeping_sigterm(main, ["run", str(path), "--json", "--runs-dir", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0 and "hello from a plugin" in err
    assert all(json.loads(line) for line in out.splitlines())


def _run_keeping_sigterm(main, argv: list[str]) -> int:
    """``main(argv)``, with the test process's SIGTERM handler put back afterwards (``run`` installs its own)."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        return main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_is_handled_like_ctrl_c(three_objects_clip, tmp_path, monkeypatch, capsys):
    from agent.cli.main import main

    path, _ = three_objects_clip

    def terminated(self, ctx, args):
        signal_main_thread(signal.SIGTERM)
        time.sleep(5)

    _patch_camera(monkeypatch, terminated)
    code = _run_keeping_sigterm(main, ["run", str(path), "-q", "--runs-dir", str(tmp_path / "runs")])
    assert code == 143 and capsys.readouterr().err.startswith("terminated (SIGTERM)")
    saved = json.loads(next((tmp_path / "runs").glob("*/record.json")).read_text())
    assert saved["status"] == "failed" and saved["fallback_reason"] == "interrupted (SIGTERM)"


def test_a_trace_that_cannot_be_written_is_named(three_objects_clip, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is a Linux device")
    path, _ = three_objects_clip
    result = run_cli("run", str(path), "--trace", "/dev/full", "-q", "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 1 and result.stderr.strip().startswith("error: /dev/full: cannot write")
    assert "Traceback" not in result.stderr


# -- clips -------------------------------------------------------------------------------------------
def test_a_clip_that_decodes_only_in_part_is_degraded(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    data = bytearray(path.read_bytes())
    third = len(data) // 3
    data[third:2 * third] = bytes(third)  # the middle third zeroed
    broken = tmp_path / "holes.mp4"
    broken.write_bytes(bytes(data))
    record = caption_video(broken, Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "degraded", record.fallback_reason
    assert record.fallback_reason.startswith("the clip could not be read to its end")


def _with_a_timestamp_jump(src, dst, hours: float = 10.0):
    """``src`` re-encoded with every frame after the middle stamped ``hours`` later."""
    from fractions import Fraction

    import av

    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i + (int(hours * 3600 * 25) if i >= len(frames) // 2 else 0)
            frame.time_base = Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return len(frames)


def test_a_jump_in_the_timestamps_is_taken_out(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    jumped = tmp_path / "jump.mp4"
    n = _with_a_timestamp_jump(path, jumped)
    record = caption_video(jumped, Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "ok", record.fallback_reason
    metadata = record.evidence["read_metadata"]
    assert abs(metadata["duration_s"] - n / 25) < 0.1 and metadata["fps"] == 25.0


def test_out_of_memory_is_named_as_such(tmp_path, monkeypatch, capsys):
    import errno
    import resource
    import subprocess
    import sys

    from agent.cli import main as cli
    from agent.run.media.probe import out_of_memory

    with pytest.raises(MemoryError, match="FFmpeg could not allocate memory"):
        out_of_memory(OSError(errno.ENOMEM, "Cannot allocate memory"))

    def runs_out(args):
        raise MemoryError()

    monkeypatch.setitem(cli.COMMANDS, "schema", runs_out)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert cli.main(["schema"]) == 1 and capsys.readouterr().err.startswith("error: out of memory")
    finally:
        signal.signal(signal.SIGTERM, previous)

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (1300 << 20, resource.RLIM_INFINITY))

    result = subprocess.run([sys.executable, "-m", "agent", "run", str(tmp_path / "none.mp4")], capture_output=True,
                            text=True, preexec_fn=limited, timeout=120, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))})
    first = result.stderr.splitlines()[0]
    assert first.startswith("warning: this process may use at most 1300 MB of memory (ulimit -v)"), result.stderr


def test_a_tiny_noisy_clip_is_one_shot_not_a_montage(tmp_path):
    import av
    import numpy as np

    from agent.run.media import FrameStore
    from tools.shots import SHOT_FEED

    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.mp4"
    with av.open(str(path), "w") as out:  # 16x16: a small yellow square drifting a pixel at a time, in noise
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(25 * 30):
            image = np.zeros((16, 16, 3), np.uint8)
            y = int(4 + 3 * np.sin(i / 10))
            image[y:y + 6, 5:11] = (0, 230, 230)
            image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert FrameStore(path).streamed(SHOT_FEED).count == 1


def test_an_interrupted_batch_says_what_was_kept_and_how_to_resume(three_objects_clip, tmp_path, monkeypatch, python_sigint, capsys):
    import shutil as _shutil

    from agent.cli.main import main

    path, _ = three_objects_clip
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a.mp4", "b.mp4"):
        _shutil.copy(path, clips / name)
    measure, calls = __import__("tools.camera", fromlist=["x"]).EstimateCameraMotion.run, []

    def interrupted_on_the_second(self, ctx, args):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C while the second clip is measured
            signal_main_thread(signal.SIGINT)
            time.sleep(5)
        return measure(self, ctx, args)

    _patch_camera(monkeypatch, interrupted_on_the_second)
    records = tmp_path / "captions.jsonl"
    code = main(["batch", str(clips), "-o", str(records), "--workers", "1", "--no-cache",
                 "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    kept = len(records.read_text().splitlines())
    assert code == 130 and kept >= 1
    assert f"interrupted: {kept} record(s) are kept in {records} (2 clip(s) asked for); run the same command again " \
           "to resume" in err


def test_enhance_ignores_bad_usage_numbers(tmp_path):
    from agent.core.errors import BackendError
    from agent.run.enhance import enhance_prompt

    bad = {"prompt_tokens": 5, "completion_tokens": "many"}  # no total: the client adds them up
    with ScriptedOpenAI([reply("A wolf runs across a snowy field.", usage=bad),
                         reply("Sure! A wolf.", usage=bad)]) as server:
        with pytest.raises(BackendError, match="the model's reply was not usable"):  # the second reply, as scripted
            enhance_prompt("a wolf", Settings(llm="scripted", base_url=server.base_url, runs_dir=tmp_path))
    assert server.left == 0  # both replies were read: the bad numbers ended nothing
