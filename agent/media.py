"""Reading video: probing metadata and decoding each needed frame exactly once per run.

``probe`` answers "is this a video we can read, and what is it?" with one clear error when not.
``FrameStore`` decodes the clip in a single pass and keeps two things for the whole run:

* the uniformly sampled frames at full resolution (InstanceCap samples 8), and
* a low-resolution stream at a fixed rate for motion analysis.

Frames are returned upright (the container's display rotation is applied) as BGR ``uint8`` arrays.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    file_name: str
    size_bytes: int
    container: str
    codec: str
    width: int  # as displayed (after rotation)
    height: int
    rotation: int  # degrees counterclockwise applied to decoded frames to display them
    fps: float
    frame_count: int  # from the container; exact after decoding (see FrameStore.frame_count)
    duration_s: float
    has_audio: bool
    audio_codec: str | None
    pixel_format: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Frame:
    index: int  # position among the decoded frames
    time_s: float  # presentation time from the start of the clip
    image: np.ndarray  # BGR uint8, upright


@dataclass
class MotionStream:
    times: np.ndarray  # seconds, increasing
    frames: list[np.ndarray]  # BGR uint8 at low resolution
    indices: list[int]  # index of each frame among the decoded frames
    scale: float  # low-res pixels per full-res pixel

    def nearest(self, t: float) -> int:
        return int(np.argmin(np.abs(self.times - t))) if len(self.times) else -1


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    k = (round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _shrink(frame, width: int, height: int) -> np.ndarray:
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


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")


def _open(path: Path):
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise InputError(f"{path}: not a readable video ({_ffmpeg_reason(e)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    fmt = container.format.name
    if (fmt.endswith("_pipe") and fmt != "gif_pipe") or fmt == "image2":  # a still image FFmpeg also opens
        kind = container.streams.video[0].codec_context.name.upper()
        container.close()
        raise InputError(f"{path}: is a still image ({kind}), not a video; caption a video clip")
    return container


def _ffmpeg_reason(e: Exception) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return text.split(":")[0].strip().rstrip(".").lower() if text else type(e).__name__


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes (first 16 hex digits), to key runs and caches."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def probe(path: str | Path) -> VideoInfo:
    """Metadata of a video; raises :class:`InputError` with one line when it cannot be read."""
    path = Path(path)
    _check_path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except av.error.FFmpegError as e:
            raise InputError(f"{path}: video data cannot be decoded ({_ffmpeg_reason(e)})") from None
        if first is None:
            raise InputError(f"{path}: video stream holds no decodable frames (truncated?)")
        rotation = int(round(getattr(first, "rotation", 0) or 0))
        coded_w, coded_h = first.width, first.height
        if (round(rotation / 90.0)) % 2:
            width, height = coded_h, coded_w
        else:
            width, height = coded_w, coded_h
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frame_count = int(stream.frames or 0)
        if frame_count <= 0 and fps > 0 and duration > 0:
            frame_count = int(round(duration * fps))
        audio = container.streams.audio
        return VideoInfo(
            path=str(path),
            file_name=path.name,
            size_bytes=path.stat().st_size,
            container=container.format.name.split(",")[0],
            codec=stream.codec_context.name,
            width=width,
            height=height,
            rotation=rotation,
            fps=round(fps, 3),
            frame_count=frame_count,
            duration_s=round(duration, 3),
            has_audio=bool(audio),
            audio_codec=audio[0].codec_context.name if audio else None,
            pixel_format=first.format.name if first.format else None,
        )
    finally:
        container.close()


# Codecs whose non-reference frames (most B-frames) can be left undecoded: the motion stream (10
# frames a second) and eight samples never need all of a 24-60 fps clip, and decoding the frames
# they need costs only what the frames they depend on cost. Timing and counts come from packets.
SKIPPABLE_CODECS = {"h264", "hevc", "mpeg2video", "mpeg4"}


@dataclass
class DecodeStats:
    frames_in_stream: int = 0  # every frame, decoded or skipped
    frames_decoded: int = 0  # the ones decoded (frames no sample or motion frame needs are skipped)
    first_time_s: float = 0.0
    last_time_s: float = 0.0
    mean_fps: float = 0.0
    variable_frame_rate: bool = False
    warning: str | None = None
    decode_s: float = 0.0


@dataclass
class FrameStore:
    """Decode-once access to a clip's frames for every tool of one run."""

    path: Path
    samples: int = 8
    motion_fps: float = 10.0
    motion_width: int = 320
    on_progress: "Callable[[int, int], None] | None" = None  # (frames decoded, frames expected)
    info: VideoInfo = field(init=False)
    _stats: DecodeStats = field(init=False, default_factory=DecodeStats)
    _sampled: list[Frame] | None = field(init=False, default=None)
    _motion: MotionStream | None = field(init=False, default=None)

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
        result = self._decode_pass(expected_span)
        actual_span = self._stats.last_time_s - self._stats.first_time_s
        if expected_span > 0 and actual_span < 0.8 * expected_span and self._stats.frames_in_stream > 1:
            # the container promised more than it holds (truncated or mislabelled): sample again
            result = self._decode_pass(actual_span)
        self._sampled, self._motion = result
        self._stats.decode_s = time.perf_counter() - t0

    def _decode_pass(self, span: float) -> tuple[list[Frame], MotionStream]:
        info = self.info
        rotation = info.rotation
        swapped = (round(rotation / 90.0)) % 2 == 1
        coded_w, coded_h = (info.height, info.width) if swapped else (info.width, info.height)
        long_side = max(coded_w, coded_h)
        scale = min(1.0, self.motion_width / long_side) if long_side else 1.0
        small_w = max(2, int(round(coded_w * scale / 2)) * 2)
        small_h = max(2, int(round(coded_h * scale / 2)) * 2)

        stats = DecodeStats()
        best: list[tuple[float, object, int, float]] = []  # (distance, frame, index, time)
        motion_frames: list[np.ndarray] = []
        motion_times: list[float] = []
        motion_idx: list[int] = []
        times: list[float] = []
        next_motion = -math.inf
        motion_step = 1.0 / self.motion_fps

        expected = max(1, info.frame_count or int(round(info.duration_s * (info.fps or 25.0))))
        report_every = max(10, expected // 50)
        container = _open(self.path)
        stamps: list[float] = []  # presentation time of every frame in the stream, from its packet
        unstamped = 0  # frames whose packet carries no time
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            skipping = stream.codec_context.name in SKIPPABLE_CODECS
            targets = self._targets(0.0, span)
            near_s = 1.5 / (info.fps or 25.0)
            time_base = stream.time_base
            start_time = None
            index = 0
            try:
                for packet in container.demux(stream):
                    if packet.size:
                        if packet.pts is not None and time_base is not None:
                            stamps.append(float(packet.pts * time_base))
                            if skipping:  # a frame near a sample's time is decoded whatever its kind
                                near = np.abs(stamps[-1] - stamps[0] - targets).min() <= near_s
                                mode = "DEFAULT" if near else "NONREF"
                                if mode != stream.codec_context.skip_frame:
                                    stream.codec_context.skip_frame = mode
                        else:
                            unstamped += 1
                            if skipping and not stamps:  # no times to count skipped frames by: decode all
                                stream.codec_context.skip_frame = "DEFAULT"
                                skipping = False
                        packets = len(stamps) + unstamped
                        if self.on_progress is not None and packets % report_every == 0:
                            self.on_progress(packets, max(expected, packets))
                    for frame in packet.decode():
                        t_abs = frame.time if frame.time is not None else index / (info.fps or 25.0)
                        if start_time is None:
                            start_time = t_abs
                            best = [(math.inf, None, -1, 0.0) for _ in targets]
                        t = t_abs - start_time
                        times.append(t)
                        for k, target in enumerate(targets):
                            d = abs(t - target)
                            if d < best[k][0]:
                                best[k] = (d, frame, index, t)
                        if t >= next_motion - 1e-6:
                            motion_frames.append(_rotate(_shrink(frame, small_w, small_h), rotation))
                            motion_times.append(t)
                            motion_idx.append(index)
                            next_motion = (t if next_motion == -math.inf else next_motion) + motion_step
                            if next_motion <= t:
                                next_motion = t + motion_step
                        index += 1
            except av.error.FFmpegError as e:
                stats.warning = f"decoding stopped early after {index} frames ({_ffmpeg_reason(e)})"
        finally:
            container.close()

        packets = len(stamps) + unstamped
        if self.on_progress is not None:
            self.on_progress(packets, packets)
        if not times:
            raise InputError(f"{self.path}: video stream holds no decodable frames")
        sampled: list[Frame] = []
        seen: set[int] = set()
        for _, frame, idx, t in best:
            if frame is None or idx in seen:
                continue
            seen.add(idx)
            sampled.append(Frame(idx, round(t, 3), _rotate(frame.to_ndarray(format="bgr24"), rotation)))

        # the stream's timing comes from every frame's packet, decoded or skipped; where packets carry
        # no times (raw streams, which are then decoded whole), from the decoded frames
        if skipping and stamps and not unstamped:
            arr = np.sort(np.asarray(stamps)) - start_time
        else:
            arr = np.asarray(times)
        stats.frames_in_stream = max(len(arr), len(times))
        stats.frames_decoded = len(times)
        stats.first_time_s = float(arr[0])
        stats.last_time_s = float(arr[-1])
        if len(arr) > 1:
            gaps = np.diff(arr)
            gaps = gaps[gaps > 0]
            if len(gaps):
                stats.mean_fps = float(1.0 / gaps.mean())
                stats.variable_frame_rate = bool(gaps.std() / gaps.mean() > 0.1)
        else:
            stats.mean_fps = info.fps
        self._stats = stats
        motion = MotionStream(np.asarray(motion_times), motion_frames, motion_idx,
                              scale=(small_h if swapped else small_w) / float(info.width or 1))
        return sampled, motion

    @property
    def frame_count(self) -> int:
        self.motion  # noqa: B018
        return self.stats.frames_in_stream
