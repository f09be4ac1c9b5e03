"""Faults a careful user meets: broken model replies, bad settings, damaged caches, full disks, two
batches on one file, keys in error text, runaway replies. None may leave a wrong caption marked done."""

import errno
import json
import os
import shutil
import signal

import pytest

from agent.run.batch import RecordFile, run_batch
from agent.core.config import Settings
from agent.core.errors import InputError, StorageError
from agent.run.runner import caption_video
from conftest import run_cli, signal_main_thread
from openai_server import ScriptedOpenAI, raw, reply, status

EMPTY_CLAIM = "no distinct moving subject"


def settings_for(server, tmp_path, **kw) -> Settings:
    return Settings(**{"llm": "scripted-vl", "base_url": server.base_url, "runs_dir": tmp_path / "runs",
                       "timeout_s": 5, "retries": 0, **kw})


def instances(caption: dict) -> dict:
    return caption["Structural Description"]["Main Instance"]


MALFORMED = {
    "html": (raw("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"), "an HTML page"),
    "not utf-8": (raw(b"\xff\xfe\xfa\x00garbage", "application/json"), "not JSON"),
    "empty body": (raw(b""), "not JSON"),
    "event stream": (raw('data: {"choices": [{"delta": {"content": "hi"}}]}\n\ndata: [DONE]\n\n',
                         "text/event-stream"), "an event stream"),
    "no choices": (raw(json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                                   "choices": []})), "choices are empty"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_reply_is_a_model_error_and_the_caption_comes_from_the_tools(case, three_objects_clip, tmp_path):
    path, truth = three_objects_clip
    item, words = MALFORMED[case]
    with ScriptedOpenAI([item]) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert record.llm_error.startswith(f"the model server at {server.base_url} answered with")
    assert words in record.llm_error and "not a chat completion" in record.llm_error
    assert record.status == "degraded"
    # composed from the evidence the fallback measured: every object, not "an empty scene"
    assert len(instances(record.caption)) == len(truth.objects)
    assert EMPTY_CLAIM not in json.dumps(record.caption)


def test_a_malformed_reply_exits_3_with_one_line(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    with ScriptedOpenAI([MALFORMED["html"][0]]) as server:
        result = run_cli("run", str(path), "--llm", "m", "--base-url", server.base_url, "--retries", "0",
                         "--runs-dir", str(tmp_path / "runs"), "-q")
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: the model server at {server.base_url} "
                                                              "answered with an HTML page")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", ["42", "[1, 2]", '"x"'])
