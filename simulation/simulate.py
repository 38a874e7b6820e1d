"""``ipnet-cosim simulate``: run an exported network in ngspice (or VACASK), layer by layer, and compare
with PyTorch.

For every sample, layer ``l``'s units are run with row drivers built from layer ``l - 1``'s
simulated spikes (layer 0: the input frames); the readout's column charges give the class scores.
By default (``crossbar="ports"``) each unit's crossbar reaches the simulator as its exact port model
(:mod:`~ipnet_cosim.netlist_gen.ports`: one PWL current source per sensed column, the row sources'
energy computed exactly from the port conductances) and only the neurons, mirrors and reset are
simulated; ``crossbar="netlist"`` simulates the exported netlist with every resistor (and the row
sources' energy integrated from the simulated currents), for validation. ``simulator="vacask"``
runs the port-model units in VACASK instead of ngspice (the same circuit IR). Units of one layer run in parallel
worker processes (one ngspice per process).
Every finished unit is cached under ``<out>/cache/sample_<i>/<unit>.npz`` together with the
hash of the exact deck it ran, so an interrupted or failed run resumes where it stopped and a
changed netlist is simulated again. A unit that fails is named with its layer, position and
rows; the finished ones are kept.

Every neuron unit also reports, per neuron and step, the peak voltage across its MTJ and its peak
junction temperature (:mod:`~ipnet_cosim.circuits.soa`); each layer is checked against the device card's
safe operating area (the drive's compliance, the barrier's breakdown, ``t_max_k``, ``tc_k``):
``soa="strict"`` stops at the first layer with a violation (named: layer, neuron, step, value, limit;
the finished units stay cached), ``"warn"`` (default) reports it and goes on, ``"off"`` only records
the measurement. ``results.json`` carries the verdict (``soa``) and ``soa_sample_<i>.npz`` the peaks.

The comparison runs the checkpoint in PyTorch at exact precision (float64, 64/16 substeps) on the
same samples: spike agreement per layer, and for every disagreement PyTorch's own distance from
the firing threshold (``ln H - ln ln 2``), so numerical ties (inside the agreement contract's
:data:`~ipnet_cosim.simulation.compare.AGREEMENT_MARGIN`) can be told from mapping errors.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ipnet_cosim.circuits.soa import SOALimits, SOAViolationError, check_layer, describe_violation
from ipnet_cosim.device.errors import OsdiLoadError, SimulationError, SimulatorNotFoundError
from ipnet_cosim.device.fileio import write_json
from ipnet_cosim.netlist_gen.contract import (EXPORT_TAG, Export, LayerRecord, LayerTime, RunFiring, SimFiles,
                                              SimulationResults, UnitRecord, bind_simulation_folder, read_export)
from ipnet_cosim.simulation.compare import ideal_mapping, layer_warnings, summarise, torch_reference
from ipnet_cosim.simulation.executors import ProgressBar, make_executor
from ipnet_cosim.simulation.inputs import (SimulateRequest, load_crossbars, load_frames, neuron_model,
                                                probe_simulator)
from ipnet_cosim.simulation.jobs import JobContext, UnitJob, layer_jobs, merge_parts, unit_kind, unit_parts
from ipnet_cosim.simulation.worker import atomic_savez, load_cached, run_unit_job, save_waveforms  # noqa: F401

RESULTS = SimFiles.RESULTS
ENVIRONMENT_ERRORS = (SimulatorNotFoundError.__name__, OsdiLoadError.__name__)


def _uncached(jobs: Iterator[UnitJob], results: list[dict[str, Any]], tally: dict[str, int],
              bar: ProgressBar) -> Iterator[UnitJob]:
    """The jobs whose result is not cached yet, as they are built; cached results go to ``results`` (resume)."""
    for job in jobs:
        cached = load_cached(job)
        if cached is None:
            tally["todo"] += 1
            yield job
        else:
            tally["cached"] += 1
            results.append(cached)
            bar.advance(1)


def _describe_failure(res: dict[str, Any], u: UnitRecord, crossbar: str) -> str:
    rows = ", ".join(f"{t.rows[0]}-{t.rows[1] - 1}" for t in u.tiles)
    what = u.netlist if crossbar == "netlist" else f"port model {u.ports}"
    return (f"tile {u.name} (layer {u.layer}, position {u.position}, weight columns {u.weight_columns[0]}-"
            f"{u.weight_columns[1] - 1}, rows {rows}; {what}) failed on sample {res['sample']}: "
            f"{res['error'].splitlines()[0]}")


class LayerOutputs:
    """Per-sample outputs assembled from the units' results (spikes, peaks, charges, energies)."""

    def __init__(self, samples: Sequence[int], energy: bool) -> None:
        self.energy_on = energy
        self.energies: dict[int, dict[str, np.ndarray]] = {s: {} for s in samples}
        self.spikes: dict[int, list[np.ndarray]] = {s: [] for s in samples}
        self.charges: dict[int, np.ndarray] = {}
        self.soa: dict[int, dict[str, np.ndarray]] = {s: {} for s in samples}
        self.elapsed: dict[int, float] = {s: 0.0 for s in samples}
        self.layer_sim_s: dict[str, float] = {}           # simulator time per layer, all samples
        self.layer_rss_mb: dict[str, float] = {}          # largest worker RSS at the end of one of its units

    def add(self, layer: LayerRecord, units: Sequence[UnitRecord], s: int, by_key: dict, t_amb_k: float,
            n_steps: int) -> np.ndarray | None:
        """Assemble layer ``layer`` of sample ``s``; returns its spikes ``[T, outputs]`` (None for the readout)."""
        n_out, name = layer.n_out, layer.name
        results = [by_key[(s, u.name)] for u in units]
        for r in results:
            self.elapsed[s] += float(r["elapsed_s"])
            self.layer_sim_s[name] = self.layer_sim_s.get(name, 0.0) + float(r["elapsed_s"])
            if "rss_mb" in r and np.isfinite(r["rss_mb"]):
                self.layer_rss_mb[name] = max(self.layer_rss_mb.get(name, 0.0), float(r["rss_mb"]))
        if self.energy_on:
            self.energies[s][f"{name}_source_j"] = np.stack([r["e_source_j"].sum(axis=1) for r in results])
            self.energies[s][f"{name}_rdriver_j"] = np.stack([r["e_rdriver_j"].sum(axis=1) for r in results])
        if layer.is_readout:
            q = np.zeros(n_out)
            for u, r in zip(units, results):
                q[list(u.neurons)] = r["charge_c"]
            self.charges[s] = q
            return None
        spikes = np.zeros((n_steps, n_out), dtype=bool)
        v_pk, t_pk = np.zeros((n_steps, n_out)), np.zeros((n_steps, n_out))
        e_n, q_n = np.zeros((n_steps, n_out)), np.zeros((n_steps, n_out))
        for u, r in zip(units, results):
            idx = list(u.neurons)
            spikes[:, idx] = r["spikes"]
            v_pk[:, idx] = r["v_peak_v"]
            t_pk[:, idx] = r["t_rise_peak_k"] + t_amb_k
            if self.energy_on:
                e_n[:, idx], q_n[:, idx] = r["e_neuron_j"], r["q_neuron_c"]
        if self.energy_on:
            self.energies[s][f"{name}_neuron_j"] = e_n
            self.energies[s][f"{name}_neuron_charge_c"] = q_n
        self.spikes[s].append(spikes)
        self.soa[s][f"{name}_v_peak_v"] = v_pk
        self.soa[s][f"{name}_t_peak_k"] = t_pk
        return spikes


