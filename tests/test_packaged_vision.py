"""The packaged tier of detection (NanoDet, MoveNet, EfficientNet-Lite0 on the CPU) on real clips, the
fall back when a model file is missing, the person rules, and class evidence as advice or binding."""

import json

import pytest

from agent.core.config import Settings
from agent.run.runner import caption_video
from conftest import real_clip, tool_context


def models_present():
    from tools.vision.models import model_path

    try:
        for name in ("nanodet", "movenet-multipose", "efficientnet-lite0"):
            model_path(name)
    except Exception as e:  # WeightsMissing names the file and the fetch command
        pytest.skip(str(e))


def detect(path, tmp_path, **settings):
    ctx = tool_context(path, tmp_path, **settings)
    obs = ctx.tools["detect_instances"](ctx)
    return obs.evidence_dict()


def test_carphone_is_one_talking_person_named_by_the_detector(tmp_path):
    models_present()
    found = detect(real_clip("carphone_pristine.mp4"), tmp_path)
    assert found["backend"] == "packaged" and found["model"] == "nanodet"
    assert [i["class_name"] for i in found["instances"]] == ["person"]  # the scenery through the window is not
    person = found["instances"][0]
    assert person["class_binding"] and person["class_confidence"] >= 0.6
    assert "nanodet" in person["recognised_by"] and "movenet-multipose" in person["recognised_by"]
    assert person["action"].startswith("talks")  # a close face whose head moves and turns


def test_the_compressed_carphone_talks_too_by_its_face(tmp_path):
    models_present()
    found = detect(real_clip("carphone_distorted.mp4"), tmp_path)
    person = next(i for i in found["instances"] if i["class_name"] == "person")
    # MoveNet finds no pose in these blocky frames; the face detector's eyes and nose move
    assert "movenet-multipose" not in person["recognised_by"] and person["action"].startswith("talks")


def test_bikes_names_people_cars_and_bicycles(tmp_path):
    models_present()
    found = detect(real_clip("bikes.mp4"), tmp_path)
    classes = {i["class_name"] for i in found["instances"]}
    assert "person" in classes and "object" not in classes
    # the street's cars and bicycles, as main instances (three at most) or besides them
    seen = classes | set(found["also_seen"])
    assert {"car", "bicycle"} <= seen


def test_the_cartoon_rabbit_is_an_animal_not_a_bird(tmp_path):
    models_present()
    found = detect(real_clip("bigbuckbunny.mp4"), tmp_path)
    main = found["instances"][0]
    # the detector calls it a bird, a sheep, a cow and a cat: only the family is sure
    assert main["class_name"] in ("animal", "rabbit")
    assert not main["class_binding"] and main["class_candidates"]  # advice a VLM may make precise
    assert all(i["class_name"] != "object" for i in found["instances"])  # its parts joined the named track


def test_generated_shapes_get_no_names_and_no_extra_instances(three_objects_clip, tmp_path):
    models_present()
    path, truth = three_objects_clip
    found = detect(path, tmp_path)
    assert found["backend"] == "packaged"
    assert len(found["instances"]) == len(truth.objects)
    assert all(i["class_name"] == "object" for i in found["instances"])


def test_a_missing_model_file_falls_back_to_classical_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(tmp_path / "empty"))
    record = caption_video(real_clip("carphone_pristine.mp4"), Settings(runs_dir=tmp_path / "runs"))
    found = record.evidence["detect_instances"]
    assert found["backend"] == "classical" and record.status == "ok"
    why = found["fallback_reason"]
    assert "nanodet" in why and "python scripts/fetch_models.py" in why and "\n" not in why
    assert "nanodet" in record.backend_fallback_reason


