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
from dataclasses import dataclass, field
from typing import Any, Callable
from pathlib import Path

import av
import numpy as np

from agent.core.errors import InputError
from agent.run.media.decode_pass import DecodeStats, Feeding, InOrder, Taken, add_timing
from agent.run.media.images import Frame, coded_size, rotate, shrink, shrunk_size
from agent.run.media.motion import KEEP_AROUND_S, OVERVIEW_FRAMES, MotionStream
from agent.run.media.probe import VideoInfo, ffmpeg_reason, open_video, out_of_memory, probe


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
        feeding = Feeding(feeds, fps, coded_w, coded_h)
        targets = self._targets(0.0, span)
        taken = Taken(targets, self._keep_motion(targets, span), self._motion_schedule(targets, 0.5 / fps + 1e-6))
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
            work = InOrder(downstream)
            try:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in self._decoded(container, stream, expected, packets):
                    t, index = taken.arrive(frame, fps, info.fps, stats)
                    work.put(frame, t, index, taken.motion_due(t))
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
            add_timing(stats, arr, info.fps)
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
