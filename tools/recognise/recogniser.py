"""The packaged recogniser: NanoDet on every sampled frame, EfficientNet-Lite0 for what it cannot
name, MoveNet and BlazeFace for the people."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tools.geometry import contains, covered_share, crop
from tools.recognise.labels import (ANIMAL_AGREEMENT, ANIMAL_CLASSIFIER_SCORE, ANIMALS, ATTACH, CLASS_SCORE, CLASSIFIER,
                                    CLASSIFIER_SCORE, DEFAULT_CLASS_SCORE, DETECTOR, GARMENT_SCORE, MIN_SCORE, POSE,
                                    RIDDEN, SAME_GARMENT, SMALL, STILL_CLASS_SCORE, STILL_SCORE, Naming, caption_word,
                                    garment_words, imagenet_noun, two_wheeler)

HAND = "hand"
HAND_EXPLAINS = 0.6  # a person detection lying this much inside a hand's box is that hand
HELD_OVERLAP = 0.3  # share of a thing's box inside a hand's box that makes it held in that sighting


class PackagedRecogniser:
    """NanoDet on every sampled frame; EfficientNet-Lite0 for tracks the detector cannot name."""

    name = DETECTOR
    still_score = STILL_SCORE

    def __init__(self, threads: int | None = None):
        from tools.vision.models import model_path

        model_path(DETECTOR)  # WeightsMissing now, with the file and the fetch command, if it is not here
        self.threads = threads
        self._poses: dict[int, list] = {}  # sampled frame -> MoveNet's people there (run once per frame)
        self._faces: dict[int, list] = {}  # sampled frame -> BlazeFace's faces there
        self.missing: list[str] = []  # optional models that were not found
        self._hands_missing = False  # the hand models (or their runtime) are not here: looked for once

    def frames(self, images: list[np.ndarray]) -> list[list[tuple[tuple[float, float, float, float], str, float]]]:
        """Per image: (normalised box, COCO class, score) of every detection worth attaching."""
        from tools.vision import detect_objects

        with ThreadPoolExecutor(max_workers=1) as beside:  # the hand models run beside the object detector
            hands = beside.map(self._hands_in, images)
            objects = [self._objects_in(image, detect_objects) for image in images]
            return [self._with_hands(image, found, here) for image, found, here in zip(images, objects, hands)]

    def _objects_in(self, image: np.ndarray, detect_objects) -> list:
        """(normalised box, COCO class, score) of the detections in ``image`` worth attaching."""
        h, w = image.shape[:2]
        found = []
        for d in detect_objects(image, MIN_SCORE, threads=self.threads):
            x1, y1, x2, y2 = d.box
            small = (x2 - x1) * (y2 - y1) < SMALL * w * h  # small boxes are where the false hits are
            if d.score < (1.0 if small else ATTACH) * CLASS_SCORE.get(d.label, DEFAULT_CLASS_SCORE):
                continue  # too unsure to join what moved, or to be a still instance
            found.append(((max(0.0, x1 / w), max(0.0, y1 / h), min(1.0, x2 / w), min(1.0, y2 / h)), d.label, d.score))
        return found

    def _hands_in(self, image: np.ndarray) -> list | None:
        """The hands in ``image``; None where the hand models (or their runtime) are not here (looked for once)."""
        from tools.weights import WeightsMissing

        if self._hands_missing:
            return None
        try:
            from tools.vision.hands import detect_hands

            return detect_hands(image, threads=self.threads)
        except WeightsMissing as e:  # optional: without them hands stay unnamed
            self._hands_missing = True
            self.missing.append(str(e))
            return None

    def _with_hands(self, image: np.ndarray, found: list, hands: list | None) -> list:
        """``found`` with ``hands`` added (label ``hand``), and without the person detections a hand explains
        (a hand alone in view is no person); unchanged where the hand models are not here."""
        if hands is None:
            return found
        h, w = image.shape[:2]
        boxes = [((x1 / w, y1 / h, x2 / w, y2 / h), hand.score) for hand in hands for x1, y1, x2, y2 in [hand.box]]
        kept = [d for d in found if d[1] != "person" or not any(contains(hb, d[0], HAND_EXPLAINS) for hb, _ in boxes)]
        return kept + [(box, HAND, score) for box, score in boxes]

    def describe_hand(self, track, found) -> None:
        """What a hand holds: the detected thing whose box meets the hand's in most of its sightings."""
        held: dict[str, list[float]] = {}
        seen = [k for k, b in enumerate(track.boxes) if b is not None]
        for k in seen:
            here = {}
            for box, label, score in found[k]:
                if label in (HAND, "person") or covered_share(track.boxes[k], box) < HELD_OVERLAP:
                    continue
                here[caption_word(label)] = max(here.get(caption_word(label), 0.0), score)
            for word, score in here.items():
                held.setdefault(word, []).append(score)
        if not held:
            return
        word = max(held, key=lambda w: (len(held[w]), sum(held[w])))
        agreement = len(held[word]) / max(len(seen), 1)
        sure = round(agreement * float(np.mean(held[word])) / CLASS_SCORE.get(word, DEFAULT_CLASS_SCORE), 2)
        if agreement >= 0.5:
            track.holds = word
            track.fact_confidence["holds"] = min(1.0, sure)

    def names_still(self, labels: list[dict[str, float]]) -> bool:
        """Whether the detector alone names a track that never moved: a parked car, a seated man; textures
        that look like a kite or a clock to NanoDet (they do, up to 0.6 on generated backgrounds) are not."""
        naming = self.name_track(labels, [])
        threshold = CLASS_SCORE.get(naming.name, STILL_CLASS_SCORE)
        return naming.by == DETECTOR and naming.name not in ("object", "animal") and naming.confidence >= threshold

    def name_track(self, labels: list[dict[str, float]], crops: list[np.ndarray]) -> Naming:
        """Name a track from its sightings' detector labels (one dict per sighting) and crops of its
        largest sightings."""
        sightings = max(1, len(labels))
        coco: dict[str, float] = {}
        share: dict[str, float] = {}
        for label in {lab for sighting in labels for lab in sighting}:
            scores = [s[label] for s in labels if label in s]
            share[label] = len(scores) / sightings
            # how sure, and in how many sightings: a class seen once in eight is weak evidence
            coco[label] = round(float(np.mean(scores)) * min(1.0, 2 * share[label]) ** 0.5, 3)
        candidates = {caption_word(k): v for k, v in coco.items()}
        best = max(coco, key=coco.get, default=None)
        sure = best is not None and coco[best] >= CLASS_SCORE.get(best, DEFAULT_CLASS_SCORE)
        if sure and best not in ANIMALS:
            return Naming(caption_word(best), coco[best], "palm-detection-full" if best == HAND else DETECTOR,
                          candidates)
        crops = [c for c in crops if c is not None and c.size]
        noun, p = self.classify(crops) if crops else (None, 0.0)
        if noun is not None:
            candidates[noun] = max(candidates.get(noun, 0.0), round(p, 3))
        animal_sightings = sum(any(lab in ANIMALS for lab in s) for s in labels) / sightings
        if animal_sightings >= 0.5:
            # the detector knows an animal when it sees one, not always which: a species needs the detector
            # to agree with itself, or the classifier to be sure
            if sure and best in ANIMALS and share[best] >= ANIMAL_AGREEMENT:
                return Naming(best, coco[best], DETECTOR, candidates)
            if noun is not None and p >= ANIMAL_CLASSIFIER_SCORE:
                return Naming(noun, round(p, 3), CLASSIFIER, candidates)
            family = max(v for k, v in coco.items() if k in ANIMALS)
            return Naming("animal", round(max(family, animal_sightings * 0.5), 3), DETECTOR, candidates)
        if noun is not None and p >= CLASSIFIER_SCORE:
            return Naming(noun, round(p, 3), CLASSIFIER, candidates)
        return Naming("object", 0.0, "none", candidates)

    def _probabilities(self, crops: list[np.ndarray]) -> np.ndarray | None:
        """The classifier's scores for the crops, or None when its file is not here (it is optional: what it
        would name stays "object", and the note says which file is missing)."""
        from tools.weights import WeightsMissing
        from tools.vision.classifier import probabilities

        try:
            return probabilities(crops, self.threads)
        except WeightsMissing as e:
            self.missing.append(str(e))
            return None

    def person_scores(self, images: list[np.ndarray], boxes: list) -> np.ndarray | None:
        """The classifier's scores for a person's three largest sightings (None without the classifier)."""
        seen = sorted((k for k, b in enumerate(boxes) if b is not None),
                      key=lambda k: -(boxes[k][2] - boxes[k][0]) * (boxes[k][3] - boxes[k][1]))[:3]
        return self._probabilities([crop(images[k], boxes[k], 0.0) for k in seen]) if seen else None

    def garments(self, images: list[np.ndarray], boxes: list, scores: np.ndarray | None = None) -> list[str]:
        """What the classifier sees a person wear on their three largest sightings (mean probability);
        ``scores``: :meth:`person_scores` when already computed."""
        if scores is None:
            scores = self.person_scores(images, boxes)
        if scores is None or not len(scores):
            return []
        total: dict[str, float] = {}
        for p in scores:
            for word, v in garment_words(p).items():
                total[word] = total.get(word, 0.0) + v / len(scores)
        chosen = [w for w, v in sorted(total.items(), key=lambda kv: -kv[1]) if v >= GARMENT_SCORE]
        return [w for w in chosen if SAME_GARMENT.get(w) not in chosen][:3]

    def classify(self, crops: list[np.ndarray]) -> tuple[str | None, float]:
        """The plain noun the classifier gives the crops most probability for (summed over the labels that
        map to it, averaged over the crops)."""
        from tools.vision.classifier import IMAGENET_LABELS

        scores = self._probabilities(crops)
        if scores is None:
            return None, 0.0
        nouns: dict[str, float] = {}
        for p in scores:
            for i in np.argsort(-p)[:10]:
                noun = imagenet_noun(int(i), IMAGENET_LABELS[int(i)])
                if noun is not None:
                    nouns[noun] = nouns.get(noun, 0.0) + float(p[i]) / len(crops)
        if not nouns:
            return None, 0.0
        noun = max(nouns, key=nouns.get)
        return noun, nouns[noun]

    def describe_person(self, track, images: list[np.ndarray], times: list[float], found) -> None:
        """Action, posture and clothing colours of a person instance, from MoveNet keypoints."""
        from tools.weights import WeightsMissing

        from tools.people import describe_person

        def poses_at(k: int):
            if k not in self._poses:
                from tools.vision import estimate_poses

                self._poses[k] = estimate_poses(images[k], threads=self.threads)
            return self._poses[k]

        def faces_at(k: int):
            if k not in self._faces:
                from tools.vision.face import detect_faces

                try:
                    self._faces[k] = detect_faces(images[k], threads=self.threads)
                except WeightsMissing as e:  # optional: the pose's face keypoints serve without it
                    self.missing.append(str(e))
                    self._faces[k] = []
            return self._faces[k]

        vehicles = [[(box, label) for box, label, score in frame if label in RIDDEN] for frame in found]
        scores = self.person_scores(images, track.boxes)
        try:
            person = describe_person(track.boxes, images, times, poses_at, vehicles, faces_at,
                                     carried=two_wheeler(scores))
        except WeightsMissing as e:  # the pose model is not here: the person keeps the box's evidence
            self.missing.append(str(e))
            return
        track.action, track.posture = person.action, person.posture
        track.fact_confidence["action"] = person.action_confidence
        if track.action and track.action.startswith("stands") and track.direction is not None:
            # standing only when the track is still: one that moves across the frame is not said to stand
            track.action = None
            track.fact_confidence["action"] = 0.0
        track.wearing = self.garments(images, track.boxes, scores)
        if person.frames_with_pose:
            track.recognised_by = sorted({*track.recognised_by, POSE})
        if person.upper_colours:
            track.upper_colours, track.lower_colours = person.upper_colours, person.lower_colours
            track.colours = list(dict.fromkeys([person.upper_colours[0], *person.lower_colours[:1], *track.colours]))


def packaged_recogniser(settings) -> PackagedRecogniser:
    """The packaged tier, or :class:`tools.weights.WeightsMissing` naming the missing file."""
    import cv2

    return PackagedRecogniser(threads=max(1, cv2.getNumThreads()))
