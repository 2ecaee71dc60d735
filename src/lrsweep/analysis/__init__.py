"""The optimum of a sweep: an estimate in log10(LR), an interval that says what it covers, a
near-optimal band, and edge / divergence flags. Pure numpy, no torch: it works on arrays of
(lr, seed, metric, status), so it serves every engine, the store and the CLI alike.

One concern a module:

- ``curve``: the table of metrics by LR and seed (turned so that higher is better), the
  seed-mean curve (an additive LR + seed-offset model where seeds are missing), and which
  LRs diverged. An LR where any seed diverged is never ranked; failed trials are ignored.
- ``fit``: a window around the best seed-mean point, grown towards the better neighbour
  until it holds ``min_points`` LRs (4), spans ``min_span`` decades (0.5) and its worst point
  lies clearly below the best (3 noise standard deviations of a mean), spanning at most
  ``max_span`` decades unless the noise needs more; a weighted quadratic in x over it; its
  vertex is the estimate. The span sets the window on any grid finer than 1/6 decade, so
  the estimate does not drift with the grid's spacing: a wider window moves the vertex of an
  asymmetric top out (5 rows on the 1/6-decade grid of a 20-trial search put teacher-mlp's
  0.13 octaves above its dense optimum; 4 rows, 0.085). Where the window is wider than half
  a decade and the seeds show that a half-decade window's vertex differs from it (a
  jackknife of the difference, ``interval.lopsided``), the top is lopsided and the narrower
  window's fit is the estimate.
- ``interval``: with several seeds, a delete-one-seed jackknife of the whole estimate with a
  Student-t factor, widened to the LRs outside the fit's window that the seeds do not show
  worse than the best (a paired t-test on the seeds each shares with the best: on a broad
  top another draw of seeds could put the optimum there, which the jackknife, refitting
  the same window, cannot see; ``Optimum.plausible``); with one seed, a residual bootstrap
  that describes that seed's curve only. Plus the grid's resolution, and
  what the data say for sure: the interval holds the best measured LR, never reaches an LR
  that diverged, and an end that reaches the range tried is open (None).
- ``band``: the LRs within ``band_tol`` of the best, following the fitted curve between
  coarse grid points.
- ``optimum``: the ``Optimum`` record, its summary and ``to_dict``.

Why seeds: the trials of one seed share the init and the data order, so one seed's curve is
smooth and its fit residual is near zero, while another seed's optimum lies a few tenths of
an octave to the side (several octaves on a noisy plateau). Only the spread across seeds
measures that. Calibration: ``benchmarks/search_quality.py``.
"""

from .curve import Curve, build_curve, seed_mean
from .estimate import (
           ESTIMATORS,
           METRIC_BOUNDS,
           estimate_optimum,
           metric_bounds,
           optimum_from_trials,
)
from .optimum import BASES, Optimum

__all__ = ["BASES", "ESTIMATORS", "METRIC_BOUNDS", "Curve", "Optimum", "build_curve",
           "estimate_optimum", "metric_bounds",
           "optimum_from_trials", "seed_mean"]
