"""Shots: cuts, dissolves and fades found to the frame where a montage changes shot, never in
continuous camera motion; each shot measured on its own, and no measurement reaches across one."""

import numpy as np
import pytest

from agent.core.config import Settings
from agent.run.media import FrameStore
from agent.testing.synthetic import CameraSpec, TransitionSpec, random_scene, render_clip, render_montage
from conftest import hard_cut_montage, real_clip, tool_context as context
from tools.shots import SHOT_FEED, Transition, assemble


@pytest.fixture(scope="module")
def montage(tmp_path_factory):
    """Two generated 2 s shots, each panning left over its own background, cut together at 2.0 s."""
    return hard_cut_montage((3, 21), tmp_path_factory.mktemp("montage") / "montage.mp4")


def scene(seed, camera, seconds=1.6, **kw):
    spec = random_scene(seed, camera, n_objects=kw.pop("n_objects", 1), duration_s=seconds, noise=2.0,
                        width=320, height=180)
    for k, v in kw.items():
        setattr(spec, k, v)
    return spec


@pytest.fixture(scope="module")
def gradual(tmp_path_factory):
    """A fade in from black, a dissolve, a fade through black and a fade out, between three shots."""
    path = tmp_path_factory.mktemp("gradual") / "gradual.mp4"
    truth = render_montage([scene(5, "static"), scene(6, "pan left"), scene(7, "static")],
                           [TransitionSpec("dissolve", 0.5), TransitionSpec("fade", 0.3, 0.2)], path,
                           fade_in_s=0.4, fade_out_s=0.4)
    return path, truth


def test_the_cut_is_found_on_its_frame(montage):
    shots = FrameStore(montage).streamed(SHOT_FEED)
    assert shots.spans == [(0, 50), (50, 100)]
    assert [(t.kind, t.start, t.end, t.start_s) for t in shots.transitions] == [("cut", 50, 50, 2.0)]


def test_dissolves_and_fades_are_one_transition_each_with_their_frames(gradual):
    path, truth = gradual
    shots = FrameStore(path).streamed(SHOT_FEED)
    found = [(t.kind, t.start, t.end) for t in shots.transitions]
    want = [(t["kind"], t["start_frame"], t["end_frame"]) for t in truth.transitions]
    assert [k for k, _, _ in found] == [k for k, _, _ in want] == ["fade in", "dissolve", "fade", "fade out"]
    for (_, s, e), (_, ts, te) in zip(found, want):
        assert abs(s - ts) <= 1 and abs(e - te) <= 1
    # the fades at the very start and end are not shots
    assert shots.count == 3
    assert [abs(a - s["start_frame"]) <= 1 and abs(b - s["end_frame"]) <= 1
            for (a, b), s in zip(shots.spans, truth.shots)] == [True] * 3


def test_a_cut_between_two_dim_shots_of_similar_colour(tmp_path):
    """Two views of one dimly lit world: the colour histograms barely change at the cut."""
    shots = [scene(27, "static", view_offset=o, gain=0.35) for o in ((-1.0, -0.8), (0.6, 0.7))]
    render_montage(shots, [TransitionSpec("cut")], tmp_path / "dim.mp4")
    found = FrameStore(tmp_path / "dim.mp4").streamed(SHOT_FEED)
    assert [(t.kind, t.start) for t in found.transitions] == [("cut", 40)]


@pytest.mark.parametrize("camera", ["pan left", "zoom in", "roll clockwise", "pan right and tilt down",
                                    CameraSpec(pan=-2.0), CameraSpec(tilt=1.2)])
def test_fast_camera_motion_is_not_a_shot_change(camera, tmp_path):
    spec = random_scene(7, "static", speed="fast", n_objects=3, duration_s=3.0, width=320, height=180)
    spec.camera = camera if isinstance(camera, CameraSpec) else random_scene(7, camera, speed="fast").camera
    render_clip(spec, tmp_path / "fast.mp4")
    shots = FrameStore(tmp_path / "fast.mp4").streamed(SHOT_FEED)
    assert shots.count == 1 and shots.transitions == []


