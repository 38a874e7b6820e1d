"""The README's worked sweep examples on the default IPNet, each run with ``ipnet-cosim sweep`` on 2 cores.

``gmax-wire``: which largest conductance G_max keeps the accuracy for a given wire resistance? 16-level devices with
5 % variation (the non-ideal mapping whose circuit accuracy was 0.26), G_max 10 uS - 1 mS (5 values, log) x wire
segment 0 / 0.5 / 1 / 2 ohm, two chips per point, 20 test samples; the Pareto points verified in VACASK on 5 samples.

``card``: the heat memory's device knobs: thermal resistance R_th 0.7 / 1 / 1.4 MK/W x thermal capacitance C_th
1.5 / 3 / 6 fJ/K (tau_th = R_th C_th from 1.05 to 8.4 ns against the 3 ns step), ideal crossbars, 20 samples; first
the trained weights on each card as they are, then the same grid with one epoch of hardware-aware fine-tuning per
point (``[finetune]``).

``card-cool``: the hot row of ``card`` (R_th 1.4 MK/W, whose junctions leave the safe operating area) fine-tuned with
the junction-temperature penalty (``[finetune] t_max_penalty``): can fine-tuning bring it back below T_max, and at
what accuracy?

``card-drive``: the other lever for that junction: the drive's supply ``drive.v_dd_v`` 0.9 / 0.85 / 0.8 / 0.75 V (the
compliance v_dd - 0.15 V caps the current, and so the heat) at R_th 1.4 MK/W, C_th 3 fJ/K, each point fine-tuned for
one epoch on its own card.

``stochastic``: the device knobs that narrow the coin-flip band, ranked by the accuracy under the neurons' own
randomness (``[firing]`` stochastic, 3 recorded draws per sample): the thermal stability factor ``mtj.delta0``
40 / 50 / 60 (a steeper hazard per unit of current) x the drive's supply ``drive.v_dd_v`` 0.9 / 0.8 V (its ceiling),
44 test samples (2 per class), each point fine-tuned for one epoch under stochastic firing on its own card; per
point the accuracy per draw, the coin-flip fraction per layer and the energy per inference per draw. Written to
``benchmarks/data/sweep_stochastic.json`` (committed; the README quotes it).

Writes ``benchmarks/results/sweep_<example>.json``: the configuration, the wall time, and per point the parameters,
accuracy, energy per inference, SOA margins and (card) the fine-tuned accuracy; keeps the sweep folders in
``--work``.

    python benchmarks/sweep_examples.py gmax-wire|card|card-cool|card-drive [--work /tmp/ipnet-sweep-examples]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

GMAX_WIRE = """samples = 20
chips = 2
[parameters]
levels = [16]
variation_sigma = [0.05]
g_max_s = {min = 1e-5, max = 1e-3, n = 5, scale = "log"}
r_wire_ohm = [0.0, 0.5, 1.0, 2.0]
[verify]
samples = 5
simulator = "vacask"
"""

CARD = """samples = 20
[parameters]
mtj.r_th_k_per_w = [7e5, 1e6, 1.4e6]
mtj.c_th_j_per_k = [1.5e-15, 3e-15, 6e-15]
"""

CARD_FINETUNE = CARD + """[finetune]
epochs = 1
"""

CARD_COOL = """samples = 20
[parameters]
mtj.r_th_k_per_w = [1.4e6]
mtj.c_th_j_per_k = [1.5e-15, 3e-15, 6e-15]
[finetune]
epochs = 2
t_max_penalty = 30.0
"""

CARD_DRIVE = """samples = 20
[parameters]
mtj.r_th_k_per_w = [1.4e6]
mtj.c_th_j_per_k = [3e-15]
drive.v_dd_v = [0.9, 0.85, 0.8, 0.75]
[finetune]
epochs = 1
"""

STOCHASTIC = """samples = 44
[parameters]
mtj.delta0 = [40.0, 50.0, 60.0]
drive.v_dd_v = [0.9, 0.8]
[firing]
mode = "stochastic"
draws = 3
[finetune]
epochs = 1
"""


def run(config: str, folder: Path, workers: int = 2) -> tuple[dict, float]:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "sweep.toml"
    cfg.write_text(config)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ipnet_cosim.cli", "sweep", str(cfg), "-o", str(folder / "sweep"),
                           "--workers", str(workers)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the sweep in {folder} failed: {proc.stderr[-2000:]}")
    return json.loads((folder / "sweep" / "sweep.json").read_text()), wall


def rows(sweep: dict) -> list[dict]:
    keep = ("parameters", "accuracy_mean", "accuracy_chips", "accuracy_chip_draws", "accuracy_std_over_draws",
            "coin_flip_fraction", "energy_per_inference_j", "energy_per_inference_draws_j",
            "energy_per_inference_std_over_draws_j", "energy_per_spike_j", "area_m2", "soa_within", "soa_margin_v",
            "soa_margin_k", "finetune", "verified")
    return [{"id": p["id"], **{k: p[k] for k in keep if k in p}, "pareto": p["id"] in sweep["pareto_ids"]}
            for p in sweep["points"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", choices=("gmax-wire", "card", "card-cool", "card-drive", "stochastic"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-sweep-examples"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--resume", action="store_true", help="keep the work folder (the sweep resumes its points)")
    args = parser.parse_args()
    work = args.work / args.example
    if not args.resume:
        shutil.rmtree(work, ignore_errors=True)
    result = {"benchmark": f"sweep_{args.example}",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "provenance": "measured: wall time of the CLI run on this machine; figures computed by the twin from "
                            "each "
                            "point's export, the verified points' circuit figures simulated"}
    if args.example == "stochastic":
        sweep, wall = run(STOCHASTIC, work, args.workers)
        result.update(config=STOCHASTIC, wall_s=wall, points=rows(sweep), pareto_ids=sweep["pareto_ids"],
                      firing=sweep["firing"], ranked_by="accuracy_mean: the mean over chips and recorded draws")
    elif args.example == "gmax-wire":
        sweep, wall = run(GMAX_WIRE, work)
        result.update(config=GMAX_WIRE, wall_s=wall, points=rows(sweep), pareto_ids=sweep["pareto_ids"])
    elif args.example in ("card-cool", "card-drive"):
        config = CARD_COOL if args.example == "card-cool" else CARD_DRIVE
        sweep, wall = run(config, work)
        result.update(config=config, wall_s=wall, points=rows(sweep), pareto_ids=sweep["pareto_ids"])
    else:
        plain, wall_plain = run(CARD, work / "as_trained")
        tuned, wall_tuned = run(CARD_FINETUNE, work / "finetuned")
        result.update(config=CARD, config_finetune=CARD_FINETUNE, wall_s=wall_plain, wall_s_finetune=wall_tuned,
                      points=rows(plain), points_finetune=rows(tuned), pareto_ids=plain["pareto_ids"],
                      pareto_ids_finetune=tuned["pareto_ids"])
    default = Path("benchmarks/data" if args.example == "stochastic" else "benchmarks/results")
    out = args.out or default / f"sweep_{args.example.replace('-', '_')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
