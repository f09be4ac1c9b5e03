"""Reading video: probing metadata, decoding each needed frame exactly once per run, and writing
shots as clips of their own.

* ``probe`` (:mod:`.probe`): is this a video we can read, and what is it?
* ``FrameStore`` (:mod:`.frames`): the run's single streaming decode pass, the sampled frames,
  the motion stream (:mod:`.motion`), the shots and the camera's frame-pair fits;
* ``find_shots`` and ``write_shots`` (:mod:`.shot_files`): a clip's shots, and frame ranges written
  out as files.
"""

from agent.run.media.frames import DecodeStats, Frame, FrameStore
from agent.run.media.motion import KEEP_AROUND_S, OVERVIEW_FRAMES, MotionFrames, MotionStream
from agent.run.media.probe import VideoInfo, content_hash, not_regular, probe
from agent.run.media.shot_files import CUT_MODES, ShotCut, find_shots, write_shots

__all__ = ["CUT_MODES", "KEEP_AROUND_S", "OVERVIEW_FRAMES", "DecodeStats", "Frame", "FrameStore", "MotionFrames",
           "MotionStream", "ShotCut", "VideoInfo", "content_hash", "find_shots", "not_regular", "probe", "write_shots"]
