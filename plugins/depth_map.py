"""Depth maps (an Any2Caption condition the user supplies): the layout, near and far, and what is in front.

Reads one depth map (a 16-bit or 8-bit single-channel PNG, or a grey PNG saved with three equal
channels), a folder of them (a depth video as frames, read in name order, all the same size), a
``.npy`` array (H, W) or (T, H, W), or a video whose frames are grey depth renderings.

The convention is an option (``--depth-convention``):

* ``nearer-larger`` (the default): larger values are nearer, as in the relative inverse depth of
  monocular estimators (MiDaS, Depth Anything, Video Depth Anything) and the white-is-near depth
  maps that depth-conditioned generators take;
* ``farther-larger``: metric or sensor depth (millimetres in a 16-bit PNG, metres in a ``.npy``),
  where 0 is a pixel without a reading and is left out; it is turned into inverse depth first, so
  both conventions read the same scene the same way.

The values are turned into nearness in [0, 1] between their 2nd and 98th percentiles; a frame's
maps are averaged over time. From that:

* **regions**: the mean nearness of each cell of the 3x3 grid: the nearest and the farthest cell,
  and a gradient when the bottom (or one side) is at least :data:`GRADIENT` nearer than the top
  (the other side): the ground receding;
* **blobs**: what stands out in front of its surroundings: nearness more than :data:`STANDS_OUT`
  above the :data:`ROW_LEVEL` th percentile of its row (which follows a receding ground, and is
  still the ground where things cover up to three quarters of the row), parts of at least
  :data:`MIN_BLOB` of the frame; ordered front to back, each with its cell, box, share and
  height-over-width (by which a reference image's subject can be placed at a blob).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, Field

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl
from agent.core.vocab import cell_phrase, grid_cell

DEPTH_CONVENTIONS = ("nearer-larger", "farther-larger")  # what larger values in a depth map mean
DEFAULT_DEPTH_CONVENTION = "nearer-larger"  # inverse depth, as depth estimators write it
CONVENTIONS, DEFAULT_CONVENTION = DEPTH_CONVENTIONS, DEFAULT_DEPTH_CONVENTION

GRADIENT = 0.2  # nearness difference between the bottom and top rows (or sides) that reads as receding
STANDS_OUT = 0.15  # nearness over the row's median that makes a pixel part of a blob
ROW_LEVEL = 25  # percentile of a row's nearness taken as what lies behind (a thing may cover most of a row)
MIN_BLOB = 0.01  # share of the frame a blob must cover
MAX_BLOBS = 4
MIN_VALID = 0.5  # share of pixels with a reading a map needs
MAX_SIDE = 320  # maps are measured at most this large
VIDEO = (".mp4", ".mov", ".avi", ".mkv", ".webm")


class DepthBlob(BaseModel):
    rank: int = Field(description="0: the nearest")
    cell: str
    box: list[float] = Field(description="normalised x0, y0, x1, y1")
    share: float = Field(description="of the frame")
    nearness: float = Field(description="0 farthest .. 1 nearest, the blob's mean")
    aspect: float = Field(description="height over width")


class DepthEvidence(BaseModel):
    source: str
    format: str
    convention: str
    frames: int
    width: int
    height: int
    cells: dict[str, float] = Field(description="mean nearness (0 far .. 1 near) per 3x3 cell")
    nearest_cell: str
    farthest_cell: str
    gradient: str | None = Field(description="'recedes towards the top', ... or None")
    blobs: list[DepthBlob]
    layout: str


def _grey(image: np.ndarray, where: str) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        c = image[:, :, :3].astype(np.int64)
        if np.abs(c[:, :, 0] - c[:, :, 1]).max() > 2 or np.abs(c[:, :, 1] - c[:, :, 2]).max() > 2:
            raise InputError(f"{where}: a colour image, not a depth map (give one channel, or grey values)")
        return image[:, :, 0]
    if image.ndim != 2:
        raise InputError(f"{where}: shape {tuple(image.shape)} is not a depth map (H x W)")
    return image


def _read_png(p: Path) -> np.ndarray:
    data = np.fromfile(str(p), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InputError(f"depth {p}: cannot read it as an image (a 16-bit or 8-bit PNG)")
    return _grey(image, f"depth {p}")


def read_maps(path: str | Path) -> tuple[np.ndarray, str]:
    """(float maps (T, H, W), format name), or a one-line InputError."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in (".png", ".tif", ".tiff", ".npy"))
        if not files:
            raise InputError(f"depth {p}: the folder has no .png, .tif or .npy depth maps")
        maps = [m for f in files for m in read_maps(f)[0]]
        shapes = {m.shape for m in maps}
        if len(shapes) > 1:
            raise InputError(f"depth {p}: the maps differ in size ({', '.join(f'{w}x{h}' for h, w in sorted(shapes))})")
        return np.stack(maps), f"folder of {len(files)} maps"
    if not p.is_file():
        raise InputError(f"depth {p}: no such file or folder")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            a = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise InputError(f"depth {p}: not a readable .npy array ({e.__class__.__name__})") from None
        if a.ndim == 4 and a.shape[-1] == 1:
            a = a[..., 0]
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or min(a.shape[1:]) < 8:
            raise InputError(f"depth {p}: shape {tuple(a.shape)} is not a depth map (H x W) or a sequence (T x H x W)")
        if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
            raise InputError(f"depth {p}: the array holds {a.dtype}, not real numbers")
        return a.astype(np.float64), "npy"
    if suffix in VIDEO:
        cap = cv2.VideoCapture(str(p))
        maps = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            maps.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float64))
        cap.release()
        if not maps:
            raise InputError(f"depth {p}: cannot read frames from the video")
        return np.stack(maps), "video"
    m = _read_png(p)
    if min(m.shape) < 8:
        raise InputError(f"depth {p}: {m.shape[1]}x{m.shape[0]} is too small for a depth map")
    return m[None].astype(np.float64), f"{m.dtype.itemsize * 8}-bit image"


