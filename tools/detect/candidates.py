"""What detection works with: a candidate instance in one sampled frame, and a track of candidates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tools.geometry import mask_box, mask_centre

PERSON = "person"


@dataclass
class Candidate:
    box: tuple[float, float, float, float]  # normalised x0, y0, x1, y1
    mask: np.ndarray | None  # low-res boolean mask of the component (None for detector-only boxes)
    area: float
    colour: np.ndarray  # mean Lab
    source: str  # 'motion', 'hog', 'face', 'upper_body', 'appearance', or the recogniser's model name
    person_votes: int = 0
    labels: dict[str, float] = field(default_factory=dict)  # a recogniser's class -> best score in this sighting
    _centre: tuple[float, float] | None = field(default=None, init=False, repr=False)

    @property
    def centre(self) -> tuple[float, float]:
        """The mask's centroid where there is a mask (a person box can reach far past what moved),
        else the box's centre."""
        if self._centre is None:
            if self.mask is not None and self.mask.any():
                self._centre = mask_centre(self.mask)
            else:
                self._centre = ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)
        return self._centre

    def mask_box(self) -> tuple[float, float, float, float]:
        """The bounding box of the mask (the box itself when there is no mask)."""
        if self.mask is None or not self.mask.any():
            return self.box
        return mask_box(self.mask)


@dataclass
class Track:
    items: dict[int, Candidate] = field(default_factory=dict)

    def last(self) -> tuple[int, Candidate]:
        k = max(self.items)
        return k, self.items[k]

    def predicted(self, k: int) -> tuple[float, float]:
        """Where the track's motion puts it at sample ``k`` (its only position if seen once)."""
        return expected_centre(self.items, k) or self.last()[1].centre


def expected_centre(items: dict[int, Candidate], k: int) -> tuple[float, float] | None:
    """Where the other sightings in ``items`` put the instance at sample ``k``: between its
    neighbours, or carried on from the two sightings nearest to an end."""
    keys = sorted(j for j in items if j != k)
    before, after = [j for j in keys if j < k], [j for j in keys if j > k]
    if before and after:
        a, b = before[-1], after[0]
    elif len(before) >= 2:
        a, b = before[-2], before[-1]
    elif len(after) >= 2:
        a, b = after[0], after[1]
    else:
        return None
    ca, cb = items[a].centre, items[b].centre
    f = (k - a) / (b - a)
    return ca[0] + f * (cb[0] - ca[0]), ca[1] + f * (cb[1] - ca[1])
