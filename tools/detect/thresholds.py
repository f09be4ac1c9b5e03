"""The named thresholds of classical and packaged detection, in one settings model.

Every number the detector was tuned on lives here with the measurement that set it, so a benchmark
can sweep one (``benchmarks/accuracy.py --threshold colour_gate=0.4``) without editing code::

    with overridden(colour_gate=0.4):
        detect_classical(ctx, 3)

The values are process-wide: :func:`overridden` is for benchmarks and experiments, not for runs
that share a process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict, Field


class DetectionThresholds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # foreground (tools/detect/foreground.py)
    neighbour_offsets_s: tuple[float, ...] = Field(
        (0.6, 1.2, 2.0, 3.0, 4.0),
        description="frames compared with each sampled frame, as time offsets taken both ways where the clip has them")
    extra_offsets_s: tuple[float, ...] = Field(
        (0.9, 1.6, 2.5, 0.3), description="in-between offsets, used when too few of the above fit in the clip")
    neighbours: int = Field(9, ge=1, description="frames in one background median, where the clip has them")
    min_area: float = Field(0.002, ge=0, description="smallest foreground component, as a share of the frame")

    # the people cascades (tools/detect/people_finder.py)
    cascade_step: float = Field(
        1.1, gt=1, description="scale step of the Haar cascades; 1.2 takes 0.6x the time but loses the people "
        "in bikes.mp4")
    cascade_size: int = Field(
        360, gt=0, description="long side of the frame the Haar cascades search (480 took 1.8x the time, same people)")
    hog_size: int = Field(480, gt=0, description="long side of the frame the whole-body HOG searches")
    min_face: float = Field(1 / 14, gt=0, description="smallest frontal face searched for, as a share of the "
                            "frame's height")
    min_profile_face: float = Field(
        1 / 7, gt=0, description="profile faces (the costliest cascade): close views only, on a few frames")
    max_face: float = Field(
        0.7, gt=0, description="larger 'faces' are hits on texture at the coarsest scales (bikes.mp4's wheel "
        "close-up: 0.81)")
    face_neighbours: int = Field(6, ge=0, description="overlapping hits a face needs; fewer lets textures pass "
                                 "as faces")
    body_neighbours: int = Field(4, ge=0, description="overlapping hits an upper body needs")

    # linking and repairing tracks (tools/detect/tracking.py, tools/detect/repair.py)
    colour_gate: float = Field(
        0.6, ge=0, description="most colour change (CIELAB distance / 100) a track accepts; 0.4 measured worse "
        "(80.1% cells)")
    jump: float = Field(
        0.5, gt=0, description="a sighting further than this many object sizes (+ jump_slack) from the track's "
        "motion is cut")
    jump_slack: float = Field(0.03, ge=0, description="added to the jump distance, in frame widths")
    match_score: float = Field(0.75, description="least normalised correlation for an appearance match filling "
                               "a gap")

    # choosing the instances (tools/detect/selection.py, packaged tier)
    unnamed_seen: float = Field(
        0.6, ge=0, le=1, description="share of its shot's samples an unnamed track needs beside named ones")
    steady_size: float = Field(
        0.8, ge=0, description="most variation (std / mean) of an unnamed instance's area over its sightings")


_active = DetectionThresholds()


def thresholds() -> DetectionThresholds:
    """The thresholds detection uses now."""
    return _active


@contextmanager
def overridden(**values) -> Iterator[DetectionThresholds]:
    """Detection with some thresholds changed (validated by :class:`DetectionThresholds`), restored after."""
    global _active
    before = _active
    _active = DetectionThresholds.model_validate({**before.model_dump(), **values})
    try:
        yield _active
    finally:
        _active = before
