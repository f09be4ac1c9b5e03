"""A condition: ``--condition motion_rhythm`` adds a "Motion Rhythm" section, how busy each part of the
clip is ("calm at the start, busy in the middle and calm at the end").

Everything a condition needs is declared once, in ``CONDITION``: its settings (``[plugins.motion_rhythm]
parts = 4`` in the config file), its tool (run by the offline planner too, only when the condition is
on), its caption section with the rank and sentence it has when a caption is flattened, and the
composer of that section from the tool's evidence. The module implements one hook,
``register_conditions``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.core.caption import CaptionSection
from agent.core.conditions import Condition
from agent.core.hookspecs import hookimpl
from agent.core.tool import NoArgs, Observation, Tool

from .plugin import measure

SECTION = "Motion Rhythm"
PLACES = {2: ("at the start", "at the end"), 3: ("at the start", "in the middle", "at the end")}


class RhythmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parts: int = Field(3, ge=2, le=8, description="equal parts the clip is cut into")


class RhythmEvidence(BaseModel):
    parts: list[str]  # calm, lively or busy, per part in time order
    mean_change: list[float]


class RhythmSection(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    parts: list[str] = Field(alias="Parts")
    summary: str = Field(alias="Summary")


def summary(words: list[str]) -> str:
    """'The motion is calm at the start, busy in the middle and calm at the end.'"""
    if len(set(words)) == 1:
        return f"The motion is {words[0]} throughout."
    places = PLACES.get(len(words)) or tuple(f"in part {k + 1} of {len(words)}" for k in range(len(words)))
    said = [f"{word} {place}" for word, place in zip(words, places)]
    return f"The motion is {', '.join(said[:-1])} and {said[-1]}."


def rhythm(frames: list, parts: int) -> RhythmEvidence:
    """Motion energy of each of ``parts`` equal stretches of the frames (the last takes what is left)."""
    size = max(2, len(frames) // parts)
    pieces = [frames[k * size:(k + 1) * size if k < parts - 1 else len(frames)] for k in range(parts)]
    energies = [measure(piece) for piece in pieces]
    return RhythmEvidence(parts=[e.word for e in energies], mean_change=[e.mean_change for e in energies])


class MeasureMotionRhythm(Tool):
    name = "measure_motion_rhythm"
    description = "Measure how busy each part of the clip is (calm, lively or busy), in time order."
    Args = NoArgs
    version = "1"
    evidence_model = RhythmEvidence
    reads_settings = ("plugins",)  # its [plugins.motion_rhythm] table, so the cache keys its parts
    plan = 91  # after the built-in measurements; planned only while the condition is on

    def run(self, ctx, args) -> Observation:
        own = CONDITION.settings_from(ctx.settings)
        found = rhythm(ctx.frames.motion.frames, own.parts)
        return Observation({"parts": found.parts}, found)


def section_from(found: RhythmEvidence) -> dict:
    return {"Parts": found.parts, "Summary": summary(found.parts)}


CONDITION = Condition(
    "motion_rhythm", "how busy each part of the clip is (from the motion-energy plugin)",
    section=CaptionSection(SECTION, RhythmSection, rank=5,
                           text=lambda s: [(f"{SECTION} summary", s.get("Summary", ""))] if isinstance(s, dict) else []),
    settings=RhythmSettings, tools=(MeasureMotionRhythm,), compose=section_from)


@hookimpl
def register_conditions():
    return [CONDITION]