def simulate_export(folder: str | Path, *, samples: Sequence[int] | None = None, out: str | Path | None = None,
                    workers: int = 1, waveform_units: Sequence[str] = (), compare: bool = True,
                    progress: bool | Callable[[str], None] = True, plots: int = 0,
                    energy: bool = True, scheduler: str | None = None, crossbar: str = "ports",
                    simulator: str = "ngspice", soa: str = "warn",
                    notify: Callable[[str], None] | None = None, draw: int | None = None) -> SimulationResults:
    """Simulate an export (see the module docstring); returns the results it writes to ``<out>/results.json``.

    Args:
        folder: an export folder (``ipnet-cosim export``).
        samples: test-set indices (default: the exported ones); others are loaded from the data set.
        out: results folder (default ``<folder>/sim``); its cache makes reruns resume.
        workers: parallel ngspice processes on this machine (ignored with ``scheduler``).
        scheduler: address of a Dask distributed scheduler (e.g. ``tcp://10.0.0.5:8786``): the units
            run on its workers instead (same jobs, same cache). Workers need this package installed,
            ngspice, one thread each (``dask worker ADDRESS --nthreads 1``) and the export and
            results folders at the same paths (a shared file system): they write the cache files.
        crossbar: "ports" (default): every crossbar as its exact port model (PWL column currents; the row
            sources' energy computed from the port conductances); "netlist": the exported netlist with every
            resistor (slow on large tiles; for validation).
        simulator: "ngspice" (default), "vacask" (port model only), or "twin": no circuit simulator, everything
            computed from the PyTorch twin (:mod:`~ipnet_cosim.simulation.twin`; the same files, labelled
            computed).
        soa: what a neuron-step outside the card's safe operating area does: "strict" raises
            :class:`~ipnet_cosim.circuits.soa.SOAViolationError` after the first layer with one (finished
            units stay cached), "warn" (default) reports it through ``progress`` and goes on, "off" records
            the measured peaks without a verdict.
        notify: called with warnings (a safe-operating-area violation in "warn" mode); default: ``progress``
            when it is a callback.
        draw: a stochastic export's draw index (default 0): every neuron of every sample fires when its hazard
            reaches ``-ln u`` with the recorded draws ``u`` of (the export's seed, ``draw``, sample, layer), the same
            in the circuit and in PyTorch (:mod:`ipnet_cosim.device.draws`); results go to ``<folder>/sim`` for
            draw 0 and ``<folder>/sim_draw_<k>`` otherwise. A median-mode export refuses it.
        waveform_units: units whose saved waveforms are kept for every sample (npz).
        compare: run PyTorch on the same samples and compare.
        progress: show a progress bar (True), or a callback for messages.
        plots: write spike-raster/score plots (PNG) for the first ``plots`` samples, and a
            waveform plot per kept waveform file.
        energy: also save the currents and voltages of row sources, sense sources and neuron inputs and
            write per-step energies of every unit to ``<out>/energy_sample_<i>.npz`` (J): per layer
            ``<layer>_source_j`` and ``<layer>_rdriver_j`` ``[units, T]`` (row sources of each unit,
            summed over rows; the second is the part in the driver resistance) and, for neuron layers,
            ``<layer>_neuron_j`` ``[T, neurons]`` (the MTJ's Joule energy) and ``<layer>_neuron_charge_c``
            (the charge it receives); units in manifest order.
    """
    export = read_export(folder, need_checkpoint=bool(compare))
    req = SimulateRequest(None if samples is None else tuple(samples), None if out is None else Path(out), workers,
                          tuple(waveform_units), compare, plots, energy, scheduler, crossbar, simulator, soa, draw)
    req.check(export)
    say = progress if callable(progress) else (lambda msg: None)
    warn = notify or say
    if simulator == "twin":
        from ipnet_cosim.simulation.twin import simulate_twin
        return simulate_twin(export, req, say, warn)
    if simulator == "vacask":
        probe_simulator("vacask", Path())          # the executable, before anything is read or written
    sample_list, frames, labels = load_frames(export, req.samples)
    crossbars = load_crossbars(export, crossbar)
    osdi = neuron_model(export, warn)
    simulator_version = probe_simulator(simulator, osdi)
    out_dir = req.out or req.default_out(export)
    executor = make_executor(workers, scheduler)    # a scheduler that cannot be reached: nothing written
    bar: ProgressBar | None = None
    try:
        bind_simulation_folder(out_dir, export)         # refuses another export's results before any job runs
        draw_k = req.draw_index(export)
        ctx = JobContext(export, out_dir, export.manifest.card(), export.manifest.fast(), export.manifest.options(),
                         Path(osdi), crossbar, simulator, frozenset(waveform_units), energy, crossbars, draw_k)
        man = export.manifest
        n_steps = man.timing.n_steps
        limits = SOALimits.from_card(ctx.card)
        outputs = LayerOutputs(sample_list, energy)
        inputs = {s: frames[k].reshape(n_steps, -1).astype(np.float64) for k, s in enumerate(sample_list)}
        soa_checks: list[dict[str, Any]] = []
        layer_times: list[LayerTime] = []
        counts = {"runs_simulated": 0, "runs_cached": 0}
        wall0 = time.perf_counter()
        runs = sum(len(unit_parts(ctx, u)) for u in man.units) if crossbar == "ports" else len(man.units)
        bar = ProgressBar(progress, total=len(sample_list) * runs)
        for layer in man.layers:
            units = man.units_of(layer.index)
            t_layer = time.perf_counter()
            results: list[dict[str, Any]] = []
            tally = {"cached": 0, "todo": 0}
            bar.describe(f"{layer.name}: {len(units)} units")
            failures = []
            todo = _uncached(layer_jobs(ctx, layer, sample_list, inputs), results, tally, bar)
            for res in executor.run(todo, layer.name, out_dir / SimFiles.CACHE):
                bar.advance(1)
                if "error" not in res:
                    counts["runs_simulated"] += 1
                    results.append(res)
                elif res.get("error_type") in ENVIRONMENT_ERRORS:     # the same cause for every unit: say it once
                    cls = SimulatorNotFoundError if res["error_type"] == ENVIRONMENT_ERRORS[0] else OsdiLoadError
                    raise cls(res["error"].partition(": ")[2])
                else:
                    failures.append(_describe_failure(res, man.unit(res["unit"]), crossbar))
            if failures:
                done = sum(1 for _ in (out_dir / SimFiles.CACHE).glob("*/*.npz"))
                more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
                raise SimulationError(f"{len(failures)} unit simulation(s) failed: {'; '.join(failures[:3])}{more}. "
                                      f"The {done} finished units are kept in {out_dir / SimFiles.CACHE}; fix the "
                                      f"cause and run 'ipnet-cosim simulate {export.folder}' again to resume")
            by_key = merge_parts(results)
            t_amb = (ctx.card if layer.unit == "heat" else ctx.fast_card).mtj.t_amb_k
            for s in sample_list:
                spikes = outputs.add(layer, units, s, by_key, t_amb, n_steps)
                if spikes is not None:
                    inputs[s] = spikes.astype(np.float64)
                for u in units:
                    if u.name in ctx.waveform_units:
                        save_waveforms(out_dir / SimFiles.waveforms(s, u.name), by_key[(s, u.name)])
            if unit_kind(layer) == "neurons":
                soa_checks.append(check_soa(layer, outputs, sample_list, limits, soa, out_dir, warn))
            counts["runs_cached"] += tally["cached"]
            say(f"{layer.name}: {tally['cached']} cached, {tally['todo']} simulated")
            layer_times.append(LayerTime(layer.name, len(units), tally["cached"] + tally["todo"], tally["todo"],
                                         time.perf_counter() - t_layer, outputs.layer_sim_s.get(layer.name, 0.0),
                                         outputs.layer_rss_mb.get(layer.name)))
    finally:
        if bar is not None:
            bar.close()
        executor.close()
    wall = time.perf_counter() - wall0
    ref = torch_reference(export, frames, sample_list, draw_k) if compare else None
    summary, per_sample = summarise(export, sample_list, labels, outputs.spikes, outputs.charges, outputs.elapsed, ref,
                                    run_firing(export, draw_k))
    summary = replace(summary, wall_time_s=wall, workers=workers, runs_simulated=counts["runs_simulated"],
                      runs_cached=counts["runs_cached"], layer_times=tuple(layer_times))
    warnings = layer_warnings(summary)
    for w in warnings:
        warn(f"warning: {w.message}")
    record = SimulationResults(
        export=export.identity,
        what=f"circuit-level simulation of an exported network ({simulator}) and its comparison with PyTorch",
        provenance={**_provenance(export, simulator, simulator_version, crossbar, ref is not None),
                    "date_utc": _run_date(out_dir, counts["runs_simulated"])},
        summary=summary, per_sample=per_sample, warnings=warnings,
        soa={"mode": soa, "checked": soa != "off", "drive": "bounded" if man.bounded else "ideal",
             "limits": limits.to_dict(), "within": all(c["within"] for c in soa_checks), "layers": soa_checks,
             "source": f"simulated: peak |v(a)| across each MTJ and peak junction temperature T_amb + v(th) per "
                       f"neuron and step from the {simulator} waveforms; limits from the device card"})
    write_outputs(out_dir, export, sample_list, outputs, ref, energy)
    write_json(out_dir / RESULTS, record.to_dict())          # last: a results.json always has its sample files
    if plots:
        from ipnet_cosim.simulation.plots import plot_rasters, plot_waveforms
        plot_rasters(out_dir, record, outputs.spikes, ref, man.hidden_layers, plots)
        for path in sorted((out_dir / SimFiles.WAVEFORMS).glob("*.npz")) if waveform_units else []:
            plot_waveforms(path)
    say(f"wrote {out_dir / RESULTS}")
    return record


