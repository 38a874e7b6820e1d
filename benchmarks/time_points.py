"""What a circuit-level neuron-step costs and what each change of the compact model buys: time points and Newton
iterations per neuron-step, wall time per neuron-step, and the agreement with the PyTorch twin, per variant.

Takes sample 0 of the bundled default IPNet (exported to ``--work`` as ``sample_inference.py`` does) and its
layer-0 neurons (800 heat-memory neurons, 16 steps of 3 ns, bounded drive), in the decks ``simulate`` writes by
default: each neuron driven by its net input current (the port model with the mirrors folded in), parts of
:data:`~ipnet_cosim.simulation.jobs.NEURONS_PER_DECK` neurons. Variants, each changing one thing from what
is exported (``as_exported``):

* numerics of the compact model and the transient (the physics is unchanged, so the twin is the reference):
  ``thermal_scale=1`` (the heat's charge near the simulator's absolute charge tolerance), ``hazard/switch_scale=1``
  (the truncation-error control resolves empty hazards and the idle switching state), ``switch_scale=1e-12`` and
  ``hazard_scale=1e-13`` (one scale a hundred times larger or smaller), ``switch_steps=1`` (no
  bound while the junction reverses), ``max_step t_pulse/100`` (the former global bound), ``reltol 3e-4``,
  ``neurons per deck`` 4 and 16, and ``vacask`` (the other simulator);
* physics (the twin is not re-run for them; cost only): ``edges 1 fs`` and ``instant switch`` (t_switch 0),
  what the model was before issue 31.

Agreement with the twin (the contract, README "Agreement contract"): spikes that differ, the largest difference
of the per-step peak junction temperature (K) and the relative difference of the layer's total neuron energy.
Causes: the share of time points on each part of a step (rise edge, flat top, fall edge, idle, reset).
Every figure is measured on this machine (the simulator's own counts); wall times are the best of two runs.

    python benchmarks/time_points.py [--units 8] [--work /tmp/ipnet-bench] [--out benchmarks/data/time_points.json]
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


def layer0_inputs(export_dir: Path, n_units: int):
    """Sample 0's layer-0 units: their neurons' input PWLs and the twin's per-step outputs for them."""
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v
    from ipnet_cosim.netlist_gen.ports import neuron_inputs_pwl
    from ipnet_cosim.simulation.inputs import load_crossbars, load_frames
    from ipnet_cosim.simulation.twin_energy import twin_outputs
    export = read_export(export_dir, need_checkpoint=True)
    man = export.manifest
    _, frames, _ = load_frames(export, (0,))
    spikes = frames[0].reshape(man.timing.n_steps, -1).astype(np.float64)
    ports = load_crossbars(export, "ports")
    card = man.card()
    layer = man.layers[0]
    units = man.units_of(0)[:n_units]
    inputs = []
    for u in units:
        levels = row_levels_v(np.asarray(u.rows), spikes, card.timing.v_read_v)
        inputs += neuron_inputs_pwl(ports[u.name], levels, card.timing, layer.mirror_gain, layer.slice_gains,
                                    range(u.n_cols))
    neurons = [j for u in units for j in u.neurons]
    twin = twin_outputs(export, frames, [0])
    from ipnet_cosim.simulation.compare import torch_reference
    margins = torch_reference(export, frames, [0])["margins"][0][0]                 # [T, neurons], ln H - ln ln 2
    ref = {"spikes": twin["spikes"][0][0][:, neurons], "t_peak_k": twin["soa"][0]["layer0_t_peak_k"][:, neurons],
           "energy_j": twin["energies"][0]["layer0_neuron_j"][:, neurons], "margin": margins[:, neurons]}
    return export, card, inputs, ref


