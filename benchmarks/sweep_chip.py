"""Benchmark: a design-space sweep of the bundled IPNet on the default chip over G_max and the tile size, whose area
and energy follow the periphery sized from the currents (issue 32).

Grid: largest conductance G_max = the default card's g_on and half of it x tile rows 64 / 128 x tile columns
64 / 128 (8 points; the card's levels, variation, slices and wires otherwise), twin accuracy on ``--samples`` test
samples spread over the test set under stochastic firing (one draw), energy per inference by category and area
by component from each point's report (computed; periphery sized by the 28 nm width-per-current rule of
``ipnet_cosim.device.interconnect``). Writes ``benchmarks/data/sweep_chip.json`` (the sweep folder in ``--work``).

    python benchmarks/sweep_chip.py [--samples 22] [--workers 2] [--work /tmp/ipnet-sweep-chip]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

CONFIG = """samples = {samples}
chips = 1
[parameters]
g_max_s = [{g_half!r}, {g_on!r}]
tile_rows = [64, 128]
tile_cols = [64, 128]
[firing]
mode = "stochastic"
draws = 1
seed = 0
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=22)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-sweep-chip"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/sweep_chip.json"))
    args = parser.parse_args()
    from ipnet_cosim.device.interconnect import SOURCES
    from ipnet_cosim.device.synapse import default_synapse
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.sweep.run import run_sweep
    from ipnet_cosim.sweep.config import load_sweep_config
    card = default_synapse()
    args.work.mkdir(parents=True, exist_ok=True)
    toml = args.work / "sweep.toml"
    toml.write_text(CONFIG.format(samples=args.samples, g_half=card.g_on_s / 2, g_on=card.g_on_s), encoding="utf-8")
    t0 = time.perf_counter()
    result = run_sweep(load_sweep_config(toml), args.work / "sweep", workers=args.workers, progress=print)
    wall = time.perf_counter() - t0
    points = []
    for p in result.points:
        chip = args.work / "sweep" / "points" / p.id / "chip0"
        report, _ = build_report(chip / "export", sim=chip / "twin")
        points.append({"id": p.id, "parameters": p.parameters, "accuracy_mean": p.accuracy_mean,
                       "energy_per_inference_j": p.energy_per_inference_j, "area_m2": p.area_m2,
                       "energy_totals_j": {k: v["value"] for k, v in report["energy"]["totals"].items()},
                       "area_breakdown_m2": {k: v["value"] for k, v in report["area"]["breakdown"].items()}})
    out = {"benchmark": "sweep_chip", "synapse": card.name, "wall_s": round(wall, 1), "samples": args.samples,
           "machine": {"cpus": os.cpu_count(), "workers": args.workers, "platform": platform.platform()},
           "sizing_rule": {"j_on_pmos": SOURCES["j_on_pmos_a_per_m"], "j_on_nmos": SOURCES["j_on_nmos_a_per_m"],
                           "min_width": SOURCES["min_width_features"]},
           "points": points,
           "source": "computed: ipnet-cosim sweep through the PyTorch twin (accuracy, energy) and the area model "
                     "(cells and the periphery sized from the currents), per point's report"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for e in points:
        print(e["parameters"], f"acc {e['accuracy_mean']:.3f}", f"E {e['energy_per_inference_j'] * 1e9:.3f} nJ",
              f"A {e['area_m2'] * 1e12:,.0f} um^2")


if __name__ == "__main__":
    main()
