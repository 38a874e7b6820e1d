"""Benchmark: characterize one neuron on the default device card (ngspice and PyTorch side by side).

Runs ``ipnet-cosim characterize`` (thermal step, R(V), switching probability vs current and temperature,
intrinsic plasticity through the bounded drive) and writes its JSON summary and the intrinsic-plasticity
figures the README quotes, with the time it took.

    python benchmarks/characterize_neuron.py [--trials 500] [--out benchmarks/data/characterize_neuron.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/characterize_neuron.json"))
    args = parser.parse_args()
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.models.characterize import run_characterization
    from ipnet_cosim.models.network import cold_threshold

    card = DeviceCard()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_characterization(Path(tmp), card, seed=args.seed, trials=args.trials)
    wall = time.perf_counter() - t0
    ip = res["plasticity"]
    i_th = cold_threshold(card)[0]
    result = {
        "benchmark": "characterize_neuron", "wall_seconds": round(wall, 1), "trials": args.trials,
        "summary": res["summary"],
        "cold_threshold_a": i_th, "cold_threshold_v": i_th * card.mtj.r_p_ohm,
        "drive_i_max_a": card.drive_i_max_a, "drive_v_compliance_v": card.drive.v_compliance_v(),
        "plasticity": {k: ip[k] for k in ("current_a_test", "current_a_conditioning", "drive", "delay_steps",
                                          "p_spice", "p_torch_expected", "baseline_p_spice",
                                          "t_rise_k_test_start_spice", "tau_fit_s_spice")},
        "sources": {"p_spice": "simulated (ngspice, stochastic mode)", "p_torch_expected": "computed (PyTorch)"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True, default=float) + "\n", encoding="utf-8")
    print(json.dumps({"cold_threshold_uA": i_th * 1e6, "i_max_uA": card.drive_i_max_a * 1e6,
                      "baseline_p": ip["baseline_p_spice"], "p_after_1_step": ip["p_spice"][0],
                      "wall_s": round(wall, 1)}, indent=2, default=float))


if __name__ == "__main__":
    main()
