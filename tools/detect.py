"""``detect_instances``: find and track the main instances across the sampled frames.

Classical backend (no weights):

1. camera-compensated foreground: for each sampled time, other frames of the motion stream (up to
   4 s away, both ways where the clip allows, more of them on one side near the clip's ends) are
   warped onto it with the camera estimator's per-pair transforms; their per-pixel median is the
   background, and what differs from it is foreground;
2. connected components of the foreground are the candidate instances;
3. OpenCV's HOG person detector (on tall candidates and on a few whole frames) and its face and
   upper-body cascades recognise people, including people who do not move;
4. candidates are linked across the sampled frames by position, predicted motion and colour; the
   N best tracks by persistence and size over all frames become the instances;
5. each chosen track is repaired: sightings that jump away from its motion (a switch to another
   object, two objects touching) are cut, and samples where it was not seen are searched for its
   appearance (masked template matching around the predicted position).

In a clip that cuts between shots (``tools/shots.py``), backgrounds, tracks, merges and gap filling
all stay within one shot, and a track needs no more sightings than its shot has samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.core.evidence import Instances, InstanceTrack
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool

from .instance_evidence import fill_evidence
from .parallel import thread_map
from .recognise import ANIMALS
from .shots import motion_shots, sample_shots

# Frames compared with each sampled frame, as time offsets taken both ways where the clip has them.
NEIGHBOUR_OFFSETS_S = (0.6, 1.2, 2.0, 3.0, 4.0)
EXTRA_OFFSETS_S = (0.9, 1.6, 2.5, 0.3)  # in-between offsets, used when too few of the above fit in the clip
NEIGHBOURS = 9  # frames in one background median, where the clip has them
MIN_AREA = 0.002  # of the frame


class DetectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_instances: int | None = Field(None, ge=0, le=20, description="most instances to keep (default from settings)")


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
                ys, xs = np.nonzero(self.mask)
                h, w = self.mask.shape
                self._centre = ((float(xs.mean()) + 0.5) / w, (float(ys.mean()) + 0.5) / h)
            else:
                self._centre = ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)
        return self._centre

    def mask_box(self) -> tuple[float, float, float, float]:
        """The bounding box of the mask (the box itself when there is no mask)."""
        if self.mask is None or not self.mask.any():
            return self.box
        ys, xs = np.nonzero(self.mask)
        h, w = self.mask.shape
        return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


@dataclass
class Track:
    items: dict[int, Candidate] = field(default_factory=dict)

    def last(self) -> tuple[int, Candidate]:
        k = max(self.items)
        return k, self.items[k]

    def predicted(self, k: int) -> tuple[float, float]:
        """Where the track's motion puts it at sample ``k`` (its only position if seen once)."""
        return _expected(self.items, k) or self.last()[1].centre


# -- foreground --------------------------------------------------------------------------------
def _cumulative(pairs, count: int) -> list[np.ndarray]:
    """3x3 transforms mapping motion frame 0 to each motion frame i (identity over failed pairs)."""
    acc = [np.eye(3)]
    for i in range(count - 1):
        m = pairs[i].matrix if i < len(pairs) and pairs[i].matrix is not None else None
        step = np.vstack([m, [0, 0, 1]]) if m is not None else np.eye(3)
        acc.append(step @ acc[-1])
    return acc


def neighbours(times: np.ndarray, j: int, shots: np.ndarray | None = None) -> list[int]:
    """Motion frames to build frame ``j``'s background from (from ``j``'s shot only, given ``shots``).

    The offsets of NEIGHBOUR_OFFSETS_S first, both ways where the clip allows: far enough apart that a
    slowly moving object has left its own pixels in most of them. Near the clip's ends, and in short
    clips, fewer of them fit, so in-between offsets are added: with few frames, all on one side, a
    moving object covers half of them at some pixel, and a median over frames that show the object
    leaves a ghost of it.
    """
    def inside(off: float) -> int | None:
        t = times[j] + off
        if t < times[0] - 0.3 or t > times[-1] + 0.3:
            return None
        n = int(np.argmin(np.abs(times - t)))
        return n if n != j and (shots is None or shots[n] == shots[j]) else None

    chosen: list[int] = []
    both_ways = [o * s for o in NEIGHBOUR_OFFSETS_S for s in (-1, 1)]
    for offsets in (sorted(both_ways, key=abs), [o * s for o in EXTRA_OFFSETS_S for s in (-1, 1)]):
        for off in offsets:
            if len(chosen) >= NEIGHBOURS:
                break
            n = inside(off)
            if n is not None and n not in chosen:
                chosen.append(n)
    return sorted(chosen)


def sort_pixelwise(images: list[np.ndarray]) -> list[np.ndarray]:
    """The images sorted value by value (per pixel and channel), smallest first.

    An odd-even transposition network of element-wise min/max: for the few frames a background is
    built from, 25x faster than ``np.partition`` along a stacked axis.
    """
    out = list(images)
    for r in range(len(out)):
        for i in range(r % 2, len(out) - 1, 2):
            out[i], out[i + 1] = cv2.min(out[i], out[i + 1]), cv2.max(out[i], out[i + 1])
    return out


