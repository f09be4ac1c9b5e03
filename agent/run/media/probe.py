"""Probing a video: is it one we can read, and what is it? One clear error when not.

Also the container helpers the decode passes share (opening a video, FFmpeg's reason for a
failure) and the content hash that keys runs and caches.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import av

from agent.core.errors import InputError
from agent.core.model_files import sha256_file


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



# FFmpeg's demuxers that render a text file as frames of characters, and their codecs
TEXT_FORMATS = {"tty", "bin", "xbin", "adf", "idf"}
TEXT_CODECS = {"ansi", "bintext", "xbin", "idf"}


def not_regular(path: Path) -> str | None:
    """Why ``path`` is not a regular file we can read to its end (a FIFO blocks, a device never
    ends, a link loops), or None when it is one."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link that loops"
        if os.path.islink(path):
            return "a broken symbolic link"
        return None  # missing or unreadable: said by whoever opens it
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    return "not a regular file"


def check_path(path: Path) -> None:
    why = not_regular(path)
    if why == "a directory":
        raise InputError(f"{path}: is a directory, not a video file")
    if why:
        raise InputError(f"{path}: is {why}")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")


def open_video(path: Path):
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        out_of_memory(e)
        raise InputError(f"{path}: not a readable video ({ffmpeg_reason(e)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    fmt = container.format.name
    codec = container.streams.video[0].codec_context.name
    if fmt in TEXT_FORMATS or codec in TEXT_CODECS:  # FFmpeg draws a .txt (or ANSI art) as a video of text
        container.close()
        raise InputError(f"{path}: is a text file ({fmt}), not a video")
    if (fmt.endswith("_pipe") and fmt != "gif_pipe") or fmt == "image2":  # a still image FFmpeg also opens
        kind = container.streams.video[0].codec_context.name.upper()
        container.close()
        raise InputError(f"{path}: is a still image ({kind}), not a video; caption a video clip")
    return container


def out_of_memory(e: Exception) -> None:
    """FFmpeg could not allocate memory: that is out of memory, not a clip that cannot be decoded."""
    if isinstance(e, MemoryError) or getattr(e, "errno", None) == errno.ENOMEM:
        raise MemoryError(f"FFmpeg could not allocate memory ({ffmpeg_reason(e)})") from None


def ffmpeg_reason(e: Exception) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return text.split(":")[0].strip().rstrip(".").lower() if text else type(e).__name__


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes (first 16 hex digits), to key runs and caches."""
    return sha256_file(path, chunk)[:16]


def probe(path: str | Path) -> VideoInfo:
    """Metadata of a video; raises :class:`InputError` with one line when it cannot be read."""
    path = Path(path)
    check_path(path)
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except av.error.FFmpegError as e:
            out_of_memory(e)
            raise InputError(f"{path}: video data cannot be decoded ({ffmpeg_reason(e)})") from None
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


