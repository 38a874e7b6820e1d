"""Where the time of a circuit-level sample goes: ngspice time points per neuron-step, Newton iterations per
point and cost per iteration, by cause, by deck partition and by time-step bound, with the floor beside the
measured figure.

Takes sample 0 of the bundled default IPNet (exported to ``--work`` as ``sample_inference.py`` does) and the
first ``--units`` units of layer 0 (8 heat-memory neurons each, 16 steps of 3 ns, bounded drive, crossbars as
their exact port models: what ``simulate`` runs by default):

* ``as_simulated``: the unit decks as ``simulate`` writes them (one deck per unit, max step t_pulse / 100);
* ``partition``: the same neurons in decks of 1, 2, 4 and 8 (the issue's hypothesis: neurons are independent
  given their input currents, so smaller decks should take fewer points each);
* ``max_step``: the unit decks with 3x, 10x and 100x the default bound on the time step, each with its spikes
  and per-step neuron energies against the default's;
* ``causes``: the share of accepted time points within 20 ps after a pulse or reset edge, while a neuron's
  state switches (0.001 < m < 0.999), and the rest (bounded by the max step);
* ``vacask``: the same unit decks in VACASK.

The floor (``floor``): neurons x steps x (time points per neuron-step) x (cost per point), each factor at its
best measured value here; and the target of issue 18 beside it. Every figure is measured on this machine
(ngspice's own counts from ``rusage``); wall times are the best of two runs.

    python benchmarks/time_points.py [--units 4] [--work /tmp/ipnet-bench] [--out benchmarks/results/time_points.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

def unit_circuits(export_dir: Path, n_units: int):
    """The first ``n_units`` layer-0 unit circuits of sample 0 as ``simulate`` builds them (port model)."""
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.mapping import port_unit_circuit, row_levels_v
    from ipnet_cosim.netlist_gen.ports import column_currents_pwl
    from ipnet_cosim.netlist_gen.sim_inputs import load_crossbars, load_frames, neuron_model
    from ipnet_cosim.netlist_gen.sim_jobs import neuron_saves
    export = read_export(export_dir, need_checkpoint=False)
    man = export.manifest
    _, frames, _ = load_frames(export, (0,))
    spikes = frames[0].reshape(man.timing.n_steps, -1).astype(np.float64)
    ports = load_crossbars(export, "ports")
    card, fast, options = man.card(), man.fast(), man.options()
    layer = man.layers[0]
    out = []
    for u in man.units_of(0)[:n_units]:
        levels = row_levels_v(np.asarray(u.rows), spikes, card.timing.v_read_v)
        c = port_unit_circuit(u.name, n_tiles=len(u.tiles), n_cols=u.n_cols, unit_kind=layer.unit,
                              mirror_gain=layer.mirror_gain, card=card, fast_card=fast, n_steps=man.timing.n_steps,
                              options=options, currents=column_currents_pwl(ports[u.name], levels, card.timing),
                              drive=man.bounded, slice_gains=layer.slice_gains)
        c = dataclasses.replace(c, saves=c.saves + neuron_saves("neurons", u.n_cols, len(u.tiles), True))
        out.append((u, c))
    return export, card, neuron_model(export, print), out


_NEURON_OF = [re.compile(p) for p in (r"^(?:I[pm]|Vs[pm]|F[pm])\d+_(\d+)$", r"^ND(\d+)$", r"^N(\d+)$",
                                       r"^(?:st|a|th|b)(\d+)$", r"^Vs[pm]\d+_(\d+)$")]


def _neuron(name: str) -> int | None:
    for p in _NEURON_OF:
        m = p.match(name)
        if m:
            return int(m.group(1))
    return None


def subset(circuit, keep: set[int]):
    """The circuit with only the neurons ``keep`` (their sources, mirrors, drive stages and saves)."""
    els = tuple(e for e in circuit.elements if _neuron(e.name) is None or _neuron(e.name) in keep)
    saves = tuple(s for s in circuit.saves if _neuron(s.target) is None or _neuron(s.target) in keep)
    return dataclasses.replace(circuit, elements=els, saves=saves)


def with_max_step(circuit, factor: float):
    t = circuit.tran
    return dataclasses.replace(circuit, tran=dataclasses.replace(t, max_step_s=t.max_step_s * factor))


def run(circuit, osdi, neurons, card, n_steps, read_delay_s, mirror_gain, drive):
    """Run in ngspice (best wall of two); spikes, per-step neuron energies, ngspice's counts."""
    from ipnet_cosim.circuits.runner import run_netlist
    from ipnet_cosim.device.drive import drive_current_a
    from ipnet_cosim.energy.integrate import energy_per_step_j
    from ipnet_cosim.netlist_gen.ngspice import format_ngspice
    deck = format_ngspice(circuit)
    best, waves = float("inf"), None
    for _ in range(2):
        t0 = time.perf_counter()
        waves = run_netlist(deck, [osdi], stats=True)
        best = min(best, time.perf_counter() - t0)
    t = card.timing
    reads = np.arange(n_steps) * t.t_step_s + read_delay_s
    spikes = {j: waves.at(f"st{j}", reads) > 0.5 for j in neurons}
    energy = {}
    for j in neurons:
        i_in = mirror_gain * (waves[f"vsp0_{j}#branch"] - waves[f"vsm0_{j}#branch"])
        if drive is not None:
            i_in = drive_current_a(i_in, *drive)
        energy[j] = energy_per_step_j(waves.time_s, waves[f"a{j}"] * i_in, t.t_step_s, n_steps)
    return {"wall_s": best, "waves": waves, "spikes": spikes, "energy": energy, **waves.stats}


