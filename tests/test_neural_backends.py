"""The neural path (ultralytics YOLO + ByteTrack, SAM2 video predictor) with randomly initialised
models on CPU, and the fall back to the classical backend when weights are missing."""

import json

import pytest

from agent.core.config import Settings
from agent.run.runner import caption_video
from conftest import run_cli

pytest.importorskip("ultralytics", reason="the neural extra is not installed")
pytest.importorskip("sam2", reason="the neural extra is not installed")


@pytest.mark.neural
def test_random_weight_yolo_and_sam2_run_end_to_end(three_objects_clip, tmp_path, biased_yolo):
    path, _ = three_objects_clip
    settings = Settings(backend="neural", random_weights=True, device="cpu", sam2_image_size=256, frames=6,
                        runs_dir=tmp_path)
    events = []
    record = caption_video(path, settings, listeners=[events.append])
    assert record.status == "ok", record.problems
    assert record.backend == "neural" and record.backend_fallback_reason is None
    run = json.loads((tmp_path / f"{path.stem}-{record.content_hash[:8]}" / "record.json").read_text())
    assert run["backend"] == "neural"

    backends = {e["tool"]: e["model"] for e in events if e["event"] == "backend"}
    assert backends == {"detect_instances": "yolo11n.yaml (random weights)",
                        "segment_and_blur": "sam2.1 tiny (random weights)"}
    from agent.core.evidence import Instances, Segmentation

    found = Instances.model_validate(run["evidence"]["detect_instances"])
    assert found.backend == "neural" and 1 <= len(found.instances) <= 3
    for inst in found.instances:
        assert inst.recognised_by == ["yolo"] and isinstance(inst.track_id, int)
        assert inst.class_name == "person"  # the class the biased head favours
        assert len(inst.seen()) >= 2 and inst.start_cell
    seg = Segmentation.model_validate(run["evidence"]["segment_and_blur"])
    assert seg.method == "sam2"
    seen = sum(len(i.seen()) for i in found.instances)
    assert sum(seg.frames_by_method.values()) == seen  # every detected frame got a SAM2 mask or a GrabCut one
    assert set(seg.frames_by_method) <= {"sam2", "grabcut (sam2 mask empty)"}
    for view in seg.views:
        assert view.frames >= 2
    caption = record.caption["Structural Description"]["Main Instance"]
    assert len(caption) == len(found.instances)


def test_missing_weights_fall_back_to_classical_and_say_why(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    weights = tmp_path / "weights"
    result = run_cli("run", str(path), "--backend", "neural", "--runs-dir", str(tmp_path / "runs"),
                     env={"INSTANCE_AGENT_WEIGHTS_DIR": str(weights), "INSTANCE_AGENT_CONFIG": ""})
    assert result.returncode == 0, result.stderr
    assert "detect_instances: using classical (YOLO weights yolo11n.pt not found in" in result.stderr
    assert str(weights) in result.stderr and "downloads are off" in result.stderr
    assert "segment_and_blur: using grabcut (SAM2 checkpoint sam2.1_hiera_tiny.pt not found" in result.stderr
    record = json.loads(next((tmp_path / "runs").glob("three-*/record.json")).read_text())
    assert record["backend"] == "classical"
    assert record["backend_fallback_reason"].startswith("detect_instances: YOLO weights yolo11n.pt not found")
    assert record["status"] == "ok"


def test_weights_are_found_where_the_user_put_them(tmp_path, monkeypatch):
    from tools.weights import WeightsMissing, resolve_sam2, resolve_yolo

    monkeypatch.chdir(tmp_path)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "yolo11s.pt").write_bytes(b"x")
    (tmp_path / "w" / "sam2.1_hiera_small.pt").write_bytes(b"x")
    settings = Settings(weights_dir=tmp_path / "w", yolo_weights="yolo11s.pt", sam2_model="small")
    assert resolve_yolo(settings).source == str(tmp_path / "w" / "yolo11s.pt")
    spec = resolve_sam2(settings)
    assert (spec.config, spec.checkpoint) == ("configs/sam2.1/sam2.1_hiera_s.yaml", str(tmp_path / "w" / "sam2.1_hiera_small.pt"))
    with pytest.raises(WeightsMissing, match="do not exist"):
        resolve_yolo(Settings(yolo_weights=str(tmp_path / "nope" / "best.pt")))
    cached = tmp_path / "hf" / "models--facebook--sam2.1-hiera-large" / "snapshots" / "abc"
    cached.mkdir(parents=True)
    (cached / "sam2.1_hiera_large.pt").write_bytes(b"x")
    (cached.parent.parent / "refs").mkdir()
    (cached.parent.parent / "refs" / "main").write_text("abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # a model fetched by an earlier online run
    spec = resolve_sam2(Settings(weights_dir=tmp_path / "empty", sam2_model="large"))
    assert spec.checkpoint == str(cached / "sam2.1_hiera_large.pt")
    online = Settings(weights_dir=tmp_path / "empty", allow_downloads=True)
    assert resolve_yolo(online).source == "yolo11n.pt"  # ultralytics downloads it
    assert resolve_sam2(online).hub_id == "facebook/sam2.1-hiera-tiny"
