"""Whole-sample circuit-level inference of the default IPNet: time per sample and the parallel speed-up.

Exports the bundled default IPNet (``models/pretrained/ipnet_default``, 118 units per sample: 100 + 16
heat/memoryless conv units, one 257-row linear layer in 3 row tiles, the readout) once, then runs
``simulate_export`` with every crossbar as its port model (the default) from an empty results folder:

* latency: one sample with ``--workers`` 1 and 2;
* throughput: a batch of ``--batch`` samples with 1 and 2 workers, and the speed-up;
* ``--compare-simulator vacask``: the same sample on 2 workers in the other simulator, its spikes and its
  per-layer energies and safe-operating-area peaks against the main simulator's (``simulator_comparison``).

Times are the simulation's wall time (``results.json`` ``summary.wall_time_s``: building the decks,
the simulator runs and the energy integrals; the PyTorch comparison runs afterwards and is not
included); every run also reports whether all spikes equal PyTorch's.

    python benchmarks/sample_inference.py [--batch 4] [--simulator ngspice] [--compare-simulator vacask]
                                          [--work /tmp/ipnet-bench] [--out benchmarks/results/sample_inference.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path


def run(export: Path, out: Path, samples: list[int], workers: int, simulator: str) -> dict:
    from ipnet_cosim.simulation.simulate import simulate_export
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = simulate_export(export, out=out, samples=samples, workers=workers, progress=False, compare=True,
                          simulator=simulator)
    s, torch = res.summary, res.summary.torch
    assert torch is not None
    entry = {"samples": len(samples), "workers": workers, "simulation_wall_s": s.wall_time_s,
             "wall_per_sample_s": s.wall_time_s / len(samples),
             "simulator_time_per_sample_s": s.sim_time_per_sample_s,
             "total_wall_with_pytorch_s": time.perf_counter() - t0,
             "units_simulated": s.runs_simulated, "all_spikes_equal_pytorch": torch.all_spikes_equal,
             "classes_agree": torch.classes_agree}
    print(json.dumps(entry), flush=True)
    return entry


def compare_outputs(main: Path, other: Path) -> dict:
    """Per layer: the relative difference of each energy category's total and the largest per-element
    difference relative to its peak, and the same for the safe-operating-area peaks (sample 0)."""
    import numpy as np
    out = {}
    for kind in ("energy", "soa"):
        a = np.load(other / f"{kind}_sample_0000.npz")
        b = np.load(main / f"{kind}_sample_0000.npz")
        for k in sorted(b.files):
            x, y = a[k], b[k]
            if y.dtype.kind != "f" or not np.any(y):
                continue
            out[k] = {"total_rel": float(abs(x.sum() / y.sum() - 1)),
                      "max_rel_of_peak": float(np.max(np.abs(x - y)) / np.max(np.abs(y)))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--simulator", default="ngspice", choices=("ngspice", "vacask"))
    parser.add_argument("--compare-simulator", default="vacask", choices=("ngspice", "vacask", "none"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-bench"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sample_inference.json"))
    args = parser.parse_args()
    from ipnet_cosim.circuits.runner import ngspice_version
    from _bench import bundled_export
    export = bundled_export(args.work, range(args.batch))
    result = {"benchmark": "sample_inference", "network": "bundled default IPNet (models/pretrained/ipnet_default)",
              "crossbar": "ports", "simulator": args.simulator,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                          "ngspice": ngspice_version()},
              "provenance": "measured: simulate_export wall time from an empty results folder (no cache)",
              "latency": [], "batch": []}
    for workers in (1, 2):
        result["latency"].append(run(export, args.work / f"one_w{workers}", [0], workers, args.simulator))
    for workers in (1, 2):
        result["batch"].append(run(export, args.work / f"batch_w{workers}", list(range(args.batch)), workers,
                                   args.simulator))
    one, two = result["batch"]
    result["speedup_2_vs_1_workers"] = one["simulation_wall_s"] / two["simulation_wall_s"]
    print(f"speed-up with 2 workers on {args.batch} samples: {result['speedup_2_vs_1_workers']:.2f}x")
    if args.compare_simulator not in ("none", args.simulator):
        other = args.compare_simulator
        entry = run(export, args.work / f"one_{other}_w2", [0], 2, other)
        entry["simulator"] = other
        entry["speedup_vs_main_2_workers"] = result["latency"][1]["simulation_wall_s"] / entry["simulation_wall_s"]
        entry["against_main"] = compare_outputs(args.work / "one_w2", args.work / f"one_{other}_w2")
        print(json.dumps(entry), flush=True)
        result["simulator_comparison"] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
