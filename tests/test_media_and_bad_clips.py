"""Decoding once, metadata, and the awkward clips: one frame, black, very short, rotated, VFR."""

import json
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType
import pytest

from agent.core.config import Settings
from agent.run.media import FrameStore, probe
from agent.run.runner import caption_video
from agent.testing.synthetic import SceneSpec, random_scene, render_clip
from agent.core.caption import parse_caption


def write_frames(path, frames, times_ms=None, fps=25):
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps)
    s.height, s.width = frames[0].shape[:2]
    s.pix_fmt = "yuv420p"
    if times_ms is not None:
        s.codec_context.time_base = Fraction(1, 1000)
    for i, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format="bgr24")
        if times_ms is not None:
            f.pts, f.time_base = times_ms[i], Fraction(1, 1000)
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()


def test_metadata_and_uniform_samples(three_objects_clip):
    path, _ = three_objects_clip
    info = probe(path)
    assert (info.width, info.height, info.codec, info.has_audio) == (640, 360, "h264", False)
    assert info.fps == 25 and info.frame_count == 75 and abs(info.duration_s - 3.0) < 0.05
    fs = FrameStore(path, samples=8)
    times = fs.sample_times
    assert len(times) == 8 and times[0] == 0.0 and times[-1] == pytest.approx(2.96, abs=0.05)
    assert np.allclose(np.diff(times), np.diff(times).mean(), atol=0.05)
    assert fs.sampled[0].image.shape == (360, 640, 3)
    assert fs.motion.frames[0].shape == (180, 320, 3) and 25 <= len(fs.motion.frames) <= 32
    assert fs.temporal_metadata().startswith("The video lasts 3.00 seconds. 8 frames were sampled uniformly at 0.00s,")
    assert fs.frame_count == 75


def _run(path, tmp_path):
    record = caption_video(path, Settings(runs_dir=tmp_path / "runs"))
    parse_caption(record.caption)  # always a schema-valid caption
    return record


def test_one_frame_clip(tmp_path):
    spec = random_scene(5, "static", n_objects=1, duration_s=0.04)
    render_clip(spec, tmp_path / "one.mp4")
    record = _run(tmp_path / "one.mp4", tmp_path)
    cam = record.caption["Structural Description"]["Camera Movement"]
    assert "cannot be measured" in cam
    assert any("unclear" in s.get("observation", "") for s in record.steps if s.get("tool") == "estimate_camera_motion")


def test_all_black_clip(tmp_path):
    write_frames(tmp_path / "black.mp4", [np.zeros((240, 320, 3), np.uint8)] * 30)
    record = _run(tmp_path / "black.mp4", tmp_path)
    assert record.caption["Structural Description"]["Main Instance"] == {}
    obs = {s["tool"]: s["observation"] for s in record.steps if "tool" in s}
    assert '"label":"unclear"' in obs["estimate_camera_motion"]
    assert "no instances" in obs["detect_instances"]
    assert "dark" in record.caption["Structural Description"]["Background Detail"]


def test_clip_under_half_a_second(tmp_path):
    spec = random_scene(6, "pan right", n_objects=1, duration_s=0.4)
    render_clip(spec, tmp_path / "short.mp4")
    record = _run(tmp_path / "short.mp4", tmp_path)
    assert record.status in ("ok", "degraded")


def test_rotated_portrait_clip_is_decoded_upright(tmp_path):
    spec = SceneSpec(seed=1, width=640, height=360, duration_s=1.0, rotation=90)
    spec.objects = random_scene(1, n_objects=1).objects
    render_clip(spec, tmp_path / "rot.mp4")
    info = probe(tmp_path / "rot.mp4")
    assert info.rotation in (90, -270) and (info.width, info.height) == (640, 360)
    fs = FrameStore(tmp_path / "rot.mp4")
    # the stored pixels are portrait; what we decode matches the scene as rendered
    from agent.testing.synthetic import render_frames
    expected = next(render_frames(spec))[0]
    got = fs.sampled[0].image
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 12
    _run(tmp_path / "rot.mp4", tmp_path)


def test_portrait_clip(tmp_path):
    spec = random_scene(2, "tilt up", n_objects=1, width=360, height=640, duration_s=1.5)
    render_clip(spec, tmp_path / "portrait.mp4")
    record = _run(tmp_path / "portrait.mp4", tmp_path)
    meta = json.loads(next(s for s in record.steps if s.get("tool") == "read_metadata")["observation"])
    assert meta["size"] == "360x640 portrait"


def test_variable_frame_rate_clip(tmp_path):
    rng = np.random.default_rng(0)
    gaps = rng.choice([20, 40, 80], size=39)
    times = np.concatenate([[0], np.cumsum(gaps)]).tolist()
    frames = [np.full((180, 320, 3), 40 + i * 4, np.uint8) for i in range(40)]
    write_frames(tmp_path / "vfr.mp4", frames, times_ms=times)
    fs = FrameStore(tmp_path / "vfr.mp4")
    assert fs.stats.variable_frame_rate
    assert fs.sample_times[-1] == pytest.approx(times[-1] / 1000, abs=0.05)
    record = _run(tmp_path / "vfr.mp4", tmp_path)
    assert '"variable_frame_rate":true' in next(s for s in record.steps if s.get("tool") == "read_metadata")["observation"]


def test_samples_are_the_frames_a_full_decode_picks(three_objects_clip):
    """A B-frame clip: the store decodes every frame once (the shot finder sees each one, so cuts are
    exact to the frame), the samples are exactly the frames a full decode picks, and the frame count
    and timing cover every frame."""
    path, _ = three_objects_clip
    with av.open(str(path)) as c:
        every = [(f.time, f.to_ndarray(format="bgr24"), PictureType(f.pict_type)) for f in c.decode(video=0)]
    assert any(kind == PictureType.B for _, _, kind in every)  # the encoder made non-reference frames
    fs = FrameStore(path, samples=8)
    assert fs.stats.frames_decoded == len(every)
    assert fs.frame_count == len(every) and not fs.stats.variable_frame_rate
    assert fs.stats.mean_fps == pytest.approx(25.0, abs=0.01)
    targets = np.linspace(0.0, every[-1][0] - every[0][0], 8)
    for frame, target in zip(fs.sampled, targets):
        t, image, _ = min(every, key=lambda e: abs(e[0] - every[0][0] - target))
        assert frame.time_s == pytest.approx(t - every[0][0], abs=1e-3)
        assert np.array_equal(frame.image, image)
    gaps = np.diff(fs.motion.times)
    assert gaps.max() <= 0.2 and len(fs.motion.frames) >= 0.8 * 10 * every[-1][0]
