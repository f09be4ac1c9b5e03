"""A pose video (an Any2Caption condition the user supplies), read with the packaged pose model.

Each sampled frame (at most :data:`SAMPLE_FPS` a second) goes through MoveNet MultiPose
(:mod:`tools.vision.pose`); the people it is sure of (person score at least :data:`PERSON_SCORE`,
at least :data:`~plugins.pose_sequence.MIN_VISIBLE` keypoints of score :data:`tools.people.VISIBLE`)
are linked from frame to frame like OpenPose's and go through the pose sequence's rules.

MoveNet reads people, not rendered skeletons. Measured on generated sequences (standing, walking,
arms raised) drawn as OpenPose-coloured or white limbs on black, 1280x720: it finds no person it is
sure of in any frame (person scores 0.00-0.02, no keypoint scored 0.3 or more, keypoints off by
0.2-1.4 body heights). So a video in which fewer than :data:`MIN_FRAMES_SHARE` of the sampled frames
hold a person MoveNet is sure of is refused in one line that says so (and to give the keypoints as
JSON); a video of real people is read, each person seen in at least :data:`MIN_TRACK` sampled
frames and :data:`MIN_TRACK_SHARE` of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl

VIDEO = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
SAMPLE_FPS = 10.0
PERSON_SCORE = 0.3
MIN_FRAMES_SHARE = 0.5
MIN_TRACK, MIN_TRACK_SHARE = 3, 0.1  # sampled frames a person must be seen in (at least both)


def poses_from_video(path: str | Path):
    """(fps of the samples, [frame: {person id: (17, 3)}], (width, height), format), as ``read_poses``."""
    import cv2

    from tools.weights import WeightsMissing
    from plugins.pose_sequence import MIN_VISIBLE, _openpose
    from tools.people import VISIBLE
    from tools.vision import estimate_poses

    p = Path(path)
    cap = cv2.VideoCapture(str(p))
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not cap.isOpened() or fps <= 0:
        raise InputError(f"pose video {p}: cannot read it as a video")
    step = max(1, round(fps / SAMPLE_FPS))
    docs, best, size, k = [], 0.0, None, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if k % step == 0:
                size = (float(frame.shape[1]), float(frame.shape[0]))
                people = []
                for pose in estimate_poses(frame, min_score=0.0, threads=1):
                    best = max(best, pose.score)
                    pts = np.array([[q.x, q.y, q.score] for q in pose.keypoints])
                    if pose.score >= PERSON_SCORE and (pts[:, 2] >= VISIBLE).sum() >= MIN_VISIBLE:
                        people.append({"pose_keypoints_2d": pts.reshape(-1).tolist()})
                docs.append({"people": people})
            k += 1
    except WeightsMissing as e:
        raise InputError(f"pose video {p}: {str(e).splitlines()[0]}") from None
    finally:
        cap.release()
    if not docs:
        raise InputError(f"pose video {p}: no frames could be decoded")
    with_people = sum(bool(d["people"]) for d in docs)
    if with_people < MIN_FRAMES_SHARE * len(docs):
        raise InputError(f"pose video {p}: the pose model is sure of a person in {with_people} of {len(docs)} sampled "
                         f"frames (best person score {best:.2f}; half are needed); it reads filmed people, not "
                         "rendered skeletons: give the keypoints as JSON (COCO-17 or OpenPose) with --pose")
    frames = _openpose(docs, str(p))
    # a person MoveNet saw in a frame or two is a false sighting, not someone to describe
    counts = {pid: sum(pid in fr for fr in frames) for fr in frames for pid in fr}
    keep = {pid for pid, n in counts.items() if n >= max(MIN_TRACK, MIN_TRACK_SHARE * len(frames))}
    return fps / step, [{pid: pts for pid, pts in fr.items() if pid in keep} for fr in frames], size, "video (movenet)"


def read_pose_video(path: str | Path):
    from plugins.pose_sequence import read_pose_sequence

    if Path(path).suffix.lower() not in VIDEO:
        raise InputError(f"pose video {path}: expected a video ({', '.join(VIDEO)})")
    return read_pose_sequence(path)


@hookimpl
def register_condition_readers():
    return {"pose_video": read_pose_video}