def test_a_truncated_model_file_falls_back_too(tmp_path, monkeypatch):
    import shutil

    models_present()
    from tools.vision.models import model_path

    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("movenet-multipose", "efficientnet-lite0"):
        shutil.copy(model_path(name), folder)
    good = model_path("nanodet").read_bytes()
    (folder / "nanodet.onnx").write_bytes(good[: len(good) // 2])
    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(folder))
    found = detect(real_clip("carphone_pristine.mp4"), tmp_path)
    assert found["backend"] == "classical" and "truncated" in found["fallback_reason"]


def test_backend_classical_uses_no_model(tmp_path):
    found = detect(real_clip("carphone_pristine.mp4"), tmp_path, backend="classical")
    assert found["backend"] == "classical" and found["fallback_reason"] is None


# -- people ------------------------------------------------------------------------------------
class KP:
    def __init__(self, name, x, y, score=0.9):
        self.name, self.x, self.y, self.score = name, x, y, score


class FakePose:
    def __init__(self, points: dict):
        from tools.vision.pose import KEYPOINTS

        self.keypoints = tuple(KP(n, *points.get(n, (0, 0)), score=0.9 if n in points else 0.0) for n in KEYPOINTS)
        self.box = (0, 0, 1, 1)
        self.score = 0.9

    def keypoint(self, name):
        from tools.vision.pose import KEYPOINTS

        return self.keypoints[KEYPOINTS.index(name)]


def standing(dx=0.0):
    return FakePose({"left_shoulder": (90 + dx, 100), "right_shoulder": (110 + dx, 100), "left_hip": (92 + dx, 160),
                     "right_hip": (108 + dx, 160), "left_knee": (92 + dx, 210), "right_knee": (108 + dx, 210),
                     "left_ankle": (92 + dx, 260), "right_ankle": (108 + dx, 260), "left_wrist": (85 + dx, 170),
                     "right_wrist": (115 + dx, 170)})


def seated():
    return FakePose({"left_shoulder": (90, 100), "right_shoulder": (110, 100), "left_hip": (92, 160),
                     "right_hip": (108, 160), "left_knee": (140, 165), "right_knee": (150, 166),
                     "left_ankle": (142, 215), "right_ankle": (152, 216)})


def test_postures_from_keypoints():
    from tools.people import posture

    assert posture(standing()) == "standing"
    assert posture(seated()) == "sitting"
    raised = standing()
    raised.keypoints = tuple(KP(k.name, k.x, 60 if k.name.endswith("wrist") else k.y, k.score)
                             for k in raised.keypoints)
    assert posture(raised) == "arms raised, standing"


def test_a_small_person_crossing_slowly_in_frame_widths_walks_in_body_heights():
    import numpy as np

    from tools.people import describe_person

    images = [np.zeros((720, 1280, 3), np.uint8)] * 4
    # 20% of the frame's width in 3 s (0.07 widths/s: "still" in frame terms) for a person 0.2 frames tall
    boxes = [[0.40 + 0.066 * k, 0.5, 0.43 + 0.066 * k, 0.7] for k in range(4)]
    poses = {k: [standing(dx=0.0)] for k in range(4)}
    for k in range(4):  # keypoints follow the box
        x0 = boxes[k][0] * 1280
        poses[k] = [FakePose({n: (x0 + (x - 85) * 0.3, 360 + (y - 100) * 0.8) for n, (x, y) in
                              {"left_shoulder": (90, 100), "right_shoulder": (110, 100), "left_hip": (92, 160),
                               "right_hip": (108, 160), "left_knee": (92, 210), "right_knee": (108, 210),
                               "left_ankle": (92, 260), "right_ankle": (108, 260)}.items()})]
    person = describe_person(boxes, images, [0.0, 1.0, 2.0, 3.0], lambda k: poses[k])
    assert person.action == "walks" and person.posture == "standing"
    still = describe_person([boxes[0]] * 4, images, [0.0, 1.0, 2.0, 3.0], lambda k: poses[0])
    assert still.action == "stands"


def test_a_person_over_a_bicycle_rides_it():
    import numpy as np

    from tools.people import describe_person

    images = [np.zeros((360, 640, 3), np.uint8)] * 3
    boxes = [[0.3, 0.2, 0.5, 0.9]] * 3
    bikes = [[((0.28, 0.55, 0.55, 0.95), "bicycle")]] * 3
    person = describe_person(boxes, images, [0.0, 0.5, 1.0], lambda k: [], bikes)
    assert person.action == "rides a bicycle"


# -- class evidence: binding or advice ------------------------------------------------------------
def test_an_unsure_class_is_advice_and_a_sure_one_binds(tmp_path):
    from agent.core.caption import parse_caption
    from agent.core.checks import instances_match

    models_present()
    record = caption_video(real_clip("bigbuckbunny.mp4"), Settings(runs_dir=tmp_path / "runs"))
    caption = json.loads(json.dumps(record.caption))
    first = caption["Structural Description"]["Main Instance"]["No.0"]
    first["Class"] = "rabbit"  # what a VLM sees in the frames
    assert instances_match(parse_caption(caption), record.evidence) == []
    carphone = caption_video(real_clip("carphone_pristine.mp4"), Settings(runs_dir=tmp_path / "runs"))
    wrong = json.loads(json.dumps(carphone.caption))
    wrong["Structural Description"]["Main Instance"]["No.0"]["Class"] = "dog"
    problems = instances_match(parse_caption(wrong), carphone.evidence)
    assert problems and "a person was detected" in problems[0].message


def test_the_model_is_told_which_classes_are_advice(tmp_path):
    models_present()
    ctx = tool_context(real_clip("bigbuckbunny.mp4"), tmp_path)
    obs = ctx.tools["detect_instances"](ctx)
    first = obs.summary["instances"][0]
    assert first["class_is_advice"] is True and first["guesses"]
