"""Pose (an Any2Caption condition): each person's posture over the clip.

Condition ``pose`` (``--condition pose``). The tool ``estimate_pose`` has two backends:

* neural: an ultralytics pose model (``[plugins.pose] weights`` or ``--pose-weights``, default ``yolo11n-pose.pt``) on the sampled
  frames; each person instance takes the pose whose box overlaps its own most, and its 17 COCO
  keypoints go through :func:`posture`;
* classical (no weights): the person's box shape and speed only (lying when wider than tall,
  else standing; walking or running from speed). It cannot see sitting or raised arms.

Speed is the instance's centroid travel in body heights per second: at least 1.5 is running, at
least 0.25 walking.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.core.caption import CaptionSection
from agent.core.conditions import Condition
from agent.core.evidence import instances_of
from agent.core.hookspecs import hookimpl
from tools.geometry import iou
from tools.weights import try_neural
from agent.core.tool import NoArgs, Observation, Tool

SECTION = "Pose"
# COCO keypoint indices
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
VISIBLE = 0.3


class PoseEvidence(BaseModel):
    method: str
    postures: dict[str, str] = Field(default_factory=dict, description="person id -> posture words")
    per_frame: dict[str, list[str | None]] = Field(default_factory=dict)
    fallback_reason: str | None = None


class PoseSection(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    instances: dict[str, str] = Field(default_factory=dict, alias="Instances")
    summary: str = Field(alias="Summary")
    method: str = Field(alias="Method")


# -- the rules ----------------------------------------------------------------------------------
def _mid(kps: np.ndarray, a: int, b: int) -> np.ndarray | None:
    pts = [kps[i, :2] for i in (a, b) if kps[i, 2] >= VISIBLE]
    return np.mean(pts, axis=0) if pts else None


def gait(speed_heights_per_s: float) -> str | None:
    if speed_heights_per_s >= 1.5:
        return "running"
    if speed_heights_per_s >= 0.25:
        return "walking"
    return None


def posture(kps: np.ndarray, speed_heights_per_s: float = 0.0) -> list[str]:
    """Posture words from 17 COCO keypoints (x, y, confidence; y grows downwards) and the speed."""
    kps = np.asarray(kps, dtype=float)
    shoulders, hips = _mid(kps, L_SHOULDER, R_SHOULDER), _mid(kps, L_HIP, R_HIP)
    words: list[str] = []
    if shoulders is None or hips is None:
        return words
    torso = hips - shoulders
    torso_len = float(np.hypot(*torso)) or 1.0
    tilt = math.degrees(math.atan2(abs(torso[0]), abs(torso[1]) + 1e-9))  # 0: upright
    if tilt > 60:
        return ["lying"]
    knees = _mid(kps, L_KNEE, R_KNEE)
    ankles = _mid(kps, L_ANKLE, R_ANKLE)
    sitting = False
    if knees is not None:
        thigh_drop = (knees[1] - hips[1]) / torso_len  # how far the knees hang below the hips
        shin = (ankles[1] - knees[1]) / torso_len if ankles is not None else None
        sitting = thigh_drop < 0.45 and (shin is None or shin > 0.3)
    moving = gait(speed_heights_per_s)
    if sitting:
        words.append("sitting")
    else:
        words.append(moving or "standing")
    raised = [w for w, s in ((L_WRIST, L_SHOULDER), (R_WRIST, R_SHOULDER))
              if kps[w, 2] >= VISIBLE and kps[s, 2] >= VISIBLE and kps[w, 1] < kps[s, 1] - 0.1 * torso_len]
    if len(raised) == 2:
        words.append("both arms raised")
    elif raised:
        words.append("one arm raised")
    return words


def posture_from_box(box, speed_heights_per_s: float, aspect: float) -> list[str]:
    """``aspect``: the frame's width / height. A box the frame cuts says only that the person is upright
    (or nothing); a whole box wider than tall is a person lying."""
    x0, y0, x1, y1 = box
    width, height = (x1 - x0) * aspect, y1 - y0
    cut = y0 <= 0.02 or y1 >= 0.98
    if cut:
        return ["upright"] if height > 0.8 * width else []
    if width > 1.3 * height:
        return ["lying"]
    return [gait(speed_heights_per_s) or "standing"]


def _speed(inst, times: list[float], aspect: float = 16 / 9) -> float:
    seen = inst.seen()
    if len(seen) < 2:
        return 0.0
    heights = [inst.boxes[k][3] - inst.boxes[k][1] for k in seen]
    a, b = inst.centroids[seen[0]], inst.centroids[seen[-1]]
    if a is None or b is None:
        return 0.0
    dt = max(times[seen[-1]] - times[seen[0]], 1e-6)
    travel = math.hypot((b[0] - a[0]) * aspect, b[1] - a[1])  # in frame heights
    return travel / dt / max(float(np.median(heights)), 1e-3)


def _summarise(words_per_frame: list[list[str] | None]) -> str | None:
    counted = Counter(", ".join(w) for w in words_per_frame if w)
    return counted.most_common(1)[0][0] if counted else None


# -- the tool -----------------------------------------------------------------------------------


class PoseSettings(BaseModel):
    """``[plugins.pose]`` (flag ``--pose-weights``)."""
    model_config = ConfigDict(extra="forbid")
    weights: str = Field("yolo11n-pose.pt", description="ultralytics pose weights (neural pose backend)")


def load_pose_model(settings):
    from tools.weights import keep_loaded, prepare_ultralytics, resolve_yolo

    weights = CONDITION.settings_from(settings).weights
    spec = resolve_yolo(settings.model_copy(update={"yolo_weights": weights}), flag="--pose-weights")
    prepare_ultralytics(settings)

    def build():
        from ultralytics import YOLO

        return YOLO(spec.source)

    return keep_loaded(("pose", spec.source), build), spec.label


class EstimatePose(Tool):
    name = "estimate_pose"
    description = "Estimate each person's posture (standing, sitting, lying, walking, running, arms raised)."
    Args = NoArgs
    version = "1"
    evidence_model = PoseEvidence
    requires = ("segment_and_blur",)
    reads_settings = ("backend", "plugins", "yolo_weights", "yolo_conf",
                      "device", "weights_dir", "allow_downloads", "random_weights")
    stage = "gpu"
    plan = 80

    def run(self, ctx, args) -> Observation:
        ctx.require("segment_and_blur")
        people = [i for i in instances_of(ctx.evidence) if i.class_name == "person"]
        sampled = ctx.frames.sampled
        times = [f.time_s for f in sampled]
        evidence, reason = None, None
        if people and ctx.settings.backend in ("auto", "neural"):
            evidence, reason = try_neural(ctx, self.name, "pose model", "box shape",
                                          lambda: self._neural(ctx, people, sampled, times))
        if evidence is None:
            per_frame = {}
            aspect = ctx.frames.info.width / max(1, ctx.frames.info.height)
            for inst in people:
                speed = _speed(inst, times, aspect)
                per_frame[inst.id] = [posture_from_box(b, speed, aspect) or None if b is not None else None
                                      for b in inst.boxes]
            evidence = self._evidence("box shape and speed (no pose model)", per_frame)
            evidence.fallback_reason = reason
        summary = {"method": evidence.method, "postures": evidence.postures or "no people"}
        return Observation(summary, evidence)

    def _neural(self, ctx, people, sampled, times) -> PoseEvidence:
        from tools.weights import pick_device

        model, label = load_pose_model(ctx.settings)
        device = pick_device(ctx.settings.device)
        per_frame: dict[str, list] = {p.id: [None] * len(sampled) for p in people}
        import torch

        threads = torch.get_num_threads()
        try:
            for k, frame in enumerate(sampled):
                result = model.predict(frame.image, conf=ctx.settings.yolo_conf, device=device, verbose=False)[0]
                if result.keypoints is None or result.boxes is None or len(result.boxes) == 0:
                    continue
                boxes = result.boxes.xyxyn.tolist()
                h, w = frame.image.shape[:2]
                kps = result.keypoints.data.cpu().numpy()  # (n, 17, 3) in pixels
                for person in people:
                    box = person.boxes[k]
                    if box is None:
                        continue
                    j = max(range(len(boxes)), key=lambda i: iou(boxes[i], box))
                    if iou(boxes[j], box) < 0.3:
                        continue
                    points = kps[j].copy()
                    points[:, 0] /= h  # both axes in frame heights, so angles are true
                    points[:, 1] /= h
                    per_frame[person.id][k] = posture(points, _speed(person, times, w / h)) or None
        finally:
            torch.set_num_threads(threads)
        return self._evidence(f"pose model ({label})", per_frame)

    @staticmethod
    def _evidence(method: str, per_frame: dict[str, list]) -> PoseEvidence:
        postures = {pid: s for pid, frames in per_frame.items() if (s := _summarise(frames))}
        return PoseEvidence(method=method, postures=postures,
                            per_frame={pid: [", ".join(w) if w else None for w in frames]
                                       for pid, frames in per_frame.items()})


def section_from(ev: PoseEvidence) -> dict:
    """The Pose section: each person's usual posture, a sentence of them all, and how it was measured."""
    if ev.postures:
        summary = " ".join(f"The person {pid} is mostly {words}." for pid, words in ev.postures.items())
    else:
        summary = "No person's posture could be measured."
    return {"Instances": ev.postures, "Summary": summary, "Method": ev.method}


CONDITION = Condition(
    "pose", "Any2Caption's pose: each person's posture (standing, sitting, lying, walking, running, arms raised)",
    section=CaptionSection(SECTION, PoseSection, rank=4,
                           text=lambda s: [(f"{SECTION} summary", s.get("Summary", ""))] if isinstance(s, dict) else []),
    settings=PoseSettings, tools=(EstimatePose,), compose=section_from)


@hookimpl
def register_conditions():
    return [CONDITION]
