"""The motion stream: low-resolution frames at a fixed rate over the whole clip, and which of them
a run keeps (a long clip holds only those near the samples and a spread over the clip)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Motion frames kept: those within this many seconds of a sample (detection's backgrounds reach
# 4 s away from it), and this many more spread over the clip (closer looks at any time range).
KEEP_AROUND_S = 4.2
OVERVIEW_FRAMES = 64

class MotionFrames:
    """The motion stream's frames by position; a long clip holds only some of them.

    ``len`` counts every motion frame; indexing a frame that was not kept raises ``LookupError``
    (see :meth:`has`). Short clips keep them all.
    """

    def __init__(self) -> None:
        self._kept: dict[int, np.ndarray] = {}
        self._count = 0

    def append(self, image: np.ndarray | None) -> None:
        if image is not None:
            self._kept[self._count] = image
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def has(self, i: int) -> bool:
        return (i + self._count if i < 0 else i) in self._kept

    def __getitem__(self, i: int) -> np.ndarray:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._count))]
        j = i + self._count if isinstance(i, (int, np.integer)) and i < 0 else i
        try:
            return self._kept[int(j)]
        except (KeyError, TypeError, ValueError):
            if not isinstance(i, (int, np.integer)):
                raise TypeError("motion frames are indexed by position") from None
            raise LookupError(f"motion frame {i} of {self._count} was not kept (a long clip keeps the frames "
                              f"within {KEEP_AROUND_S:g} s of each sample)") from None

    def __iter__(self):
        for i in range(self._count):
            yield self[i]

    def kept(self) -> list[int]:
        return sorted(self._kept)


@dataclass
class MotionStream:
    times: np.ndarray  # seconds, increasing: every motion frame
    frames: MotionFrames  # BGR uint8 at low resolution (some of them in a long clip)
    indices: list[int]  # index of each frame among the decoded frames
    scale: float  # low-res pixels per full-res pixel
    width: int = 0  # size of a motion frame
    height: int = 0
    _kept_idx: np.ndarray | None = field(default=None, repr=False)

    def nearest(self, t: float) -> int:
        """The kept motion frame nearest time ``t`` (-1 when there is none)."""
        if self._kept_idx is None:
            self._kept_idx = np.asarray(self.frames.kept(), dtype=int)
        if not len(self._kept_idx):
            return -1
        return int(self._kept_idx[int(np.argmin(np.abs(self.times[self._kept_idx] - t)))])