def summary(runs: list[dict], neuron_steps: int) -> dict:
    pts = sum(r["accepted_timepoints"] for r in runs)
    its = sum(r["iterations"] for r in runs)
    wall = sum(r["wall_s"] for r in runs)
    return {"decks": len(runs), "wall_s": wall, "accepted_timepoints": pts, "iterations": its,
            "timepoints_per_neuron_step": pts / neuron_steps, "iterations_per_timepoint": its / pts,
            "us_per_timepoint": 1e6 * wall / pts, "us_per_iteration": 1e6 * wall / its,
            "ms_per_neuron_step": 1e3 * wall / neuron_steps,
            "load_share": sum(r["load_time_s"] for r in runs) / sum(r["analysis_time_s"] for r in runs)}


def agreement(runs: list[dict], base: list[dict]) -> dict:
    same = all(np.array_equal(r["spikes"][j], b["spikes"][j]) for r, b in zip(runs, base) for j in b["spikes"])
    e = np.concatenate([np.stack(list(r["energy"].values())).ravel() for r in runs])
    e0 = np.concatenate([np.stack(list(b["energy"].values())).ravel() for b in base])
    return {"spikes_equal": bool(same), "energy_total_rel": float(abs(e.sum() / e0.sum() - 1)),
            "energy_step_rel_of_peak": float(np.max(np.abs(e - e0)) / np.max(np.abs(e0)))}