def decks(card, inputs, n_steps: int, per_deck: int, bounded: bool, max_step_s: float | None, reltol: float,
          simulator: str, osdi_name: str):
    """The neuron-input decks of ``inputs`` in parts of ``per_deck`` neurons, written for ``simulator``."""
    from ipnet_cosim.circuits.ir import Save
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.netlist_gen.unit_circuits import input_unit_circuit
    options = MappingOptions(max_step_s=max_step_s, reltol=reltol)
    out = []
    for j0 in range(0, len(inputs), per_deck):
        part = inputs[j0:j0 + per_deck]
        c = input_unit_circuit(f"part{j0}", n_cols=len(part), unit_kind="heat", card=card, fast_card=card,
                               n_steps=n_steps, options=options, inputs=part, drive=bounded)
        c = dataclasses.replace(c, saves=c.saves + tuple(Save.v(f"{n}{j}") for j in range(len(part))
                                                          for n in ("a", "th")) +
                                tuple(Save.i(f"Vin{j}") for j in range(len(part))) +
                                (tuple(Save.state(f"N{j}", "h") for j in range(len(part)))
                                 if simulator == "ngspice" else ()))
        if simulator == "vacask":
            from ipnet_cosim.circuits.vacask import format_vacask
            out.append((len(part), format_vacask(c, osdi_name)))
        else:
            from ipnet_cosim.circuits.ngspice import format_ngspice
            out.append((len(part), format_ngspice(c)))
    return out


