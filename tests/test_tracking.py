"""Foreground without ghosts, and the repair of tracks: cutting jumps, filling gaps by appearance."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from agent.run.media import FrameStore
from agent.testing.synthetic import random_scene, render_clip
from tools.detect.candidates import Candidate, Track
from tools.detect.foreground import components, foreground, neighbours, sort_pixelwise
from tools.detect.repair import cut_jumps, fill_gaps


def test_neighbours_spread_both_ways_and_stay_many_at_the_ends():
    ten_s = np.arange(100) / 10.0
    middle = neighbours(ten_s, 50)
    assert any(n < 50 for n in middle) and any(n > 50 for n in middle)
    assert max(abs(ten_s[n] - 5.0) for n in middle) >= 2.9  # far enough for slow objects
    for j in (0, 99):
        ends = neighbours(ten_s, j)
        assert len(ends) >= 5 and len({n < j for n in ends}) == 1
    three_s = np.arange(30) / 10.0
    assert len(neighbours(three_s, 0)) >= 5 and len(neighbours(three_s, 29)) >= 5
    assert neighbours(np.array([0.0]), 0) == []


@pytest.mark.parametrize("where", ["start", "end"])
def test_a_slow_object_leaves_no_ghost_at_the_clip_ends(where, tmp_path):
    """A square moving a third of its width per second: the frames on one side of the first and last
    sample show it over the pixels it is about to cross (or has just left)."""
    spec = random_scene(5, "static", n_objects=1, shapes=("square",), noise=0.0, duration_s=3.0)
    spec = replace(spec, objects=[replace(spec.objects[0], start=(0.3, 0.5), end=(0.55, 0.5), size=0.18)])
    truth = render_clip(spec, tmp_path / "slow.mp4")
    store = FrameStore(tmp_path / "slow.mp4")
    motion = store.motion
    j = 0 if where == "start" else len(motion.frames) - 1
    acc = [np.eye(3)] * len(motion.frames)  # the camera does not move
    found = components(foreground(motion.frames, motion.times, acc, j), motion.frames[j])
    assert len(found) == 1
    want = truth.objects[0].start_xy if where == "start" else truth.objects[0].end_xy
    assert np.hypot(found[0].centre[0] - want[0], found[0].centre[1] - want[1]) < 0.02


def blob(cx, cy, shape=(90, 160), r=8, area=None):
    h, w = shape
    mask = np.zeros(shape, bool)
    mask[int(cy * h) - r:int(cy * h) + r, int(cx * w) - r:int(cx * w) + r] = True
    ys, xs = np.nonzero(mask)
    box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
    return Candidate(box, mask, area if area is not None else float(mask.mean()), np.zeros(3), "motion")


def test_a_switch_to_another_object_is_cut_and_smooth_motion_kept():
    track = Track({k: blob(0.2 + 0.08 * k, 0.5) for k in range(7)})
    track.items[7] = blob(0.5, 0.15)  # the linker jumped to something else in the last sample
    assert cut_jumps(track) == [7]
    assert sorted(track.items) == list(range(7))
    turning = Track({k: blob(0.2 + 0.08 * min(k, 7 - k), 0.5) for k in range(8)})  # out and back
    assert cut_jumps(turning) == []


def test_small_fragments_do_not_outvote_the_instance():
    """A still person seen whole in most samples and as two small stray fragments in two."""
    track = Track({k: blob(0.5, 0.5, r=20) for k in (0, 1, 2, 3, 4, 7)})
    track.items[5] = blob(0.3, 0.8, r=4)
    track.items[6] = blob(0.45, 0.85, r=4)
    assert sorted(cut_jumps(track)) == [5, 6]
    assert 7 in track.items


def test_a_missed_sample_is_filled_where_the_object_is():
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8), (0, 0), 2)
    frames, xs = [], [0.2, 0.3, 0.4, 0.5]
    for x in xs:
        f = background.copy()
        cx, cy = int(x * 160), 45
        cv2.rectangle(f, (cx - 8, cy - 8), (cx + 7, cy + 7), (40, 200, 240), -1)
        cv2.rectangle(f, (cx - 8, cy + 3), (cx + 7, cy + 7), (20, 120, 160), -1)
        frames.append(f)
    track = Track({k: blob(x, 0.5) for k, x in enumerate(xs) if k != 2})
    assert fill_gaps(track, frames, {}) == [2]
    assert abs(track.items[2].centre[0] - 0.4) < 0.02 and abs(track.items[2].centre[1] - 0.5) < 0.02
    # the same gap is left open where another instance already stands
    track = Track({k: blob(x, 0.5) for k, x in enumerate(xs) if k != 2})
    assert fill_gaps(track, frames, {2: [blob(0.4, 0.5).box]}) == []
    # and where the object is gone
    gone = [f if k != 2 else background.copy() for k, f in enumerate(frames)]
    track = Track({k: blob(x, 0.5) for k, x in enumerate(xs) if k != 2})
    assert fill_gaps(track, gone, {}) == []


def test_pixelwise_sort_orders_every_value_like_numpy():
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 8, 9):
        images = [rng.integers(0, 256, (7, 11, 3), dtype=np.uint8) for _ in range(n)]
        assert np.array_equal(np.stack(sort_pixelwise(images)), np.sort(np.stack(images), axis=0))
