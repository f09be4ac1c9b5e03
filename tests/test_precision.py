"""Precision first: the camera is measured on textured background only, an instance leaves the frame only
when it is gone from the last samples, a person stands only when the track is still, an instance's colour
comes from its own pixels, and each fact carries how sure it is."""

from __future__ import annotations

import cv2
import numpy as np

from agent.core.evidence import SURE, InstanceTrack, is_sure
from tools.camera import BACKGROUND_MIN, estimate
from tools.camera_background import background_share
from tools.instance_evidence import fill_evidence

RNG = np.random.default_rng(3)
TEXTURE = cv2.GaussianBlur(RNG.integers(0, 255, (400, 600), np.uint8), (5, 5), 0)
PATCH = cv2.GaussianBlur(RNG.integers(0, 255, (90, 70), np.uint8), (3, 3), 0)


def _frames(background: np.ndarray, patch_moves: bool = True, shift_x: int = 0, n: int = 20):
    """Motion frames (320x180): ``background`` (cropped with a ``shift_x`` pan per frame) with a textured
    patch rising over it."""
    out = []
    for i in range(n):
        frame = background[:180, i * shift_x:i * shift_x + 320].copy()
        frame = np.clip(frame.astype(int) + RNG.normal(0, 1.5, frame.shape), 0, 255).astype(np.uint8)
        y = 80 - 3 * i if patch_moves else 60
        frame[max(0, y):y + 90, 130:200] = PATCH[max(0, -y):]
        out.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    return out, np.arange(n) / 10.0


def test_a_thing_moving_on_a_plain_wall_is_no_camera_move():
    frames, times = _frames(np.full((400, 600), 235, np.uint8))
    motion, _ = estimate(frames, times)
    assert motion.label == "unclear"  # the old fit followed the patch and said "tilt down"
    assert motion.primitives == []
    assert is_sure(motion, "label") is False


def test_a_textured_still_background_is_sure_to_be_static():
    frames, times = _frames(TEXTURE)
    motion, _ = estimate(frames, times)
    assert motion.label == "static"
    assert motion.fact_confidence["label"] >= SURE


def test_a_pan_over_texture_is_still_named_and_sure():
    frames, times = _frames(TEXTURE, patch_moves=False, shift_x=4)
    motion, _ = estimate(frames, times)
    assert "pan right" in motion.primitives
    assert motion.fact_confidence["label"] >= SURE


def test_corners_in_an_island_inside_the_frame_are_no_background():
    gray = np.full((180, 320), 235, np.uint8)
    gray[40:140, 100:220] = cv2.resize(PATCH, (120, 100))
    inside = np.array([[x, y] for x in range(105, 215, 10) for y in range(45, 135, 10)], np.float32)
    assert background_share(gray, inside) == 0.0
    everywhere = np.array([[x, y] for x in range(5, 320, 20) for y in range(5, 180, 20)], np.float32)
    textured = cv2.cvtColor(_frames(TEXTURE)[0][0], cv2.COLOR_BGR2GRAY)
    assert background_share(textured, everywhere) >= BACKGROUND_MIN


def _edge_track(seen: list[int], n: int = 8) -> InstanceTrack:
    """A track at the frame's left edge in the samples ``seen``."""
    boxes = [[0.0, 0.3, 0.3, 0.9] if k in seen else None for k in range(n)]
    return InstanceTrack(id="No.0", class_name="person", confidence=0.9, boxes=boxes)


def test_one_missed_last_sample_is_no_exit():
    track = fill_evidence(_edge_track(list(range(7))), [k * 0.5 for k in range(8)])
    assert not track.leaves_frame
    assert track.fact_confidence["leaves_frame"] < SURE


def test_gone_from_the_last_two_samples_leaves_surely():
    track = fill_evidence(_edge_track(list(range(6))), [k * 0.5 for k in range(8)])
    assert track.leaves_frame
    assert track.fact_confidence["leaves_frame"] >= SURE


