"""The shared box and mask geometry, and the detection thresholds a benchmark can sweep."""

import numpy as np
import pytest
from pydantic import ValidationError

from tools.detect.candidates import Candidate, Track
from tools.detect.foreground import neighbours
from tools.detect.repair import cut_jumps
from tools.detect.thresholds import DetectionThresholds, overridden, thresholds
from tools.detect.tracking import link
from tools.geometry import (at_edge, box_ellipse, box_mask, contains, covered_share, crop, iou, iou_many, mask_box,
                            mask_centre, median_box, upsample)


def test_iou_and_containment_of_boxes():
    a, b = (0.0, 0.0, 0.5, 0.5), (0.25, 0.0, 0.75, 0.5)
    assert iou(a, b) == pytest.approx(1 / 3)
    assert iou(a, (0.6, 0.6, 0.9, 0.9)) == 0.0
    assert iou((0.2, 0.2, 0.2, 0.2), (0.2, 0.2, 0.2, 0.2)) == 0.0  # empty boxes share nothing
    small = (0.1, 0.1, 0.2, 0.2)
    assert contains(a, small) and not contains(small, a)
    assert covered_share(a, b) == pytest.approx(0.5)
    assert contains(a, b, 0.5) and not contains(a, b, 0.51)
    assert not contains(a, (0.3, 0.3, 0.3, 0.3))  # an empty box lies in nothing
    many = iou_many(np.array(a), np.array([b, a, (0.6, 0.6, 0.9, 0.9)]))
    assert many == pytest.approx([1 / 3, 1.0, 0.0])


def test_edges_and_median_box():
    assert at_edge((0.01, 0.3, 0.5, 0.6)) and at_edge((0.3, 0.3, 0.99, 0.6))
    assert not at_edge((0.1, 0.1, 0.9, 0.9)) and at_edge((0.1, 0.1, 0.9, 0.9), margin=0.1)
    assert median_box([None, (0.1, 0.2, 0.3, 0.4), (0.3, 0.4, 0.5, 0.6), (0.2, 0.3, 0.4, 0.5)]) == [0.2, 0.3, 0.4, 0.5]
    assert median_box([None, None]) is None


def test_box_to_mask_and_back():
    shape = (100, 200)
    box = (0.25, 0.2, 0.75, 0.6)
    rect = box_mask(shape, box)
    assert rect.shape == shape and rect.sum() == 100 * 40
    assert mask_box(rect) == pytest.approx(box)
    assert mask_centre(rect) == pytest.approx((0.5, 0.4), abs=0.01)
    ellipse = box_ellipse(shape, box)
    assert ellipse[40, 100] and not ellipse[20, 50]  # centre in, corner out
    assert np.pi / 4 * 100 * 40 * 0.95 < ellipse.sum() < rect.sum()
    assert box_mask(shape, (0.5, 0.5, 0.5, 0.5)).sum() == 1  # a point is one pixel, never nothing
    big = upsample(rect[::4, ::4], (100, 200))
    assert big.shape == (100, 200) and abs(int(big.sum()) - int(rect.sum())) <= 200


def test_crop_clips_to_the_frame_and_pads_by_box_size():
    image = np.arange(100 * 200).reshape(100, 200)
    assert crop(image, (0.25, 0.2, 0.75, 0.6), pad=0.0).shape == (40, 100)
    assert crop(image, (0.25, 0.2, 0.75, 0.6), pad=0.1).shape == (48, 120)
    assert crop(image, (-0.2, -0.1, 0.1, 0.1), pad=0.0).shape == (10, 20)  # outside the frame: cut off
    assert crop(image, (0.5, 0.5, 0.5, 0.5), pad=0.0).shape == (1, 1)


def blob(cx, cy, colour, shape=(90, 160), r=8):
    h, w = shape
    mask = np.zeros(shape, bool)
    mask[int(cy * h) - r:int(cy * h) + r, int(cx * w) - r:int(cx * w) + r] = True
    return Candidate(mask_box(mask), mask, float(mask.mean()), np.array(colour, float), "motion")


def test_a_swept_threshold_changes_detection_and_is_restored():
    # a blob that changes colour by 50 CIELAB units halfway: one track under the default gate (0.6)
    per_frame = [[blob(0.2 + 0.05 * k, 0.5, (50, 0, 0) if k < 3 else (100, 0, 0))] for k in range(6)]
    assert len(link(per_frame)) == 1
    with overridden(colour_gate=0.4) as limits:
        assert limits.colour_gate == 0.4 and thresholds().colour_gate == 0.4
        assert len(link(per_frame)) == 2
    assert thresholds().colour_gate == DetectionThresholds().colour_gate
    assert len(link(per_frame)) == 1

    times = np.arange(100) / 10.0
    with overridden(neighbours=3):
        assert len(neighbours(times, 50)) == 3
    assert len(neighbours(times, 50)) == 9

    track = Track({k: blob(0.2 + 0.08 * k, 0.5, (50, 0, 0)) for k in range(7)})
    track.items[7] = blob(0.5, 0.15, (50, 0, 0))
    with overridden(jump=50.0):  # jumps of fifty object sizes are allowed: nothing is cut
        assert cut_jumps(Track(dict(track.items))) == []
    assert cut_jumps(track) == [7]


def test_thresholds_are_validated():
    with pytest.raises(ValidationError):
        with overridden(colour_gate=-1):
            pass
    with pytest.raises(ValidationError):
        with overridden(no_such_threshold=1):
            pass
    assert thresholds() == DetectionThresholds()
