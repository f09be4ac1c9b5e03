"""The agent against a real OpenAI-compatible HTTP server (scripted), through langchain-openai."""

import json
import socket

import pytest

from agent.core.config import Settings
from agent.run.runner import caption_video
from conftest import run_cli
from openai_server import ScriptedOpenAI, reply, stall, status


@pytest.fixture(scope="module")
def expected(three_objects_clip, tmp_path_factory):
    """The caption the offline planner writes for the clip: a well-behaved model submits the same."""
    path, _ = three_objects_clip
    record = caption_video(path, Settings(runs_dir=tmp_path_factory.mktemp("offline")))
    assert record.status == "ok"
    return record.caption


def settings_for(server, tmp_path, **kw) -> Settings:
    values = {"llm": "scripted-vl", "base_url": server.base_url, "runs_dir": tmp_path / "runs", "timeout_s": 5,
              "retries": 2, **kw}
    return Settings(**values)


def tool_messages(request: dict) -> list[dict]:
    return [m for m in request["messages"] if m["role"] == "tool"]


def test_well_behaved_model_needs_tools_plus_two_calls(three_objects_clip, expected, tmp_path):
    path, truth = three_objects_clip
    script = [
        reply("Measuring first.", [("read_metadata", {}), ("estimate_camera_motion", {}), ("detect_instances", {})]),
        reply("", [("segment_and_blur", {}), ("describe_background", {})]),
        reply("", [("submit_caption", expected)]),
    ]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert record.status == "ok", record.problems
    assert record.caption == expected
    assert len(truth.objects) == 3 and len(expected["Structural Description"]["Main Instance"]) == 3
    tools_called = [s["tool"] for s in record.steps if s.get("node") == "tools"]
    assert len(tools_called) == 5
    assert record.usage.calls == 3 <= len(tools_called) + 2
    assert record.usage.prompt_tokens == server.prompt_tokens > 0
    first_user = next(m for m in server.requests[0]["messages"] if m["role"] == "user")
    opening = first_user["content"][0]["text"]
    assert "Video file: three.mp4" in opening and "640x360 pixels" in opening
    assert "The video lasts 3.00 seconds. 8 frames were sampled uniformly at 0.00s" in opening
    # images travel in user messages, never in tool messages
    last = server.requests[-1]
    assert all(isinstance(m["content"], str) for m in tool_messages(last))
    users_with_images = [m for m in last["messages"] if m["role"] == "user" and isinstance(m["content"], list)
                         and any(p["type"] == "image_url" for p in m["content"])]
    assert len(users_with_images) == 2  # the sampled frames, then the instance views
    assert record.usage.images == 4  # 1 sheet of sampled frames + 3 instance views
    assert record.usage.image_parts_sent == server.images_seen == 1 + 1 + 4  # per request
    # the submit tool's parameters are the caption schema
    submit = next(t for t in server.requests[0]["tools"] if t["function"]["name"] == "submit_caption")
    assert "Structural Description" in submit["function"]["parameters"]["properties"]


def test_misbehaving_server_is_survived(three_objects_clip, expected, tmp_path):
    path, _ = three_objects_clip
    wrong = json.loads(json.dumps(expected))
    wrong["Structural Description"]["Main Instance"] = {}
    script = [
        status(429, "slow down"),  # retried by the client
        status(503, "warming up"),  # retried by the client
        reply(""),  # an empty reply: nudged
        reply('<tool_call>\n{"name": "read_metadata", "arguments": {}}\n</tool_call>'),  # Hermes text
        reply('{"name": "estimate_camera_motion", "arguments": {}}'),  # bare JSON
        reply("", [("find_dogs", {}), ("detect_instances", {"max_instances": "many"}),
                   ("segment_and_blur", '{"background": "blur"')]),  # unknown tool, bad args, broken JSON
        reply("", [("detect_instances", {}), ("segment_and_blur", {}), ("describe_background", {})]),
        reply("", [("submit_caption", wrong)]),  # contradicts the detections: repaired
        reply("", [("submit_caption", expected)]),
    ]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert server.left == 0
    assert record.status == "ok", record.problems
    assert record.caption == expected
    assert record.usage.calls == 7  # the two HTTP errors were retried inside one call
    recovered = [s.get("recovered") for s in record.steps if s.get("node") == "model"]
    assert recovered.count("tool calls written as text") == 2
    answers = {m["tool_call_id"]: m["content"] for m in tool_messages(server.requests[-1])}
    text = "\n".join(answers.values())
    assert "find_dogs is not a valid tool" in text
    assert "max_instances" in text
    assert "not a valid JSON object" in text
    assert "instance(s) but 3 were detected" in text  # the repair request named the evidence
    validations = [s for s in record.steps if s.get("node") == "validate"]
    assert [v["ok"] for v in validations] == [False, True]


