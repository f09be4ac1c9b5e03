"""A pose video (an Any2Caption condition the user supplies), read with the packaged pose model.

Each sampled frame (at most :data:`~plugins.pose_sequence.SAMPLE_FPS` a second) goes through MoveNet MultiPose
(:mod:`tools.vision.pose`); the people it is sure of (person score at least :data:`~plugins.pose_sequence.PERSON_SCORE`,
at least :data:`~plugins.pose_sequence.MIN_VISIBLE` keypoints of score :data:`tools.people.VISIBLE`)
are linked from frame to frame like OpenPose's and go through the pose sequence's rules.

MoveNet reads people, not rendered skeletons. Measured on generated sequences (standing, walking,
arms raised) drawn as OpenPose-coloured or white limbs on black, 1280x720: it finds no person it is
sure of in any frame (person scores 0.00-0.02, no keypoint scored 0.3 or more, keypoints off by
0.2-1.4 body heights). So a video in which fewer than :data:`~plugins.pose_sequence.MIN_FRAMES_SHARE` of the sampled frames
hold a person MoveNet is sure of is refused in one line that says so (and to give the keypoints as
JSON); a video of real people is read, each person seen in at least :data:`~plugins.pose_sequence.MIN_TRACK` sampled
frames and :data:`~plugins.pose_sequence.MIN_TRACK_SHARE` of them.
"""

from __future__ import annotations

from pathlib import Path

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl
from plugins.pose_sequence import VIDEO, read_pose_sequence


def read_pose_video(path: str | Path):
    if Path(path).suffix.lower() not in VIDEO:
        raise InputError(f"pose video {path}: expected a video ({', '.join(VIDEO)})")
    return read_pose_sequence(path)


@hookimpl
def register_condition_readers():
    return {"pose_video": read_pose_video}
