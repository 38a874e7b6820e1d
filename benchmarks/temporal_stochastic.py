"""Benchmark: the temporal-memory experiments under the neurons' own randomness (issue 30).

Runs ``experiment frontier --firing stochastic`` (heat memory at layer 0, 1 or 2, and none) and ``experiment
time-reversed --firing stochastic`` on the 22-class set (IPNet and every baseline): each network trained in the
median mode, then fine-tuned 8 epochs under stochastic firing from those weights
(:func:`~ipnet_cosim.models.experiments.temporal.train_for_firing`), and each evaluated before and after in both
modes (median: exact precision; stochastic: 10 recorded draws per test sample, train precision). The
time-reversed IPNet's median stage is the bundled ``ipnet_median`` when ``--seed-bundled`` is given (it was trained
with exactly these settings; ``train_or_reuse`` checks the network, data, card and training configuration before
reusing it).

Writes a compact summary to ``benchmarks/data/temporal_stochastic.json`` (committed; the README quotes it); the
experiments' own JSON, plots and checkpoints stay in ``--work``.

    python benchmarks/temporal_stochastic.py [--work results/bench_temporal_stochastic] [--seed-bundled]
        [--out benchmarks/data/temporal_stochastic.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

KEEP = ("arch", "memory_at", "trained", "test_accuracy", "stochastic_accuracy", "stochastic_accuracy_std_over_draws",
        "stochastic_accuracy_ci95", "stochastic_draws", "direction_accuracy", "stochastic_direction_accuracy",
        "coin_flip_fraction", "median_trained", "train_seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("results/bench_temporal_stochastic"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/temporal_stochastic.json"))
    parser.add_argument("--seed-bundled", action="store_true",
                        help="start the time-reversed IPNet's median stage from the bundled ipnet_median")
    args = parser.parse_args()

    from ipnet_cosim.models.checkpoint import pretrained_dir
    from ipnet_cosim.models.experiments import run_experiment
    from ipnet_cosim.models.experiments.temporal import STOCHASTIC_DRAWS, STOCHASTIC_FINETUNE
    t0 = time.perf_counter()
    if args.seed_bundled:
        median = args.work / "time-reversed" / "runs" / "synthetic-22" / "ipnet"
        if not (median / "checkpoint.json").is_file():
            median.mkdir(parents=True, exist_ok=True)
            for name in ("checkpoint.pt", "checkpoint.json"):
                shutil.copy2(pretrained_dir("ipnet_median") / name, median / name)
    frontier = run_experiment("frontier", args.work / "frontier", firing="stochastic", progress=print)
    timerev = run_experiment("time-reversed", args.work / "time-reversed", firing="stochastic",
                             datasets=("synthetic-22",), progress=print)
    result = {
        "benchmark": "temporal_stochastic", "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "provenance": "computed: PyTorch twin (experiment frontier / time-reversed --firing stochastic); median mode "
                      "at exact precision, stochastic firing at train precision over recorded draws (seed 0)",
        "stochastic_draws": STOCHASTIC_DRAWS, "stochastic_finetune": STOCHASTIC_FINETUNE,
        "seeded_from_bundled": bool(args.seed_bundled),
        "frontier": {"rows": [{k: r[k] for k in KEEP if k in r} for r in frontier["rows"]],
                     "checks": frontier["checks"], "ranked_by": frontier["ranked_by"],
                     "summary_lines": frontier["summary_lines"]},
        "time_reversed_22": {"rows": [{k: r[k] for k in KEEP if k in r} for r in timerev["tables"]["synthetic-22"]],
                             "checks": timerev["checks"], "summary_lines": timerev["summary_lines"]},
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for line in frontier["summary_lines"] + timerev["summary_lines"]:
        print("  " + line)


if __name__ == "__main__":
    main()
