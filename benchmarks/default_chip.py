"""Benchmark: which synapse technology is the default chip (issue 32).

For each configuration (a synapse preset, its bit slices and its devices per cell), on the chip the mapping builds
from it (the card's range, levels and device-to-device variation; 128 x 128 tiles unless the configuration names
another size, ``card:slices:tile``; the chip's devices in parallel per cell, ``chip_copies``, unless the configuration
names them, ``card:slices[:tile]xC``; wire resistance per cell segment derived from the
28 nm interconnect figures of ``ipnet_cosim.device.interconnect`` and the card's cell):

1. the start network before fine-tuning (``--start``, a bundled network: ``ipnet_default``, the paper network, or
   ``ipnet_stochastic``, that network trained on for stochastic firing with the coin-flip penalty, ideal weights):
   PyTorch hardware model, whole test set, stochastic firing, the exported chip (variation seed 0);
2. hardware-aware fine-tuning for that chip under stochastic firing (``finetune_hardware``: ``--epochs`` at Adam
   ``--lr`` with ``--schedule`` and ``--coin-flip-penalty``, a new chip every mini-batch, variation seeds >= 2^20),
   then the hardware model on the exported chip and on ``--chips``
   chips never seen in training (variation seeds 1..5), whole test set, one recorded draw per sample and chip
   (draw seed = the chip's seed), computed.

``--calibrate N`` adds, per chip, its first-layer mirror-gain trim (``chip.calibrate``: a 6-bit trim DAC in
0.25 % steps, codes chosen by ``--calibrate-objective`` (accuracy, ties by cross-entropy) on N training samples, never
the test set, ``--calibrate-draws`` (1) recorded draws per sample, draw seed 1000 + the chip's seed) and the
trimmed chip's accuracy on the whole test set as above (``trimmed_by_chip``).

``--report`` adds, per configuration, the fine-tuned network exported on the chip and run by the twin on
``--samples`` test samples: energy per inference, area (with the periphery sized from the currents) and read
energy per weight, from ``report.json`` (computed, the twin's port model and neuron step).

    python benchmarks/default_chip.py [--configs rram_1t1r:1,pcm:1,pcm:1x1,stt_mram:4] [--chips 5] [--report]
                                      [--start ipnet_stochastic --epochs 12 --schedule cosine --coin-flip-penalty 0.3]
                                      [--work benchmarks/results/default_chip] [--out benchmarks/data/default_chip.json]

Results are kept in ``--out`` as each step finishes; a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

CONFIGS = "stt_mram:4,pcm:1x1,pcm:1,rram_1t1r:1"
# the recipe of entries measured before the recipe was recorded in full
_OLD_RECIPE = {"start_checkpoint": "models/pretrained/ipnet_default", "schedule": "constant", "coin_flip_penalty": 0.0}


def parse_config(item: str) -> tuple[str, int, int, int | None]:
    """``card[:slices[:tile]][xC]`` -> (card, slices, tile rows = cols, devices per cell); defaults 1 slice,
    128 x 128 tiles, the chip's devices per cell (None)."""
    item, _, copies = item.strip().partition("x")
    parts = item.split(":")
    return (parts[0], int(parts[1]) if len(parts) > 1 and parts[1] else 1, int(parts[2]) if len(parts) > 2 else 128,
            int(copies) if copies else None)


def config_key(name: str, slices: int, tile: int, copies: int) -> str:
    """The configuration's key in the results: ``card:slices``, ``:tile`` unless 128, ``xC`` unless one device."""
    return f"{name}:{slices}" + (f":{tile}" if tile != 128 else "") + (f"x{copies}" if copies != 1 else "")


def _save(path: Path, result: dict) -> None:
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def chip_options(name: str, slices: int, tile: int, copies: int | None = None):
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    return MappingOptions.for_chip(synapse_card(name), slices=slices, copies=copies, tile_rows=tile, tile_cols=tile)


def trimmed(checkpoint: Path, options, chip: int, samples: int, draws: int = 1, objective: str = "accuracy") -> dict:
    """The chip calibrated on ``samples`` training samples (``draws`` draws each, ``objective``), then its accuracy
    on the test set."""
    from ipnet_cosim.chip.calibrate import calibrate_checkpoint
    t0 = time.perf_counter()
    cal = calibrate_checkpoint(checkpoint, options, samples=samples, chip_seed=chip, draw_seed=1000 + chip,
                               draws=draws, objective=objective)
    seconds = time.perf_counter() - t0
    return {"gain_trims": list(cal.gain_trims), "codes": list(cal.codes), "calibration_samples": cal.samples,
            "calibration_draws": draws, "calibration_objective": objective,
            "calibration_scores": [{"code": e["codes"][0], "accuracy": e["accuracy"],
                                    "cross_entropy": e["cross_entropy"]} for e in cal.to_dict()["evaluations"]],
            "calibration_accuracy_untrimmed": cal.accuracy_untrimmed,
            "calibration_accuracy_trimmed": cal.accuracy_trimmed, "calibration_evaluations": len(cal.evaluations),
            "calibration_seconds": round(seconds, 1), "accuracy": accuracy(checkpoint, cal.apply(options), chip)}