def foreground(frames: list[np.ndarray], times: np.ndarray, acc: list[np.ndarray], j: int,
               shots: np.ndarray | None = None) -> np.ndarray:
    """Boolean foreground mask of motion frame ``j`` against its camera-compensated neighbours.

    ``acc`` holds the transforms from motion frame 0 to each frame (see ``_cumulative``); ``shots``
    the shot of each frame, so that no neighbour comes from the other side of a cut.
    """
    target = frames[j]
    h, w = target.shape[:2]
    chosen = neighbours(times, j, shots)
    if not chosen:
        return np.zeros((h, w), bool)
    stack = []
    for n in sorted(chosen):
        m = (acc[j] @ np.linalg.inv(acc[n]))[:2]
        warped = cv2.warpAffine(frames[n], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=(0, 0, 0))
        valid = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        valid = cv2.erode(valid, np.ones((5, 5), np.uint8)) > 0
        warped[~valid] = target[~valid]  # outside the neighbour's view: no vote for foreground
        stack.append(warped)
    # the per-pixel median. With an even count the two middle values are both kept and the one
    # nearer the target counts: when half of the neighbours show a moving object at a pixel, that
    # pixel is not called foreground (no ghosts).
    ordered = sort_pixelwise(stack)
    mid = len(stack) // 2
    smooth = cv2.GaussianBlur(target, (5, 5), 0)
    if len(stack) % 2:
        diff = cv2.absdiff(smooth, cv2.GaussianBlur(ordered[mid], (5, 5), 0)).max(axis=2)
    else:
        diff = np.minimum(cv2.absdiff(smooth, cv2.GaussianBlur(ordered[mid - 1], (5, 5), 0)),
                          cv2.absdiff(smooth, cv2.GaussianBlur(ordered[mid], (5, 5), 0))).max(axis=2)
    noise = float(np.median(diff))
    fg = (diff > max(24.0, 4.0 * noise + 8.0)).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    k = max(3, int(round(min(h, w) * 0.04)) | 1)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return fg > 0


def components(mask: np.ndarray, image: np.ndarray) -> list[Candidate]:
    h, w = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < MIN_AREA * h * w:
            continue
        fill = area / float(bw * bh)
        if fill < 0.15:  # thin outlines are registration errors, not objects
            continue
        comp = labels == i
        out.append(Candidate((x / w, y / h, (x + bw) / w, (y + bh) / h), comp, area / float(h * w),
                             lab[comp].mean(axis=0), "motion"))
    return out


# -- recognising people ------------------------------------------------------------------------
CASCADE_STEP = 1.1  # scale step of the Haar cascades; 1.2 takes 0.6x the time but loses the people in bikes.mp4
CASCADE_SIZE = 360  # long side of the frame the Haar cascades search (480 took 1.8x the time, same people)
HOG_SIZE = 480  # long side of the frame the whole-body HOG searches
MIN_FACE = 1 / 14  # smallest frontal face searched for, as a share of the frame's height
MIN_PROFILE_FACE = 1 / 7  # profile faces (the costliest cascade): close views only, on a few frames
MAX_FACE = 0.7  # larger "faces" are hits on texture at the coarsest scales (bikes.mp4's wheel close-up: 0.81)


COLOUR_GATE = 0.6  # most colour change (CIELAB distance / 100) a track accepts; 0.4 measured worse (80.1% cells)
FACE_NEIGHBOURS = 6  # overlapping hits a face needs; fewer lets textures pass as faces
BODY_NEIGHBOURS = 4


