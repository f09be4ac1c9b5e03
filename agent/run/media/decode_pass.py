"""What one decode pass keeps and does as the frames go by: the frames' times, the frames nearest the
sample times, the motion stream, the frame feeds, and the per-frame work that runs beside the decoder."""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from agent.run.media.images import Frame, rotate, shrink, shrunk_size
from agent.run.media.motion import MotionFrames


@dataclass
class DecodeStats:
    frames_in_stream: int = 0  # every frame
    frames_decoded: int = 0  # the ones decoded: all of them (the shot finder sees every frame)
    first_time_s: float = 0.0
    last_time_s: float = 0.0
    mean_fps: float = 0.0
    variable_frame_rate: bool = False
    warning: str | None = None
    decode_s: float = 0.0
    timestamp_jumps: int = 0  # jumps in the timestamps taken out (the frames re-timed at the frame rate)


class Feeding:
    """The consumers of one decode pass: an every-frame feed gets each frame at its own size (one shrink
    per size), a motion feed each motion frame."""

    def __init__(self, feeds: list, fps: float, coded_w: int, coded_h: int):
        self.every = [(f, f.start(fps), shrunk_size(coded_w, coded_h, f.width)) for f in feeds if f.frames == "every"]
        self.motion = [(f, f.start(fps), None) for f in feeds if f.frames == "motion"]

    def push_frame(self, frame, t: float) -> None:
        shrunk: dict[tuple[int, int], np.ndarray] = {}
        for _, consumer, size in self.every:
            if size not in shrunk:
                shrunk[size] = shrink(frame, *size)
            consumer.push(shrunk[size], t)

    def push_motion(self, small: np.ndarray, t: float) -> None:
        for _, consumer, _ in self.motion:
            consumer.push(small, t)

    def finish(self, times: np.ndarray, duration_s: float) -> dict[str, Any]:
        return {feed.name: consumer.finish(times, duration_s) for feed, consumer, _ in [*self.every, *self.motion]}

    def close(self) -> None:
        """Let each consumer free what it holds (threads), whether the pass ended well or not."""
        for _, consumer, _ in [*self.every, *self.motion]:
            close = getattr(consumer, "close", None)
            if close is not None:
                close()


class InOrder:
    """The pass's per-frame work past the decoder (shrinking, the feeds, the motion frames) on a thread of
    its own, in the order the frames were decoded: the decoder keeps one core busy, this work the other.
    A few frames wait at most (memory stays flat); what the work raises is raised by :meth:`close`."""

    def __init__(self, work: Callable[..., None], waiting: int = 4):
        self._work, self._error = work, None
        self._jobs: queue.Queue = queue.Queue(maxsize=waiting)
        self._thread = threading.Thread(target=self._run, name="decode-pass-work", daemon=True)
        self._thread.start()

    def put(self, *job) -> None:
        if self._error is not None:
            raise self._error
        self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._error is None:  # after a failure the rest is only drained, so put() never blocks for good
                try:
                    self._work(*job)
                except BaseException as e:  # noqa: BLE001 - raised again on the decoding thread
                    self._error = e

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class Taken:
    """What one decode pass keeps as the frames go by: every frame's time (re-timed across a broken
    timestamp), the frame nearest each sample time, and the motion stream."""

    def __init__(self, targets: np.ndarray, keep, schedule):
        self.targets, self.keep, self.schedule = targets, keep, schedule
        self.pick = next(schedule)
        self.best: list[tuple[float, object, int, float]] = [(math.inf, None, -1, 0.0) for _ in targets]
        self.times: list[float] = []
        self.motion_frames = MotionFrames()
        self.motion_times: list[float] = []
        self.motion_idx: list[int] = []
        self.index = 0  # frames arrived so far
        self.start_time: float | None = None
        self.shift = 0.0  # seconds taken out of the timestamps after a jump (a broken or spliced stream)

    def arrive(self, frame, fps: float, container_fps: float, stats: DecodeStats) -> tuple[float, int]:
        """The next decoded frame's time from the clip's start and its index; the frame is held if it is the
        nearest to a sample time."""
        index = self.index
        self.index += 1
        t_abs = frame.time if frame.time is not None else index / fps
        if self.start_time is None:
            self.start_time = t_abs
        t = t_abs - self.start_time - self.shift
        if self.times and t - self.times[-1] > TIMESTAMP_JUMP_S:  # no frame is held that long: re-time it
            step = frame_step(self.times, container_fps)
            self.shift += t - self.times[-1] - step
            t = self.times[-1] + step
            stats.timestamp_jumps += 1
        self.times.append(t)
        keep_nearer(self.best, self.targets, frame, index, t)
        return t, index

    def motion_due(self, t: float) -> bool:
        """Whether the frame at ``t`` is the motion stream's next frame (then the next one is scheduled)."""
        due = t >= self.pick[0] - self.pick[1]
        while t >= self.pick[0] - self.pick[1]:  # (a gap in a variable-rate clip passes several)
            self.pick = next(self.schedule)
        return due

    def add_motion(self, small: np.ndarray, t: float, index: int) -> None:
        self.motion_frames.append(small if self.keep(t) else None)
        self.motion_times.append(t)
        self.motion_idx.append(index)

    def sampled(self, rotation: int) -> list[Frame]:
        frames = sampled_frames(self.best, rotation)
        self.best.clear()
        return frames


def keep_nearer(best: list[tuple[float, object, int, float]], targets: np.ndarray, frame, index: int,
                 t: float) -> None:
    """Hold the frame for each sample time it is the nearest to so far (``(distance, frame, index, time)``)."""
    for k, target in enumerate(targets):
        d = abs(t - target)
        if d < best[k][0]:
            best[k] = (d, frame, index, t)


def sampled_frames(best: list[tuple[float, object, int, float]], rotation: int) -> list[Frame]:
    """The frames nearest each sample time (``(distance, frame, index, time)``), each once, upright."""
    sampled: list[Frame] = []
    seen: set[int] = set()
    for _, frame, idx, t in best:
        if frame is None or idx in seen:
            continue
        seen.add(idx)
        sampled.append(Frame(idx, round(t, 3), rotate(frame.to_ndarray(format="bgr24"), rotation)))
    return sampled


TIMESTAMP_JUMP_S = 600.0  # a gap between two frames longer than this is a broken timestamp, not a held frame


def frame_step(times: list[float], fps: float) -> float:
    """The gap to put in place of a jump: the last gap seen, else the container's frame period."""
    if len(times) > 1 and 0 < times[-1] - times[-2] <= TIMESTAMP_JUMP_S:
        return times[-1] - times[-2]
    return 1.0 / fps if 1.0 <= (fps or 0) <= 240.0 else 1.0 / 25.0


def add_timing(stats: DecodeStats, times: np.ndarray, container_fps: float) -> None:
    """Frame count, first and last times, the real mean frame rate and whether it varies."""
    stats.frames_in_stream = len(times)
    stats.frames_decoded = len(times)
    stats.first_time_s = float(times[0])
    stats.last_time_s = float(times[-1])
    if len(times) > 1:
        gaps = np.diff(times)
        gaps = gaps[gaps > 0]
        if len(gaps):
            stats.mean_fps = float(1.0 / gaps.mean())
            stats.variable_frame_rate = bool(gaps.std() / gaps.mean() > 0.1)
    else:
        stats.mean_fps = container_fps
