"""``ipnet-cosim simulate``: run an exported network in ngspice (or VACASK), layer by layer, and compare
with PyTorch.

For every sample, layer ``l``'s units are run with row drivers built from layer ``l - 1``'s
simulated spikes (layer 0: the input frames); the readout's column charges give the class scores.
By default (``crossbar="ports"``) each unit's crossbar reaches the simulator as its exact port model
(:mod:`~ipnet_cosim.netlist_gen.ports`: one PWL current source per sensed column, the row sources'
energy computed exactly from the port conductances) and only the neurons, mirrors and reset are
simulated; ``crossbar="netlist"`` simulates the exported netlist with every resistor (and the row
sources' energy integrated from the simulated currents), for validation. ``simulator="vacask"``
runs the port-model units in VACASK instead of ngspice (the same circuit IR). Units of one layer run in parallel worker processes (one ngspice per process).
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
the firing threshold (``ln H - ln ln 2`` for heat-memory neurons, ``I / I_th - 1`` for memoryless
ones), so numerical ties can be told from mapping errors.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ipnet_cosim.circuits.soa import (SOA_MODES, SOALimits, SOAViolationError, check_layer, describe_violation,
                                     step_peaks)
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError, SimulationError
from ipnet_cosim.netlist_gen.export import (EXPORT_FORMAT, EXPORT_VERSION, MANIFEST, load_samples, replace_drivers,
                                            stimulus_lines)
from ipnet_cosim.netlist_gen.mapping import LayerMatrix, MappingOptions, Unit
from ipnet_cosim.netlist_gen.ports import UnitPorts

RESULTS = "results.json"
DASK_CONNECT_TIMEOUT = "20s"
CROSSBAR_MODELS = ("ports", "netlist")
SIMULATORS = ("ngspice", "vacask")


@dataclass(frozen=True)
class EnergySpec:
    """What a worker needs to integrate a unit's energies (see :mod:`ipnet_cosim.energy.integrate`).

    Saved vectors: every row source's branch current ``i(Vx<r>)`` and its node voltage (``x<r>``, or
    ``d<r>`` behind a separate driver resistor), every sense current and, for neuron units, every
    neuron input ``v(a<j>)``. Per step the worker keeps: the energy each row source delivers, the
    part of it dissipated in the driver resistance (``i^2 r_driver``), and the energy each neuron's
    MTJ absorbs (``v(a) i``, ``i`` the MTJ current: the mirrored ``i_in = mirror_gain sum_tiles (i(Vsp) -
    i(Vsm))`` itself, or through the bounded drive ``drive_current_a(i_in)`` when ``drive`` is set).
    """

    n_rows: int
    source_node_prefix: str
    mirror_gain: float
    r_driver_ohm: float
    t_step_s: float
    n_steps: int
    drive: tuple[float, float] | None = None       # (i_max_a, knee) of the bounded drive stage


@dataclass(frozen=True)
class UnitJob:
    """One ngspice run: a unit's deck for one sample."""

    sample: int
    unit: str
    deck: str
    kind: str                       # "neurons" or "integrate"
    n_cols: int
    n_tiles: int
    read_times_s: tuple[float, ...]
    osdi: str
    cache: str
    key: str
    waveforms: bool
    energy: EnergySpec | None = None
    simulator: str = "ngspice"
    crossbar_energy: tuple[np.ndarray, np.ndarray] | None = None   # port model: (e_source_j, e_rdriver_j) [T, rows]
    step: tuple[float, int] = (0.0, 0)           # (t_step_s, n_steps): per-step SOA peaks of neuron units


