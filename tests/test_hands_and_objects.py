"""Hands are instances: MediaPipe's palm detector confirmed by its hand landmark model, a person detection
that a hand explains is dropped, and what a hand holds is the detected thing its box meets in most samples."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from agent.core.evidence import SURE, InstanceTrack
from tools.recognise.recogniser import HAND, PackagedRecogniser


def _hand_models():
    """Skip unless ai-edge-litert and the two hand models are here."""
    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("ai-edge-litert is not installed (pip install ai-edge-litert==2.3.0)")
    from tools.vision.models import available

    for name in ("palm-detection-full", "hand-landmark-lite"):
        if not available(name):
            pytest.skip(f"{name} is not installed: python scripts/fetch_models.py {name}")


def _asset(name: str) -> np.ndarray:
    import cv2

    spec = importlib.util.find_spec("ultralytics")
    path = Path(spec.origin).parent / "assets" / name if spec and spec.origin else None
    if path is None or not path.is_file():
        pytest.skip(f"ultralytics' {name} (a photograph with a pointing hand) is not installed")
    return cv2.imread(str(path))


def test_the_pointing_hand_is_found_and_nothing_else():
    _hand_models()
    from tools.vision.hands import detect_hands

    hands = detect_hands(_asset("zidane.jpg"))
    assert len(hands) == 1
    x1, y1, x2, y2 = hands[0].box
    assert x1 < 1024 < x2 and y1 < 445 < y2  # the hand pointing at the right, at (1024, 445)
    assert hands[0].presence >= 0.5


def test_no_hand_in_a_frame_without_one():
    _hand_models()
    import cv2

    from tools.vision.hands import detect_hands

    plain = np.full((360, 640, 3), 225, np.uint8)
    textured = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (360, 640, 3), np.uint8), (7, 7), 0)
    assert detect_hands(plain) == [] and detect_hands(textured) == []


def _recogniser() -> PackagedRecogniser:
    r = PackagedRecogniser.__new__(PackagedRecogniser)  # no model files needed for the rules below
    r.threads, r.missing, r._hands_missing, r._poses, r._faces = 1, [], False, {}, {}
    return r


def test_a_person_detection_that_a_hand_explains_is_dropped(monkeypatch):
    from tools.vision import hands as hands_module

    found_hand = hands_module.Hand((100.0, 100.0, 300.0, 300.0), 0.8, 0.9)
    monkeypatch.setattr(hands_module, "detect_hands", lambda image, threads=None: [found_hand])
    image = np.zeros((400, 400, 3), np.uint8)
    person_is_hand = ((0.27, 0.27, 0.73, 0.73), "person", 0.5)  # inside the hand's box
    real_person = ((0.0, 0.0, 1.0, 1.0), "person", 0.6)  # the whole body around it
    r = _recogniser()
    out = r._with_hands(image, [person_is_hand, real_person], r._hands_in(image))
    labels = [label for _, label, _ in out]
    assert labels.count("person") == 1 and real_person in out
    assert labels.count(HAND) == 1


def test_without_the_hand_runtime_nothing_changes_and_the_note_says_why(monkeypatch):
    from tools.vision import hands as hands_module
    from tools.weights import WeightsMissing

    def missing(image, threads=None):
        raise WeightsMissing("palm-detection-full needs the ai-edge-litert package")

    monkeypatch.setattr(hands_module, "detect_hands", missing)
    r = _recogniser()
    found = [((0.1, 0.1, 0.5, 0.9), "person", 0.6)]
    image = np.zeros((10, 10, 3), np.uint8)
    assert r._with_hands(image, found, r._hands_in(image)) == found
    assert r._with_hands(image, found, r._hands_in(image)) == found  # looked for once
    assert len(r.missing) == 1 and "ai-edge-litert" in r.missing[0]


def _hand(n: int = 4) -> InstanceTrack:
    return InstanceTrack(id="No.0", class_name=HAND, confidence=0.9, boxes=[[0.4, 0.4, 0.6, 0.6]] * n)


def test_a_hand_holds_the_thing_its_box_meets_in_most_samples():
    bottle = ((0.5, 0.3, 0.6, 0.7), "bottle", 0.6)
    far_cup = ((0.0, 0.0, 0.1, 0.1), "cup", 0.9)
    track = _hand()
    _recogniser().describe_hand(track, [[bottle, far_cup]] * 3 + [[far_cup]])
    assert track.holds == "bottle"
    assert track.fact_confidence["holds"] >= SURE


def test_a_thing_met_once_is_not_held():
    bottle = ((0.5, 0.3, 0.6, 0.7), "bottle", 0.6)
    track = _hand()
    _recogniser().describe_hand(track, [[bottle], [], [], []])
    assert track.holds is None


def test_the_caption_says_what_a_hand_holds_only_when_sure():
    from agent.core.composer import actions

    track = _hand()
    track.holds, track.fact_confidence["holds"] = "bottle", 0.9
    assert "holding a bottle" in actions(track)
    track.fact_confidence["holds"] = 0.4
    assert "holding" not in actions(track)


def _hand_on_a_wall(path: Path) -> None:
    """3 s of a photographed pointing hand (with its sleeve) rising to the right over a plain pale wall."""
    import av

    patch = _asset("zidane.jpg")[300:590, 880:1165]
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(75):
            frame = np.clip(np.full((360, 640, 3), (222, 226, 230)) + rng.normal(0, 1.0, (360, 640, 3)), 0, 255)
            frame = frame.astype(np.uint8)
            y, x = 60 - i, 150 + 2 * i
            frame[max(0, y):y + 290, x:x + 285] = patch[max(0, -y):min(290, 360 - y)]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_a_hand_moving_on_a_plain_wall_is_a_hand_and_no_camera_move(tmp_path):
    _hand_models()
    from agent.core.config import Settings
    from agent.core.evidence import instances_of
    from agent.run.context import RunContext
    from agent.run.media import FrameStore
    from agent.run.plugins import load_plugins
    from tools.vision.models import available

    if not available("nanodet"):
        pytest.skip("nanodet is not installed: python scripts/fetch_models.py")
    clip = tmp_path / "hand.mp4"
    _hand_on_a_wall(clip)
    settings = Settings(runs_dir=tmp_path / "runs", backend="packaged")
    tools = {t.name: t for t in load_plugins().tools(settings)}
    ctx = RunContext(FrameStore(clip), settings, settings.runs_dir / "hand", tools=tools).measuring()
    camera = tools["estimate_camera_motion"](ctx).evidence
    assert camera.primitives == []  # it read "pan left and tilt down": the hand's own motion
    tools["detect_instances"](ctx)
    found = instances_of(ctx.evidence)
    assert [i.class_name for i in found] == ["hand"]
    assert found[0].direction == "up and to the right"
