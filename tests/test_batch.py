"""Batch captioning: inputs, records, resume after kill -9, retries, the tool cache, workers, Ray, export."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from agent.run.batch import expand_inputs, run_batch
from agent.core.config import Settings
from conftest import ROOT, default_backend, run_cli


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from agent.testing.synthetic import random_scene, render_clip

    folder = tmp_path_factory.mktemp("dataset")
    for i, camera in enumerate(["pan left", "static", "zoom in", "tilt up"]):
        render_clip(random_scene(20 + i, camera, duration_s=2.0), folder / "videos" / f"clip{i}.mp4")
    return folder


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_inputs_from_folder_glob_and_manifests(clips, tmp_path):
    videos = sorted((clips / "videos").glob("*.mp4"))
    assert expand_inputs(str(clips)) == videos
    assert expand_inputs(str(clips / "videos" / "clip[01].mp4")) == videos[:2]
    (clips / "list.jsonl").write_text('{"path": "videos/clip2.mp4"}\n{"path": "videos/clip3.mp4"}\n')
    assert expand_inputs(str(clips / "list.jsonl")) == videos[2:]
    (clips / "list.csv").write_text("path,label\nvideos/clip1.mp4,a\n")
    assert expand_inputs(str(clips / "list.csv")) == [videos[1]]
    bad = run_cli("batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o.jsonl"))
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such file or folder"


def test_a_bad_clip_never_stops_the_batch_and_resume_skips_what_is_done(clips, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("clip0.mp4", "clip1.mp4"):
        (data / name).write_bytes((clips / "videos" / name).read_bytes())
    (data / "broken.mp4").write_bytes(b"not a video at all")
    out = tmp_path / "records.jsonl"
    args = ("batch", str(data), "--out", str(out), "--runs-dir", str(tmp_path / "runs"))
    first = run_cli(*args)
    assert first.returncode == 3  # something failed; everything else is recorded
    records = lines(out)
    assert sorted(r["status"] for r in records) == ["failed", "ok", "ok"]
    broken = next(r for r in records if r["status"] == "failed")
    assert broken["error"].endswith("not a readable video (invalid data found when processing input)")
    ok = next(r for r in records if r["status"] == "ok")
    assert ok["caption"]["Video"] in ("clip0.mp4", "clip1.mp4") and ok["backend"] == default_backend()
    assert ok["shots"] == 1 and ok["cuts_s"] == []
    assert {"calls", "prompt_tokens"} <= ok["usage"].keys() and ok["timings"]["total_s"] > 0

    again = run_cli(*args)
    # nothing new ran, but the file still holds a failure: the exit status says so
    assert again.returncode == 3 and "nothing new" in again.stderr and "3 already recorded" in again.stderr
    assert "holds 1 failed, 2 ok" in again.stderr and "--retry-failed" in again.stderr
    assert len(lines(out)) == 3

    (data / "broken.mp4").write_bytes((clips / "videos" / "clip2.mp4").read_bytes())  # fixed
    retried = run_cli(*args, "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert sorted(r["status"] for r in lines(out)) == ["ok", "ok", "ok"]

    exported = tmp_path / "instancevid.json"
    assert run_cli("export", str(out), "--out", str(exported)).returncode == 0
    entries = json.loads(exported.read_text())
    assert sorted(e["caption"]["Video"] for e in entries) == ["broken.mp4", "clip0.mp4", "clip1.mp4"]
    assert sorted(e["path"] for e in entries) == sorted(str(data / n) for n in ("broken.mp4", "clip0.mp4", "clip1.mp4"))
    assert all(e["content_hash"] and e["format"] == "instancecap" and e["output"] is None for e in entries)  # no copy of the caption
    bare = tmp_path / "bare.json"
    assert run_cli("export", str(out), "-o", str(bare), "--to", "instancevid").returncode == 0
    assert sorted(c["Video"] for c in json.loads(bare.read_text())) == ["broken.mp4", "clip0.mp4", "clip1.mp4"]


def test_kill_9_then_resume_leaves_exactly_one_record_per_clip(clips, tmp_path):
    out = tmp_path / "records.jsonl"
    command = [sys.executable, "-m", "agent", "batch", str(clips / "videos"), "--out", str(out),
               "--runs-dir", str(tmp_path / "runs"), "--no-cache"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(lines(out))
    assert 2 <= before < 4
    with out.open("a") as f:  # as if the machine died in the middle of writing a record
        f.write('{"path": "/videos/clip9.mp4", "status": "o')
    resumed = run_cli(*command[3:])
    assert resumed.returncode == 0, resumed.stderr
    assert "torn last line" in resumed.stderr
    records = lines(out)
    assert sorted(os.path.basename(r["path"]) for r in records) == [f"clip{i}.mp4" for i in range(4)]
    assert all(r["status"] == "ok" for r in records)


def test_warm_cache_reruns_no_vision_work(clips, tmp_path):
    videos = sorted((clips / "videos").glob("*.mp4"))[:2]
    cache = tmp_path / "cache.sqlite"
    cold = run_batch(videos, tmp_path / "a.jsonl", Settings(runs_dir=tmp_path / "ra"), cache_path=cache)
    warm = run_batch(videos, tmp_path / "b.jsonl", Settings(runs_dir=tmp_path / "rb"), cache_path=cache)
    assert cold.done == warm.done == {"ok": 2}
    a, b = lines(tmp_path / "a.jsonl"), lines(tmp_path / "b.jsonl")
    assert [r["cache_hits"] for r in a] == [0, 0]
    assert [r["cache_hits"] for r in b] == [4, 4]  # camera, detection, segmentation, background (metadata is
    # read from the clip each time: its name is the current one)
    assert [r["caption"] for r in a] == [r["caption"] for r in b]
    assert all((tmp_path / "rb").glob("*/instances/*.jpg"))  # instance views restored into the new runs


def test_two_workers_write_the_same_captions(clips, tmp_path):
    videos = sorted((clips / "videos").glob("*.mp4"))[:3]
    one = run_batch(videos, tmp_path / "one.jsonl", Settings(runs_dir=tmp_path / "r1"))
    two = run_batch(videos, tmp_path / "two.jsonl", Settings(runs_dir=tmp_path / "r2"), workers=2)
    assert one.done == two.done == {"ok": 3}
    by_path = lambda rows: {r["path"]: r["caption"] for r in rows}  # noqa: E731
    assert by_path(lines(tmp_path / "one.jsonl")) == by_path(lines(tmp_path / "two.jsonl"))


def test_ray_engine_runs_the_stages_locally(clips, tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    videos = sorted((clips / "videos").glob("*.mp4"))[:3]
    cache = tmp_path / "cache.sqlite"
    local = run_batch(videos, tmp_path / "local.jsonl", Settings(runs_dir=tmp_path / "rl"))
    summary = run_batch(videos, tmp_path / "ray.jsonl", Settings(runs_dir=tmp_path / "rr"), workers=1,
                        engine="ray", cache_path=cache)
    assert local.done == summary.done == {"ok": 3}
    rows = lines(tmp_path / "ray.jsonl")
    # the measure stage filled the cache for the caption stage (metadata is read from the clip itself)
    assert all(r["cache_hits"] == 4 for r in rows)
    by_path = lambda rows: {r["path"]: r["caption"] for r in rows}  # noqa: E731
    assert by_path(rows) == by_path(lines(tmp_path / "local.jsonl"))