def accuracy(checkpoint: Path, options, chip: int) -> float:
    import torch
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.stochastic import evaluate_firing
    from ipnet_cosim.chip.hardware_net import HardwareNet
    ck = load_checkpoint(checkpoint)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    hw = HardwareNet(ck.model.set_precision("exact").eval(), options)
    hw.chip_seed = chip
    with torch.no_grad():
        out = evaluate_firing(hw, test.frames, test.labels, Firing("stochastic", seed=chip, draws=1))
    return float(out["accuracy"]["mean"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=CONFIGS)
    parser.add_argument("--chips", type=int, default=5, help="unseen chips per configuration (seeds 1..N)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the fine-tuning")
    parser.add_argument("--start", default="ipnet_default", help="bundled network fine-tuned (models/pretrained)")
    parser.add_argument("--schedule", default="constant", help="learning rate: constant | cosine")
    parser.add_argument("--coin-flip-penalty", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="also export and run the twin for energy and area")
    parser.add_argument("--report-only", action="store_true", help="only the energy and area of each chip (the "
                        "fine-tuned network where it exists, else the paper network), nothing trained")
    parser.add_argument("--calibrate", type=int, default=0, help="also trim every chip, calibrated on this many "
                        "training samples (0: off)")
    parser.add_argument("--calibrate-draws", type=int, default=1, help="--calibrate: recorded draws per sample")
    parser.add_argument("--calibrate-objective", default="accuracy", help="--calibrate: accuracy | cross_entropy")
    parser.add_argument("--samples", type=int, default=22, help="--report: test samples run by the twin")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/results/default_chip"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/default_chip.json"))
    args = parser.parse_args()
    import numpy as np
    import torch
    from ipnet_cosim.models.checkpoint import pretrained_dir
    from ipnet_cosim.chip.finetune import finetune_hardware
    torch.set_num_threads(args.threads)
    paper = pretrained_dir(args.start)
    recipe = {"start_checkpoint": f"models/pretrained/{args.start}", "lr": args.lr, "epochs": args.epochs,
              "grad_clip": 1.0, "schedule": args.schedule, "coin_flip_penalty": args.coin_flip_penalty}
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    result.pop("start_checkpoint", None)                 # per configuration (its recipe)
    result.update({"benchmark": "default_chip",
                   "firing": "stochastic (one recorded draw per sample and chip, draw seed = chip seed)",
                   "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads, "platform": platform.platform(),
                               "torch": torch.__version__}})
    configs = result.setdefault("configs", {})
    for item in args.configs.split(","):
        name, slices, tile, copies = parse_config(item)
        options = chip_options(name, slices, tile, copies)
        copies = options.conductance.copies
        key = config_key(name, slices, tile, copies)
        fresh = {"card": name, "slices": slices, "tile": tile, "copies": copies}
        entry = configs.setdefault(key, dict(fresh))
        if not args.report_only and any(entry.get(k, _OLD_RECIPE.get(k)) != v for k, v in recipe.items()):
            entry = configs[key] = dict(fresh)                                      # another recipe: measure again
        if not args.report_only:
            entry.update(recipe)
        entry["copies"] = copies
        entry["r_wire_ohm"] = options.r_wire_ohm
        entry["weight_levels"] = options.conductance.weight_levels
        out = args.work / (f"finetuned_{name}_s{slices}" + (f"_t{tile}" if tile != 128 else "")
                           + (f"_c{copies}" if copies != 1 else "")
                           + f"_lr{args.lr:g}_e{args.epochs}_clip"
                           + ("" if args.start == "ipnet_default" else f"_{args.start}")
                           + ("" if args.schedule == "constant" else f"_{args.schedule}")
                           + (f"_cf{args.coin_flip_penalty:g}" if args.coin_flip_penalty else ""))
        if args.report_only:
            entry["report"] = chip_report(out if (out / "checkpoint.pt").is_file() else paper, options, args)
            _save(args.out, result)
            continue
        if "before_finetune_chip0" not in entry:
            entry["before_finetune_chip0"] = accuracy(paper, options, 0)
            print(f"{key}: before fine-tuning, chip 0: {entry['before_finetune_chip0']:.4f}", flush=True)
            _save(args.out, result)
        if not (out / "checkpoint.pt").is_file():
            t0 = time.perf_counter()
            finetune_hardware(paper, out, options, epochs=args.epochs, lr=args.lr, batch_size=32,
                              variation="per_batch", seed=0, log=print, firing="stochastic",
                              schedule=args.schedule, coin_flip_penalty=args.coin_flip_penalty)
            entry["finetune_seconds"] = round(time.perf_counter() - t0, 1)
            _save(args.out, result)
        if "finetune_seconds" not in entry:        # fine-tuned by an earlier run: the seconds it recorded
            metrics = json.loads((out / "checkpoint.json").read_text(encoding="utf-8")).get("metrics", {})
            entry["finetune_seconds"] = round(float(metrics.get("finetune_seconds", float("nan"))), 1)
        chips = entry.setdefault("finetuned_by_chip", {})
        for chip in range(0, args.chips + 1):
            if str(chip) not in chips:
                t0 = time.perf_counter()
                chips[str(chip)] = accuracy(out, options, chip)
                print(f"{key}: fine-tuned, chip {chip}: {chips[str(chip)]:.4f} ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
                _save(args.out, result)
        unseen = [chips[str(c)] for c in range(1, args.chips + 1)]
        entry["unseen_chips_mean"] = float(np.mean(unseen))
        entry["unseen_chips_min"] = float(np.min(unseen))
        entry["source"] = ("computed: PyTorch hardware model (exact precision) of the chip, whole synthetic 22-class "
                           "test set (352), stochastic firing; chip 0 = the exported chip, 1..N never seen in training")
        _save(args.out, result)
        if args.calibrate:
            cal = entry.setdefault("trimmed_by_chip", {})
            how = (args.calibrate, args.calibrate_draws, args.calibrate_objective)
            if any((v.get("calibration_samples"), v.get("calibration_draws", 1),
                    v.get("calibration_objective", "accuracy")) != how for v in cal.values()):
                cal.clear()                                       # calibrated another way: again
            for chip in list(range(1, args.chips + 1)) + [0]:
                if str(chip) not in cal:
                    cal[str(chip)] = trimmed(out, options, chip, *how)
                    print(f"{key}: trimmed chip {chip}: {cal[str(chip)]}", flush=True)
                    _save(args.out, result)
            unseen = [cal[str(c)]["accuracy"] for c in range(1, args.chips + 1)]
            if unseen:
                entry["trimmed_unseen_chips_mean"] = float(np.mean(unseen))
                entry["trimmed_unseen_chips_min"] = float(np.min(unseen))
            entry["trim_source"] = (f"computed: each chip's first-layer mirror gain trimmed (6-bit DAC, 0.25 % "
                                    f"steps, chip.calibrate) by {args.calibrate_objective.replace('_', '-')} "
                                    f"on training samples, then the test set as above")
            _save(args.out, result)
        if args.report and "report" not in entry:
            entry["report"] = chip_report(out, options, args)
            _save(args.out, result)
    _save(args.out, result)


def chip_report(checkpoint: Path, options, args) -> dict:
    """Export the fine-tuned network on its chip and run the twin on ``args.samples`` samples spread over the test
    set: energy, area and read energy per weight from the report."""
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset, spread_indices
    from ipnet_cosim.netlist_gen.export import export_once
    from ipnet_cosim.simulation.simulate import simulate_export
    ck = load_checkpoint(checkpoint)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    samples = spread_indices(len(test.labels), args.samples)
    export = args.work / (f"export_{checkpoint.name}_{options.synapse.name}_s{options.conductance.slices}"
                          f"_c{options.conductance.copies}_t{options.tile_rows}")
    export_once(checkpoint, export, samples=samples, options=options, firing=Firing("stochastic", seed=0, draws=1))
    simulate_export(export, samples=samples, simulator="twin", progress=False, plots=0, soa="warn")
    report, _ = build_report(export)
    manifest = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
    weights = sum(int(layer["matrix_shape"][0]) * int(layer["matrix_shape"][1]) * int(layer["positions"])
                  for layer in manifest["layers"])
    energy, area = report["energy"], report["area"]
    read = energy["totals"]["crossbar_read"]["value"]
    return {"checkpoint": str(checkpoint), "samples": len(samples), "energy_per_inference_j": energy["total"]["value"],
            "crossbar_read_j": read, "read_energy_per_weight_j": read / weights, "weights": weights,
            "area_total_m2": area["total"]["value"],
            "area_breakdown_m2": {k: v["value"] for k, v in area["breakdown"].items()},
            "source": "computed: the twin (port model and neuron step) on samples spread over the test set; "
                      "area from the report (the card's cell, periphery sized from the currents)"}


if __name__ == "__main__":
    main()
