"""The local vision-language path (transformers) with a tiny random Qwen2.5-VL built here."""

import json

import pytest

from agent.core.config import Settings
from agent.run.runner import caption_video
from conftest import run_cli

pytest.importorskip("transformers", reason="the neural extra is not installed")


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    from tiny_vlm import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-qwen2.5-vl"))


@pytest.fixture(scope="module")
def measured(three_objects_clip, tmp_path_factory):
    path, _ = three_objects_clip
    return caption_video(path, Settings(runs_dir=tmp_path_factory.mktemp("measured"))).caption


def describe_calls(record):
    return [s for s in record.steps if s.get("node") == "tools" and s["tool"] == "describe"]


def test_describer_generates_for_real_and_keeps_measured_text_when_the_answer_is_garbage(
        three_objects_clip, tiny_vlm, measured, tmp_path):
    path, _ = three_objects_clip
    record = caption_video(path, Settings(describer=f"hf:{tiny_vlm}", runs_dir=tmp_path))
    # the caption is the measured one: the run says the describer gave nothing, not "ok"
    assert record.status == "degraded" and "gave no usable answer to 5 question(s)" in record.fallback_reason
    calls = describe_calls(record)
    assert len(calls) == 3 + 2  # N instances + background + camera, against InstanceCap's 4 + 4N = 16
    answers = record.evidence["describe"]  # the last answer; every call's summary is in the steps
    assert answers["usable"] is False and answers["problem"].startswith("not usable: expected JSON")
    assert answers["raw"] and answers["seconds"] >= 0
    assert record.caption == measured  # garbage never reaches the caption


def test_usable_answers_replace_the_measured_text_and_contradictions_go_back(three_objects_clip, tiny_vlm, measured,
                                                                           tmp_path, monkeypatch):
    import agent.models.hf as hf

    seen_images = []

    def answer(model, processor, messages, max_new_tokens=256, tools=None):
        parts = messages[-1]["content"]
        seen_images.append(any(p["type"] == "image" for p in parts))
        text = next(p["text"] for p in parts if p["type"] == "text")
        if '"Camera Movement"' in text:
            return '{"Camera Movement": "The camera zooms in on the scene."}', 10, 5  # contradicts the estimator
        if '"Background Detail"' in text:
            return '```json\n{"Background Detail": "A plain gray wall fills the back of the scene."}\n```', 10, 5
        kind = text.split("one ")[1].split(" (")[0]
        return json.dumps({"Appearance": f"A tidy {kind} with a clear outline.",
                           "Actions and Motion": f"The {kind} drifts across a dull patch of the view."}), 10, 5

    monkeypatch.setattr(hf, "generate_text", answer)
    path, _ = three_objects_clip
    record = caption_video(path, Settings(describer=f"hf:{tiny_vlm}", runs_dir=tmp_path))
    assert record.status == "ok", record.problems
    sd = record.caption["Structural Description"]
    first = sd["Main Instance"]["No.0"]
    kind = measured["Structural Description"]["Main Instance"]["No.0"]["Class"]  # the describer was asked about it
    assert first["Appearance"] == f"A tidy {kind} with a clear outline."
    assert first["Actions and Motion"] == f"The {kind} drifts across a muted patch of the view."  # lexicon's word
    assert first["Position"] == measured["Structural Description"]["Main Instance"]["No.0"]["Position"]
    assert sd["Background Detail"] == "A plain gray wall fills the back of the scene."
    # the zoom contradicted the measured pan: validation named the field, the measured sentence came back
    assert sd["Camera Movement"] == measured["Structural Description"]["Camera Movement"]
    assert [s["ok"] for s in record.steps if s.get("node") == "validate"] == [False, True]
    assert seen_images == [True, True, True, True, False]  # instance views and frames go in as images


def test_the_same_model_as_chat_backend_reads_tool_calls_from_text(three_objects_clip, tiny_vlm, measured, tmp_path,
                                                                    monkeypatch):
    import agent.models.hf as hf

    real = hf.generate_text
    replies = iter([
        "".join(f'<tool_call>{{"name": "{t}", "arguments": {{}}}}</tool_call>' for t in
                ("read_metadata", "estimate_camera_motion", "detect_instances", "segment_and_blur",
                 "describe_background")),
        '<tool_call>{"name": "submit_caption", "arguments": ' + json.dumps(measured) + "}</tool_call>",
    ])
    prompts = []

    def generate(model, processor, messages, max_new_tokens=256, tools=None):
        text, prompt_tokens, new_tokens = real(model, processor, messages, 4, tools)  # the real path, briefly
        prompts.append((messages, tools))
        return next(replies), prompt_tokens, new_tokens

    monkeypatch.setattr(hf, "generate_text", generate)
    path, _ = three_objects_clip
    record = caption_video(path, Settings(llm=f"hf:{tiny_vlm}", runs_dir=tmp_path))
    assert record.status == "ok", record.problems
    assert record.caption == measured
    assert record.usage.calls == 2 and record.usage.prompt_tokens > 0
    first_messages, tools = prompts[0]
    assert any(p["type"] == "image" for p in first_messages[1]["content"])
    assert {t["function"]["name"] for t in tools} >= {"detect_instances", "submit_caption"}
    assert [s.get("recovered") for s in record.steps if s.get("node") == "model"] == ["tool calls written as text"] * 2


def test_models_that_cannot_be_loaded_offline_are_one_line(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    missing = run_cli("run", str(path), "--describer", "hf:/no/such/model", "--runs-dir", str(tmp_path))
    assert missing.returncode == 2 and missing.stderr.strip() == "error: hf:/no/such/model: no such model folder"
    offline = run_cli("run", str(path), "--llm", "hf:example-org/not-downloaded", "--runs-dir", str(tmp_path))
    assert offline.returncode == 2
    line = offline.stderr.strip()
    assert "\n" not in line and line.startswith("error: hf:example-org/not-downloaded: cannot load the model offline")
    assert line.endswith("download it once with allow_downloads = true, or give a local folder")
