"""Synthetic clips with known ground truth, for tests and benchmarks.

A clip is a textured world seen through a moving camera (pan, tilt, zoom, roll, shake, at chosen
speeds) with coloured objects moving across the screen (circles, squares, triangles and simple
people). Everything is deterministic from the seed. ``render_clip`` writes an H.264 mp4 with PyAV
and returns the ground truth, which ``write_ground_truth`` saves as JSON:

* per object: colour name, shape, class, start and end 3x3 grid cell of its visible centroid,
  whether it leaves the frame, and its screen direction;
* the camera label in the same words as ``estimate_camera_motion``.

Montages (:mod:`.montage`) join generated shots with cuts, dissolves and fades and return the
frame-exact shots and transitions. The package: :mod:`.scenes` (what a scene and its truth are,
random scenes), :mod:`.render` (drawing and writing a clip), :mod:`.montage`.
"""

from agent.testing.synthetic.montage import MontageTruth, TransitionSpec, montage_frames, render_montage, write_frames
from agent.testing.synthetic.render import render_clip, render_frames
from agent.testing.synthetic.scenes import (OBJECT_COLOURS, SHAPES, SPEEDS, CameraSpec, GroundTruth, ObjectSpec,
                                            ObjectTruth, SceneSpec, camera_for, random_scene, write_ground_truth)

__all__ = ["OBJECT_COLOURS", "SHAPES", "SPEEDS", "CameraSpec", "GroundTruth", "MontageTruth", "ObjectSpec",
           "ObjectTruth", "SceneSpec", "TransitionSpec", "camera_for", "montage_frames", "random_scene",
           "render_clip", "render_frames", "render_montage", "write_frames", "write_ground_truth"]
