"""The caption graph holds every caption to measurements: a submission with no tool call is checked
against the core measurements the graph runs itself, and a caption out of repairs is kept field by field."""

import json

from agent.core.evidence import CameraMotion, Instances, VideoMetadata
from conftest import run_cli
from test_graph_and_plugins import call, run_with

WRONG = {"Video": "three.mp4",
         "Global Description": "A man in a red coat walks a dog along a river as the camera zooms in.",
         "Structural Description": {
             "Main Instance": {"No.0": {"Class": "man", "Appearance": "A man in a red coat.",
                                        "Actions and Motion": "He walks a dog.", "Position": "He walks from left to right."}},
             "Background Detail": "A river bank with trees.", "Camera Movement": "The camera zooms in."}}


def test_a_submission_without_tool_calls_is_never_accepted_unmeasured(three_objects_clip, tmp_path, monkeypatch):
    clip, _ = three_objects_clip
    record = run_with([call("submit_caption", WRONG, i) for i in range(6)], clip, tmp_path, monkeypatch)
    assert record.status != "ok"
    for model in (VideoMetadata, Instances, CameraMotion):
        assert any(name in record.evidence for name in record.evidence.tools_declaring(model))
    first = next(s for s in record.steps if s.get("node") == "validate")
    text = " ".join(first["problems"])
    assert "'pan left'" in text and "3 were detected" in text and "missing and ran before the check" in text


def test_a_caption_out_of_repairs_is_kept_field_by_field(three_objects_clip, tmp_path, monkeypatch):
    clip, _ = three_objects_clip
    good = json.loads(run_cli("run", str(clip), "-q", "--runs-dir", str(tmp_path / "r")).stdout)
    bad = json.loads(json.dumps(good))
    bad["Global Description"] = "Three shapes drift across a plain backdrop while the camera follows them."
    bad["Structural Description"]["Camera Movement"] = "The camera zooms out quickly."
    record = run_with([call("submit_caption", bad, i) for i in range(5)], clip, tmp_path, monkeypatch, max_repairs=1)
    assert record.status == "degraded" and "Camera Movement" in record.fallback_reason
    assert record.caption["Global Description"] == bad["Global Description"]
    assert record.caption["Structural Description"]["Camera Movement"] == good["Structural Description"]["Camera Movement"]
    assert record.field_sources["Structural Description.Camera Movement"] == "composed"
    assert record.field_sources["Global Description"] == "model"


def test_run_says_which_fields_were_composed_and_exits_3(three_objects_clip, tmp_path, monkeypatch, capsys):
    from agent.cli.main import main
    from test_graph_and_plugins import Scripted

    clip, _ = three_objects_clip
    good = json.loads(run_cli("run", str(clip), "-q", "--runs-dir", str(tmp_path / "r")).stdout)
    bad = json.loads(json.dumps(good))
    bad["Structural Description"]["Camera Movement"] = "The camera zooms out quickly."
    model = Scripted(messages=iter([call("submit_caption", bad, i) for i in range(5)]))
    monkeypatch.setattr("agent.run.runner.make_chat_model", lambda settings, backends: model)
    code = main(["run", str(clip), "-q", "--llm", "scripted-model", "--base-url", "http://127.0.0.1:9/v1",
                 "--max-repairs", "1", "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 3
    assert "degraded: the model's caption did not pass for Structural Description.Camera Movement" in err
