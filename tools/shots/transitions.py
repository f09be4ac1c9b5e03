"""Gradual transitions (dissolves, fades from and to black) in a stream of thumbnails.

For a window of frames ``a < j < b`` whose ends are two different pictures (or one is black), every
middle frame must be a mix of the ends, ``g_j = (1 - w_j) g_a + w_j g_b`` on 16-pixel thumbnails
with ``w`` rising, with a small residual and the lower contrast of a mix (two pictures' details
partly cancel; a moving camera's frames keep their full contrast, see :func:`mix_fit`). The first
and last mixed frames are then placed where each frame's step along the change rises to the mix's
rate and falls back (:func:`_extent`). PySceneDetect has no dissolve detector, and its
``ThresholdDetector`` marks a fade through black at one frame in its middle, without its start or
end.
"""

from __future__ import annotations

import math

import numpy as np

MAX_TRANSITION_S = 2.5  # longest dissolve or fade ramp looked for
BLEND_CHANGE = 10.0  # least mean absolute change (0-255) between the two ends of a transition
BLEND_RESIDUAL = 0.45  # most residual of a mixed frame, as a share of that change (both shots may move)
BLEND_MEAN_RESIDUAL = 0.3
WHOLE_WINDOW_TRIES = 4  # windows fully checked per frame, earliest first
MIX_CONTRAST = 0.3  # most contrast score of mixed frames (0: mixes, 1: whole pictures; see mix_fit)
SAME_PICTURE = 0.6  # ends this correlated are one picture that changed (light, motion, an object), not two shots
DARK_MEAN, DARK_STD = 20.0, 8.0  # a black frame (a fade's middle)


