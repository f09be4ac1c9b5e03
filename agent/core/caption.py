"""The InstanceCap caption schema (the InstanceVid release format).

Written with the released key ``"Structural Description"``; read with either that or the
``"Structured Description"`` spelling of the paper. Every value is free text; "Main Instance"
maps ``No.0``, ``No.1``, ... to one instance each and is ``{}`` when nothing was found.

Plugins extend the caption with extra sections (for example ``"Film Language"``): those live
under ``extra_sections`` on the model and are written as top-level keys after the standard ones.
Which sections a caption may carry is the plugin manager's to say: each function here that reads
them takes ``sections`` (``{name: CaptionSection}``, the loaded plugins' ``Plugins.sections``);
without it a caption has only the standard keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

STRUCTURAL_KEY = "Structural Description"
STRUCTURAL_KEY_ALIASES = ("Structural Description", "Structured Description")
INSTANCE_KEY_RE = re.compile(r"^No\.(\d+)$")


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


class Instance(BaseModel):
    """One main instance: what it is, how it looks, what it does, where it is."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=False)

    class_: str = Field(alias="Class", description="Object class, e.g. 'person', 'car', 'object'.")
    appearance: str = Field(alias="Appearance", description="Colours, shape, clothing, details.")
    actions_and_motion: str = Field(
        alias="Actions and Motion", description="What the instance does and how it moves."
    )
    position: str = Field(
        alias="Position",
        description="Where it is on a 3x3 grid, e.g. 'person moves from bottom-left to the center.'",
    )

    _nonempty = field_validator("class_", "appearance", "actions_and_motion", "position")(
        lambda cls, v: _text(v)
    )


