"""The exact tile reduction (netlist_gen/reduction.py): the column sweep against a sparse LU of the whole
ladder (the algorithm it replaced, kept here as the reference), against a dense solve of random small ladders,
against the ideal-wire limit, and on its fallback for extremely lossy column wires."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipnet_cosim.netlist_gen import reduction
from ipnet_cosim.netlist_gen.reduction import port_conductances, reduce_tile


def ladder_laplacian(g_cells: np.ndarray, r_wire_ohm: float, r_driver_ohm: float):
    """The internal nodes' Laplacian of the ladder (row wires w[i, c], column wires q[c, i], the driver node
    d[i] behind r_driver) with the port conductances on its diagonal, and the port-adjacent nodes."""
    import scipy.sparse as sp
    n_rows, n_phys = g_cells.shape
    g_w = 1.0 / r_wire_ohm
    w = np.arange(n_rows * n_phys).reshape(n_rows, n_phys)
    q = n_rows * n_phys + np.arange(n_phys * n_rows).reshape(n_phys, n_rows)
    n_int = 2 * n_rows * n_phys + (n_rows if r_driver_ohm > 0 else 0)
    pairs = [(w[:, :-1], w[:, 1:], g_w), (w, q.T, g_cells), (q[:, :-1], q[:, 1:], g_w)]
    if r_driver_ohm > 0:
        d = 2 * n_rows * n_phys + np.arange(n_rows)
        pairs.append((d, w[:, 0], g_w))
        row_adj, g_row = d, 1.0 / r_driver_ohm
    else:
        row_adj, g_row = w[:, 0], g_w
    a = np.concatenate([np.ravel(x) for x, _, _ in pairs])
    b = np.concatenate([np.ravel(y) for _, y, _ in pairs])
    g = np.concatenate([np.broadcast_to(v, np.shape(x)).ravel() for x, _, v in pairs])
    diag = np.bincount(a, g, n_int) + np.bincount(b, g, n_int)
    diag[row_adj] += g_row
    diag[q[:, -1]] += g_w
    lap = sp.coo_matrix((np.concatenate([-g, -g, diag]), (np.concatenate([a, b, np.arange(n_int)]),
                                                         np.concatenate([b, a, np.arange(n_int)]))),
                        shape=(n_int, n_int)).tocsc()
    return lap, row_adj, q[:, -1], g_row, g_w


def sparse_reference(g_cells, r_wire_ohm, r_driver_ohm=0.0, dense=False):
    """``G_ab = g_a g_b (L_II^-1)[n_a, n_b]`` by one LU of the whole ladder (SuperLU, or a dense solve)."""
    from scipy.sparse.linalg import splu
    lap, row_adj, col_adj, g_row, g_w = ladder_laplacian(g_cells, r_wire_ohm, r_driver_ohm)
    adj = np.concatenate([row_adj, col_adj])
    rhs = np.zeros((lap.shape[0], adj.size))
    rhs[adj, np.arange(adj.size)] = 1.0
    inv = (np.linalg.solve(lap.toarray(), rhs) if dense else splu(lap, permc_spec="MMD_AT_PLUS_A").solve(rhs))[adj]
    inv = 0.5 * (inv + inv.T)
    n = g_cells.shape[0]
    g_port = np.concatenate([np.full(n, g_row), np.full(col_adj.size, g_w)])
    pairs = g_port[:, None] * g_port[None, :] * inv
    return pairs[:n, n:], pairs[:n, :n]


def _cells(rows, phys, seed, lo=1e-6, hi=1e-3):
    return np.random.default_rng(seed).uniform(lo, hi, (rows, phys))


def _assert_equal_ports(got, ref, rtol):
    row_col, row_row = got
    ref_rc, ref_rr = ref
    np.testing.assert_allclose(row_col, ref_rc, rtol=rtol, atol=0)
    off = ~np.eye(row_row.shape[0], dtype=bool)
    np.testing.assert_allclose(row_row[off], ref_rr[off], rtol=rtol, atol=0)


@pytest.mark.parametrize("rows, phys, r_wire, r_driver", [
    (1, 2, 1.0, 0.0), (5, 6, 1.0, 0.0), (12, 14, 2.0, 30.0), (31, 6, 1.5, 40.0), (3, 40, 1.5, 0.0),
    (17, 34, 0.01, 0.0), (17, 34, 100.0, 5.0), (64, 128, 1.0, 10.0)])
def test_the_column_sweep_equals_a_sparse_lu_of_the_whole_ladder(rows, phys, r_wire, r_driver):
    g = _cells(rows, phys, seed=rows * phys)
    _assert_equal_ports(port_conductances(g, r_wire, r_driver), sparse_reference(g, r_wire, r_driver), rtol=2e-12)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 7), cols=st.integers(1, 4), seed=st.integers(0, 2**16),
       r_wire=st.floats(0.05, 50.0), r_driver=st.sampled_from([0.0, 0.5, 25.0]),
       spread=st.sampled_from([(1e-6, 1e-3), (5e-5, 2.25e-4), (1e-4, 1e-4 * (1 + 1e-9))]))
def test_the_column_sweep_equals_a_dense_solve(rows, cols, seed, r_wire, r_driver, spread):
    g = _cells(rows, 2 * cols, seed, *spread)
    _assert_equal_ports(port_conductances(g, r_wire, r_driver),
                        sparse_reference(g, r_wire, r_driver, dense=True), rtol=1e-11)


def test_ideal_wires_leave_the_cells_behind_their_driver():
    """With vanishing wire resistance a row is its driver in series with its parallel cells:
    ``A_ic = G_ic / (1 + R_d sum_c G_ic)`` and no row-to-row coupling survives but through the driver node."""
    g = _cells(9, 10, seed=3)
    row_col, _ = port_conductances(g, 1e-7, 20.0)
    np.testing.assert_allclose(row_col, g / (1.0 + 20.0 * g.sum(axis=1, keepdims=True)), rtol=1e-5)


def test_the_lossy_column_fallback_gives_the_same_conductances(monkeypatch):
    """Column chains so lossy that e^(+-L) would overflow take the exponent of the difference entry by
    entry; forcing that path on an ordinary tile changes nothing beyond round-off."""
    g = _cells(40, 30, seed=11)
    fast = port_conductances(g, 1.0, 5.0)
    monkeypatch.setattr(reduction, "_OUTER_EXP_LIMIT", 0.0)
    _assert_equal_ports(port_conductances(g, 1.0, 5.0), fast, rtol=1e-13)
    lossy = _cells(48, 8, seed=12, lo=1e-3, hi=2e-3)        # 1 Mohm wires against 1-2 mS cells: L ~ -330
    _assert_equal_ports(port_conductances(lossy, 1e6, 0.0), sparse_reference(lossy, 1e6, 0.0), rtol=1e-9)


def test_reduce_tile_rounds_and_keeps_only_real_couplings():
    g_p, g_m = _cells(20, 9, seed=5), _cells(20, 9, seed=6)
    red = reduce_tile(g_p, g_m, 1.0, 12.0)
    cells = np.empty((20, 18))
    cells[:, 0::2], cells[:, 1::2] = g_p, g_m
    ref_rc, ref_rr = sparse_reference(cells, 1.0, 12.0)
    np.testing.assert_allclose(red.row_col, ref_rc, rtol=1e-11)
    assert np.array_equal(red.row_col, reduction._round_significant(red.row_col, reduction.DIGITS))
    assert all(a < b and v > reduction.DROP_RELATIVE * red.row_col.max() for a, b, v in red.row_row)
    assert len(red.row_row) == 20 * 19 // 2                 # with a driver resistance every pair couples
    for a, b, v in red.row_row:
        assert v == pytest.approx(ref_rr[a, b], rel=1e-11, abs=0)


def test_a_non_physical_tile_is_refused_by_name():
    g = _cells(6, 8, seed=1)
    g[2, 3] = -1.0                                           # a negative conductance: no SPD Schur block
    with pytest.raises(ArithmeticError, match="tile reduction failed"):
        reduce_tile(g[:, 0::2], g[:, 1::2], 1.0)