def test_colour_is_the_things_own_not_what_its_mask_leaks_into():
    """A pale animal beside its dark burrow, with masks that take in part of the burrow."""
    frames, masks = [], []
    for k in range(6):
        img = np.full((240, 320, 3), (40, 120, 60), np.uint8)  # grass
        cv2.circle(img, (120, 150), 70, (25, 25, 25), -1)  # the burrow
        mask = np.zeros((240, 320), bool)
        body = np.zeros((240, 320), np.uint8)
        cv2.ellipse(body, (170 + 4 * k, 120), (45, 70), 0, 0, 360, 1, -1)
        img[body > 0] = (205, 208, 210)  # a pale rabbit
        mask |= body > 0
        leak = np.zeros((240, 320), np.uint8)
        cv2.circle(leak, (120, 150), 60, 1, -1)
        mask |= leak > 0  # the mask leaks into the burrow: more dark pixels than pale ones
        frames.append(img)
        masks.append(mask)
    boxes = [[0.2, 0.1, 0.75, 0.95]] * 6
    track = InstanceTrack(id="No.0", class_name="rabbit", confidence=0.9, boxes=boxes)
    fill_evidence(track, [k * 0.5 for k in range(6)], frames, masks)
    assert track.colours[0] in ("light gray", "white", "silver")
    assert "black" not in track.colours[:1]
    assert track.fact_confidence["colours"] >= SURE


def test_walking_needs_several_agreeing_samples():
    from tools.people import _action_agreement

    heights = [100.0] * 6
    steady = [(50.0 * k, 0.0, float(k)) for k in range(6)]  # half a body height per second, every step
    assert _action_agreement("walks", steady, heights, [], 0, 6, []) >= SURE
    one_jump = [(0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, 2.0), (250.0, 0.0, 3.0)]
    assert _action_agreement("walks", one_jump, heights[:4], [], 0, 4, []) < SURE


def test_a_colour_that_cannot_be_told_from_what_the_mask_took_in_is_unsure():
    """A thin dark bicycle frame against a pale wall, its mask a rough box mostly of wall."""
    frames, masks = [], []
    for _ in range(3):
        img = np.full((240, 320, 3), 200, np.uint8)
        cv2.line(img, (100, 200), (200, 60), (20, 20, 20), 3)
        cv2.line(img, (100, 200), (220, 200), (20, 20, 20), 3)
        mask = np.zeros((240, 320), bool)
        mask[50:210, 90:230] = True
        frames.append(img)
        masks.append(mask)
    track = InstanceTrack(id="No.0", class_name="bicycle", confidence=0.9, boxes=[[0.28, 0.2, 0.72, 0.88]] * 3)
    fill_evidence(track, [0.0, 0.5, 1.0], frames, masks)
    assert track.fact_confidence["colours"] < SURE


def test_staying_in_place_is_unsure_for_a_thing_that_shifted_by_small_steps():
    """The rabbit rising out of its burrow: small steps that add up to half the distance that counts as moving."""
    boxes = [[0.30 + 0.008 * k, 0.3, 0.50 + 0.008 * k, 0.8] for k in range(8)]
    track = fill_evidence(InstanceTrack(id="No.0", class_name="animal", confidence=0.9, boxes=boxes),
                          [0.7 * k for k in range(8)])
    assert track.direction is None
    assert track.fact_confidence["direction"] < SURE
    still = fill_evidence(InstanceTrack(id="No.1", class_name="animal", confidence=0.9, boxes=[[0.3, 0.3, 0.5, 0.8]] * 8),
                          [0.7 * k for k in range(8)])
    assert still.fact_confidence["direction"] >= SURE


