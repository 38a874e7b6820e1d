"""Benchmark: the paper's noise claim under the neurons' own randomness (issue 30).

``experiment noise --firing stochastic`` with one seed, the clean training regime, IPNet, the two spatiotemporal
CNNs the paper compares with and the LSTM: each network trained in the median mode and, unless it already holds up
under its neurons' randomness, fine-tuned 8 epochs under stochastic firing
(:func:`~ipnet_cosim.models.experiments.temporal.train_for_firing`), then evaluated on the 22-class test set with
sensor noise added (``LEVELS``: clean, background activity, hot pixels, an early burst; a subset of the full
experiment's levels, to keep the run near half an hour on 2 cores) under ``--draws`` recorded draws of its neurons
per sample (train precision); the error ratio of each spatiotemporal CNN to IPNet against the paper's 18x. No
circuit check (the circuits' agreement under stochastic firing is ``stochastic_circuit.py``'s).

The networks are those of ``temporal_stochastic.py``'s time-reversed run (the same seed, data, card and training
configuration): their run folders are linked, not trained again, when ``--runs`` points at them; otherwise they are
trained here.

    python benchmarks/noise_stochastic.py [--runs results/bench_temporal_stochastic/time-reversed/runs/synthetic-22]
        [--draws 4] [--work results/bench_noise_stochastic] [--out benchmarks/data/noise_stochastic.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

LEVELS = {"background": (0.0, 0.1, 0.5), "hot_pixels": (16, 64), "burst": (300, 1000)}
ARCHS = ("ipnet", "lstm", "conv2p1d", "conv3d")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=None, help="trained run folders to link (time-reversed, 22)")
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("results/bench_noise_stochastic"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/noise_stochastic.json"))
    args = parser.parse_args()

    from ipnet_cosim.models.experiments import run_experiment
    runs = args.work / "runs" / "seed0"
    if args.runs is not None:
        runs.mkdir(parents=True, exist_ok=True)
        for arch in ARCHS:
            for name in (arch, f"{arch}-stochastic"):
                src, dst = (args.runs / name).resolve(), runs / name
                if src.is_dir() and not dst.exists():
                    dst.symlink_to(src, target_is_directory=True)
    t0 = time.perf_counter()
    res = run_experiment("noise", args.work, seed=0, seeds=1, training=("clean",), circuit=None, firing="stochastic",
                         draws=args.draws, archs=ARCHS, levels=LEVELS, progress=print)
    curves = res["curves"]["clean"]
    result = {
        "benchmark": "noise_stochastic", "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "provenance": res["provenance"], "firing": res["firing"], "linked_runs": str(args.runs) if args.runs else None,
        "levels": res["levels"], "level_units": res["level_units"],
        "accuracy": {kind: {arch: [{"level": p["level"], "accuracy": p["accuracy"], "ci95": p["ci95"]}
                                   for p in points] for arch, points in by_arch.items()}
                     for kind, by_arch in curves.items()},
        "error_ratios": [r for r in res["error_ratios"] if r["spatiotemporal"]],
        "clean_test_accuracy_median_mode": {r["arch"]: r["clean_test_accuracy"] for r in res["runs"]},
        "paper": res["paper"], "summary_lines": res["summary_lines"],
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for line in res["summary_lines"]:
        print("  " + line)


if __name__ == "__main__":
    main()
