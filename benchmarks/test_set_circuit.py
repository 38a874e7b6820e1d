"""The whole test set at circuit level: the bundled IPNet exported with the default mapping, every test sample
simulated in ngspice (crossbars as port models, 2 workers), the circuit's accuracy and interval beside the PyTorch
twin's, the agreement contract over every neuron-step, and the wall time.

``--hardware-aware``: the same on a non-ideal chip (``_bench.hardware_options``: 4-bit devices, 5 % variation, 1 ohm
wires, 128 x 128 tiles): the bundled IPNet is fine-tuned through that hardware (``finetune_hardware``, 3 epochs, a new
chip per mini-batch; kept in the work folder) and exported on chip 0; the twin is then the PyTorch hardware model of
the exported chip.

    python benchmarks/test_set_circuit.py [--checkpoint CK] [--hardware-aware] [--workers 2] [--simulator ngspice]
        [--work /tmp/ipnet-bench-testset] [--out benchmarks/data/test_set_circuit.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled IPNet")
    parser.add_argument("--hardware-aware", action="store_true",
                        help="fine-tune for and export on the non-ideal chip of _bench.hardware_options")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simulator", default="ngspice", choices=("ngspice", "vacask"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-bench-testset"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/test_set_circuit.json"))
    parser.add_argument("--resume", action="store_true",
                        help="keep the work folder: the circuit runs come from its cache (their simulator times are "
                             "the recorded ones; the wall time is then not a measurement and is left out)")
    args = parser.parse_args()
    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.models.checkpoint import pretrained_dir, resolve_checkpoint_path
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    from ipnet_cosim.simulation.inputs import count_test_samples
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    checkpoint = args.checkpoint or pretrained_dir("ipnet_default")
    export = args.work / "export"
    options, finetune = MappingOptions(), None
    if args.hardware_aware:
        from _bench import hardware_options
        from ipnet_cosim.chip.finetune import finetune_hardware
        options = hardware_options()
        tuned = args.work / "finetuned"
        if not (tuned / "checkpoint.pt").is_file():
            finetune = finetune_hardware(checkpoint, tuned, options, epochs=3, seed=0,
                                         log=lambda msg: print(f"finetune: {msg}", flush=True))
        checkpoint = tuned
    if not (args.resume and (export / "manifest.json").is_file()):
        shutil.rmtree(export, ignore_errors=True)
        export_network(checkpoint, export, options=options)
    n_test = count_test_samples(read_export(export))
    t0 = time.perf_counter()
    res = simulate_export(export, samples=list(range(n_test)), workers=args.workers, progress=True,
                          simulator=args.simulator)
    wall = time.perf_counter() - t0
    s, torch = res.summary, res.summary.torch
    assert torch is not None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "benchmark": "test_set_circuit",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "ngspice": ngspice_version()},
        "provenance": "simulated (circuit: ngspice) and computed (twin: PyTorch, exact precision) on the same samples",
        "checkpoint": {"name": Path(checkpoint).name, "sha256": sha256_file(resolve_checkpoint_path(checkpoint))},
        "mapping": "hardware-aware: fine-tuned for and exported on a non-ideal chip" if args.hardware_aware else
                   "default (ideal synapses)",
        "hardware": options.to_dict() if args.hardware_aware else None,
        "network_accuracy_without_crossbars": torch.network_accuracy,
        "finetune_seconds": round(finetune["finetune_seconds"], 1) if finetune else None,
        "simulator": args.simulator, "workers": args.workers, "samples": s.samples,
        "firing": s.firing.note,
        "circuit_accuracy": s.accuracy, "circuit_accuracy_ci95": list(s.accuracy_ci95),
        "twin_accuracy": torch.accuracy, "classes_agree": torch.classes_agree,
        "agreement_margin": torch.agreement_margin, "agreement_contract_holds": torch.contract_holds,
        "all_spikes_equal": torch.all_spikes_equal,
        "layers": [{"layer": layer.layer, "neuron_steps": layer.neuron_steps,
                    **{k: v for k, v in layer.compared.to_dict().items()
                       if k in ("mismatches", "mismatches_tie", "mismatches_downstream",
                                "mismatches_outside_tolerance", "closest_margin", "largest_mismatch_margin")}}
                   for layer in s.layers if layer.compared is not None],
        "simulator_time_per_sample_s": s.sim_time_per_sample_s,
        "runs_cached": s.runs_cached, "runs_simulated": s.runs_simulated,
    }
    if s.runs_cached == 0:
        result.update({"wall_s": wall, "simulation_wall_s": s.wall_time_s,
                       "wall_per_sample_s": s.wall_time_s / s.samples,
                       "worker_cpu_s": children.ru_utime + children.ru_stime})
    else:
        result["wall_note"] = ("the circuit runs came from the cache of an earlier run of this script (--resume); "
                               "their simulator time is the recorded one, the wall time was not measured")
    print(json.dumps(result, indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
