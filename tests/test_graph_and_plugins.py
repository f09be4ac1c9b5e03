"""The caption graph with scripted chat models (repair, fallback, nudges) and the plugin system."""

import json
import textwrap

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from agent.core.config import Settings
from agent.run.plugins import load_plugins
from agent.run.runner import caption_video
from conftest import install_fake_distribution, run_cli


class Scripted(GenericFakeChatModel):
    """Replays fixed replies; bind_tools keeps it as it is."""

    def bind_tools(self, tools, **kwargs):
        return self


def call(name, args, i):
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"c{i}", "type": "tool_call"}])


def run_with(replies, clip, tmp_path, monkeypatch, **settings):
    model = Scripted(messages=iter(replies))
    monkeypatch.setattr("agent.run.runner.make_chat_model", lambda settings, backends: model)
    return caption_video(clip, Settings(runs_dir=tmp_path, **settings))


def test_invalid_submission_is_repaired(three_objects_clip, tmp_path, monkeypatch):
    clip, truth = three_objects_clip
    good = json.loads(run_cli("run", str(clip), "-q", "--runs-dir", str(tmp_path / "r")).stdout)
    bad = json.loads(json.dumps(good))
    bad["Structural Description"]["Camera Movement"] = "The camera pans right with a loud noise."
    replies = [call("detect_instances", {}, 1), call("estimate_camera_motion", {}, 2),
               call("submit_caption", bad, 3), call("submit_caption", good, 4)]
    record = run_with(replies, clip, tmp_path, monkeypatch)
    assert record.status == "ok" and record.caption == good
    failed = [s for s in record.steps if s.get("node") == "validate" and not s["ok"]]
    assert len(failed) == 1
    problems = " ".join(failed[0]["problems"])
    assert "Camera Movement: describes 'pan right'" in problems and "sound: 'loud'" in problems
    assert record.usage.calls == 4


def test_repairs_exhausted_fall_back_to_evidence(three_objects_clip, tmp_path, monkeypatch):
    clip, _ = three_objects_clip
    junk = {"Video": "three.mp4"}
    replies = [call("submit_caption", junk, i) for i in range(5)]
    record = run_with(replies, clip, tmp_path, monkeypatch, max_repairs=1)
    assert record.status == "degraded" and "after 1 repair" in record.fallback_reason
    assert record.caption["Video"] == "three.mp4"
    assert len(record.caption["Structural Description"]["Main Instance"]) == 3


def test_unknown_tool_and_chatter_are_survived(three_objects_clip, tmp_path, monkeypatch):
    clip, _ = three_objects_clip
    replies = [call("teleport", {}, 1), AIMessage(content="I think it is a nice clip."),
               AIMessage(content="Still thinking."), AIMessage(content="Done.")]
    record = run_with(replies, clip, tmp_path, monkeypatch)
    assert record.status == "degraded"
    assert "stopped calling tools" in record.fallback_reason
    teleport = next(s for s in record.steps if s.get("tool") == "teleport")
    assert not teleport["ok"] and "not a valid tool" in teleport["observation"]


def test_step_limit(three_objects_clip, tmp_path, monkeypatch):
    clip, _ = three_objects_clip
    replies = [call("read_metadata", {}, i) for i in range(10)]
    record = run_with(replies, clip, tmp_path, monkeypatch, max_steps=3)
    assert record.status == "degraded" and "step limit" in record.fallback_reason


PLUGIN = textwrap.dedent('''
    from agent.core.hookspecs import hookimpl
    from agent.core.tool import Observation, Tool

    class CountFrames(Tool):
        name = "count_frames"
        description = "How many frames the clip has."
        def run(self, ctx, args):
            return Observation({"frames": ctx.frames.frame_count})

    @hookimpl
    def register_tools():
        return [CountFrames()]
''')


def test_entry_point_plugins_load_and_broken_ones_are_named(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path, "frame_counter", PLUGIN, "frame-counter")
    install_fake_distribution(tmp_path, "broken_plugin", "raise RuntimeError('boom')\n", "broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins()
    tools = {t.name for t in plugins.tools(Settings())}
    assert "count_frames" in tools and "read_metadata" in tools
    infos = {i.name: i for i in plugins.infos}
    assert infos["frame-counter"].tools == ["count_frames"] and infos["frame-counter"].source == "frame_counter"
    assert "boom" in infos["broken"].error
    res = run_cli("plugins", "--json", env={"PYTHONPATH": str(tmp_path)})
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["frame-counter"]["tools"] == ["count_frames"] and "boom" in rows["broken"]["error"]


def test_disabling_a_plugin_removes_its_tool(three_objects_clip, tmp_path):
    clip, _ = three_objects_clip
    res = run_cli("run", str(clip), "--no-plugin", "tools.segment", "--runs-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "segment_and_blur" not in res.stderr and "detect_instances" in res.stderr
    res = run_cli("plugins", "--json", env={"INSTANCE_AGENT_DISABLED_PLUGINS": "tools.lexicon"})
    assert "check_lexicon" not in res.stdout


def test_each_model_reply_is_normalised_once(three_objects_clip, tmp_path, monkeypatch):
    import agent.models.toolcalls
    import graphs.caption

    clip, _ = three_objects_clip
    seen = []
    original = agent.models.toolcalls.normalise_reply
    counted = lambda reply: seen.append(reply) or original(reply)  # noqa: E731
    monkeypatch.setattr(graphs.caption, "normalise_reply", counted)
    monkeypatch.setattr(agent.models.toolcalls, "normalise_reply", counted)  # wherever else a reply is read
    as_text = AIMessage(content='<tool_call>{"name": "read_metadata", "arguments": {}}</tool_call>')
    replies = [as_text, call("submit_caption", {"Video": "three.mp4"}, 2), AIMessage(content="Done."),
               AIMessage(content="Done."), AIMessage(content="Done.")]
    record = run_with(replies, clip, tmp_path, monkeypatch, max_repairs=0)
    models = [s for s in record.steps if s.get("node") == "model"]
    assert len(seen) == len(models) == record.usage.calls >= 2
    assert models[0]["recovered"] == "tool calls written as text" and models[0]["calls"] == ["read_metadata"]
