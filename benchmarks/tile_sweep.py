"""Tile-size sweep: one crossbar tile with 1 ohm wire segments and a thermal MTJ neuron per weight column,
simulated flat (every wire segment, ngspice), reduced (the exact port equivalent written as resistors,
ngspice and VACASK) and as the port model (PWL column currents, what ``simulate`` runs by default;
ngspice and VACASK); wall times, speed-ups and waveform errors against the flat ngspice run.

A tile of ``N`` rows x ``N`` physical columns (``N/2`` differential weight columns and neurons), random
weights (seeded), random input spikes (30 % of the rows per step, bias row every step), ``--steps``
inference steps (3 ns each). Errors vs flat ngspice (or reduced ngspice where flat is skipped), max over
neurons of ``max |diff| / peak`` (both directions), separately for the temperature ``v(th<j>)`` and the
input node ``v(a<j>)``: pointwise, and within a 1 ps and a 10 ps (the transient's maximum time step)
time tolerance (the input node jumps within
femtoseconds when an MTJ switches, so switching instants a few fs apart make a large pointwise error;
see :mod:`ipnet_cosim.circuits.compare`); the largest difference of the switching instants; spikes
compared at the read times.

    python benchmarks/tile_sweep.py [--sizes 16,32,64,128,256] [--flat-max 128] [--vacask-reduced-max 128]
                                    [--steps 16] [--out benchmarks/results/tile_sweep.json]
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
    from ipnet_cosim.netlist_gen.mapping import BIAS, LayerMatrix, MappingOptions, conductances, layer_units
    from ipnet_cosim.netlist_gen.unit_circuits import driver_sources, unit_circuit
    card = DeviceCard()
    rng = np.random.default_rng(seed)
    rows, cols = n, n // 2
    w = rng.normal(0.0, 1.0, (rows, cols)) / np.sqrt(rows) * 2.5
    gather = np.array([list(range(rows - 1)) + [BIAS]])
    lm = LayerMatrix(w, gather, np.array([np.arange(cols)]), "sweep")
    opts = MappingOptions(tile_rows=rows, tile_cols=2 * cols, r_wire_ohm=1.0,
                          wire_model="reduced" if model == "ports" else model)
    unit, = layer_units(0, lm, opts)
    gmap = conductances(lm, 0, 0, v_read_v=card.timing.v_read_v, current_scale_a=150e-6, options=opts, name="sweep")
    circuit = unit_circuit(unit, lm, gmap, unit_kind="heat", card=card, fast_card=card, n_steps=steps,
                           options=opts, title=f"tile sweep {n} {model}")
    spikes = (np.random.default_rng(seed + 1).random((steps, rows - 1)) < 0.3).astype(float)
    from ipnet_cosim.circuits.ir import Save
    saves = tuple(Save.v(f"{x}{j}") for j in range(cols) for x in ("th", "a", "st"))
    if model == "ports":
        from ipnet_cosim.netlist_gen.unit_circuits import port_unit_circuit, row_levels_v, tile_ports
        from ipnet_cosim.netlist_gen.ports import UnitPorts, column_currents_pwl
        t_build = time.perf_counter()
        ports = UnitPorts.from_tiles((tile_ports(gmap.g_plus_s, gmap.g_minus_s, opts),), unit.row_blocks)
        levels = row_levels_v(gather[0], spikes, card.timing.v_read_v)
        circuit = port_unit_circuit(f"sweep{n}", n_tiles=1, n_cols=cols, unit_kind="heat", mirror_gain=gmap.mirror_gain,
                                    card=card, fast_card=card, n_steps=steps, options=opts,
                                    currents=column_currents_pwl(ports, levels, card.timing))
        build_s = time.perf_counter() - t_build
        return dataclasses.replace(circuit, saves=saves), card, cols, build_s
    t_build = time.perf_counter()
    circuit = unit_circuit(unit, lm, gmap, unit_kind="heat", card=card, fast_card=card, n_steps=steps,
                           options=opts, title=f"tile sweep {n} {model}")
    build_s = time.perf_counter() - t_build       # includes the reduction (Schur complement) when reduced
    keep = [e for e in circuit.elements if not e.name.startswith(("Vx", "Rd"))]
    drivers = driver_sources(unit, lm, opts, card, spikes)
    return dataclasses.replace(circuit, elements=tuple(keep) + tuple(drivers), saves=saves), card, cols, build_s


def run(sim: str, circuit, osdi: str):
    if sim == "ngspice":
        from ipnet_cosim.circuits.runner import run_netlist
        from ipnet_cosim.circuits.ngspice import format_ngspice
        text = format_ngspice(circuit, osdi_path=osdi, control=("run",))
        t0 = time.perf_counter()
        waves = run_netlist(text, [osdi])
    else:
        from ipnet_cosim.circuits.vacask_runner import run_vacask
        from ipnet_cosim.circuits.vacask import format_vacask
        text = format_vacask(circuit, Path(osdi).name)
        t0 = time.perf_counter()
        waves = run_vacask(text, [osdi])
    return waves, time.perf_counter() - t0


TIME_TOLS_S = {"within_1ps": 1e-12, "within_10ps": 1e-11}   # 10 ps: the transient's maximum time step


def compare(ref, other, card, cols, steps):
    """Max over neurons of the waveform errors (pointwise and within TIME_TOL_S) of the temperature (th) and
    the input node (a), the largest switching-instant difference, and whether the spikes are equal."""
    from ipnet_cosim.circuits.compare import crossing_times_s, waveform_error
    t_read = np.arange(steps) * card.timing.t_step_s + card.timing.t_read_s
    out = {f"{x}_{kind}": 0.0 for x in ("temperature", "input_voltage") for kind in ("pointwise", *TIME_TOLS_S)}
    out["switching_instant_max_diff_s"] = 0.0
    same = True
    for j in range(cols):
        for x, name in (("th", "temperature"), ("a", "input_voltage")):
            a, b = ref[f"{x}{j}"], other[f"{x}{j}"]
            out[f"{name}_pointwise"] = max(out[f"{name}_pointwise"], waveform_error(ref.time_s, a, other.time_s, b))
            for kind, tol in TIME_TOLS_S.items():
                out[f"{name}_{kind}"] = max(out[f"{name}_{kind}"], waveform_error(ref.time_s, a, other.time_s, b, tol))
        ca, cb = crossing_times_s(ref.time_s, ref[f"st{j}"]), crossing_times_s(other.time_s, other[f"st{j}"])
        if ca.size == cb.size and ca.size:
            out["switching_instant_max_diff_s"] = max(out["switching_instant_max_diff_s"], float(np.abs(ca - cb).max()))
        same &= bool(np.array_equal(ref.at(f"st{j}", t_read) > 0.5, other.at(f"st{j}", t_read) > 0.5))
    out["spikes_equal"] = same
    out["spikes"] = int(sum(int((ref.at(f"st{j}", t_read) > 0.5).sum()) for j in range(cols)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32,64,128,256")
    parser.add_argument("--flat-max", type=int, default=128, help="largest size run flat (the slow reference)")
    parser.add_argument("--vacask-reduced-max", type=int, default=128,
                        help="largest size whose reduced resistor netlist runs in VACASK")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tile_sweep.json"))
    args = parser.parse_args()
    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.device.compiler import compile_va
    osdi = str(compile_va())
    result = {"benchmark": "tile_sweep", "steps": args.steps, "transient_s": args.steps * 3e-9, "r_wire_ohm": 1.0,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                          "ngspice": ngspice_version()},
              "provenance": "measured wall time of one simulator run each (after a warm-up; netlist building "
                            "reported separately as *_build_s); errors vs flat ngspice",
              "sizes": []}
    run("ngspice", build(8, "reduced", 2, 0)[0], osdi)               # warm-up (session, library load)
    for n in [int(s) for s in args.sizes.split(",")]:
        entry: dict = {"rows": n, "physical_columns": n, "neurons": n // 2}
        variants = []
        if n <= args.flat_max:
            variants.append(("flat_ngspice", "ladder", "ngspice"))
        variants.append(("reduced_ngspice", "reduced", "ngspice"))
        if n <= args.vacask_reduced_max:
            variants.append(("reduced_vacask", "reduced", "vacask"))
        variants += [("ports_ngspice", "ports", "ngspice"), ("ports_vacask", "ports", "vacask")]
        waves = {}
        for name, model, sim in variants:
            circuit, card, cols, entry[f"{name}_build_s"] = build(n, model, args.steps, args.seed)
            waves[name], entry[f"{name}_s"] = run(sim, circuit, osdi)
            print(f"  {n}: {name} {entry[f'{name}_s']:.2f} s", flush=True)
        base = "flat_ngspice" if "flat_ngspice" in waves else "reduced_ngspice"
        entry["reference"] = base.replace("_", " ")
        for name in waves:
            if name != base:
                entry[f"{name}_vs_reference"] = compare(waves[base], waves[name], card, cols, args.steps)
        if "flat_ngspice" in waves:
            for name in ("reduced_ngspice", "ports_ngspice", "ports_vacask"):
                entry[f"speedup_{name}_vs_flat"] = entry["flat_ngspice_s"] / entry[f"{name}_s"]
        result["sizes"].append(entry)
        print(json.dumps(entry), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
