"""What runs in a worker: one :class:`~ipnet_cosim.simulation.jobs.UnitJob` through its simulator, reduced to
spikes (or column charges), safe-operating-area peaks and per-step energies, and written to the job's cache
file; and the cache lookup that lets an interrupted run resume.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.circuits.soa import step_peaks
from ipnet_cosim.simulation.jobs import UnitJob


def atomic_savez(path: Path, **arrays: Any) -> None:
    """``np.savez_compressed`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run_unit_job(job: UnitJob) -> dict[str, Any]:
    """Run one unit (in a worker or in-process); the result is also written to the job's cache file.

    A failure comes back as ``{"error": ...}`` (named with its unit by the caller) so finished units stay cached.
    """
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
    except Exception as exc:
        return {"sample": job.sample, "unit": job.unit, "error": f"{type(exc).__name__}: {exc}",
                "error_type": type(exc).__name__}


def _finish_job(job: UnitJob, waves, t0: float) -> dict[str, Any]:
    out: dict[str, Any] = {"key": np.asarray(job.key)}
    if job.part is not None:
        out["part"] = np.asarray(job.part)
    if job.kind == "neurons":
        t_read = np.asarray(job.read_times_s)
        out["spikes"] = np.stack([waves.at(f"st{j}", t_read) > 0.5 for j in range(job.n_cols)], axis=1)
        t_step, n_steps = job.step
        v_a = np.stack([waves[f"a{j}"] for j in range(job.n_cols)])
        out["v_peak_v"] = step_peaks(waves.time_s, np.abs(v_a), t_step, n_steps)
        out["t_rise_peak_k"] = step_peaks(waves.time_s, np.stack([waves[f"th{j}"] for j in range(job.n_cols)]),
                                          t_step, n_steps)
    else:
        out["charge_c"] = np.trapezoid(column_currents(job, waves), waves.time_s, axis=1)
    if job.energy is not None:
        out.update(unit_energy(job, waves))
    if job.waveforms:
        out["wave_time_s"] = waves.time_s
        for name, values in waves.vectors.items():
            if name != "time":
                out[f"wave_{name}"] = values
    out["elapsed_s"] = np.asarray(time.perf_counter() - t0)
    out["rss_mb"] = np.asarray(rss_mb())
    atomic_savez(Path(job.cache), **out)
    return {"sample": job.sample, "unit": job.unit, "cached": False, **out}


def rss_mb() -> float:
    """This process's resident memory now (``VmRSS``), MB; NaN where ``/proc`` has none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def column_currents(job: UnitJob, waves) -> np.ndarray:
    """Differential sense current ``i(Vsp) - i(Vsm)`` of every weight column, summed over row tiles and, with
    bit slicing, over its slice columns ``j S + s`` weighted by ``L^s`` (``job.slice_gains``), A."""
    diff = np.zeros((job.n_cols, waves.time_s.size))
    sl = len(job.slice_gains)
    for j in range(job.n_cols):
        for s, gain in enumerate(job.slice_gains):
            k = j * sl + s
            part = np.zeros(waves.time_s.size)
            for r in range(job.n_tiles):
                part += waves[f"vsp{r}_{k}#branch"] - waves[f"vsm{r}_{k}#branch"]
            diff[j] += gain * part                      # gain 1.0 without slicing: exact
    return diff


def unit_energy(job: UnitJob, waves) -> dict[str, np.ndarray]:
    """Per-step energies of one unit run (J): ``e_source_j`` and ``e_rdriver_j`` ``[T, rows]``, and for
    neuron units ``e_neuron_j`` ``[T, columns]`` and the charge each neuron receives, ``q_neuron_c``
    (``integral |i| dt``, C; what a mirror draws from its supply)."""
    from ipnet_cosim.simulation.integrate import energy_per_step_j, product_energy_per_step_j
    spec = job.energy
    if spec is None:
        raise ValueError(f"unit {job.unit}: energy asked of a job built without its energy spec")
    t = waves.time_s
    if job.crossbar_energy is not None:          # port model: computed exactly from the port conductances
        out = {"e_source_j": job.crossbar_energy[0], "e_rdriver_j": job.crossbar_energy[1]}
    else:
        i_src = np.stack([waves[f"vx{r}#branch"] for r in range(spec.n_rows)])
        v_src = np.stack([waves[f"{spec.source_node_prefix}{r}"] for r in range(spec.n_rows)])
        # a source delivers -v i (SPICE's branch-current direction); v and i are linear between time points
        out = {"e_source_j": product_energy_per_step_j(t, -v_src, i_src, spec.t_step_s, spec.n_steps),
               "e_rdriver_j": product_energy_per_step_j(t, i_src * spec.r_driver_ohm, i_src, spec.t_step_s,
                                                        spec.n_steps)}
    if job.kind == "neurons":
        v_a = np.stack([waves[f"a{j}"] for j in range(job.n_cols)])
        if job.inputs_sensed:                      # the deck's sources are the neurons' net input currents
            i_in = np.stack([waves[f"vin{j}#branch"] for j in range(job.n_cols)])
        else:
            i_in = spec.mirror_gain * column_currents(job, waves)
        if spec.drive is not None:                 # the MTJ current leaves the bounded drive stage
            from ipnet_cosim.device.drive import drive_current_a
            i_in = drive_current_a(i_in, *spec.drive)
        out["e_neuron_j"] = product_energy_per_step_j(t, v_a, i_in, spec.t_step_s, spec.n_steps)
        out["q_neuron_c"] = energy_per_step_j(t, np.abs(i_in), spec.t_step_s, spec.n_steps)   # charge, C
    return out


def load_cached(job: UnitJob) -> dict[str, Any] | None:
    """The cached result of ``job`` if its file holds this exact deck's run with everything the job needs."""
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
            if job.part is not None and ("part" not in data.files or tuple(data["part"]) != job.part):
                return None
            return {"sample": job.sample, "unit": job.unit, "cached": True, **{k: data[k] for k in data.files}}
    except Exception:          # a damaged cache file is simulated again
        return None


def save_waveforms(path: Path, r: dict[str, Any]) -> None:
    """The ``wave_*`` vectors of a result as their own npz (names without the prefix)."""
    arrays = {k[5:]: r[k] for k in r if isinstance(k, str) and k.startswith("wave_")}
    if arrays:
        atomic_savez(path, **arrays)