def run_firing(export: Export, draw: int | None) -> RunFiring:
    """How the run's neurons fire: the mode, seed and draw of this run, and one line naming it (the median mode is
    named an idealisation)."""
    firing = export.manifest.firing_mode()
    if not firing.stochastic:
        return RunFiring(firing.mode, firing.describe())
    return RunFiring(firing.mode, f"stochastic (each neuron fires when H >= -ln u; u recorded per neuron and step: "
                                  f"seed {firing.seed}, draw {draw}, the same in the circuit and in PyTorch)",
                     firing.seed, draw)


def check_soa(layer, outputs, samples, limits, mode, out_dir, warn) -> dict[str, Any]:
    check = check_layer(layer.name, [outputs.soa[s][f"{layer.name}_v_peak_v"] for s in samples],
                        [outputs.soa[s][f"{layer.name}_t_peak_k"] for s in samples], samples, limits)
    if not check["within"] and mode != "off":
        line = describe_violation(check, limits)
        if mode == "strict":
            raise SOAViolationError(
                f"safe operating area violated (--soa strict) in {line}. The finished units are kept in "
                f"{out_dir / SimFiles.CACHE}; lower the drive (device card drive.v_dd_v, network current_scale_a) "
                f"or retrain with the bounded drive, or rerun with --soa warn to simulate anyway (the report then "
                f"flags every energy figure)")
        warn(f"warning: safe operating area violated in {line}")
    return check


