"""Tile-size sweep: one crossbar tile with 1 ohm wire segments and a thermal MTJ neuron per weight column,
simulated flat (every wire segment, ngspice), reduced (exact port equivalent, ngspice) and reduced in
VACASK; wall times, speed-ups and waveform errors against the flat ngspice run.

A tile of ``N`` rows x ``N`` physical columns (``N/2`` differential weight columns and neurons), random
weights (seeded), random input spikes (30 % of the rows per step, bias row every step), ``--steps``
inference steps (3 ns each). Errors vs flat ngspice (or reduced ngspice where flat is skipped), max over
neurons of ``max |diff| / peak``, separately for the temperature ``v(th<j>)`` and the input node
``v(a<j>)`` (which jumps when the MTJ switches, so a switching time shifted by a few ps shows up as a
large pointwise error); spikes compared at the read times.

    python benchmarks/tile_sweep.py [--sizes 16,32,64,128] [--flat-max 128] [--steps 16]
                                    [--out benchmarks/results/tile_sweep.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def build(n: int, model: str, steps: int, seed: int):
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.netlist_gen.mapping import (BIAS, LayerMatrix, MappingOptions, conductances, driver_sources,
                                                 layer_units, unit_circuit)
    card = DeviceCard()
    rng = np.random.default_rng(seed)
    rows, cols = n, n // 2
    w = rng.normal(0.0, 1.0, (rows, cols)) / np.sqrt(rows) * 2.5
    gather = np.array([list(range(rows - 1)) + [BIAS]])
    lm = LayerMatrix(w, gather, np.array([np.arange(cols)]), "sweep")
    opts = MappingOptions(tile_rows=rows, tile_cols=2 * cols, r_wire_ohm=1.0, wire_model=model)
    unit, = layer_units(0, lm, opts)
    gmap = conductances(lm, 0, 0, v_read_v=card.timing.v_read_v, current_scale_a=150e-6, options=opts, name="sweep")
    circuit = unit_circuit(unit, lm, gmap, unit_kind="heat", card=card, fast_card=card, n_steps=steps,
                           options=opts, title=f"tile sweep {n} {model}")
    spikes = (np.random.default_rng(seed + 1).random((steps, rows - 1)) < 0.3).astype(float)
    keep = [e for e in circuit.elements if not e.name.startswith(("Vx", "Rd"))]
    drivers = driver_sources(unit, lm, opts, card, spikes)
    saves = tuple(f"v({x}{j})" for j in range(cols) for x in ("th", "a", "st"))
    return dataclasses.replace(circuit, elements=tuple(keep) + tuple(drivers), saves=saves), card, cols


def run(sim: str, circuit, osdi: str):
    if sim == "ngspice":
        from ipnet_cosim.circuits.runner import run_netlist
        from ipnet_cosim.netlist_gen.ngspice import format_ngspice
        text = format_ngspice(circuit, osdi_path=osdi, control=("run",))
        t0 = time.perf_counter()
        waves = run_netlist(text, [osdi])
    else:
        from ipnet_cosim.circuits.vacask_runner import run_vacask
        from ipnet_cosim.netlist_gen.vacask import format_vacask
        text = format_vacask(circuit, Path(osdi).name)
        t0 = time.perf_counter()
        waves = run_vacask(text, [osdi])
    return waves, time.perf_counter() - t0


def compare(ref, other, card, cols, steps):
    """Max over neurons of max|diff|/peak for the temperature (th) and the input node (a), and spikes equal."""
    t_read = np.arange(steps) * card.timing.t_step_s + card.timing.t_read_s
    worst = {"th": 0.0, "a": 0.0}
    same = True
    for j in range(cols):
        for x in ("th", "a"):
            a = ref[f"{x}{j}"]
            b = np.interp(ref.time_s, other.time_s, other[f"{x}{j}"])
            worst[x] = max(worst[x], float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)))
        same &= bool(np.array_equal(ref.at(f"st{j}", t_read) > 0.5, other.at(f"st{j}", t_read) > 0.5))
    return worst, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32,64,128")
    parser.add_argument("--flat-max", type=int, default=128, help="largest size run flat (the slow reference)")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tile_sweep.json"))
    args = parser.parse_args()
    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.device.compiler import compile_va
    osdi = str(compile_va())
    result = {"benchmark": "tile_sweep", "steps": args.steps, "r_wire_ohm": 1.0,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "ngspice": ngspice_version()},
              "provenance": "measured wall time of one simulator run each (after a warm-up); errors vs flat ngspice",
              "sizes": []}
    for n in [int(s) for s in args.sizes.split(",")]:
        entry: dict = {"rows": n, "physical_columns": n, "neurons": n // 2}
        flat, card, cols = build(n, "ladder", args.steps, args.seed)
        red, _, _ = build(n, "reduced", args.steps, args.seed)
        run("ngspice", build(8, "reduced", 2, 0)[0], osdi)               # warm-up (session, library load)
        ref = None
        if n <= args.flat_max:
            ref, entry["flat_ngspice_s"] = run("ngspice", flat, osdi)
        waves_r, entry["reduced_ngspice_s"] = run("ngspice", red, osdi)
        waves_v, entry["reduced_vacask_s"] = run("vacask", red, osdi)
        base = ref if ref is not None else waves_r
        entry["reference"] = "flat ngspice" if ref is not None else "reduced ngspice"
        for name, w in (("reduced_ngspice", waves_r), ("reduced_vacask", waves_v)):
            if w is base:
                continue
            err, same = compare(base, w, card, cols, args.steps)
            entry[f"{name}_temperature_error_over_peak"] = err["th"]
            entry[f"{name}_input_voltage_error_over_peak"] = err["a"]
            entry[f"{name}_spikes_equal"] = same
        if ref is not None:
            entry["speedup_reduced_vs_flat"] = entry["flat_ngspice_s"] / entry["reduced_ngspice_s"]
        result["sizes"].append(entry)
        print(json.dumps(entry), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
