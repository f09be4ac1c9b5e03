"""The plugin manager a caller hands on decides what the caption may hold: no section outlives the plugin that
declared it, and two managers in one process do not see each other's sections or backends."""

from __future__ import annotations

import pytest

from agent.core.caption import json_schema
from agent.run.plugins import load_plugins

CONDITION_SECTIONS = {"Depth", "Pose", "Film Language"}


def test_disabling_plugins_takes_their_sections_out_of_the_schema():
    from agent.models.llm import make_chat_model
    from agent.core.config import Settings
    from agent.core.errors import InputError

    everything = load_plugins()
    fewer = load_plugins(["depth", "pose", "film_language", "agent.models.backends"])
    assert CONDITION_SECTIONS <= set(json_schema(everything.sections)["properties"])
    assert not CONDITION_SECTIONS & set(json_schema(fewer.sections)["properties"])
    assert CONDITION_SECTIONS <= set(json_schema(everything.sections)["properties"])  # loading one changed nothing
    assert type(make_chat_model(Settings(), everything.backends)).__name__ == "OfflinePlanner"
    with pytest.raises(InputError, match="no chat backend takes it"):
        make_chat_model(Settings(), fewer.backends)


def test_evidence_is_typed_by_the_tools_a_manager_holds_and_never_by_a_module_table():
    """Defining a tool class registers nothing; evidence reads typed by the models of the tools at hand,
    and a plain dict read as evidence is an error, not an empty reading."""
    import agent.core.evidence as evidence_module
    from pydantic import BaseModel

    from agent.core.config import Settings
    from agent.core.evidence import CameraMotion, Evidence, evidence_of
    from agent.core.tool import Observation, Tool

    class Camera2(BaseModel):
        label: str

    class OtherCamera(Tool):  # a tool defined in this process, never loaded by a manager
        name = "estimate_camera_motion"
        description = "a stand-in that declares another model under the built-in camera tool's name"
        evidence_model = Camera2

        def run(self, ctx, args):
            return Observation({})

    assert not [v for v in vars(evidence_module).values() if isinstance(v, dict) and OtherCamera.name in v]
    models = load_plugins().evidence_models(Settings())
    assert models["estimate_camera_motion"] is CameraMotion and models["detect_instances"].__name__ == "Instances"
    assert "estimate_depth" in models and not Settings().conditions  # a condition's tool, on or off
    assert set(models) - set(load_plugins(["depth"]).evidence_models(Settings())) == {"estimate_depth"}
    raw = {"estimate_camera_motion": CameraMotion(label="pan left", confidence=1.0, hint="").model_dump()}
    assert evidence_of(Evidence(raw, models), CameraMotion).label == "pan left"
    assert evidence_of(Evidence(raw, {}), CameraMotion) is None  # no tool at hand declares it
    with pytest.raises(TypeError, match="without its models"):
        evidence_of(raw, CameraMotion)


def test_a_composed_caption_with_plugin_sections_passes_the_published_schema(three_objects_clip, tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (it comes with the [all] extras)")
    from agent.core.caption import CaptionSection
    from agent.core.config import Settings
    from agent.run.runner import caption_video

    path, _ = three_objects_clip
    record = caption_video(path, Settings(runs_dir=tmp_path, conditions=["depth", "pose", "film_language"]))
    assert CONDITION_SECTIONS <= set(record.caption)
    plugins = load_plugins()
    jsonschema.validate(record.caption, json_schema(plugins.sections))
    # a plugin section declared without a model may be written as sentences or as an object
    schema = json_schema({**plugins.sections, "Motion Rhythm": CaptionSection("Motion Rhythm")})
    jsonschema.validate({**record.caption, "Motion Rhythm": "The motion is steady."}, schema)
    jsonschema.validate({**record.caption, "Motion Rhythm": {"Tempo": "steady"}}, schema)


def test_a_plugin_extends_enhance_with_its_own_condition():
    """Through the hooks the built-in conditions use: an option on ``enhance``, the file it names, the
    condition worded for the model's prompt, and a check that holds the caption to it."""
    import argparse
    import importlib
    import types

    from agent.core.hookspecs import hookimpl
    from agent.run.plugins import BUILTIN_PLUGINS, _build

    def rain_check(caption, evidence):
        return []

    weather = types.ModuleType("weather_plugin")

    @hookimpl
    def add_command_options(command, parser):
        if command == "enhance":
            parser.add_argument("--weather", metavar="F")

    @hookimpl
    def condition_inputs(args):
        return ({"weather": args.weather}, {}) if getattr(args, "weather", None) else None

    @hookimpl
    def describe_conditions(evidence):
        return f"\n- Weather: {evidence['weather']}." if "weather" in evidence else None

    @hookimpl
    def register_condition_checks():
        return [rain_check]

    for hook in (add_command_options, condition_inputs, describe_conditions, register_condition_checks):
        setattr(weather, hook.__name__, hook)
    plan = [(name, "builtin", lambda name=name: importlib.import_module(name)) for name in BUILTIN_PLUGINS]
    plugins = _build([*plan, ("weather", "test", lambda: weather)])
    assert all(info.error is None for info in plugins.infos), [i.error for i in plugins.infos if i.error]

    parser = argparse.ArgumentParser()
    plugins.add_command_options("enhance", parser)
    args = parser.parse_args(["--weather", "rain.txt", "--style", "style.png"])  # its option and a built-in one
    files, _ = plugins.condition_inputs(args)
    assert files == {"style": "style.png", "weather": "rain.txt"}
    assert plugins.describe_conditions({"weather": "light rain"}).endswith("- Weather: light rain.")
    checks = plugins.condition_checks()
    assert rain_check in checks and any(c.__name__ == "camera_path_matches" for c in checks)