def _provenance(export: Export, simulator: str, version: str, crossbar: str, compared: bool) -> dict[str, Any]:
    if crossbar == "ports":
        circuit = (f"simulated ({simulator} transient of every unit's neurons, mirrors and reset, driven by its "
                   f"crossbar's exact port model: PWL column currents from the port conductances of ports/<unit>.npz)")
    else:
        circuit = f"simulated ({simulator} transient of every unit's full netlist, netlists/<unit>.cir)"
    man = export.manifest
    return {"export": str(export.folder.resolve()), "checkpoint_sha256": man.checkpoint.sha256,
            "osdi_sha256": man.device.osdi_sha256, "simulator": simulator, "simulator_version": version,
            "ngspice": (int(version.split()[-1]) if version.split()[-1].isdigit() else version)
            if simulator == "ngspice" else None,
            "crossbar": crossbar,
            "crossbar_energy": ("computed (exact: row levels x port conductances x integral of the pulse shape "
                                "squared; netlist_gen.ports)" if crossbar == "ports" else
                                f"simulated (integral of the {simulator} row-source currents and voltages)"),
            "mapping_options": man.mapping_options, "run_values": circuit,
            "torch_values": ("computed (PyTorch, exact precision: float64, 64/16 substeps; "
                             + ("the network" if ideal_mapping(man.options())
                                else "the hardware model of the exported chip, HardwareNet") + ")"
                             if compared else None),
            "sim_time": f"measured wall time of each {simulator} run, summed per sample"}