def test_time_out_is_retried(three_objects_clip, expected, tmp_path):
    path, _ = three_objects_clip
    script = [stall(2.5), reply("", [("submit_caption", expected)])]
    with ScriptedOpenAI(script) as server:
        record = caption_video(path, settings_for(server, tmp_path, timeout_s=1.0))
    assert len(server.requests) == 2
    assert record.status == "ok"
    assert record.usage.calls == 1


def test_server_errors_that_persist_end_in_a_degraded_caption(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    with ScriptedOpenAI([status(500)] * 3) as server:
        record = caption_video(path, settings_for(server, tmp_path))
    assert len(server.requests) == 3  # one try and two retries
    assert record.status == "degraded"
    assert record.llm_error.startswith(f"the model server at {server.base_url} answered HTTP 500")
    assert record.caption and record.caption["Structural Description"]["Main Instance"]  # evidence kept


def test_connection_refused_is_one_clear_line(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    out = tmp_path / "caption.json"
    result = run_cli("run", str(path), "--llm", "qwen2.5-vl", "--base-url", url, "--retries", "0",
                     "--runs-dir", str(tmp_path / "runs"), "-o", str(out))
    assert result.returncode == 3
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot reach the model server at {url} (connection refused)")
    assert "vllm serve" in last and "Traceback" not in result.stderr
    assert last.endswith("the caption (status degraded) was composed from the tools' evidence, not written by the model")
    assert json.loads(out.read_text())["Video"] == path.name  # the composed caption is not lost


def test_recorded_run_replays_to_the_same_caption(three_objects_clip, expected, tmp_path):
    path, _ = three_objects_clip
    script = [
        reply("", [("read_metadata", {}), ("estimate_camera_motion", {}), ("detect_instances", {}),
                   ("segment_and_blur", {}), ("describe_background", {})]),
        reply('<tool_call>{"name": "submit_caption", "arguments": ' + json.dumps(expected) + "}</tool_call>"),
    ]
    with ScriptedOpenAI(script) as server:
        first = caption_video(path, settings_for(server, tmp_path))
    assert first.status == "ok" and first.caption == expected
    # the server is gone; the recording answers instead
    replayed = caption_video(path, Settings(llm=f"replay:{first.run_dir}", runs_dir=tmp_path / "replay"))
    assert replayed.status == "ok"
    assert replayed.caption == first.caption
    assert replayed.usage.calls == 2


def test_replay_of_a_missing_recording_is_an_input_error(tmp_path, three_objects_clip):
    path, _ = three_objects_clip
    result = run_cli("run", str(path), "--llm", f"replay:{tmp_path}", "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: replay: {tmp_path}/llm.jsonl does not exist (a run folder holds " \
                                     "llm.jsonl after a run with an LLM)"


def test_model_selection_from_flags_environment_and_config(tmp_path, monkeypatch):
    from langchain_openai import ChatOpenAI

    from agent.core.config import load_settings
    from agent.core.errors import InputError
    from agent.models.llm import make_chat_model
    from agent.models.planner import OfflinePlanner

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INSTANCE_AGENT_LLM", "INSTANCE_AGENT_BASE_URL",
                "INSTANCE_AGENT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    assert isinstance(make_chat_model(load_settings()), OfflinePlanner)
    with pytest.raises(InputError, match="set OPENAI_API_KEY, or give --base-url"):
        make_chat_model(load_settings(llm="openai:gpt-4o-mini"))

    (tmp_path / "instance-agent.toml").write_text('llm = "qwen2.5-vl-7b"\nbase_url = "http://gpu-box:8000/v1"\n'
                                                  "temperature = 0.2\nretries = 5\n")
    model = make_chat_model(load_settings())
    assert isinstance(model, ChatOpenAI)
    assert (model.model_name, model.openai_api_base, model.temperature, model.max_retries) == \
        ("qwen2.5-vl-7b", "http://gpu-box:8000/v1", 0.2, 5)
    monkeypatch.setenv("INSTANCE_AGENT_BASE_URL", "http://localhost:11434/v1")  # environment beats the file
    assert make_chat_model(load_settings()).openai_api_base == "http://localhost:11434/v1"
    model = make_chat_model(load_settings(llm="llava", base_url="http://127.0.0.1:1234/v1", timeout_s=9))
    assert (model.model_name, model.openai_api_base, model.request_timeout) == ("llava", "http://127.0.0.1:1234/v1", 9)


def test_example_config_file_is_valid(tmp_path, monkeypatch):
    from agent.core.config import load_settings
    from conftest import ROOT

    monkeypatch.setenv("INSTANCE_AGENT_CONFIG", str(ROOT / "examples" / "instance-agent.toml"))
    settings = load_settings()
    assert (settings.backend, settings.sam2_model, settings.allow_downloads) == ("auto", "tiny", False)
