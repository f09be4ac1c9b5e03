"""Reading video: probing metadata, decoding each needed frame exactly once per run, and writing
shots as clips of their own.

* ``probe`` (:mod:`.probe`): is this a video we can read, and what is it?
* ``FrameStore`` (:mod:`.frames`): the run's single streaming decode pass (:mod:`.decode_pass`: what
  it keeps and feeds as the frames go by), the sampled frames (:mod:`.images`), the motion stream
  (:mod:`.motion`) and what the tools' frame feeds returned;
* ``find_shots`` and ``write_shots`` (:mod:`.shot_files`): a clip's shots, and frame ranges written
  out as files.
"""

from agent.run.media.decode_pass import DecodeStats
from agent.run.media.frames import FrameStore
from agent.run.media.images import Frame
from agent.run.media.motion import KEEP_AROUND_S, OVERVIEW_FRAMES, MotionFrames, MotionStream
from agent.run.media.probe import VideoInfo, content_hash, not_regular, probe
from agent.run.media.shot_files import CUT_MODES, ShotCut, find_shots, write_shots

__all__ = ["CUT_MODES", "KEEP_AROUND_S", "OVERVIEW_FRAMES", "DecodeStats", "Frame", "FrameStore", "MotionFrames",
           "MotionStream", "ShotCut", "VideoInfo", "content_hash", "find_shots", "not_regular", "probe", "write_shots"]