class StructuralDescription(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    main_instance: dict[str, Instance] = Field(
        default_factory=dict,
        alias="Main Instance",
        description="Instances keyed No.0, No.1, ... in order; {} when none was found.",
    )
    background_detail: str = Field(alias="Background Detail")
    camera_movement: str = Field(alias="Camera Movement")

    _nonempty = field_validator("background_detail", "camera_movement")(lambda cls, v: _text(v))

    @field_validator("main_instance")
    @classmethod
    def _keys_are_numbered(cls, value: dict[str, Instance]) -> dict[str, Instance]:
        numbers = []
        for key in value:
            match = INSTANCE_KEY_RE.match(key)
            if not match:
                raise ValueError(f"instance key {key!r} must look like 'No.0', 'No.1', ...")
            numbers.append(int(match.group(1)))
        if sorted(numbers) != list(range(len(numbers))):
            raise ValueError(
                f"instance keys must be No.0 .. No.{len(numbers) - 1} with no gaps, got {list(value)}"
            )
        return dict(sorted(value.items(), key=lambda kv: int(kv[0][3:])))


class Caption(BaseModel):
    """A whole InstanceCap caption."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    video: str = Field(alias="Video", description="The clip's file name.")
    global_description: str = Field(
        alias="Global Description", description="One sentence of about 20 words or fewer."
    )
    structural: StructuralDescription = Field(alias=STRUCTURAL_KEY)
    extra_sections: dict[str, Any] = Field(
        default_factory=dict,
        exclude=True,
        description="Sections that plugins add (written as top-level keys after the standard ones).",
    )

    _nonempty = field_validator("video", "global_description")(lambda cls, v: _text(v))

    @model_validator(mode="before")
    @classmethod
    def _accept_both_spellings(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        present = [k for k in STRUCTURAL_KEY_ALIASES if k in data]
        if len(present) == 2:
            raise ValueError("give either 'Structural Description' or 'Structured Description', not both")
        if present and present[0] != STRUCTURAL_KEY:
            data[STRUCTURAL_KEY] = data.pop(present[0])
        known = {"Video", "Global Description", STRUCTURAL_KEY, "video", "global_description",
                 "structural", "extra_sections"}
        extras = {k: data.pop(k) for k in list(data) if k not in known}
        if extras:
            allowed = (info.context or {}).get("sections") or {}
            unknown = [k for k in extras if k not in allowed]
            if unknown:
                raise ValueError(
                    f"unknown top-level key(s) {unknown}; known sections: "
                    f"{['Video', 'Global Description', STRUCTURAL_KEY, *sorted(allowed)]}"
                )
            data.setdefault("extra_sections", {}).update(extras)
        return data

    @model_serializer(mode="wrap")
    def _write_extra_sections(self, handler):
        out = handler(self)
        if isinstance(out, dict):
            out.update(self.extra_sections)
        return out

    # -- convenience -----------------------------------------------------------------------
    @property
    def instances(self) -> list[Instance]:
        return list(self.structural.main_instance.values())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def text_fields(self) -> Iterable[tuple[str, str]]:
        """(field path, text) for every free-text field, in reading order."""
        yield "Global Description", self.global_description
        for key, inst in self.structural.main_instance.items():
            base = f"{STRUCTURAL_KEY}.Main Instance.{key}"
            yield f"{base}.Class", inst.class_
            yield f"{base}.Appearance", inst.appearance
            yield f"{base}.Actions and Motion", inst.actions_and_motion
            yield f"{base}.Position", inst.position
        yield f"{STRUCTURAL_KEY}.Background Detail", self.structural.background_detail
        yield f"{STRUCTURAL_KEY}.Camera Movement", self.structural.camera_movement


# -- sections added by plugins ------------------------------------------------------------
Sentences = list[tuple[str, str]]  # (label, sentence): how a section reads as prose, in order


@dataclass(frozen=True)
class CaptionSection:
    """A top-level caption section a plugin adds, and how it reads as prose.

    ``model`` validates the section when a caption carries it (None: any JSON). ``rank`` is its
    importance when a caption is flattened into a token budget (0 kept longest, 6 dropped first;
    see :mod:`agent.core.flatten`). ``text(value) -> [(label, sentence), ...]`` writes the section
    as sentences for the flattened paragraph and the ``dense`` format; without it a text section is
    its own sentence and a dict section reads ``Key: value`` for each text value in it.
    """

    name: str
    model: type[BaseModel] | None = None
    rank: int = 6
    text: Callable[[Any], Sentences] | None = None

    def sentences(self, value: Any) -> Sentences:
        if self.text is not None:
            return [(label, sentence) for label, sentence in self.text(value) if sentence and sentence.strip()]
        return plain_sentences(self.name, value)


def plain_sentences(name: str, value: Any) -> Sentences:
    """A section with no text of its own: a string as it is, a dict as ``Key: value`` per text value
    (nested dicts by their keys), anything else not at all."""
    if isinstance(value, str):
        return [(name, value)] if value.strip() else []
    if not isinstance(value, dict):
        return []
    out: Sentences = []
    for key, inner in value.items():
        if isinstance(inner, str) and inner.strip():
            out.append((f"{name} {key}", f"{key}: {inner.strip().rstrip('.')}"))
        elif isinstance(inner, dict):
            out += [(f"{name} {key} {k}", f"{k}: {v.strip().rstrip('.')}") for k, v in inner.items()
                    if isinstance(v, str) and v.strip()]
    return out


Sections = Mapping[str, "CaptionSection"]  # section name -> its declaration, as the plugin manager collected them


def caption_section(name: str, sections: Sections | None = None) -> CaptionSection:
    """How section ``name`` reads; a section none of ``sections`` declares reads like :func:`plain_sentences`."""
    return (sections or {}).get(name) or CaptionSection(name)


# -- reading and error reporting ----------------------------------------------------------
def field_errors(exc: ValidationError) -> list[str]:
    """Turn a pydantic error into lines like ``Structural Description.Main Instance.No.0.Position: Field required``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__") or "(caption)"
        lines.append(f"{loc}: {err['msg']}")
    return lines


def parse_caption(data: Any, sections: Sections | None = None) -> Caption:
    """The caption in ``data``; it may carry the extra ``sections``, each checked by its model."""
    sections = sections or {}
    caption = Caption.model_validate(data, context={"sections": sections})
    for name, value in caption.extra_sections.items():
        model = sections[name].model
        if model is not None:
            model.model_validate(value)
    return caption


def load_captions(path: Path) -> list[tuple[str, Any]]:
    """Read a .json caption, a .json list of captions, or a .jsonl file.

    Returns (label, raw data) pairs so each one can be validated and reported separately.
    """
    from agent.core.errors import InputError

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a .json or .jsonl file")
    from agent.core.jsonl import read_text

    text = read_text(path, "caption file")
    items: list[tuple[str, Any]] = []
    if path.suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                items.append((f"line {lineno}", _BadJSON(str(e))))
                continue
            # batch records carry the caption under "caption"
            if isinstance(record, dict) and "caption" in record and "Video" not in record:
                record = record["caption"]
            items.append((f"line {lineno}", record))
        return items
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
    if isinstance(data, list):
        return [(f"item {i}", d) for i, d in enumerate(data)]
    return [(path.name, data)]


class _BadJSON:
    def __init__(self, message: str):
        self.message = message


def validate_raw(data: Any, sections: Sections | None = None) -> tuple[Caption | None, list[str]]:
    """Schema-validate one raw caption (with the extra ``sections`` it may carry); returns the caption or
    the per-field error lines."""
    if isinstance(data, _BadJSON):
        return None, [f"(line): not valid JSON ({data.message})"]
    try:
        return parse_caption(data, sections), []
    except ValidationError as e:
        return None, field_errors(e)


def json_schema(sections: Sections | None = None) -> dict[str, Any]:
    """The caption's JSON schema, with the extra ``sections`` it may carry."""
    schema = Caption.model_json_schema(by_alias=True)
    schema["title"] = "InstanceCap caption"
    schema.setdefault("properties", {}).pop("extra_sections", None)
    for name, section in (sections or {}).items():
        # a section with no model is any JSON: the composer writes most as sentences, a model may write an object
        schema["properties"][name] = (section.model.model_json_schema() if section.model else
                                      {"type": ["string", "object"], "description": f"the {name} section"})
    return schema
