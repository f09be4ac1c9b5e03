"""Rendering a scene: the textured world, the camera's view of it, the objects drawn on it, and the
clip written as H.264 with its ground truth."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import av
import cv2
import numpy as np

from agent.core.vocab import direction_word, grid_cell
from agent.testing.synthetic.scenes import OBJECT_COLOURS, GroundTruth, ObjectSpec, ObjectTruth, SceneSpec


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
