"""The ultralytics path with real weights: NanoDet wrapped as an ultralytics ONNX detector
(``nanodet-ultralytics.onnx``, built by scripts/make_ultralytics_onnx.py at set-up) through
``--backend neural --yolo-weights nanodet-ultralytics.onnx``, ByteTrack included, on real clips.

Measured here: carphone, the man tracked as a person over all 8 sampled frames (0.74); bikes.mp4
with 24 sampled frames, a bicycle tracked over 4 of them (ultralytics' NMS keeps a "motorcycle" box
on the same bicycle as a second track). A test whose model file is not installed skips, naming the
file and ``python scripts/fetch_models.py``.
"""

import hashlib
import json
import sys

import numpy as np
import pytest

from agent.core.config import Settings
from agent.core.evidence import Instances
from tools.weights import WeightsMissing
from conftest import ROOT, real_clip, run_cli
from tools.vision import models

pytest.importorskip("ultralytics", reason="the neural extra is not installed")

NAME = "nanodet-ultralytics"
FILE = "nanodet-ultralytics.onnx"


def need(name: str = NAME) -> None:
    try:
        models.model_path(name)
    except WeightsMissing as e:
        pytest.skip(str(e))


def builder():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_ultralytics_onnx
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return make_ultralytics_onnx


def run(clip: str, tmp_path, **settings):
    from agent.run.runner import caption_video

    config = Settings(backend="neural", yolo_weights=FILE, device="cpu", runs_dir=tmp_path,
                      sam2_checkpoint=str(tmp_path / "no-sam2.pt"), **settings)  # masks: GrabCut, quickly
    events = []
    record = caption_video(real_clip(clip), config, listeners=[events.append])
    assert record.status == "ok", record.problems
    backends = {e["tool"]: e["model"] for e in events if e["event"] == "backend"}
    assert backends["detect_instances"] == str(models.model_path(NAME))
    found = Instances.model_validate(record.evidence["detect_instances"])
    assert found.backend == "neural" and found.fallback_reason is None
    for inst in found.instances:
        assert inst.recognised_by == ["yolo"] and isinstance(inst.track_id, int)
    return record, found


def test_the_man_in_the_car_is_tracked_as_a_person(tmp_path):
    need()
    record, found = run("carphone_pristine.mp4", tmp_path)
    person = found.instances[0]
    assert person.class_name == "person" and person.confidence >= 0.5, person
    assert len(person.seen()) >= 7  # of 8 sampled frames
    for box in filter(None, person.boxes):
        x1, y1, x2, y2 = box  # he fills most of the frame
        assert x1 < 0.3 and y1 < 0.2 and x2 > 0.7 and y2 > 0.9, box
    assert record.caption["Structural Description"]["Main Instance"]["No.0"]["Class"] == "person"
    run_record = json.loads(next(tmp_path.glob("carphone_pristine-*/record.json")).read_text())
    assert run_record["evidence"]["detect_instances"]["model"].endswith(FILE)


def test_a_bicycle_in_the_street_montage(tmp_path):
    need()
    _, found = run("bikes.mp4", tmp_path, frames=24, max_instances=20)
    classes = {i.class_name for i in found.instances}
    bicycles = [i for i in found.instances if i.class_name == "bicycle"]
    assert bicycles and max(len(b.seen()) for b in bicycles) >= 2, sorted(classes)
    assert {"person", "car"} <= classes, sorted(classes)