def test_real_montage_and_single_shots():
    # bikes.mp4's new shots start on these frames (read off its frames; benchmarks/real_clips.json)
    shots = FrameStore(real_clip("bikes.mp4")).streamed(SHOT_FEED)
    assert [s for s, _ in shots.spans] == [0, 30, 76, 137, 187, 242]
    assert shots.starts_s() == [0.0, 1.2, 3.04, 5.48, 7.48, 9.68]
    assert {t.kind for t in shots.transitions} == {"cut"}
    for name in ("carphone_pristine.mp4", "bigbuckbunny.mp4"):
        shots = FrameStore(real_clip(name)).streamed(SHOT_FEED)
        assert shots.count == 1 and shots.transitions == []


def test_shot_rules():
    """Short shots join their neighbour across a cut; black frames belong to the transition around
    them; a fade at the clip's start or end is not a shot; a clip of nothing but black is one shot."""
    dark = np.zeros(100, bool)
    flash = assemble(100, [40, 43], [], dark, min_shot=6)  # a 3-frame flash after a cut
    assert flash.spans == [(0, 40), (40, 100)]
    dark[60:70] = True
    black = assemble(100, [60, 70], [(55, 60, "fade out")], dark, min_shot=6)
    assert [(t.kind, t.start, t.end) for t in black.transitions] == [("fade", 55, 70)]
    assert black.spans == [(0, 55), (70, 100)]
    edges = assemble(100, [], [(0, 8, "fade in"), (90, 100, "fade out")], np.zeros(100, bool), min_shot=6)
    assert edges.spans == [(8, 90)]
    assert assemble(30, [], [], np.ones(30, bool), min_shot=6).spans == [(0, 30)]
    assert Transition("cut", 5, 5).as_dict()["kind"] == "cut"


def test_tools_measure_within_shots(montage, tmp_path):
    ctx = context(montage, tmp_path)
    meta = ctx.tools["read_metadata"](ctx).summary
    assert meta["shots"] == 2 and meta["shot_spans_s"][1][0] == 2.0 and meta["transitions"] == ["cut at 2.00 s"]
    evidence = ctx.evidence["read_metadata"]
    assert [s["start_frame"] for s in evidence["shot_spans"]] == [0, 50]
    camera = ctx.tools["estimate_camera_motion"](ctx).evidence
    assert camera.label == "pan left" and camera.shots == 2 and "2 shots" in camera.hint
    assert [s.label for s in camera.per_shot] == ["pan left", "pan left"]
    assert camera.pairs_total == len(ctx.frames.motion.frames) - 2  # the pair across the cut is not fitted
    found = ctx.tools["detect_instances"](ctx).evidence.instances
    times = ctx.frames.sample_times
    assert found
    for inst in found:  # an object of one shot is never continued by one of the other
        sides = {times[k] >= 2.0 for k, box in enumerate(inst.boxes) if box is not None}
        assert len(sides) == 1, inst.id


