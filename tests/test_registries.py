"""Open registries: conditions, caption sections and chat backends from plugins; one guarded plugin manager."""

import argparse
import textwrap

from pydantic import BaseModel

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from agent.core.caption import CaptionSection, caption_section
from agent.core.config import Settings
from agent.core.errors import InputError
from agent.core.flatten import flatten, units
from agent.models.llm import CheckedChatOpenAI, describe_llm_error, make_chat_model
from agent.models.planner import OfflinePlanner
from agent.models.registry import backend_for
from agent.run import plugins as plugin_manager
from agent.run.plugins import load_plugins
from conftest import install_fake_distribution
from plugins.formats import dense

SD = {"Main Instance": {"No.0": {"Class": "person", "Appearance": "A man in a red coat.",
                                 "Actions and Motion": "He walks to the left.", "Position": "He stays in the middle."}},
      "Background Detail": "A quiet street with shops. Trees line it.", "Camera Movement": "The camera is static."}
CAPTION = {"Video": "clip.mp4", "Global Description": "A man walks down a street.", "Structural Description": SD}

THIRD_PARTY = textwrap.dedent('''
    from pydantic import BaseModel, ConfigDict, Field
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from agent.core.caption import CaptionSection
    from agent.core.conditions import Condition
    from agent.core.hookspecs import hookimpl
    from agent.core.tool import NoArgs, Observation, Tool
    from agent.models.registry import ChatBackend

    class WeatherSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        unit: str = "celsius"
        days: int = Field(1, ge=1, description="days ahead")

    class LookAtSky(Tool):
        name = "look_at_sky"
        description = "Say what the weather looks like."
        Args = NoArgs
        def run(self, ctx, args):
            return Observation({"sky": "clear"})

    WEATHER = Condition("weather", "what the weather looks like",
                        section=CaptionSection("Weather", rank=2, text=lambda s: [("Weather sky", s["Sky"] + " skies")]),
                        settings=WeatherSettings, tools=(LookAtSky,), compose=lambda ev: {"Sky": ev["sky"].title()})

    class Overheated(Exception):
        pass

    @hookimpl
    def register_conditions():
        return [WEATHER]

    @hookimpl
    def register_chat_backends():
        return [ChatBackend("canned", lambda spec, settings: GenericFakeChatModel(messages=iter([])),
                            lambda exc, settings: "the canned model overheated" if isinstance(exc, Overheated) else None)]
''')

MISSPELLED = textwrap.dedent('''
    from agent.core.hookspecs import hookimpl
    from agent.core.tool import Observation, Tool

    class Nothing(Tool):
        name = "do_nothing"
        description = "Nothing."
        def run(self, ctx, args):
            return Observation({})

    @hookimpl
    def register_tool():
        return [Nothing()]

    @hookimpl
    def register_output_formats():
        return {"nothing": lambda caption, evidence: ""}
''')

RAISES = textwrap.dedent('''
    from agent.core.hookspecs import hookimpl

    @hookimpl
    def register_output_formats():
        raise RuntimeError("formats exploded")

    @hookimpl
    def register_validation_checks():
        raise KeyError("no checks today")
''')


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path, "weather_plugin", THIRD_PARTY, "weather")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield load_plugins()
    monkeypatch.undo()


def test_a_third_party_condition_is_registered_with_its_section_and_settings(third_party):
    assert set(third_party.conditions()) >= {"depth", "pose", "film_language", "weather"}
    info = next(i for i in third_party.infos if i.name == "weather")
    assert info.conditions == ["weather"] and info.backends == ["canned"] and info.error is None
    # declared once: the condition's tool runs only while it is on, and its section is composed from its evidence
    assert info.hooks == ["register_chat_backends", "register_conditions"]
    assert "look_at_sky" not in {t.name for t in third_party.tools(Settings())}
    assert "look_at_sky" in {t.name for t in third_party.tools(Settings(conditions=["weather"]))}
    assert info.tools == ["look_at_sky"]
    assert third_party.composed_sections({"look_at_sky": {"sky": "clear"}}, Settings())["Weather"] == {"Sky": "Clear"}
    assert "Weather" not in third_party.composed_sections({}, Settings())
    weather = third_party.conditions()["weather"]
    assert weather.settings_from(Settings(conditions=["weather"])).unit == "celsius"
    assert weather.settings_from(Settings(plugins={"weather": {"unit": "kelvin"}})).unit == "kelvin"
    with pytest.raises(InputError, match=r"\[plugins.weather\] colour: Extra inputs"):
        third_party.tools(Settings(conditions=["weather"], plugins={"weather": {"colour": "blue"}}))
    with pytest.raises(InputError, match=r"--condition wether: not a known condition \(known: depth, "
                                         r"film_language, .*weather"):
        third_party.tools(Settings(conditions=["wether"]))
    # the section reads as its plugin says, at its rank, in flatten and in the dense format
    caption = {**CAPTION, "Weather": {"Sky": "Clear"}}
    weather_units = [u for u in units(caption, third_party.sections) if u.label == "Weather sky"]
    assert [(u.rank, u.text) for u in weather_units] == [(2, "Clear skies.")]
    assert dense(caption, {}, third_party.sections).endswith("The camera is static. Clear skies.")
    assert third_party.output_formats()["dense"](caption, {}).endswith("Clear skies.")
    # the built-ins alone know no Weather section: it reads as plain text and is no part of their schema
    builtin = load_plugins(["weather"])
    assert "Weather" not in builtin.sections and "Weather" in third_party.sections
    assert dense(caption, {}, builtin.sections).endswith("Sky: Clear.")


