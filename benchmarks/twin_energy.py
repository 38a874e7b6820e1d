"""Energy from the PyTorch twin against the circuit simulator on the default IPNet: every energy category per layer,
the report's totals, the safe-operating-area peaks, and the time each takes.

Exports the bundled default IPNet (as ``sample_inference.py`` does), runs ``simulate`` on ``--samples`` test
samples with ``--simulator`` (ngspice by default, ``--workers`` processes) and with ``--simulator twin``, builds
the report from each, and writes per key of ``energy_sample_<i>.npz`` (summed over the samples) the twin's and
the circuit's energy and their relative difference, the largest per-sample difference, the report's categories
and total, and both wall times. Writes ``benchmarks/results/twin_energy.json``.

With ``--levels``, ``--variation`` or ``--r-wire`` the network is exported with that non-ideal mapping (devices
with levels, lognormal variation of chip 0, wire segments reduced exactly to the tiles' ports) into
``--work/export_nonideal`` and the JSON goes to ``benchmarks/results/twin_energy_nonideal.json``.

    python benchmarks/twin_energy.py [--samples 10] [--workers 2] [--simulator ngspice] [--work /tmp/ipnet-bench]
                                     [--levels 16 --variation 0.05 --r-wire 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simulator", default="ngspice", choices=("ngspice", "vacask"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-bench"))
    parser.add_argument("--levels", type=int, default=0, help="conductance levels (0: continuous)")
    parser.add_argument("--variation", type=float, default=0.0, help="lognormal device variation sigma")
    parser.add_argument("--r-wire", type=float, default=0.0, help="wire segment resistance, ohm")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    nonideal = bool(args.levels or args.variation or args.r_wire)
    args.out = args.out or Path("benchmarks/results/twin_energy_nonideal.json" if nonideal else
                                "benchmarks/results/twin_energy.json")
    from _bench import bundled_export
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    from ipnet_cosim.simulation.simulate import simulate_export
    from ipnet_cosim.simulation.twin_energy import compare_energies
    tag = "_nonideal" if nonideal else ""
    if nonideal:
        from ipnet_cosim.models.checkpoint import pretrained_dir
        from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
        from ipnet_cosim.netlist_gen.export import export_network
        from ipnet_cosim.netlist_gen.mapping import MappingOptions
        options = MappingOptions(conductance=ConductanceOptions(levels=args.levels or None,
                                                                variation_sigma=args.variation),
                                 r_wire_ohm=args.r_wire)
        export = args.work / "export_nonideal"
        shutil.rmtree(export, ignore_errors=True)
        export_network(pretrained_dir("ipnet_default"), export, samples=[0], options=options)
        network = (f"bundled default IPNet, non-ideal mapping: {args.levels or 'continuous'} levels, variation "
                   f"sigma {args.variation:g} (chip 0), wire segments {args.r_wire:g} ohm, port models")
    else:
        export = bundled_export(args.work, range(4))
        network = "bundled default IPNet, ideal mapping, port models"
    samples = list(range(args.samples))
    runs = {}
    for sim in (args.simulator, "twin"):
        out = args.work / f"twin_bench{tag}_{sim}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        res = simulate_export(export, out=out, samples=samples, workers=args.workers, progress=False,
                              compare=sim != "twin", simulator=sim)
        runs[sim] = {"folder": out, "wall_s": time.perf_counter() - t0, "results": res}
        print(sim, f"{runs[sim]['wall_s']:.1f} s", flush=True)
    circ, twin = runs[args.simulator]["folder"], runs["twin"]["folder"]
    per_key: dict[str, dict] = {}
    for s in samples:
        c = dict(np.load(circ / f"energy_sample_{s:04d}.npz"))
        t = dict(np.load(twin / f"energy_sample_{s:04d}.npz"))
        for key, v in compare_energies(t, c).items():
            e = per_key.setdefault(key, {"twin": 0.0, "circuit": 0.0, "worst_sample_rel": 0.0})
            e["twin"] += v["twin"]
            e["circuit"] += v["circuit"]
            e["worst_sample_rel"] = max(e["worst_sample_rel"], v["total_rel"])
    for e in per_key.values():
        e["total_rel"] = abs(e["twin"] / e["circuit"] - 1.0) if e["circuit"] else 0.0
    reports = {}
    for sim in (args.simulator, "twin"):
        rep_dir = args.work / f"twin_bench{tag}_report_{sim}"
        shutil.rmtree(rep_dir, ignore_errors=True)
        report, data = build_report(export, sim=runs[sim]["folder"])
        write_report(report, data, rep_dir)
        reports[sim] = report
    cats = {k: {"twin": reports["twin"]["energy"]["totals"][k]["value"],
                "circuit": reports[args.simulator]["energy"]["totals"][k]["value"],
                "twin_provenance": reports["twin"]["energy"]["totals"][k]["provenance"],
                "circuit_provenance": reports[args.simulator]["energy"]["totals"][k]["provenance"]}
            for k in reports["twin"]["energy"]["totals"]}
    for v in cats.values():
        v["rel"] = abs(v["twin"] / v["circuit"] - 1.0) if v["circuit"] else 0.0
    tot_t = reports["twin"]["energy"]["total"]["value"]
    tot_c = reports[args.simulator]["energy"]["total"]["value"]
    soa = [{"layer": a["layer"], "v_peak_twin_v": a["v_peak_v"], "v_peak_circuit_v": b["v_peak_v"],
            "t_peak_twin_k": a["t_peak_k"], "t_peak_circuit_k": b["t_peak_k"]}
           for a, b in zip(runs["twin"]["results"].soa["layers"], runs[args.simulator]["results"].soa["layers"])]
    result = {"benchmark": "twin_energy" + tag, "network": network,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "provenance": "measured: both runs on this machine; twin figures computed, circuit figures simulated",
              "samples": samples, "circuit_simulator": args.simulator, "workers": args.workers,
              "wall_s": {"circuit": runs[args.simulator]["wall_s"], "twin": runs["twin"]["wall_s"]},
              "spikes_equal": runs[args.simulator]["results"].summary.torch.all_spikes_equal,
              "energy_keys": per_key, "report_categories": cats,
              "report_total": {"twin_j": tot_t, "circuit_j": tot_c, "rel": abs(tot_t / tot_c - 1.0)},
              "soa_peaks": soa}
    print(json.dumps({k: result[k] for k in ("wall_s", "report_total", "spikes_equal")}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
