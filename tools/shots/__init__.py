"""Shots: where a clip changes from one camera set-up to another, and how.

Training clips are usually cut at scene changes before captioning, but montages still arrive (
``bikes.mp4`` is one) and long videos are nothing else. Across a shot change nothing lines up: a
camera fit between the two sides is noise, a background built from both sides is wrong, and an
object on one side is not the one on the other. So the tools measure within shots, the metadata
says where the shots are, and a batch can caption each shot as its own sample.

Every decoded frame passes through :class:`ShotFinder` during the one decode pass (downscaled to
``DETECT_WIDTH``; the tools that read shots declare :data:`SHOT_FEED`), so boundaries are exact to the frame at the clip's own frame rate:

* **hard cuts**: PySceneDetect's ``AdaptiveDetector`` (HSV pixel differences between consecutive
  frames against their neighbours', with its defaults and our minimum shot length). It finds
  cuts between dim shots of similar colour that a fixed threshold misses and none in fast camera
  motion. A reported cut whose two sides are one picture (an encoder's key frame refreshing a slow
  scene) is dropped.
* **gradual transitions** (dissolves, fades from and to black): for a window of frames ``a < j < b``
  whose ends are two different pictures (or one is black), every middle frame must be a mix of
  the ends, ``g_j = (1 - w_j) g_a + w_j g_b`` on 16-pixel thumbnails with ``w`` rising, with a
  small residual and the lower contrast of a mix (two pictures' details partly cancel; a moving
  camera's frames keep their full contrast, see :func:`mix_fit`). The first and last mixed frames
  are then placed where each frame's step along the change rises to the mix's rate and falls back
  (:func:`tools.shots.transitions._extent`). Black frames (dark and flat) belong to the transition
  around them, so a fade out, black frames and a fade in are one transition. PySceneDetect has no
  dissolve detector, and its ``ThresholdDetector`` marks a fade through black at one frame in its
  middle, without its start or end.

A transition at the very start (fade in) or end (fade out) of the clip is not a shot; a shot
shorter than ``MIN_SHOT_S`` beside a cut joins its neighbour (PySceneDetect's minimum scene length).
Memory is bounded: the finder keeps a few seconds of thumbnails and a few numbers per frame.
``benchmarks/shots.py`` measures precision and recall (both ends within one frame) on generated
montages and ``bikes.mp4``.

The package: :mod:`.finder` (the shot finder, hard cuts), :mod:`.transitions` (dissolves and
fades), :mod:`.spans` (shots and transitions as frame spans), :mod:`.read` (what the tools read of them).
"""

from tools.shots.finder import DETECT_WIDTH, MIN_SHOT_S, SHOT_FEED, ShotFinder
from tools.shots.read import clip_shots, cut_times, motion_in_transition, motion_shots, sample_shots
from tools.shots.spans import Shots, Transition, assemble
from tools.shots.transitions import mix_fit

__all__ = ["DETECT_WIDTH", "MIN_SHOT_S", "SHOT_FEED", "ShotFinder", "Shots", "Transition", "assemble", "clip_shots",
           "cut_times", "mix_fit", "motion_in_transition", "motion_shots", "sample_shots"]
