"""Reference images (Any2Caption conditions the user supplies): one image per instance, and one for style.

``image`` (identity): one instance per image. The packaged models name it and measure it:

* the subject is the surest NanoDet detection that clears its class's naming threshold
  (:data:`tools.recognise.CLASS_SCORE`), the largest when several do; its class is the caption word;
* without one, the subject is what differs from the image's border (the border's median colour is
  the backdrop; pixels more than :data:`BACKDROP_DISTANCE` CIELAB units from it, largest connected
  part) and EfficientNet-Lite0 names it when it is sure (:data:`tools.recognise.CLASSIFIER_SCORE`),
  else it stays ``object``, with the guesses kept as advice;
* its colours are the dominant colours (:func:`tools.colors.dominant_colours`) of its pixels that
  are not backdrop;
* a person also gets MoveNet's posture and the colours of the upper and lower body
  (:func:`tools.people.region_colours`), what the classifier sees them wear, and whether a face shows.

``style``: light, palette and texture words measured on the whole image, with the thresholds of
:func:`tools.background.describe` (brightness, contrast, saturation, texture) plus warmth (the mean
CIELAB b* and a*: warm from :data:`WARM`, cool under :data:`COOL`) and the palette (up to five
dominant colours with their shares).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, Field

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl

BACKDROP_DISTANCE = 18.0  # CIELAB units from the border's colour that make a pixel the subject's
MIN_SUBJECT = 0.01  # share of the image the subject must cover to be taken apart from the backdrop
WARM, COOL = 6.0, -4.0  # mean b* + 0.5 a*: warm at or above, cool below
MAX_SIDE = 640  # images are measured at most this large


class ReferenceImageEvidence(BaseModel):
    source: str
    width: int
    height: int
    class_name: str = Field(description="the caption word: 'person', 'car', ..., or 'object'")
    confidence: float
    named_by: str = Field(description="nanodet, efficientnet-lite0, or none")
    candidates: dict[str, float] = Field(default_factory=dict, description="the models' guesses (advice)")
    box: list[float] = Field(description="the subject's normalised box x0, y0, x1, y1")
    aspect: float = Field(description="the subject's height over its width")
    colours: list[str] = Field(description="the subject's dominant colours, largest first")
    backdrop: str = Field(description="the colour of the image's border")
    posture: str | None = None
    upper_colours: list[str] = Field(default_factory=list)
    lower_colours: list[str] = Field(default_factory=list)
    wearing: list[str] = Field(default_factory=list)
    face: bool = False
    missing_models: list[str] = Field(default_factory=list)
    sentence: str


class StyleEvidence(BaseModel):
    source: str
    brightness: str
    contrast: str
    saturation: str
    warmth: str
    texture: str
    palette: list[str]
    shares: list[float]
    measures: dict[str, float] = Field(description="mean L*, std L*, mean chroma, warmth (b* + a*/2), mean gradient")
    light: str
    sentence: str


def load_image(path: str | Path, what: str) -> np.ndarray:
    """A BGR uint8 image, at most :data:`MAX_SIDE` on its longer side, or a one-line InputError."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {p}: no such file")
    data = np.fromfile(str(p), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        raise InputError(f"{what} {p}: cannot read it as an image (PNG, JPEG, BMP, WebP, TIFF)")
    h, w = image.shape[:2]
    if min(h, w) < 16:
        raise InputError(f"{what} {p}: {w}x{h} is too small to measure (at least 16 pixels a side)")
    scale = MAX_SIDE / max(h, w)
    if scale < 1:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return image


def _lab(image: np.ndarray) -> np.ndarray:
    from tools.colors import _lab_units

    h, w = image.shape[:2]
    return _lab_units(cv2.cvtColor(image, cv2.COLOR_BGR2LAB).reshape(-1, 3)).reshape(h, w, 3)


def subject_mask(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pixels unlike the border's colour, the border's colour in CIELAB)."""
    lab = _lab(image)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    backdrop = np.median(border, axis=0)
    return np.linalg.norm(lab - backdrop, axis=2) > BACKDROP_DISTANCE, backdrop


def _largest_part(mask: np.ndarray) -> np.ndarray | None:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[k, cv2.CC_STAT_AREA] < MIN_SUBJECT * mask.size:
        return None
    return labels == k


def _detections(image: np.ndarray, missing: list[str]):
    from tools.weights import WeightsMissing
    from tools.recognise import ATTACH, CLASS_SCORE, DEFAULT_CLASS_SCORE, MIN_SCORE
    from tools.vision import detect_objects

    try:
        found = detect_objects(image, MIN_SCORE, threads=1)
    except WeightsMissing as e:
        missing.append(str(e))
        return [], {}
    sure = [d for d in found if d.score >= CLASS_SCORE.get(d.label, DEFAULT_CLASS_SCORE)]
    guesses = {}
    for d in found:
        if d.score >= ATTACH * CLASS_SCORE.get(d.label, DEFAULT_CLASS_SCORE):
            guesses[d.label] = max(guesses.get(d.label, 0.0), round(d.score, 3))
    return sure, guesses


def _person(image: np.ndarray, box_px, missing: list[str]) -> dict:
    from tools.weights import WeightsMissing
    from tools import people

    out: dict = {}
    try:
        from tools.vision import estimate_poses

        pose = people.match(estimate_poses(image, threads=1), box_px)
    except WeightsMissing as e:
        missing.append(str(e))
        pose = None
    if pose is not None:
        out["posture"] = people.posture(pose)
        out["upper_colours"] = people.region_colours(image, pose, "upper")[:2]
        out["lower_colours"] = people.region_colours(image, pose, "lower")[:2]
    try:
        from tools.vision.face import detect_faces

        out["face"] = bool(detect_faces(image, threads=1))
    except WeightsMissing as e:
        missing.append(str(e))
    return out


def read_reference_image(path: str | Path) -> ReferenceImageEvidence:
    from tools.weights import WeightsMissing
    from tools.colors import dominant_colours, name_lab
    from tools.recognise import CLASSIFIER_SCORE, PackagedRecogniser, caption_word

    image = load_image(path, "reference image")
    h, w = image.shape[:2]
    missing: list[str] = []
    differs, backdrop = subject_mask(image)
    sure, guesses = _detections(image, missing)
    candidates = {caption_word(k): v for k, v in guesses.items()}
    try:
        recogniser = PackagedRecogniser(threads=1)
        recogniser.missing = missing
    except WeightsMissing as e:  # NanoDet is not here (already noted): colours are still measured
        missing.append(str(e))
        recogniser = None
    if sure:
        best = max(sure, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) * d.score)
        x0, y0, x1, y1 = (max(0.0, best.box[0]), max(0.0, best.box[1]), min(float(w), best.box[2]),
                          min(float(h), best.box[3]))
        name, confidence, by = caption_word(best.label), round(best.score, 3), "nanodet"
        region = np.zeros((h, w), bool)
        region[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = True
        inside = region & differs
        pixels = image[inside] if inside.sum() >= 0.2 * region.sum() else image[region]
    else:
        part = _largest_part(differs)
        if part is None:  # one colour, or nothing stands out from the border: the whole image is the subject
            part = np.ones((h, w), bool)
        ys, xs = np.nonzero(part)
        x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
        pixels = image[part]
        crop = image[int(y0):int(y1), int(x0):int(x1)]
        noun, p = recogniser.classify([crop]) if recogniser is not None else (None, 0.0)
        if noun is not None:
            candidates[noun] = max(candidates.get(noun, 0.0), round(p, 3))
        if noun is not None and p >= CLASSIFIER_SCORE:
            name, confidence, by = noun, round(p, 3), "efficientnet-lite0"
        else:
            name, confidence, by = "object", 0.0, "none"
    colours = [n for n, _ in dominant_colours(pixels, k=3, min_share=0.15)]
    box = [round(x0 / w, 4), round(y0 / h, 4), round(x1 / w, 4), round(y1 / h, 4)]
    extra: dict = {}
    if name == "person":
        extra = _person(image, (x0, y0, x1, y1), missing)
        extra["wearing"] = recogniser.garments([image], [box]) if recogniser is not None else []
    ev = dict(source=str(path), width=w, height=h, class_name=name, confidence=confidence, named_by=by,
              candidates=candidates, box=box, aspect=round((y1 - y0) / max(x1 - x0, 1.0), 3), colours=colours,
              backdrop=name_lab(backdrop), missing_models=sorted(set(missing)), **extra)
    ev["sentence"] = _identity_sentence(ev)
    return ReferenceImageEvidence(**ev)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _identity_sentence(ev: dict) -> str:
    name = ev["class_name"]
    if name == "person" and (ev.get("upper_colours") or ev.get("lower_colours")):
        parts = []
        if ev.get("upper_colours"):
            parts.append(f"{' and '.join(ev['upper_colours'])} on the upper body")
        if ev.get("lower_colours"):
            parts.append(f"{' and '.join(ev['lower_colours'])} on the lower body")
        text = f"A person wearing {', '.join(parts)}"
        if ev.get("wearing"):
            text += f" ({', '.join(ev['wearing'])})"
    else:
        colours = " and ".join(ev["colours"][:2]) or "plain"
        text = f"{_article(colours).capitalize()} {colours} {name}"
    if ev.get("posture"):
        text += f", {ev['posture']}"
    return text + "."


# -- style --------------------------------------------------------------------------------------
def read_style(path: str | Path) -> StyleEvidence:
    from tools.background import describe
    from tools.colors import dominant_colours

    image = load_image(path, "style image")
    bg = describe([image], [np.zeros(image.shape[:2], bool)])
    lab = _lab(image).reshape(-1, 3)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    grad = float(np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)).mean())
    warm = float(lab[:, 2].mean() + 0.5 * lab[:, 1].mean())
    warmth = "warm" if warm >= WARM else "cool" if warm < COOL else "neutral"
    if bg.saturation == "muted" and warmth != "neutral" and abs(warm) < 2 * WARM:
        warmth = f"slightly {warmth}"
    palette = dominant_colours(image.reshape(-1, 3), k=5, min_share=0.08)
    measures = {"mean_L": round(float(lab[:, 0].mean()), 2), "std_L": round(float(lab[:, 0].std()), 2),
                "chroma": round(float(np.hypot(lab[:, 1], lab[:, 2]).mean()), 2), "warmth": round(warm, 2),
                "gradient": round(grad, 2)}
    key = {"dark": "dark, low-key", "dim": "dim, low-key", "moderately lit": "even", "bright": "bright, high-key"}
    light = f"{key[bg.brightness]} lighting with {bg.contrast} contrast"
    names = [n for n, _ in palette]
    sentence = (f"{light[0].upper()}{light[1:]}; {warmth} tones; a {bg.saturation} palette of "
                f"{', '.join(names[:-1]) + ' and ' + names[-1] if len(names) > 1 else names[0]}; {bg.texture} surfaces.")
    return StyleEvidence(source=str(path), brightness=bg.brightness, contrast=bg.contrast, saturation=bg.saturation,
                         warmth=warmth, texture=bg.texture, palette=names, shares=[round(s, 3) for _, s in palette],
                         measures=measures, light=light, sentence=sentence)


@hookimpl
def register_condition_readers():
    return {"image": read_reference_image, "style": read_style}
