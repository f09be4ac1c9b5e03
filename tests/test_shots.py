"""Shots: cuts, dissolves and fades found to the frame where a montage changes shot, never in
continuous camera motion; each shot measured on its own, and no measurement reaches across one."""

import av
import numpy as np
import pytest

from agent.config import Settings
from agent.media import FrameStore
from agent.synthetic import CameraSpec, TransitionSpec, random_scene, render_clip, render_montage
from conftest import real_clip, tool_context as context
from tools.shots import Transition, assemble


@pytest.fixture(scope="module")
def montage(tmp_path_factory):
    """Two generated 2 s shots, each panning left over its own background, cut together at 2.0 s."""
    folder = tmp_path_factory.mktemp("montage")
    frames = []
    for seed in (3, 21):
        render_clip(random_scene(seed, "pan left", n_objects=2, duration_s=2.0), folder / f"{seed}.mp4")
        with av.open(str(folder / f"{seed}.mp4")) as c:
            frames += [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    path = folder / "montage.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    return path


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
    shots = FrameStore(montage).shots
    assert shots.spans == [(0, 50), (50, 100)]
    assert [(t.kind, t.start, t.end, t.start_s) for t in shots.transitions] == [("cut", 50, 50, 2.0)]


def test_dissolves_and_fades_are_one_transition_each_with_their_frames(gradual):
    path, truth = gradual
    shots = FrameStore(path).shots
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
    found = FrameStore(tmp_path / "dim.mp4").shots
    assert [(t.kind, t.start) for t in found.transitions] == [("cut", 40)]


@pytest.mark.parametrize("camera", ["pan left", "zoom in", "roll clockwise", "pan right and tilt down",
                                    CameraSpec(pan=-2.0), CameraSpec(tilt=1.2)])
def test_fast_camera_motion_is_not_a_shot_change(camera, tmp_path):
    spec = random_scene(7, "static", speed="fast", n_objects=3, duration_s=3.0, width=320, height=180)
    spec.camera = camera if isinstance(camera, CameraSpec) else random_scene(7, camera, speed="fast").camera
    render_clip(spec, tmp_path / "fast.mp4")
    shots = FrameStore(tmp_path / "fast.mp4").shots
    assert shots.count == 1 and shots.transitions == []


def test_real_montage_and_single_shots():
    # bikes.mp4's new shots start on these frames (read off its frames; benchmarks/real_clips.json)
    shots = FrameStore(real_clip("bikes.mp4")).shots
    assert [s for s, _ in shots.spans] == [0, 30, 76, 137, 187, 242]
    assert shots.starts_s() == [0.0, 1.2, 3.04, 5.48, 7.48, 9.68]
    assert {t.kind for t in shots.transitions} == {"cut"}
    for name in ("carphone_pristine.mp4", "bigbuckbunny.mp4"):
        shots = FrameStore(real_clip(name)).shots
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
    assert meta["shots"] == 2 and meta["cuts_at_s"] == [2.0] and meta["transitions"] == ["cut at 2.00 s"]
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
    from agent.runner import caption_video

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
    from agent.runner import caption_video

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
    from agent.evidence import InstanceTrack
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

