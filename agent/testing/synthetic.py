"""Synthetic clips with known ground truth, for tests and benchmarks.

A clip is a textured world seen through a moving camera (pan, tilt, zoom, roll, shake, at chosen
speeds) with coloured objects moving across the screen (circles, squares, triangles and simple
people). Everything is deterministic from the seed. ``render_clip`` writes an H.264 mp4 with PyAV
and returns the ground truth, which ``write_ground_truth`` saves as JSON:

* per object: colour name, shape, class, start and end 3x3 grid cell of its visible centroid,
  whether it leaves the frame, and its screen direction;
* the camera label in the same words as ``estimate_camera_motion``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from agent.core.vocab import direction_word, grid_cell, join_camera_label

# Canonical colours of the objects (sRGB); names match the colour namer's vocabulary.
OBJECT_COLOURS = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 60),
    "blue": (30, 70, 220),
    "purple": (130, 50, 170),
    "pink": (240, 120, 180),
    "white": (245, 245, 245),
}
SHAPES = ("circle", "square", "triangle", "person")


@dataclass
class ObjectSpec:
    shape: str
    colour: str
    size: float  # height as a fraction of the frame height
    start: tuple[float, float]  # normalised screen position of the centre
    end: tuple[float, float]


@dataclass
class CameraSpec:
    """Camera motion per second: pan/tilt in frame widths/heights, zoom as log-scale, roll in degrees."""

    pan: float = 0.0  # + pans right (content moves left)
    tilt: float = 0.0  # + tilts up (content moves down)
    zoom: float = 0.0  # + zooms in
    roll: float = 0.0  # + rolls clockwise (content turns counterclockwise)
    shake: float = 0.0  # jitter amplitude as a fraction of the frame width

    def label(self, pan_min=0.02, zoom_min=0.03, roll_min=2.0) -> str:
        prims = []
        if self.pan >= pan_min:
            prims.append("pan right")
        elif self.pan <= -pan_min:
            prims.append("pan left")
        if self.tilt >= pan_min:
            prims.append("tilt up")
        elif self.tilt <= -pan_min:
            prims.append("tilt down")
        if self.zoom >= zoom_min:
            prims.append("zoom in")
        elif self.zoom <= -zoom_min:
            prims.append("zoom out")
        if self.roll >= roll_min:
            prims.append("roll clockwise")
        elif self.roll <= -roll_min:
            prims.append("roll counterclockwise")
        return join_camera_label(prims, shaky=self.shake >= 0.002)


@dataclass
class SceneSpec:
    seed: int
    objects: list[ObjectSpec] = field(default_factory=list)
    camera: CameraSpec = field(default_factory=CameraSpec)
    width: int = 640
    height: int = 360
    fps: float = 25.0
    duration_s: float = 3.0
    noise: float = 0.0  # std of Gaussian pixel noise (0-255 scale)
    rotation: int = 0  # display rotation written into the container (degrees counterclockwise)
    view_offset: tuple[float, float] = (0.0, 0.0)  # where the view starts in the world, frame widths/heights from its centre
    gain: float = 1.0  # brightness of the whole picture (0.4: a dimly lit scene)


@dataclass
class ObjectTruth:
    colour: str
    shape: str
    class_name: str
    start_cell: str
    end_cell: str
    leaves_frame: bool
    direction: str
    mean_area: float  # visible area as a fraction of the frame
    start_xy: tuple[float, float] = (0.0, 0.0)  # normalised visible centroid in the first frame
    end_xy: tuple[float, float] = (0.0, 0.0)  # ... and in the last frame where it is visible


@dataclass
class GroundTruth:
    video: str
    width: int
    height: int
    fps: float
    duration_s: float
    camera: str
    camera_spec: dict
    objects: list[ObjectTruth]
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)


def write_ground_truth(truth: GroundTruth, path: str | Path) -> None:
    Path(path).write_text(json.dumps(truth.to_dict(), indent=2))


# -- the world ---------------------------------------------------------------------------------
def _world_texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A muted, richly textured world image (BGR) much larger than the frame."""
    base = np.zeros((h, w, 3), np.float32)
    for cells, weight in ((6, 0.55), (24, 0.3), (96, 0.15)):
        small = rng.random((cells * h // w + 2, cells + 2, 3)).astype(np.float32)
        base += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    gray = base.mean(axis=2, keepdims=True)
    tint = np.array(rng.uniform(0.35, 0.65, 3), np.float32)
    img = (0.75 * gray + 0.25 * base) * 0.8 + tint * 0.2
    img = np.clip(img * 170 + 30, 0, 255).astype(np.uint8)
    # structure: rectangles and lines give corners to track
    for _ in range(w * h // 9000):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        raw = rng.integers(40, 200, 3)
        c = tuple(int(v) for v in (0.5 * raw + 0.5 * raw.mean()))  # muted clutter
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60))), c, -1)
        else:
            cv2.line(img, (x, y), (x + int(rng.integers(-80, 80)), y + int(rng.integers(-80, 80))), c, 2)
    return cv2.GaussianBlur(img, (3, 3), 0)