def test_a_subject_swaying_back_and_forth_has_no_sure_direction():
    """The man talking in the car: his box and mask swing left and right, down and up, and the last
    sample lies left of the first; a walker's steady path is a sure direction."""
    xs = [0.63, 0.56, 0.60, 0.48, 0.62, 0.51, 0.31]
    ys = [0.46, 0.42, 0.81, 0.50, 0.81, 0.59, 0.49]
    swaying = [[x - 0.3, y - 0.4, x + 0.3, min(1.0, y + 0.4)] for x, y in zip(xs, ys)]
    track = fill_evidence(InstanceTrack(id="No.0", class_name="person", confidence=0.9, boxes=swaying),
                          [0.7 * k for k in range(7)])
    assert track.direction is not None and track.fact_confidence["direction"] < SURE
    walking = [[0.1 + 0.08 * k, 0.3, 0.2 + 0.08 * k, 0.8] for k in range(7)]
    walker = fill_evidence(InstanceTrack(id="No.1", class_name="person", confidence=0.9, boxes=walking),
                           [0.7 * k for k in range(7)])
    assert walker.direction == "right" and walker.fact_confidence["direction"] >= SURE


def test_a_colour_seen_in_few_frames_is_what_the_mask_took_in_there():
    """A pale rabbit whose mask holds the dark burrow in the first samples only."""
    from tools.colors import steady_colours

    pale, dark = np.full((400, 3), 200, np.uint8), np.full((400, 3), 10, np.uint8)
    frames = [np.concatenate([pale, dark])] * 3 + [pale] * 5
    names, agreement = steady_colours(frames)
    assert names[0] in ("light gray", "white") and "black" not in names and agreement == 1.0


def test_a_moving_person_ranks_before_a_larger_parked_car_at_the_edge():
    from types import SimpleNamespace

    from tools.detect.candidates import Candidate, Track
    from tools.detect.selection import rank

    def sighting(box, source, label, score, person=0):
        area = (box[2] - box[0]) * (box[3] - box[1])
        return Candidate(box, None, area, np.zeros(3), source, person_votes=person, labels={label: score})

    car = Track({k: sighting((0.0, 0.5, 0.35, 1.0), "nanodet", "car", 0.7) for k in range(8)})
    person = Track({k: sighting((0.4 + 0.02 * k, 0.4, 0.5 + 0.02 * k, 0.8), "motion", "person", 0.6, 1)
                    for k in range(8)})
    recogniser = SimpleNamespace(names_still=lambda labels: True)
    ranked = rank([car, person], 8, [0] * 8, {0, 4, 7}, recogniser)
    assert ranked[0] is person  # the old score put the car, three times the area, first
    moving_car = Track({k: sighting((0.0 + 0.05 * k, 0.5, 0.35 + 0.05 * k, 1.0), "motion", "car", 0.7)
                        for k in range(8)})
    assert rank([moving_car, person], 8, [0] * 8, {0, 4, 7}, recogniser)[0] is moving_car


def test_a_position_seen_in_one_sample_of_several_is_not_said():
    """bikes.mp4: a person seen in one of eight samples was "at the center" of a clip of six shots."""
    from agent.core import sureness
    from agent.core.composer import say_only_sure
    from agent.core.config import Settings
    from agent.core.evidence import Evidence, Instances
    from agent.core.wording import position_sentence
    from agent.run.plugins import load_plugins

    times = [k * 1.4 for k in range(8)]
    once = fill_evidence(_edge_track([3]), times)
    always = fill_evidence(InstanceTrack(id="No.1", class_name="person", confidence=0.9,
                                         boxes=[[0.4, 0.3, 0.6, 0.9]] * 8), times)
    ratings = sureness.rate(Evidence({"detect_instances": Instances(backend="packaged", instances=[once, always]).model_dump()},
                                     load_plugins().evidence_models(Settings())))
    assert once.start_cell is not None  # measured, on one sample
    assert position_sentence(say_only_sure(once, ratings["No.0"])) == "The person's position is not measured clearly."
    assert position_sentence(say_only_sure(always, ratings["No.1"])) == "The person stays at the center."
