"""Exact port reduction of a crossbar tile's resistive network (wire segments, cells, driver resistance).

A tile with wire segments is a linear resistor network between two kinds of ports:

* the **row sources**: the ideal row drivers (with ``r_driver_ohm`` folded into the network, the port
  is the source's own node; without it, the tile's row end);
* the **column ends**: every physical column ends in a 0 V sense source (virtual ground).

Eliminating every internal node is a Schur complement of the network's Laplacian ``L``: the port
admittance ``Y = L_PP - L_PI L_II^-1 L_IP``, written back as resistors, one per port pair with
conductance ``-Y_ab >= 0``. Every port connects to the network through exactly one resistor ``g_a`` to
an internal node ``n_a``, so ``G_ab = -Y_ab = g_a g_b (L_II^-1)[n_a, n_b]``. Column-to-column couplings
are dropped (both ends are held at 0 V, so they carry no current); row-to-row couplings are kept (they
are part of the drivers' currents, i.e. the energy).

**The column sweep** (how ``L_II^-1`` is evaluated; exact, no iteration). Name the nodes of the
ladder ``w[i, c]`` (row wire ``i`` at physical column ``c``, ``P`` columns, ``R`` rows) and ``q[c, i]``
(column wire ``c`` at row ``i``); a cell ``g[i, c]`` joins ``w[i, c]`` and ``q[c, i]``, segments of
conductance ``g_w = 1 / r_wire`` join neighbours along each wire, the column end ``q[c, R-1]`` reaches
its 0 V sense source through one more segment, and row ``i``'s source reaches ``w[i, 0]`` through
``g_row = 1 / (r_wire + r_driver)`` (the driver resistance and the first segment in series).

1. *Column wires.* With every column end at 0 V, column ``c`` is a tridiagonal chain ``T_c`` (diagonal
   ``g[i, c] + g_w (1 + [i > 0])``, off-diagonal ``-g_w``) driven through its cells by ``w[:, c]``.
   Eliminating it leaves on ``w[:, c]`` the dense block ``S_c = diag(g_c) - g_c g_c^T o T_c^-1`` and the
   column current ``s_c^T w[:, c]`` with ``s_c = g_w g_c o T_c^-1[:, R-1]``. ``T_c^-1`` is semiseparable:
   with the forward pivots ``alpha_i = d_i - g_w^2 / alpha_(i-1)`` and backward pivots ``beta_i``,
   ``(T^-1)_ii = 1 / (alpha_i + beta_i - d_i)`` and ``(T^-1)_ij = (T^-1)_jj prod_(k=i)^(j-1) g_w / alpha_k``
   for ``i < j``: ``O(R^2)`` per column, no factorisation.
2. *Row wires.* What remains is block-tridiagonal in ``c``: diagonal blocks
   ``K_c = S_c + (g_w [c > 0] + g_w [c < P-1] + g_row [c = 0]) I``, off-diagonal blocks ``-g_w I``. The
   Schur complements from the right, ``E_(P-1) = K_(P-1)``, ``E_c = K_c - g_w^2 E_(c+1)^-1``, give
   ``(L_II^-1)`` on ``w[:, 0]`` as ``E_0^-1``, and the response of ``w[:, 0]`` to a column end as the
   product ``g_w^c E_0^-1 E_1^-1 ... E_c^-1 s_c``. One right-to-left pass keeps these vectors for every
   column already passed and multiplies them by ``g_w E_c^-1`` at each step:
   ``A[:, c] = g_row g_w^c E_0^-1 ... E_c^-1 s_c`` (row source to column end) and
   ``G_ab = g_row^2 (E_0^-1)_ab`` (row to row).

Cost: ``P`` factorisations and ``P`` products of ``R x R`` by ``R x (P - c)`` matrices, ``O(P R^3 + P^2 R^2)``
flops and ``O(R (R + P))`` memory; the sparse LU of the whole ladder it replaces needed one solve per port.
The result is exact for the ports' currents (up to round-off, ~1e-13 relative against a sparse LU of the
full ladder), i.e. for the neuron input currents and the driver currents and therefore for the total
power delivered to the tile; how that power divides between wires and cells is no longer visible in the
reduced netlist. Couplings below ``DROP_RELATIVE`` of the tile's largest conductance are omitted (their
currents are below that fraction of the largest cell current; they also absorb round-off), and
conductances are rounded to ``DIGITS`` significant digits so that the netlist is byte-identical across
machines whose BLAS differs in the last bits. The full ladder stays available
(``MappingOptions(wire_model="ladder")``) to validate against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DROP_RELATIVE = 1e-12
DIGITS = 12       # significant digits kept: netlist text must not depend on the last bits of BLAS kernels
_OUTER_EXP_LIMIT = 600.0   # e^(+-L) as outer products while |L| stays below this (no overflow)


@dataclass(frozen=True)
class ReducedTile:
    """Port conductances of a reduced tile (siemens).

    ``row_col[i, c]``: between row source ``i`` and physical column ``c`` (``c = 2 j`` the G+
    column of weight column ``j``, ``2 j + 1`` its G- column); ``row_row``: ``(a, b, g)`` with
    ``a < b`` for every kept row-to-row coupling.
    """

    row_col: np.ndarray
    row_row: tuple[tuple[int, int, float], ...]


def reduce_tile(g_plus_s: np.ndarray, g_minus_s: np.ndarray, r_wire_ohm: float, r_driver_ohm: float = 0.0
                ) -> ReducedTile:
    """The exact port conductances of a tile with the ladder topology of
    :mod:`~ipnet_cosim.netlist_gen.mapping` (row wire driven from the left, one segment per cell; column
    wire sensed at the bottom, one segment below each cell) plus an optional driver resistance in front
    of every row (module docstring)."""
    if not r_wire_ohm > 0:
        raise ValueError("reduce_tile needs r_wire_ohm > 0 (without wire segments the cells are the ports' "
                         "conductances)")
    n_rows, n_cols = g_plus_s.shape
    g_cells = np.empty((n_rows, 2 * n_cols))
    g_cells[:, 0::2] = g_plus_s
    g_cells[:, 1::2] = g_minus_s
    row_col, row_row = port_conductances(g_cells, r_wire_ohm, r_driver_ohm)
    row_col = _round_significant(row_col, DIGITS)
    if not (np.all(np.isfinite(row_col)) and np.all(np.isfinite(row_row))) or row_col.min() <= 0:
        raise ArithmeticError(f"tile reduction failed: row-to-column conductances in [{row_col.min():g}, "
                              f"{row_col.max():g}] S (expected finite and > 0)")
    floor = DROP_RELATIVE * float(row_col.max())
    ia, ib = np.triu_indices(n_rows, 1)
    rr = _round_significant(row_row[ia, ib], DIGITS)
    keep = rr > floor
    return ReducedTile(row_col, tuple((int(x), int(y), float(v)) for x, y, v in zip(ia[keep], ib[keep], rr[keep])))


def port_conductances(g_cells: np.ndarray, r_wire_ohm: float, r_driver_ohm: float = 0.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Unrounded port conductances of one tile by the column sweep (module docstring).

    Args:
        g_cells: ``[R, P]`` cell conductances in netlist column order (S).
        r_wire_ohm: one wire segment (ohm, > 0).
        r_driver_ohm: each row driver's series resistance (ohm, >= 0).

    Returns:
        ``row_col`` ``[R, P]`` (S) and ``row_row`` ``[R, R]`` (S, symmetric; its diagonal is meaningless).
    """
    n_rows, n_phys = g_cells.shape
    if not (np.all(np.isfinite(g_cells)) and np.all(g_cells >= 0)):
        raise ArithmeticError(f"tile reduction failed: cell conductances must be finite and >= 0 S (have "
                              f"[{np.nanmin(g_cells):g}, {np.nanmax(g_cells):g}] S)")
    g_w = 1.0 / r_wire_ohm
    g_row = 1.0 / (r_wire_ohm + r_driver_ohm)
    gc = np.ascontiguousarray(g_cells.T)                       # [P, R]: column wires
    d = gc + g_w * (1.0 + (np.arange(n_rows) > 0))             # T_c's diagonal
    alpha = np.empty_like(d)
    beta = np.empty_like(d)
    alpha[:, 0] = d[:, 0]
    for i in range(1, n_rows):
        alpha[:, i] = d[:, i] - g_w * g_w / alpha[:, i - 1]
    beta[:, -1] = d[:, -1]
    for i in range(n_rows - 2, -1, -1):
        beta[:, i] = d[:, i] - g_w * g_w / beta[:, i + 1]
    diag_inv = 1.0 / (alpha + beta - d)                         # (T_c^-1)_ii
    lcum = np.zeros_like(d)                                     # sum_(k<i) ln(g_w / alpha_k) <= 0, decreasing in i
    np.cumsum(np.log(g_w / alpha[:, :-1]), axis=1, out=lcum[:, 1:])
    s = g_w * gc * diag_inv[:, -1:] * np.exp(lcum[:, -1:] - lcum)  # [P, R]: column-end couplings s_c
    # g_c g_c^T o T_c^-1, upper triangle (i <= j): (g_i e^-L_i) (g_j e^L_j (T^-1)_jj); e^+-L stay finite
    # unless the chain is extremely lossy, then the exponent of the difference is taken entry by entry
    outer_ok = float(-lcum.min()) < _OUTER_EXP_LIMIT
    left = gc * np.exp(-lcum) if outer_ok else None
    right = gc * np.exp(lcum) * diag_inv if outer_ok else None
    upper = np.triu(np.ones((n_rows, n_rows), dtype=bool))
    far = np.maximum.outer(np.arange(n_rows), np.arange(n_rows))
    chain = g_w * ((np.arange(n_phys) > 0).astype(float) + (np.arange(n_phys) < n_phys - 1))
    chain[0] += g_row
    idx = np.arange(n_rows)
    zt = np.empty((n_phys, n_rows))                             # zt[c:]: rows g_w^(k-c) E_c^-1 ... E_k^-1 s_k
    f_scaled = None                                             # g_w E_(c+1)^-1
    eye = np.eye(n_rows)
    with _one_blas_thread():
        for c in range(n_phys - 1, -1, -1):
            if left is not None and right is not None:
                o = np.multiply.outer(left[c], right[c])
                e = np.where(upper, o, o.T)
            else:
                decay = np.exp(-np.abs(lcum[c][:, None] - lcum[c][None, :]))
                e = np.multiply.outer(gc[c], gc[c]) * diag_inv[c][far] * decay
            np.negative(e, out=e)
            e[idx, idx] += gc[c] + chain[c]
            if f_scaled is not None:
                e -= g_w * f_scaled
            f_scaled = g_w * _spd_inverse(e, eye)
            zt[c] = s[c] / g_w
            zt[c:] = zt[c:] @ f_scaled.T                        # rows: (f z)^T = z^T f^T
    assert f_scaled is not None                                 # (a tile has at least one column)
    f0 = 0.5 * (f_scaled + f_scaled.T) / g_w
    return g_row * zt.T, (g_row * g_row) * f0


def _one_blas_thread():
    """BLAS on one thread for the sweep: its R x R products and factorisations are too small for threads, and
    OpenBLAS' threads waking for each one made the 128 x 128 sweep 20x slower on a 2-core machine (measured). One
    thread also makes the result independent of the machine's core count: a threaded factorisation sums in another
    order, and the exported port models and netlists would differ in their last digits from machine to machine."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from scipy.linalg import lapack  # noqa: F401  (loads scipy's own BLAS, so that the controller limits it too)
        from threadpoolctl import ThreadpoolController
        _CONTROLLER = ThreadpoolController()         # finding the loaded BLAS libraries takes ~5 ms: once
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER = None


def _spd_inverse(a: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """``a^-1`` of a symmetric positive definite matrix (LAPACK dposv; its Cholesky factorisation)."""
    from scipy.linalg import lapack
    c, x, info = lapack.dposv(a, eye, lower=1)
    if info != 0:
        raise ArithmeticError(f"tile reduction failed: a Schur block is not positive definite (LAPACK info {info})")
    return x


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    out = np.zeros_like(x)
    nz = x != 0
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(x[nz]))))
    out[nz] = np.round(x[nz] * scale) / scale
    return out
