"""Cuts between shots: found where a montage changes scene, never in continuous camera motion, and
no measurement reaches across one."""

import av
import pytest

from agent.config import Settings
from agent.media import FrameStore
from agent.synthetic import random_scene, render_clip
from conftest import real_clip, tool_context as context
from tools.shots import find_cuts


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


def test_the_cut_is_found_where_the_scene_changes(montage):
    motion = FrameStore(montage).motion
    cuts = find_cuts(motion.frames, motion.times)
    assert [round(float(motion.times[i]), 1) for i in cuts] == [2.0]


def test_tools_measure_within_shots(montage, tmp_path):
    ctx = context(montage, tmp_path)
    meta = ctx.tools["read_metadata"](ctx).summary
    assert meta["shots"] == 2 and meta["cuts_at_s"] == [pytest.approx(2.0, abs=0.1)]
    camera = ctx.tools["estimate_camera_motion"](ctx).evidence
    assert camera.label == "pan left" and camera.shots == 2 and "2 shots" in camera.hint
    assert camera.pairs_total == len(ctx.frames.motion.frames) - 2  # the pair across the cut is not fitted
    found = ctx.tools["detect_instances"](ctx).evidence.instances
    times = ctx.frames.sample_times
    assert found
    for inst in found:  # an object of one shot is never continued by one of the other
        sides = {times[k] >= 2.0 for k, box in enumerate(inst.boxes) if box is not None}
        assert len(sides) == 1, inst.id


@pytest.mark.parametrize("label", ["pan left", "zoom in", "roll clockwise", "pan right and tilt down"])
def test_fast_camera_motion_is_not_a_cut(label, tmp_path):
    render_clip(random_scene(7, label, speed="fast", n_objects=3, duration_s=3.0), tmp_path / "fast.mp4")
    motion = FrameStore(tmp_path / "fast.mp4").motion
    assert find_cuts(motion.frames, motion.times) == []


def test_real_montage_and_single_shots():
    # bikes.mp4's cuts, read off its frames: the first frame of each new shot lies in these windows
    motion = FrameStore(real_clip("bikes.mp4")).motion
    starts = [float(motion.times[i]) for i in find_cuts(motion.frames, motion.times)]
    windows = [(1.1, 1.25), (3.0, 3.15), (5.4, 5.6), (7.4, 7.6), (9.6, 9.8)]
    assert len(starts) == len(windows) and all(lo <= t <= hi for t, (lo, hi) in zip(starts, windows))
    for name in ("carphone_pristine.mp4", "bigbuckbunny.mp4"):
        motion = FrameStore(real_clip(name)).motion
        assert find_cuts(motion.frames, motion.times) == []


def test_a_montage_caption_says_so_and_passes_validation(montage, tmp_path):
    from agent.runner import caption_video

    record = caption_video(montage, Settings(runs_dir=tmp_path / "runs"))
    assert record.status == "ok", record.problems
    structure = record.caption["Structural Description"]
    assert structure["Camera Movement"].startswith("The clip cuts between 2 shots; within them, the camera pans left")
    assert "in a montage of 2 shots" in record.caption["Global Description"]


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
