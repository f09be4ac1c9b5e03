"""How much textured, still background a camera fit rests on, and how sure that makes its label.

A frame pair's fit is the motion most corners share. A camera move shifts the whole picture; a hand moving
on a plain wall moves the only corners there are. The share of the frame's cells holding textured corners
that follow the fit tells the two apart, and lowers (or, under :data:`BACKGROUND_MIN`, withholds) the
named move.
"""

from __future__ import annotations

import cv2
import numpy as np

TOO_PLAIN = "too little textured background: the corners that moved may be an instance's"
GRID = (6, 4)  # cells the corners are spread over
CELL_TEXTURE_MIN = 4.0  # grey-level spread (std) below which a cell is plain: its corners are noise
BACKGROUND_MIN = 0.3  # share of cells with textured corners that follow the fit, below which no move is named
BACKGROUND_SURE = 0.5  # ... at and above which that share does not lower the label's confidence


def background_share(gray: np.ndarray, points: np.ndarray, grid=GRID) -> float:
    """The share of the grid's cells that hold at least one of ``points`` (the corners that follow the fitted
    motion) and have texture of their own (a plain wall's cells give only noise corners).

    A camera move shifts the whole picture, so its corners spread over the frame and reach its borders; a
    hand moving on a plain wall moves the only corners there are, and they lie in a few cells, or in an
    island that touches fewer than three of the frame's four sides: then the share is 0.
    """
    h, w = gray.shape
    cols = np.clip((points[:, 0] * grid[0] / w).astype(int), 0, grid[0] - 1)
    rows = np.clip((points[:, 1] * grid[1] / h).astype(int), 0, grid[1] - 1)
    textured = []
    for gx, gy in set(zip(cols.tolist(), rows.tolist())):
        cell = gray[gy * h // grid[1]:(gy + 1) * h // grid[1], gx * w // grid[0]:(gx + 1) * w // grid[0]]
        if float(cv2.meanStdDev(cell)[1][0, 0]) >= CELL_TEXTURE_MIN:  # numpy's std, a tenth of its cost
            textured.append((gx, gy))
    sides = {side for gx, gy in textured for side, at in (("left", gx == 0), ("right", gx == grid[0] - 1),
                                                          ("top", gy == 0), ("bottom", gy == grid[1] - 1)) if at}
    return len(textured) / float(grid[0] * grid[1]) if len(sides) >= 3 else 0.0


def label_confidence(fit_confidence: float, background: float) -> float:
    """How sure the label is: the fit's confidence, lowered where little textured background followed it
    (a still label over a plain wall rests on a few corners, which may be an instance's)."""
    return round(fit_confidence * min(1.0, background / BACKGROUND_SURE), 2)
