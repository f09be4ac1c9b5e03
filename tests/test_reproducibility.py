"""The same clip and settings give the same evidence, whatever the order the tools ran in and however
the run was interrupted."""

from __future__ import annotations

from agent.core.config import Settings
from agent.run.plugins import load_plugins
from conftest import tool_context
from graphs.caption import offline_tools

PLAN = offline_tools(load_plugins().tools(Settings(backend="classical")))  # the tools a caption rests on, in order


def _measured(ctx, order: list[str]) -> dict:
    for name in order:
        obs = ctx.tools[name](ctx)
        assert obs.ok, obs.summary
    return {name: ctx.evidence[name] for name in PLAN}


def test_calling_the_tools_in_any_order_gives_the_same_evidence(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    in_plan = _measured(tool_context(path, tmp_path, backend="classical"), PLAN)
    assert in_plan["detect_instances"]["instances"], "the clip's moving objects are found"
    # the background first (it needs everything before it), then the rest backwards: the camera is
    # measured again after detection, the detector's masks are there before the segmentation's
    backwards = _measured(tool_context(path, tmp_path, backend="classical"), PLAN[::-1])
    assert backwards == in_plan
    shuffled = _measured(tool_context(path, tmp_path, backend="classical"),
                         ["detect_instances", "describe_background", "read_metadata", "estimate_camera_motion",
                          "segment_and_blur"])
    assert shuffled == in_plan


def test_a_resumed_step_run_ends_with_the_evidence_of_an_uninterrupted_run(three_objects_clip, tmp_path):
    from agent.core.config import Settings
    from agent.run.runner import caption_video

    path, _ = three_objects_clip
    settings = Settings(runs_dir=tmp_path / "runs", backend="classical")
    whole = caption_video(path, settings)
    assert whole.status == "ok"

    def stop_before_detection(calls):
        return ("stop", None) if calls[0]["name"] == "detect_instances" else ("approve", None)

    stopped = caption_video(path, settings, step=stop_before_detection)
    assert stopped.status == "stopped"
    assert "estimate_camera_motion" in stopped.evidence and "detect_instances" not in stopped.evidence
    # a new process: nothing measured before the stop is in memory any more
    resumed = caption_video(path, settings, step=lambda calls: ("approve", None), resume=True)
    assert resumed.status == "ok"
    assert resumed.evidence == whole.evidence
    assert resumed.caption == whole.caption


def test_a_cached_result_without_its_artifact_is_measured_again(three_objects_clip, tmp_path):
    """The camera's cached result lacks its transforms (as a cache filled before they were kept would):
    detection still warps with them, because the camera measures again, past the cache."""
    import sqlite3

    from agent.run.cache import ToolCache

    path, _ = three_objects_clip
    plain = _measured(tool_context(path, tmp_path, backend="classical"), PLAN)
    cache_file = tmp_path / "cache.sqlite"
    first = tool_context(path, tmp_path, backend="classical")
    first.cache, first.clip_hash = ToolCache(cache_file), "clip"
    first.tools["estimate_camera_motion"](first)
    first.cache.close()
    with sqlite3.connect(cache_file) as db:
        assert db.execute("UPDATE results SET artifacts = NULL WHERE tool = 'estimate_camera_motion'").rowcount == 1
    again = tool_context(path, tmp_path, backend="classical")
    again.cache, again.clip_hash = ToolCache(cache_file), "clip"
    assert _measured(again, PLAN) == plain
    assert again.cache_hits == 1  # the camera's first call came from the cache, without its transforms
    again.cache.close()
