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
gradient outside the range.

**Tile currents** (:func:`tile_row_col_s`): a tile's row sources are ideal and its columns end in 0 V sense
sources, so every column current is linear in the row voltages, ``I_c = sum_i A_ic V_i``, with ``A`` the
tile's port conductances (:mod:`~ipnet_cosim.netlist_gen.reduction`). Without wires ``A = G / (1 + R_d
sum_c G_ic)`` row by row (torch operations). With wires ``A`` is the Schur complement of the tile's
Laplacian ``L`` (cells ``G_ic`` between row-wire node ``w_ic`` and column-wire node ``q_ic``):

    A_ac = g_a g_c (L^-1)[n_a, n_c]

(``n_a``, ``n_c`` the internal nodes next to row port ``a`` and column port ``c``; ``g_a``, ``g_c`` the
conductances that connect them). The forward pass is one sparse LU of ``L`` and one solve per port
(:func:`~ipnet_cosim.netlist_gen.reduction.reduce_tile`'s algorithm, without its rounding). The backward
pass is the adjoint: ``L`` depends on a cell's conductance through ``e e^T`` (``e = e_w - e_q``), so with
``U = L^-1 [:, ports]`` and ``D_ic = U[w_ic] - U[q_ic]``

    dA_ac / dG_ij = - g_a g_c D_ij,a D_ij,c

and the gradient of a loss with upstream ``W = dLoss/dA`` is ``-sum_ac W_ac (g D)_ij,a (g D)_ij,c``: no
further solve, ``U`` is kept from the forward pass. Cost per tile: the LU and ``P`` solves (``P`` = rows + 2
columns) forward, ``O(cells x rows x columns)`` backward; ``U`` takes ``8 x 2 rows columns x P`` bytes
(26 MB for a 64 x 64-weight tile, ~200 MB for 128 x 128: reduce tiles or the batch accordingly).
"""

from __future__ import annotations

import numpy as np
import torch

from ipnet_cosim.netlist_gen.conductance import ConductanceOptions, variation_factors  # noqa: F401 (re-exported)


# -- conductances ------------------------------------------------------------------------------------

class _RoundSTE(torch.autograd.Function):
    """Round to the nearest integer; the backward pass is the identity (straight-through)."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def conductances_torch(weights: torch.Tensor, options: ConductanceOptions,
                       factors: np.ndarray | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(g_plus_s, g_minus_s, k_s)`` of ``weights`` [rows, cols] as export maps them (module docstring);
    ``factors`` from :func:`variation_factors` (None: no variation)."""
    o = options
    span = o.g_max_s - o.g_min_s
    w_max = weights.abs().max()
    k = span / w_max if float(w_max.detach()) > 0 else torch.as_tensor(span, dtype=weights.dtype)
    dev_plus = k * torch.clamp(weights, min=0.0)
    dev_minus = k * torch.clamp(-weights, min=0.0)
    if o.levels is not None:
        step = span / (o.levels - 1)
        dev_plus = _RoundSTE.apply(dev_plus / step) * step
        dev_minus = _RoundSTE.apply(dev_minus / step) * step
    g_plus = o.g_min_s + dev_plus
    g_minus = o.g_min_s + dev_minus
    if factors is not None:
        f = torch.as_tensor(factors, dtype=weights.dtype)
        g_plus = g_plus * f[0]
        g_minus = g_minus * f[1]
    return torch.clamp(g_plus, o.g_min_s, o.g_max_s), torch.clamp(g_minus, o.g_min_s, o.g_max_s), k


# -- exact tile port conductances ---------------------------------------------------------------------

def _interleave(g_plus: torch.Tensor, g_minus: torch.Tensor) -> torch.Tensor:
    """Physical columns in netlist order: G+ of weight column j at 2j, G- at 2j + 1."""
    return torch.stack([g_plus, g_minus], dim=-1).reshape(g_plus.shape[0], -1)


def _laplacian(g_cells: np.ndarray, r_wire_ohm: float, r_driver_ohm: float):
    """The internal Laplacian of the ladder (as :func:`~ipnet_cosim.netlist_gen.reduction.reduce_tile`), the
    port-adjacent nodes, the ports' conductances and the cell node indices."""
    import scipy.sparse as sp
    n_rows, n_phys = g_cells.shape
    g_w = 1.0 / r_wire_ohm
    w = np.arange(n_rows * n_phys).reshape(n_rows, n_phys)
    q = n_rows * n_phys + np.arange(n_phys * n_rows).reshape(n_phys, n_rows)
    n_int = 2 * n_rows * n_phys
    d = None
    if r_driver_ohm > 0:
        d = n_int + np.arange(n_rows)
        n_int += n_rows
    pairs = [(w[:, :-1], w[:, 1:], g_w), (w, q.T, g_cells), (q[:, :-1], q[:, 1:], g_w)]
    if d is not None:
        pairs.append((d, w[:, 0], g_w))
    a = np.concatenate([np.ravel(x) for x, _, _ in pairs])
    b = np.concatenate([np.ravel(y) for _, y, _ in pairs])
    g = np.concatenate([np.broadcast_to(v, np.shape(x)).ravel() for x, _, v in pairs])
    row_adj, g_row = (d, 1.0 / r_driver_ohm) if d is not None else (w[:, 0], g_w)
    col_adj = q[:, -1]
    diag = np.bincount(a, g, n_int) + np.bincount(b, g, n_int)
    diag += np.bincount(row_adj, np.full(n_rows, g_row), n_int) + np.bincount(col_adj, np.full(n_phys, g_w), n_int)
    lap = sp.coo_matrix((np.concatenate([-g, -g, diag]),
                         (np.concatenate([a, b, np.arange(n_int)]), np.concatenate([b, a, np.arange(n_int)]))),
                        shape=(n_int, n_int)).tocsc()
    adj = np.concatenate([row_adj, col_adj])
    g_port = np.concatenate([np.full(n_rows, g_row), np.full(n_phys, g_w)])
    return lap, adj, g_port, w, q.T


class _WiredTile(torch.autograd.Function):
    """Row-to-column port conductances of a tile with wire segments (module docstring: forward and adjoint)."""

    @staticmethod
    def forward(ctx, g_cells, r_wire_ohm, r_driver_ohm):
        from scipy.sparse.linalg import splu
        gc = g_cells.detach().cpu().numpy().astype(np.float64)
        n_rows, n_phys = gc.shape
        lap, adj, g_port, w_idx, q_idx = _laplacian(gc, r_wire_ohm, r_driver_ohm)
        rhs = np.zeros((lap.shape[0], adj.size))
        rhs[adj, np.arange(adj.size)] = 1.0
        u = splu(lap, permc_spec="MMD_AT_PLUS_A").solve(rhs)         # L^-1 [:, ports]
        inv = u[adj]
        row_col = g_port[:n_rows, None] * g_port[None, n_rows:] * 0.5 * (inv[:n_rows, n_rows:] + inv[n_rows:, :n_rows].T)
        ctx.save_for_backward(g_cells)
        ctx.u, ctx.g_port, ctx.w_idx, ctx.q_idx, ctx.n_rows = u, g_port, w_idx, q_idx, n_rows
        return torch.as_tensor(row_col, dtype=g_cells.dtype, device=g_cells.device)

    @staticmethod
    def backward(ctx, grad_out):
        n_rows = ctx.n_rows
        gp = ctx.g_port
        upstream = grad_out.detach().cpu().numpy().astype(np.float64)          # dLoss/dA [rows, phys]
        # D[i, c, :] = U[w_ic] - U[q_ic], weighted by the port conductances
        d = (ctx.u[ctx.w_idx] - ctx.u[ctx.q_idx]) * gp                         # [rows, phys, P]
        d_row, d_col = d[..., :n_rows], d[..., n_rows:]
        grad = -np.einsum("ijr,rc,ijc->ij", d_row, upstream, d_col, optimize=True)
        (g_cells,) = ctx.saved_tensors
        return torch.as_tensor(grad, dtype=g_cells.dtype, device=g_cells.device), None, None


def tile_row_col_s(g_plus_s: torch.Tensor, g_minus_s: torch.Tensor, r_wire_ohm: float = 0.0,
                   r_driver_ohm: float = 0.0) -> torch.Tensor:
    """The exact row-to-column port conductances ``A`` ``[rows, 2 cols]`` (S, physical columns in netlist
    order) of one tile with its wires and driver resistance, differentiable in both conductance matrices."""
    g_cells = _interleave(g_plus_s, g_minus_s)
    if r_wire_ohm > 0:
        return _WiredTile.apply(g_cells, float(r_wire_ohm), float(r_driver_ohm))
    if r_driver_ohm > 0:                 # each row: its driver in series with the parallel cells
        return g_cells / (1.0 + r_driver_ohm * g_cells.sum(dim=1, keepdim=True))
    return g_cells


def column_currents_a(row_levels_v: torch.Tensor, row_col_s: torch.Tensor) -> torch.Tensor:
    """Differential column currents ``I+ - I-`` per weight column ``[..., cols]`` (A) for row voltages
    ``[..., rows]``: what the sense sources of one tile carry into the mirrors."""
    phys = row_levels_v @ row_col_s
    return phys[..., 0::2] - phys[..., 1::2]
