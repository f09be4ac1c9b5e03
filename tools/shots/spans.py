"""A clip's shots as frame spans: the transitions between them, which shot a frame belongs to, and
how shots and transitions are put together from the cuts, mixes and black frames found."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Transition:
    kind: str  # cut | dissolve | fade in | fade out | fade (out and in, through black)
    start: int  # first frame that is not purely the shot before (a cut: the new shot's first frame)
    end: int  # first frame that is purely the shot after (== start for a cut)
    start_s: float = 0.0
    end_s: float = 0.0

    def as_dict(self) -> dict:
        return {"kind": self.kind, "start_s": self.start_s, "end_s": self.end_s,
                "start_frame": self.start, "end_frame": self.end}


@dataclass
class Shots:
    """Shots and transitions of a clip, in decoded-frame numbers and seconds."""

    frames: int
    spans: list[tuple[int, int]]  # each shot's [first frame, end frame)
    transitions: list[Transition]
    frame_times: np.ndarray  # time of each decoded frame
    duration_s: float

    def time_of(self, frame: int) -> float:
        if frame >= self.frames:
            return round(self.duration_s, 3)
        return round(float(self.frame_times[frame]), 3)

    @property
    def count(self) -> int:
        return len(self.spans)

    def starts_s(self) -> list[float]:
        return [self.time_of(s) for s, _ in self.spans]

    def span_s(self, k: int) -> tuple[float, float]:
        s, e = self.spans[k]
        return self.time_of(s), self.time_of(e)

    def shot_of(self, frame: int) -> int:
        """The shot a frame belongs to; a frame in a transition belongs to the nearer shot."""
        import bisect

        k = bisect.bisect_right(self._starts(), frame) - 1  # the last shot starting at or before it
        if k < 0:
            return 0
        s, e = self.spans[k]
        if frame < e or k + 1 >= len(self.spans):
            return k
        return k if frame - (e - 1) <= self.spans[k + 1][0] - frame else k + 1

    def in_transition(self, frame: int) -> bool:
        import bisect

        k = bisect.bisect_right(self._starts(), frame) - 1
        return k < 0 or frame >= self.spans[k][1]

    def _starts(self) -> list[int]:
        if getattr(self, "_starts_cache", None) is None or len(self._starts_cache) != len(self.spans):
            self._starts_cache = [s for s, _ in self.spans]
        return self._starts_cache

    @staticmethod
    def single(frames: int, frame_times: np.ndarray, duration_s: float) -> "Shots":
        return Shots(frames, [(0, max(1, frames))], [], frame_times, duration_s)

def assemble(n: int, cuts: list[int], blends: list[tuple[int, int, str]], dark: np.ndarray,
             min_shot: int) -> Shots:
    """Shots and transitions from hard cuts, gradual transitions and black frames."""
    runs = _transition_runs(n, blends, dark)
    if len(runs) == 1 and runs[0][0] == 0 and runs[0][1] == n:
        return Shots(n, [(0, n)], [], np.zeros(0), 0.0)  # nothing but black (or one long mix): one shot
    transitions = [Transition(_run_kind(s, e, found, n), s, e) for s, e, found in runs]
    for c in cuts:
        if 0 < c < n and not any(t.start - 1 <= c <= t.end + 1 for t in transitions):
            transitions.append(Transition("cut", c, c))
    transitions.sort(key=lambda t: t.start)
    transitions = _merge_short_shots(transitions, n, min_shot)
    spans = _spans_of(transitions, n)
    if not spans:
        return Shots(n, [(0, n)], [], np.zeros(0), 0.0)
    return Shots(n, spans, transitions, np.zeros(0), 0.0)


def _transition_runs(n: int, blends: list[tuple[int, int, str]], dark: np.ndarray) -> list[list]:
    """Runs of frames that belong to a transition (mixed frames and black ones), each as
    [start, end, set of kinds]; one clean frame between two parts is still one transition."""
    inside = np.zeros(n, bool)
    kinds: dict[int, str] = {}
    for s, e, kind in blends:
        inside[s:e] = True
        for j in range(s, e):
            kinds[j] = kind
    inside |= dark[:n]
    runs: list[list] = []
    j = 0
    while j < n:
        if inside[j]:
            k = j
            found = set()
            while k < n and inside[k]:
                found.add(kinds.get(k, "black"))
                k += 1
            if runs and j - runs[-1][1] <= 1:
                runs[-1][1] = k
                runs[-1][2] |= found
            else:
                runs.append([j, k, found])
            j = k
        else:
            j += 1
    return runs


def _run_kind(s: int, e: int, found: set, n: int) -> str:
    """A run's transition kind: through black it is a fade (in at the clip's start, out at its end)."""
    if "black" in found or ("fade out" in found and "fade in" in found):
        return "fade in" if s == 0 else "fade out" if e == n else "fade"
    if len(found) == 1:
        return next(iter(found))
    return "dissolve"


def _spans_of(transitions: list[Transition], n: int) -> list[tuple[int, int]]:
    """The shots' [first frame, end frame) between the transitions."""
    out, pos = [], 0
    for t in transitions:
        if t.start > pos:
            out.append((pos, t.start))
        pos = max(pos, t.end)
    if pos < n:
        out.append((pos, n))
    return out


def _merge_short_shots(transitions: list[Transition], n: int, min_shot: int) -> list[Transition]:
    """Shots shorter than the minimum: a cut beside one is dropped (the frames join the neighbour);
    between two gradual transitions, the three become one."""
    changed = True
    while changed and transitions:
        changed = False
        spans = _spans_of(transitions, n)
        for s, e in spans:
            if e - s >= min_shot or len(spans) == 1:
                continue
            before = next((t for t in reversed(transitions) if t.end <= s), None)
            after = next((t for t in transitions if t.start >= e), None)
            if after is not None and after.kind == "cut":
                transitions.remove(after)
            elif before is not None and before.kind == "cut":
                transitions.remove(before)
            elif before is not None and after is not None:
                merged = Transition("fade" if "fade" in before.kind + after.kind else "dissolve", before.start, after.end)
                transitions = [t for t in transitions if t is not before and t is not after] + [merged]
                transitions.sort(key=lambda t: t.start)
            else:
                continue  # a short shot next to a fade at the clip's start or end: keep it
            changed = True
            break
    return transitions
