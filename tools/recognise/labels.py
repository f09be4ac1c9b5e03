"""How the packaged tier names things: its models, the thresholds a name must clear, and the tables
from the detector's and the classifier's labels to caption words (things, garments, two-wheelers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
CLASS_SCORE = {"hand": 0.5,  # MediaPipe's palm threshold; each hand is also confirmed by the landmark model
               "person": 0.45, "car": 0.4, "bus": 0.4, "truck": 0.45, "bicycle": 0.38, "motorcycle": 0.45,
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


def garment_words(p: np.ndarray) -> dict[str, float]:
    from tools.vision.classifier import IMAGENET_LABELS

    words: dict[str, float] = {}
    for i in np.argsort(-p)[:10]:
        word = GARMENTS.get(IMAGENET_LABELS[int(i)])
        if word is not None:
            words[word] = words.get(word, 0.0) + float(p[i])
    return words


