"""Montages: generated shots joined by cuts, dissolves and fades, with frame-exact ground truth."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from agent.testing.synthetic.render import render_frames
from agent.testing.synthetic.scenes import SceneSpec


@dataclass
class TransitionSpec:
    """How one shot gives way to the next.

    ``cut``: the next frame is the next shot's. ``dissolve``: ``length_s`` of frames that mix the
    two shots (both keep moving). ``fade``: the picture fades to black over ``length_s``, stays
    black for ``hold_s`` and the next shot fades in over ``length_s``.
    """

    kind: str = "cut"  # cut | dissolve | fade
    length_s: float = 0.0
    hold_s: float = 0.0


@dataclass
class MontageTruth:
    """Frame-exact ground truth of a montage. A transition runs from its first frame that is not
    purely the shot before to the first frame that is purely the shot after (for a cut, both are
    the first frame of the new shot); a shot is the frames between transitions."""

    video: str
    width: int
    height: int
    fps: float
    frames: int
    shots: list[dict]  # start_frame, end_frame (exclusive), start_s, end_s, camera
    transitions: list[dict]  # kind, start_frame, end_frame, start_s, end_s

    def to_dict(self) -> dict:
        return asdict(self)


def montage_frames(shots: list[SceneSpec], transitions: list[TransitionSpec], fade_in_s: float = 0.0,
                   fade_out_s: float = 0.0):
    """Yield the montage's frames; ``shots[k].duration_s`` is how long shot k is seen on its own.

    Returns (through ``StopIteration.value``) the truth's shot and transition lists.
    """
    if len(transitions) != len(shots) - 1:
        raise ValueError("a montage needs one transition between each two shots")
    from dataclasses import replace

    fps = shots[0].fps
    frames_of = lambda s: max(0, int(round(s * fps)))  # noqa: E731
    own, lead, tail = _frame_counts(shots, transitions, frames_of(fade_in_s), frames_of(fade_out_s), frames_of)
    black = np.zeros((shots[0].height, shots[0].width, 3), np.uint8)
    gens = [(f for f, _ in render_frames(replace(s, duration_s=(lead[k] + own[k] + tail[k]) / fps)))
            for k, s in enumerate(shots)]
    shot_rows, trans_rows = [], []
    index = 0

    def mark(kind: str, start: int, end: int) -> None:
        trans_rows.append({"kind": kind, "start_frame": start, "end_frame": end,
                           "start_s": round(start / fps, 4), "end_s": round(end / fps, 4)})

    if lead[0]:
        for a in _ramp(lead[0], True):
            yield cv2.convertScaleAbs(next(gens[0]), alpha=a)
        mark("fade in", 0, lead[0])
        index = lead[0]
    for k, spec in enumerate(shots):
        start = index
        for _ in range(own[k]):
            yield next(gens[k])
            index += 1
        shot_rows.append({"start_frame": start, "end_frame": index, "start_s": round(start / fps, 4),
                          "end_s": round(index / fps, 4), "camera": spec.camera.label()})
        if k == len(shots) - 1:
            break
        tr, begin = transitions[k], index
        if tr.kind == "dissolve":
            for a in _ramp(lead[k + 1], True):
                mix = cv2.addWeighted(next(gens[k]), 1 - a, next(gens[k + 1]), a, 0.0)
                yield mix
                index += 1
        elif tr.kind == "fade":
            for a in _ramp(tail[k], False):
                yield cv2.convertScaleAbs(next(gens[k]), alpha=a)
                index += 1
            for _ in range(frames_of(tr.hold_s)):
                yield black
                index += 1
            for a in _ramp(lead[k + 1], True):
                yield cv2.convertScaleAbs(next(gens[k + 1]), alpha=a)
                index += 1
        mark(tr.kind, begin, index)
        gens[k].close()  # shot k is done: let its world go (a long montage holds only the shots on screen)
        gens[k] = None
    if tail[-1]:
        begin = index
        for a in _ramp(tail[-1], False):
            yield cv2.convertScaleAbs(next(gens[-1]), alpha=a)
            index += 1
        mark("fade out", begin, index)
    return shot_rows, trans_rows


def _frame_counts(shots: list[SceneSpec], transitions: list[TransitionSpec], fade_in: int, fade_out: int,
                  frames_of) -> tuple[list[int], list[int], list[int]]:
    """The frames each shot is rendered for: its own, plus what it shows during the mixes on either
    side (``lead``: before its own frames, a dissolve or fade in; ``tail``: after them)."""
    own = [max(1, frames_of(s.duration_s)) for s in shots]
    lead = [0] * len(shots)
    tail = [0] * len(shots)
    lead[0] = fade_in
    tail[-1] = fade_out
    for k, tr in enumerate(transitions):
        if tr.kind in ("dissolve", "fade"):  # both shots are seen during a dissolve; a fade darkens each
            tail[k] = lead[k + 1] = frames_of(tr.length_s)
        elif tr.kind != "cut":
            raise ValueError(f"unknown transition {tr.kind!r}")
    return own, lead, tail


def _ramp(n: int, rising: bool) -> list[float]:
    """The weights of n frames that mix in (``rising``) or out."""
    return [((j + 1) / (n + 1)) if rising else (1 - (j + 1) / (n + 1)) for j in range(n)]


def write_frames(frames, path: str | Path, fps: float, crf: int = 20) -> int:
    """Encode BGR frames as H.264 mp4 (yuv420p); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=int(round(fps)))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return n


def render_montage(shots: list[SceneSpec], transitions: list[TransitionSpec], path: str | Path,
                   fade_in_s: float = 0.0, fade_out_s: float = 0.0, crf: int = 20) -> MontageTruth:
    """Write a montage of generated shots joined by cuts, dissolves and fades; returns its truth."""
    gen = montage_frames(shots, transitions, fade_in_s, fade_out_s)
    result: dict = {}

    def frames():
        try:
            while True:
                yield next(gen)
        except StopIteration as stop:
            result["rows"] = stop.value

    n = write_frames(frames(), path, shots[0].fps, crf)
    shot_rows, trans_rows = result["rows"]
    return MontageTruth(video=Path(path).name, width=shots[0].width, height=shots[0].height, fps=shots[0].fps,
                        frames=n, shots=shot_rows, transitions=trans_rows)
