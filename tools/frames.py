"""``sample_frames``: look at the clip at chosen times, as one contact sheet image."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.core.evidence import SampledFrames
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool


class SampleArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(8, ge=1, le=16, description="how many frames to show")
    start_s: float | None = Field(None, ge=0, description="start of the time range (default: clip start)")
    end_s: float | None = Field(None, ge=0, description="end of the time range (default: clip end)")


def contact_sheet(images: list[np.ndarray], labels: list[str], cell_width: int = 320) -> np.ndarray:
    """Tile images in rows of up to four, each labelled in its corner."""
    cols = min(4, len(images))
    rows = -(-len(images) // cols)
    h0, w0 = images[0].shape[:2]
    cell_h = max(1, int(round(h0 * cell_width / w0)))
    sheet = np.zeros((rows * cell_h, cols * cell_width, 3), np.uint8)
    for i, (img, label) in enumerate(zip(images, labels)):
        r, c = divmod(i, cols)
        tile = cv2.resize(img, (cell_width, cell_h), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        sheet[r * cell_h:(r + 1) * cell_h, c * cell_width:(c + 1) * cell_width] = tile
    return sheet


class SampleFrames(Tool):
    name = "sample_frames"
    description = (
        "Show frames of the clip as one contact-sheet image. With no arguments: the uniformly "
        "sampled frames at full resolution. With start_s/end_s: a closer look at that time range "
        "from the low-resolution motion stream."
    )
    Args = SampleArgs
    version = "1"
    evidence_model = SampledFrames

    def run(self, ctx, args: SampleArgs) -> Observation:
        fs = ctx.frames
        whole = args.start_s is None and args.end_s is None and args.count == len(fs.sampled)
        if whole:
            picked = [(f.time_s, f.image) for f in fs.sampled]
        else:
            motion = fs.motion
            start = args.start_s or 0.0
            end = args.end_s if args.end_s is not None else fs.duration_s
            if end <= start:
                return Observation({"error": f"end_s ({end}) must be after start_s ({start})"}, ok=False)
            wanted = np.linspace(start, end, args.count)
            idx = sorted({motion.nearest(t) for t in wanted})
            picked = [(float(motion.times[i]), motion.frames[i]) for i in idx]
        times = [round(t, 2) for t, _ in picked]
        labels = [f"{t:.2f}s" for t in times]  # labels are for the viewer; captions never cite them
        sheet = contact_sheet([img for _, img in picked], labels)
        path = ctx.output_path("frames", f"sheet_{len(ctx.records):02d}.jpg")
        cv2.imwrite(str(path), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
        evidence = SampledFrames(times_s=times, full_resolution=whole, images=[str(path)])
        return Observation({"frames": len(times), "times_s": times, "image": "attached below"}, evidence, [path])


@hookimpl
def register_tools():
    return [SampleFrames()]
