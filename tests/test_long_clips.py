"""Long clips in bounded memory: the decode pass streams, the motion stream keeps only the frames
around the samples (and a few spread over the clip), the camera is fitted pair by pair as frames
arrive, and a whole run stays within its memory budget. (benchmarks/long_clips.py measures 1 to
30 minute clips; the suite keeps to one short one.)"""

import json
import os
import subprocess
import sys

import pytest

from agent.run.media import KEEP_AROUND_S, OVERVIEW_FRAMES, FrameStore
from agent.testing.synthetic import TransitionSpec, montage_frames, random_scene, write_frames
from conftest import ROOT
from tools.camera import PAIR_FEED
from tools.shots import SHOT_FEED

SECONDS = 90


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """90 s at 160x120: six 14-16 s shots (static, pan, zoom, tilt, ...) joined by cuts, a dissolve and a fade."""
    cams = ["static", "pan left", "zoom in", "tilt down", "static", "pan right"]
    shots = [random_scene(500 + k, cam, speed="slow", duration_s=14.0 + (k % 3), width=160, height=120, noise=2.0)
             for k, cam in enumerate(cams)]
    transitions = [TransitionSpec("cut"), TransitionSpec("dissolve", 0.6), TransitionSpec("cut"),
                   TransitionSpec("fade", 0.4, 0.2), TransitionSpec("cut")]
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_frames(montage_frames(shots, transitions), path, 25)
    return path


def test_the_motion_stream_keeps_frames_around_the_samples(long_clip):
    fs = FrameStore(long_clip, samples=8, feeds=[SHOT_FEED, PAIR_FEED])
    motion = fs.motion
    kept = motion.frames.kept()
    # every motion frame is counted and timed, and fitted against the next
    assert len(motion.frames) == len(motion.times) >= 9.5 * fs.duration_s
    assert len(fs.streamed(PAIR_FEED)) == len(motion.frames) - 1
    bound = 8 * (2 * KEEP_AROUND_S * 10 + 2) + OVERVIEW_FRAMES
    assert len(kept) <= bound < len(motion.frames)
    for frame in fs.sampled:  # detection's backgrounds, up to 4 s either side of a sample, are there
        near = [i for i, t in enumerate(motion.times) if abs(t - frame.time_s) <= 4.0]
        assert all(motion.frames.has(i) for i in near)
        assert motion.times[motion.nearest(frame.time_s)] == pytest.approx(frame.time_s, abs=1e-6)
    dropped = next(i for i in range(len(motion.frames)) if not motion.frames.has(i))
    with pytest.raises(LookupError, match="was not kept"):
        motion.frames[dropped]
    # a closer look anywhere in the clip gets a kept frame near the time asked for
    far = float(motion.times[dropped])
    assert abs(motion.times[motion.nearest(far)] - far) <= SECONDS / OVERVIEW_FRAMES
    assert fs.streamed(SHOT_FEED).count == 6


def test_a_long_run_stays_in_its_memory_budget(long_clip, tmp_path):
    """The whole offline run in a child process: a valid caption, six shots, each with its camera,
    and a peak memory (the child's own high-water mark; ``ru_maxrss`` would also count the pytest
    process it was forked from) within the budget."""
    code = ("import json, re; from agent.core.config import Settings; from agent.run.runner import caption_video; "
            f"r = caption_video({str(long_clip)!r}, Settings(runs_dir={str(tmp_path)!r})); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()); "
            "print(json.dumps({'status': r.status, 'shots': r.evidence['read_metadata']['shots'], "
            "'per_shot': len(r.evidence['estimate_camera_motion']['per_shot']), "
            "'rss_mb': int(hwm.group(1)) / 1024 if hwm else 0.0}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "YOLO_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "ok" and out["shots"] == out["per_shot"] == 6
    assert 0 <= out["rss_mb"] < 600
