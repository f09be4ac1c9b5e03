import json

import pytest

from agent.core.caption import (STRUCTURAL_KEY, Caption, CaptionSection, json_schema, parse_caption,
                           validate_raw)
from pydantic import BaseModel

GOOD = {
    "Video": "a.mp4",
    "Global Description": "A person walks along a street.",
    "Structured Description": {
        "Main Instance": {
            "No.0": {"Class": "person", "Appearance": "A man in a red coat.",
                     "Actions and Motion": "He walks to the left.", "Position": "person moves from the center to the middle-left."},
        },
        "Background Detail": "A brick wall.",
        "Camera Movement": "The camera remains static.",
    },
}


def test_reads_paper_spelling_and_writes_released_spelling():
    caption = parse_caption(GOOD)
    out = caption.to_dict()
    assert STRUCTURAL_KEY in out and "Structured Description" not in out
    assert list(out) == ["Video", "Global Description", STRUCTURAL_KEY]
    assert list(out[STRUCTURAL_KEY]) == ["Main Instance", "Background Detail", "Camera Movement"]
    assert out[STRUCTURAL_KEY]["Main Instance"]["No.0"]["Actions and Motion"] == "He walks to the left."
    assert parse_caption(out) == caption  # round trip


def test_empty_main_instance_is_valid():
    data = json.loads(json.dumps(GOOD))
    data["Structured Description"]["Main Instance"] = {}
    assert parse_caption(data).instances == []


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["Structured Description"]["Main Instance"]["No.0"].pop("Position"),
     "Structural Description.Main Instance.No.0.Position"),
    (lambda d: d.pop("Global Description"), "Global Description"),
    (lambda d: d["Structured Description"].__setitem__("Camera Movement", "  "), "Structural Description.Camera Movement"),
    (lambda d: d["Structured Description"]["Main Instance"].__setitem__("No.2", d["Structured Description"]["Main Instance"]["No.0"]),
     "Structural Description.Main Instance"),
    (lambda d: d.__setitem__("Bogus", 1), "(caption)"),
])
def test_errors_name_the_field(mutate, field):
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    caption, errors = validate_raw(data)
    assert caption is None
    assert any(e.startswith(field) for e in errors), errors


def test_both_spellings_at_once_is_an_error():
    data = json.loads(json.dumps(GOOD))
    data[STRUCTURAL_KEY] = data["Structured Description"]
    assert validate_raw(data)[0] is None


def test_plugin_sections_extend_schema_and_round_trip():
    class Film(BaseModel):
        shot_size: str

    sections = {"Film Language": CaptionSection("Film Language", Film)}
    data = {**GOOD, "Film Language": {"shot_size": "close-up"}}
    caption = parse_caption(data, sections)
    assert caption.to_dict()["Film Language"] == {"shot_size": "close-up"}
    assert "Film Language" in json_schema(sections)["properties"]
    with pytest.raises(Exception):
        parse_caption({**GOOD, "Film Language": {"wrong": 1}}, sections)
    # the sections are what the caller says, nothing a process remembers
    assert "Film Language" not in json_schema()["properties"]
    with pytest.raises(Exception, match="unknown top-level key"):
        parse_caption(data)


def test_schema_uses_released_keys():
    props = json_schema()["properties"]
    assert {"Video", "Global Description", STRUCTURAL_KEY} <= set(props)
    assert Caption.model_json_schema(by_alias=True)["required"] == ["Video", "Global Description", STRUCTURAL_KEY]
