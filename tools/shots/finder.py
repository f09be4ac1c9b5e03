"""The shot finder: fed every decoded frame in order, it finds hard cuts (PySceneDetect's
``AdaptiveDetector``) and gradual transitions (:mod:`tools.shots.transitions`), and puts them
together as the clip's shots (:func:`tools.shots.spans.assemble`)."""

from __future__ import annotations

import cv2
import numpy as np

from agent.core.feeds import FrameFeed
from tools.shots.spans import Shots, assemble
from tools.shots.transitions import BlendFinder, correlation, is_dark

DETECT_WIDTH = 160  # long side of the frames the cut detector sees (at 256 the benchmark found the same transitions, in 1.8x the time)
THUMB = 16  # long side of the thumbnails gradual transitions are measured on
MIN_SHOT_S = 0.25  # a shorter shot is merged into its neighbour (bikes.mp4's last shot is 0.32 s)
CUT_RATIO = 3.0  # AdaptiveDetector's defaults: a cut's score is this many times its neighbours'
CUT_MIN_CONTENT = 15.0  # and at least this
CUT_SAME_PICTURE, CUT_MIN_CHANGE = 0.9, 3.0  # a "cut" between two thumbnails this alike is the encoder refreshing a frame
# a cut changes much of the picture: on a tiny or noisy frame, a small object moving one pixel (or the
# encoder's noise) scores like a cut while it changes a few thumbnail pixels; real cuts change half or more
CUT_PIXEL_CHANGE, CUT_MIN_CHANGED_SHARE, CUT_ALIKE = 30.0, 0.15, 0.6


class ShotFinder:
    """Fed every decoded frame in order (downscaled), finds the clip's shots and transitions."""

    def __init__(self, fps: float, min_shot_s: float = MIN_SHOT_S):
        try:
            from scenedetect.detectors import AdaptiveDetector
        except ImportError:
            from agent.core.errors import AgentError

            raise AgentError("PySceneDetect is not installed, and shots are found with it: "
                             "pip install 'scenedetect>=0.7.2,<0.8' (scripts/setup.sh installs it)") from None

        self.fps = fps if fps and fps > 0 else 25.0
        self.min_shot = max(1, int(round(min_shot_s * self.fps)))
        self._detector = AdaptiveDetector(adaptive_threshold=CUT_RATIO, min_content_val=CUT_MIN_CONTENT,
                                          min_scene_len=self.min_shot)
        self._blend = BlendFinder(self.fps)
        self._cuts: list[int] = []
        self._dark = bytearray()  # one flag per frame
        self._count = 0

    def push(self, image: np.ndarray, t: float | None = None) -> None:
        """The next decoded frame, BGR, about ``DETECT_WIDTH`` pixels on its long side (the finder counts
        frames; their times come with :meth:`finish`)."""
        from scenedetect.common import FrameTimecode

        index = self._count
        self._count += 1
        h, w = image.shape[:2]
        tw, th = (THUMB, max(1, round(THUMB * h / w))) if w >= h else (max(1, round(THUMB * w / h)), THUMB)
        thumb = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
        dark = is_dark(thumb)
        self._dark.append(dark)
        self._blend.push(thumb, dark)
        for tc in self._detector.process_frame(FrameTimecode(index, fps=self.fps), image):
            self._cut(int(tc.frame_num))

    def _cut(self, c: int) -> None:
        """A cut the detector reported, unless the frames on its two sides are one picture (an
        encoder's key frame refreshing a slow scene scores like a cut between dim shots; on a tiny
        frame, a small object moving a pixel scores like a cut too)."""
        before, after = self._blend.thumb(c - 1), self._blend.thumb(c)
        if before is not None and after is not None:
            change = np.abs(after - before)
            alike = correlation(before, after)
            if float(change.mean()) < CUT_MIN_CHANGE and alike > CUT_SAME_PICTURE:
                return
            if float((change > CUT_PIXEL_CHANGE).mean()) < CUT_MIN_CHANGED_SHARE and alike > CUT_ALIKE:
                return  # a few pixels changed on one picture: motion or noise, not another shot
        self._cuts.append(c)

    def finish(self, frame_times: np.ndarray, duration_s: float) -> Shots:
        from scenedetect.common import FrameTimecode

        n = self._count
        if n:
            for tc in self._detector.post_process(FrameTimecode(n - 1, fps=self.fps)):
                self._cut(int(tc.frame_num))
        times = np.asarray(frame_times, dtype=np.float64)
        if n <= 1:
            return Shots.single(n, times, duration_s)
        dark = np.frombuffer(bytes(self._dark), dtype=np.uint8).astype(bool)
        shots = assemble(n, sorted(set(self._cuts)), self._blend.finish(), dark, self.min_shot)
        for t in shots.transitions:
            t.start_s, t.end_s = _time(times, t.start, duration_s), _time(times, t.end, duration_s)
        shots.frame_times, shots.duration_s = times, duration_s
        return shots


def _time(times: np.ndarray, frame: int, duration_s: float) -> float:
    return round(float(times[frame]) if frame < len(times) else duration_s, 3)


SHOT_FEED = FrameFeed("shots", ShotFinder, frames="every", width=DETECT_WIDTH)  # the tools reading shots declare it
