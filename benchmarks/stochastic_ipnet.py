"""Benchmark: a checkpoint's accuracy under its neurons' own randomness, beside the median idealisation.

Evaluates checkpoints (default: the bundled IPNet as "bundled" and the median-trained IPNet it was fine-tuned from
as "median_trained") on their whole test set at exact precision (float64, 64/16 substeps: the setting the circuits
agree with; ``--precision train`` for quick comparisons; a run already in ``--out`` with the same checkpoint,
precision and draws is kept, not measured again) in the median mode (u = 1/2) and under stochastic firing
with ``--draws`` seeded draws per sample (the recorded draws of ``ipnet_cosim.device.draws``), and writes the
accuracy distribution (mean, spread over draws, 95 % interval over samples and draws), every MTJ layer's fire rate
and coin-flip fraction (neuron-steps with 0.05 < p < 0.95), and each checkpoint's training configuration as JSON.

    python benchmarks/stochastic_ipnet.py [--run NAME=DIR ...] [--draws 10] [--precision exact]
        [--out benchmarks/data/stochastic_ipnet.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def evaluate_checkpoint(path: Path, draws: int, seed: int, precision: str, threads: int) -> dict:
    import torch
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.stochastic import evaluate_firing
    torch.set_num_threads(threads)
    ck = load_checkpoint(path)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    model = ck.model.set_precision(precision)
    out = {"checkpoint": str(ck.path), "checkpoint_sha256": sha256_file(ck.path),
           "train_config": ck.train_config, "device_card_changes": _card_changes(ck.card), "precision": precision,
           "history": [{k: h.get(k) for k in ("epoch", "train_accuracy", "test_accuracy", "val_accuracy")}
                       for h in ck.history], "selected_epoch": ck.metrics.get("selected_epoch")}
    for name, firing in (("median", Firing()), ("stochastic", Firing("stochastic", seed=seed, draws=draws))):
        t0 = time.perf_counter()
        res = evaluate_firing(model, test.frames, test.labels, firing,
                              progress=lambda done, n, name=name: print(f"  {name}: {done}/{n}", end="\r", flush=True))
        res.pop("predictions")
        res["seconds"] = round(time.perf_counter() - t0, 1)
        out[name] = res
        acc = res["accuracy"]
        print(f"{ck.path}: {name} accuracy {acc['mean']:.4f} +- {acc['std_over_draws']:.4f} "
              f"({acc['draws']} draws), coin-flip fractions "
              f"{[round(layer['coin_flip_fraction'], 4) for layer in res['layers']]} ({res['seconds']} s)", flush=True)
    return out


def _sha(folder: Path) -> str:
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.models.checkpoint import resolve_checkpoint_path
    return sha256_file(resolve_checkpoint_path(folder))


def _card_changes(card) -> dict:
    """The card's fields that differ from the default card."""
    from ipnet_cosim.device.card import DeviceCard
    mine, default = card.to_dict(), DeviceCard().to_dict()
    return {f"{sec}.{k}": v for sec, fields in mine.items() for k, v in fields.items() if default[sec][k] != v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="NAME=CHECKPOINT_DIR (repeatable); default: "
                        "bundled=models/pretrained/ipnet_default median_trained=models/pretrained/ipnet_median")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws")
    parser.add_argument("--precision", default="exact", choices=("exact", "train"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/stochastic_ipnet.json"))
    args = parser.parse_args()
    import torch
    from ipnet_cosim.models.checkpoint import pretrained_dir
    pairs = [item.partition("=")[::2] for item in args.run] or [
        ("bundled", str(pretrained_dir("ipnet_default"))), ("median_trained", str(pretrained_dir("ipnet_median")))]
    earlier = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runs = {}
    for name, folder in pairs:
        old = earlier.get("runs", {}).get(name)
        if (old is not None and earlier.get("draws") == args.draws and earlier.get("draw_seed") == args.seed
                and old.get("precision") == args.precision and old.get("checkpoint_sha256") == _sha(Path(folder))):
            print(f"{name}: kept from {args.out} (same checkpoint, precision and draws)")
            runs[name] = old
        else:
            runs[name] = evaluate_checkpoint(Path(folder), args.draws, args.seed, args.precision, args.threads)
    result = {
        "benchmark": "stochastic_ipnet",
        "what": "accuracy on the whole test set in the median mode (an idealisation) and under stochastic firing "
                "(recorded draws per neuron and step), with each MTJ layer's coin-flip fraction (0.05 < p < 0.95)",
        "provenance": "computed: PyTorch twin (models.stochastic.evaluate_firing)",
        "draws": args.draws, "draw_seed": args.seed, "runs": runs,
        "precision": args.precision,
        "targets": {"stochastic_mean_accuracy_min": 0.95, "draws_min": 10},
        "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads, "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(), "torch": torch.__version__},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