def causes(runs: list[dict], card, read_delay_s: float) -> dict:
    t = card.timing
    edges = [0.0, t.t_pulse_s, read_delay_s, read_delay_s + t.t_reset_s]
    near = switch = other = 0
    for r in runs:
        w = r["waves"]
        phase = np.mod(w.time_s, t.t_step_s)
        at_edge = np.zeros(w.time_s.size, dtype=bool)
        for e in edges:
            d = phase - e
            at_edge |= ((d >= 0) & (d < 20e-12)) | ((d + t.t_step_s >= 0) & (d + t.t_step_s < 20e-12))
        m = np.stack([w[f"st{j}"] for j in r["spikes"]])
        sw = np.any((m > 1e-3) & (m < 1 - 1e-3), axis=0) & ~at_edge
        near += int(at_edge.sum())
        switch += int(sw.sum())
        other += int((~at_edge & ~sw).sum())
    total = near + switch + other
    return {"after_an_edge": near / total, "switching": switch / total, "rest_max_step_and_truncation": other / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-bench"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/time_points.json"))
    args = parser.parse_args()
    from _bench import bundled_export
    from ipnet_cosim.circuits.runner import ngspice_version
    export_dir = bundled_export(args.work, range(4))
    export, card, osdi, units = unit_circuits(export_dir, args.units)
    man = export.manifest
    n_steps = man.timing.n_steps
    layer = man.layers[0]
    drive = (card.drive_i_max_a, card.drive.knee) if man.bounded else None
    n_neurons = sum(u.n_cols for u, _ in units)
    ns = n_neurons * n_steps

    def go(circuit, keep):
        return run(circuit, osdi, sorted(keep), card, n_steps, man.timing.read_delay_s, layer.mirror_gain, drive)

    base = [go(c, range(u.n_cols)) for u, c in units]
    result = {"benchmark": "time_points",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "ngspice": ngspice_version()},
              "provenance": "measured: ngspice 'rusage' counts and wall time (best of two) on this machine",
              "network": "bundled default IPNet, sample 0, layer 0 (heat neurons, bounded drive, port model)",
              "units": [u.name for u, _ in units], "neurons": n_neurons, "steps": n_steps,
              "as_simulated": summary(base, ns), "causes": causes(base, card, man.timing.read_delay_s)}
    print("as simulated:", json.dumps(result["as_simulated"]), flush=True)
    result["partition"] = []
    for size in (1, 2, 4, 8):
        runs = []
        for u, c in units:
            for g0 in range(0, u.n_cols, size):
                keep = set(range(g0, min(u.n_cols, g0 + size)))
                runs.append(go(subset(c, keep), keep))
        merged = [{"spikes": {}, "energy": {}} for _ in units]
        k = 0
        for i, (u, _) in enumerate(units):
            for g0 in range(0, u.n_cols, size):
                merged[i]["spikes"].update(runs[k]["spikes"])
                merged[i]["energy"].update(runs[k]["energy"])
                k += 1
        for m in merged:
            m["energy"] = dict(sorted(m["energy"].items()))
            m["spikes"] = dict(sorted(m["spikes"].items()))
        entry = {"neurons_per_deck": size, **summary(runs, ns), **agreement(merged, base)}
        print("partition:", json.dumps(entry), flush=True)
        result["partition"].append(entry)
    result["max_step"] = []
    for factor in (3.0, 10.0, 100.0):
        runs = [go(with_max_step(c, factor), range(u.n_cols)) for u, c in units]
        entry = {"max_step_s": units[0][1].tran.max_step_s * factor, **summary(runs, ns), **agreement(runs, base)}
        print("max step:", json.dumps(entry), flush=True)
        result["max_step"].append(entry)
    try:
        from ipnet_cosim.circuits.vacask_runner import run_vacask
        from ipnet_cosim.netlist_gen.vacask import format_vacask
        wall = pts = 0.0
        for _, c in units:
            deck = format_vacask(c, Path(osdi).name)
            best = float("inf")
            for _ in range(2):
                t0 = time.perf_counter()
                w = run_vacask(deck, [osdi])
                best = min(best, time.perf_counter() - t0)
            wall += best
            pts += w.time_s.size
        result["vacask"] = {"wall_s": wall, "timepoints_per_neuron_step": pts / ns, "us_per_timepoint": 1e6 * wall / pts,
                            "ms_per_neuron_step": 1e3 * wall / ns}
    except Exception as exc:                          # VACASK missing: say so in the JSON
        result["vacask"] = {"error": f"{type(exc).__name__}: {exc}"}
    best_pts = min([result["as_simulated"]] + result["partition"] + result["max_step"],
                   key=lambda e: e["timepoints_per_neuron_step"])
    best_cost = min([result["as_simulated"]] + result["partition"] + result["max_step"],
                    key=lambda e: e["ms_per_neuron_step"])
    sample_neuron_steps = sum(len(u.neurons) for u in man.units if man.layers[u.layer].unit != "integrate") * n_steps
    result["floor"] = {
        "sample_neuron_steps": sample_neuron_steps,
        "best_ms_per_neuron_step": best_cost["ms_per_neuron_step"],
        "best_ms_per_neuron_step_from": best_cost.get("neurons_per_deck", best_cost.get("max_step_s", "as simulated")),
        "fewest_timepoints_per_neuron_step": best_pts["timepoints_per_neuron_step"],
        "ngspice_cpu_s_per_sample_at_best": sample_neuron_steps * best_cost["ms_per_neuron_step"] / 1e3,
        "wall_s_per_sample_on_2_workers_at_best": sample_neuron_steps * best_cost["ms_per_neuron_step"] / 2e3,
        "issue_18_target_wall_s_per_sample_2_cores": 4.0,
        "note": "layer-0 neuron-steps costed for every neuron layer (layers 1-2 use the fast card and cost less "
                "per neuron-step); the floor is what the best measured partition and time-step bound give, "
                "not a bound of the physics"}
    print("floor:", json.dumps(result["floor"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
