"""Exact port reduction of a crossbar tile's resistive network (wire segments, cells, driver resistance).

A tile with wire segments is a linear resistor network between two kinds of ports:

* the **row sources**: the ideal row drivers (with ``r_driver_ohm`` folded into the network, the port
  is the source's own node; without it, the tile's row end);
* the **column ends**: every physical column ends in a 0 V sense source (virtual ground).

Eliminating every internal node (row wire nodes, column wire nodes, the driver side of the row wire)
is a Schur complement of the network's Laplacian ``L``: the port admittance
``Y = L_PP - L_PI L_II^-1 L_IP``. The Schur complement of a connected resistor network is again a
resistor network, so ``Y`` is written back as resistors, one per port pair with conductance
``-Y_ab >= 0``. Every port connects to the network through exactly one resistor ``g_a`` to an internal
node ``n_a`` and ports never touch each other directly, so

    G_ab = -Y_ab = g_a g_b (L_II^-1)[n_a, n_b]

which needs ``L_II^-1`` only at the port-adjacent nodes: one sparse LU of ``L_II`` (SuperLU) and
one solve per port. Column-to-column couplings are dropped: both ends are held at 0 V, so they
carry no current. Row-to-row couplings are kept: with ideal sources they carry no neuron current but
they are part of the drivers' currents (energy). Couplings below ``DROP_RELATIVE`` of the largest
conductance of the tile are omitted (their currents are below that fraction of the tile's largest
cell current; they also absorb the round-off of the solve), and conductances are rounded to ``DIGITS``
significant digits so that the netlist is byte-identical across machines whose BLAS differs in the
last bits.

The result is exact for the ports' currents (up to round-off), i.e. for the neuron input currents and
the driver currents and therefore for the total power delivered to the tile; how that power divides
between wires and cells is no longer visible in the reduced netlist. The full ladder stays available
(``MappingOptions(wire_model="ladder")``) to validate against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DROP_RELATIVE = 1e-12
DIGITS = 12       # significant digits kept: netlist text must not depend on the last bits of the LU (BLAS kernels differ between CPUs)


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
    the ladder in :mod:`~ipnet_cosim.netlist_gen.mapping` (row wire driven from the left, one
    segment per cell; column wire sensed at the bottom, one segment below each cell) plus an optional
    driver resistance in front of every row."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    if r_wire_ohm <= 0:
        raise ValueError("reduce_tile needs r_wire_ohm > 0 (without wire segments the cells are the ports' conductances)")
    n_rows, n_cols = g_plus_s.shape
    n_phys = 2 * n_cols
    g_cells = np.empty((n_rows, n_phys))
    g_cells[:, 0::2] = g_plus_s
    g_cells[:, 1::2] = g_minus_s
    g_w = 1.0 / r_wire_ohm
    # internal nodes: w[i, c] (row wires), q[c, i] (column wires), d[i] (row end behind the driver)
    w = np.arange(n_rows * n_phys).reshape(n_rows, n_phys)
    q = n_rows * n_phys + np.arange(n_phys * n_rows).reshape(n_phys, n_rows)
    n_int = 2 * n_rows * n_phys
    if r_driver_ohm > 0:
        d = n_int + np.arange(n_rows)
        n_int += n_rows
    a_list, b_list, g_list = [], [], []

    def edges(a, b, g):
        a_list.append(np.ravel(a))
        b_list.append(np.ravel(b))
        g_list.append(np.broadcast_to(g, np.shape(a)).ravel())

    edges(w[:, :-1], w[:, 1:], g_w)                      # row wire segments between cells
    edges(w, q.T, g_cells)                               # the cells
    edges(q[:, :-1], q[:, 1:], g_w)                      # column wire segments between cells
    if r_driver_ohm > 0:
        edges(d, w[:, 0], g_w)                           # first row segment
    a = np.concatenate(a_list)
    b = np.concatenate(b_list)
    g = np.concatenate(g_list)
    diag = np.bincount(a, g, n_int) + np.bincount(b, g, n_int)
    # ports: row sources (through r_driver to d, or through the first segment to w[:, 0]) and column
    # ends (through the last segment from q[:, -1]); their conductances add to the diagonal
    row_adj, g_row = (d, 1.0 / r_driver_ohm) if r_driver_ohm > 0 else (w[:, 0], g_w)
    col_adj = q[:, -1]
    diag += np.bincount(row_adj, np.full(n_rows, g_row), n_int) + np.bincount(col_adj, np.full(n_phys, g_w), n_int)
    lap = sp.coo_matrix((np.concatenate([-g, -g, diag]),
                         (np.concatenate([a, b, np.arange(n_int)]), np.concatenate([b, a, np.arange(n_int)]))),
                        shape=(n_int, n_int)).tocsc()
    lu = splu(lap, permc_spec="MMD_AT_PLUS_A")
    adj = np.concatenate([row_adj, col_adj])
    rhs = np.zeros((n_int, adj.size))
    rhs[adj, np.arange(adj.size)] = 1.0
    inv = lu.solve(rhs)[adj]                             # (L_II^-1)[n_a, n_b]
    inv = 0.5 * (inv + inv.T)                            # symmetric in exact arithmetic
    g_port = np.concatenate([np.full(n_rows, g_row), np.full(n_phys, g_w)])
    g_pairs = g_port[:, None] * g_port[None, :] * inv
    g_pairs = _round_significant(g_pairs, DIGITS)
    row_col = g_pairs[:n_rows, n_rows:].copy()
    floor = DROP_RELATIVE * float(row_col.max())
    if not np.all(np.isfinite(g_pairs)) or row_col.min() <= 0:
        raise ArithmeticError(f"tile reduction failed: row-to-column conductances in [{row_col.min():g}, "
                              f"{row_col.max():g}] S (expected finite and > 0)")
    ia, ib = np.triu_indices(n_rows, 1)
    rr = g_pairs[ia, ib]
    keep = rr > floor
    row_row = tuple((int(x), int(y), float(v)) for x, y, v in zip(ia[keep], ib[keep], rr[keep]))
    return ReducedTile(row_col, row_row)


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    out = np.zeros_like(x)
    nz = x != 0
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(x[nz]))))
    out[nz] = np.round(x[nz] * scale) / scale
    return out