class BlendFinder:
    """Gradual transitions in a stream of thumbnails, with a bounded look-back.

    Each new frame ``b`` is the far end of windows ``(a, b)`` reaching back up to
    ``MAX_TRANSITION_S``; a window passes when its ends are two pictures (or one is black) and its
    middle frames are mixes of them. Passing windows of one kind (a fade in, a fade out, a dissolve)
    make one candidate; a short quiet spell closes it, and its exact first and last mixed frames
    are then measured on the frames around it.
    """

    def __init__(self, fps: float):
        self.fps = fps
        self.max_len = max(4, int(round(MAX_TRANSITION_S * fps)))
        self.margin = max(3, int(round(0.2 * fps)))
        # windows keep passing from one shot's last max_len frames to the next's first: a
        # candidate can span twice the longest window, plus the frames beside it
        self.size = 2 * self.max_len + 4 * self.margin + 4
        self.buf: np.ndarray | None = None
        self.dark: np.ndarray | None = None
        self.count = 0
        self.pending: list | None = None  # [earliest a, latest b, kind] of the windows that passed
        self.quiet = 0
        self.events: list[tuple[int, int, str]] = []
        self.floor = 0  # the first frame after the last transition found: a new one starts no earlier

    def _rows(self, frames: np.ndarray) -> np.ndarray:
        return frames % self.size

    def thumb(self, i: int) -> np.ndarray | None:
        """Frame i's thumbnail, while it is held."""
        return self.buf[i % self.size] if self.buf is not None and max(0, self.count - self.size) <= i < self.count else None

    def push(self, thumb: np.ndarray, dark: bool) -> None:
        if self.buf is None:
            self.buf = np.zeros((self.size, thumb.size), np.float32)
            self.dark = np.zeros(self.size, bool)
            self.mean, self.var, self.sq = (np.zeros(self.size, np.float64) for _ in range(3))
        b = self.count
        r = b % self.size
        self.buf[r] = thumb
        self.dark[r] = dark
        self.mean[r] = float(thumb.mean())
        self.sq[r] = float(thumb @ thumb)
        self.var[r] = self.sq[r] / thumb.size - self.mean[r] ** 2
        self.count += 1
        hit = self._test(b)
        if hit is not None and hit[0] < self.floor:
            hit = (self.floor, hit[1]) if b - self.floor >= 2 else None
        if hit is not None:
            a, kind = hit
            if self.pending is not None and (self.pending[2] != kind or b - self.pending[0] >= self.size - 2 * self.margin - 2):
                self._close(b - 1)
            if self.pending is None:
                self.pending = [a, b, kind]
            else:
                self.pending = [min(self.pending[0], a), b, kind]
            self.quiet = 0
        elif self.pending is not None:
            self.quiet += 1
            if self.quiet > self.margin or b - self.pending[0] >= self.size - 2 * self.margin - 2:
                self._close(b)

    def finish(self) -> list[tuple[int, int, str]]:
        if self.pending is not None:
            self._close(self.count - 1)
        return self.events

    def _test(self, b: int) -> tuple[int, str] | None:
        """The earliest frame a whose window (a, b) is a mix of its ends, and the mix's kind.

        Per frame this is the costly step, so it works from each frame's mean, variance and
        squared norm (kept as frames arrive) and dot products: a mix's weight, contrast and the
        ends' correlation need no pass over the pixels; the residual is measured only on the
        windows that pass those tests.
        """
        lo = max(0, b - self.max_len)
        if b - lo < 2:
            return None
        size, n_px = self.size, self.buf.shape[1]
        a = np.arange(lo, b - 1)
        rows = a % size
        rb = b % size
        dark_b = bool(self.dark[rb])
        gb = self.buf[rb]
        ga = self.buf[rows]
        change = np.abs(ga - gb).mean(axis=1)
        keep = (change >= BLEND_CHANGE) & ~(self.dark[rows] & dark_b)
        if not keep.any():
            return None
        a, rows, ga, change = a[keep], rows[keep], ga[keep], change[keep]
        dark_a = self.dark[rows]
        mrows = ((a + b) // 2) % size
        gm = self.buf[mrows]
        mu_a, mu_b = self.mean[rows], self.mean[rb]
        var_a, var_b, var_m = self.var[rows], self.var[rb], self.var[mrows]
        ab = ga @ gb
        mb = gm @ gb
        ma = np.einsum("ij,ij->i", gm, ga)
        vv = self.sq[rows] + self.sq[rb] - 2 * ab + 1e-6
        w = (mb - ma - ab + self.sq[rows]) / vv  # the middle frame's weight on the line from a to b
        cov = ab / n_px - mu_a * mu_b
        fit_var = np.maximum((1 - w) ** 2 * var_a + w ** 2 * var_b + 2 * w * (1 - w) * cov, 1.0)
        wc = np.clip(w, 0.0, 1.0)
        whole = ((1 - wc) * var_a + wc * var_b) / fit_var
        contrast = (var_m / fit_var - 1) / np.maximum(whole - 1, 0.05)
        corr = cov / np.sqrt(np.maximum(var_a * var_b, 1e-6))
        fade = dark_a | dark_b  # a fade's frames are one picture, darkened: no contrast to lose
        ok = (w >= 0.15) & (w <= 0.85) & (((contrast <= MIX_CONTRAST + 0.2) & (corr <= SAME_PICTURE)) | fade)
        if not ok.any():
            return None
        idx = np.nonzero(ok)[0]
        fit = ga[idx] + w[idx, None] * (gb[None, :] - ga[idx])
        resid = np.abs(gm[idx] - fit).mean(axis=1) / change[idx]
        tried = 0
        for k in idx[resid <= BLEND_RESIDUAL]:  # earliest first; a few per frame (the next frames try again)
            if self._whole_window(int(a[k]), b, bool(fade[k])):
                return int(a[k]), ("fade out" if dark_b else "fade in" if dark_a[k] else "dissolve")
            tried += 1
            if tried >= WHOLE_WINDOW_TRIES:
                break
        return None

    def _whole_window(self, a: int, b: int, fade: bool) -> bool:
        """Every middle frame of (a, b) a mix of its ends, the weights rising, the contrast a mix's."""
        js = np.arange(a + 1, b)
        rows = js % self.size
        if not fade and self.dark[rows].any():
            return False  # a dissolve does not pass through black: that is a fade out and a fade in
        ra, rb = a % self.size, b % self.size
        ga, gb = self.buf[ra], self.buf[rb]
        g = self.buf[rows]
        v = gb - ga
        vv = float(v @ v) + 1e-6
        w = (g @ v - float(ga @ v)) / vv
        steps = np.diff(np.concatenate([[0.0], w, [1.0]]))
        if steps.min() <= -0.1 or steps.max() >= 0.5:
            return False
        change = float(np.abs(v).mean()) + 1e-6
        resid = np.abs(g - ga[None, :] - w[:, None] * v[None, :]).mean(axis=1) / change
        if resid.max() > BLEND_RESIDUAL:
            return False
        if fade:
            return True
        var_a, var_b = self.var[ra], self.var[rb]
        cov = float(ga @ gb) / ga.size - self.mean[ra] * self.mean[rb]
        fit_var = np.maximum((1 - w) ** 2 * var_a + w ** 2 * var_b + 2 * w * (1 - w) * cov, 1.0)
        wc = np.clip(w, 0.0, 1.0)
        whole = ((1 - wc) * var_a + wc * var_b) / fit_var
        contrast = float((self.var[rows] / fit_var - 1).mean() / max(float((whole - 1).mean()), 0.05))
        return contrast <= MIX_CONTRAST

    def _close(self, now: int) -> None:
        a, b, kind = self.pending
        self.pending, self.quiet = None, 0
        oldest = max(0, self.count - self.size, self.floor)
        a = max(a, oldest)
        lo, hi = max(oldest, a - self.margin), min(now, b + self.margin)
        if b - a < 2 or hi - lo < 3:
            return
        g = self.buf[self._rows(np.arange(lo, hi + 1))]
        core = (a - lo, b - lo)
        fade = kind != "dissolve"
        span = _extent(g.mean(axis=1, keepdims=True) if fade else g, core)  # a fade: its brightness ramp
        if span is None:
            return
        s, e = span  # g[s - 1] is the last frame before the mix, g[e] the first after it
        first, last = g[s - 1], g[e]
        if float(np.abs(last - first).mean()) < BLEND_CHANGE:
            return
        resid, contrast, _ = mix_fit(first, last, g[s:e])
        dark_first, dark_last = is_dark(first), is_dark(last)
        if resid.mean() > BLEND_MEAN_RESIDUAL or resid.max() > BLEND_RESIDUAL * 1.25:
            return
        if not (fade or dark_first or dark_last) and contrast > MIX_CONTRAST:
            return
        if dark_first and dark_last:
            return
        if not dark_first and not dark_last and correlation(first, last) > SAME_PICTURE:
            return  # one picture that changed: not two shots
        kind = "fade in" if dark_first else "fade out" if dark_last else "dissolve"
        self.events.append((lo + s, lo + e, kind))
        self.floor = lo + e


def _steps(g: np.ndarray, i: int, j: int) -> np.ndarray:
    """Each frame's step along the change from frame i to frame j (in units of that change)."""
    v = g[j] - g[i]
    vv = float(v @ v)
    return (np.diff(g, axis=0) @ v) / vv if vv > 1e-6 else np.zeros(len(g) - 1)


def _extent(g: np.ndarray, core: tuple[int, int]) -> tuple[int, int] | None:
    """The mixed frames [s, e) of the one transition in a window of thumbnails, or None.

    ``core``: the window's part that passed the mix test. Each frame's step along the change from
    the transition's first frame to its last is about 1/(L+1) at each of the L+1 steps of a linear
    mix, and about 0 before and after it (objects moving or the camera drifting add little per
    frame, although over a window they add up). The steps are first the run around the largest
    ones that step at least half the mix's typical rate; each end is then placed where the steps
    change from the level beside the run to the level in it (over a few frames each side, not
    on one noisy frame), and this is repeated with the change measured between the new ends. A
    run of one step is a hard cut.
    """
    i, j = core
    span = None
    for _ in range(3):
        steps = _steps(g, i, j)
        top = float(steps.max())
        if top <= 0:
            return None
        rate = float(np.median(steps[steps >= 0.3 * top]))
        peak = int(np.argmax(steps))
        r0 = r1 = peak
        while r0 > 0 and steps[r0 - 1] >= 0.5 * rate:
            r0 -= 1
        while r1 < len(steps) - 1 and steps[r1 + 1] >= 0.5 * rate:
            r1 += 1
        if r1 == r0 or top > 0.6 * float(steps[r0:r1 + 1].sum()):
            return None  # one step (or one step carries most of the change): a cut
        rate = float(np.median(steps[r0:r1 + 1]))
        k = max(2, min(5, (r1 - r0 + 1) // 2))
        r0, r1 = _edge(steps, r0, rate, k, left=True), _edge(steps, r1, rate, k, left=False)
        new = (r0 + 1, r1 + 1)  # first mixed frame, first frame after the mix
        if new == span or r1 <= r0:
            break
        span = new
        i, j = max(0, r0), min(len(g) - 1, r1 + 1)
    if span is None or span[1] - span[0] < 1 or span[0] < 1 or span[1] > len(g) - 1:
        return None
    return span


def _edge(steps: np.ndarray, at: int, rate: float, k: int, left: bool) -> int:
    """Where a run of steps at ``rate`` begins (``left``) or ends, near ``at``: the change point
    between the level outside (the median step beside it) and ``rate``, over ``k`` steps each side."""
    n = len(steps)
    if left:
        side = steps[max(0, at - k - 4):max(0, at - 1)]
    else:
        side = steps[min(n, at + 2):min(n, at + k + 5)]
    outside = float(np.median(side)) if len(side) else 0.0
    best, best_cost = at, math.inf
    for c in range(max(0, at - 3), min(n - 1, at + 3) + 1):
        if left:
            before, after = steps[max(0, c - k):c], steps[c:c + k]
            cost = float(((before - outside) ** 2).sum() + ((after - rate) ** 2).sum())
        else:
            before, after = steps[max(0, c - k + 1):c + 1], steps[c + 1:c + 1 + k]
            cost = float(((before - rate) ** 2).sum() + ((after - outside) ** 2).sum())
        if cost < best_cost:
            best, best_cost = c, cost
    return best


def mix_fit(first: np.ndarray, last: np.ndarray, mixed: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """How well the frames ``mixed`` are mixes ``(1 - w) first + w last``: (each frame's residual
    as a share of the change, the contrast score, each w).

    Mixing two different pictures lowers the contrast: their details partly cancel, so the
    variance of a mix is that of the fitted mix of the ends, while a frame of a moving camera
    keeps the variance of a whole picture (about the ends' own, interpolated), well above it. The
    contrast score places the frames between the two: 0 for mixes, 1 for whole pictures (on the
    benchmark: -0.6 to 0.2 on its dissolves, 0.3 to 0.7 on the camera motion that passes the other
    tests).
    """
    d = last - first
    change = float(np.abs(d).mean()) + 1e-6
    w = (mixed - first) @ d / (float(d @ d) + 1e-6)
    fit = first[None, :] + w[:, None] * d[None, :]
    resid = np.abs(mixed - fit).mean(axis=1) / change
    fit_var = np.maximum(fit.var(axis=1), 1.0)
    wc = np.clip(w, 0.0, 1.0)
    whole = ((1 - wc) * float(first.var()) + wc * float(last.var())) / fit_var  # a whole picture's contrast
    seen = mixed.var(axis=1) / fit_var
    score = float((seen - 1).mean() / max(float((whole - 1).mean()), 0.05))
    return resid, score, w


def is_dark(thumb: np.ndarray) -> bool:
    return float(thumb.mean()) < DARK_MEAN and float(thumb.std()) < DARK_STD


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x @ x) * (y @ y)))
    return float(x @ y) / den if den > 1e-6 else 1.0

