"""The Python API: ``agent.caption`` and ``agent.caption_many`` on generated clips with ground truth."""

from __future__ import annotations

import pytest

import agent
from agent.core.errors import InputError
from agent.testing.synthetic import random_scene, render_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    made = []
    for seed, camera in ((11, "pan right"), (12, "static")):
        path = folder / f"api{seed}.mp4"
        made.append((path, render_clip(random_scene(seed, camera, n_objects=1, duration_s=2.0), path)))
    return made


def test_caption_one_clip(clips, tmp_path):
    path, truth = clips[0]
    record = agent.caption(path, frames=6, backend="classical", runs_dir=tmp_path)
    assert record.status == "ok"
    assert record.caption["Video"] == path.name
    assert record.evidence["estimate_camera_motion"]["label"] == truth.camera
    assert len(record.caption["Structural Description"]["Main Instance"]) == len(truth.objects)
    events = []
    again = agent.caption(path, frames=6, backend="classical", runs_dir=tmp_path, listeners=[events.append])
    assert again.caption == record.caption
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"


def test_caption_many_returns_one_record_per_clip_in_order(clips, tmp_path):
    paths = [p for p, _ in clips]
    one = agent.caption(paths[1], frames=6, backend="classical", runs_dir=tmp_path / "one")
    records = agent.caption_many([paths[1], paths[0]], frames=6, backend="classical", runs_dir=tmp_path / "many",
                                 records=tmp_path / "records.jsonl")
    assert [r["path"] for r in records] == [str(paths[1]), str(paths[0])]
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert records[0]["caption"]["Structural Description"] == one.caption["Structural Description"]
    # the records file remembers them: a second call captions nothing again
    assert agent.caption_many(paths, frames=6, backend="classical", runs_dir=tmp_path / "many",
                              records=tmp_path / "records.jsonl") == [records[1], records[0]]


def test_bad_settings_are_one_line_errors(clips):
    with pytest.raises(InputError, match="frames"):
        agent.caption(clips[0][0], frames=0)
