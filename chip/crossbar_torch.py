"""The mapped crossbar in PyTorch: the same conductances ``export`` writes, and the exact column currents of
every tile with its wires, differentiable with respect to the weights (the first piece of hardware-aware
training, issue 16).

**Conductances** (:func:`conductances_torch`): the differential mapping of
:mod:`~ipnet_cosim.netlist_gen.conductance` written with torch operations in the same order, so that in
float64 the forward values equal :func:`~ipnet_cosim.netlist_gen.conductance.map_weights` (tested to
round-off). Quantization to ``levels`` uses a straight-through estimator: the forward pass rounds each
device to its level, the backward pass treats the rounding as the identity. Device variation multiplies by
a factor that is either the exported chip's (``variation_factors``: the same seeded draw as ``map_weights``)
or any other draw (another chip, or a fresh one per mini-batch), both from
:func:`~ipnet_cosim.netlist_gen.conductance.variation_factors`. Clipping to ``[G_min, G_max]`` passes no
gradient outside the range. With bit slicing (``slices = S``) the code ``q`` is rounded straight-through and
split into its base-``levels`` digits; each digit ``d_s`` passes the gradient ``dq / (S L^s)`` back, so the
slice-weighted sum ``sum_s L^s d_s`` passes ``dq`` (each slice carries an equal share).

**Tile currents** (:func:`tile_row_col_s`): a tile's row sources are ideal and its columns end in 0 V sense
sources, so every column current is linear in the row voltages, ``I_c = sum_i A_ic V_i``, with ``A`` the
tile's port conductances (the same quantity :mod:`~ipnet_cosim.netlist_gen.reduction` writes into the
netlist). Without wires ``A = G / (1 + R_d sum_c G_ic)`` row by row. With wires ``A`` is computed exactly
by the column sweep of :mod:`~ipnet_cosim.netlist_gen.reduction` (its module docstring has the equations),
written in dense torch operations so that autograd differentiates it with respect to every cell (the
reduction is recomputed from the current conductances at every forward pass; nothing is approximated or
reused): every column wire is eliminated in closed form (its chain inverse is semiseparable), then the
row wires right to left, one ``R x R`` inversion per physical column, carrying the responses of the column
ends already passed.

Cost per tile of ``R`` rows and ``P`` physical columns: ``P`` dense ``R x R`` inversions and
``O(P R^3 + P^2 R^2)`` flops forward, about three times that backward (autograd); tiles of equal shape (the
positions of a convolution, each with its own variation) go through as one batch. Against a sparse LU of the
whole ladder the result agrees to ~1e-13 relative per element for wires of 0.01-1e4 ohm; it degrades as
``R_d / R_w`` grows (2e-10 at 4e6, 2e-7 at 1e10), where the ladder itself is ill-conditioned
(tests/test_reduction.py).
"""

from __future__ import annotations

import numpy as np
import torch

from ipnet_cosim.netlist_gen.conductance import (ConductanceOptions, variation_factors,  # noqa: F401 (re-exported)
                                                 variation_offsets_s)


# -- conductances ------------------------------------------------------------------------------------

