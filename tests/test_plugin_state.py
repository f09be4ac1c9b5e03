"""The active plugin manager decides what the caption may hold: no section outlives the plugin that declared it."""

from __future__ import annotations

import pytest

from agent.core.caption import json_schema
from agent.run.plugins import load_plugins

CONDITION_SECTIONS = {"Depth", "Pose", "Film Language"}


def test_disabling_plugins_takes_their_sections_out_of_the_schema():
    load_plugins()
    assert CONDITION_SECTIONS <= set(json_schema()["properties"])
    load_plugins(["depth", "pose", "film_language"])
    try:
        assert not CONDITION_SECTIONS & set(json_schema()["properties"])
    finally:
        load_plugins()
    assert CONDITION_SECTIONS <= set(json_schema()["properties"])


def test_a_composed_caption_with_plugin_sections_passes_the_published_schema(three_objects_clip, tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (it comes with the [all] extras)")
    from agent.core.caption import CaptionSection, use_sections
    from agent.core.config import Settings
    from agent.run.runner import caption_video

    path, _ = three_objects_clip
    record = caption_video(path, Settings(runs_dir=tmp_path, conditions=["depth", "pose", "film_language"]))
    assert CONDITION_SECTIONS <= set(record.caption)
    jsonschema.validate(record.caption, json_schema())
    # a plugin section declared without a model may be written as sentences or as an object
    plugins = load_plugins()
    use_sections([*plugins.sections, CaptionSection("Motion Rhythm")])
    try:
        jsonschema.validate({**record.caption, "Motion Rhythm": "The motion is steady."}, json_schema())
        jsonschema.validate({**record.caption, "Motion Rhythm": {"Tempo": "steady"}}, json_schema())
    finally:
        load_plugins()