def test_a_third_party_conditions_settings_are_flags_of_run_and_batch(third_party):
    from agent.cli.flags import settings_from_args
    from agent.cli.parser import build_parser

    commands = {name: sub for a in build_parser("x")._actions if isinstance(a, argparse._SubParsersAction)
                for name, sub in a.choices.items()}
    weather = third_party.conditions()["weather"]
    for name in ("run", "batch"):
        helps = {o: a.help for a in commands[name]._actions for o in a.option_strings}
        assert helps["--weather-days"] == "days ahead (default 1)" and "--weather-unit" in helps
    given = settings_from_args(commands["run"].parse_args(["clip.mp4", "--weather-unit", "kelvin", "--weather-days",
                                                           "3"]))
    assert weather.settings_from(given).model_dump() == {"unit": "kelvin", "days": 3}
    assert given.plugin("weather") == {"unit": "kelvin", "days": 3}  # as the model reads it: the run folder keys on it
    with pytest.raises(InputError, match=r"^--weather-days: Input should be greater than or equal to 1$"):
        settings_from_args(commands["run"].parse_args(["clip.mp4", "--weather-days", "0"]))
    # a condition whose flag would clash with a built-in one loses the flag, not the command line
    from agent.cli.flags import add_condition_flags
    from agent.core.conditions import Condition

    class Tokens(BaseModel):
        tokens: int = 1

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-reply-tokens")
    add_condition_flags(parser, {"max_reply": Condition("max_reply", "clashes", settings=Tokens), "weather": weather})
    assert {dest for dest in parser.get_default("condition_flags")} == {"weather.unit", "weather.days"}


def test_a_third_party_chat_backend_is_made_and_its_errors_read(third_party):
    model = make_chat_model(Settings(llm="canned:anything"), third_party.backends)
    assert isinstance(model, GenericFakeChatModel)
    overheated = third_party.manager.get_plugin("weather").Overheated("boom")
    assert describe_llm_error(overheated, Settings(llm="canned:x"), third_party.backends) == "the canned model overheated"
    assert describe_llm_error(ValueError("a bug"), Settings(llm="canned:x"), third_party.backends) is None
    # the built-in backends alone know no "canned": the spec is a model name for an OpenAI-compatible server
    assert backend_for("canned:anything", third_party.backends).prefix == "canned"
    assert backend_for("canned:anything", load_plugins(["weather"]).backends).prefix == "openai"


def test_built_in_backends_register_through_the_hook(monkeypatch):
    plugins = load_plugins()
    info = next(i for i in plugins.infos if i.name == "agent.models.backends")
    assert info.backends == ["offline", "openai", "hf", "replay", "local"]
    assert isinstance(make_chat_model(Settings(), plugins.backends), OfflinePlanner)
    assert isinstance(make_chat_model(Settings()), OfflinePlanner)  # a script that gives none: the built-in ones
    # a model name with a colon is still a model name
    assert backend_for("llava:13b", plugins.backends).prefix == "openai"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert make_chat_model(Settings(llm="openai:gpt-4o-mini"), plugins.backends).model_name == "gpt-4o-mini"
    assert type(make_chat_model(Settings(llm="openai:gpt-4o-mini"), plugins.backends)).__name__ == type(
        CheckedChatOpenAI(model="m", api_key="k")).__name__
    without = load_plugins(["agent.models.backends"])
    assert without is not plugins and not any(i.name == "agent.models.backends" for i in without.infos)
    with pytest.raises(InputError, match="no chat backend takes it"):
        make_chat_model(Settings(), without.backends)


