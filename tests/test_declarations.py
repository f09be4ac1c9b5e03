"""The offline plan, the Ray stages, the evidence models and the cache keys come from the tools' declarations."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agent.core.config import Settings
from agent.core.feeds import FrameFeed
from agent.core.registry import DeclarationError, ToolRegistry
from agent.core.tool import Observation, Tool
from agent.run.plugins import load_plugins
from conftest import tool_context

ALL_CONDITIONS = Settings(conditions=["depth", "pose", "film_language"])


def builtin_registry(settings: Settings = ALL_CONDITIONS) -> ToolRegistry:
    return ToolRegistry.of(load_plugins().tools(settings))


CORE_TOOLS = ("read_metadata", "estimate_camera_motion", "detect_instances", "segment_and_blur", "describe_background")
CONDITION_TOOLS = ("describe_film_language", "estimate_depth", "estimate_pose")


def assert_each_after_what_it_requires(registry: ToolRegistry, plan: list[str]) -> None:
    for name in plan:
        for needed in registry.requirements(name):
            if needed in plan:
                assert plan.index(needed) < plan.index(name), f"{name} is planned before {needed}, which it requires"


def test_the_builtin_declarations_fit_together_and_give_the_plan_and_stages():
    # properties, not a pinned list: a new tool or plugin changes none of these assertions
    registry = builtin_registry()
    registry.check(Settings.model_fields)
    plan = registry.plan()
    assert plan[0] == "read_metadata" and set(CORE_TOOLS + CONDITION_TOOLS) <= set(plan)
    assert_each_after_what_it_requires(registry, plan)
    assert plan.index("describe_background") < min(plan.index(t) for t in CONDITION_TOOLS)
    stages = registry.stages(plan)
    assert sorted(sum(stages.values(), [])) == sorted(plan)  # each planned tool in exactly one stage
    assert {"read_metadata", "estimate_camera_motion"} <= set(stages["cpu"])
    # the background and film language are CPU work, but need the segmentation: they run in its stage
    assert {"detect_instances", "segment_and_blur", "describe_background", "describe_film_language"} <= set(stages["gpu"])
    order = [*stages["cpu"], *stages["gpu"], *stages["llm"]]
    assert_each_after_what_it_requires(registry, order)
    from tools.describe import Describe

    assert ToolRegistry.of([*registry.tools.values(), Describe()]).stage_of("describe") == "llm"
    assert registry.producer_of("camera.pairs") == "estimate_camera_motion"
    assert registry.producer_of("segment.masks") == "segment_and_blur"
    plain = builtin_registry(Settings()).plan()  # no condition, no condition tools
    assert set(CORE_TOOLS) <= set(plain) and not set(CONDITION_TOOLS) & set(plain)


def test_the_offline_planner_takes_its_plan_and_roles_from_the_declarations():
    from agent.models.planner import OfflinePlanner
    from graphs.caption import as_langchain_tool, offline_tools
    from tools.describe import Describe

    tools = [*load_plugins().tools(Settings(conditions=["depth"])), Describe()]
    plan = offline_tools(tools)
    bound = OfflinePlanner().bind_tools([as_langchain_tool(t, plan.index(t.name) if t.name in plan else None)
                                         for t in reversed(tools)])
    assert bound.plan == plan == builtin_registry(Settings(conditions=["depth"])).plan()
    assert bound.roles == {"describe": "describe", "check_draft": "check_lexicon"}


def test_the_ray_stages_follow_the_declarations():
    from agent.run.ray_engine import planned_stages

    cpu, gpu = planned_stages(Settings(backend="auto"))
    assert cpu[:2] == ("read_metadata", "estimate_camera_motion")
    assert {"detect_instances", "segment_and_blur", "describe_background"} <= set(gpu)
    assert not set(cpu) & set(gpu)
    cpu, gpu = planned_stages(Settings(backend="classical", conditions=["depth"]))
    assert gpu == () and "estimate_depth" in cpu and cpu.index("estimate_depth") > cpu.index("segment_and_blur")


class Measured(BaseModel):
    value: int


class First(Tool):
    name = "first_test_tool"
    description = "a test tool"
    evidence_model = Measured
    produces = ("first.value",)
    reads_settings = ("max_instances",)
    plan = 95

    def run(self, ctx, args) -> Observation:
        ctx.artifacts["first.value"] = 7
        return Observation({"value": 1}, Measured(value=1))


class Second(Tool):
    name = "second_test_tool"
    description = "a test tool that builds on the first"
    evidence_model = Measured
    requires = ("first_test_tool",)
    consumes = ("first.value",)
    plan = 91  # placed before the first, but it requires it

    def run(self, ctx, args) -> Observation:
        ctx.require("first_test_tool")
        return Observation({"value": ctx.artifacts["first.value"]}, Measured(value=ctx.artifacts["first.value"]))


class Nosy(Tool):
    name = "nosy_test_tool"
    description = "a test tool that reads what it did not declare"

    def run(self, ctx, args) -> Observation:
        return Observation({"seen": sorted(ctx.evidence)}, {"camera": ctx.require("estimate_camera_motion")})


def test_a_plugin_tool_is_planned_keyed_and_sees_only_what_it_declares(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    ctx = tool_context(path, tmp_path, backend="classical")
    for tool in (First(), Second(), Nosy()):
        ctx.tools[tool.name] = tool
    registry = ctx.registry
    assert registry.plan()[-2:] == ["first_test_tool", "second_test_tool"]
    assert registry.key_settings("second_test_tool") == ["frames", "max_instances", "motion_fps", "motion_width"]
    assert registry.versions("second_test_tool") == {"second_test_tool": "1", "first_test_tool": "1"}

    ctx.tools["estimate_camera_motion"](ctx)
    assert ctx.tools["second_test_tool"](ctx).evidence.value == 7  # the first ran as a dependency
    ctx.artifacts.clear()  # as after a resume: the producer makes its artifact again
    ctx.measured.pop("second_test_tool")
    assert ctx.tools["second_test_tool"](ctx).evidence.value == 7
    nosy = ctx.tools["nosy_test_tool"](ctx)
    assert not nosy.ok and "without declaring it" in nosy.summary["error"]


class Third(Tool):
    name = "third_test_tool"
    description = "another test tool that builds on the first"
    evidence_model = Measured
    requires = ("first_test_tool",)

    def run(self, ctx, args) -> Observation:
        return Observation({"value": 3}, Measured(value=ctx.require("first_test_tool")["value"] + 2))


def test_the_graph_state_is_the_one_home_of_the_evidence(three_objects_clip, tmp_path):
    """Each tool call returns what it measured (with what it required first) as its update to the state;
    the run context keeps no evidence, and a requirement that two calls of one turn share is measured once."""
    import threading

    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, StateGraph
    from langgraph.prebuilt import ToolNode

    from graphs.caption import CaptionState
    from graphs.caption_tools import as_langchain_tool, guarded_tool_call

    path, _ = three_objects_clip
    ctx = tool_context(path, tmp_path, tools=(First(), Second(), Third())).ctx
    assert not hasattr(ctx, "evidence")
    graph = StateGraph(CaptionState)
    graph.add_node("tools", ToolNode([as_langchain_tool(ctx.tools[n]) for n in ("second_test_tool", "third_test_tool")],
                                     wrap_tool_call=guarded_tool_call(threading.Lock())))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    turn = AIMessage("", tool_calls=[{"name": n, "args": {}, "id": n, "type": "tool_call"}
                                     for n in ("second_test_tool", "third_test_tool")])
    known = {"read_metadata": {"duration_s": 1.0}}
    out = graph.compile().invoke({"messages": [turn], "evidence": known}, context=ctx)
    assert out["evidence"] == {**known, "first_test_tool": {"value": 1}, "second_test_tool": {"value": 7},
                               "third_test_tool": {"value": 3}}
    assert [r.name for r in ctx.records].count("first_test_tool") == 1
    assert [m.artifact["evidence"]["value"] for m in out["messages"][1:]] == [7, 3]  # the messages carry it too


def test_a_declaration_that_does_not_fit_is_reported():
    class Orphan(Tool):
        name = "orphan_test_tool"
        description = "consumes an artifact nothing upstream makes"
        consumes = ("camera.pairs",)

    class Loop(Tool):
        name = "loop_test_tool"
        description = "requires itself through another"
        requires = ("loop_back_test_tool",)

    class LoopBack(Tool):
        name = "loop_back_test_tool"
        description = "requires the loop"
        requires = ("loop_test_tool",)

    with pytest.raises(DeclarationError, match="consumes camera.pairs"):
        ToolRegistry.of([*load_plugins().tools(Settings()), Orphan()]).check(Settings.model_fields)
    with pytest.raises(DeclarationError, match="require each other"):
        ToolRegistry.of([Loop(), LoopBack()]).check(Settings.model_fields)
    with pytest.raises(DeclarationError, match="do not exist"):
        ToolRegistry.of([type("Typo", (First,), {"name": "typo_test_tool", "reads_settings": ("max_instance",)})()]
                        ).check(Settings.model_fields)


def test_the_cache_key_holds_exactly_the_settings_a_tool_and_its_requirements_read(three_objects_clip, tmp_path):
    path, _ = three_objects_clip

    def key(tool: str, **settings) -> str:
        ctx = tool_context(path, tmp_path, **settings)
        ctx.clip_hash = "clip"
        return ctx._key(ctx.tools[tool], ctx.tools[tool].Args())[0]

    camera, detect, segment = (key(t) for t in ("estimate_camera_motion", "detect_instances", "segment_and_blur"))
    assert key("estimate_camera_motion", max_instances=2) == camera  # the camera reads no detection setting
    assert key("detect_instances", max_instances=2) != detect
    assert key("segment_and_blur", max_instances=2) != segment  # through the detection it requires
    assert key("detect_instances", background="pixelate") == detect
    assert key("segment_and_blur", background="pixelate") != segment
    for llm_only in ({"llm": "openai:gpt-4o"}, {"temperature": 0.7}, {"max_steps": 5}, {"send_images": False}):
        assert key("segment_and_blur", **llm_only) == segment, llm_only
    assert key("detect_instances", frames=4) != detect


class Recorded(Settings):
    """Settings that note each field a tool reads."""

    def __getattribute__(self, name: str):
        if name in type(self).model_fields:
            READ.add(name)
        return super().__getattribute__(name)


READ: set[str] = set()


@pytest.mark.parametrize("backend", ["classical", "auto"])
def test_each_tool_reads_only_the_settings_in_its_cache_key(three_objects_clip, tmp_path, backend):
    from agent.run.context import RunContext
    from agent.run.media import FrameStore

    path, _ = three_objects_clip
    settings = Recorded(runs_dir=tmp_path, backend=backend, conditions=["depth", "pose", "film_language"])
    tools = {t.name: t for t in load_plugins().tools(settings)}
    ctx = RunContext(FrameStore(path), settings, tmp_path / "run", tools=tools).measuring()
    registry = ctx.registry
    for name in registry.plan():
        for needed in registry.requirements(name):
            ctx.require(needed)
        READ.clear()
        ctx.tools[name](ctx)
        assert READ <= set(registry.key_settings(name)), (name, READ - set(registry.key_settings(name)))


def test_a_misspelled_declaration_fails_when_the_tool_is_defined():
    """A declaration with a wrong name would silently change nothing (the tool never planned, a setting
    missing from its key): the class is refused, naming the attribute and the declarations there are."""
    with pytest.raises(TypeError, match=r"Misspelled\.offline_plan is not a tool declaration .*plan"):
        class Misspelled(Tool):
            name = "misspelled"
            description = "a tool with a wrong declaration"
            offline_plan = True

    class Fine(Tool):  # methods, constants and private names are the tool's own business
        name = "fine"
        description = "a tool with helpers"
        plan = 95
        LIMIT = 3
        _cache: dict = {}

        def helper(self):
            return self.LIMIT

    assert Fine().helper() == 3 and Fine.plan == 95


class Brightness:
    """A frame consumer of the test tool below: the mean brightness of every frame it is fed."""

    def __init__(self, fps: float):
        self.means: list[float] = []

    def push(self, image, t: float) -> None:
        self.means.append(float(image.mean()))

    def finish(self, times, duration_s: float) -> dict:
        return {"frames": len(self.means), "times": len(times), "mean": sum(self.means) / len(self.means)}


BRIGHTNESS_FEED = FrameFeed("brightness_test", Brightness, frames="every", width=64)


class Bright(Tool):
    name = "brightness_test_tool"
    description = "reads every decoded frame through a feed of its own"
    feeds = (BRIGHTNESS_FEED,)

    def run(self, ctx, args) -> Observation:
        return Observation("measured", ctx.frames.streamed(BRIGHTNESS_FEED))


def test_a_tool_s_frame_feed_is_fed_by_the_one_decode_pass(three_objects_clip, tmp_path):
    """A plugin tool that needs every frame declares a feed; the run's single decode pass feeds it
    beside the built-in ones (the shots, the camera's pairs), and nothing is decoded twice."""
    path, _ = three_objects_clip
    ctx = tool_context(path, tmp_path, backend="classical", tools=[Bright()])
    assert {f.name for f in ctx.registry.feeds()} >= {"shots", "camera.frame_pairs", "brightness_test"}
    for name in (*CORE_TOOLS, "brightness_test_tool"):
        assert ctx.tools[name](ctx).ok, name
    measured = ctx.evidence["brightness_test_tool"]
    assert measured["frames"] == measured["times"] == ctx.frames.stats.frames_in_stream > 1
    assert 0 < measured["mean"] < 255
    assert ctx.frames.passes == 1


def test_a_feed_read_by_a_tool_that_did_not_declare_it_costs_a_pass_of_its_own(three_objects_clip):
    from agent.run.media import FrameStore

    path, _ = three_objects_clip
    store = FrameStore(path, feeds=[BRIGHTNESS_FEED])
    store.sampled  # noqa: B018 - the pass runs with the declared feed only
    assert store.passes == 1 and store.streamed(BRIGHTNESS_FEED)["frames"] > 1
    late = FrameFeed("late_brightness_test", Brightness, frames="motion")
    assert store.streamed(late)["frames"] == len(store.motion.times)
    assert store.passes == 2


def test_two_different_feeds_of_one_name_are_a_declaration_error():
    other = type("OtherBright", (Bright,), {"name": "other_brightness_test_tool",
                                            "feeds": (FrameFeed("brightness_test", Brightness, frames="motion"),)})
    with pytest.raises(DeclarationError, match="two different frame feeds"):
        ToolRegistry.of([Bright(), other()]).check(Settings.model_fields)
