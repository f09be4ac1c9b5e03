"""The run's frame store: each needed frame of a clip decoded exactly once, in one streaming pass.

Memory does not grow with the clip's length. The pass knows no tool: the tools' frame feeds
(:class:`agent.core.feeds.FrameFeed`, attached by the run context) are fed during it, each with every
frame downscaled (the shot finder) or with the low-resolution motion stream at a fixed rate, 10 fps
(the camera's pair fits), and what each returns is kept under its name. The store keeps, for the
whole run:

* the uniformly sampled frames at full resolution (InstanceCap samples 8),
* the motion stream's frames within ``KEEP_AROUND_S`` of each sample (detection builds each
  sample's background from them) and ``OVERVIEW_FRAMES`` spread over the clip; in a clip up to
  about a minute long that is every motion frame,
* the times of every motion frame, and what each feed returned (:meth:`FrameStore.streamed`).

Frames are returned upright (the container's display rotation is applied) as BGR ``uint8`` arrays.
"""

from __future__ import annotations

import math
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable
from pathlib import Path

import av
import cv2
import numpy as np

from agent.core.errors import InputError
from agent.run.media.motion import KEEP_AROUND_S, OVERVIEW_FRAMES, MotionFrames, MotionStream
from agent.run.media.probe import VideoInfo, ffmpeg_reason, open_video, out_of_memory, probe


@dataclass
class Frame:
    index: int  # position among the decoded frames
    time_s: float  # presentation time from the start of the clip
    image: np.ndarray  # BGR uint8, upright


def rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    k = (round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def shrink(frame, width: int, height: int) -> np.ndarray:
    """A decoded frame as a small BGR array.

    For 4:2:0 video (nearly all of it) each plane is shrunk by area averaging first and only the
    small picture is converted to BGR: a fifth of the cost of swscale's scale-and-convert, which
    is what the motion stream otherwise spends most of its time on.
    """
    w, h = frame.width, frame.height
    if frame.format.name != "yuv420p" or w % 2 or h % 2 or width % 2 or height % 2:
        return frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
    planes = frame.to_ndarray()  # (h * 3 / 2, w): Y, then U and V at half size each
    y = cv2.resize(planes[:h], (width, height), interpolation=cv2.INTER_AREA)
    uv = planes[h:].reshape(2, h // 2, w // 2)
    u = cv2.resize(uv[0], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    v = cv2.resize(uv[1], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


def coded_size(info: VideoInfo) -> tuple[int, int, bool]:
    """The frames' size as decoded (before the display rotation), and whether rotation swaps it."""
    swapped = (round(info.rotation / 90.0)) % 2 == 1
    coded_w, coded_h = (info.height, info.width) if swapped else (info.width, info.height)
    return coded_w, coded_h, swapped


def shrunk_size(coded_w: int, coded_h: int, long_side: int) -> tuple[int, int]:
    """An even size with the long side at most ``long_side`` (never enlarged)."""
    longest = max(coded_w, coded_h)
    scale = min(1.0, long_side / longest) if longest else 1.0
    return max(2, int(round(coded_w * scale / 2)) * 2), max(2, int(round(coded_h * scale / 2)) * 2)


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


@dataclass
class FrameStore:
    """Decode-once access to a clip's frames for every tool of one run."""

    path: Path
    samples: int = 8
    motion_fps: float = 10.0
    motion_width: int = 320
    on_progress: "Callable[[int, int], None] | None" = None  # (frames decoded, frames expected)
    feeds: list = field(default_factory=list)  # FrameFeed: consumers fed during the decode pass
    info: VideoInfo = field(init=False)
    passes: int = field(init=False, default=0)  # decode passes run (a feed attached late costs one more)
    _stats: DecodeStats = field(init=False, default_factory=DecodeStats)
    _sampled: list[Frame] | None = field(init=False, default=None, repr=False)
    _motion: MotionStream | None = field(init=False, default=None, repr=False)
    _streamed: dict[str, Any] = field(init=False, default_factory=dict, repr=False)
    _span: float = field(init=False, default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.info = probe(self.path)

    # -- public --------------------------------------------------------------------------
    @property
    def sampled(self) -> list[Frame]:
        """The uniformly sampled frames at full resolution (decoded on first use)."""
        if self._sampled is None:
            self._decode()
        return self._sampled  # type: ignore[return-value]

    @property
    def motion(self) -> MotionStream:
        if self._motion is None:
            self._decode()
        return self._motion  # type: ignore[return-value]

    def attach(self, feeds) -> None:
        """Frame feeds to feed in the decode pass (one per name)."""
        known = {f.name for f in self.feeds}
        for feed in feeds:
            if feed.name not in known:
                self.feeds.append(feed)
                known.add(feed.name)

    def streamed(self, feed) -> Any:
        """What ``feed``'s consumer returned at the end of the decode pass. A feed attached after the pass
        (nobody declared it before the frames were read) gets a pass of its own."""
        if feed.name not in self._streamed:
            self.attach([feed])
            if self._motion is None:
                self._decode()
            else:
                stats = self._stats
                self._streamed.update(self._decode_pass(self._span, [feed])[2])
                self._stats = stats
                self.passes += 1
        return self._streamed[feed.name]

    @property
    def stats(self) -> DecodeStats:
        """Facts learned while decoding (frame count, real frame rate, VFR, warnings)."""
        if self._motion is None:
            self._decode()
        return self._stats

    @property
    def sample_times(self) -> list[float]:
        return [round(f.time_s, 2) for f in self.sampled]

    @property
    def duration_s(self) -> float:
        self.motion  # noqa: B018 - make sure we decoded
        if self.stats.frames_in_stream <= 1:
            return self.info.duration_s
        step = 1.0 / self.stats.mean_fps if self.stats.mean_fps else 0.0
        return round(self._stats.last_time_s - self._stats.first_time_s + step, 3)

    def temporal_metadata(self) -> str:
        """InstanceCap's temporal prompt prefix: the clip's length and when the frames were taken."""
        times = ", ".join(f"{t:.2f}s" for t in self.sample_times)
        n = len(self.sampled)
        return (
            f"The video lasts {self.duration_s:.2f} seconds. {n} frame{'s' if n != 1 else ''} "
            f"were sampled uniformly at {times}."
        )

    # -- decoding ------------------------------------------------------------------------
    def _targets(self, start: float, span: float) -> np.ndarray:
        n = max(1, self.samples)
        return start + np.linspace(0.0, max(span, 0.0), n)

    def _decode(self) -> None:
        import time

        t0 = time.perf_counter()
        info = self.info
        expected_span = max(info.duration_s - (1.0 / info.fps if info.fps else 0.0), 0.0)
        self._span = expected_span
        result = self._decode_pass(expected_span, self.feeds)
        self.passes += 1
        actual_span = self._stats.last_time_s - self._stats.first_time_s
        if expected_span > 0 and actual_span < 0.8 * expected_span and self._stats.frames_in_stream > 1:
            # the container promised more than it holds (truncated or mislabelled): sample again
            self._span = actual_span
            result = self._decode_pass(actual_span, self.feeds)
            self.passes += 1
            if not self._stats.warning and not self._stats.timestamp_jumps:  # ends long before it says: not whole
                self._stats.warning = (f"decoding ended early: {self._stats.frames_in_stream} frames, "
                                       f"{actual_span:.1f} s of the {info.duration_s:.1f} s the container declares")
        self._sampled, self._motion, self._streamed = result
        self._stats.decode_s = time.perf_counter() - t0

    def _keep_motion(self, targets: np.ndarray, span: float):
        """Which motion frames to hold: a test on a frame's time, in the order frames arrive."""
        near = np.sort(targets)
        overview = iter(np.linspace(0.0, max(span, 0.0), OVERVIEW_FRAMES)) if span > 0 else iter(())
        state = {"next": next(overview, math.inf)}

        def keep(t: float) -> bool:
            wanted = False
            while t >= state["next"] - 1e-6:
                wanted = True
                state["next"] = next(overview, math.inf)
            k = int(np.searchsorted(near, t))
            close = any(abs(t - near[j]) <= KEEP_AROUND_S for j in (k - 1, k) if 0 <= j < len(near))
            return wanted or close

        return keep

    def _motion_schedule(self, targets: np.ndarray, half_frame: float):
        """When to take motion frames: (time, how early a frame may be) every 1/motion_fps s; the grid
        point nearest each sample moves onto the sample, so every sampled frame is a motion frame too
        (detection's masks are measured on the very frame they describe) at the same rate."""
        step = 1.0 / self.motion_fps
        ordered = np.sort(targets)
        k = 0
        while True:
            g = k * step
            j = int(np.searchsorted(ordered, g))
            near = [ordered[i] for i in (j - 1, j) if 0 <= i < len(ordered) and abs(ordered[i] - g) < step / 2]
            yield (float(near[0]), half_frame) if near else (g, 1e-6)
            k += 1

    def _decoded(self, container, stream, expected: int, packets: list[int]):
        """The stream's frames in decode order; counts its packets in ``packets[0]`` and reports progress."""
        report_every = max(10, expected // 50)
        for packet in container.demux(stream):
            if packet.size:
                packets[0] += 1
                if self.on_progress is not None and packets[0] % report_every == 0:
                    self.on_progress(packets[0], max(expected, packets[0]))
            yield from packet.decode()

    def _decode_pass(self, span: float, feeds: list) -> tuple[list[Frame], MotionStream, dict[str, Any]]:
        """One streaming decode of the clip: the sampled frames, the motion stream, and what each feed's
        consumer returned."""
        info = self.info
        fps = info.fps or 25.0
        coded_w, coded_h, swapped = coded_size(info)
        small_w, small_h = shrunk_size(coded_w, coded_h, self.motion_width)
        feeding = _Feeding(feeds, fps, coded_w, coded_h)
        targets = self._targets(0.0, span)
        taken = _Taken(targets, self._keep_motion(targets, span), self._motion_schedule(targets, 0.5 / fps + 1e-6))
        expected = max(1, info.frame_count or int(round(info.duration_s * fps)))
        stats = DecodeStats()
        def downstream(frame, t: float, index: int, motion: bool) -> None:
            feeding.push_frame(frame, t)
            if motion:
                small = rotate(shrink(frame, small_w, small_h), info.rotation)
                feeding.push_motion(small, t)
                taken.add_motion(small, t, index)

        container = open_video(self.path)
        packets = [0]
        try:
            work = _InOrder(downstream)
            try:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in self._decoded(container, stream, expected, packets):
                    t = taken.time_of(frame, fps, info.fps, stats)
                    work.put(frame, t, taken.index, taken.motion_due(t))
                    taken.index += 1
            except av.error.FFmpegError as e:
                out_of_memory(e)
                stats.warning = f"decoding stopped early after {taken.index} frames ({ffmpeg_reason(e)})"
            finally:
                container.close()
                work.close()
            if self.on_progress is not None:
                self.on_progress(packets[0], packets[0])
            if not taken.times:
                raise InputError(f"{self.path}: video stream holds no decodable frames")
            arr = np.asarray(taken.times)
            _add_timing(stats, arr, info.fps)
            step = 1.0 / stats.mean_fps if stats.mean_fps else 0.0
            streamed = feeding.finish(arr, round(stats.last_time_s - stats.first_time_s + step, 3))
        finally:
            feeding.close()
        self._stats = stats
        out_w, out_h = (small_h, small_w) if swapped else (small_w, small_h)
        motion = MotionStream(np.asarray(taken.motion_times), taken.motion_frames, taken.motion_idx,
                              scale=(small_h if swapped else small_w) / float(info.width or 1), width=out_w, height=out_h)
        return taken.sampled(info.rotation), motion, streamed

    @property
    def frame_count(self) -> int:
        self.motion  # noqa: B018
        return self.stats.frames_in_stream


class _Feeding:
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


class _InOrder:
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


class _Taken:
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
        self.index = 0
        self.start_time: float | None = None
        self.shift = 0.0  # seconds taken out of the timestamps after a jump (a broken or spliced stream)

    def time_of(self, frame, fps: float, container_fps: float, stats: DecodeStats) -> float:
        """The frame's time from the clip's start; the frame is held if it is the nearest to a sample time."""
        t_abs = frame.time if frame.time is not None else self.index / fps
        if self.start_time is None:
            self.start_time = t_abs
        t = t_abs - self.start_time - self.shift
        if self.times and t - self.times[-1] > TIMESTAMP_JUMP_S:  # no frame is held that long: re-time it
            step = _frame_step(self.times, container_fps)
            self.shift += t - self.times[-1] - step
            t = self.times[-1] + step
            stats.timestamp_jumps += 1
        self.times.append(t)
        _keep_nearer(self.best, self.targets, frame, self.index, t)
        return t

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
        frames = _sampled_frames(self.best, rotation)
        self.best.clear()
        return frames


def _keep_nearer(best: list[tuple[float, object, int, float]], targets: np.ndarray, frame, index: int,
                 t: float) -> None:
    """Hold the frame for each sample time it is the nearest to so far (``(distance, frame, index, time)``)."""
    for k, target in enumerate(targets):
        d = abs(t - target)
        if d < best[k][0]:
            best[k] = (d, frame, index, t)


def _sampled_frames(best: list[tuple[float, object, int, float]], rotation: int) -> list[Frame]:
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


def _frame_step(times: list[float], fps: float) -> float:
    """The gap to put in place of a jump: the last gap seen, else the container's frame period."""
    if len(times) > 1 and 0 < times[-1] - times[-2] <= TIMESTAMP_JUMP_S:
        return times[-1] - times[-2]
    return 1.0 / fps if 1.0 <= (fps or 0) <= 240.0 else 1.0 / 25.0


def _add_timing(stats: DecodeStats, times: np.ndarray, container_fps: float) -> None:
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