def test_flatten_and_dense_read_the_built_in_dict_sections():
    sections = load_plugins().sections
    caption = {**CAPTION,
               "Depth": {"Layout": "The scene recedes from the bottom of the frame towards the top.",
                         "Instances": {"No.0": "in the foreground"}, "Method": "depth model (random weights)"},
               "Pose": {"Instances": {"No.0": "walking"}, "Summary": "The person No.0 is mostly walking.",
                        "Method": "box shape and speed (no pose model)"},
               "Film Language": {"Shot Size": "wide", "Camera Angle": "eye level"}}
    ranks = {u.label: (u.rank, u.text) for u in units(caption, sections)}
    assert ranks["Depth layout"] == (5, "The scene recedes from the bottom of the frame towards the top.")
    assert ranks["Pose summary"] == (4, "The person No.0 is mostly walking.")
    assert ranks["Film Language shot size"] == (5, "It is a wide shot.")
    paragraph = dense(caption, {}, sections)
    assert "The scene recedes" in paragraph and "mostly walking" in paragraph and "It is a wide shot." in paragraph
    words = lambda text: len(text.split())  # noqa: E731
    roomy = flatten(caption, max_tokens=45, counter=words, counted_with="words", sections=sections)
    assert "Depth layout" in roomy.dropped and "Pose summary" not in roomy.dropped  # rank 5 goes before 4
    tight = flatten(caption, max_tokens=20, counter=words, counted_with="words", sections=sections)
    assert tight.dropped.index("Depth layout") < tight.dropped.index("Pose summary")
    # ground contact orders instances but measures no layout: nothing to say in a paragraph
    caption["Depth"]["Method"] = "ground contact (no depth model)"
    assert "Depth layout" not in {u.label for u in units(caption, sections)}
    # a section nobody registered still reads, key by key
    plain = caption_section("Lighting").sentences({"Key": "soft daylight", "Fill": {"Side": "a white wall"}})
    assert plain == [("Lighting Key", "Key: soft daylight"), ("Lighting Fill Side", "Side: a white wall")]


def test_a_misspelled_hook_is_named_and_the_plugin_left_out(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path, "typo_plugin", MISSPELLED, "typo")
    install_fake_distribution(tmp_path, "raising_plugin", RAISES, "raising")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins()
    infos = {i.name: i for i in plugins.infos}
    assert "implements register_tool, which is no hook" in infos["typo"].error
    assert "register_tools" in infos["typo"].error  # the hooks there are, to spot the misspelling
    formats = plugins.output_formats()
    assert "nothing" not in formats and "dense" in formats  # the misspelled plugin registered nothing at all
    assert "register_output_formats failed: RuntimeError: formats exploded" in infos["raising"].error
    assert plugins.validation_checks(Settings())  # the built-in checks still come
    assert "register_validation_checks failed: KeyError" in infos["raising"].error
    assert "read_metadata" in {t.name for t in plugins.tools(Settings())}
    monkeypatch.undo()
    load_plugins()


def test_one_manager_per_process_and_a_broken_builtin_is_named(monkeypatch):
    assert load_plugins() is load_plugins()
    assert load_plugins(["tools.segment"]) is load_plugins(["tools.segment"]) is not load_plugins()
    assert "segment_and_blur" not in {t.name for t in load_plugins(["tools.segment"]).tools(Settings())}
    monkeypatch.setattr(plugin_manager, "BUILTIN_PLUGINS", (*plugin_manager.BUILTIN_PLUGINS, "tools.no_such_tool"))
    plugins = load_plugins()
    broken = next(i for i in plugins.infos if i.name == "tools.no_such_tool")
    assert broken.error.startswith("failed to load: ModuleNotFoundError")
    assert "detect_instances" in {t.name for t in plugins.tools(Settings())}
    monkeypatch.undo()
    load_plugins()


def test_registering_a_caption_section_keeps_its_rank_and_text():
    section = CaptionSection("Sound", rank=1, text=lambda s: [("Sound", "It is silent.")])
    assert section.sentences({"anything": 1}) == [("Sound", "It is silent.")]
    assert CaptionSection("Sound").sentences("Birds sing.") == [("Sound", "Birds sing.")]
    assert CaptionSection("Sound").sentences(42) == []


def test_an_unknown_condition_fails_a_run_before_any_work(tmp_path):
    from agent.run.runner import caption_video

    with pytest.raises(InputError, match="--condition wether: not a known condition"):
        caption_video(tmp_path / "not-read.mp4", Settings(conditions=["wether"], runs_dir=tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()


def test_a_plugin_may_stop_a_run_with_one_line_and_a_repeated_failure_is_said_once():
    import types

    from agent.core.hookspecs import hookimpl

    strict = types.ModuleType("strict_plugin")

    def register_tools(settings):
        if settings.plugins.get("strict", {}).get("level") == "bad":
            raise InputError("[plugins.strict] level: 'bad' is not a level")
        return []

    def compose_sections(evidence):
        raise ZeroDivisionError("no sections")

    strict.register_tools = hookimpl(register_tools)
    strict.compose_sections = hookimpl(compose_sections)
    plugins = plugin_manager._build([("strict", "test", lambda: strict)])
    with pytest.raises(InputError, match="level: 'bad' is not a level"):
        plugins.tools(Settings(plugins={"strict": {"level": "bad"}}))
    assert plugins.composed_sections({}, Settings()) == {} == plugins.composed_sections({}, Settings())
    [info] = plugins.infos
    assert info.error == "compose_sections failed: ZeroDivisionError: no sections"
    load_plugins()
