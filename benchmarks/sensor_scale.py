"""An IPNet at DVS128 Gesture's resolution (128 x 128 pixels, 2 polarities): trained on the synthetic generator at
that resolution, exported, and one sample simulated at circuit level, with time and memory per layer.

The architecture is what a designer would choose to keep the frontier's crossbars small at this resolution: a
stride-8 8 x 8 convolution (non-overlapping patches: each of the 16 x 16 positions reads 128 pixel-polarities
and the bias into 8 heat-memory neurons), a 3 x 3 stride-2 convolution to 16 channels on 7 x 7 positions, a
64-neuron linear layer and the 22-class readout: 2,896 neurons against the default IPNet's 1,120 (32 x 32
input).

Stages and what each reports:

* data: the synthetic 22-class generator at 128 x 128 (``--train-per-class`` samples per class), time and size;
* training (``--epochs``, 2 torch threads): wall time, peak RSS of this process, test accuracy (exact precision);
* export (ideal mapping, port models): wall time, files and bytes per layer;
* simulation of sample 0 (``--workers`` ngspice or VACASK processes): wall time, simulator time, worker RSS
  and units per layer (``summary.layer_times`` of ``results.json``), spike agreement with PyTorch per layer.

Writes ``benchmarks/results/sensor_scale.json``. Everything is measured on this machine.

    python benchmarks/sensor_scale.py [--epochs 4] [--train-per-class 16] [--workers 2] [--simulator ngspice]
                                      [--work /tmp/ipnet-sensor] [--out benchmarks/results/sensor_scale.json]
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux: ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-per-class", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simulator", default="ngspice", choices=("ngspice", "vacask"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-sensor"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sensor_scale.json"))
    args = parser.parse_args()
    import torch
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.network_config import LayerSpec, NetworkConfig, layer_shapes
    from ipnet_cosim.models.train import TrainConfig, train
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export

    torch.set_num_threads(2)
    data = DataConfig(height=128, width=128, n_train_per_class=args.train_per_class,
                      n_test_per_class=max(2, args.train_per_class // 4),
                      n_val_per_class=max(2, args.train_per_class // 4))
    network = NetworkConfig(height=128, width=128, n_classes=22,
                            layers=(LayerSpec("conv", 8, kernel=8, stride=8), LayerSpec("conv", 16, kernel=3, stride=2),
                                    LayerSpec("linear", 64)))
    result: dict = {"benchmark": "sensor_scale",
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
                    "provenance": "measured on this machine: wall times, peak RSS (getrusage / VmRSS), accuracies",
                    "data": {"dataset": data.dataset, "height": 128, "width": 128, "n_bins": data.n_bins,
                             "train_per_class": data.n_train_per_class, "test_per_class": data.n_test_per_class},
                    "network": {"layers": [l.to_dict() for l in network.layers],
                                "shapes": [list(s) for s in layer_shapes(network)]}}
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    load_dataset(data)
    result["data"]["generation_s"] = time.perf_counter() - t0
    ckpt = args.work / "checkpoint"
    if ckpt.exists():
        shutil.rmtree(ckpt)
    t0 = time.perf_counter()
    metrics = train(ckpt, network, data, TrainConfig(epochs=args.epochs, threads=2, seed=0), progress_bar=False)
    result["training"] = {"epochs": args.epochs, "wall_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
                          "test_accuracy": metrics.get("test_accuracy_exact", metrics.get("test_accuracy")),
                          "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}}
    print(json.dumps(result["training"]), flush=True)
    export_dir = args.work / "export"
    if export_dir.exists():
        shutil.rmtree(export_dir)
    t0 = time.perf_counter()
    export_network(ckpt, export_dir, samples=[0])
    wall = time.perf_counter() - t0
    exp = read_export(export_dir, need_checkpoint=False)
    per_layer = []
    for layer in exp.manifest.layers:
        units = exp.manifest.units_of(layer.index)
        files = [exp.path(u.netlist) for u in units] + [exp.path(u.ports) for u in units]
        per_layer.append({"layer": layer.name, "type": layer.type, "unit": layer.unit, "units": len(units),
                          "neurons": int(sum(len(u.neurons) for u in units)),
                          "matrix_shape": list(layer.matrix_shape), "positions": layer.positions,
                          "devices": layer.devices,
                          "export_bytes": int(sum(f.stat().st_size for f in files if f.is_file()))})
    result["export"] = {"wall_s": wall, "layers": per_layer}
    print(json.dumps(result["export"]), flush=True)
    out = args.work / "sim"
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = simulate_export(export_dir, out=out, samples=[0], workers=args.workers, progress=False, compare=True,
                          simulator=args.simulator)
    s, torch = res.summary, res.summary.torch
    assert torch is not None
    result["simulation"] = {"simulator": args.simulator, "workers": args.workers, "sample": 0,
                            "wall_s": s.wall_time_s, "total_wall_with_pytorch_s": time.perf_counter() - t0,
                            "sim_time_s": s.sim_time_per_sample_s, "all_spikes_equal_pytorch": torch.all_spikes_equal,
                            "classes_agree": torch.classes_agree, "layer_times": [t.to_dict() for t in s.layer_times],
                            "spike_agreement": [{"layer": l.layer, "neuron_steps": l.neuron_steps,
                                                 "fire_rate": l.fire_rate,
                                                 "mismatches": l.compared.mismatches if l.compared else None,
                                                 "torch_fire_rate": l.compared.torch_fire_rate if l.compared else None}
                                                for l in s.layers],
                            "soa": {"within": res.soa_within,
                                    "layers": [{k: l[k] for k in ("layer", "v_peak_v", "t_peak_k")}
                                               for l in res.soa["layers"]]},
                            "main_process_peak_rss_mb": peak_rss_mb()}
    print(json.dumps(result["simulation"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
