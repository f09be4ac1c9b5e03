"""Typed evidence that tools leave in the graph state, read by the composer and the validator.

In the state, evidence is stored as plain JSON (one entry per tool name) so runs can be
checkpointed, recorded and replayed; these models give it back its types.
"""

from __future__ import annotations

from typing import Any, Iterator, Literal, Mapping

from pydantic import BaseModel, Field

SURE = 0.7
"""A measured fact whose confidence is at least this binds the caption; below it the fact is advice
that a model which sees the frames may contradict, and the composer leaves it out or says less."""

FACT_CONFIDENCE_DOC = ("how sure each measured fact is (0..1), by the name of the field that holds it "
                       "('class_name', 'start_cell', 'end_cell', 'direction', 'action', 'colours', 'leaves_frame', "
                       "'label', ...); a fact missing here has not been rated")


def fact_confidence_field():
    return Field(default_factory=dict, description=FACT_CONFIDENCE_DOC)


def is_sure(model: BaseModel, fact: str) -> bool | None:
    """Whether ``model``'s measured ``fact`` is sure (binding): ``None`` when it has not been rated."""
    value = getattr(model, "fact_confidence", {}).get(fact)
    return None if value is None else value >= SURE


class VideoMetadata(BaseModel):
    file_name: str
    duration_s: float
    fps: float
    frame_count: int
    width: int
    height: int
    orientation: Literal["landscape", "portrait", "square"]
    rotation: int
    codec: str
    container: str
    pixel_format: str | None = None
    has_audio: bool
    audio_codec: str | None = None
    variable_frame_rate: bool = False
    size_bytes: int
    decode_warning: str | None = None
    fact_confidence: dict[str, float] = fact_confidence_field()
    shots: int = 1  # camera set-ups the clip changes between (at cuts, dissolves or fades)
    cuts_s: list[float] = Field(default_factory=list, description="when each new shot starts")
    shot_spans: list[dict[str, Any]] = Field(
        default_factory=list, description="each shot: index, start_s, end_s, start_frame, end_frame (exclusive)")
    transitions: list[dict[str, Any]] = Field(
        default_factory=list, description="each shot change: kind (cut, dissolve, fade in, fade out, fade), "
                                          "start_s and end_s (the first frame of the next shot), frames")


class SampledFrames(BaseModel):
    times_s: list[float]
    full_resolution: bool
    images: list[str] = Field(default_factory=list)


class CameraMotion(BaseModel):
    label: str  # CameraBench words: 'static', 'pan left and tilt up', 'zoom in, shaky', 'unclear'
    primitives: list[str] = Field(default_factory=list)
    shaky: bool = False
    speed: Literal["slowly", "steadily", "quickly", "none", "unknown"] = "unknown"
    confidence: float = 0.0
    hint: str
    rates: dict[str, float] = Field(
        default_factory=dict,
        description="pan (widths/s, + right), tilt (heights/s, + up), zoom (log scale/s, + in), roll (deg/s, + clockwise)",
    )
    pairs_used: int = 0
    pairs_total: int = 0  # frame pairs within a shot
    ambiguity: str | None = None
    shots: int = 1
    per_shot: list["ShotCamera"] = Field(default_factory=list, description="a montage: each shot measured on its own")
    fact_confidence: dict[str, float] = fact_confidence_field()


class ShotCamera(BaseModel):
    """The camera motion of one shot of a montage."""

    index: int  # 0-based
    start_s: float
    end_s: float
    label: str
    primitives: list[str] = Field(default_factory=list)
    shaky: bool = False
    speed: str = "unknown"
    confidence: float = 0.0
    rates: dict[str, float] = Field(default_factory=dict)
    pairs_used: int = 0
    pairs_total: int = 0
    fact_confidence: dict[str, float] = fact_confidence_field()


class InstanceTrack(BaseModel):
    id: str  # 'No.0', 'No.1', ...
    class_name: str
    shape: str | None = None
    confidence: float
    boxes: list[list[float] | None] = Field(
        default_factory=list, description="per sampled frame: [x0, y0, x1, y1] normalised, or null"
    )
    centroids: list[list[float] | None] = Field(default_factory=list)
    areas: list[float] = Field(default_factory=list, description="visible area per sampled frame (fraction)")
    start_cell: str | None = None
    end_cell: str | None = None
    leaves_frame: bool = False
    enters_frame: bool = False
    colours: list[str] = Field(default_factory=list, description="dominant first")
    colours_in_view: list[str] = Field(default_factory=list,
                                       description="every colour on at least 5% of its mask (or box centre) in "
                                                   "some sample, what the mask took in included: a colour "
                                                   "outside these is surely not the thing's")
    relative_size: str | None = None
    direction: str | None = None
    motion_speed: str | None = None
    displacement: float = 0.0  # centroid travel from first to last sighting, in frame widths
    recognised_by: list[str] = Field(default_factory=list)
    track_id: int | None = None  # the tracker's id (neural backend)
    class_confidence: float | None = Field(None, description="how sure the class is (0..1); None: not measured")
    class_binding: bool = Field(True, description="the caption must use this class; when false it is advice "
                                                  "a vision-language model may correct")
    class_candidates: dict[str, float] = Field(default_factory=dict,
                                               description="the recognisers' guesses with their confidences")
    action: str | None = Field(None, description="a person's action from pose keypoints: walks, runs, "
                                                 "rides a bicycle, talks, sits, stands, ...")
    posture: str | None = Field(None, description="the usual posture in the sightings with a pose")
    upper_colours: list[str] = Field(default_factory=list, description="a person's upper-body clothing colours")
    wearing: list[str] = Field(default_factory=list, description="what a person wears, from an image classifier: "
                                                                 "'a suit', 'a bow tie', 'a helmet'")
    lower_colours: list[str] = Field(default_factory=list,
                                     description="lower-body clothing colours (empty when the legs are not seen)")
    holds: str | None = Field(None, description="for a hand: the thing it holds ('bottle'), from the detector's "
                                               "boxes meeting the hand's in most of its sightings")
    fact_confidence: dict[str, float] = fact_confidence_field()

    def seen(self) -> list[int]:
        return [i for i, b in enumerate(self.boxes) if b is not None]


