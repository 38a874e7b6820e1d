"""Benchmark: how the bundled IPNet on the default chip answers a gain error of its first layer (issue 32).

The first crossbar layer feeds IPNet's heat-memory neurons, which fire by thermal activation, steeply in their
current. This script scales that layer's weights and bias of ``ipnet_chip`` by a gain g (as a uniform error of
the layer's conductances, read voltage or mirror reference would) and measures the PyTorch hardware model of the
default chip (``MappingOptions.for_chip()``) over the whole test set, stochastic firing (one recorded draw, draw
seed = the chip's variation seed), on the exported chip (0) and unseen chips: computed.

    python benchmarks/gain_sensitivity.py [--gains 0.98,0.99,1,1.01,1.02] [--chips 0,2]
                                          [--out benchmarks/data/gain_sensitivity.json]

Results are kept in ``--out`` as each point finishes; a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gains", default="0.98,0.99,1,1.01,1.02")
    parser.add_argument("--chips", default="0,2", help="variation seeds of the chips (0: the exported chip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/gain_sensitivity.json"))
    args = parser.parse_args()
    import torch
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.models.checkpoint import BUNDLED, bundled_checkpoint_dir, load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.stochastic import evaluate_firing
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    torch.set_num_threads(args.threads)
    options = MappingOptions.for_chip()
    result = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    result.update({"benchmark": "gain_sensitivity", "checkpoint": f"models/pretrained/{BUNDLED}",
                   "chip": {"synapse": options.synapse.name, "copies": options.conductance.copies,
                            "tile": options.tile_rows, "r_wire_ohm": options.r_wire_ohm},
                   "firing": "stochastic (one recorded draw per sample, draw seed = chip seed)",
                   "source": "computed: PyTorch hardware model (exact precision), whole synthetic 22-class test set "
                             "(352); layer 0's weights and bias times the gain",
                   "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads, "platform": platform.platform(),
                               "torch": torch.__version__}})
    points = result.setdefault("accuracy", {})
    ck = load_checkpoint(bundled_checkpoint_dir())
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    for chip in (int(c) for c in args.chips.split(",")):
        for gain in (float(g) for g in args.gains.split(",")):
            key = f"chip {chip}, gain {gain:g}"
            if key in points:
                continue
            net = copy.deepcopy(ck.model).set_precision("exact").eval()      # the bundled weights, scaled below
            with torch.no_grad():
                for p in net.ops[0].op.parameters():
                    p.mul_(gain)
                hw = HardwareNet(net, options)
                hw.chip_seed = chip
                out = evaluate_firing(hw, test.frames, test.labels, Firing("stochastic", seed=chip, draws=1))
            points[key] = float(out["accuracy"]["mean"])
            print(f"{key}: {points[key]:.4f}", flush=True)
            args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
