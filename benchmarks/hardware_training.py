"""Benchmark: hardware-aware fine-tuning of the default IPNet, checked across chips and at circuit level (issue 16).

Hardware: 4-bit devices (16 levels), 5 % lognormal device-to-device variation, 1 ohm wire segments,
G in [1 uS, 1 mS], tiles of 128 x 128 (the configuration of ``benchmarks/netlist_ipnet.py --modes nonideal``).
Stages (``--stages``; every stage reuses what an earlier run left in ``--work``, so an interrupted run resumes):

* ``finetune``: two fine-tunings of the bundled checkpoint with the same schedule and a new chip every
  mini-batch: ``aware`` through the exact model of the mapped circuit (quantization, variation and the IR drop
  of every tile's wires, ``chip.hardware_net``) and ``noise_only`` through quantization and variation
  without the wires (the common practice). Their wall time, and the time of training steps of the plain network
  and of the hardware model measured side by side on the same batches, give the cost against plain training.
* ``chips``: accuracy of the PyTorch hardware model (exact precision) on the whole test set, on the exported
  chip (variation seed 0) and on ``--chips`` chips never seen in training (seeds 1001...), for the bundled,
  ``noise_only`` and ``aware`` checkpoints: per chip, mean and standard deviation.
* ``circuit``: export with the hardware options and simulate in ngspice (port models) on ``--samples`` test
  samples spread over all classes: ``aware`` and ``noise_only`` on the exported chip (``--baseline`` adds the
  bundled checkpoint), ``aware`` on the first ``--circuit-chips`` unseen chips with ``--chip-samples`` samples.
  Per run: circuit accuracy, the hardware model's accuracy and class agreement on the same chip, the
  neuron-steps where circuit and model differ per layer, and the safe operating area measured from the waveforms.

    python benchmarks/hardware_training.py [--stages finetune,chips,circuit] [--workers 2]
                                           [--work benchmarks/results/hardware_training]
                                           [--out benchmarks/results/hardware_training.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from _bench import hardware_options

EVAL_CHIP_SEED0 = 1001          # unseen chips: 1001, 1002, ... (training chips have seeds >= 2**20)


def step_costs(checkpoint: Path, steps: int, batch_size: int) -> dict:
    """Seconds per training step (forward, backward, Adam) of the plain network and of the hardware model
    (a new chip each step), the same batches, alternating, after one warm-up step of each."""
    import numpy as np
    import torch
    from torch import nn
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.chip.hardware_net import HardwareNet
    ck = load_checkpoint(checkpoint)
    model = ck.model.set_precision("train").train()
    hw = HardwareNet(model, hardware_options())
    train_set, _ = load_dataset(DataConfig.from_dict(ck.data_config))
    opt = torch.optim.Adam(model.parameters(), lr=1e-9)
    times: dict[str, list[float]] = {"plain": [], "hardware": []}
    for k in range(steps + 1):
        idx = np.arange(k * batch_size, (k + 1) * batch_size) % len(train_set.labels)
        x = torch.from_numpy(np.ascontiguousarray(train_set.frames[idx]))
        y = torch.from_numpy(train_set.labels[idx]).long()
        for name, net in (("plain", model), ("hardware", hw)):
            hw.chip_seed = 2 ** 20 + k
            t0 = time.perf_counter()
            loss = nn.functional.cross_entropy(net(x).float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if k:
                times[name].append(time.perf_counter() - t0)
    plain, hard = statistics.median(times["plain"]), statistics.median(times["hardware"])
    return {"plain_step_s": round(plain, 3), "hardware_step_s": round(hard, 3), "step_ratio": round(hard / plain, 2),
            "steps_timed": steps, "batch_size": batch_size, "source": "measured: median wall time per step, "
            "plain and hardware steps alternating on the same batches, torch threads as given"}


def finetune_stage(args, bundled: Path) -> dict:
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.chip.finetune import finetune_hardware
    from ipnet_cosim.netlist_gen.recorded_hardware import hardware_of
    out = {}
    for name, r_wire in (("aware", 1.0), ("noise_only", 0.0)):
        folder = args.work / name
        options = hardware_options(r_wire_ohm=r_wire)
        if not (folder / "checkpoint.pt").is_file():
            finetune_hardware(bundled, folder, options, epochs=args.epochs, lr=args.lr, seed=args.seed,
                              log=lambda msg, n=name: print(f"{n}: {msg}", flush=True))
        ck = load_checkpoint(folder)
        hw = hardware_of(ck.raw) or {}
        if hw.get("mapping_options") != options.to_dict() or hw.get("epochs") != args.epochs:
            raise SystemExit(f"{folder} holds a fine-tuning with other options or epochs; delete it or pass another "
                             f"--work")
        out[name] = {"checkpoint": str(folder), "finetune_seconds": round(ck.metrics["finetune_seconds"], 1),
                     "epochs": hw["epochs"], "lr": hw["lr"], "batch_size": hw["batch_size"],
                     "training_chips": hw.get("training_chips"),
                     "what": ("quantization, variation and the exact IR drop of the 1 ohm wires" if r_wire else
                              "quantization and variation only (no wires in the training model)")}
    out["step_costs"] = step_costs(bundled, args.cost_steps, 32)
    plain_json = Path("benchmarks/results/train_ipnet.json")
    if plain_json.is_file():
        plain = json.loads(plain_json.read_text(encoding="utf-8"))
        out["plain_training"] = {"wall_seconds_total": plain["wall_seconds_total"],
                                 "train_seconds": plain["train_seconds"], "source": f"measured: {plain_json}"}
        out["cost_ratio_measured"] = round(out["aware"]["finetune_seconds"] / plain["wall_seconds_total"], 2)
    from ipnet_cosim.models.train import TrainConfig
    plain_epochs = TrainConfig().epochs
    out["cost_ratio_computed"] = round(args.epochs * out["step_costs"]["step_ratio"] / plain_epochs, 2)
    out["cost_ratio_computed_source"] = (f"computed: {args.epochs} fine-tuning epochs x measured step ratio / "
                                         f"{plain_epochs} epochs of plain training (same data, same batch size)")
    return out


def chips_stage(args, bundled: Path) -> dict:
    import numpy as np
    import torch
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.train import evaluate
    from ipnet_cosim.chip.hardware_net import HardwareNet
    cache = args.work / "chips.json"
    done = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    seeds = [0] + [EVAL_CHIP_SEED0 + i for i in range(args.chips)]
    models = {"bundled": bundled, "noise_only": args.work / "noise_only", "aware": args.work / "aware"}
    for name, path in models.items():
        ck = load_checkpoint(path)
        _, test = load_dataset(DataConfig.from_dict(ck.data_config))
        model = ck.model.set_precision("exact").eval()
        hw = HardwareNet(model, hardware_options())
        sha = sha256_file(ck.path)
        entry = done.get(name) if done.get(name, {}).get("checkpoint_sha256") == sha else None
        entry = done[name] = entry or {"checkpoint_sha256": sha, "chips": {}}
        with torch.no_grad():
            if "network" not in entry:
                entry["network"] = evaluate(model, test.frames, test.labels)["accuracy"]
            for seed in seeds:
                if str(seed) in entry["chips"]:
                    continue
                hw.chip_seed = seed
                t0 = time.perf_counter()
                entry["chips"][str(seed)] = evaluate(hw, test.frames, test.labels)["accuracy"]
                print(f"{name}: chip {seed}: {entry['chips'][str(seed)]:.4f} ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
                cache.write_text(json.dumps(done, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        unseen = [entry["chips"][str(s)] for s in seeds[1:]]
        entry["unseen_mean"] = float(np.mean(unseen)) if unseen else None
        entry["unseen_std"] = float(np.std(unseen, ddof=1)) if len(unseen) > 1 else None
        entry["n_test"] = int(len(test.labels))
    cache.write_text(json.dumps(done, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {"models": done, "exported_chip_seed": 0, "unseen_chip_seeds": seeds[1:],
            "source": "computed: PyTorch hardware model (HardwareNet, exact precision: float64, 64/16 substeps) on "
                      "the whole synthetic 22-class test set; std with ddof=1 over the unseen chips"}


def circuit_run(name: str, checkpoint: Path, folder: Path, samples: list[int], seed: int, workers: int) -> dict:
    from ipnet_cosim.models.checkpoint import resolve_checkpoint_path
    from ipnet_cosim.netlist_gen.export import export_once
    from ipnet_cosim.simulation.simulate import simulate_export
    ck_path = resolve_checkpoint_path(checkpoint)
    export = folder / "export"
    notes: list[str] = []
    export_once(ck_path, export, samples=samples, options=hardware_options(seed=seed),
                progress=lambda msg: print(f"{name}: {msg}", flush=True), notify=notes.append)
    t0 = time.perf_counter()
    sim = simulate_export(export, samples=samples, workers=workers, progress=True, plots=0, soa="warn",
                          notify=notes.append)
    s, soa, torch = sim.summary, sim.soa, sim.summary.torch
    assert torch is not None
    return {"checkpoint": str(ck_path), "chip_seed": seed, "samples": samples, "export": str(export),
            "circuit_accuracy": s.accuracy, "hardware_model_accuracy": torch.accuracy,
            "network_accuracy": torch.network_accuracy, "classes_agree": torch.classes_agree,
            "circuit_no_decision": s.no_decision,
            "neuron_steps_differing": {t.layer: {"differ": t.compared.mismatches if t.compared else None,
                                                 "of": t.neuron_steps} for t in s.layers},
            "soa_within": soa["within"],
            "soa_layers": {c["layer"]: {"v_peak_v": c["v_peak_v"], "t_peak_k": c["t_peak_k"], "above": c["above"]}
                           for c in soa["layers"]},
            "sim_seconds_per_sample": round(s.sim_time_per_sample_s, 1),
            "wall_seconds": round(time.perf_counter() - t0, 1), "warnings": notes,
            "sources": {"circuit": "simulated (ngspice, port models of the tiles)",
                        "hardware_model": s.get("torch_model"), "soa": soa["source"]}}


def circuit_stage(args, bundled: Path, previous: dict) -> dict:
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset, spread_indices
    _, test = load_dataset(DataConfig.from_dict(load_checkpoint(bundled).data_config))
    samples = spread_indices(len(test.labels), args.samples)
    chip_samples = spread_indices(len(test.labels), args.chip_samples)
    runs = [("aware", args.work / "aware", samples, 0), ("noise_only", args.work / "noise_only", samples, 0)]
    if args.baseline:
        runs.append(("bundled", bundled, samples, 0))
    runs += [(f"aware_chip{EVAL_CHIP_SEED0 + i}", args.work / "aware", chip_samples, EVAL_CHIP_SEED0 + i)
             for i in range(args.circuit_chips)]
    out = dict(previous)
    for name, ck, smp, seed in runs:
        if out.get(name, {}).get("samples") == smp and out[name].get("chip_seed") == seed:
            continue                                         # done by an earlier run (its export is checked then)
        out[name] = circuit_run(name, ck, args.work / "circuit" / name, smp, seed, args.workers)
        out[name]["classes_covered"] = len({int(test.labels[i]) for i in smp})
        print(f"{name}: circuit {out[name]['circuit_accuracy']:.3f}, hardware model "
              f"{out[name]['hardware_model_accuracy']:.3f}, classes agree {out[name]['classes_agree']}/{len(smp)}, "
              f"SOA within {out[name]['soa_within']}", flush=True)
        _update(args.out, circuit=out)
    return out


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _update(path: Path, **entries) -> dict:
    """Merge ``entries`` into the JSON at ``path`` as it is now (stages may run in separate processes)."""
    data = {**_load(path), **entries}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default="finetune,chips,circuit")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled IPNet")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cost-steps", type=int, default=4, help="training steps timed per model for the cost ratio")
    parser.add_argument("--chips", type=int, default=5, help="unseen chips in the PyTorch evaluation")
    parser.add_argument("--samples", type=int, default=50, help="circuit samples on the exported chip")
    parser.add_argument("--circuit-chips", type=int, default=2, help="unseen chips simulated at circuit level")
    parser.add_argument("--chip-samples", type=int, default=20, help="circuit samples per unseen chip")
    parser.add_argument("--baseline", action="store_true", help="also simulate the bundled (not fine-tuned) checkpoint")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=2, help="parallel ngspice processes")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/results/hardware_training"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/hardware_training.json"))
    args = parser.parse_args()

    import torch
    import ipnet_cosim.models as models_pkg
    from ipnet_cosim.circuits.runner import ngspice_version
    torch.set_num_threads(args.threads)
    bundled = args.checkpoint or Path(models_pkg.__file__).parent / "pretrained" / "ipnet_default"
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = _update(args.out, benchmark="hardware_training", checkpoint=str(bundled),
                     hardware=hardware_options().to_dict(),
                     machine={"cpus": os.cpu_count(), "torch_threads": args.threads, "workers": args.workers,
                              "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                              "torch": torch.__version__, "ngspice": ngspice_version()})
    if "finetune" in stages:
        result = _update(args.out, finetune=finetune_stage(args, bundled))
    if "chips" in stages:
        result = _update(args.out, chips=chips_stage(args, bundled))
    if "circuit" in stages:
        result = _update(args.out, circuit=circuit_stage(args, bundled, result.get("circuit", {})))
    print(json.dumps({k: result.get(k) for k in ("finetune", "chips")}, indent=1, default=str)[:4000])


if __name__ == "__main__":
    main()