def test_arguments_that_are_not_an_object_go_back_to_the_model(args, three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    script = [reply("", [("read_metadata", args)]), reply("", [("read_metadata", {})])]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    answer = next(m for m in server.requests[1]["messages"] if m["role"] == "tool")
    assert "not a valid JSON object" in answer["content"] and args in answer["content"]
    tools = [s for s in record.steps if s.get("node") == "tools"]
    assert tools[0]["ok"] is False and tools[1]["ok"] is True  # the second, good call ran


@pytest.mark.parametrize("flags, says", [
    (["--timeout", "-1"], "--timeout: Input should be greater than 0"),
    (["--timeout", "0"], "--timeout: Input should be greater than 0"),
    (["--temperature", "nan"], "--temperature: Input should be a finite number"),
    (["--retries", "-5"], "--retries: Input should be greater than or equal to 0"),
    (["--max-tokens", "0"], "--max-reply-tokens: Input should be greater than or equal to 1"),
    (["--max-instances", "0"], "--max-instances: Input should be greater than or equal to 1"),  # a caption of nothing
])
def test_invalid_settings_are_refused_up_front(flags, says, three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    result = run_cli("run", str(path), "--runs-dir", str(tmp_path / "runs"), *flags)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {says}"
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_an_environment_variable_error_names_the_variable(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    result = run_cli("run", str(path), env={"INSTANCE_AGENT_TIMEOUT_S": "soon"})
    assert result.returncode == 2
    assert "INSTANCE_AGENT_TIMEOUT_S" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_config_file_that_is_not_utf8_is_one_line(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    config = tmp_path / "bad.toml"
    config.write_bytes(b"frames = 8\n\xff\xfe = 1\n")
    result = run_cli("run", str(path), env={"INSTANCE_AGENT_CONFIG": str(config)})
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {config}: config file is not UTF-8 text"


def test_http_400_claims_no_retries_and_hints_at_images(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    with ScriptedOpenAI([status(400, "this model does not support image input")]) as server:
        record = caption_video(path, settings_for(server, tmp_path, retries=2))
    assert len(server.requests) == 1  # a 400 is not retried, and the message does not say it was
    assert "retr" not in record.llm_error
    assert record.llm_error.endswith("if this model takes no images, run with --no-images")
    with ScriptedOpenAI([reply("", [("read_metadata", {})]), reply("", [("estimate_camera_motion", {})])]) as server:
        caption_video(path, settings_for(server, tmp_path, send_images=False))
    sent = json.dumps(server.requests)
    assert "image_url" not in sent


def test_the_api_key_never_leaks_through_server_error_text(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    key = "sk-live-0123456789abcdefSECRET"
    echo = f"invalid request; headers were {{'Authorization': 'Bearer {key}'}}"
    with ScriptedOpenAI([status(400, echo)]) as server:
        out = tmp_path / "events.jsonl"
        result = run_cli("run", str(path), "--llm", "m", "--base-url", server.base_url, "--runs-dir",
                         str(tmp_path / "runs"), "--trace", str(out), env={"OPENAI_API_KEY": key})
        with_json = run_cli("run", str(path), "--llm", "m", "--base-url", server.base_url, "--runs-dir",
                            str(tmp_path / "runs2"), "--json", env={"OPENAI_API_KEY": key})
    assert result.returncode == 3 and "answered HTTP 400" in result.stderr
    kept = [result.stdout, result.stderr, out.read_text(), with_json.stdout, with_json.stderr]
    kept += [p.read_text() for p in (tmp_path / "runs").rglob("*") if p.suffix in (".json", ".jsonl")]
    assert all(key not in text for text in kept)
    assert "Bearer ***" in result.stderr


def test_batch_records_mask_the_key(three_objects_clip, tmp_path, monkeypatch):
    path, _ = three_objects_clip
    key = "sk-batch-abcdefghijklmnop"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with ScriptedOpenAI([status(403, f"key {key} may not use this model")]) as server:
        run_batch([path], tmp_path / "out.jsonl", settings_for(server, tmp_path))
    text = (tmp_path / "out.jsonl").read_text()
    assert key not in text and "***" in text


def test_too_many_calls_in_one_reply_fall_back_at_once(three_objects_clip, tmp_path):
    path, truth = three_objects_clip
    flood = [("read_metadata", {})] * 200
    with ScriptedOpenAI([reply("", flood)]) as server:
        record = caption_video(path, settings_for(server, tmp_path, max_calls_per_turn=16))
    assert len(server.requests) == 1
    assert record.status == "degraded" and "200 tool calls in one reply" in record.fallback_reason
    assert not [s for s in record.steps if s.get("node") == "tools"]  # none of the 200 ran
    assert len(instances(record.caption)) == len(truth.objects)


def test_the_run_has_a_cap_on_tool_calls(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    script = [reply("", [("read_metadata", {})]) for _ in range(6)]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path, max_tool_calls=3))
    assert len(server.requests) == 4 and "more than 3 tool calls" in record.fallback_reason


def test_a_huge_reply_is_not_kept_whole(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    script = [reply("x" * 5_000_000), reply("", [("read_metadata", {})])]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path, max_reply_chars=10_000))
    resent = next(m for m in server.requests[1]["messages"] if m["role"] == "assistant")
    assert len(resent["content"]) < 11_000 and "characters cut" in resent["content"]
    assert os.path.getsize(os.path.join(record.run_dir, "llm.jsonl")) < 50_000


def test_an_internal_failure_never_leaves_a_caption_that_claims_an_empty_clip(three_objects_clip, tmp_path,
                                                                              monkeypatch):
    import graphs.caption

    path, truth = three_objects_clip

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the graph")

    monkeypatch.setattr(graphs.caption, "compose", broken)  # the fallback itself breaks
    with ScriptedOpenAI([MALFORMED["html"][0]]) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert record.status == "failed" and "a bug in the graph" in record.fallback_reason
    # every planned tool measured: the caption composed outside the graph names what is there
    assert len(instances(record.caption)) == len(truth.objects)
    assert EMPTY_CLAIM not in json.dumps(record.caption)
    saved = json.loads((tmp_path / "runs").glob("*/record.json").__next__().read_text())
    assert saved["status"] == "failed"


def test_an_interrupt_leaves_a_failed_record(three_objects_clip, tmp_path, monkeypatch, python_sigint):
    import tools.camera

    path, _ = three_objects_clip

    def interrupted(self, ctx, args):  # Ctrl-C while the tool works: the signal reaches the main thread
        import time

        signal_main_thread(signal.SIGINT)
        time.sleep(5)

    monkeypatch.setattr(tools.camera.EstimateCameraMotion, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        caption_video(path, Settings(runs_dir=tmp_path / "runs"))
    saved = json.loads(next((tmp_path / "runs").glob("*/record.json")).read_text())
    assert saved["status"] == "failed" and saved["fallback_reason"] == "interrupted" and saved["caption"] is None


def test_the_cache_does_not_change_a_clips_identity(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    twin = tmp_path / "twin.mp4"
    shutil.copy(path, twin)
    out = tmp_path / "out.jsonl"
    run_batch([path, twin], out, Settings(runs_dir=tmp_path / "runs"), cache_path=tmp_path / "cache.sqlite")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["caption"]["Video"] for r in rows] == [path.name, "twin.mp4"]
    assert rows[1]["cache_hits"] > 0 and [r["status"] for r in rows] == ["ok", "ok"]


@pytest.mark.parametrize("damage", ["not a database", "torn page"])
def test_a_corrupt_cache_warns_once_and_the_batch_goes_on(damage, three_objects_clip, tmp_path, caplog):
    path, _ = three_objects_clip
    cache = tmp_path / "cache.sqlite"
    if damage == "not a database":
        cache.write_bytes(b"this is not sqlite" * 100)
    else:
        run_batch([path], tmp_path / "first.jsonl", Settings(runs_dir=tmp_path / "runs"), cache_path=cache)
        data = bytearray(cache.read_bytes())
        data[4096:] = b"\x13" * (len(data) - 4096)  # every page after the first is garbage
        cache.write_bytes(bytes(data))
        for side in (cache.with_name(cache.name + "-wal"), cache.with_name(cache.name + "-shm")):
            side.unlink(missing_ok=True)
    import agent.run.worker

    agent.run.worker.WORKER_CACHE.clear()
    summary = run_batch([path], tmp_path / "out.jsonl", Settings(runs_dir=tmp_path / "runs"), cache_path=cache)
    assert summary.done == {"ok": 1}
    warnings = [r for r in caplog.records if r.name == "agent.run.cache"]
    assert len(warnings) == 1 and str(cache) in warnings[0].getMessage()


def test_two_batches_on_one_out_the_second_is_refused(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    out = tmp_path / "out.jsonl"
    holder = RecordFile(out)  # a batch running
    try:
        result = run_cli("batch", str(path), "--out", str(out), "--runs-dir", str(tmp_path / "runs"))
    finally:
        holder.close()
    assert result.returncode == 2
    assert "another batch is writing these records" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the "N clip(s) from" line, then the refusal
    again = run_cli("batch", str(path), "--out", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert again.returncode == 0 and len(out.read_text().splitlines()) == 1


def test_a_full_disk_stops_the_batch_and_keeps_the_records_valid(tmp_path, monkeypatch):
    from agent.testing.synthetic import random_scene, render_clip

    clips = []
    for i in range(3):
        clips.append(tmp_path / f"c{i}.mp4")
        render_clip(random_scene(40 + i, "static", duration_s=1.0), clips[-1])
    out = tmp_path / "out.jsonl"
    real_write = os.write
    writes = {"n": 0}

    def filling(fd, data):  # the second record finds the disk full half-way through
        if os.fstat(fd).st_ino == os.stat(out).st_ino:
            writes["n"] += 1
            if writes["n"] == 2:
                real_write(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", filling)
    with pytest.raises(StorageError, match="No space left on device"):
        run_batch(clips, out, Settings(runs_dir=tmp_path / "runs"))
    monkeypatch.setattr(os, "write", real_write)
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line is whole
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    summary = run_batch(clips, out, Settings(runs_dir=tmp_path / "runs"))
    assert summary.skipped == 1 and summary.done == {"ok": 2}


def test_a_run_that_cannot_write_its_record_is_not_recorded_as_done(three_objects_clip, tmp_path, monkeypatch):
    import agent.run.runner

    path, _ = three_objects_clip

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(agent.run.runner, "write_atomic", full)
    out = tmp_path / "out.jsonl"
    with pytest.raises(StorageError):
        run_batch([path], out, Settings(runs_dir=tmp_path / "runs"))
    assert out.read_text() == ""


def test_resume_summary_counts_failures_already_in_the_file(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"path": "/gone.mp4", "content_hash": "", "status": "failed", "caption": None,
                               "error": "no such file"}) + "\n")
    result = run_cli("batch", str(path), "--out", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 3
    assert "holds 1 failed, 1 ok" in result.stderr and "--retry-failed" in result.stderr


def test_more_workers_than_cpus_are_capped(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    result = run_cli("batch", str(path), "--out", str(tmp_path / "o.jsonl"), "--workers", "64",
                     "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0
    assert f"using {os.cpu_count()}" in result.stderr


@pytest.mark.parametrize("where", ["runs-dir", "output", "batch-out", "export-out"])
def test_unwritable_places_are_one_line_and_exit_1(where, three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    inside = str(blocker / "sub")  # a folder below a file: cannot be made, even by root
    runs = str(tmp_path / "runs")
    if where == "runs-dir":
        result = run_cli("run", str(path), "-q", "--runs-dir", inside)
    elif where == "output":
        result = run_cli("run", str(path), "-q", "--runs-dir", runs, "-o", inside + "/c.json")
        assert json.loads(result.stdout)["Video"] == path.name  # the caption still reached stdout
        assert list((tmp_path / "runs").glob("*/record.json"))
    elif where == "batch-out":
        result = run_cli("batch", str(path), "--out", inside + "/out.jsonl", "--runs-dir", runs)
    else:
        records = tmp_path / "r.jsonl"
        records.write_text("")
        result = run_cli("export", str(records), "--out", inside + "/x.json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Not a directory" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("command", ["trace show", "export", "flatten", "validate"])
def test_non_utf8_files_are_one_line_and_exit_2(command, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"a": "\xff\xfe"}\n')
    args = {"trace show": ["trace", "show", str(bad)], "export": ["export", str(bad), "--out", str(tmp_path / "x")],
            "flatten": ["flatten", str(bad)], "validate": ["validate", str(bad)]}[command]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: {bad}: " + ("caption file" if command in ("flatten", "validate")
                                                          else "file") + " is not UTF-8 text (byte 7)"


def test_still_images_are_refused(tmp_path):
    import cv2
    import numpy as np

    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 120, np.uint8))
    result = run_cli("run", str(image))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {image}: is a still image (PNG), not a video; caption a video clip"


def test_text_files_are_refused_whatever_their_name(tmp_path):
    """FFmpeg opens a .txt as a video of its characters: a caption of that would look fine."""
    from agent.core.errors import InputError
    from agent.run.media import probe

    text = tmp_path / "notes.txt"
    text.write_text("a camera path, or any notes\n" * 40)
    result = run_cli("run", str(text))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {text}: is a text file (tty), not a video"
    with pytest.raises(InputError, match="is a text file"):
        probe(text)


def test_a_newline_in_a_file_name_stays_out_of_the_run_folder(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    odd = tmp_path / "two\nlines.mp4"
    shutil.copy(path, odd)
    record = caption_video(odd, Settings(runs_dir=tmp_path / "runs"))
    assert "\n" not in record.run_dir and os.path.basename(record.run_dir).startswith("two_lines-")
    assert record.caption["Video"] == "two\nlines.mp4"


def test_a_core_tool_that_runs_out_of_memory_leaves_a_degraded_caption_that_claims_nothing(three_objects_clip,
                                                                                          tmp_path, monkeypatch):
    import tools.detect

    path, _ = three_objects_clip

    def out_of_memory(self, ctx, args):
        raise MemoryError("cannot allocate 4 GiB")

    monkeypatch.setattr(tools.detect.DetectInstances, "run", out_of_memory)
    record = caption_video(path, Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "degraded"
    assert "detect_instances" in record.fallback_reason and "MemoryError" in record.fallback_reason
    assert EMPTY_CLAIM not in json.dumps(record.caption)
    assert "could not be measured" in record.caption["Global Description"]


def test_a_finished_batch_leaves_no_lock_file_and_a_new_one_can_start(tmp_path):
    out = tmp_path / "out.jsonl"
    first = RecordFile(out)
    lock = tmp_path / "out.jsonl.lock"
    assert lock.exists()  # held while the batch runs
    first.close()
    assert not lock.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    second = RecordFile(out)  # takes a fresh lock
    try:
        with pytest.raises(InputError, match="another batch is writing these records"):
            RecordFile(out)
    finally:
        second.close()
    assert not lock.exists()
