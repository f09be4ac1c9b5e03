"""The classical and packaged detection pipeline: foreground candidates and recognised boxes in each
sampled frame, linked into tracks, the main ones chosen, repaired and named."""

from __future__ import annotations

import numpy as np

from agent.core.evidence import Instances
from tools.parallel import thread_map
from tools.shots import motion_shots, sample_shots

from .attach import attach_person, attach_recognised
from .candidates import Candidate, Track
from .foreground import components, cumulative, foreground
from .instances import to_instance
from .people_finder import people_finder
from .repair import cut_jumps, fill_gaps
from .selection import choose, name_tracks, rank
from .tracking import family, join_recognised, link, track_label


def detect_classical(ctx, max_instances: int, recogniser=None) -> tuple[Instances, dict[str, list]]:
    """Instances from motion and recognition. ``recogniser`` (the packaged tier, :mod:`tools.recognise`)
    names what it finds in every sampled frame, moving or not, in place of the people cascades."""
    sampled = ctx.frames.sampled
    n = len(sampled)
    # whole-body HOG and the profile-face cascade, the costly searches, run on these frames only
    whole_frame_checks = {0, n // 2, n - 1} if n > 2 else set(range(n))
    per_frame, smalls, found = _sightings(ctx, recogniser, whole_frame_checks)
    shots = sample_shots(ctx)

    tracks = link(per_frame, shots=shots)
    if recogniser is not None:
        tracks = join_recognised(tracks, shots)
    ranked = rank(tracks, n, shots, whole_frame_checks, recogniser)
    if recogniser is not None and len(set(shots)) > 1:  # a montage: each shot's dominant class is a main instance
        from tools.recognise import montage_order

        ranked = montage_order(ranked, lambda tr: shots[min(tr.items)],
                               lambda tr: family(track_label(tr)) if track_label(tr) else None)
    chosen = choose(ranked, max_instances, shots)
    if len(ctx.frames.motion.frames) > 1:
        _repair(chosen, smalls, shots)
    namings = {}
    if recogniser is not None:
        chosen, namings = name_tracks(chosen, [f.image for f in sampled], shots, recogniser)
    # reading order: largest first is InstanceCap's habit; we keep score order
    instances, masks = [], {}
    # each instance's evidence (masks at full size, colours) on its own core; the recogniser's models in turn
    evidence = thread_map(lambda job: to_instance(job[0], job[1], namings.get(id(job[1])), sampled, shots),
                          list(enumerate(chosen)))
    for track, full_masks, is_person in evidence:
        if recogniser is not None and is_person:
            recogniser.describe_person(track, [f.image for f in sampled], [f.time_s for f in sampled], found)
        elif recogniser is not None and track.class_name == "hand":
            recogniser.describe_hand(track, found)
        instances.append(track)
        masks[track.id] = full_masks
    note = None if instances else "no instances: nothing moved against the background and no person was recognised"
    if recogniser is not None and recogniser.missing:
        note = "; ".join([*([note] if note else []), *dict.fromkeys(recogniser.missing)])
    extra = {}
    if recogniser is not None:
        from tools.recognise import also_seen

        extra = also_seen(found, [i.boxes for i in instances])
    return Instances(backend="packaged" if recogniser is not None else "classical",
                     model=recogniser.name if recogniser is not None else None, instances=instances, frames_used=n,
                     candidates=sum(len(c) for c in per_frame), note=note, also_seen=extra), masks


def _sightings(ctx, recogniser, whole_frame_checks: set[int]) -> tuple[list[list[Candidate]], list[np.ndarray], list | None]:
    """The candidates of each sampled frame, the motion frame nearest each sample (where the masks live),
    and the recogniser's detections per sample (None without one)."""
    sampled, motion = ctx.frames.sampled, ctx.frames.motion
    ctx.require("estimate_camera_motion")
    acc = cumulative(ctx.artifacts.get("camera.pairs", []), len(motion.frames))
    finder = people_finder() if recogniser is None else None
    nearest = [motion.nearest(frame.time_s) for frame in sampled]
    frame_shots = motion_shots(ctx)
    moving = thread_map(lambda j: components(foreground(motion.frames, motion.times, acc, j, frame_shots),
                                             motion.frames[j]) if len(motion.frames) > 1 else [], nearest)
    found = recogniser.frames([f.image for f in sampled]) if recogniser is not None else None
    per_frame: list[list[Candidate]] = []
    smalls: list[np.ndarray] = []
    for k, frame in enumerate(sampled):
        j, cands = nearest[k], moving[k]
        smalls.append(motion.frames[j])
        if found is not None:
            for box, label, score in found[k]:
                cands = attach_recognised(cands, box, label, score, recogniser.name, motion.frames[j],
                                          recogniser.still_score)
            per_frame.append(cands)
            continue
        for c in cands:
            if finder.verify(frame.image, c.box):
                c.person_votes += 1
        for box, source, _ in finder.find(frame.image, whole_body=k in whole_frame_checks,
                                          profiles=k in whole_frame_checks):
            cands = attach_person(cands, box, source, motion.frames[j])
        per_frame.append(cands)
    return per_frame, smalls, found


def _repair(chosen: list[Track], smalls: list[np.ndarray], shots: list[int]) -> None:
    """Cut each chosen track's jumps, then fill its gaps by appearance where no other instance is."""
    for tr in chosen:
        cut_jumps(tr)
    for tr in chosen:
        claimed = {}
        for other in chosen:
            if other is not tr:
                for k, item in other.items.items():
                    claimed.setdefault(k, []).append(item.box)
        fill_gaps(tr, smalls, claimed, shots)