class Instances(BaseModel):
    backend: str  # neural | classical
    model: str | None = None  # the neural model that ran
    instances: list[InstanceTrack] = Field(default_factory=list)
    frames_used: int = 0
    candidates: int = 0
    note: str | None = None
    fallback_reason: str | None = None
    also_seen: dict[str, int] = Field(default_factory=dict,
                                      description="things the detector saw surely besides the main instances: "
                                                  "caption word -> most seen at once")


class InstanceView(BaseModel):
    id: str
    image: str
    mask_area: float  # mean visible area (fraction of the frame) over the frames where it was seen
    frames: int


class Segmentation(BaseModel):
    method: str  # sam2 | grabcut | none
    model: str | None = None
    fallback_reason: str | None = None
    frames_by_method: dict[str, int] = Field(default_factory=dict, description="masks made by each method")
    background: Literal["blur", "pixelate"]
    views: list[InstanceView] = Field(default_factory=list)
    instances: list[InstanceTrack] = Field(
        default_factory=list, description="the detector's instances with evidence re-measured on the masks"
    )


class Background(BaseModel):
    colours: list[str]
    brightness: Literal["dark", "dim", "moderately lit", "bright"]
    contrast: Literal["low", "moderate", "high"]
    texture: Literal["smooth", "lightly textured", "richly textured"]
    upper_colours: list[str] = Field(default_factory=list)
    lower_colours: list[str] = Field(default_factory=list)
    saturation: Literal["muted", "moderate", "vivid"] = "moderate"
    fact_confidence: dict[str, float] = fact_confidence_field()


class LexiconViolation(BaseModel):
    field: str
    kind: str  # negative_word, sound, timestamp, frame_number, metaphor, speculation, bullet, too_long
    text: str
    start: int
    end: int
    suggestion: str | None = None


class LexiconReport(BaseModel):
    violations: list[LexiconViolation] = Field(default_factory=list)
    checked_fields: int = 0


class Evidence(Mapping[str, Any]):
    """The tools' evidence by tool name, as plain JSON (as the graph state, the records and the cache keep
    it), with the evidence model each tool declares (``models``: tool name -> model), so that it reads typed.
    Whoever knows the tools makes it: a measuring step (from the run's tools), the run's record, a plugin
    manager's models (``Evidence(raw, plugins.evidence_models(settings))``), the offline planner and the local
    backend (from the tools they are bound to)."""

    def __init__(self, raw: Mapping[str, Any] | None = None, models: Mapping[str, type[BaseModel]] | None = None):
        self.raw: Mapping[str, Any] = raw if raw is not None else {}
        self.models: Mapping[str, type[BaseModel]] = models if models is not None else {}

    def __getitem__(self, tool: str) -> Any:
        return self.raw[tool]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"Evidence({dict(self)!r})"

    def typed(self, tool: str):
        """The evidence of ``tool`` as its model (as it is, for a tool without one), or ``None`` when it has not run."""
        raw = self.get(tool)
        if raw is None:
            return None
        model = self.models.get(tool)
        return model.model_validate(raw) if model else raw

    def tools_declaring(self, model: type[BaseModel]) -> list[str]:
        """The tools whose evidence is a ``model``."""
        return [tool for tool, declared in self.models.items() if declared is model]

    def of(self, model: type[BaseModel]):
        """The evidence of the first tool that declares ``model`` and has run, as that model, or ``None``."""
        for tool in self.tools_declaring(model):
            if self.get(tool) is not None:
                return model.model_validate(self[tool])
        return None


def _typed(evidence: Mapping[str, Any]) -> Evidence:
    if not isinstance(evidence, Evidence):
        raise TypeError("evidence read without its models: give an Evidence (raw, the tools' evidence models), "
                        f"not a {type(evidence).__name__}")
    return evidence


def typed(evidence: Evidence, tool: str):
    """The evidence of ``tool`` as its model, or ``None`` when it has not run."""
    return _typed(evidence).typed(tool)


def evidence_of(evidence: Evidence, model: type[BaseModel]):
    """The evidence of the tool that declares ``model``, as that model, or ``None`` when none has run."""
    return _typed(evidence).of(model)


def evidence_in(tool_messages, models: Mapping[str, type[BaseModel]]) -> Evidence:
    """The evidence that tool messages carry in their artifacts, in order: for each, the requirements its
    tool ran first (``dependencies``), then its own; typed by ``models``. Read by the offline planner and the
    local backend, which see the conversation as a model does."""
    evidence: dict[str, Any] = {}
    for m in tool_messages:
        art = getattr(m, "artifact", None)
        if not isinstance(art, dict):
            continue
        evidence.update({n: found for n, found in (art.get("dependencies") or {}).items() if found is not None})
        if art.get("evidence") is not None:
            evidence[m.name] = art["evidence"]
    return Evidence(evidence, models)


def instances_of(evidence: Evidence) -> list[InstanceTrack]:
    """The final instances: the segmentation's refined ones when present, else the detector's."""
    seg = evidence_of(evidence, Segmentation)
    if seg is not None and seg.instances:
        return seg.instances
    found = evidence_of(evidence, Instances)
    return found.instances if found else []
