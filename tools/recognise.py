"""The packaged tier of detection: real pretrained models that registry packages ship, on the CPU.

Between the official weights (YOLO, SAM2) and the classical methods. NanoDet (COCO-80) searches
every sampled frame, so things that never move are instances too; the classical motion analysis
still runs and finds moving things no detector knows, and a recognised box absorbs the motion
fragments inside it (its mask then comes from what moved). Each track is named:

1. the detector's class, when its score over the track's sightings clears that class's threshold;
2. else an ImageNet label of the instance's largest crop (EfficientNet-Lite0), mapped to a plain
   noun, when the classifier is sure enough (animals the detector could only place in the animal
   family are named this way: the rabbit of Big Buck Bunny is a bird, a sheep and a cow to NanoDet);
3. else "object", with the detector's and the classifier's guesses and their confidences kept in the
   evidence as advice for a language model.

Thresholds were measured on the four real clips (benchmarks/real_clips.py) and the 64 generated
clips (benchmarks/accuracy.py), not guessed: see the README's models section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tools.geometry import crop, iou

DETECTOR = "nanodet"
CLASSIFIER = "efficientnet-lite0"
POSE = "movenet-multipose"
FACE = "face-detection-short-range"
RIDDEN = {"bicycle", "motorcycle"}

ANIMALS = {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}
MIN_SCORE = 0.3  # detections below this are not looked at
ATTACH = 0.85  # a detection joins the candidates from ATTACH x its class's naming threshold up
SMALL = 0.02  # a box under this share of the frame needs its class's full threshold
# a still thing (nothing moved there) must be recognised this surely in a sighting to be a candidate
STILL_SCORE = 0.4
# the detector's class names a track when its mean score over the sightings that carry it is at least this
CLASS_SCORE = {"person": 0.45, "car": 0.4, "bus": 0.4, "truck": 0.45, "bicycle": 0.38, "motorcycle": 0.45,
               # animals: NanoDet sees an animal at 0.3-0.5 but rarely which one (the species needs agreement)
               **{a: 0.36 for a in ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                                    "giraffe")}}
DEFAULT_CLASS_SCORE = 0.5
# a class not in CLASS_SCORE names a still thing only this surely (textures pass as kites and clocks below it)
STILL_CLASS_SCORE = 0.7
BINDING = 0.55  # at or above, the class binds an LLM's caption; below, it is advice the model may overrule
CLASSIFIER_SCORE = 0.6  # the classifier's mean probability (over crops) for one noun that names a track
ANIMAL_AGREEMENT = 0.75  # share of sightings a detector's animal class must hold to name the species
ANIMAL_CLASSIFIER_SCORE = 0.6  # the classifier names a species only this surely

# COCO class -> the word a caption uses
CAPTION_WORDS = {"sports ball": "ball", "dining table": "table", "tv": "television", "cell phone": "phone",
                 "hair drier": "hair dryer", "potted plant": "potted plant", "motorcycle": "motorcycle"}


def caption_word(label: str) -> str:
    return CAPTION_WORDS.get(label, label)


# ImageNet-1k label (as in tools/vision/data/imagenet1k.txt) -> plain noun. Index ranges cover the
# families ImageNet splits into hundreds of breeds; the named labels cover everyday things.
IMAGENET_RANGES = [((151, 268), "dog"), ((281, 285), "cat"), ((7, 24), "bird"), ((80, 100), "bird"),
                   ((127, 146), "bird"), ((0, 6), "fish"), ((389, 397), "fish"), ((33, 37), "turtle"),
                   ((38, 48), "lizard"), ((52, 68), "snake"), ((286, 293), "big cat"), ((294, 297), "bear"),
                   ((300, 326), "insect"), ((365, 382), "monkey")]
IMAGENET_WORDS = {
    "wood rabbit": "rabbit", "hare": "rabbit", "Angora": "rabbit", "hamster": "hamster", "squirrel": "squirrel",
    "sorrel": "horse", "zebra": "zebra", "ox": "cow", "ram": "sheep", "bighorn": "sheep", "hog": "pig",
    "African elephant": "elephant", "Indian elephant": "elephant", "tusker": "elephant", "giant panda": "panda",
    "sports car": "car", "convertible": "car", "cab": "taxi", "limousine": "car", "minivan": "car", "jeep": "car",
    "beach wagon": "car", "racer": "car", "car wheel": "car", "grille": "car", "police van": "van",
    "moving van": "van", "minibus": "bus", "school bus": "bus", "trolleybus": "bus", "pickup": "truck",
    "trailer truck": "truck", "tow truck": "truck", "garbage truck": "truck", "fire engine": "fire engine",
    "mountain bike": "bicycle", "bicycle-built-for-two": "bicycle", "tricycle": "tricycle", "unicycle": "unicycle",
    "moped": "scooter", "motor scooter": "scooter", "streetcar": "tram", "passenger car": "train",
    "electric locomotive": "train", "steam locomotive": "train", "airliner": "airplane", "warplane": "airplane",
    "speedboat": "boat", "canoe": "boat", "gondola": "boat", "lifeboat": "boat", "yawl": "boat",
    "container ship": "ship", "liner": "ship", "umbrella": "umbrella", "backpack": "backpack",
    "teddy": "teddy bear", "soccer ball": "ball", "tennis ball": "ball", "basketball": "ball",
    "volleyball": "ball", "rugby ball": "ball", "golf ball": "ball", "balloon": "balloon", "kite": "kite",
    "coffee mug": "mug", "cup": "cup", "water bottle": "bottle", "beer bottle": "bottle", "wine bottle": "bottle",
    "pop bottle": "bottle", "laptop": "laptop", "notebook": "laptop", "cellular telephone": "phone",
    "desktop computer": "computer", "monitor": "monitor", "television": "television", "studio couch": "couch",
    "folding chair": "chair", "rocking chair": "chair", "barber chair": "chair", "dining table": "table",
    "table lamp": "lamp", "park bench": "bench", "traffic light": "traffic light", "street sign": "sign",
    "mailbox": "mailbox", "pot": "potted plant", "vase": "vase", "wall clock": "clock", "analog clock": "clock",
    "carton": "box", "crate": "crate", "envelope": "envelope", "book jacket": "book", "shopping cart": "cart",
    "suitcase": "suitcase", "banana": "banana", "orange": "orange", "Granny Smith": "apple", "pizza": "pizza",
}


# ImageNet-1k clothing and accessories -> what a caption says a person wears
GARMENTS = {
    "suit": "a suit", "bow tie": "a bow tie", "Windsor tie": "a tie", "jersey": "a T-shirt",
    "sweatshirt": "a sweatshirt", "cardigan": "a cardigan", "trench coat": "a coat", "fur coat": "a fur coat",
    "lab coat": "a lab coat", "poncho": "a poncho", "kimono": "a kimono", "abaya": "an abaya",
    "academic gown": "a gown", "gown": "a gown", "military uniform": "a uniform", "jean": "jeans",
    "miniskirt": "a skirt", "sarong": "a sarong", "swimming trunks": "swimming trunks", "bikini": "a bikini",
    "maillot": "a swimsuit", "cowboy hat": "a cowboy hat", "sombrero": "a sombrero", "crash helmet": "a helmet",
    "football helmet": "a helmet", "sunglasses": "sunglasses", "sunglass": "sunglasses", "backpack": "a backpack",
    "apron": "an apron", "bulletproof vest": "a vest", "pajama": "pajamas", "necklace": "a necklace",
    "scarf": "a scarf", "stole": "a stole",
}
GARMENT_SCORE = 0.2  # mean probability (over the person's crops) for a garment to be named
# garments that the classifier's suit or tie labels name twice
SAME_GARMENT = {"a tie": "a bow tie"}


def imagenet_noun(index: int, label: str) -> str | None:
    if label in IMAGENET_WORDS:
        return IMAGENET_WORDS[label]
    return next((noun for (lo, hi), noun in IMAGENET_RANGES if lo <= index <= hi), None)


@dataclass
class Naming:
    """What a track is called, how sure we are, and who said so."""

    name: str  # the caption word: 'person', 'car', 'rabbit', or 'object'
    confidence: float  # 0..1
    by: str  # 'nanodet', 'efficientnet-lite0', or 'none'
    candidates: dict[str, float] = field(default_factory=dict)  # the guesses and their confidences (advice)

    @property
    def binding(self) -> bool:
        return self.name != "object" and self.confidence >= BINDING


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

    def frames(self, images: list[np.ndarray]) -> list[list[tuple[tuple[float, float, float, float], str, float]]]:
        """Per image: (normalised box, COCO class, score) of every detection worth attaching."""
        from tools.vision import detect_objects

        out = []
        for image in images:
            h, w = image.shape[:2]
            found = []
            for d in detect_objects(image, MIN_SCORE, threads=self.threads):
                x1, y1, x2, y2 = d.box
                small = (x2 - x1) * (y2 - y1) < SMALL * w * h  # small boxes are where the false hits are
                if d.score < (1.0 if small else ATTACH) * CLASS_SCORE.get(d.label, DEFAULT_CLASS_SCORE):
                    continue  # too unsure to join what moved, or to be a still instance
                found.append(((max(0.0, x1 / w), max(0.0, y1 / h), min(1.0, x2 / w), min(1.0, y2 / h)),
                              d.label, d.score))
            out.append(found)
        return out

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
            return Naming(caption_word(best), coco[best], DETECTOR, candidates)
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
            for word, v in _garment_words(p).items():
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

        from .people import describe_person

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
        track.wearing = self.garments(images, track.boxes, scores)
        if person.frames_with_pose:
            track.recognised_by = sorted({*track.recognised_by, POSE})
        if person.upper_colours:
            track.upper_colours, track.lower_colours = person.upper_colours, person.lower_colours
            track.colours = list(dict.fromkeys([person.upper_colours[0], *person.lower_colours[:1], *track.colours]))


# ImageNet-1k labels of two-wheelers -> the ridden vehicle (tools/people.py's RIDDEN caption words)
TWO_WHEELERS = {"mountain bike": "bicycle", "bicycle-built-for-two": "bicycle", "tricycle": "bicycle",
                "unicycle": "bicycle", "moped": "motorcycle", "motor scooter": "motorcycle"}
# mean probability (over a person's crops) of the two-wheeler labels that puts a bicycle or scooter in the
# person's box. Measured on the person detections (score 0.4 and up) of the real clips: 0.13 for the cyclist
# astride his bicycle in bikes.mp4 (whose bicycle NanoDet misses down to 0.12), at most 0.005 on the 21 others
# (the man in a suit and three false hits in bikes.mp4, the man in every sample of both carphone clips)
RIDE_CROP = 0.05


def two_wheeler(scores: np.ndarray | None) -> str | None:
    """The two-wheeler ("bicycle", "motorcycle") the classifier sees in a person's crops, or None."""
    from tools.vision.classifier import IMAGENET_LABELS

    if scores is None or not len(scores):
        return None
    mass: dict[str, float] = {}
    for i, label in enumerate(IMAGENET_LABELS):
        if label in TWO_WHEELERS:
            mass[TWO_WHEELERS[label]] = mass.get(TWO_WHEELERS[label], 0.0) + float(scores[:, i].mean())
    noun = max(mass, key=mass.get, default=None)
    return noun if noun is not None and sum(mass.values()) >= RIDE_CROP else None