def _atomic_savez(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def run_unit_job(job: UnitJob) -> dict[str, Any]:
    """Run one unit (in a worker or in-process); the result is also written to the job's cache file."""
    t0 = time.perf_counter()
    try:
        libs = [job.osdi] if job.kind == "neurons" else []
        if job.simulator == "vacask":
            from ipnet_cosim.circuits.vacask_runner import run_vacask
            waves = run_vacask(job.deck, libs)
        else:
            from ipnet_cosim.circuits.runner import run_netlist
            waves = run_netlist(job.deck, libs)
        return _finish_job(job, waves, t0)
    except Exception as exc:   # reported with the tile's name; finished tiles stay cached
        return {"sample": job.sample, "unit": job.unit, "error": f"{type(exc).__name__}: {exc}"}


def _finish_job(job: UnitJob, waves, t0: float) -> dict[str, Any]:
    out: dict[str, Any] = {"key": np.asarray(job.key)}
    if job.kind == "neurons":
        t_read = np.asarray(job.read_times_s)
        out["spikes"] = np.stack([waves.at(f"st{j}", t_read) > 0.5 for j in range(job.n_cols)], axis=1)
        t_step, n_steps = job.step
        v_a = np.stack([waves[f"a{j}"] for j in range(job.n_cols)])
        out["v_peak_v"] = step_peaks(waves.time_s, np.abs(v_a), t_step, n_steps)
        out["t_rise_peak_k"] = step_peaks(waves.time_s, np.stack([waves[f"th{j}"] for j in range(job.n_cols)]),
                                          t_step, n_steps)
    else:
        out["charge_c"] = np.trapezoid(_column_currents(job, waves), waves.time_s, axis=1)
    if job.energy is not None:
        out.update(_unit_energy(job, waves))
    if job.waveforms:
        out["wave_time_s"] = waves.time_s
        for name, values in waves.vectors.items():
            if name != "time":
                out[f"wave_{name}"] = values
    out["elapsed_s"] = np.asarray(time.perf_counter() - t0)
    _atomic_savez(Path(job.cache), **out)
    return {"sample": job.sample, "unit": job.unit, "cached": False, **out}


def _column_currents(job: UnitJob, waves) -> np.ndarray:
    """Differential sense current ``i(Vsp) - i(Vsm)`` of every weight column, summed over row tiles, A."""
    diff = np.zeros((job.n_cols, waves.time_s.size))
    for j in range(job.n_cols):
        for r in range(job.n_tiles):
            diff[j] += waves[f"vsp{r}_{j}#branch"] - waves[f"vsm{r}_{j}#branch"]
    return diff


def _unit_energy(job: UnitJob, waves) -> dict[str, np.ndarray]:
    """Per-step energies of one unit run (J): ``e_source_j`` and ``e_rdriver_j`` ``[T, rows]``, and for
    neuron units ``e_neuron_j`` ``[T, columns]`` and the charge each neuron receives, ``q_neuron_c``
    (``integral |i| dt``, C; what a mirror draws from its supply)."""
    from ipnet_cosim.energy.integrate import energy_per_step_j, source_power_w
    spec = job.energy
    t = waves.time_s
    if job.crossbar_energy is not None:          # port model: computed exactly from the port conductances
        out = {"e_source_j": job.crossbar_energy[0], "e_rdriver_j": job.crossbar_energy[1]}
    else:
        i_src = np.stack([waves[f"vx{r}#branch"] for r in range(spec.n_rows)])
        v_src = np.stack([waves[f"{spec.source_node_prefix}{r}"] for r in range(spec.n_rows)])
        out = {"e_source_j": energy_per_step_j(t, source_power_w(v_src, i_src), spec.t_step_s, spec.n_steps),
               "e_rdriver_j": energy_per_step_j(t, i_src ** 2 * spec.r_driver_ohm, spec.t_step_s, spec.n_steps)}
    if job.kind == "neurons":
        v_a = np.stack([waves[f"a{j}"] for j in range(job.n_cols)])
        i_in = spec.mirror_gain * _column_currents(job, waves)
        if spec.drive is not None:                 # the MTJ current leaves the bounded drive stage
            from ipnet_cosim.device.drive import drive_current_a
            i_in = drive_current_a(i_in, *spec.drive)
        out["e_neuron_j"] = energy_per_step_j(t, v_a * i_in, spec.t_step_s, spec.n_steps)
        out["q_neuron_c"] = energy_per_step_j(t, np.abs(i_in), spec.t_step_s, spec.n_steps)   # charge, C
    return out


def _load_cached(job: UnitJob) -> dict[str, Any] | None:
    path = Path(job.cache)
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            if str(data["key"]) != job.key:
                return None
            if job.waveforms and "wave_time_s" not in data:
                return None
            needed = {"e_source_j", "q_neuron_c"} if job.kind == "neurons" else {"e_source_j"}
            if job.energy is not None and not needed <= set(data.files):
                return None
            if job.kind == "neurons" and "v_peak_v" not in data.files:
                return None
            return {"sample": job.sample, "unit": job.unit, "cached": True, **{k: data[k] for k in data.files}}
    except Exception:          # a damaged cache file is simulated again
        return None


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder} has no {MANIFEST}; create the folder with 'ipnet-cosim export CHECKPOINT -o {folder}'")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); export again") from exc
    if manifest.get("format") != EXPORT_FORMAT or manifest.get("format_version") != EXPORT_VERSION:
        raise ConfigError(f"{path} is not an ipnet-cosim export of format version {EXPORT_VERSION}; export again")
    return manifest