def test_each_shot_has_its_own_camera_and_the_caption_says_so(tmp_path):
    """Static and moving shots mixed: each shot's label, and a caption that names them shot by shot."""
    from agent.run.runner import caption_video

    shots = [scene(40, "static"), scene(41, "pan left"), scene(42, "static"), scene(43, "zoom in")]
    render_montage(shots, [TransitionSpec("cut"), TransitionSpec("dissolve", 0.4), TransitionSpec("cut")],
                   tmp_path / "mixed.mp4")
    ctx = context(tmp_path / "mixed.mp4", tmp_path)
    camera = ctx.tools["estimate_camera_motion"](ctx).evidence
    assert [s.label for s in camera.per_shot] == ["static", "pan left", "static", "zoom in"]
    assert camera.primitives == ["pan left", "zoom in"]
    record = caption_video(tmp_path / "mixed.mp4", Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "ok", record.problems
    text = record.caption["Structural Description"]["Camera Movement"]
    assert text.startswith("The clip cuts between 4 shots.")
    assert "In the first shot and the third shot, the camera is static." in text
    assert "In the second shot, it pans left" in text and "In the fourth shot, it zooms in" in text


def test_a_montage_of_static_shots_is_static(tmp_path):
    """Four static shots joined by dissolves and a fade: never one motion fitted across them."""
    from agent.run.runner import caption_video

    shots = [scene(50 + k, "static", seconds=1.2) for k in range(4)]
    render_montage(shots, [TransitionSpec("dissolve", 0.4), TransitionSpec("dissolve", 0.6),
                           TransitionSpec("fade", 0.3)], tmp_path / "static.mp4")
    record = caption_video(tmp_path / "static.mp4", Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "ok", record.problems
    assert record.evidence["estimate_camera_motion"]["label"] == "static"
    text = record.caption["Structural Description"]["Camera Movement"]
    assert text == "The clip cuts between 4 shots. In each of them, the camera remains static throughout."
    assert record.evidence["read_metadata"]["shots"] == 4


def test_a_shot_change_is_not_an_entrance_or_an_exit():
    from agent.core.evidence import InstanceTrack
    from tools.instance_evidence import fill_evidence

    # seen at the left border in samples 3-4, which make up the middle one of three shots
    boxes = [None, None, None, [0.0, 0.4, 0.2, 0.6], [0.0, 0.4, 0.2, 0.6], None, None, None]
    times = [0.5 * k for k in range(8)]
    plain = fill_evidence(InstanceTrack(id="No.0", class_name="object", confidence=1.0, boxes=boxes), times)
    assert plain.enters_frame and plain.leaves_frame
    cut = fill_evidence(InstanceTrack(id="No.0", class_name="object", confidence=1.0, boxes=boxes), times,
                        shots=[0, 0, 0, 1, 1, 2, 2, 2])
    assert not cut.enters_frame and not cut.leaves_frame


def test_the_yolo_backend_splits_its_tracks_at_cuts(montage, tmp_path, biased_yolo):
    """The tracker links boxes across a cut like any other frames; the instances do not."""
    ctx = context(montage, tmp_path, backend="neural", random_weights=True, device="cpu")
    found = ctx.tools["detect_instances"](ctx).evidence
    assert found.backend == "neural" and found.instances
    times = ctx.frames.sample_times
    for inst in found.instances:
        assert len({times[k] >= 2.0 for k, box in enumerate(inst.boxes) if box is not None}) == 1, inst.id


def test_film_language_is_measured_on_one_shot(montage, tmp_path):
    ctx = context(montage, tmp_path, conditions=["film_language"])
    anchors = ctx.tools["describe_film_language"](ctx).evidence.anchors
    shot = next(a for a in anchors if a.aspect == "shot")
    assert shot.claim in ("shot 1 of 2", "shot 2 of 2")
    for a in anchors:
        if a.aspect in ("shot size", "composition", "depth of field"):
            assert len({t >= 2.0 for t in a.times}) == 1, a


# -- each shot as its own sample ----------------------------------------------------------------------
def _records(path):
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_split_shots_gives_bikes_six_captioned_shots(tmp_path):
    """One record per shot with the shot's bounds, each a valid caption of that shot's own clip
    (cut without re-encoding: each of bikes.mp4's shots starts on a keyframe); a re-run resumes
    past them and the export holds all six."""
    from agent.run.batch import ShotOptions, export_captions, run_batch

    bikes = real_clip("bikes.mp4")
    out = tmp_path / "records.jsonl"
    settings = Settings(runs_dir=tmp_path / "runs")
    opts = ShotOptions(write_dir=tmp_path / "shots")
    summary = run_batch([bikes], out, settings, shots=opts, cache_path=tmp_path / "cache.sqlite")
    records = _records(out)
    assert summary.done == {"ok": 6} and len(records) == 6
    assert [(r["shot"], r["start_s"], r["end_s"]) for r in records] == [
        (1, 0.0, 1.2), (2, 1.2, 3.04), (3, 3.04, 5.48), (4, 5.48, 7.48), (5, 7.48, 9.68), (6, 9.68, 10.0)]
    for r in records:
        assert r["path"] == str(bikes) and r["parent_shots"] == 6 and r["cut"] == "copy" and r["status"] == "ok"
        assert r["caption"]["Video"] == f"bikes-shot{r['shot']:03d}.mp4" and r["shots"] == 1
        assert FrameStore(r["shot_path"]).frame_count == r["end_frame"] - r["start_frame"]
    again = run_batch([bikes], out, settings, shots=opts, cache_path=tmp_path / "cache.sqlite")
    assert again.done == {} and again.skipped == 1 and len(_records(out)) == 6
    assert export_captions(out, tmp_path / "export.json") == 6


def test_split_shot_options(montage, tmp_path):
    """--max-shot splits a shot into parts, --cut copy refuses the parts that start between
    keyframes, re-encoding cuts anywhere and the tool cache serves a shot measured before,
    --min-shot above every shot gives no records and one line."""
    from agent.run.batch import ShotOptions, run_batch

    settings = Settings(runs_dir=tmp_path / "runs")
    copy = run_batch([montage], tmp_path / "copy.jsonl", settings, shots=ShotOptions(max_shot_s=1.0, cut="copy"))
    parts = _records(tmp_path / "copy.jsonl")
    assert [(r["shot"], r["part"]) for r in parts] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert [r["start_s"] for r in parts] == [0.0, 1.0, 2.0, 3.0]
    refused = [r for r in parts if r["status"] == "failed"]
    assert copy.done.get("failed") == len(refused) >= 1
    assert all("cannot be cut without re-encoding" in r["error"] for r in refused)
    cache = tmp_path / "cache.sqlite"
    first = run_batch([montage], tmp_path / "a.jsonl", settings, shots=ShotOptions(cut="encode"), cache_path=cache)
    second = run_batch([montage], tmp_path / "b.jsonl", settings, shots=ShotOptions(cut="encode"), cache_path=cache)
    assert first.done == second.done == {"ok": 2}
    assert all(r["cache_hits"] > 0 and r["cut"] == "encode" for r in _records(tmp_path / "b.jsonl"))
    notes = []
    none = run_batch([montage], tmp_path / "none.jsonl", settings, shots=ShotOptions(min_shot_s=2.5), on_note=notes.append)
    assert none.done == {} and _records(tmp_path / "none.jsonl") == []
    assert notes == [f"{montage}: all 2 shots are shorter than --min-shot (2.5 s); no records"]


def test_split_shot_arguments_are_checked(montage, tmp_path):
    from conftest import run_cli

    for args, line in ((["--min-shot", "2"], "--min-shot: only with --split-shots"),
                       (["--split-shots", "--min-shot", "3", "--max-shot", "2"], "is shorter than --min-shot"),
                       (["--split-shots", "--min-shot", "-1"], "--min-shot must be 0 or more seconds"),
                       (["--split-shots", "--min-shot", "9"], "all 2 shots are shorter than --min-shot (9 s)")):
        proc = run_cli("run", str(montage), "-q", "--runs-dir", str(tmp_path), *args)
        assert proc.returncode == 2 and line in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_split_shots_on_ray_gives_the_local_records(montage, tmp_path):
    """The Ray engine cuts and captions each shot as the local batch does: the same shots, bounds and
    captions, and a re-run resumes past them."""
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from agent.run.batch import ShotOptions, run_batch

    settings = Settings(runs_dir=tmp_path / "runs")
    opts = ShotOptions(cut="encode")
    local = run_batch([montage], tmp_path / "local.jsonl", settings, shots=opts)
    ray = run_batch([montage], tmp_path / "ray.jsonl", settings, shots=opts, engine="ray", workers=1)
    assert local.done == ray.done == {"ok": 2}
    keys = ("shot", "part", "start_s", "end_s", "start_frame", "end_frame", "status", "caption")
    rows = lambda name: [{k: r.get(k) for k in keys} for r in _records(tmp_path / name)]  # noqa: E731
    assert rows("ray.jsonl") == rows("local.jsonl")
    again = run_batch([montage], tmp_path / "ray.jsonl", settings, shots=opts, engine="ray", workers=1)
    assert again.done == {} and again.skipped == 1 and len(_records(tmp_path / "ray.jsonl")) == 2


def test_run_split_shots_prints_one_value_in_the_chosen_format(montage, tmp_path):
    """stdout is one JSON list of the shots' captions (or a paragraph a line for a text format), and -o
    keeps each shot's record with its output in that format."""
    import json

    from conftest import run_cli

    listed = run_cli("run", str(montage), "--split-shots", "-q", "--runs-dir", str(tmp_path / "r"))
    assert listed.returncode == 0, listed.stderr
    captions = json.loads(listed.stdout)
    assert len(captions) == 2 and all(c["Video"].startswith("montage-shot") for c in captions)
    dense = run_cli("run", str(montage), "--split-shots", "-q", "--format", "dense", "--runs-dir", str(tmp_path / "r"),
                    "-o", str(tmp_path / "shots.json"))
    assert dense.returncode == 0, dense.stderr
    lines = dense.stdout.strip().splitlines()
    assert len(lines) == 2 and not any(line.startswith(("{", "[")) for line in lines)
    written = json.loads((tmp_path / "shots.json").read_text())
    assert [r["format"] for r in written] == ["dense", "dense"] and [r["output"] for r in written] == lines