def nearness(maps: np.ndarray, convention: str, where: str) -> np.ndarray:
    """Mean nearness (H, W) in [0, 1] over the maps; NaN where no map has a reading."""
    valid = np.isfinite(maps)
    if convention == "farther-larger":
        valid &= maps > 0
    if valid.mean() < MIN_VALID:
        raise InputError(f"{where}: only {valid.mean():.0%} of the pixels have a depth "
                         f"(finite{', above 0' if convention == 'farther-larger' else ''}); at least {MIN_VALID:.0%} needed")
    values = np.where(valid, maps, np.nan)
    if convention == "farther-larger":
        values = 1.0 / values  # inverse depth, as the estimators give: a metre near the camera counts more than far off
    lo, hi = np.nanpercentile(values, [2, 98])
    if not hi - lo > 1e-9 * max(1.0, abs(hi)):
        raise InputError(f"{where}: the depth map is flat (every value about {abs(hi):.4g}): no layout to read")
    near = np.clip((values - lo) / (hi - lo), 0, 1)
    with np.errstate(all="ignore"):
        mean = np.nanmean(near, axis=0) if len(near) > 1 else near[0]
    h, w = mean.shape
    scale = MAX_SIDE / max(h, w)
    if scale < 1:
        mean = cv2.resize(mean.astype(np.float32), (round(w * scale), round(h * scale)),
                          interpolation=cv2.INTER_AREA).astype(np.float64)
    return mean


def blobs_of(near: np.ndarray) -> list[DepthBlob]:
    h, w = near.shape
    filled = np.where(np.isfinite(near), near, np.nanmedian(near))
    row = np.percentile(filled, ROW_LEVEL, axis=1, keepdims=True)
    mask = ((filled - row) > STANDS_OUT).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = []
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        if area < MIN_BLOB * h * w:
            continue
        found.append((float(filled[labels == k].mean()), x, y, bw, bh, area))
    found.sort(key=lambda b: -b[0])
    out = []
    for rank, (mean, x, y, bw, bh, area) in enumerate(found[:MAX_BLOBS]):
        out.append(DepthBlob(rank=rank, cell=grid_cell((x + bw / 2) / w, (y + bh / 2) / h),
                             box=[round(x / w, 4), round(y / h, 4), round((x + bw) / w, 4), round((y + bh) / h, 4)],
                             share=round(area / (h * w), 4), nearness=round(mean, 3), aspect=round(bh / max(bw, 1), 3)))
    return out


def layout_sentence(cells: dict[str, float], gradient: str | None, blobs: list[DepthBlob],
                    names: dict[int, str] | None = None) -> str:
    """``names``: blob rank -> what stands there (from the reference images), when known."""
    names = names or {}
    near_cell = max(cells, key=cells.get)
    far_cell = min(cells, key=cells.get)
    text = f"Nearest to the camera is {cell_phrase(near_cell)}, farthest {cell_phrase(far_cell)}"
    if gradient:
        text += f"; the scene {gradient}"
    text += "."
    if blobs:
        def what(b: DepthBlob) -> str:
            return f"the {names[b.rank]}" if b.rank in names else f"a shape at {cell_phrase(b.cell)}"

        first = what(blobs[0])
        text += f" In front is {first}" + (f" (at {cell_phrase(blobs[0].cell)})" if blobs[0].rank in names else "")
        if len(blobs) > 1:
            rest = [what(b) + (f" (at {cell_phrase(b.cell)})" if b.rank in names else "") for b in blobs[1:]]
            text += ", behind it " + ", then ".join(rest)
        text += "."
    return text


def read_depth(path: str | Path, depth_convention: str = DEFAULT_CONVENTION) -> DepthEvidence:
    if depth_convention not in CONVENTIONS:
        raise InputError(f"--depth-convention {depth_convention}: expected one of {', '.join(CONVENTIONS)}")
    maps, fmt = read_maps(path)
    near = nearness(maps, depth_convention, f"depth {path}")
    h, w = near.shape
    cells = {}
    for r in range(3):
        for c in range(3):
            block = near[r * h // 3:(r + 1) * h // 3, c * w // 3:(c + 1) * w // 3]
            cells[grid_cell((c + 0.5) / 3, (r + 0.5) / 3)] = round(float(np.nanmean(block)), 3)
    rows = [np.nanmean(near[r * h // 3:(r + 1) * h // 3]) for r in range(3)]
    cols = [np.nanmean(near[:, c * w // 3:(c + 1) * w // 3]) for c in range(3)]
    gradient = None
    if rows[2] - rows[0] >= GRADIENT:
        gradient = "recedes from the bottom of the frame towards the top"
    elif rows[0] - rows[2] >= GRADIENT:
        gradient = "recedes from the top of the frame towards the bottom"
    elif cols[0] - cols[2] >= GRADIENT:
        gradient = "recedes from the left towards the right"
    elif cols[2] - cols[0] >= GRADIENT:
        gradient = "recedes from the right towards the left"
    blobs = blobs_of(near)
    return DepthEvidence(source=str(path), format=fmt, convention=depth_convention, frames=len(maps), width=w,
                         height=h, cells=cells, nearest_cell=max(cells, key=cells.get),
                         farthest_cell=min(cells, key=cells.get), gradient=gradient, blobs=blobs,
                         layout=layout_sentence(cells, gradient, blobs))


@hookimpl
def register_condition_readers():
    return {"depth": read_depth}