class _RoundSTE(torch.autograd.Function):
    """Round to the nearest integer; the backward pass is the identity (straight-through)."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def _slice_digits_ste(q: torch.Tensor, levels: int, slices: int) -> torch.Tensor:
    """Base-``levels`` digits of the integer-valued codes ``q`` ``[..., rows, cols]`` as ``[..., rows, cols S]``
    (slice column ``j S + s`` = digit ``s`` of column ``j``, as :func:`~ipnet_cosim.netlist_gen.conductance.
    slice_digits`); digit ``s`` passes the gradient ``1 / (S L^s)`` (module docstring)."""
    qd = q.detach()
    digits = [torch.remainder(torch.div(qd, levels ** s, rounding_mode="floor"), levels)
              + (q - qd) / (slices * levels ** s) for s in range(slices)]
    return torch.stack(digits, dim=-1).reshape(*q.shape[:-1], -1)


def conductances_torch(weights: torch.Tensor, options: ConductanceOptions,
                       factors: np.ndarray | torch.Tensor | None = None,
                       offsets_s: np.ndarray | torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(g_plus_s, g_minus_s, k_s)`` of ``weights`` [rows, cols] as export maps them (module docstring; cells of
    ``options.copies`` parallel devices as :func:`~ipnet_cosim.netlist_gen.conductance.map_weights` sums them);
    ``factors`` ``[..., 2, rows, cols S]`` (``[..., 2, rows, cols S, copies]`` with parallel devices) from
    :func:`variation_factors` and ``offsets_s`` (same shape, S) from
    :func:`variation_offsets_s` (None: none; leading dimensions, e.g. one chip draw per convolution
    position, give conductances ``[..., rows, cols S]``; ``S`` = ``options.slices``, 1 without slicing)."""
    o = options
    full = o.code_span_s                                              # as map_weights
    w_max = weights.abs().max()
    span_t = torch.as_tensor(full, dtype=weights.dtype)
    # tensor / tensor: one rounding, as numpy's span / w_max (a Python float / tensor is span * (1 / w_max),
    # which overflows to inf for a subnormal w_max where the quotient itself is finite)
    k = span_t / w_max if float(w_max.detach()) > 0 else span_t
    if not bool(torch.isfinite(k)):   # a subnormal largest weight: numerically zero, as map_weights treats it
        k, weights = span_t, weights * 0.0
    dev_plus = k * torch.clamp(weights, min=0.0)
    dev_minus = k * torch.clamp(-weights, min=0.0)
    if o.levels is not None:
        step = (o.g_max_s - o.g_min_s) / (o.levels - 1)
        if o.slices > 1:
            dev_plus = _slice_digits_ste(_RoundSTE.apply(dev_plus / step), o.levels, o.slices) * step
            dev_minus = _slice_digits_ste(_RoundSTE.apply(dev_minus / step), o.levels, o.slices) * step
        else:
            dev_plus = _RoundSTE.apply(dev_plus / step) * step
            dev_minus = _RoundSTE.apply(dev_minus / step) * step
    g_plus = o.g_min_s + dev_plus
    g_minus = o.g_min_s + dev_minus
    c = o.copies
    if c > 1:                                  # a trailing axis of the cell's parallel devices, as map_weights
        g_plus = g_plus.unsqueeze(-1).expand(*g_plus.shape, c)
        g_minus = g_minus.unsqueeze(-1).expand(*g_minus.shape, c)
    sign = (slice(None),) * (2 + (c > 1))      # the sign axis sits before the rows (and the devices' axis)
    if factors is not None:
        f = torch.as_tensor(factors, dtype=weights.dtype)
        g_plus = g_plus * f[(..., 0) + sign]
        g_minus = g_minus * f[(..., 1) + sign]
    if offsets_s is not None:
        off = torch.as_tensor(offsets_s, dtype=weights.dtype)
        g_plus = g_plus + off[(..., 0) + sign]
        g_minus = g_minus + off[(..., 1) + sign]
    g_plus, g_minus = torch.clamp(g_plus, o.g_min_s, o.g_max_s), torch.clamp(g_minus, o.g_min_s, o.g_max_s)
    if c > 1:
        return g_plus.sum(dim=-1), g_minus.sum(dim=-1), k * c
    return g_plus, g_minus, k


# -- exact tile port conductances ---------------------------------------------------------------------

def interleave(g_plus: torch.Tensor, g_minus: torch.Tensor) -> torch.Tensor:
    """Physical columns in netlist order: G+ of weight column j at 2j, G- at 2j + 1."""
    return torch.stack([g_plus, g_minus], dim=-1).reshape(*g_plus.shape[:-1], -1)


def wired_row_col(g_cells: torch.Tensor, r_wire_ohm: float, r_driver_ohm: float) -> torch.Tensor:
    """Row-to-column port conductances ``[..., R, P]`` of tiles with wire segments (module docstring): the
    column sweep for tiles at most as tall as wide, the row sweep for taller ones (fewer flops each way)."""
    if g_cells.shape[-2] > g_cells.shape[-1]:
        return row_sweep(g_cells, r_wire_ohm, r_driver_ohm)
    return _column_sweep(g_cells, r_wire_ohm, r_driver_ohm)


def _spd_inverse(x: torch.Tensor) -> torch.Tensor:
    """The inverse of symmetric positive definite matrices through their Cholesky factor (no pivoting)."""
    return torch.cholesky_inverse(torch.linalg.cholesky(x))


