"""Benchmark: energy per inference (and accuracy) of the bundled IPNet as a distribution over its neurons' draws.

The bundled IPNet exported with stochastic firing (default mapping), test samples spread over the classes, its
PyTorch twin (``simulate --simulator twin``) under ``--draws`` recorded draws of every sample (``--draws`` on
the CLI), and the report's ``over_draws`` section (``energy.draws``): accuracy and energy per inference per draw,
their mean and spread over draws. Beside it, the same samples exported in the median mode (the idealisation).
All figures are computed (the twin), none simulated.

    python benchmarks/stochastic_energy.py [--samples 44] [--draws 10] [--work results/bench_stochastic_energy]
        [--out benchmarks/data/stochastic_energy.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=44, help="test samples spread over the classes")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws")
    parser.add_argument("--work", type=Path, default=Path("results/bench_stochastic_energy"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/stochastic_energy.json"))
    args = parser.parse_args()

    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.models.checkpoint import load_checkpoint, pretrained_dir
    from ipnet_cosim.models.datasets import DataConfig, spread_indices
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export

    checkpoint = pretrained_dir("ipnet_default")
    data = DataConfig.from_dict(load_checkpoint(checkpoint / "checkpoint.pt").data_config)
    n_test = data.n_test_per_class * (22 if data.time_reversed else 11)
    samples = spread_indices(n_test, args.samples)
    shutil.rmtree(args.work, ignore_errors=True)
    t0 = time.perf_counter()
    stoch = args.work / "stochastic"
    export_network(checkpoint, stoch, samples=samples, firing=Firing("stochastic", seed=args.seed, draws=args.draws))
    for d in range(args.draws):
        simulate_export(stoch, progress=False, simulator="twin", plots=0, draw=d)
    report, _ = build_report(stoch, sim=stoch / "sim", area=False)
    median = args.work / "median"
    export_network(checkpoint, median, samples=samples)
    simulate_export(median, progress=False, simulator="twin", plots=0)
    med, _ = build_report(median, sim=median / "sim", area=False)
    od = report["over_draws"]
    value = {k: v["value"] for k, v in od.items() if isinstance(v, dict) and "value" in v}
    result = {
        "benchmark": "stochastic_energy", "checkpoint": str(checkpoint), "samples": list(samples),
        "draws": args.draws, "draw_seed": args.seed, "machine": {"cpus": os.cpu_count(),
                                                                "platform": platform.platform()},
        "provenance": "computed: PyTorch twin of each export (simulate --simulator twin), exact precision; energy "
                      "per inference from the report's accounting (energy.accounting, energy.draws); wall time "
                      "measured on this machine",
        "stochastic": {**value, "accuracy_per_draw": [p["accuracy"]["value"] for p in od["per_draw"]],
                       "energy_per_inference_per_draw_j": [p["energy_per_inference"]["value"] for p in od["per_draw"]],
                       "coin_flip_fraction": {k[len("coin_flip_"):]: v["value"] for k, v in report["accuracy"].items()
                                              if k.startswith("coin_flip_")}},
        "median": {"accuracy": med["accuracy"]["run"]["value"],
                   "energy_per_inference_j": med["energy"]["total"]["value"],
                   "spikes_per_inference": sum(layer["spikes"]["value"] for layer in med["energy"]["layers"])},
        "units": {"energy_per_inference": "J (mean over the samples of one draw)", "accuracy": "fraction of samples"},
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: stochastic energy per inference {value['energy_per_inference_mean'] * 1e9:.3f} +- "
          f"{value['energy_per_inference_std_over_draws'] * 1e9:.3f} nJ over {args.draws} draws, accuracy "
          f"{value['accuracy_mean']:.3f} +- {value['accuracy_std_over_draws']:.3f}; median mode "
          f"{result['median']['energy_per_inference_j'] * 1e9:.3f} nJ, accuracy {result['median']['accuracy']:.3f}")


if __name__ == "__main__":
    main()
