"""Exact tile reduction: time per tile for 16x16 .. 256x256 weight tiles with wires, against the sparse LU it
replaced and against solving the ladder once per matrix-vector product.

For each square tile of ``n`` weight rows and ``n`` weight columns (``2 n`` physical columns), 1 ohm wire
segments, 10 ohm drivers and cells uniform in 1 uS - 1 mS (seeded):

* ``sweep_s``: :func:`~ipnet_cosim.netlist_gen.reduction.reduce_tile` (the column sweep; best of ``--repeat``);
* ``torch_forward_s`` / ``torch_backward_s``: the differentiable version hardware-aware training runs
  (:func:`~ipnet_cosim.chip.crossbar_torch.tile_row_col_s`, one tile, gradient of the summed conductances),
  and ``torch_row_sweep_*``: the row-by-row elimination it used before on every tile (kept for tiles taller
  than wide; up to ``--sparse-max``);
* ``sparse_lu_s``: the previous algorithm, one SuperLU of the whole ladder and one solve per port (up to
  ``--sparse-max``; it grows ~n^3), and ``max_rel_diff``: the largest element-wise relative difference of the
  unrounded port conductances between the two;
* ``per_mvm_lu_s``: what a simulator that solves the ladder for every input vector pays per product (SuperLU
  factorisation + one solve; an iterative solver such as CrossSim's pays a comparable per-product cost),
  and ``breakeven_products``: how many products the one-off reduction is worth.

The CrossSim 3.2 figure in the JSON (``cited``) is quoted from issue 18, not measured here (CrossSim is not on
PyPI). Writes ``benchmarks/results/tile_reduction.json``.

    python benchmarks/tile_reduction.py [--sizes 16 32 64 128 256] [--sparse-max 128] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--sparse-max", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tile_reduction.json"))
    args = parser.parse_args()
    import torch
    from scipy.sparse.linalg import splu
    from ipnet_cosim.chip.crossbar_torch import tile_row_col_s
    from ipnet_cosim.netlist_gen.reduction import port_conductances, reduce_tile
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_reduction import ladder_laplacian, sparse_reference
    r_wire, r_driver = 1.0, 10.0
    rows = []
    for n in args.sizes:
        rng = np.random.default_rng(n)
        g_p, g_m = rng.uniform(1e-6, 1e-3, (n, n)), rng.uniform(1e-6, 1e-3, (n, n))
        cells = np.empty((n, 2 * n))
        cells[:, 0::2], cells[:, 1::2] = g_p, g_m
        entry = {"weight_rows": n, "weight_cols": n, "physical_cols": 2 * n, "r_wire_ohm": r_wire,
                 "r_driver_ohm": r_driver,
                 "sweep_s": best_of(lambda g_p=g_p, g_m=g_m: reduce_tile(g_p, g_m, r_wire, r_driver), args.repeat)}
        tp = torch.tensor(g_p, requires_grad=True)
        tm = torch.tensor(g_m, requires_grad=True)
        t0 = time.perf_counter()
        a = tile_row_col_s(tp, tm, r_wire, r_driver)
        entry["torch_forward_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        a.sum().backward()
        entry["torch_backward_s"] = time.perf_counter() - t0
        if n <= args.sparse_max:
            from ipnet_cosim.chip.crossbar_torch import interleave, row_sweep
            g_t = interleave(torch.tensor(g_p), torch.tensor(g_m)).requires_grad_(True)
            t0 = time.perf_counter()
            a = row_sweep(g_t, r_wire, r_driver)
            entry["torch_row_sweep_forward_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            a.sum().backward()
            entry["torch_row_sweep_backward_s"] = time.perf_counter() - t0
        lap, row_adj, col_adj, _, _ = ladder_laplacian(cells, r_wire, r_driver)
        v = rng.uniform(0.0, 0.2, lap.shape[0])

        def one_product(lap=lap, v=v):
            splu(lap, permc_spec="MMD_AT_PLUS_A").solve(v)
        entry["per_mvm_lu_s"] = best_of(one_product, args.repeat)
        entry["breakeven_products"] = entry["sweep_s"] / entry["per_mvm_lu_s"]
        if n <= args.sparse_max:
            t0 = time.perf_counter()
            ref_rc, ref_rr = sparse_reference(cells, r_wire, r_driver)
            entry["sparse_lu_s"] = time.perf_counter() - t0
            row_col, row_row = port_conductances(cells, r_wire, r_driver)
            off = ~np.eye(n, dtype=bool)
            entry["max_rel_diff"] = float(max(np.max(np.abs(row_col / ref_rc - 1)),
                                              np.max(np.abs(row_row[off] / ref_rr[off] - 1)) if n > 1 else 0.0))
            entry["speedup_vs_sparse_lu"] = entry["sparse_lu_s"] / entry["sweep_s"]
        print(json.dumps(entry), flush=True)
        rows.append(entry)
    result = {"benchmark": "tile_reduction",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                          "numpy": np.__version__, "torch": torch.__version__},
              "provenance": "measured: wall time of each call on this machine (best of --repeat where stated)",
              "target_128_s": 0.050,
              "cited": {"crosssim_3_2_per_mvm_128_s": 0.023,
                        "source": "issue 18 (CrossSim 3.2's iterative parasitic solver on a 128 x 128 tile); "
                                  "not measured here"},
              "tiles": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
