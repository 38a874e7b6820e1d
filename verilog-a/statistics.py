"""Accuracy statistics shared by every stage (numpy and scipy only): a sample of a test set, and a sample of the
neurons' randomness on top of it.

* :func:`wilson_interval`: the 95 % Wilson score interval of ``k`` successes in ``n`` trials (as scipy's
  ``binomtest(...).proportion_ci(method="wilson")``); ``[nan, nan]`` for ``n = 0``; :func:`wilson_bounds` the same
  elementwise over an array of counts. The one Wilson interval of the project.
* :func:`accuracy_distribution`: an accuracy under stochastic firing, from a ``[samples, draws]`` table of
  correct decisions: the mean over samples and draws, the spread over draws (each draw's accuracy over the
  samples), and an interval for the expected accuracy over the test distribution *and* the draws. The interval
  is the Wilson interval of the samples with their draw-averaged correctness ``c_s`` as the success count
  (``k = sum_s c_s``, rounded to the nearest whole sample): conservative, since ``c_s`` in [0, 1] has at most
  the variance of a single Bernoulli outcome with the same mean, and it needs no resampling (the same at any
  draw count, and exact in the median mode, where ``c_s`` is 0 or 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def wilson_bounds(k: np.ndarray | int, n: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``k`` successes in ``n`` trials, elementwise over ``k`` (low, high); NaN when
    ``n = 0``. The closed form (no continuity correction), as scipy's ``binomtest(k, n).proportion_ci(
    method="wilson")`` computes it."""
    k_arr = np.asarray(k, dtype=float)
    if n <= 0:
        nan = np.full(k_arr.shape, math.nan)
        return nan, nan.copy()
    from scipy.stats import norm
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = k_arr / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> list[float]:
    """Wilson score interval ``[low, high]`` of ``k`` successes in ``n`` trials (``[nan, nan]`` when n = 0)."""
    low, high = wilson_bounds(int(k), int(n), confidence)
    return [float(low), float(high)]


def accuracy_distribution(correct: np.ndarray) -> dict[str, Any]:
    """The accuracy of a ``[samples, draws]`` table of correct (True) / wrong decisions (module docstring).

    Returns:
        ``mean`` (over samples and draws), ``per_draw`` (each draw's accuracy), ``std_over_draws`` (sample
        standard deviation of ``per_draw``; 0 for one draw), ``min``/``max`` over draws, ``ci95`` (interval of
        the expected accuracy), ``samples``, ``draws``, ``always_correct``/``never_correct`` (samples right in
        every draw / in none), and ``interval_method``.
    """
    c = np.asarray(correct, dtype=bool)
    if c.ndim != 2:
        raise ValueError(f"correct must be [samples, draws], got shape {c.shape}")
    n, d = c.shape
    per_draw = c.mean(axis=0) if n else np.full(d, math.nan)
    per_sample = c.mean(axis=1)
    return {
        "mean": float(c.mean()) if c.size else math.nan,
        "per_draw": [float(v) for v in per_draw],
        "std_over_draws": float(np.std(per_draw, ddof=1)) if d > 1 else 0.0,
        "min": float(per_draw.min()) if d else math.nan,
        "max": float(per_draw.max()) if d else math.nan,
        "ci95": wilson_interval(int(round(float(per_sample.sum()))), n),
        "samples": int(n), "draws": int(d),
        "always_correct": int((per_sample == 1.0).sum()), "never_correct": int((per_sample == 0.0).sum()),
        "interval_method": "Wilson 95 % over samples, each counted by its draw-averaged correctness (conservative)",
    }
