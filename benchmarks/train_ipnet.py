"""Benchmark: train the default IPNet on the synthetic 22-class time-reversed set and time it.

Writes a JSON with the wall-clock time (data generation, training, exact evaluation), the test
accuracy in exact precision, the forward/reversed accuracy and the machine it ran on. Target
(issue 4): >= 95 % test accuracy in <= 15 min on 2 CPU cores.

    python benchmarks/train_ipnet.py [--threads 2] [--out benchmarks/results/train_ipnet.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_ipnet.json"))
    parser.add_argument("--keep", type=Path, default=None, help="keep the checkpoint in this folder")
    args = parser.parse_args()

    import torch
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.network_config import NetworkConfig
    from ipnet_cosim.models.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    data = DataConfig(seed=args.seed)
    network = NetworkConfig(n_classes=22)
    options = TrainConfig(seed=args.seed, threads=args.threads)
    t0 = time.perf_counter()
    load_dataset(data)
    t_data = time.perf_counter() - t0
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ipnet-bench-"))
    metrics = train(folder, network, data, options, progress_bar=False,
                    log=lambda msg: print(msg, flush=True))
    wall = time.perf_counter() - t0
    result = {
        "benchmark": "train_ipnet", "what": "default IPNet, synthetic 22-class time-reversed gestures",
        "wall_seconds_total": round(wall, 1), "data_generation_seconds": round(t_data, 1),
        "train_seconds": round(metrics["train_seconds"], 1),
        "exact_eval_seconds": round(metrics.get("exact_eval_seconds", 0.0), 1),
        "test_accuracy": metrics["test_accuracy"], "test_accuracy_precision": metrics["test_accuracy_precision"],
        "test_accuracy_train_precision": metrics["test_accuracy_train_precision"],
        "direction_accuracy": (metrics.get("test_exact") or metrics["test_train_precision"]).get("direction_accuracy"),
        "parameter_count": metrics["parameter_count"], "selected_epoch": metrics.get("selected_epoch"),
        "val_accuracy": metrics.get("val_accuracy"),
        "targets": {"test_accuracy_min": 0.95, "wall_seconds_max": 900},
        "meets_targets": metrics["test_accuracy"] >= 0.95 and wall <= 900,
        "config": {"network": network.to_dict(), "data": data.to_dict(), "train": options.to_dict()},
        "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads, "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(), "torch": torch.__version__},
        "checkpoint": str(folder / "checkpoint.pt") if args.keep else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("wall_seconds_total", "test_accuracy", "direction_accuracy",
                                             "meets_targets")}, indent=2))


if __name__ == "__main__":
    main()
