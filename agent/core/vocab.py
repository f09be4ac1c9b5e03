"""Shared words: the 3x3 grid, camera-motion labels (CameraBench's primitives), speeds, directions.

The synthetic clip generator and the tools both use these, so ground truth and measurements
speak the same language.
"""

from __future__ import annotations

import math

ROWS = ("top", "middle", "bottom")
COLS = ("left", "middle", "right")


def grid_cell(x: float, y: float) -> str:
    """Name of the 3x3 cell holding the normalised point (x, y), with (0, 0) the top-left corner."""
    col = min(2, max(0, int(x * 3)))
    row = min(2, max(0, int(y * 3)))
    if row == 1 and col == 1:
        return "center"
    if row == 1:
        return f"middle-{COLS[col]}"
    return f"{ROWS[row]}-{COLS[col]}"


GRID_CELLS = tuple(grid_cell((c + 0.5) / 3, (r + 0.5) / 3) for r in range(3) for c in range(3))


def cell_phrase(cell: str) -> str:
    return "the center" if cell == "center" else f"the {cell}"


# -- camera ----------------------------------------------------------------------------------
# Primitive labels, in the order they are written in a combined label.
CAMERA_PRIMITIVES = (
    "pan left", "pan right", "tilt up", "tilt down", "zoom in", "zoom out",
    "roll clockwise", "roll counterclockwise",
)
STATIC = "static"
UNCLEAR = "unclear"
SHAKY = "shaky"


def join_camera_label(primitives: list[str], shaky: bool = False) -> str:
    ordered = [p for p in CAMERA_PRIMITIVES if p in primitives]
    label = " and ".join(ordered) if ordered else STATIC
    if shaky:
        label = f"{label}, {SHAKY}"
    return label


def direction_word(dx: float, dy: float) -> str:
    """Compass-like screen direction of a displacement (y grows downwards)."""
    if math.hypot(dx, dy) == 0:
        return "nowhere"
    angle = math.degrees(math.atan2(-dy, dx)) % 360  # 0 = right, 90 = up
    names = ["right", "up and to the right", "up", "up and to the left", "left",
             "down and to the left", "down", "down and to the right"]
    return names[int(((angle + 22.5) % 360) // 45)]