class PeopleFinder:
    def __init__(self):
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        root = cv2.data.haarcascades
        self.faces_cascades = [cv2.CascadeClassifier(root + "haarcascade_frontalface_default.xml"),
                      cv2.CascadeClassifier(root + "haarcascade_profileface.xml")]
        self.upper_body = cv2.CascadeClassifier(root + "haarcascade_upperbody.xml")

    def verify(self, image: np.ndarray, box) -> bool:
        """HOG on a crop around a candidate, scaled so a person would fill the detector window."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box
        bh = (y1 - y0) * h
        if bh < 24 or (y1 - y0) * h < 1.2 * (x1 - x0) * w:
            return False
        pad_x, pad_y = 0.5 * (x1 - x0) * w + 8, 0.2 * bh + 8
        cx0, cy0 = int(max(0, x0 * w - pad_x)), int(max(0, y0 * h - pad_y))
        cx1, cy1 = int(min(w, x1 * w + pad_x)), int(min(h, y1 * h + pad_y))
        crop = image[cy0:cy1, cx0:cx1]
        scale = 150.0 / max(bh, 1)
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        if crop.shape[0] < 128 or crop.shape[1] < 64:
            crop = cv2.copyMakeBorder(crop, 0, max(0, 128 - crop.shape[0]), 0, max(0, 64 - crop.shape[1]),
                                      cv2.BORDER_REPLICATE)
        rects, weights = self.hog.detectMultiScale(crop, winStride=(8, 8), padding=(16, 16), scale=1.1)
        return len(rects) > 0 and float(np.max(weights)) > 0.3

    def faces(self, image: np.ndarray, neighbours: int = FACE_NEIGHBOURS) -> list[tuple[float, float, float, float]]:
        """Frontal and profile faces as normalised boxes (the face itself, not the person)."""
        gray = _cascade_gray(image)
        sh, sw = gray.shape
        out = []
        for cascade in self.faces_cascades:
            for x, y, fw, fh in cascade.detectMultiScale(gray, CASCADE_STEP, neighbours,
                                                         minSize=(max(20, int(sh * MIN_FACE)),) * 2,
                                                         maxSize=(int(sh * MAX_FACE),) * 2):
                out.append((x / sw, y / sh, (x + fw) / sw, (y + fh) / sh))
        return out

    def find(self, image: np.ndarray, whole_body: bool = True,
             profiles: bool = True) -> list[tuple[tuple[float, float, float, float], str, float]]:
        """People in a whole frame, as (normalised box, source, score).

        Faces (frontal, and profile when ``profiles``) and upper bodies come from Haar cascades,
        whole bodies from HOG when ``whole_body``; callers ask for the costly ones on some frames only.
        """
        found = []
        if whole_body:
            h, w = image.shape[:2]
            scale = HOG_SIZE / max(h, w)
            small = cv2.resize(image, None, fx=scale, fy=scale,
                               interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            sh, sw = small.shape[:2]
            rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.08)
            for (x, y, bw, bh), wt in zip(rects, np.ravel(weights) if len(rects) else []):
                if wt > 0.5:
                    found.append(((x / sw, y / sh, (x + bw) / sw, (y + bh) / sh), "hog", float(wt)))
        gray = _cascade_gray(image)
        sh, sw = gray.shape
        searches = [(self.faces_cascades[0], MIN_FACE)]
        if profiles:
            searches.append((self.faces_cascades[1], MIN_PROFILE_FACE))
        for cascade, min_face in searches:
            for x, y, fw, fh in cascade.detectMultiScale(gray, CASCADE_STEP, FACE_NEIGHBOURS,
                                                         minSize=(max(20, int(sh * min_face)),) * 2,
                                                         maxSize=(int(sh * MAX_FACE),) * 2):
                # from a face to the visible person: shoulders on both sides, body down towards the edge
                box = (max(0.0, (x - 1.1 * fw) / sw), max(0.0, (y - 0.4 * fh) / sh),
                       min(1.0, (x + 2.1 * fw) / sw), min(1.0, (y + 6.0 * fh) / sh))
                found.append((box, "face", 1.0))
        for x, y, bw, bh in self.upper_body.detectMultiScale(gray, CASCADE_STEP, BODY_NEIGHBOURS,
                                                             minSize=(max(48, sh // 5),) * 2):
            box = (x / sw, y / sh, min(1.0, (x + bw) / sw), min(1.0, (y + 2.2 * bh) / sh))
            found.append((box, "upper_body", 1.0))
        return found


def _cascade_gray(image: np.ndarray) -> np.ndarray:
    """The frame as the Haar cascades see it: CASCADE_SIZE on its long side, grey, equalised."""
    h, w = image.shape[:2]
    scale = CASCADE_SIZE / max(h, w)
    small = cv2.resize(image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))


_PEOPLE: PeopleFinder | None = None


def people_finder() -> PeopleFinder:
    global _PEOPLE
    if _PEOPLE is None:
        _PEOPLE = PeopleFinder()
    return _PEOPLE


# -- tracking ----------------------------------------------------------------------------------
def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def contains(outer, inner, share=0.6) -> bool:
    ix = max(0.0, min(outer[2], inner[2]) - max(outer[0], inner[0]))
    iy = max(0.0, min(outer[3], inner[3]) - max(outer[1], inner[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return area > 0 and ix * iy / area >= share


def link(per_frame: list[list[Candidate]], max_gap: int = 2, shots: list[int] | None = None) -> list[Track]:
    """Tracks from per-sample candidates; with ``shots`` (per sample), no track crosses a cut."""
    tracks: list[Track] = []
    for k, cands in enumerate(per_frame):
        pairs = []
        for ti, tr in enumerate(tracks):
            last_k, last = tr.last()
            people_only = last.source != "motion" or bool(last.labels)  # recognised: followed over longer gaps
            if k - last_k > (len(per_frame) if people_only else max_gap):
                continue
            if shots is not None and shots[k] != shots[last_k]:
                continue
            px, py = tr.predicted(k)
            track_label = _label(tr)
            for ci, c in enumerate(cands):
                families = {family(x) for x in c.labels}
                if track_label and c.labels and family(track_label) not in families:
                    continue  # a recognised car does not become a recognised person
                dist = math.hypot(c.centre[0] - px, c.centre[1] - py)
                size = math.sqrt(max(last.area, c.area))
                colour = float(np.linalg.norm(c.colour - last.colour)) / 100.0
                same_class = bool(track_label) and family(track_label) in families
                same_thing = same_class and iou(c.box, last.box) > 0.3
                if (dist > 0.12 + 1.5 * size or colour > COLOUR_GATE) and not same_thing:
                    continue
                cost = dist + 0.3 * colour - 0.2 * iou(c.box, last.box)
                if c.labels:  # a recognised sighting goes to the track of its class before any other
                    cost += -0.3 if same_class else 0.3
                pairs.append((cost, ti, ci))
        used_t, used_c = set(), set()
        for _, ti, ci in sorted(pairs):
            if ti in used_t or ci in used_c:
                continue
            tracks[ti].items[k] = cands[ci]
            used_t.add(ti)
            used_c.add(ci)
        for ci, c in enumerate(cands):
            if ci not in used_c:
                tracks.append(Track({k: c}))
    return tracks


# -- repairing tracks ----------------------------------------------------------------------------
JUMP = 0.5  # a sighting further than this many object sizes (+ JUMP_SLACK) from the track's motion is cut
JUMP_SLACK = 0.03
MATCH_SCORE = 0.75  # least normalised correlation for an appearance match filling a gap


def family(label: str) -> str:
    """Classes a recogniser confuses with each other are one thing to a tracker (a rabbit that NanoDet
    calls a sheep, then a bird)."""
    return "animal" if label in ANIMALS else label


def join_recognised(tracks: list[Track], shots: list[int]) -> list[Track]:
    """Join tracks of the same recognised class that follow one another in a shot where they meet (the
    linker lost the thing for a sample): one person is one instance, not two halves."""
    tracks = sorted(tracks, key=lambda t: min(t.items))
    out: list[Track] = []
    for tr in tracks:
        label = _label(tr)
        host = None
        if label is not None:
            first = min(tr.items)
            for other in out:
                other_label = _label(other)
                last = max(other.items)
                if other_label is None or family(other_label) != family(label) or shots[last] != shots[first]:
                    continue
                if len(set(other.items) & set(tr.items)) > 1 or first < min(other.items):
                    continue
                after = [k for k in tr.items if k > last]
                a = other.items[last].box  # where the earlier track was last seen, and the later one's next sighting
                b = tr.items[min(after)].box if after else tr.items[first].box
                if iou(a, b) > 0.3 or contains(a, b, 0.7) or contains(b, a, 0.7):
                    host = other
                    break
        if host is None:
            out.append(tr)
            continue
        for k, c in tr.items.items():
            if k not in host.items or c.area > host.items[k].area:
                host.items[k] = c
    return out


def _label(track: Track) -> str | None:
    """The recognised class of a track so far (summed over its sightings), or None."""
    votes: dict[str, float] = {}
    for c in track.items.values():
        for label, score in c.labels.items():
            votes[label] = votes.get(label, 0.0) + score
    return max(votes, key=votes.get) if votes else None


def _size(track: Track) -> float:
    return math.sqrt(float(np.median([c.area for c in track.items.values()])))


def _expected(items: dict[int, Candidate], k: int) -> tuple[float, float] | None:
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


def _substantial(track: Track) -> dict[int, Candidate]:
    """The sightings that are not small fragments of the instance (those judge the others)."""
    typical = float(np.median([c.area for c in track.items.values()]))
    big = {k: c for k, c in track.items.items() if c.area >= 0.3 * typical}
    return big if len(big) >= 2 else dict(track.items)


def cut_jumps(track: Track) -> list[int]:
    """Remove sightings far from both where the track's motion puts them and from the nearest other
    sighting: the linker's switches to another object, and blobs where two objects touched.
    Returns the samples cut."""
    cut: list[int] = []
    budget = len(track.items) // 4  # a track that jumps more often than this is not one moving thing
    while len(track.items) >= 4 and len(cut) < budget:
        size = _size(track)
        refs = _substantial(track)
        worst, worst_err = None, 0.0
        for k, c in track.items.items():
            exp = _expected(refs, k)
            if exp is None:  # fewer than two other sightings to judge it by
                continue
            nearest = refs[min((j for j in refs if j != k), key=lambda j: abs(j - k))].centre
            err = min(math.dist(c.centre, exp), math.dist(c.centre, nearest)) / (JUMP * size + JUMP_SLACK)
            if err > 1.0 and err > worst_err:
                worst, worst_err = k, err
        if worst is None:
            break
        del track.items[worst]
        cut.append(worst)
    return cut


def fill_gaps(track: Track, frames: list[np.ndarray], claimed: dict[int, list[tuple]],
              shots: list[int] | None = None) -> list[int]:
    """Find the instance by its appearance in sampled frames where the track has no sighting.

    The nearest sighting with a mask is the template (its pixels only, the background masked out);
    it is searched for around the position the track's motion predicts, and accepted only on a strong
    match that does not land on another instance, and only in the track's own shot (given ``shots``,
    per sample). Returns the samples filled."""
    filled: list[int] = []
    tried: set[int] = set()
    if shots is not None and track.items:
        own = shots[next(iter(track.items))]
        tried = {k for k in range(len(frames)) if shots[k] != own}
    while True:
        # nearest gaps first, so that a filled sample can be the template for the next one
        gaps = sorted((k for k in range(len(frames)) if k not in track.items and k not in tried),
                      key=lambda k: min(abs(k - j) for j in track.items))
        if not gaps or len(track.items) < 2:
            return filled
        k = gaps[0]
        tried.add(k)
        refs = _substantial(track)
        src_k = min((j for j in refs if refs[j].mask is not None), key=lambda j: abs(j - k), default=None)
        exp = _expected(refs, k)
        if src_k is None or exp is None or abs(src_k - k) > 2:
            continue
        src = track.items[src_k]
        h, w = src.mask.shape
        mb = src.mask_box()
        x0, y0, x1, y1 = (int(round(mb[0] * w)), int(round(mb[1] * h)), int(round(mb[2] * w)), int(round(mb[3] * h)))
        tw, th = x1 - x0, y1 - y0
        if tw < 6 or th < 6 or x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h:
            continue  # a template cut by the frame's edge would match the edge
        template = frames[src_k][y0:y1, x0:x1]
        tmask = src.mask[y0:y1, x0:x1].astype(np.uint8) * 255
        cx, cy = exp[0] * w, exp[1] * h
        rx, ry = tw, th  # search a box's size around the prediction
        sx0, sy0 = int(max(0, cx - tw / 2 - rx)), int(max(0, cy - th / 2 - ry))
        sx1, sy1 = int(min(w, cx + tw / 2 + rx)), int(min(h, cy + th / 2 + ry))
        if sx1 - sx0 < tw or sy1 - sy0 < th:
            continue
        scores = cv2.matchTemplate(frames[k][sy0:sy1, sx0:sx1], template, cv2.TM_CCORR_NORMED, mask=tmask)
        scores = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
        _, _, _, (bx, by) = cv2.minMaxLoc(scores)
        # TM_CCORR is high on any bright patch; confirm with the correlation of mean-removed pixels
        patch = frames[k][sy0 + by:sy0 + by + th, sx0 + bx:sx0 + bx + tw].astype(np.float32)
        m = tmask > 0
        a, b = patch[m] - patch[m].mean(axis=0), template[m].astype(np.float32) - template[m].mean(axis=0)
        denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
        score = float((a * b).sum() / denom) if denom > 0 else 0.0
        if score < MATCH_SCORE:
            continue
        nx0, ny0 = sx0 + bx, sy0 + by
        box = (nx0 / w, ny0 / h, (nx0 + tw) / w, (ny0 + th) / h)
        if any(iou(box, other) > 0.3 for other in claimed.get(k, [])):
            continue
        mask = np.zeros_like(src.mask)
        mask[ny0:ny0 + th, nx0:nx0 + tw] = src.mask[y0:y1, x0:x1]
        track.items[k] = Candidate(box, mask, src.area, src.colour, "appearance", person_votes=0,
                                   labels=dict(src.labels))
        filled.append(k)


def shape_word(mask: np.ndarray | None) -> str | None:
    if mask is None or mask.sum() < 30:
        return None
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(c)
    perim = cv2.arcLength(c, True)
    if area <= 0 or perim <= 0:
        return None
    circularity = 4 * math.pi * area / perim ** 2
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    rect_fill = area / max(rw * rh, 1e-6)
    aspect = max(rw, rh) / max(min(rw, rh), 1e-6)
    hull_fill = area / max(cv2.contourArea(cv2.convexHull(c)), 1e-6)
    approx = cv2.approxPolyDP(c, 0.06 * perim, True)
    if aspect > 2.5:
        return "elongated"
    if len(approx) == 3 and hull_fill > 0.85:
        return "triangular"
    if rect_fill > 0.86 and aspect < 1.3:
        return "square"
    if rect_fill > 0.86:
        return "rectangular"
    if circularity > 0.78 and aspect < 1.3:
        return "round"
    if hull_fill < 0.75:
        return "irregular"
    return "compact"


def _attach_person(cands: list[Candidate], box, source: str, small: np.ndarray) -> list[Candidate]:
    """A person box absorbs the motion fragments inside it (they are parts of that person)."""
    members = [c for c in cands if c.source == "motion" and (iou(c.box, box) > 0.3 or contains(box, c.box))]
    already = [c for c in cands if (c.source != "motion" and iou(c.box, box) > 0.5)
               or (c.person_votes and contains(c.box, box, 0.8))]  # a face inside a person found already
    if already:
        already[0].person_votes += 1
        return cands
    sh, sw = small.shape[:2]
    if members:
        rest = [c for c in cands if c not in members]
        mask = np.zeros_like(members[0].mask)
        for c in members:
            mask |= c.mask
        ys, xs = np.nonzero(mask)
        merged_box = (min(xs.min() / sw, box[0]), min(ys.min() / sh, box[1]),
                      max((xs.max() + 1) / sw, box[2]), max((ys.max() + 1) / sh, box[3]))
        merged_box = tuple(float(np.clip(v, 0, 1)) for v in merged_box)
        votes = sum(c.person_votes for c in members) + 1
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)
        return rest + [Candidate(merged_box, mask, float(mask.mean()), lab[mask].mean(axis=0), "motion",
                                 person_votes=votes)]
    x0, y0, x1, y1 = (int(box[0] * sw), int(box[1] * sh), int(box[2] * sw), int(box[3] * sh))
    region = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)].reshape(-1, 3)
    return cands + [Candidate(tuple(float(v) for v in box), None, (box[2] - box[0]) * (box[3] - box[1]),
                              region.mean(axis=0), source, person_votes=1)]


def _attach_recognised(cands: list[Candidate], box, label: str, score: float, source: str,
                       small: np.ndarray, still_score: float = 0.0) -> list[Candidate]:
    """A recogniser's box (with its class) absorbs the motion fragments inside it, or adds a still
    instance of that class where nothing moved."""
    same = [c for c in cands if c.labels and iou(c.box, box) > 0.5]  # one thing, maybe under two names
    if same:
        same[0].labels[label] = max(same[0].labels.get(label, 0.0), score)
        return cands
    members = [c for c in cands if c.source == "motion" and not c.labels
               and (iou(c.box, box) > 0.3 or contains(box, c.box, 0.6) or contains(c.box, box, 0.6))]
    person = int(label == PERSON)
    sh, sw = small.shape[:2]
    if not members and score < still_score:
        return cands  # where nothing moved, only a sure detection is an instance
    if members:
        rest = [c for c in cands if c not in members]
        mask = np.zeros_like(members[0].mask)
        for c in members:
            mask |= c.mask
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)
        return rest + [Candidate(tuple(float(np.clip(v, 0, 1)) for v in box), mask, float(mask.mean()),
                                 lab[mask].mean(axis=0), "motion", person_votes=person, labels={label: score})]
    x0, y0, x1, y1 = (int(box[0] * sw), int(box[1] * sh), int(box[2] * sw), int(box[3] * sh))
    region = cv2.cvtColor(small, cv2.COLOR_BGR2LAB)[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)].reshape(-1, 3)
    return cands + [Candidate(tuple(float(v) for v in box), None, (box[2] - box[0]) * (box[3] - box[1]),
                              region.mean(axis=0), source, person_votes=person, labels={label: score})]


# -- the tool ----------------------------------------------------------------------------------
PERSON = "person"


def detect_classical(ctx, max_instances: int, recogniser=None) -> tuple[Instances, dict[str, list]]:
    """Instances from motion and recognition. ``recogniser`` (the packaged tier, :mod:`tools.recognise`)
    names what it finds in every sampled frame, moving or not, in place of the people cascades."""
    fs = ctx.frames
    sampled = fs.sampled
    motion = fs.motion
    ctx.require("estimate_camera_motion")
    acc = _cumulative(ctx.artifacts.get("camera.pairs", []), len(motion.frames))
    finder = people_finder() if recogniser is None else None
    per_frame: list[list[Candidate]] = []
    smalls: list[np.ndarray] = []  # the motion frame nearest each sample, where the masks live
    n = len(sampled)
    # whole-body HOG and the profile-face cascade, the costly searches, run on these frames only
    whole_frame_checks = {0, n // 2, n - 1} if n > 2 else set(range(n))
    nearest = [motion.nearest(frame.time_s) for frame in sampled]
    frame_shots = motion_shots(ctx)
    shots = sample_shots(ctx)
    moving = thread_map(lambda j: components(foreground(motion.frames, motion.times, acc, j, frame_shots),
                                             motion.frames[j]) if len(motion.frames) > 1 else [], nearest)
    found = recogniser.frames([f.image for f in sampled]) if recogniser is not None else None
    for k, frame in enumerate(sampled):
        j, cands = nearest[k], moving[k]
        smalls.append(motion.frames[j])
        if found is not None:
            for box, label, score in found[k]:
                cands = _attach_recognised(cands, box, label, score, recogniser.name, motion.frames[j],
                                           recogniser.still_score)
            per_frame.append(cands)
            continue
        for c in cands:
            if finder.verify(frame.image, c.box):
                c.person_votes += 1
        for box, source, _ in finder.find(frame.image, whole_body=k in whole_frame_checks,
                                          profiles=k in whole_frame_checks):
            cands = _attach_person(cands, box, source, motion.frames[j])
        per_frame.append(cands)

    tracks = link(per_frame, shots=shots)
    if recogniser is not None:
        tracks = join_recognised(tracks, shots)
    min_seen = 1 if n < 3 else max(2, int(math.ceil(0.3 * n)))
    scored = []
    for tr in tracks:
        seen = len(tr.items)
        in_shot = shots.count(shots[next(iter(tr.items))])  # a short shot holds few samples to be seen in
        # recognised in every sighting (a person, or anything the recogniser named)
        people_only = all(c.person_votes > 0 or c.labels for c in tr.items.values())
        if seen < min(in_shot, min(2, len(whole_frame_checks)) if people_only else min_seen):
            continue
        if people_only and seen < min(in_shot, min_seen) and _box_area_ratio(tr) > 3.0:
            continue  # a few detector hits whose boxes disagree in size: hits on texture, not one person
        if recogniser is not None and not any(c.source in ("motion", "appearance") for c in tr.items.values()) \
                and not recogniser.names_still([c.labels for c in tr.items.values()]):
            continue  # where nothing moved, only what the detector itself names surely is an instance
        mean_area = float(np.mean([c.area for c in tr.items.values()]))
        votes = sum(c.person_votes for c in tr.items.values())
        if recogniser is not None:  # what the recogniser named, by how sure it was
            votes = sum(max(c.labels.values(), default=0.0) for c in tr.items.values()) * 2
        boost = 2.0 if votes >= 2 else 1.0  # a recognised instance is a main instance before any blob
        scored.append((boost * seen / n * math.sqrt(mean_area), tr))
    scored.sort(key=lambda s: -s[0])
    ranked = [tr for _, tr in scored]
    if recogniser is not None and len(set(shots)) > 1:  # a montage: each shot's dominant class is a main instance
        from .recognise import montage_order

        ranked = montage_order(ranked, lambda tr: shots[min(tr.items)],
                               lambda tr: family(_label(tr)) if _label(tr) else None)
    chosen: list[Track] = []
    for tr in ranked:
        if len(chosen) == max_instances:
            break
        owner = next((better for better in chosen if _part_of(tr, better, shots)), None)
        if owner is None:
            chosen.append(tr)
        else:  # the same person: its sightings fill the frames the better track lacks
            for k, item in tr.items.items():
                owner.items.setdefault(k, item)
    if len(motion.frames) > 1:
        for tr in chosen:
            cut_jumps(tr)
        for tr in chosen:
            claimed = {}
            for other in chosen:
                if other is not tr:
                    for k, item in other.items.items():
                        claimed.setdefault(k, []).append(item.box)
            fill_gaps(tr, smalls, claimed, shots)
    namings = {}
    if recogniser is not None:
        from .recognise import drop_strays

        for tr in chosen:
            tr.items = drop_strays(tr.items)
            biggest_first = sorted(tr.items, key=lambda k: -tr.items[k].area)[:3]
            namings[id(tr)] = recogniser.name_track([c.labels for c in tr.items.values()],
                                                    [_crop(sampled[k].image, tr.items[k].box) for k in biggest_first])
        # a box the detector found where nothing moved, that no model could name, is a hit on texture
        chosen = [tr for tr in chosen if namings[id(tr)].name != "object"
                  or any(c.source in ("motion", "appearance") for c in tr.items.values())]
        # a moving thing no model could name keeps its size from frame to frame; scenery moving through a car's
        # window or behind a person swells and shrinks: say less rather than something wrong
        chosen = [tr for tr in chosen if namings[id(tr)].name != "object" or _steady_size(tr) <= STEADY_SIZE]
        # an unnamed track that lies inside a named one is a part of it (a rabbit's ears, a man's moving arm)
        named = [tr for tr in chosen if namings[id(tr)].name != "object"]
        chosen = [tr for tr in chosen if tr in named or not any(_inside(tr, other, shots) for other in named)]
        if named:  # beside named things, an unnamed one must hold through most of its shot to be a thing
            chosen = [tr for tr in chosen if tr in named
                      or len(tr.items) >= UNNAMED_SEEN * shots.count(shots[next(iter(tr.items))])]
    # reading order: largest first is InstanceCap's habit; we keep score order
    instances, masks = [], {}
    times = [f.time_s for f in sampled]
    for idx, tr in enumerate(chosen):
        votes = sum(c.person_votes for c in tr.items.values())
        is_person = votes >= 1 and votes >= 0.2 * len(tr.items)
        boxes = [list(map(lambda v: round(float(v), 4), tr.items[k].box)) if k in tr.items else None
                 for k in range(n)]
        low_masks = [tr.items[k].mask if k in tr.items else None for k in range(n)]
        biggest = max(tr.items.values(), key=lambda c: c.area)
        sources = sorted({c.source for c in tr.items.values()})
        naming = namings.get(id(tr))
        track = InstanceTrack(
            id=f"No.{idx}",
            class_name=naming.name if naming else ("person" if is_person else "object"),
            shape=None if is_person or (naming and naming.name != "object") else shape_word(biggest.mask),
            confidence=round(min(1.0, len(tr.items) / n * (0.6 + 0.4 * min(1.0, votes))), 2),
            boxes=boxes,
            recognised_by=sources,
        )
        if naming is not None:
            is_person = naming.name == PERSON
            if naming.by != "none":
                track.recognised_by = sorted({*sources, naming.by})
            track.class_confidence = naming.confidence
            track.class_binding = naming.binding
            track.class_candidates = naming.candidates
        full_masks = [_upsample(m, sampled[k].image.shape) if m is not None else None for k, m in enumerate(low_masks)]
        fill_evidence(track, times, [f.image for f in sampled], full_masks, person=is_person, shots=shots)
        if recogniser is not None and is_person:
            recogniser.describe_person(track, [f.image for f in sampled], times, found)
        instances.append(track)
        masks[track.id] = full_masks
    note = None if instances else "no instances: nothing moved against the background and no person was recognised"
    if recogniser is not None and recogniser.missing:
        note = "; ".join([*([note] if note else []), *dict.fromkeys(recogniser.missing)])
    extra = {}
    if recogniser is not None:
        from .recognise import also_seen

        extra = also_seen(found, [i.boxes for i in instances])
    return Instances(backend="packaged" if recogniser is not None else "classical",
                     model=recogniser.name if recogniser is not None else None, instances=instances, frames_used=n,
                     candidates=sum(len(c) for c in per_frame), note=note, also_seen=extra), masks


UNNAMED_SEEN = 0.6  # share of its shot's samples an unnamed track needs beside named ones (packaged tier)
STEADY_SIZE = 0.8  # most variation (std / mean) of an unnamed instance's area over its sightings (packaged tier)


def _steady_size(track: Track) -> float:
    """How much the track's area varies over its moving sightings away from the frame's edges (coefficient of
    variation; a thing leaving the frame shrinks, and that is no sign of scenery)."""
    areas = [c.area for c in track.items.values() if c.mask is not None and not _at_edge(c.mask_box())]
    if len(areas) < 2:
        return 0.0
    return float(np.std(areas) / max(np.mean(areas), 1e-9))


def _at_edge(box, margin: float = 0.02) -> bool:
    return box[0] <= margin or box[1] <= margin or box[2] >= 1 - margin or box[3] >= 1 - margin


def _crop(image: np.ndarray, box, pad: float = 0.1) -> np.ndarray:
    """The part of ``image`` under a normalised box, with a margin."""
    h, w = image.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = int(max(0, (box[0] - pad * bw) * w)), int(max(0, (box[1] - pad * bh) * h))
    x1, y1 = int(min(w, (box[2] + pad * bw) * w)), int(min(h, (box[3] + pad * bh) * h))
    return image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]


def _box_area_ratio(track: Track) -> float:
    areas = [(c.box[2] - c.box[0]) * (c.box[3] - c.box[1]) for c in track.items.values()]
    return max(areas) / max(min(areas), 1e-6)


def _part_of(track: Track, other: Track, shots: list[int]) -> bool:
    """A recognised person track that mostly lies inside another recognised person's boxes (in the same
    frames or within two samples of the same shot) is a part of that person: a face, an upper body, a
    stretch of the same person that tracking split off."""
    if not any(c.person_votes for c in track.items.values()) or not any(c.person_votes for c in other.items.values()):
        return False
    return _mostly_within(track, other, shots, lambda item, box: iou(item.box, box) > 0.3 or contains(box, item.box))


def _inside(track: Track, other: Track, shots: list[int]) -> bool:
    """Most of ``track``'s sightings lie within ``other``'s box in the same frame (or two samples away in its shot)."""
    return _mostly_within(track, other, shots, lambda item, box: contains(box, item.mask_box(), 0.7))


def _mostly_within(track: Track, other: Track, shots: list[int], within) -> bool:
    """``within(sighting, box)`` holds for 60% of ``track``'s sightings against one of ``other``'s boxes from
    the same sample or up to two samples away in the same shot."""
    inside = 0
    for k, item in track.items.items():
        near = [other.items[j].box for j in other.items if abs(j - k) <= 2 and shots[j] == shots[k]]
        inside += any(within(item, box) for box in near)
    return inside >= 0.6 * len(track.items)


def _upsample(mask: np.ndarray, shape) -> np.ndarray:
    h, w = shape[:2]
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def instance_summary(inst: InstanceTrack) -> dict:
    out = {"id": inst.id, "class": inst.class_name}
    if inst.class_confidence is not None:
        out["class_confidence"] = inst.class_confidence
        if not inst.class_binding:  # the model may correct it from the images; sure classes bind the caption
            out["class_is_advice"] = True
            if inst.class_candidates:
                out["guesses"] = inst.class_candidates
    if inst.action:
        out["action"] = inst.action
    if inst.shape:
        out["shape"] = inst.shape
    out.update({
        "colours": inst.colours[:3], "size": inst.relative_size,
        "from": inst.start_cell, "to": inst.end_cell,
        "motion": f"{inst.motion_speed} {inst.direction}" if inst.direction else inst.motion_speed,
        "seen_in_frames": len(inst.seen()), "confidence": inst.confidence,
    })
    if inst.leaves_frame:
        out["leaves_frame"] = True
    if inst.enters_frame:
        out["enters_frame"] = True
    return out


class DetectInstances(Tool):
    name = "detect_instances"
    description = (
        "Detect and track the main instances (people and moving objects) across the sampled frames. "
        "Returns each instance's class, colours, size, start and end cell on a 3x3 grid and motion."
    )
    Args = DetectArgs
    version = "3"
    evidence_model = Instances
    requires = ("estimate_camera_motion",)
    consumes = ("camera.pairs",)
    produces = ("detect.masks",)  # per instance and sampled frame, at the motion stream's size
    reads_settings = ("backend", "max_instances", "yolo_weights", "yolo_conf", "class_hints",
                      "device", "weights_dir", "allow_downloads", "random_weights")
    stage = "gpu"
    plan = 30

    def run(self, ctx, args: DetectArgs) -> Observation:
        limit = ctx.settings.max_instances if args.max_instances is None else args.max_instances
        backend = ctx.settings.backend
        result, masks = None, {}
        reasons = []
        if backend in ("auto", "neural"):
            result, masks, why = _try_neural(ctx, limit, "packaged" if backend == "auto" else "classical")
            reasons += [why] if why else []
        if result is None and backend in ("auto", "packaged"):
            result, masks, why = _try_packaged(ctx, limit)
            reasons += [why] if why else []
        if result is None:
            result, masks = detect_classical(ctx, limit)
        if result.backend != "neural":
            result.fallback_reason = "; ".join(reasons) or None
        ctx.artifacts["detect.masks"] = masks
        summary = {"backend": result.backend, "count": len(result.instances),
                   "instances": [instance_summary(i) for i in result.instances]}
        if result.model:
            summary["model"] = result.model
        if result.note:
            summary["note"] = result.note
        return Observation(summary, result)


def _try_neural(ctx, limit: int, fallback: str):
    """(instances, masks, None) from YOLO, or (None, {}, why not) when it cannot run here."""
    from tools.weights import resolve_yolo

    def run():
        spec = resolve_yolo(ctx.settings)
        from .detect_yolo import detect_yolo

        found = detect_yolo(ctx, spec, limit)
        ctx.emit("backend", tool="detect_instances", backend="neural", model=spec.label)
        return found

    return _tier(ctx, "YOLO", fallback, run)


def _try_packaged(ctx, limit: int):
    """(instances, masks, None) from the packaged models, or (None, {}, why not) when their files are not here."""

    def run():
        from .recognise import packaged_recogniser

        found = detect_classical(ctx, limit, recogniser=packaged_recogniser(ctx.settings))
        ctx.emit("backend", tool="detect_instances", backend="packaged", model=found[0].model)
        return found

    return _tier(ctx, "the packaged models", "classical", run)


def _tier(ctx, model: str, fallback: str, run):
    """(instances, masks, None) from ``run``, or (None, {}, why not) when that tier cannot run here."""
    from tools.weights import try_neural

    found, reason = try_neural(ctx, "detect_instances", model, fallback, run)
    return (found[0], found[1], None) if found else (None, {}, reason)


@hookimpl
def register_tools():
    return [DetectInstances()]