def torch_reference(folder: Path, manifest: dict[str, Any], frames: np.ndarray) -> dict[str, Any]:
    """PyTorch at exact precision on ``frames``: spikes, margins per layer, logits."""
    import torch
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.network import EXACT_N_SUB, EXACT_N_SUB_IDLE, HeatMemoryNeurons
    from ipnet_cosim.models.neuron import NeuronState, mtj_neuron_step
    ck = load_checkpoint(folder / manifest["checkpoint"]["file"])
    model = ck.model.set_precision("exact").eval()
    with torch.no_grad():
        logits, trace = model(torch.as_tensor(frames), return_trace=True)
    spikes, margins, kinds = [], [], []
    for i_a, out, unit in zip(trace["currents_a"], trace["outputs"], model.units):
        t_steps, batch = out.shape[:2]
        spikes.append(out.reshape(t_steps, batch, -1).transpose(0, 1).numpy() > 0.5)
        if isinstance(unit, HeatMemoryNeurons):
            state = NeuronState(torch.zeros_like(i_a[0]))
            lm = []
            for t in range(t_steps):
                res = mtj_neuron_step(i_a[t], state, unit.params, n_sub=EXACT_N_SUB, n_sub_idle=EXACT_N_SUB_IDLE)
                state = res.state
                lm.append(torch.log(res.hazard.clamp_min(1e-300)) - math.log(math.log(2.0)))
            margin = torch.stack(lm)
            kinds.append("ln H - ln ln 2")
        else:
            margin = i_a / unit.i_th_a - 1.0
            kinds.append("I / I_th - 1")
        margins.append(margin.reshape(t_steps, batch, -1).transpose(0, 1).numpy())
    return {"spikes": spikes, "margins": margins, "margin_kinds": kinds, "logits": logits.numpy(),
            "predicted": logits.argmax(dim=1).numpy()}


