"""Benchmark: the safe operating area of the default IPNet at circuit level, on test samples of every class.

Exports the bundled default IPNet (``models/pretrained/ipnet_default``, bounded drive, ideal mapping)
with ``--samples`` test samples spread evenly over the whole synthetic 22-class test set (which is
ordered by class, so the first 50 would cover only 4 classes), simulates them in ngspice layer by layer
(``simulate --soa warn``: every neuron-step's peak MTJ voltage and junction temperature is measured from
the waveforms) and writes a JSON with, per layer, the peak voltage and temperature, the neuron-steps
above each of the device card's limits (drive compliance, barrier breakdown, t_max, Tc), the spike
agreement with PyTorch and the classes covered. Resumable: the simulation cache lives in ``--work``.

    python benchmarks/soa_ipnet.py [--samples 50 | --indices 79,322] [--workers 2]
                                   [--work benchmarks/results/soa_ipnet_work] [--out benchmarks/results/soa_ipnet.json]
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
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled IPNet")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--indices", default=None, help="explicit test-set indices instead, e.g. 79,322")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/results/soa_ipnet_work"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soa_ipnet.json"))
    args = parser.parse_args()

    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.models.checkpoint import load_checkpoint, resolve_checkpoint_path
    from ipnet_cosim.models.datasets import DataConfig, load_dataset, spread_indices
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.netlist_gen.export import export_once
    from ipnet_cosim.simulation.simulate import simulate_export

    import ipnet_cosim.models as models_pkg
    ck_path = resolve_checkpoint_path(args.checkpoint or Path(models_pkg.__file__).parent / "pretrained" /
                                      "ipnet_default")
    ck = load_checkpoint(ck_path)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    samples = (sorted({int(v) for v in args.indices.split(",")}) if args.indices
               else spread_indices(len(test.labels), args.samples))
    labels = [int(test.labels[i]) for i in samples]
    export = args.work / "export"
    export_once(ck_path, export, samples=samples, progress=lambda msg: print(msg, flush=True))
    t0 = time.perf_counter()
    notes: list[str] = []
    sim = simulate_export(export, samples=samples, workers=args.workers, progress=True, plots=0, soa="warn",
                          notify=notes.append)
    wall = time.perf_counter() - t0
    s, soa, torch = sim.summary, sim.soa, sim.summary.torch
    result = {
        "benchmark": "soa_ipnet",
        "what": "safe operating area of the default IPNet (bounded drive) at circuit level, ngspice waveforms",
        "checkpoint": str(ck_path), "checkpoint_sha256": sha256_file(ck_path), "drive": ck.network_config.drive,
        "t_rise_s": ck.card.timing.t_rise_s, "t_fall_s": ck.card.timing.t_fall_s,
        "samples": samples, "classes_covered": sorted(set(labels)), "n_classes": len(ck.class_names),
        "limits": soa["limits"], "within": soa["within"], "warnings": notes,
        "layers": [{"layer": c["layer"], "neuron_steps": c["neuron_steps"], "v_peak_v": c["v_peak_v"],
                    "t_peak_k": c["t_peak_k"], "above": c["above"], "worst": c["worst"]} for c in soa["layers"]],
        "all_spikes_equal": torch.all_spikes_equal if torch else None,
        "spike_layers": [layer.to_dict() for layer in s.layers],
        "classes_agree": torch.classes_agree if torch else None, "circuit_accuracy": s.accuracy,
        "torch_accuracy": torch.accuracy if torch else None,
        "sim_seconds_per_sample": round(s.sim_time_per_sample_s, 2), "wall_seconds": round(wall, 1),
        "runs_simulated": s.runs_simulated, "runs_cached": s.runs_cached,
        "sources": {"peaks": soa["source"], "spikes": "simulated (ngspice) vs computed (PyTorch, exact precision)",
                    "limits": "device card (drive, limits, mtj.tc_k)"},
        "machine": {"cpus": os.cpu_count(), "workers": args.workers, "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(), "ngspice": ngspice_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("within", "all_spikes_equal", "classes_agree", "circuit_accuracy",
                                             "wall_seconds")}, indent=2))
    for c in result["layers"]:
        print(f"{c['layer']}: peak {c['v_peak_v']:.3f} V, {c['t_peak_k']:.1f} K, above {c['above']}")


if __name__ == "__main__":
    main()
