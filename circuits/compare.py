"""Comparing simulated waveforms from different simulators or circuit models.

A thermal MTJ neuron switches within femtoseconds once its hazard crosses the threshold
(``fire_width = 0.001`` in ln H): its input voltage ``v(a)`` jumps by ~40 % as the resistance goes from
R_P to R_AP. Two correct integrators (ngspice and VACASK, or one at two tolerances) place that
instant a few femtoseconds apart, and a pointwise comparison then reports the whole jump as the
error (measured: 2.6 % of peak at reltol 1e-4 and 11 % at 1e-5, for switching instants 5 and 7 fs
apart). :func:`waveform_error` therefore offers, besides the pointwise error, the error within a
time tolerance: the largest distance from each point of one waveform to the other waveform
anywhere within ``+-time_tol_s`` (a "tube" comparison), in both directions. :func:`crossing_times_s`
gives the switching instants themselves, so their differences can be reported separately.
"""

from __future__ import annotations

import numpy as np


def _one_way(t_ref: np.ndarray, y_ref: np.ndarray, t: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """For every reference point, its distance to the range of ``y`` over ``[t_ref - tol, t_ref + tol]``."""
    lo_v = np.interp(t_ref - tol, t, y)
    hi_v = np.interp(t_ref + tol, t, y)
    y_min = np.minimum(lo_v, hi_v)
    y_max = np.maximum(lo_v, hi_v)
    if tol > 0:
        lo = np.searchsorted(t, t_ref - tol, side="right")
        hi = np.searchsorted(t, t_ref + tol, side="left")
        inner = hi > lo                                   # time points strictly inside the window
        if np.any(inner):
            # reduceat over interleaved [lo, hi) pairs: the even results reduce y[lo:hi] (y padded so that
            # hi = len(y) is a valid index); pairs without inner points are masked out below
            padded = np.append(y, y[-1])
            idx = np.empty(2 * t_ref.size, dtype=np.int64)
            idx[0::2], idx[1::2] = lo, hi
            mins = np.minimum.reduceat(padded, idx)[0::2]
            maxs = np.maximum.reduceat(padded, idx)[0::2]
            y_min = np.where(inner, np.minimum(y_min, mins), y_min)
            y_max = np.where(inner, np.maximum(y_max, maxs), y_max)
    return np.maximum(0.0, np.maximum(y_min - y_ref, y_ref - y_max))


def waveform_error(t_ref_s: np.ndarray, y_ref: np.ndarray, t_s: np.ndarray, y: np.ndarray,
                   time_tol_s: float = 0.0) -> float:
    """Largest deviation between two waveforms relative to the reference's peak ``max |y_ref|``.

    With ``time_tol_s = 0`` the pointwise error (``y`` interpolated at the reference's time points,
    and the reverse); with ``time_tol_s > 0`` each point may be matched anywhere within
    ``+-time_tol_s`` on the other waveform (both waveforms piecewise linear between their points).
    """
    t_ref_s, y_ref = np.asarray(t_ref_s, float), np.asarray(y_ref, float)
    t_s, y = np.asarray(t_s, float), np.asarray(y, float)
    peak = float(np.max(np.abs(y_ref))) if y_ref.size else 0.0
    if peak == 0.0:
        peak = 1.0
    err = max(float(_one_way(t_ref_s, y_ref, t_s, y, time_tol_s).max(initial=0.0)),
              float(_one_way(t_s, y, t_ref_s, y_ref, time_tol_s).max(initial=0.0)))
    return err / peak


def crossing_times_s(t_s: np.ndarray, y: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Times at which ``y`` rises through ``level`` (linear between points), s."""
    t_s, y = np.asarray(t_s, float), np.asarray(y, float)
    k = np.flatnonzero((y[:-1] < level) & (y[1:] >= level))
    return t_s[k] + (level - y[k]) * (t_s[k + 1] - t_s[k]) / (y[k + 1] - y[k])
