"""Benchmark: the default IPNet at circuit level (ngspice) against PyTorch, ideal and non-ideal crossbars.

* ``ideal``: no quantization, no variation, no wire or driver resistance, deterministic neurons;
  on the first ``--ideal-samples`` (default 10) test samples every layer's spikes are compared
  with PyTorch at exact precision (issue 5: they must be equal, and the classes agree 10/10).
* ``nonideal``: 4-bit devices (16 levels), 5 % lognormal device-to-device variation and 1 ohm
  wire segments along rows and columns; circuit-level accuracy on ``--nonideal-samples``
  (default 50) test samples next to PyTorch's, reported, not asserted.

Writes a JSON (per mode: options, sizes, spike agreement per layer with PyTorch's closest margins,
classes, accuracies, ngspice time per sample, wall time, machine). Simulations are cached in
``--work``, so an interrupted run resumes. Without ``--checkpoint`` the default IPNet is trained
first (as benchmarks/train_ipnet.py, ~5 min on 2 cores).

    python benchmarks/netlist_ipnet.py [--checkpoint DIR] [--modes ideal,nonideal] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="trained default IPNet (folder or .pt)")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/results/netlist_ipnet_work"),
                        help="exports and simulation caches (resumable)")
    parser.add_argument("--modes", default="ideal,nonideal")
    parser.add_argument("--ideal-samples", type=int, default=10)
    parser.add_argument("--nonideal-samples", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="parallel ngspice processes")
    parser.add_argument("--seed", type=int, default=0, help="training and variation seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/netlist_ipnet.json"))
    args = parser.parse_args()

    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.simulation.simulate import simulate_export

    checkpoint = args.checkpoint or _train_default(args.work / "checkpoint", args.seed)
    modes = {
        "ideal": (MappingOptions(), args.ideal_samples),
        "nonideal": (MappingOptions(conductance=ConductanceOptions(levels=16, variation_sigma=0.05,
                                                                   variation_kind="lognormal", seed=args.seed),
                                    r_wire_ohm=1.0), args.nonideal_samples),
    }
    result = {"benchmark": "netlist_ipnet", "checkpoint": str(checkpoint), "modes": {},
              "machine": {"cpus": os.cpu_count(), "workers": args.workers, "platform": platform.platform(),
                          "processor": platform.processor() or platform.machine(), "ngspice": ngspice_version()}}
    if args.out.is_file():      # keep the figures of modes not rerun now
        result["modes"] = json.loads(args.out.read_text(encoding="utf-8")).get("modes", {})
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        options, n = modes[mode]
        folder = args.work / mode
        t0 = time.perf_counter()
        if (folder / "manifest.json").is_file():
            made = read_export(folder).manifest.mapping_options
            if made != options.to_dict():
                raise SystemExit(f"{folder} holds an export with other mapping options ({made}); delete it or "
                                 f"pass another --work folder")
        else:
            export_network(checkpoint, folder, samples=range(n), options=options,
                           progress=lambda msg, mode=mode: print(f"[{mode}] {msg}", flush=True))
        t_export = time.perf_counter() - t0
        sim = simulate_export(folder, samples=list(range(n)), workers=args.workers, progress=True, plots=2)
        manifest = read_export(folder).manifest.to_dict()
        s, torch = sim.summary, sim.summary.torch
        assert torch is not None
        result["modes"][mode] = {
            "mapping_options": options.to_dict(), "samples": n, "export_seconds": round(t_export, 1),
            "sizes": [{k: l[k] for k in ("name", "type", "unit", "matrix_shape", "positions", "units", "tiles",
                                         "devices")} for l in manifest["layers"]],
            "classes_agree": torch.classes_agree, "all_spikes_equal": torch.all_spikes_equal,
            "circuit_accuracy": s.accuracy, "torch_accuracy": torch.accuracy,
            "layers": [layer.to_dict() for layer in s.layers],
            "sim_seconds_per_sample": round(s.sim_time_per_sample_s, 2),
            "wall_seconds": round(s.wall_time_s, 1), "runs_simulated": s.runs_simulated,
            "runs_cached": s.runs_cached,
            "sources": {"circuit": "simulated (ngspice)", "torch": "computed (PyTorch, exact precision)",
                        "times": "measured wall time of the ngspice runs"},
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(json.dumps({mode: {k: result["modes"][mode][k] for k in (
            "classes_agree", "all_spikes_equal", "circuit_accuracy", "torch_accuracy", "sim_seconds_per_sample",
            "wall_seconds")}}, indent=2), flush=True)


def _train_default(folder: Path, seed: int) -> Path:
    if (folder / "checkpoint.pt").is_file():
        return folder / "checkpoint.pt"
    import torch
    from ipnet_cosim.models.datasets import DataConfig
    from ipnet_cosim.models.network_config import NetworkConfig
    from ipnet_cosim.models.train import TrainConfig, train
    torch.set_num_threads(2)
    train(folder, NetworkConfig(n_classes=22), DataConfig(seed=seed), TrainConfig(seed=seed, threads=2),
          progress_bar=False, log=lambda msg: print(msg, flush=True))
    return folder / "checkpoint.pt"


if __name__ == "__main__":
    main()
