"""Energy from simulated waveforms: ``E = integral of v(t) i(t) dt``, in total and per inference step.

Pure numpy (no simulator, no torch): the functions take the time axis and the vectors of a
transient. A power given as a product ``v i`` (:func:`product_energy_per_step_j`) is integrated exactly for
``v`` and ``i`` linear between time points: in a resistive network driven by piecewise-linear sources every
voltage and current is linear between the simulator's points (the stimulus' corners are breakpoints), so the
energy is exact there however far apart the points are; elsewhere it is second order. A single power vector
(:func:`energy_per_step_j`) is integrated by the trapezoidal rule.

Sign convention (SPICE): the branch current ``i(V)`` of a voltage source flows from its ``+`` node
through the source to its ``-`` node, so a source delivers the power ``p = -v i`` (``v`` the voltage
of its ``+`` node over its ``-`` node). A two-terminal element with voltage ``v`` across it and
current ``i`` through it in the same direction absorbs ``p = v i``.
"""

from __future__ import annotations

import numpy as np


def cumulative_energy_j(time_s: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """Running integral of ``power_w`` over ``time_s`` (trapezoid), starting at 0 J.

    Args:
        time_s: strictly increasing time points, s, shape ``[N]``.
        power_w: power at those points, W, shape ``[..., N]``.

    Returns:
        Energy in J, shape ``[..., N]``.
    """
    time_s = np.asarray(time_s, dtype=float)
    power_w = np.asarray(power_w, dtype=float)
    if time_s.ndim != 1 or power_w.shape[-1] != time_s.size:
        raise ValueError(f"power ({power_w.shape}) must end in the length of the time axis ({time_s.shape})")
    steps = 0.5 * (power_w[..., 1:] + power_w[..., :-1]) * np.diff(time_s)
    return np.concatenate([np.zeros(power_w.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1)


def energy_j(time_s: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """Total energy of ``power_w`` over the transient, J (shape ``power_w.shape[:-1]``)."""
    return cumulative_energy_j(time_s, power_w)[..., -1]


def cumulative_product_energy_j(time_s: np.ndarray, v: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Running integral of ``v i`` with both linear between time points (exact then), starting at 0 J:
    per interval ``h (v0 i0 / 3 + (v0 i1 + v1 i0) / 6 + v1 i1 / 3)``. Shapes as :func:`cumulative_energy_j`."""
    time_s = np.asarray(time_s, dtype=float)
    v, i = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(i, dtype=float))
    if time_s.ndim != 1 or v.shape[-1] != time_s.size:
        raise ValueError(f"the signals ({v.shape}) must end in the length of the time axis ({time_s.shape})")
    v0, v1, i0, i1 = v[..., :-1], v[..., 1:], i[..., :-1], i[..., 1:]
    steps = np.diff(time_s) * (v0 * i0 / 3.0 + (v0 * i1 + v1 * i0) / 6.0 + v1 * i1 / 3.0)
    return np.concatenate([np.zeros(v.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1)


def energy_per_step_j(time_s: np.ndarray, power_w: np.ndarray, t_step_s: float, n_steps: int) -> np.ndarray:
    """Energy of ``power_w`` in each inference step ``[s t_step, (s + 1) t_step]``, J.

    The running integral is read at the step boundaries (linear between time points), so the
    steps add up to :func:`energy_j` over ``[0, n_steps t_step]`` exactly.

    Returns:
        Shape ``[n_steps] + power_w.shape[:-1]`` (step first).
    """
    return _per_step(time_s, cumulative_energy_j(time_s, power_w), t_step_s, n_steps)


def product_energy_per_step_j(time_s: np.ndarray, v: np.ndarray, i: np.ndarray, t_step_s: float,
                              n_steps: int) -> np.ndarray:
    """Energy of the power ``v i`` in each inference step, J (:func:`cumulative_product_energy_j`; shapes as
    :func:`energy_per_step_j`)."""
    return _per_step(time_s, cumulative_product_energy_j(time_s, v, i), t_step_s, n_steps)


def _per_step(time_s: np.ndarray, cum: np.ndarray, t_step_s: float, n_steps: int) -> np.ndarray:
    edges = np.arange(n_steps + 1) * float(t_step_s)
    flat = cum.reshape(-1, cum.shape[-1])
    at = np.stack([np.interp(edges, time_s, c) for c in flat]) if flat.size else np.zeros((0, n_steps + 1))
    per = np.diff(at, axis=1).T                       # [n_steps, k]
    return per.reshape((n_steps,) + cum.shape[:-1])


def source_power_w(v_plus_v: np.ndarray, i_branch_a: np.ndarray) -> np.ndarray:
    """Power delivered by a voltage source (``-v i`` with SPICE's branch-current direction), W."""
    return -np.asarray(v_plus_v, dtype=float) * np.asarray(i_branch_a, dtype=float)
