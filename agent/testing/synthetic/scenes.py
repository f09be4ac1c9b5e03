"""What a synthetic clip is: the scene (objects, camera, picture) and its ground truth, and random
scenes from a seed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from agent.core.vocab import join_camera_label


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

