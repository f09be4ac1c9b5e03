"""Reading video: probing metadata and decoding each needed frame exactly once per run.

``probe`` answers "is this a video we can read, and what is it?" with one clear error when not.
``FrameStore`` decodes the clip in a single pass that streams: memory does not grow with the
clip's length. During the pass

* every frame, downscaled, goes to the shot finder (``tools/shots.py``: cuts, dissolves and fades,
  exact to the frame);
* a low-resolution stream at a fixed rate (10 fps) goes to the camera's pair fitter
  (``tools/camera.py``), which keeps a few numbers per frame pair;

and the store keeps, for the whole run:

* the uniformly sampled frames at full resolution (InstanceCap samples 8),
* the motion stream's frames within ``KEEP_AROUND_S`` of each sample (detection builds each
  sample's background from them) and ``OVERVIEW_FRAMES`` spread over the clip; in a clip up to
  about a minute long that is every motion frame,
* the times of every motion frame, the shots and the camera's frame-pair fits.

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

from agent.core.errors import InputError


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


class MotionFrames:
    """The motion stream's frames by position; a long clip holds only some of them.

    ``len`` counts every motion frame; indexing a frame that was not kept raises ``LookupError``
    (see :meth:`has`). Short clips keep them all.
    """

    def __init__(self) -> None:
        self._kept: dict[int, np.ndarray] = {}
        self._count = 0

    def append(self, image: np.ndarray | None) -> None:
        if image is not None:
            self._kept[self._count] = image
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def has(self, i: int) -> bool:
        return (i + self._count if i < 0 else i) in self._kept

    def __getitem__(self, i: int) -> np.ndarray:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._count))]
        j = i + self._count if isinstance(i, (int, np.integer)) and i < 0 else i
        try:
            return self._kept[int(j)]
        except (KeyError, TypeError, ValueError):
            if not isinstance(i, (int, np.integer)):
                raise TypeError("motion frames are indexed by position") from None
            raise LookupError(f"motion frame {i} of {self._count} was not kept (a long clip keeps the frames "
                              f"within {KEEP_AROUND_S:g} s of each sample)") from None

    def __iter__(self):
        for i in range(self._count):
            yield self[i]

    def kept(self) -> list[int]:
        return sorted(self._kept)


@dataclass
class MotionStream:
    times: np.ndarray  # seconds, increasing: every motion frame
    frames: MotionFrames  # BGR uint8 at low resolution (some of them in a long clip)
    indices: list[int]  # index of each frame among the decoded frames
    scale: float  # low-res pixels per full-res pixel
    width: int = 0  # size of a motion frame
    height: int = 0
    _kept_idx: np.ndarray | None = field(default=None, repr=False)

    def nearest(self, t: float) -> int:
        """The kept motion frame nearest time ``t`` (-1 when there is none)."""
        if self._kept_idx is None:
            self._kept_idx = np.asarray(self.frames.kept(), dtype=int)
        if not len(self._kept_idx):
            return -1
        return int(self._kept_idx[int(np.argmin(np.abs(self.times[self._kept_idx] - t)))])


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


# Motion frames kept: those within this many seconds of a sample (detection's backgrounds reach
# 4 s away from it), and this many more spread over the clip (closer looks at any time range).
KEEP_AROUND_S = 4.2
OVERVIEW_FRAMES = 64


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
    _sampled: list[Frame] | None = field(init=False, default=None, repr=False)
    _motion: MotionStream | None = field(init=False, default=None, repr=False)
    _shots: "object | None" = field(init=False, default=None, repr=False)
    _pairs: list | None = field(init=False, default=None, repr=False)

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
    def shots(self):
        """The clip's shots and transitions (:class:`tools.shots.Shots`), found during the decode pass."""
        if self._motion is None:
            self._decode()
        return self._shots

    @property
    def motion_pairs(self) -> list:
        """The camera's fit between each motion frame and the next (:class:`tools.camera.PairMotion`)."""
        if self._motion is None:
            self._decode()
        return self._pairs

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
        self._sampled, self._motion, self._shots, self._pairs = result
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

    def _decode_pass(self, span: float):
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
        motion_frames = MotionFrames()
        motion_times: list[float] = []
        motion_idx: list[int] = []
        times: list[float] = []
        from tools.camera import PairTracker
        from tools.shots import DETECT_WIDTH, ShotFinder

        detect_scale = min(1.0, DETECT_WIDTH / long_side) if long_side else 1.0
        detect_w = max(2, int(round(coded_w * detect_scale / 2)) * 2)
        detect_h = max(2, int(round(coded_h * detect_scale / 2)) * 2)

        finder = ShotFinder(info.fps or 25.0)
        tracker = PairTracker()
        targets = self._targets(0.0, span)
        keep = self._keep_motion(targets, span)
        schedule = self._motion_schedule(targets, 0.5 / (info.fps or 25.0) + 1e-6)
        pick = next(schedule)

        expected = max(1, info.frame_count or int(round(info.duration_s * (info.fps or 25.0))))
        report_every = max(10, expected // 50)
        container = _open(self.path)
        packets = 0
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start_time = None
            index = 0
            try:
                for packet in container.demux(stream):
                    if packet.size:
                        packets += 1
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
                        finder.push(_shrink(frame, detect_w, detect_h))
                        if t >= pick[0] - pick[1]:
                            small = _rotate(_shrink(frame, small_w, small_h), rotation)
                            tracker.push(small, t)
                            motion_frames.append(small if keep(t) else None)
                            motion_times.append(t)
                            motion_idx.append(index)
                            while t >= pick[0] - pick[1]:  # (a gap in a variable-rate clip passes several)
                                pick = next(schedule)
                        index += 1
            except av.error.FFmpegError as e:
                stats.warning = f"decoding stopped early after {index} frames ({_ffmpeg_reason(e)})"
        finally:
            container.close()
            pairs = tracker.finish()

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
        best.clear()

        arr = np.asarray(times)
        stats.frames_in_stream = len(arr)
        stats.frames_decoded = len(arr)
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
        out_w, out_h = (small_h, small_w) if swapped else (small_w, small_h)
        motion = MotionStream(np.asarray(motion_times), motion_frames, motion_idx,
                              scale=(small_h if swapped else small_w) / float(info.width or 1), width=out_w, height=out_h)
        step = 1.0 / stats.mean_fps if stats.mean_fps else 0.0
        shots = finder.finish(arr, round(stats.last_time_s - stats.first_time_s + step, 3))
        return sampled, motion, shots, pairs

    @property
    def frame_count(self) -> int:
        self.motion  # noqa: B018
        return self.stats.frames_in_stream


# -- shots as clips of their own ------------------------------------------------------------------
def find_shots(path: str | Path, min_shot_s: float | None = None):
    """The shots of a clip (:class:`tools.shots.Shots`) from a decode pass that does nothing else."""
    from tools.shots import DETECT_WIDTH, MIN_SHOT_S, ShotFinder

    path = Path(path)
    info = probe(path)
    swapped = (round(info.rotation / 90.0)) % 2 == 1
    coded_w, coded_h = (info.height, info.width) if swapped else (info.width, info.height)
    scale = min(1.0, DETECT_WIDTH / max(coded_w, coded_h)) if max(coded_w, coded_h) else 1.0
    w = max(2, int(round(coded_w * scale / 2)) * 2)
    h = max(2, int(round(coded_h * scale / 2)) * 2)
    finder = ShotFinder(info.fps or 25.0, MIN_SHOT_S if min_shot_s is None else min_shot_s)
    times: list[float] = []
    container = _open(path)
    warning = None
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = None
        try:
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else len(times) / (info.fps or 25.0)
                start = t if start is None else start
                times.append(t - start)
                finder.push(_shrink(frame, w, h))
        except av.error.FFmpegError as e:
            warning = _ffmpeg_reason(e)
    finally:
        container.close()
    if not times:
        raise InputError(f"{path}: video stream holds no decodable frames" + (f" ({warning})" if warning else ""))
    arr = np.asarray(times)
    step = float(np.diff(arr).mean()) if len(arr) > 1 else (1.0 / info.fps if info.fps else 0.0)
    return info, finder.finish(arr, round(float(arr[-1]) + step, 3))


CUT_MODES = ("auto", "copy", "encode")


@dataclass
class ShotCut:
    """How one shot was written: ``mode`` is 'copy' (packets as they are, from a keyframe) or
    'encode' (decoded and encoded again with libx264); ``note`` says why, where it matters."""

    path: Path
    mode: str
    note: str | None = None
    error: str | None = None


def _packet_table(path: Path) -> tuple[list, list[int], set[int]]:
    """Every packet of the video stream in decode order, the frame number (presentation order)
    of each, and the frames that are keyframes."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.size]
    finally:
        container.close()
    if any(pts is None for pts, _, _ in packets):
        return packets, [], set()
    order = sorted(range(len(packets)), key=lambda i: packets[i][0])
    frame_of = [0] * len(packets)
    for frame, i in enumerate(order):
        frame_of[i] = frame
    keys = {frame_of[i] for i, (_, _, key) in enumerate(packets) if key}
    return packets, frame_of, keys


def write_shots(path: str | Path, pieces: list[tuple[int, int]], outs: list[Path], mode: str = "auto",
                crf: int = 18, frames: int | None = None) -> list[ShotCut]:
    """Write frames [start, end) of ``path`` for each piece as its own clip (video only).

    ``copy`` keeps the packets as they are: exact and lossless, but only where a piece starts on a
    keyframe and the next one (or the clip's end) follows right after its last frame; otherwise that
    piece is refused. ``encode`` decodes the clip once and encodes each piece with libx264 at
    ``crf`` (any frame can start one). ``auto`` copies where it can and encodes the rest.
    ``frames``: how many frames the decoder gave (the pieces count those); packets are copied only
    when there are as many.
    """
    if mode not in CUT_MODES:
        raise InputError(f"cut mode {mode!r}: use one of {', '.join(CUT_MODES)}")
    path = Path(path)
    packets, frame_of, keys = _packet_table(path) if mode != "encode" else ([], [], set())
    if frames is not None and len(frame_of) != frames:  # packets and decoded frames do not pair up
        frame_of, keys = [], set()
    n_frames = len(frame_of)
    results: list[ShotCut | None] = [None] * len(pieces)
    to_encode: list[int] = []
    for k, (start, end) in enumerate(pieces):
        copyable = bool(frame_of) and start in keys and (end >= n_frames or end in keys)
        if mode != "encode" and copyable:
            try:
                _copy_packets(path, packets, frame_of, start, end, outs[k])
                results[k] = ShotCut(outs[k], "copy")
                continue
            except (av.error.FFmpegError, ValueError) as e:  # the container will not take them as they are
                reason = f"copying its packets failed ({_ffmpeg_reason(e)})"
        else:
            reason = ("it does not start on a keyframe" if start not in keys else
                      "the next keyframe is not where it ends") if frame_of else \
                "its packets carry no times, or do not pair up with the decoded frames"
        if mode == "copy":
            results[k] = ShotCut(outs[k], "copy", error=f"frames {start}-{end - 1} cannot be cut without "
                                 f"re-encoding: {reason} (use --cut auto or --cut encode)")
        else:
            results[k] = ShotCut(outs[k], "encode", note=None if mode == "encode" else f"re-encoded: {reason}")
            to_encode.append(k)
    if to_encode:
        _encode_pieces(path, [pieces[k] for k in to_encode], [outs[k] for k in to_encode], crf)
    return results  # type: ignore[return-value]


def _copy_packets(path: Path, packets: list, frame_of: list[int], start: int, end: int, out: Path) -> None:
    first = frame_of.index(start)  # decode position of the piece's keyframe
    last = frame_of.index(end) if end < len(frame_of) else len(packets)
    out.parent.mkdir(parents=True, exist_ok=True)
    src = _open(path)
    try:
        stream = src.streams.video[0]
        base = packets[first][0]
        dst = av.open(str(out), "w")
        try:
            ostream = dst.add_stream_from_template(stream)
            rotation = probe(path).rotation
            if rotation:  # the display matrix is side data the template does not carry
                ostream.set_display_rotation(rotation)
            for pos, packet in enumerate(p for p in src.demux(stream) if p.size):
                if pos < first:
                    continue
                if pos >= last:
                    break
                packet.pts -= base
                if packet.dts is not None:
                    packet.dts -= base
                packet.stream = ostream
                dst.mux(packet)
        finally:
            dst.close()
    finally:
        src.close()


def _encode_pieces(path: Path, pieces: list[tuple[int, int]], outs: list[Path], crf: int) -> None:
    """One decode of the clip; each piece's frames go to its own encoder as they pass."""
    from fractions import Fraction

    info = probe(path)
    src = _open(path)
    open_: dict[int, tuple] = {}
    try:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(25, 1)
        order = sorted(range(len(pieces)), key=lambda k: pieces[k][0])
        nxt = 0
        for index, frame in enumerate(src.decode(stream)):
            while nxt < len(order) and pieces[order[nxt]][0] <= index:
                k = order[nxt]
                outs[k].parent.mkdir(parents=True, exist_ok=True)
                dst = av.open(str(outs[k]), "w")
                ostream = dst.add_stream("libx264", rate=rate)
                ostream.width, ostream.height = frame.width, frame.height
                ostream.pix_fmt = "yuv420p"
                ostream.options = {"crf": str(crf), "preset": "veryfast"}
                if info.rotation:
                    ostream.set_display_rotation(info.rotation)
                open_[k] = (dst, ostream, 0)
                nxt += 1
            for k in list(open_):
                dst, ostream, count = open_[k]
                start, end = pieces[k]
                if index >= end:
                    for packet in ostream.encode():
                        dst.mux(packet)
                    dst.close()
                    del open_[k]
                    continue
                if index >= start:
                    out = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
                    out.pts, out.time_base = count, 1 / rate
                    for packet in ostream.encode(out):
                        dst.mux(packet)
                    open_[k] = (dst, ostream, count + 1)
            if nxt >= len(order) and not open_:
                break
    finally:
        for dst, ostream, _ in open_.values():
            try:
                for packet in ostream.encode():
                    dst.mux(packet)
            finally:
                dst.close()
        src.close()