def _garment_words(p: np.ndarray) -> dict[str, float]:
    from tools.vision.classifier import IMAGENET_LABELS

    words: dict[str, float] = {}
    for i in np.argsort(-p)[:10]:
        word = GARMENTS.get(IMAGENET_LABELS[int(i)])
        if word is not None:
            words[word] = words.get(word, 0.0) + float(p[i])
    return words


# an unlabelled sighting of a track the detector labelled, whose box is under this share of the labelled
# boxes' (median area), is not that thing: a motion fragment of something else that the linker joined to it
# (in bikes.mp4, a speck of the next sample's traffic joined to a man, a car and a bicycle, 22-200 times smaller,
# made them move "down and to the left"); the sightings of one thing that the detector missed, its motion mask
# or its appearance found again, are a good part of its size
STRAY = 0.1


def _box_area(box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def drop_strays(items: dict) -> dict:
    """A track's sightings (sample -> candidate with ``box`` and ``labels``) without the stray ones (:data:`STRAY`)."""
    labelled = [_box_area(c.box) for c in items.values() if c.labels]
    if not labelled:
        return items
    typical = float(np.median(labelled))
    return {k: c for k, c in items.items() if c.labels or _box_area(c.box) >= STRAY * typical}


def montage_order(ranked: list, shot_of, kind_of) -> list:
    """Main-instance candidates (``ranked``, best first) in the order a clip that cuts between shots takes
    them. The caption is of the whole clip, and each shot is a different view of it: a class that dominates
    a shot is a main instance before a second instance of a class already there (the second car of a street
    montage is counted in the "also in view" sentence instead).

    1. each shot's dominant named candidate (its best ranked one), strongest shots first, one per class;
    2. then named candidates of classes not yet taken, in rank order;
    3. then the rest, in rank order.

    ``shot_of(track)``: the shot a track lies in (tracks do not cross cuts); ``kind_of(track)``: its class
    (a family, so that the animal NanoDet calls a sheep and then a bird is one class), or None when no
    model named it. Unnamed candidates only fill what is left: a thing no model names is not what a shot
    is about when a named one is there, and the packaged tier drops most of them later.
    """
    leads: dict[int, object] = {}
    for tr in ranked:
        if kind_of(tr) is not None:
            leads.setdefault(shot_of(tr), tr)
    lead_ids = {id(tr) for tr in leads.values()}
    order: list = []
    taken: set[int] = set()
    kinds: set[str] = set()

    def take(tr) -> None:
        order.append(tr)
        taken.add(id(tr))
        kinds.add(kind_of(tr))

    for tr in ranked:
        if id(tr) in lead_ids and kind_of(tr) not in kinds:
            take(tr)
    for tr in ranked:
        if id(tr) not in taken and kind_of(tr) is not None and kind_of(tr) not in kinds:
            take(tr)
    return order + [tr for tr in ranked if id(tr) not in taken]


def also_seen(found, main_boxes: list[list]) -> dict[str, int]:
    """Caption word -> most at once in a sampled frame, of the sure detections that are none of the main
    instances (``main_boxes``: per instance, its normalised box per frame or None)."""
    most: dict[str, int] = {}
    for k, frame in enumerate(found):
        counts: dict[str, int] = {}
        taken = [boxes[j] for boxes in main_boxes for j in (k - 1, k, k + 1)  # a sample the track missed too
                 if 0 <= j < len(boxes) and boxes[j] is not None]
        for box, label, score in frame:
            if score < max(STILL_SCORE, CLASS_SCORE.get(label, DEFAULT_CLASS_SCORE)):
                continue
            if any(iou(box, t) > 0.3 for t in taken):
                continue
            counts[caption_word(label)] = counts.get(caption_word(label), 0) + 1
        for word, n in counts.items():
            most[word] = max(most.get(word, 0), n)
    return most


def packaged_recogniser(settings) -> PackagedRecogniser:
    """The packaged tier, or :class:`tools.weights.WeightsMissing` naming the missing file."""
    import cv2

    return PackagedRecogniser(threads=max(1, cv2.getNumThreads()))
