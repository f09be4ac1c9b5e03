"""Shots as clips of their own: finding a clip's shots in a pass that does nothing else, and
writing frame ranges out as files (packets copied where they can be, encoded again where not)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from agent.core.errors import InputError
from agent.run.media.frames import FrameStore
from agent.run.media.probe import VideoInfo, ffmpeg_reason, open_video, probe


def find_shots(path: str | Path, feed) -> tuple[VideoInfo, Any]:
    """The clip's facts and what the shot finder's frame feed (:class:`agent.core.feeds.FrameFeed`,
    declared by the tools that read shots) returns from a decode pass that feeds it alone."""
    store = FrameStore(Path(path), samples=1, feeds=[feed])
    return store.info, store.streamed(feed)


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
    container = open_video(path)
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
                reason = f"copying its packets failed ({ffmpeg_reason(e)})"
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
    src = open_video(path)
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
    src = open_video(path)
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