def test_the_wrapped_graph_decodes_as_the_detector_does():
    """Same letterboxed frame in: the same candidate boxes and scores as tools/vision/detector.py's decoding."""
    need()
    need("nanodet")
    import av

    from tools.vision import detector

    with av.open(str(real_clip("bikes.mp4"))) as container:
        image = next(f for i, f in enumerate(container.decode(video=0)) if i == 190).to_ndarray(format="bgr24")
    x, _ = detector.preprocess(image)
    boxes, scores, cids = detector._decode(models.session("nanodet").run(None, {"input_1:0": x}), 0.3)
    bgr = x * detector.STD.reshape(1, 3, 1, 1) + detector.MEAN.reshape(1, 3, 1, 1)
    rgb = np.ascontiguousarray(bgr[:, ::-1] / 255.0, dtype=np.float32)  # what ultralytics feeds
    y = models.session(NAME).run(None, {"images": rgb})[0][0]
    assert y.shape == (84, 3549)
    cell, cid = np.nonzero(y[4:].T > 0.3)
    cx, cy, w, h = y[:4, cell]
    assert len(cell) == len(boxes) > 5 and (cid == cids).all()
    assert np.abs(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1) - boxes).max() < 0.01
    assert np.abs(y[4:].T[cell, cid] - scores).max() < 1e-4
    assert "bicycle" in {detector.COCO_LABELS[c] for c in cids}


def test_ultralytics_reads_the_metadata(tmp_path):
    need()
    from tools.weights import prepare_ultralytics

    prepare_ultralytics(Settings())
    from ultralytics import YOLO

    model = YOLO(str(models.model_path(NAME)))  # no task given: it is in the metadata
    assert model.task == "detect"
    result = model.predict(np.zeros((144, 176, 3), np.uint8), verbose=False)[0]
    assert result.names == dict(enumerate(models.labels("coco80.txt")))
    assert result.boxes is not None and result.masks is None
    assert model.predictor.model.imgsz == [416, 416] and not model.predictor.model.end2end


def test_the_build_gives_the_pinned_bytes(tmp_path):
    need("nanodet")
    out = builder().build(models.model_path("nanodet"), tmp_path / FILE)
    spec = models.spec(NAME)
    assert out.stat().st_size == spec["size"]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == spec["sha256"]


def test_the_name_is_found_in_the_models_folder_and_checked(tmp_path, monkeypatch):
    from tools.weights import resolve_yolo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(tmp_path / "models"))
    settings = Settings(yolo_weights=FILE, weights_dir=tmp_path / "weights", allow_downloads=True)
    with pytest.raises(WeightsMissing) as missing:
        resolve_yolo(settings)  # never handed to ultralytics to download
    assert str(tmp_path / "models") in str(missing.value) and "python scripts/fetch_models.py" in str(missing.value)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / FILE).write_bytes(b"\x08\x07" * 100)  # a truncated file
    with pytest.raises(WeightsMissing, match="truncated.*build it again with `python scripts/fetch_models.py`"):
        resolve_yolo(settings)
    other = tmp_path / "mine.onnx"  # a path given is used as it is
    other.write_bytes(b"x")
    assert resolve_yolo(Settings(yolo_weights=str(other))).source == str(other)


def test_onnx_runs_on_the_cpu_unless_onnxruntime_has_the_device():
    import onnxruntime

    from tools.detect_yolo import onnx_device

    assert onnx_device("yolo11n.pt", "cuda:1") == "cuda:1"
    assert onnx_device("x.onnx", "cpu") == "cpu"
    cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert onnx_device("x.onnx", "cuda") == ("cuda" if cuda else "cpu")


@pytest.mark.slow
def test_a_missing_model_file_falls_back_in_one_line(tmp_path):
    result = run_cli("run", str(real_clip("carphone_pristine.mp4")), "--backend", "neural", "--yolo-weights", FILE,
                     "--runs-dir", str(tmp_path / "runs"),
                     env={"INSTANCE_AGENT_MODELS_DIR": str(tmp_path / "models"), "INSTANCE_AGENT_CONFIG": "",
                          "INSTANCE_AGENT_WEIGHTS_DIR": str(tmp_path / "weights")})
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stderr.splitlines() if ln.strip().startswith("detect_instances: using classical"))
    assert FILE in line and "python scripts/fetch_models.py" in line
    assert "Traceback" not in result.stderr
    record = json.loads(next((tmp_path / "runs").glob("carphone_pristine-*/record.json")).read_text())
    assert record["backend"] == "classical" and FILE in record["backend_fallback_reason"]