def _view_matrix(spec: SceneSpec, t: float, world_size: tuple[int, int], jitter: tuple[float, float]):
    """2x3 matrix mapping screen pixels to world pixels at time t."""
    cam = spec.camera
    ww, wh = world_size
    cx = ww / 2 + cam.pan * spec.width * t + spec.view_offset[0] * spec.width + jitter[0]
    cy = wh / 2 - cam.tilt * spec.height * t + spec.view_offset[1] * spec.height + jitter[1]
    z = math.exp(cam.zoom * t)
    th = math.radians(cam.roll * t)
    c, s = math.cos(th) / z, math.sin(th) / z
    sx, sy = spec.width / 2, spec.height / 2
    return np.array([[c, -s, cx - c * sx + s * sy], [s, c, cy - s * sx - c * sy]], np.float32)


# -- objects -----------------------------------------------------------------------------------
def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = (int(np.clip(v * factor, 0, 255)) for v in rgb)
    return (b, g, r)


def _draw_object(canvas: np.ndarray, mask: np.ndarray, obj: ObjectSpec, cx: float, cy: float, h: int):
    size = obj.size * h
    rgb = OBJECT_COLOURS[obj.colour]
    col, dark = _shade(rgb, 1.0), _shade(rgb, 0.85)
    x, y, r = int(round(cx)), int(round(cy)), max(3, int(size / 2))
    for target, fill, edge in ((canvas, col, dark), (mask, 255, 255)):
        lt = cv2.LINE_AA if target is canvas else cv2.LINE_8
        if obj.shape == "circle":
            cv2.circle(target, (x, y), r, fill if target is mask else edge, -1, lt)
            if target is canvas:
                cv2.circle(target, (x - r // 4, y - r // 4), int(r * 0.7), fill, -1, lt)
        elif obj.shape == "square":
            cv2.rectangle(target, (x - r, y - r), (x + r, y + r), fill, -1, lt)
            if target is canvas:
                cv2.rectangle(target, (x - r, y + r // 2), (x + r, y + r), edge, -1, lt)
        elif obj.shape == "triangle":
            pts = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], np.int32)
            cv2.fillPoly(target, [pts], fill, lt)
        elif obj.shape == "person":
            # head, torso (the object's colour), arms, legs
            unit = size / 8
            head = (x, int(y - 3 * unit))
            skin = (140, 170, 220) if target is canvas else 255
            legs = (60, 50, 45) if target is canvas else 255
            cv2.circle(target, head, max(2, int(unit * 0.9)), skin, -1, lt)
            cv2.rectangle(target, (int(x - 1.2 * unit), int(y - 2 * unit)),
                          (int(x + 1.2 * unit), int(y + 1.2 * unit)), fill, -1, lt)
            for side in (-1, 1):
                cv2.line(target, (int(x + side * 1.2 * unit), int(y - 1.8 * unit)),
                         (int(x + side * 1.9 * unit), int(y + 0.6 * unit)), fill, max(2, int(unit * 0.6)), lt)
                cv2.line(target, (int(x + side * 0.6 * unit), int(y + 1.2 * unit)),
                         (int(x + side * 0.8 * unit), int(y + 4 * unit)), legs, max(2, int(unit * 0.8)), lt)
        else:  # pragma: no cover - guarded by random_scene
            raise ValueError(f"unknown shape {obj.shape!r}")


def _object_position(obj: ObjectSpec, t: float, duration: float) -> tuple[float, float]:
    a = t / duration if duration else 0.0
    return (obj.start[0] + (obj.end[0] - obj.start[0]) * a, obj.start[1] + (obj.end[1] - obj.start[1]) * a)


# -- rendering ---------------------------------------------------------------------------------
def render_frames(spec: SceneSpec):
    """Yield (frame BGR, list of per-object visible masks) for every frame of the clip."""
    rng = np.random.default_rng(spec.seed)
    world_w, world_h = spec.width * 4, spec.height * 4
    world = _world_texture(rng, world_w, world_h)
    n = max(1, int(round(spec.duration_s * spec.fps)))
    shake_rng = np.random.default_rng(spec.seed + 1)
    jitter = np.zeros(2)
    # a small bank of noise fields, drawn in turn: as random to the eye, far cheaper than per frame
    noise_bank = [rng.normal(0, spec.noise, (spec.height, spec.width, 3)).astype(np.float32)
                  for _ in range(5)] if spec.noise else []
    for i in range(n):
        t = i / spec.fps
        if spec.camera.shake:
            jitter = 0.5 * jitter + shake_rng.normal(0, spec.camera.shake * spec.width, 2)
        m = _view_matrix(spec, t, (world_w, world_h), (float(jitter[0]), float(jitter[1])))
        frame = cv2.warpAffine(world, m, (spec.width, spec.height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        masks = []
        for obj in spec.objects:
            mask = np.zeros((spec.height, spec.width), np.uint8)
            px, py = _object_position(obj, t, spec.duration_s)
            _draw_object(frame, mask, obj, px * spec.width, py * spec.height, spec.height)
            masks.append(mask)
        # objects drawn later hide earlier ones
        for k in range(len(masks) - 1):
            for later in masks[k + 1:]:
                masks[k][later > 0] = 0
        if spec.gain != 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=spec.gain)
        if noise_bank:
            noise = noise_bank[int(rng.integers(len(noise_bank)))]
            frame = cv2.add(frame.astype(np.float32), noise).clip(0, 255).astype(np.uint8)
        yield frame, masks


def _centroid(mask: np.ndarray) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) < 20:
        return None
    h, w = mask.shape
    return float(xs.mean() / w), float(ys.mean() / h)


def render_clip(spec: SceneSpec, path: str | Path, crf: int = 20) -> GroundTruth:
    """Write the clip as H.264 mp4 and return its ground truth."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), mode="w")
    stream = container.add_stream("libx264", rate=int(round(spec.fps)))
    stream.width, stream.height = spec.width, spec.height
    if spec.rotation:
        # store the pixels turned back so that a player applying the rotation shows the scene upright
        stream.width, stream.height = (spec.height, spec.width) if spec.rotation % 180 else (spec.width, spec.height)
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": str(crf), "preset": "veryfast"}
    if spec.rotation:
        stream.set_display_rotation(spec.rotation)
    first_c: list = [None] * len(spec.objects)
    last_c: list = [None] * len(spec.objects)  # centroid in the latest frame (None once it left)
    last_seen: list = [None] * len(spec.objects)  # latest centroid where it was visible
    areas = [[] for _ in spec.objects]
    try:
        for frame, masks in render_frames(spec):
            for k, mask in enumerate(masks):
                c = _centroid(mask)
                if first_c[k] is None and c is not None:
                    first_c[k] = c
                last_c[k] = c
                if c is not None:
                    last_seen[k] = c
                areas[k].append(float((mask > 0).mean()))
            if spec.rotation:
                frame = np.ascontiguousarray(np.rot90(frame, -(spec.rotation // 90) % 4))
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()

    objects = []
    for k, obj in enumerate(spec.objects):
        start = first_c[k] or obj.start
        leaves = last_c[k] is None
        end = last_seen[k] or obj.end
        objects.append(ObjectTruth(
            colour=obj.colour,
            shape=obj.shape,
            class_name="person" if obj.shape == "person" else "object",
            start_cell=grid_cell(*start),
            end_cell=grid_cell(*end),
            leaves_frame=leaves,
            direction=direction_word(obj.end[0] - obj.start[0], obj.end[1] - obj.start[1]),
            mean_area=round(float(np.mean(areas[k])) if areas[k] else 0.0, 4),
            start_xy=tuple(round(v, 4) for v in start), end_xy=tuple(round(v, 4) for v in end),
        ))
    return GroundTruth(
        video=path.name, width=spec.width, height=spec.height, fps=spec.fps,
        duration_s=spec.duration_s, camera=spec.camera.label(), camera_spec=asdict(spec.camera),
        objects=objects, seed=spec.seed,
    )


# -- random scenes -----------------------------------------------------------------------------
SPEEDS = {"slow": 0.05, "medium": 0.12, "fast": 0.25}


def camera_for(label: str, speed: str = "medium", shake: float = 0.0) -> CameraSpec:
    """A camera spec for a label such as 'pan left', 'zoom in and roll clockwise' or 'static'."""
    v = SPEEDS[speed]
    cam = CameraSpec(shake=shake)
    for part in [p.strip() for p in label.split(" and ")]:
        if part == "static":
            continue
        match part:
            case "pan left": cam.pan = -v
            case "pan right": cam.pan = v
            case "tilt up": cam.tilt = v
            case "tilt down": cam.tilt = -v
            case "zoom in": cam.zoom = v * 1.5
            case "zoom out": cam.zoom = -v * 1.5
            case "roll clockwise": cam.roll = v * 60
            case "roll counterclockwise": cam.roll = -v * 60
            case _: raise ValueError(f"unknown camera primitive {part!r}")
    return cam


def random_scene(seed: int, camera: str = "static", speed: str = "medium", n_objects: int | None = None,
                 noise: float | None = None, shapes=SHAPES, duration_s: float = 3.0,
                 width: int = 640, height: int = 360, shake: float = 0.0) -> SceneSpec:
    """A scene with 1-3 well separated objects, each moving in its own part of the screen."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4)) if n_objects is None else n_objects
    colours = list(rng.permutation(list(OBJECT_COLOURS)))[:n]
    # each object lives in its own horizontal band so tracks never cross
    bands = rng.permutation(3)[:n]
    objects = []
    for k in range(n):
        shape = str(rng.choice(list(shapes)))
        size = float(rng.uniform(0.28, 0.4) if shape == "person" else rng.uniform(0.14, 0.22))
        x0 = float(rng.uniform(0.12, 0.88))
        y = (bands[k] + 0.5) / 3 + float(rng.uniform(-0.05, 0.05))
        # move a visible distance, towards the side with more room
        step = float(rng.uniform(0.25, 0.5))
        x1 = float(np.clip(x0 + (step if x0 < 0.5 else -step), 0.08, 0.92))
        dy = float(rng.uniform(-0.08, 0.08))
        objects.append(ObjectSpec(shape, str(colours[k]), size, (x0, y), (x1, float(np.clip(y + dy, 0.1, 0.9)))))
    return SceneSpec(
        seed=seed, objects=objects, camera=camera_for(camera, speed, shake=shake),
        width=width, height=height, duration_s=duration_s,
        noise=float(rng.choice([0.0, 3.0, 6.0])) if noise is None else noise,
    )


# -- montages ----------------------------------------------------------------------------------
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
    own = [max(1, frames_of(s.duration_s)) for s in shots]
    # frames each shot is rendered for: its own, plus what it shows during the mixes on either side
    lead = [0] * len(shots)  # frames of shot k shown before its own frames (a dissolve or fade in)
    tail = [0] * len(shots)  # ... and after them
    lead[0] = frames_of(fade_in_s)
    tail[-1] = frames_of(fade_out_s)
    for k, tr in enumerate(transitions):
        if tr.kind in ("dissolve", "fade"):  # both shots are seen during a dissolve; a fade darkens each
            tail[k] = lead[k + 1] = frames_of(tr.length_s)
        elif tr.kind != "cut":
            raise ValueError(f"unknown transition {tr.kind!r}")
    black = np.zeros((shots[0].height, shots[0].width, 3), np.uint8)
    gens = [(f for f, _ in render_frames(replace(s, duration_s=(lead[k] + own[k] + tail[k]) / fps)))
            for k, s in enumerate(shots)]
    shot_rows, trans_rows = [], []
    index = 0

    def mark(kind: str, start: int, end: int) -> None:
        trans_rows.append({"kind": kind, "start_frame": start, "end_frame": end,
                           "start_s": round(start / fps, 4), "end_s": round(end / fps, 4)})

    def ramp(n: int, rising: bool):
        return [((j + 1) / (n + 1)) if rising else (1 - (j + 1) / (n + 1)) for j in range(n)]

    if lead[0]:
        for a in ramp(lead[0], True):
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
            for a in ramp(lead[k + 1], True):
                mix = cv2.addWeighted(next(gens[k]), 1 - a, next(gens[k + 1]), a, 0.0)
                yield mix
                index += 1
        elif tr.kind == "fade":
            for a in ramp(tail[k], False):
                yield cv2.convertScaleAbs(next(gens[k]), alpha=a)
                index += 1
            for _ in range(frames_of(tr.hold_s)):
                yield black
                index += 1
            for a in ramp(lead[k + 1], True):
                yield cv2.convertScaleAbs(next(gens[k + 1]), alpha=a)
                index += 1
        mark(tr.kind, begin, index)
        gens[k].close()  # shot k is done: let its world go (a long montage holds only the shots on screen)
        gens[k] = None
    if tail[-1]:
        begin = index
        for a in ramp(tail[-1], False):
            yield cv2.convertScaleAbs(next(gens[-1]), alpha=a)
            index += 1
        mark("fade out", begin, index)
    return shot_rows, trans_rows


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
