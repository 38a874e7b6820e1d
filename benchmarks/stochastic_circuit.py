"""Benchmark: stochastic circuits, spike-exact. The bundled IPNet exported with stochastic firing, test samples
spread over the classes simulated in ngspice under several recorded draws each, every neuron-step compared with
the PyTorch twin given the same draws (the agreement contract).

Writes per draw the circuit and twin accuracies, the classes that agree, each layer's neuron-steps that differ
with PyTorch's margin ``ln H - ln(-ln u)`` of the closest one, and the wall time; over all draws the accuracy
distribution of the circuit and of the twin.

    python benchmarks/stochastic_circuit.py [--samples 11] [--draws 3] [--workers 2] [--simulator ngspice]
        [--work results/bench_stochastic_circuit] [--out benchmarks/data/stochastic_circuit.json]
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
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled IPNet")
    parser.add_argument("--samples", type=int, default=11, help="test samples spread over the classes")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simulator", default="ngspice", choices=("ngspice", "vacask"))
    parser.add_argument("--work", type=Path, default=Path("results/bench_stochastic_circuit"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/stochastic_circuit.json"))
    args = parser.parse_args()

    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.device.statistics import accuracy_distribution
    from ipnet_cosim.models.checkpoint import pretrained_dir, resolve_checkpoint_path
    from ipnet_cosim.models.datasets import spread_indices
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.inputs import count_test_samples
    from ipnet_cosim.simulation.simulate import simulate_export

    checkpoint = resolve_checkpoint_path(args.checkpoint or pretrained_dir("ipnet_default"))
    firing = Firing("stochastic", seed=args.seed, draws=args.draws)
    export = args.work / "export"
    if export.exists():
        made = read_export(export).manifest
        if made.firing_mode() != firing or made.checkpoint.sha256 != sha256_file(checkpoint):
            shutil.rmtree(export)
    if not (export / "manifest.json").is_file():
        shutil.rmtree(export, ignore_errors=True)
        size = count_test_samples_of(checkpoint)
        export_network(checkpoint, export, samples=spread_indices(size, args.samples), firing=firing)
    samples = list(read_export(export).manifest.samples.indices)
    n_test = count_test_samples(read_export(export))
    per_draw, circuit_ok, torch_ok = [], [], []
    for draw in range(args.draws):
        t0 = time.perf_counter()
        res = simulate_export(export, out=args.work / f"sim_draw_{draw}", workers=args.workers, progress=False,
                              simulator=args.simulator, draw=draw, plots=0)
        wall = time.perf_counter() - t0
        s, torch = res.summary, res.summary.torch
        assert torch is not None
        circuit_ok.append([e.correct for e in res.per_sample])
        torch_ok.append([e.torch_class == e.label for e in res.per_sample])
        per_draw.append({
            "draw": draw, "wall_s": round(wall, 1), "sim_time_per_sample_s": round(s.sim_time_per_sample_s, 2),
            "circuit_accuracy": s.accuracy, "torch_accuracy": torch.accuracy,
            "classes_agree": torch.classes_agree, "all_spikes_equal": torch.all_spikes_equal,
            "agreement_contract_holds": torch.contract_holds,
            "layers": [layer.to_dict() for layer in s.layers],
            "runs_simulated": s.runs_simulated, "runs_cached": s.runs_cached})
        print(f"draw {draw}: circuit {s.accuracy:.3f}, twin {torch.accuracy:.3f}, classes agree "
              f"{torch.classes_agree}/{s.samples}, spikes equal {torch.all_spikes_equal} ({wall:.0f} s)", flush=True)
    result = {
        "benchmark": "stochastic_circuit",
        "what": f"bundled IPNet exported with stochastic firing; {len(samples)} test samples spread over the classes, "
                f"{args.draws} recorded draws each, simulated in {args.simulator} and compared neuron-step by "
                f"neuron-step with the PyTorch twin given the same draws",
        "provenance": f"simulated ({args.simulator}, crossbar as its exact port model) and computed (PyTorch twin, "
                      f"exact precision)",
        "checkpoint_sha256": sha256_file(checkpoint), "samples": samples, "test_set_size": n_test,
        "firing": firing.to_dict(), "simulator": args.simulator, "workers": args.workers,
        "draws": per_draw,
        "circuit_accuracy": accuracy_distribution(np.array(circuit_ok).T),
        "torch_accuracy": accuracy_distribution(np.array(torch_ok).T),
        "neuron_steps_compared": int(sum(layer["neuron_steps"] for d in per_draw for layer in d["layers"])),
        "neuron_steps_differing": int(sum(layer["mismatches"] for d in per_draw for layer in d["layers"])),
        "classes_agree": int(sum(d["classes_agree"] for d in per_draw)),
        "sample_draws": len(samples) * args.draws,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {result['neuron_steps_differing']} of {result['neuron_steps_compared']} neuron-steps "
          f"differ; classes agree {result['classes_agree']}/{result['sample_draws']}")


def count_test_samples_of(checkpoint: Path) -> int:
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    _, test = load_dataset(DataConfig.from_dict(load_checkpoint(checkpoint).data_config))
    return len(test.labels)


if __name__ == "__main__":
    main()
