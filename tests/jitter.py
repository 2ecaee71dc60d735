"""Synthetic sweep curves with the noise structure real sweeps have: each seed moves the
optimum sideways (a shift of the whole curve in log-LR), adds a vertical offset and a smooth
wiggle that is correlated along LR, plus a little independent noise per trial. The truth is
the optimum of the seed-mean curve (the expectation over seeds, by Gauss-Hermite quadrature).
With ``far=(p, k)`` the sideways shifts are heavy-tailed: a fraction ``p`` of the seeds moves
``k`` times as far as the rest (a contaminated normal), as seeds do on noisy plateaus.
"""

from __future__ import annotations

import math

import numpy as np

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)
_GH_W = _GH_W / _GH_W.sum()


class JitterCurve:
    """An asymmetric well in x = log10(lr) (loss, minimized, or accuracy, maximized) with its
    minimum/maximum of the base curve at ``x0``; every trial at or above ``x_div`` (moved by
    half the seed's shift) diverges. ``tau``: sideways standard deviation (decades);
    ``corr``/``white``: the wiggle's and the independent noise's standard deviation as a
    fraction of the metric's change one decade from the optimum."""

    def __init__(self, i: int, rng: np.random.Generator, *, tau: float | None = None,
                 corr: float | None = None, white: float = 0.003,
                 far: tuple[float, float] | None = None) -> None:
        self.i = i
        self.kind = "acc" if rng.random() < 0.5 else "loss"
        self.direction = "max" if self.kind == "acc" else "min"
        self.x0 = float(rng.uniform(-4.0, -2.0))
        self.k1, self.k2 = (float(v) for v in rng.uniform(0.8, 3.0, 2))
        self.top, self.depth = float(rng.uniform(0.6, 0.95)), float(rng.uniform(0.2, 0.5))
        self.floor, self.amp = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.05, 0.3))
        self.x_div = self.x0 + float(rng.uniform(0.7, 1.5))
        decade = 0.5 * (abs(self.base(self.x0 - 1) - self.base(self.x0))
                        + abs(self.base(self.x0 + 0.7) - self.base(self.x0)))
        self.tau = float(rng.uniform(0.03, 0.12)) if tau is None else tau
        self.c = (float(rng.uniform(0.005, 0.03)) if corr is None else corr) * decade
        self.w = white * decade
        self.ell = float(rng.uniform(0.3, 0.8))
        self.p_far, self.k_far = far if far is not None else (0.0, 1.0)
        xs = np.linspace(self.x0 - 2.5, self.x0 + 2.5, 5001)
        mean = sum(w * ((1 - self.p_far) * self.base(xs - self.tau * z)
                        + self.p_far * self.base(xs - self.k_far * self.tau * z))
                   for z, w in zip(_GH_X, _GH_W))
        k = np.argmax(mean) if self.direction == "max" else np.argmin(mean)
        self.x_true = float(xs[k])
        self.calls = 0

    def well(self, d: np.ndarray | float) -> np.ndarray | float:
        k1, k2 = self.k1, self.k2
        return (k2 * np.exp(-k1 * d) + k1 * np.exp(k2 * d) - k1 - k2) / (k1 * k2 * (k1 + k2))

    def base(self, x: np.ndarray | float) -> np.ndarray | float:
        d = np.asarray(x, dtype=float) - self.x0
        if self.kind == "acc":
            return self.top - self.depth * (1 - np.exp(-self.well(d) / 0.64))
        return self.floor + self.amp * self.well(d)

    def value(self, lr: float, seed: int) -> float:
        self.calls += 1
        x = math.log10(lr)
        r = np.random.default_rng([self.i, seed, 11])
        shift, offset = self.tau * r.standard_normal(), 3 * self.w * r.standard_normal()
        omega, phase = r.standard_normal(30) / self.ell, r.uniform(0, 2 * math.pi, 30)
        if self.p_far and r.random() < self.p_far:
            shift *= self.k_far
        if x >= self.x_div + shift / 2:
            return math.nan
        wiggle = math.sqrt(2 / 30) * float(np.sum(np.cos(omega * x + phase)))
        eps = np.random.default_rng([self.i, seed, int(round(x * 1e6)) % 2**31]).standard_normal()
        return float(self.base(x - shift)) + offset + self.c * wiggle + self.w * eps

    def is_far(self, seed: int) -> bool:
        """Whether ``seed`` is one of the far-shifted ones."""
        r = np.random.default_rng([self.i, seed, 11])
        r.standard_normal()
        r.standard_normal()
        r.standard_normal(30)
        r.uniform(0, 2 * math.pi, 30)
        return bool(self.p_far and r.random() < self.p_far)

    def __call__(self, trial: object) -> float:
        """As an objective (``trial.lr``, ``trial.seed``); NaN means diverged."""
        return self.value(trial.lr, trial.seed)  # type: ignore[attr-defined]

    def sweep_arrays(self, xs: np.ndarray, seeds: range | list[int]) -> tuple[list, ...]:
        """(lrs, seeds, metrics, statuses) of a grid ``10**xs`` times ``seeds``."""
        lrs, ss, ms, st = [], [], [], []
        for s in seeds:
            for x in xs:
                v = self.value(10**x, s)
                lrs.append(10**x)
                ss.append(s)
                ms.append(v)
                st.append("ok" if math.isfinite(v) else "diverged")
        return lrs, ss, ms, st