def _run_date(out_dir: Path, simulated: int) -> str:
    """When the results were computed (UTC, to the minute): now, unless every unit came from the cache of an earlier
    run, whose date is kept (so that a rerun writes the same report)."""
    if simulated == 0 and (out_dir / RESULTS).is_file():
        try:
            earlier = json.loads((out_dir / RESULTS).read_text(encoding="utf-8"))["provenance"]["date_utc"]
            if isinstance(earlier, str):
                return earlier
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def write_outputs(out_dir: Path, export: Export, samples, outputs: LayerOutputs, ref, energy: bool) -> None:
    hidden = export.manifest.hidden_layers
    tag = {EXPORT_TAG: np.asarray(export.identity.manifest_sha256)}      # every file names its export
    for k, s in enumerate(samples):
        arrays = {SimFiles.spike_key(layer.name): outputs.spikes[s][li] for li, layer in enumerate(hidden)}
        if ref is not None:
            arrays.update({SimFiles.torch_spike_key(layer.name): ref["spikes"][li][k]
                           for li, layer in enumerate(hidden)})
        arrays[SimFiles.CHARGE] = outputs.charges[s]
        atomic_savez(out_dir / SimFiles.spikes(s), **arrays, **tag)
        if energy:
            atomic_savez(out_dir / SimFiles.energy(s), **outputs.energies[s], **tag)
        atomic_savez(out_dir / SimFiles.soa(s), **outputs.soa[s], **tag)