def _column_sweep(g_cells: torch.Tensor, r_wire_ohm: float, r_driver_ohm: float) -> torch.Tensor:
    """The column sweep of :func:`~ipnet_cosim.netlist_gen.reduction.port_conductances` in torch operations
    (differentiable)."""
    g_w = 1.0 / r_wire_ohm
    g_row = 1.0 / (r_wire_ohm + r_driver_ohm)
    n_rows, n_phys = g_cells.shape[-2:]
    dt = g_cells.dtype
    gc = g_cells.transpose(-1, -2)                                     # [..., P, R]: column wires
    d = gc + g_w * (1.0 + (torch.arange(n_rows) > 0).to(dt))
    alphas = [d[..., 0]]
    for i in range(1, n_rows):
        alphas.append(d[..., i] - g_w * g_w / alphas[-1])
    betas = [d[..., -1]]
    for i in range(n_rows - 2, -1, -1):
        betas.append(d[..., i] - g_w * g_w / betas[-1])
    alpha = torch.stack(alphas, dim=-1)
    beta = torch.stack(betas[::-1], dim=-1)
    diag_inv = 1.0 / (alpha + beta - d)                                  # (T_c^-1)_ii
    lcum = torch.cat([torch.zeros_like(d[..., :1]), torch.cumsum(torch.log(g_w / alpha[..., :-1]), dim=-1)], dim=-1)
    s = g_w * gc * diag_inv[..., -1:] * torch.exp(lcum[..., -1:] - lcum)  # column-end couplings [..., P, R]
    far = torch.maximum(torch.arange(n_rows)[:, None], torch.arange(n_rows)[None, :])
    t_inv = diag_inv[..., far] * torch.exp(-torch.abs(lcum[..., :, None] - lcum[..., None, :]))
    chain = g_w * ((torch.arange(n_phys) > 0).to(dt) + (torch.arange(n_phys) < n_phys - 1).to(dt))
    chain[0] += g_row
    # unbind, not indexing: the backward of an index into the [..., P, R, R] tensor writes a full-size zero
    # tensor per column (measured: 13x the forward time on a 128 x 128 tile)
    k = (torch.diag_embed(gc + chain[:, None]) - gc[..., :, None] * gc[..., None, :] * t_inv).unbind(-3)
    cols = (s / g_w).unsqueeze(-1).unbind(-3)
    z = f_scaled = None
    for c in range(n_phys - 1, -1, -1):
        e = k[c] if f_scaled is None else k[c] - g_w * f_scaled
        f_scaled = g_w * _spd_inverse(e)
        z = f_scaled @ (cols[c] if z is None else torch.cat([cols[c], z], dim=-1))
    assert z is not None                                               # (a tile has at least one column)
    return g_row * z


def row_sweep(g_cells: torch.Tensor, r_wire_ohm: float, r_driver_ohm: float) -> torch.Tensor:
    """The same port conductances as :func:`_column_sweep`, eliminating one row wire at a time (``R`` inversions
    of ``P x P``): the cheaper order for tiles taller than they are wide (module docstring)."""
    g_w = 1.0 / r_wire_ohm
    g_row = 1.0 / (r_wire_ohm + r_driver_ohm)
    n_rows, n_phys = g_cells.shape[-2:]
    dt = g_cells.dtype
    chain = torch.zeros(n_phys, n_phys, dtype=dt)                  # row wire: open at its far end
    idx = torch.arange(n_phys - 1)
    chain[idx, idx + 1] = -g_w
    chain[idx + 1, idx] = -g_w
    chain[idx, idx] += g_w
    chain[idx + 1, idx + 1] += g_w
    chain[0, 0] += g_row
    cells = torch.diag_embed(g_cells)
    t_inv = _spd_inverse(chain + cells)                           # [..., R, C, C]
    y_rows = cells - g_cells.unsqueeze(-1) * t_inv * g_cells.unsqueeze(-2)
    n_rows_src = g_row * g_cells * t_inv[..., :, 0]                   # [..., R, C]
    eye = g_w * torch.eye(n_phys, dtype=dt)
    y = n = None
    for i in range(n_rows):
        y_tot = y_rows[..., i, :, :] if y is None else y + y_rows[..., i, :, :]
        col = n_rows_src[..., i, :].unsqueeze(-1)
        n_tot = col if n is None else torch.cat([n, col], dim=-1)
        step = g_w * _spd_inverse(y_tot + eye)
        n, y = step @ n_tot, step @ y_tot
    assert n is not None                                               # (a tile has at least one row)
    return n.transpose(-1, -2)


def tile_row_col_s(g_plus_s: torch.Tensor, g_minus_s: torch.Tensor, r_wire_ohm: float = 0.0,
                   r_driver_ohm: float = 0.0) -> torch.Tensor:
    """The exact row-to-column port conductances ``A`` ``[..., rows, 2 cols]`` (S, physical columns in netlist
    order) of tiles ``[..., rows, cols]`` with their wires and driver resistance, differentiable in both
    conductance matrices."""
    g_cells = interleave(g_plus_s, g_minus_s)
    if r_wire_ohm > 0:
        return wired_row_col(g_cells, float(r_wire_ohm), float(r_driver_ohm))
    if r_driver_ohm > 0:                 # each row: its driver in series with the parallel cells
        return g_cells / (1.0 + r_driver_ohm * g_cells.sum(dim=-1, keepdim=True))
    return g_cells


def column_currents_a(row_levels_v: torch.Tensor, row_col_s: torch.Tensor) -> torch.Tensor:
    """Differential column currents ``I+ - I-`` per weight column ``[..., cols]`` (A) for row voltages
    ``[..., rows]``: what the sense sources of one tile carry into the mirrors."""
    phys = row_levels_v @ row_col_s
    return phys[..., 0::2] - phys[..., 1::2]