def run_variant(card, inputs, ref, osdi: Path, n_steps: int, bounded: bool, *, per_deck: int = 8,
                max_step_s: float | None = None, reltol: float = 1e-4, simulator: str = "ngspice",
                compare: bool = True) -> dict:
    """Run every deck twice (best wall), count points and iterations, and compare with the twin."""
    from ipnet_cosim.circuits.soa import step_peaks
    from ipnet_cosim.device.drive import drive_current_a
    from ipnet_cosim.simulation.integrate import product_energy_per_step_j
    t = card.timing
    reads = np.arange(n_steps) * t.t_step_s + t.t_read_s
    wall = points = iterations = 0.0
    spikes, peaks, energy, hazard, phases = [], [], [], [], np.zeros(5)
    edges = [0.0, t.t_rise_s, t.t_pulse_s, t.t_pulse_s + t.t_fall_s, t.t_read_s, t.t_step_s]
    for n, deck in decks(card, inputs, n_steps, per_deck, bounded, max_step_s, reltol, simulator, osdi.name):
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            if simulator == "vacask":
                from ipnet_cosim.circuits.vacask_runner import run_vacask
                waves = run_vacask(deck, [osdi])
            else:
                from ipnet_cosim.circuits.runner import run_netlist
                waves = run_netlist(deck, [osdi], stats=True)
            best = min(best, time.perf_counter() - t0)
        wall += best
        if simulator == "vacask":
            points += waves.time_s.size
        else:
            points += waves.stats["accepted_timepoints"]
            iterations += waves.stats["iterations"]
        phase = np.mod(waves.time_s[1:], t.t_step_s)
        phases += np.histogram(phase, bins=edges)[0]
        spikes.append(np.stack([waves.at(f"st{j}", reads) > 0.5 for j in range(n)], axis=1))
        if simulator == "ngspice":
            hazard.append(np.stack([waves.at(f"n{j}#h", reads) for j in range(n)], axis=1))
        peaks.append(step_peaks(waves.time_s, np.stack([waves[f"th{j}"] for j in range(n)]), t.t_step_s, n_steps))
        i_in = np.stack([waves[f"vin{j}#branch"] for j in range(n)])
        i_mtj = drive_current_a(i_in, card.drive_i_max_a, card.drive.knee) if bounded else i_in
        energy.append(product_energy_per_step_j(waves.time_s, np.stack([waves[f"a{j}"] for j in range(n)]), i_mtj,
                                                t.t_step_s, n_steps))
    ns = len(inputs) * n_steps
    entry = {"decks": -(-len(inputs) // per_deck), "neurons_per_deck": per_deck, "simulator": simulator,
             "reltol": reltol, "max_step_s": max_step_s if max_step_s is not None else card.max_time_step_s,
             "wall_s": wall, "timepoints_per_neuron_step": points / ns, "ms_per_neuron_step": 1e3 * wall / ns,
             "timepoints_per_deck_step_by_part": dict(zip(("rise", "flat", "fall", "idle", "reset"),
                                                          (phases / (n_steps * -(-len(inputs) // per_deck))).round(2)
                                                          .tolist()))}
    if iterations:
        entry["newton_iterations_per_timepoint"] = iterations / points
    if compare:
        sp, pk, en = np.concatenate(spikes, 1), np.concatenate(peaks, 1), np.concatenate(energy, 1)
        entry["agreement_with_twin"] = {
            "neuron_steps": int(sp.size), "spikes_differ": int((sp != ref["spikes"]).sum()),
            "t_peak_max_abs_diff_k": float(np.abs(pk + card.mtj.t_amb_k - ref["t_peak_k"]).max()),
            "energy_total_rel_diff": float(abs(en.sum() / ref["energy_j"].sum() - 1.0))}
        if hazard:
            # near the threshold and not fired (a fired junction's compact-model hazard stops growing): the hazard
            # error at the read, in the contract's unit
            margin = np.log(np.maximum(np.concatenate(hazard, 1), 1e-300)) - np.log(np.log(2.0))
            near = (np.abs(ref["margin"]) < 0.5) & ~ref["spikes"]
            err = np.abs(margin - ref["margin"])[near]
            entry["agreement_with_twin"].update({
                "near_threshold_neuron_steps": int(near.sum()),
                "margin_max_abs_diff": float(err.max()) if err.size else None,
                "margin_median_abs_diff": float(np.median(err)) if err.size else None})
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=32, help="layer-0 units (8 neurons each) to simulate")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-bench"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/time_points.json"))
    args = parser.parse_args()
    from _bench import bundled_export
    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.device.compiler import compile_va
    export_dir = bundled_export(args.work, range(4))
    export, card, inputs, ref = layer0_inputs(export_dir, args.units)
    man = export.manifest
    n_steps, bounded = man.timing.n_steps, man.bounded
    osdi = compile_va()

    def go(name: str, c=card, **kw) -> dict:
        entry = {"variant": name, **run_variant(c, inputs, ref, osdi, n_steps, bounded, **kw)}
        print(json.dumps(entry), flush=True)
        return entry

    variants = [go("as_exported"),
                go("thermal_scale=1", card.replace(thermal_scale=1.0)),
                go("hazard_scale=switch_scale=1", card.replace(hazard_scale=1.0, switch_scale=1.0)),
                go("switch_scale=1e-12", card.replace(switch_scale=1e-12)),
                go("hazard_scale=1e-13", card.replace(hazard_scale=1e-13)),
                go("switch_steps=1", card.replace(switch_steps=1.0)),
                go("max_step=t_pulse/100", max_step_s=card.timing.t_pulse_s / 100),
                go("reltol=3e-4", reltol=3e-4),
                go("neurons_per_deck=4", per_deck=4),
                go("neurons_per_deck=16", per_deck=16),
                go("edges_1fs (physics, cost only)", card.replace(t_rise_s=1.01e-15, t_fall_s=1.01e-15),
                   compare=False),
                go("instant_switch (physics, cost only)", card.replace(t_switch_s=0.0), compare=False)]
    try:
        variants.append(go("vacask", simulator="vacask"))
    except Exception as exc:                          # VACASK missing: say so in the JSON
        variants.append({"variant": "vacask", "error": f"{type(exc).__name__}: {exc}"})
    result = {"benchmark": "time_points",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "ngspice": ngspice_version()},
              "provenance": "measured: the simulators' own counts and wall time (best of two) on this machine; "
                            "agreement against the PyTorch twin (exact precision) of the same export and sample",
              "network": f"bundled default IPNet, sample 0, layer 0: {len(inputs)} heat-memory neurons x {n_steps} "
                         f"steps, bounded drive, neuron-input decks (port model)",
              "neurons": len(inputs), "steps": n_steps, "variants": variants,
              "before_issue_31": "benchmarks/data/time_points_before.json (1 fs edges, instant switch, 10 ps bound)"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
