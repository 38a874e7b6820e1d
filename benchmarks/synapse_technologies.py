"""Benchmark: the default IPNet on each synapse technology card (issue 17).

For every configuration (a preset card of ``ipnet_cosim.device.synapse`` and a number of bit slices), with the
mapping's other defaults (128 x 128 tiles, no wire resistance, the exported chip's variation seed 0):

* accuracy of the PyTorch hardware model (``HardwareNet``: the card's range, levels, slices and variation;
  exact precision) on the whole test set, computed;
* ``--samples`` test samples exported and simulated in ngspice (port models): circuit accuracy and class
  agreement with the hardware model, energy per inference and its crossbar read and input-driver parts, from
  the report (simulated / computed from the port model), and the safe operating area;
* area from the same report: crossbar cells (devices x the card's cell) and the network total, and per weight.

    python benchmarks/synapse_technologies.py [--samples 4] [--workers 2] [--configs ideal:1,stt_mram:4]
                                              [--work benchmarks/results/synapse_technologies]
                                              [--out benchmarks/results/synapse_technologies.json]

With ``--ablations card:slices,...`` the hardware model of those configurations is also evaluated without
the card's device variation (what the levels alone cost). With ``--finetune card:slices,...`` the bundled
checkpoint is also fine-tuned for those configurations (``finetune_hardware``: 3 epochs, a new chip every
mini-batch) and its hardware model evaluated on the whole test set, on the exported chip and on two
unseen chips (variation seeds 1001, 1002), computed.

Every configuration's results are kept in ``--out`` as they finish; a rerun skips configurations already
there with the same samples (delete the entry to measure it again).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

CONFIGS = "ideal:1,rram_1t1r:1,rram_1t1r:2,pcm:1,stt_mram:1,stt_mram:4"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_config(name: str, slices: int, args, bundled: Path, samples: list[int]) -> dict:
    import numpy as np
    import torch
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.train import evaluate
    from ipnet_cosim.netlist_gen.export import export_once
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.simulation.simulate import simulate_export
    card = synapse_card(name)
    options = MappingOptions.for_synapse(card, seed=0, conductance_overrides={"slices": slices} if slices > 1 else {})
    ck = load_checkpoint(bundled)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    model = ck.model.set_precision("exact").eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        acc = evaluate(HardwareNet(model, options), test.frames, test.labels)["accuracy"]
    t_acc = time.perf_counter() - t0
    print(f"{name} x{slices}: hardware model {acc:.4f} on {len(test.labels)} ({t_acc:.0f} s)", flush=True)
    folder = args.work / f"{name}_s{slices}"
    export = folder / "export"
    export_once(bundled, export, samples=samples, options=options)
    t1 = time.perf_counter()
    sim = simulate_export(export, samples=samples, workers=args.workers, progress=True, plots=0, soa="warn")
    wall = time.perf_counter() - t1
    report, _ = build_report(export)
    s, torch = sim.summary, sim.summary.torch
    energy, area = report["energy"], report["area"]
    weights = sum(int(np.prod(layer["matrix_shape"])) * int(layer["positions"])
                  for layer in json.loads((export / "manifest.json").read_text())["layers"])
    per_inference = energy["total"]["value"]
    return {
        "card": name, "technology": card.technology_label, "slices": slices,
        "cells_per_weight": 2 * slices, "weight_levels": options.conductance.weight_levels,
        "g_range_s": [card.g_off_s, card.g_on_s], "levels_per_cell": card.levels,
        "d2d_sigma_rel": card.d2d_sigma_rel, "d2d_sigma_s": card.d2d_sigma_s,
        "hardware_model_accuracy_test_set": acc, "n_test": int(len(test.labels)),
        "samples": samples, "circuit_accuracy": s.accuracy, "hardware_model_accuracy_samples":
            torch.accuracy if torch else None, "classes_agree": torch.classes_agree if torch else None,
        "neuron_steps_differing": {layer.layer: layer.compared.mismatches if layer.compared else None
                                   for layer in s.layers},
        "energy_per_inference_j": per_inference,
        "crossbar_read_j": energy["totals"]["crossbar_read"]["value"],
        "input_drivers_j": energy["totals"]["input_drivers"]["value"],
        "neuron_heating_j": energy["totals"]["neuron_heating"]["value"],
        "weights": weights, "crossbar_read_per_weight_j": energy["totals"]["crossbar_read"]["value"] / weights,
        "crossbar_cells_m2": area["breakdown"]["crossbar_cells"]["value"], "area_total_m2": area["total"]["value"],
        "crossbar_area_per_weight_m2": area["breakdown"]["crossbar_cells"]["value"] / weights,
        "soa_within": bool(report["soa"]["within"]), "soa_verdict": report["soa"]["verdict"],
        "sim_wall_seconds": round(wall, 1), "accuracy_seconds": round(t_acc, 1),
        "sources": {"hardware_model_accuracy_test_set": "computed: PyTorch hardware model (exact precision) of the "
                                                        "exported chip, whole synthetic 22-class test set",
                    "circuit": "simulated: ngspice 46, port models of the tiles",
                    "energy": "simulated and computed (report.json of the export: neuron heating simulated; crossbar "
                              "read and input drivers computed exactly from the port model)",
                    "area": "computed: devices x the card's cell area plus the periphery of energy/area.py "
                            "(every figure cited or assumed in report.json)"},
    }


def ablation_config(name: str, slices: int, bundled: Path) -> dict:
    """The hardware model of a card without its device variation (range, levels and slices only)."""
    import torch
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.train import evaluate
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    over = {"variation_sigma": 0.0, "variation_sigma_s": 0.0, **({"slices": slices} if slices > 1 else {})}
    options = MappingOptions.for_synapse(synapse_card(name), seed=0, conductance_overrides=over)
    ck = load_checkpoint(bundled)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    with torch.no_grad():
        acc = evaluate(HardwareNet(ck.model.set_precision("exact").eval(), options), test.frames, test.labels)
    print(f"{name} x{slices} without variation: {acc['accuracy']:.4f}", flush=True)
    return {"card": name, "slices": slices, "hardware_model_accuracy_test_set": acc["accuracy"],
            "source": "computed: PyTorch hardware model (exact precision), the card's range, levels and slices with "
                      "its device variation switched off, whole test set"}


def finetune_config(name: str, slices: int, args, bundled: Path) -> dict:
    import torch
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.train import evaluate
    from ipnet_cosim.chip.finetune import finetune_hardware
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    options = MappingOptions.for_synapse(synapse_card(name), seed=0,
                                         conductance_overrides={"slices": slices} if slices > 1 else {})
    out = args.work / f"finetuned_{name}_s{slices}"
    t0 = time.perf_counter()
    if not (out / "checkpoint.pt").is_file():
        finetune_hardware(bundled, out, options, epochs=3, lr=2e-3, batch_size=32, variation="per_batch", seed=0,
                          log=print)
    wall = time.perf_counter() - t0
    ck = load_checkpoint(out)
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    model = ck.model.set_precision("exact").eval()
    hw = HardwareNet(model, options)
    chips = {}
    with torch.no_grad():
        for seed in (0, 1001, 1002):
            hw.chip_seed = seed
            chips[str(seed)] = evaluate(hw, test.frames, test.labels)["accuracy"]
            print(f"finetuned {name} x{slices}: chip {seed}: {chips[str(seed)]:.4f}", flush=True)
    return {"card": name, "slices": slices, "epochs": 3, "wall_seconds": round(wall, 1), "checkpoint": str(out),
            "hardware_model_accuracy_by_chip": chips,
            "source": "computed: PyTorch hardware model (exact precision) of the fine-tuned checkpoint, whole test "
                      "set; chip 0 = the exported chip, 1001/1002 never seen in training (training chips >= 2^20)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=CONFIGS, help="card:slices,... (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=4, help="circuit samples per configuration")
    parser.add_argument("--finetune", default="", help="card:slices,... also fine-tuned for (e.g. rram_1t1r:1)")
    parser.add_argument("--ablations", default="", help="card:slices,... also evaluated without device variation")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/results/synapse_technologies"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/synapse_technologies.json"))
    args = parser.parse_args()
    import torch
    import ipnet_cosim.models as models_pkg
    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset, spread_indices
    torch.set_num_threads(args.threads)
    bundled = Path(models_pkg.__file__).parent / "pretrained" / "ipnet_default"
    _, test = load_dataset(DataConfig.from_dict(load_checkpoint(bundled).data_config))
    samples = spread_indices(len(test.labels), args.samples)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = _load(args.out)
    result.update({"benchmark": "synapse_technologies", "checkpoint": str(bundled),
                   "machine": {"cpus": os.cpu_count(), "workers": args.workers, "torch_threads": args.threads,
                               "platform": platform.platform(), "torch": torch.__version__,
                               "ngspice": ngspice_version()},
                   "mapping": "128 x 128 tiles, no wire resistance, variation seed 0 (the exported chip)"})
    runs = result.setdefault("configs", {})
    for item in args.configs.split(","):
        name, _, sl = item.strip().partition(":")
        key = f"{name}:{int(sl or 1)}"
        if runs.get(key, {}).get("samples") == samples:
            print(f"{key}: done earlier", flush=True)
            continue
        runs[key] = run_config(name, int(sl or 1), args, bundled, samples)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        r = runs[key]
        print(f"{key}: circuit {r['circuit_accuracy']:.3f}, energy/inference {r['energy_per_inference_j']:.3e} J, "
              f"crossbar cells {r['crossbar_cells_m2'] * 1e12:.1f} um^2", flush=True)
    ablated = result.setdefault("without_variation", {})
    for item in [x for x in args.ablations.split(",") if x.strip()]:
        name, _, sl = item.strip().partition(":")
        key = f"{name}:{int(sl or 1)}"
        if key not in ablated:
            ablated[key] = ablation_config(name, int(sl or 1), bundled)
            args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tuned = result.setdefault("finetuned", {})
    for item in [x for x in args.finetune.split(",") if x.strip()]:
        name, _, sl = item.strip().partition(":")
        key = f"{name}:{int(sl or 1)}"
        if key not in tuned:
            tuned[key] = finetune_config(name, int(sl or 1), args, bundled)
            args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
