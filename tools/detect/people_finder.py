"""Recognising people without weights: OpenCV's HOG person detector and its face and upper-body
cascades (on tall candidates and on a few whole frames), so people who do not move are found too."""

from __future__ import annotations

import cv2
import numpy as np

from .thresholds import thresholds


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

    def faces(self, image: np.ndarray, neighbours: int | None = None) -> list[tuple[float, float, float, float]]:
        """Frontal and profile faces as normalised boxes (the face itself, not the person); ``neighbours``:
        the overlapping hits a face needs (default: the ``face_neighbours`` threshold)."""
        limits = thresholds()
        neighbours = limits.face_neighbours if neighbours is None else neighbours
        gray = _cascade_gray(image)
        sh, sw = gray.shape
        out = []
        for cascade in self.faces_cascades:
            for x, y, fw, fh in cascade.detectMultiScale(gray, limits.cascade_step, neighbours,
                                                         minSize=(max(20, int(sh * limits.min_face)),) * 2,
                                                         maxSize=(int(sh * limits.max_face),) * 2):
                out.append((x / sw, y / sh, (x + fw) / sw, (y + fh) / sh))
        return out

    def find(self, image: np.ndarray, whole_body: bool = True,
             profiles: bool = True) -> list[tuple[tuple[float, float, float, float], str, float]]:
        """People in a whole frame, as (normalised box, source, score).

        Faces (frontal, and profile when ``profiles``) and upper bodies come from Haar cascades,
        whole bodies from HOG when ``whole_body``; callers ask for the costly ones on some frames only.
        """
        found = self._whole_bodies(image) if whole_body else []
        limits = thresholds()
        gray = _cascade_gray(image)
        sh, sw = gray.shape
        searches = [(self.faces_cascades[0], limits.min_face)]
        if profiles:
            searches.append((self.faces_cascades[1], limits.min_profile_face))
        for cascade, min_face in searches:
            for x, y, fw, fh in cascade.detectMultiScale(gray, limits.cascade_step, limits.face_neighbours,
                                                         minSize=(max(20, int(sh * min_face)),) * 2,
                                                         maxSize=(int(sh * limits.max_face),) * 2):
                # from a face to the visible person: shoulders on both sides, body down towards the edge
                box = (max(0.0, (x - 1.1 * fw) / sw), max(0.0, (y - 0.4 * fh) / sh),
                       min(1.0, (x + 2.1 * fw) / sw), min(1.0, (y + 6.0 * fh) / sh))
                found.append((box, "face", 1.0))
        for x, y, bw, bh in self.upper_body.detectMultiScale(gray, limits.cascade_step, limits.body_neighbours,
                                                             minSize=(max(48, sh // 5),) * 2):
            box = (x / sw, y / sh, min(1.0, (x + bw) / sw), min(1.0, (y + 2.2 * bh) / sh))
            found.append((box, "upper_body", 1.0))
        return found

    def _whole_bodies(self, image: np.ndarray) -> list[tuple[tuple[float, float, float, float], str, float]]:
        """Whole-body HOG hits on the frame scaled to ``hog_size`` on its long side."""
        h, w = image.shape[:2]
        scale = thresholds().hog_size / max(h, w)
        small = cv2.resize(image, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        sh, sw = small.shape[:2]
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.08)
        found = []
        for (x, y, bw, bh), wt in zip(rects, np.ravel(weights) if len(rects) else []):
            if wt > 0.5:
                found.append(((x / sw, y / sh, (x + bw) / sw, (y + bh) / sh), "hog", float(wt)))
        return found


def _cascade_gray(image: np.ndarray) -> np.ndarray:
    """The frame as the Haar cascades see it: ``cascade_size`` on its long side, grey, equalised."""
    h, w = image.shape[:2]
    scale = thresholds().cascade_size / max(h, w)
    small = cv2.resize(image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))


_PEOPLE: PeopleFinder | None = None


def people_finder() -> PeopleFinder:
    """The process's one :class:`PeopleFinder` (its detectors load once)."""
    global _PEOPLE
    if _PEOPLE is None:
        _PEOPLE = PeopleFinder()
    return _PEOPLE