def simulate_export(folder: str | Path, *, samples: Sequence[int] | None = None, out: str | Path | None = None,
                    workers: int = 1, waveform_units: Sequence[str] = (), compare: bool = True,
                    progress: bool | Callable[[str], None] = True, plots: int = 0,
                    energy: bool = True, scheduler: str | None = None, crossbar: str = "ports",
                    simulator: str = "ngspice", soa: str = "warn",
                    notify: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Simulate an export (see the module docstring); returns the results written to ``<out>/results.json``.

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
        simulator: "ngspice" (default) or "vacask" (port model only).
        soa: what a neuron-step outside the card's safe operating area does: "strict" raises
            :class:`~ipnet_cosim.circuits.soa.SOAViolationError` after the first layer with one (finished
            units stay cached), "warn" (default) reports it through ``progress`` and goes on, "off" records
            the measured peaks without a verdict.
        notify: called with warnings (a safe-operating-area violation in "warn" mode); default: ``progress``
            when it is a callback.
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
    from ipnet_cosim.device.compiler import compile_va
    from ipnet_cosim.models.checkpoint import write_json

    folder = Path(folder)
    manifest = read_manifest(folder)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers ({workers!r}) must be an integer >= 1")
    if crossbar not in CROSSBAR_MODELS:
        raise ConfigError(f"crossbar model {crossbar!r} is unknown; use one of {', '.join(CROSSBAR_MODELS)}")
    if simulator not in SIMULATORS:
        raise ConfigError(f"simulator {simulator!r} is unknown; use one of {', '.join(SIMULATORS)}")
    if soa not in SOA_MODES:
        raise ConfigError(f"soa mode {soa!r} is unknown; use one of {', '.join(SOA_MODES)}")
    if simulator == "vacask" and crossbar != "ports":
        raise ConfigError("VACASK runs the units with the crossbar as its port model; use crossbar 'ports' "
                          "(--crossbar ports), or simulator 'ngspice' for the full netlists")
    if crossbar == "ports" and any("ports" not in u for u in manifest["units"]):
        raise ConfigError(f"{folder} has no port models (exported by an older version); export the network again, "
                          f"or simulate the full netlists with crossbar 'netlist' (--crossbar netlist)")
    if simulator == "vacask":
        from ipnet_cosim.circuits.vacask_runner import vacask_path
        vacask_path()                   # raises SimulatorNotFoundError with the install hint
    out = Path(out) if out is not None else folder / "sim"
    options = MappingOptions.from_dict(manifest["mapping_options"])
    card = DeviceCard.from_dict(manifest["device_card"])
    fast_card = DeviceCard.from_dict(manifest["fast_card"])
    timing = manifest["timing"]
    n_steps = int(timing["n_steps"])
    bounded = manifest["network_config"].get("drive", "ideal") == "bounded"
    limits = SOALimits.from_card(card)
    units_by_name = {u["name"]: u for u in manifest["units"]}
    for name in waveform_units:
        if name not in units_by_name:
            raise ConfigError(f"waveform unit '{name}' is not in this export (units look like "
                              f"{manifest['units'][0]['name']}; see manifest.json)")
    # samples: exported frames, or the data set
    with np.load(folder / manifest["samples"]["file"]) as data:
        exp_frames, exp_labels, exp_idx = data["frames"], data["labels"], [int(v) for v in data["indices"]]
    if samples is None:
        samples = exp_idx
    samples = list(samples)
    missing = [s for s in samples if s not in exp_idx]
    frames_extra, labels_extra = (load_samples(manifest["data_config"], missing) if missing else (None, None))
    frames, labels = [], []
    for s in samples:
        if s in exp_idx:
            frames.append(exp_frames[exp_idx.index(s)])
            labels.append(int(exp_labels[exp_idx.index(s)]))
        else:
            k = missing.index(s)
            frames.append(frames_extra[k])
            labels.append(int(labels_extra[k]))
    frames_arr = np.stack(frames)
    if frames_arr.shape[1] != n_steps:
        raise ConfigError(f"samples have {frames_arr.shape[1]} steps but the netlists simulate {n_steps}; export again")
    osdi = folder / manifest["device"]["osdi"]
    if not osdi.is_file():
        osdi = compile_va(folder / manifest["device"]["va"])
    read_times = tuple(float(v) for v in np.arange(n_steps) * timing["t_step_s"] + timing["read_delay_s"])
    say = progress if callable(progress) else (lambda msg: None)

    layers = manifest["layers"]
    inputs = {s: frames_arr[k].reshape(n_steps, -1).astype(np.float64) for k, s in enumerate(samples)}
    espec: dict[str, EnergySpec] = {}
    if energy:
        behind = options.r_driver_ohm > 0 and not options.reduced       # a separate Rd: the source sits on d<r>
        gains = {l["index"]: float(l.get("mirror_gain", 0.0)) for l in layers}
        drive = (card.drive_i_max_a, card.drive.knee) if bounded else None
        espec = {u["name"]: EnergySpec(len(u["rows"]), "d" if behind else "x", gains[u["layer"]],
                                       options.r_driver_ohm, float(timing["t_step_s"]), n_steps, drive)
                 for u in manifest["units"]}
    energies: dict[int, dict[str, np.ndarray]] = {s: {} for s in samples}
    outputs: dict[int, list[np.ndarray]] = {s: [] for s in samples}
    charges: dict[int, np.ndarray] = {}
    soa_peaks: dict[int, dict[str, np.ndarray]] = {s: {} for s in samples}
    soa_checks: list[dict[str, Any]] = []
    step = (float(timing["t_step_s"]), n_steps)
    elapsed: dict[int, float] = {s: 0.0 for s in samples}
    failures: list[dict[str, str]] = []
    counts = {"runs_simulated": 0, "runs_cached": 0}
    wall0 = time.perf_counter()
    bar = _Bar(progress, total=len(samples) * len(manifest["units"]))
    client = None
    if scheduler:
        client = _dask_client(scheduler)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_spawn()) if workers > 1 else None
    try:
        for layer in layers:
            units = [u for u in manifest["units"] if u["layer"] == layer["index"]]
            kind = "integrate" if layer["unit"] == "integrate" else "neurons"
            jobs = []
            port_models = {u["name"]: UnitPorts.load(folder / u["ports"]) for u in units} if crossbar == "ports" else {}
            for s in samples:
                for u in units:
                    if crossbar == "ports":
                        jobs.append(_port_job(out, u, port_models[u["name"]], layer, s, inputs[s], card, fast_card, options,
                                              n_steps, read_times, osdi, u["name"] in waveform_units,
                                              espec.get(u["name"]), simulator, bounded))
                    else:
                        jobs.append(_job(folder, out, u, s, inputs[s], kind, card, options, read_times, osdi,
                                         u["name"] in waveform_units, espec.get(u["name"]), step))
            results = []
            todo = []
            for job in jobs:
                cached = _load_cached(job)
                if cached is not None:
                    counts["runs_cached"] += 1
                    results.append(cached)
                    bar.advance(1)
                else:
                    todo.append(job)
            bar.describe(f"{layer['name']}: {len(todo)} runs")
            say(f"{layer['name']}: {len(jobs) - len(todo)} cached, {len(todo)} to simulate")
            if client is not None:
                run_iter = _dask_results(client, todo, layer["name"], out)
            else:
                run_iter = pool.map(run_unit_job, todo) if pool is not None else map(run_unit_job, todo)
            try:
                for res in run_iter:
                    if "error" in res:
                        failures.append(_describe_failure(res, units_by_name, crossbar))
                    else:
                        counts["runs_simulated"] += 1
                        results.append(res)
                    bar.advance(1)
            except BrokenProcessPool as exc:
                raise SimulationError(
                    f"a worker process of the {layer['name']} simulation died ({exc}); finished units are kept in "
                    f"{out / 'cache'}. Rerun to resume, with fewer --workers if memory ran out; a script that "
                    f"calls simulate_export with workers > 1 needs an 'if __name__ == \"__main__\":' guard") from exc
            if failures:
                break
            # assemble the layer's output per sample
            n_out = int(np.prod(layer["out_shape"]))
            by_key = {(r["sample"], r["unit"]): r for r in results}
            for s in samples:
                if kind == "neurons":
                    spikes = np.zeros((n_steps, n_out), dtype=bool)
                    v_pk, t_pk = np.zeros((n_steps, n_out)), np.zeros((n_steps, n_out))
                else:
                    q = np.zeros(n_out)
                if energy:
                    energies[s][f"{layer['name']}_source_j"] = np.stack(
                        [by_key[(s, u["name"])]["e_source_j"].sum(axis=1) for u in units])
                    energies[s][f"{layer['name']}_rdriver_j"] = np.stack(
                        [by_key[(s, u["name"])]["e_rdriver_j"].sum(axis=1) for u in units])
                    if kind == "neurons":
                        e_n, q_n = np.zeros((n_steps, n_out)), np.zeros((n_steps, n_out))
                        for u in units:
                            e_n[:, np.asarray(u["neurons"])] = by_key[(s, u["name"])]["e_neuron_j"]
                            q_n[:, np.asarray(u["neurons"])] = by_key[(s, u["name"])]["q_neuron_c"]
                        energies[s][f"{layer['name']}_neuron_j"] = e_n
                        energies[s][f"{layer['name']}_neuron_charge_c"] = q_n
                for u in units:
                    r = by_key[(s, u["name"])]
                    elapsed[s] += float(r["elapsed_s"])
                    idx = np.asarray(u["neurons"])
                    if kind == "neurons":
                        spikes[:, idx] = r["spikes"]
                        v_pk[:, idx] = r["v_peak_v"]
                        t_pk[:, idx] = r["t_rise_peak_k"] + (card if layer["unit"] == "heat" else fast_card).mtj.t_amb_k
                    else:
                        q[idx] = r["charge_c"]
                    if u["name"] in waveform_units:
                        _save_waveforms(out, s, u["name"], r)
                if kind == "neurons":
                    outputs[s].append(spikes)
                    inputs[s] = spikes.astype(np.float64)
                    soa_peaks[s][f"{layer['name']}_v_peak_v"] = v_pk
                    soa_peaks[s][f"{layer['name']}_t_peak_k"] = t_pk
                else:
                    charges[s] = q
            if kind == "neurons":
                check = check_layer(layer["name"], [soa_peaks[s][f"{layer['name']}_v_peak_v"] for s in samples],
                                    [soa_peaks[s][f"{layer['name']}_t_peak_k"] for s in samples], samples, limits)
                soa_checks.append(check)
                if not check["within"] and soa != "off":
                    line = describe_violation(check, limits)
                    if soa == "strict":
                        raise SOAViolationError(
                            f"safe operating area violated (--soa strict) in {line}. The finished units are kept "
                            f"in {out / 'cache'}; lower the drive (device card drive.v_dd_v, network current_scale_a) "
                            f"or retrain with the bounded drive, or rerun with --soa warn to simulate anyway (the "
                            f"report then flags every energy figure)")
                    (notify or say)(f"warning: safe operating area violated in {line}")
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if client is not None:
            client.close()
    wall = time.perf_counter() - wall0
    if failures:
        done = sum(1 for p in out.glob("cache/*/*.npz"))
        lines = "; ".join(f["message"] for f in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        raise SimulationError(f"{len(failures)} tile simulation(s) failed: {lines}{more}. The {done} finished units "
                              f"are kept in {out / 'cache'}; fix the cause and run 'ipnet-cosim simulate {folder}' "
                              f"again to resume")
    results, ref = _summarise(folder, manifest, samples, labels, frames_arr, outputs, charges, elapsed, wall,
                              workers, compare, crossbar, simulator)
    results["summary"].update(counts)
    results["soa"] = {"mode": soa, "checked": soa != "off", "drive": "bounded" if bounded else "ideal",
                      "limits": limits.to_dict(), "within": all(c["within"] for c in soa_checks),
                      "layers": soa_checks,
                      "source": f"simulated: peak |v(a)| across each MTJ and peak junction temperature T_amb + v(th) "
                                f"per neuron and step from the {simulator} waveforms; limits from the device card"}
    write_json(out / RESULTS, results)
    for k, s in enumerate(samples):
        np.savez_compressed(out / f"spikes_sample_{s:04d}.npz", **{
            f"circuit_{layer['name']}": outputs[s][li] for li, layer in enumerate(layers[:-1])},
            **({f"torch_{layer['name']}": ref["spikes"][li][k] for li, layer in enumerate(layers[:-1])} if ref else {}),
            circuit_charge_c=charges[s])
        if energy:
            np.savez_compressed(out / f"energy_sample_{s:04d}.npz", **energies[s])
        np.savez_compressed(out / f"soa_sample_{s:04d}.npz", **soa_peaks[s])
    if plots:
        _plot_rasters(out, samples[:plots], results, outputs, ref, layers)
        for path in sorted((out / "waveforms").glob("*.npz")) if waveform_units else []:
            _plot_waveforms(path)
    say(f"wrote {out / RESULTS}")
    return results


def _job(folder, out, u, sample, spikes_in, kind, card, options, read_times, osdi, waves,
         energy: EnergySpec | None = None, step: tuple[float, int] = (0.0, 0)) -> UnitJob:
    rows = np.asarray(u["rows"])[None, :]
    lm = LayerMatrix(matrix=np.zeros((rows.shape[1], 1)), gather=rows, out_index=np.zeros((1, 1), dtype=np.int64),
                     layout="")
    unit = Unit(u["layer"], 0, u["col_block"], tuple(u["weight_columns"]),
                tuple(tuple(t["rows"]) for t in u["tiles"]))
    netlist = (folder / u["netlist"]).read_text(encoding="utf-8")
    n_cols = u["weight_columns"][1] - u["weight_columns"][0]
    extra = _neuron_saves(kind, n_cols, len(u["tiles"]), waves, energy is not None)
    if energy is not None:
        extra += tuple(x for r in range(energy.n_rows) for x in (f"i(Vx{r})", f"v({energy.source_node_prefix}{r})"))
    deck = replace_drivers(netlist, stimulus_lines(unit, lm, options, card, spikes_in), extra)
    return UnitJob(sample, u["name"], deck, kind, n_cols, len(u["tiles"]), read_times, str(osdi),
                   _cache_path(out, sample, u), hashlib.sha256(deck.encode()).hexdigest(), waves, energy,
                   step=step)


def _neuron_saves(kind: str, n_cols: int, n_tiles: int, waves: bool, energy: bool) -> tuple[str, ...]:
    """Vectors a neuron unit saves besides the spikes: the MTJ voltage and temperature of every neuron
    (safe operating area, kept waveforms, energy); for the energy integrals every sense current."""
    if kind != "neurons":
        return ()
    extra = tuple(f"v({n}{j})" for j in range(n_cols) for n in ("a", "th"))
    if energy:
        extra += tuple(f"i(Vs{pm}{t}_{j})" for j in range(n_cols) for t in range(n_tiles) for pm in "pm")
    return extra


def _cache_path(out: Path, sample: int, u: dict) -> str:
    return str(out / "cache" / f"sample_{sample:04d}" / f"{u['name']}.npz")


def _port_job(out: Path, u: dict, ports, layer: dict, sample: int, spikes_in: np.ndarray, card: DeviceCard,
              fast_card: DeviceCard, options: MappingOptions, n_steps: int, read_times, osdi, waves: bool,
              energy: EnergySpec | None, simulator: str, drive: bool = False) -> UnitJob:
    """A unit with its crossbar as the port model ``ports`` (:class:`~ipnet_cosim.netlist_gen.ports.UnitPorts`)."""
    import dataclasses
    from ipnet_cosim.netlist_gen.mapping import port_unit_circuit, row_levels_v
    from ipnet_cosim.netlist_gen.ports import column_currents_pwl, row_energy_j
    levels = row_levels_v(np.asarray(u["rows"]), spikes_in, card.timing.v_read_v)
    if levels.shape[1] != ports.n_rows:
        raise ConfigError(f"{u['ports']} has {ports.n_rows} rows but unit {u['name']} has {levels.shape[1]}; "
                          f"export again")
    kind = "integrate" if layer["unit"] == "integrate" else "neurons"
    n_cols = u["weight_columns"][1] - u["weight_columns"][0]
    circuit = port_unit_circuit(u["name"], n_tiles=len(u["tiles"]), n_cols=n_cols, unit_kind=layer["unit"],
                                mirror_gain=float(layer.get("mirror_gain", 0.0)), card=card, fast_card=fast_card,
                                n_steps=n_steps, options=options,
                                currents=column_currents_pwl(ports, levels, card.timing), drive=drive)
    extra = _neuron_saves(kind, n_cols, len(u["tiles"]), waves, energy is not None)
    circuit = dataclasses.replace(circuit, saves=circuit.saves + extra)
    crossbar_energy = row_energy_j(ports, levels, card.timing, options.r_driver_ohm) if energy is not None else None
    if simulator == "vacask":
        from ipnet_cosim.netlist_gen.vacask import format_vacask
        deck = format_vacask(circuit, Path(osdi).name if kind == "neurons" else None)
    else:
        from ipnet_cosim.netlist_gen.ngspice import format_ngspice
        deck = format_ngspice(circuit)
    return UnitJob(sample, u["name"], deck, kind, n_cols, len(u["tiles"]), read_times, str(osdi),
                   _cache_path(out, sample, u), hashlib.sha256(deck.encode()).hexdigest(), waves, energy, simulator,
                   crossbar_energy, (card.timing.t_step_s, n_steps))


def _describe_failure(res: dict[str, Any], units: dict[str, dict], crossbar: str = "netlist") -> dict[str, str]:
    u = units[res["unit"]]
    rows = ", ".join(f"{t['rows'][0]}-{t['rows'][1] - 1}" for t in u["tiles"])
    what = u["netlist"] if crossbar == "netlist" else f"port model {u['ports']}"
    msg = (f"tile {res['unit']} (layer {u['layer']}, position {u['position']}, weight columns "
           f"{u['weight_columns'][0]}-{u['weight_columns'][1] - 1}, rows {rows}; {what}) failed on sample "
           f"{res['sample']}: {res['error'].splitlines()[0]}")
    return {"unit": res["unit"], "sample": str(res["sample"]), "message": msg, "error": res["error"]}


def _save_waveforms(out: Path, sample: int, unit: str, r: dict[str, Any]) -> None:
    arrays = {k[5:]: r[k] for k in r if isinstance(k, str) and k.startswith("wave_")}
    if arrays:
        _atomic_savez(out / "waveforms" / f"sample_{sample:04d}_{unit}.npz", **arrays)


def _summarise(folder, manifest, samples, labels, frames, outputs, charges, elapsed, wall, workers, compare,
               crossbar="netlist", simulator="ngspice"):
    from ipnet_cosim.circuits.runner import ngspice_version
    t = manifest["timing"]
    readout = manifest["layers"][-1]
    k_s, v_read = readout["k_s"], t["v_read_v"]
    scale = t["readout_gain"] / (k_s * v_read * t["t_pulse_s"] * t["n_steps"])
    ref = torch_reference(folder, manifest, frames) if compare else None
    per_sample = []
    hidden = manifest["layers"][:-1]
    totals = [{"layer": l["name"], "neuron_steps": 0, "mismatches": 0, "closest_margin": None,
               "margin": None} for l in hidden]
    for k, s in enumerate(samples):
        logits_c = charges[s] * scale
        entry: dict[str, Any] = {"sample": s, "label": labels[k], "circuit_class": int(np.argmax(logits_c)),
                                 "circuit_logits": [float(v) for v in logits_c], "sim_time_s": elapsed[s],
                                 "layers": []}
        for li, spikes in enumerate(outputs[s]):
            layer_entry: dict[str, Any] = {"layer": hidden[li]["name"], "neuron_steps": int(spikes.size),
                                           "circuit_fire_rate": float(spikes.mean())}
            if ref is not None:
                ts = ref["spikes"][li][k]
                margin = ref["margins"][li][k]
                diff = np.argwhere(spikes != ts)
                layer_entry.update({"torch_fire_rate": float(ts.mean()), "mismatches": int(len(diff)),
                                    "agreement": float((spikes == ts).mean()),
                                    "margin": ref["margin_kinds"][li],
                                    "closest_margin": float(np.abs(margin).min()),
                                    "mismatch_details": [{"step": int(a), "neuron": int(b), "circuit": bool(spikes[a, b]),
                                                          "torch": bool(ts[a, b]), "torch_margin": float(margin[a, b])}
                                                         for a, b in diff[:20]]})
                tot = totals[li]
                tot["neuron_steps"] += int(spikes.size)
                tot["mismatches"] += int(len(diff))
                tot["margin"] = ref["margin_kinds"][li]
                cm = float(np.abs(margin).min())
                tot["closest_margin"] = cm if tot["closest_margin"] is None else min(tot["closest_margin"], cm)
                if len(diff):
                    worst = float(np.abs(margin[tuple(diff.T)]).max())
                    tot["largest_mismatch_margin"] = max(tot.get("largest_mismatch_margin", 0.0), worst)
            entry["layers"].append(layer_entry)
        if ref is not None:
            entry["torch_class"] = int(ref["predicted"][k])
            entry["torch_logits"] = [float(v) for v in ref["logits"][k]]
            entry["classes_agree"] = entry["torch_class"] == entry["circuit_class"]
        per_sample.append(entry)
    n = len(samples)
    summary: dict[str, Any] = {
        "samples": n, "circuit_accuracy": sum(e["circuit_class"] == e["label"] for e in per_sample) / n,
        "sim_time_per_sample_s": sum(elapsed[s] for s in samples) / n, "wall_time_s": wall, "workers": workers,
    }
    if ref is not None:
        summary.update({
            "torch_accuracy": sum(e["torch_class"] == e["label"] for e in per_sample) / n,
            "classes_agree": sum(e["classes_agree"] for e in per_sample),
            "all_spikes_equal": all(t["mismatches"] == 0 for t in totals),
            "layers": totals,
        })
    if crossbar == "ports":
        circuit = (f"simulated ({simulator} transient of every unit's neurons, mirrors and reset, driven by its "
                   f"crossbar's exact port model: PWL column currents from the port conductances of ports/<unit>.npz)")
    else:
        circuit = f"simulated ({simulator} transient of every unit's full netlist, netlists/<unit>.cir)"
    result = {
        "what": f"circuit-level simulation of an exported network ({simulator}) and its comparison with PyTorch",
        "provenance": {"export": str(folder.resolve()), "checkpoint_sha256": manifest["checkpoint"]["sha256"],
                       "osdi_sha256": manifest["device"]["osdi_sha256"], "simulator": simulator,
                       "ngspice": ngspice_version() if simulator == "ngspice" else None,
                       "crossbar": crossbar,
                       "crossbar_energy": ("computed (exact: row levels x port conductances x integral of the pulse "
                                           "shape squared; netlist_gen.ports)" if crossbar == "ports" else
                                           f"simulated (integral of the {simulator} row-source currents and voltages)"),
                       "mapping_options": manifest["mapping_options"],
                       "circuit_values": circuit,
                       "torch_values": "computed (PyTorch, exact precision: float64, 64/16 substeps)" if ref else None,
                       "sim_time": f"measured wall time of each {simulator} run, summed per sample"},
        "summary": summary, "per_sample": per_sample,
    }
    return result, ref


def _dask_client(address: str):
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ConfigError("--scheduler needs dask.distributed: pip install 'distributed'") from exc
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise SimulationError(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                              f"'dask scheduler' and workers with 'dask worker {address} --nthreads 1'") from exc


def _dask_results(client, todo: list[UnitJob], layer: str, out: Path):
    """Run jobs on a Dask cluster; yield results as they finish (order does not matter downstream)."""
    from dask.distributed import as_completed
    futures = client.map(run_unit_job, todo, pure=False)
    try:
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except Exception as exc:      # a worker died (KilledWorker) or the cluster went away
                raise SimulationError(f"a Dask worker failed during the {layer} simulation ({type(exc).__name__}: "
                                      f"{exc}); finished units are kept in {out / 'cache'}. Rerun to resume") from exc
    finally:
        for fut in futures:
            fut.cancel()


def _spawn():
    import multiprocessing
    return multiprocessing.get_context("spawn")


class _Bar:
    def __init__(self, progress, total: int) -> None:
        self.task = None
        self.progress = None
        if progress is True:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), transient=False)
            self.progress.start()
            self.task = self.progress.add_task("simulating", total=total)

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def describe(self, text: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _plot_rasters(out: Path, samples, results, outputs, ref, layers) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    hidden = layers[:-1]
    by_sample = {e["sample"]: e for e in results["per_sample"]}
    for k, s in enumerate(samples):
        e = by_sample[s]
        fig, axes = plt.subplots(1, len(hidden) + 1, figsize=(4 * (len(hidden) + 1), 3.6))
        for li, ax in enumerate(axes[:-1]):
            spikes = outputs[s][li]
            t, n = np.nonzero(spikes)
            ax.scatter(t, n, s=2, c="k", marker="|", label="ngspice spike")
            if ref is not None:
                diff = np.argwhere(spikes != ref["spikes"][li][k])
                if len(diff):
                    ax.scatter(diff[:, 0], diff[:, 1], s=18, facecolors="none", edgecolors="r",
                               label=f"differs from PyTorch ({len(diff)})")
            ax.set_title(f"{hidden[li]['name']} ({hidden[li]['unit']})", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("neuron (flattened output index)")
            ax.legend(fontsize=7, loc="upper right")
        ax = axes[-1]
        x = np.arange(len(e["circuit_logits"]))
        ax.bar(x - 0.2, e["circuit_logits"], width=0.4, label="circuit (simulated charge)")
        if "torch_logits" in e:
            ax.bar(x + 0.2, e["torch_logits"], width=0.4, label="PyTorch")
        ax.axvline(e["label"], color="g", ls=":", label=f"label {e['label']}")
        ax.set_title("readout class scores", fontsize=9)
        ax.set_xlabel("class")
        ax.legend(fontsize=7)
        fig.suptitle(f"sample {s}: circuit class {e['circuit_class']}"
                     + (f", PyTorch class {e['torch_class']}" if "torch_class" in e else ""), fontsize=10)
        fig.tight_layout()
        fig.savefig(out / f"raster_sample_{s:04d}.png", dpi=110)
        plt.close(fig)


def _plot_waveforms(path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with np.load(path) as data:
        t = data["time_s"] * 1e9
        names = sorted(k for k in data.files if k.startswith("th"))[:4]
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        for name in names:
            a1.plot(t, data[name], lw=0.8, label=f"v({name}): temperature rise")
            st = "st" + name[2:]
            if st in data.files:
                a2.plot(t, data[st], lw=0.8, label=f"v({st})")
        a1.set_ylabel("K")
        a2.set_ylabel("state m")
        a2.set_xlabel("time (ns)")
        a1.legend(fontsize=7)
        a2.legend(fontsize=7)
        fig.suptitle(path.stem, fontsize=10)
        fig.tight_layout()
        fig.savefig(path.with_suffix(".png"), dpi=110)
        plt.close(fig)
