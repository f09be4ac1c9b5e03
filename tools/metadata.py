"""``read_metadata``: what the container says about the clip (PyAV), checked against the decode."""

from __future__ import annotations

from agent.core.evidence import VideoMetadata
from agent.core.hookspecs import hookimpl
from agent.core.tool import Observation, Tool

from .shots import SHOT_FEED, clip_shots


def _orientation(w: int, h: int) -> str:
    if abs(w - h) <= 0.02 * max(w, h):
        return "square"
    return "landscape" if w > h else "portrait"


class ReadMetadata(Tool):
    name = "read_metadata"
    description = (
        "Read the clip's metadata: duration, frame rate, frame count, size, orientation, rotation, "
        "codec, whether it has audio (captions never describe sound), and the clip's shots with the "
        "transitions between them (cuts, dissolves, fades), if it has more than one. Takes no arguments."
    )
    version = "3"
    evidence_model = VideoMetadata
    plan = 10
    feeds = (SHOT_FEED,)
    cacheable = False  # the file name and size are the current clip's, even when its bytes were seen before

    def run(self, ctx, args) -> Observation:
        fs = ctx.frames
        info = fs.info
        stats = fs.stats
        shots = clip_shots(ctx)
        cuts = shots.starts_s()[1:]
        spans = [{"index": k, "start_s": shots.time_of(s), "end_s": shots.time_of(e), "start_frame": s, "end_frame": e}
                 for k, (s, e) in enumerate(shots.spans)]
        transitions = [t.as_dict() for t in shots.transitions]
        evidence = VideoMetadata(
            file_name=info.file_name,
            duration_s=fs.duration_s,
            fps=round(stats.mean_fps, 3) if stats and stats.mean_fps else info.fps,
            frame_count=fs.frame_count,
            width=info.width,
            height=info.height,
            orientation=_orientation(info.width, info.height),
            rotation=info.rotation,
            codec=info.codec,
            container=info.container,
            pixel_format=info.pixel_format,
            has_audio=info.has_audio,
            audio_codec=info.audio_codec,
            variable_frame_rate=fs.stats.variable_frame_rate,
            size_bytes=info.size_bytes,
            decode_warning=fs.stats.warning,
            shots=shots.count,
            cuts_s=cuts,
            shot_spans=spans,
            transitions=transitions,
        )
        summary = {
            "duration_s": evidence.duration_s,
            "fps": evidence.fps,
            "frames": evidence.frame_count,
            "size": f"{evidence.width}x{evidence.height} {evidence.orientation}",
            "rotation": evidence.rotation,
            "codec": evidence.codec,
            "audio": evidence.has_audio,
        }
        if evidence.variable_frame_rate:
            summary["variable_frame_rate"] = True
        if shots.count > 1:
            summary["shots"] = evidence.shots
            summary["shot_spans_s"] = [[s["start_s"], s["end_s"]] for s in spans]
        if transitions and (shots.count > 1 or any(t["kind"] != "cut" for t in transitions)):
            summary["transitions"] = [f"{t['kind']} {t['start_s']:.2f}-{t['end_s']:.2f} s" if t["end_s"] > t["start_s"]
                                      else f"{t['kind']} at {t['start_s']:.2f} s" for t in transitions]
        if evidence.decode_warning:
            summary["warning"] = evidence.decode_warning
        return Observation(summary, evidence)


@hookimpl
def register_tools():
    return [ReadMetadata()]
