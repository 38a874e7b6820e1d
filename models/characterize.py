"""Characterize one thermal MTJ neuron in ngspice (Verilog-A via OSDI) and in PyTorch, side by side.

:func:`run_characterization` runs four experiments on the same device card and
writes ``characterization.json`` plus one PNG plot per experiment:

1. **Thermal step response** (``thermal_step_response.png``): a sub-threshold
   current step held for 5 tau_th, then switched off for 3 tau_th. Temperature
   rise from SPICE (node ``th0``), from the PyTorch neuron and from the RC
   solution ``dT(t) = P R_th (1 - exp(-t/tau_th))`` with ``P = I^2 R_P``.
2. **R(V) of both states** (``resistance_vs_voltage.png``): the MTJ voltage swept
   from -0.8 V to 0.8 V in the parallel (P, DC sweep) and antiparallel (AP, fired
   by a pulse, then a slow transient ramp) state, against ``R_P`` and
   ``R_P (1 + TMR0/(1 + V^2/Vh^2))`` and PyTorch's ``resistance_ohm``; the state
   ngspice is in is checked at every point.
3. **Switching probability vs pulse current** at several ambient temperatures
   (``switching_probability.png``): ngspice stochastic mode and PyTorch
   stochastic mode on the same protocol, PyTorch "expected" mode
   (``1 - exp(-H)`` from a cold start).
4. **Intrinsic plasticity** (``intrinsic_plasticity.png``): firing probability
   of a weak test pulse vs the delay after a strong conditioning pulse, and
   the temperature left at the test pulse, whose decay is fitted with an
   exponential and compared with tau_th = R_th C_th. Both pulses reach the MTJ
   through the card's bounded drive stage (``ipnet_neuron_drive``, in ngspice and
   in PyTorch): the conditioning pulse is the drive at saturation, the strongest
   pulse the circuit can give.

Importing this module imports torch and numpy, never matplotlib, and does not
start ngspice. All quantities are SI; keys of the JSON carry their unit.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ipnet_cosim.circuits.neuron_bench import MODEL_NAME, NeuronBench, simulate_bench
from ipnet_cosim.circuits.runner import run_netlist
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.compiler import NEURON_MODULE
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.drive import NeuronDriveStage
from ipnet_cosim.models.neuron import (NeuronParams, NeuronState, ThermalMTJNeuron, mtj_neuron_step,
                                       resistance_ohm)

SOURCE = "simulated (ngspice + OSDI) and computed (PyTorch)"
JSON_NAME = "characterization.json"
PLOT_FILES = {
    "thermal_step": "thermal_step_response.png",
    "resistance": "resistance_vs_voltage.png",
    "switching": "switching_probability.png",
    "plasticity": "intrinsic_plasticity.png",
}

# Protocol constants (SI units). They are recorded in the JSON next to the data they shape.
THERMAL_STEP_CURRENT_A = 100e-6          # requested step current; lowered if it would fire
THERMAL_ON_TAUS = 5.0                     # step held for 5 tau_th ...
THERMAL_OFF_TAUS = 3.0                    # ... then 3 tau_th of cooling
THERMAL_MAX_FIRE_PROB = 1e-3              # "sub-threshold": PyTorch firing probability below this
RV_V_MAX_V = 0.8                          # R(V) sweep range +-0.8 V
RV_V_STEP_V = 0.02
TEMPERATURES_K = (275.0, 300.0, 325.0, 350.0)
N_CURRENTS = 7                            # currents per temperature, from p = 2 % to p = 98 %
P_RANGE = (0.02, 0.98)
SPICE_REPLICAS = 5                        # neurons per netlist: 500 trials of one current took 3.2 s at 5 neurons
                                          # per deck, 4.4 s at 10, 7.4 s at 50 (measured once, 2-core machine;
                                          # every neuron's events are time points of the whole deck)
TORCH_REPLICAS = 50                       # neurons per PyTorch batch (same protocol, fewer sequential steps)
SPICE_MAX_STEP_S = 500e-12
SPICE_RELTOL = 1e-3
ISO_STEP_TAUS = 5.0                       # step period of the probability sweep: >= 5 tau_th
IP_DELAYS_STEPS = (1, 2, 3, 4, 5, 6)
IP_TEST_P_COLD = 0.12                     # test current: cold-start firing probability 12 %
IP_COND_INPUT_FACTOR = 4.0                # conditioning input = 4 x the drive's ceiling: saturated (99.6 %)
IP_COOL_TAUS = 5.0                        # zero steps after each test pulse: >= 5 tau_th


# -- small helpers ---------------------------------------------------------------------------------

def _seed_for(seed: int, *keys: int) -> int:
    """A reproducible sub-seed in [1, 2^31 - 1] for one simulation of one part."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint32)[0]
    return int(state % (2 ** 31 - 2)) + 1


def _wilson(k: np.ndarray, n: int, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (95 % by default) of a binomial proportion k/n."""
    k = np.asarray(k, dtype=float)
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _jsonable(obj: Any) -> Any:
    """Numpy/torch values to plain Python (floats as float, arrays as lists); NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.detach().cpu().numpy())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def _expected_cold(card: DeviceCard, i_a: np.ndarray | float) -> np.ndarray:
    """PyTorch 'expected' firing probability 1 - exp(-H) of one pulse from ambient (cold start)."""
    p = NeuronParams.from_card(card)
    i = torch.as_tensor(np.atleast_1d(np.asarray(i_a, dtype=float)), dtype=torch.float64)
    res = mtj_neuron_step(i, NeuronState(torch.zeros_like(i)), p, mode="expected")
    return res.spikes.detach().numpy()


def _current_for_probability(card: DeviceCard, target: float) -> float:
    """Pulse current (A) whose cold-start firing probability is ``target`` (bisection on PyTorch)."""
    lo, hi = 0.0, card.mtj.ic0_a
    for _ in range(60):
        if _expected_cold(card, hi)[0] >= target:
            break
        lo, hi = hi, 2.0 * hi
    else:
        raise ConfigError(f"no pulse current below {hi:g} A reaches a firing probability of {target:g} "
                          f"with this device card")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _expected_cold(card, mid)[0] >= target:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def _single_neuron(title: str, card: DeviceCard, drive_el, u_v: float, rst_v: float, *, tran=None, dc=None,
                   saves=(), reltol: float = 1e-4) -> str:
    """One neuron N0 (nodes a0, u0, rst, th0, st0) with the given drive of a0, as an ngspice deck built from the
    circuit IR (the same writer as every other deck)."""
    from ipnet_cosim.netlist_gen.ir import Circuit, MTJNeuronInstance, ModelCard, SolverOptions, VoltageSource
    from ipnet_cosim.netlist_gen.ngspice import format_ngspice
    els = (MTJNeuronInstance("N0", "a0", "0", "u0", "rst", "th0", "st0", MODEL_NAME), drive_el,
           VoltageSource("Vu0", "u0", "0", dc_v=u_v), VoltageSource("Vrst", "rst", "0", dc_v=rst_v))
    return format_ngspice(Circuit(title, els, models=(ModelCard(MODEL_NAME, NEURON_MODULE, card.mtj.model_params()),),
                                  saves=tuple(saves), tran=tran, dc=dc, options=SolverOptions(reltol=reltol)))


# -- part 1: thermal step response ----------------------------------------------------------------

def _thermal_step(card: DeviceCard, osdi: Path) -> dict[str, Any]:
    """Temperature rise under a sub-threshold current step: SPICE vs PyTorch vs the RC solution.

    The step (trapezoid with the card's edge time t_e) is on from 0 to t_on = 5 tau_th and
    off after; the analytic solution uses the energy-equivalent rectangle
    [2 t_e / 3, t_on + t_e / 3], which the PyTorch neuron also integrates.
    """
    m, tm = card.mtj, card.timing
    tau = m.tau_th_s
    t_on = THERMAL_ON_TAUS * tau
    t_stop = (THERMAL_ON_TAUS + THERMAL_OFF_TAUS) * tau
    edge = tm.t_edge_s
    t1, t2 = 2.0 * edge / 3.0, t_on + edge / 3.0          # energy-equivalent rectangle

    # the step must not fire: lower the current until PyTorch's firing probability is negligible
    i_step = THERMAL_STEP_CURRENT_A
    long_card = card.replace(t_pulse_s=t2 - t1, t_step_s=t_stop, t_reset_s=1e-12)
    while _expected_cold(long_card, i_step)[0] >= THERMAL_MAX_FIRE_PROB:
        i_step *= 0.8
    p_fire = float(_expected_cold(long_card, i_step)[0])
    power_w = i_step * i_step * m.r_p_ohm
    rise_ss = power_w * m.r_th_k_per_w

    def analytic(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        heat = rise_ss * (1.0 - np.exp(-np.clip(t - t1, 0.0, None) / tau))
        peak = rise_ss * (1.0 - math.exp(-(t2 - t1) / tau))
        cool = peak * np.exp(-(t - t2) / tau)
        return np.where(t <= t2, heat, cool)

    # SPICE: one neuron, a single PWL step, deterministic draw, no reset
    dt = tau / 200.0
    pwl = [(0.0, 0.0), (edge, i_step), (t_on, i_step), (t_on + edge, 0.0)]
    from ipnet_cosim.netlist_gen.ir import CurrentSource, Save, Transient
    netlist = _single_neuron("ipnet-cosim characterization: thermal step response", card,
                             CurrentSource("I0", "0", "a0", pwl=tuple(pwl)), 0.5, 0.0,
                             tran=Transient(dt, t_stop, dt), saves=(Save.v("th0"), Save.v("st0"), Save.v("a0")))
    waves = run_netlist(netlist, [osdi])
    t_sp = waves.time_s
    rise_sp = waves["th0"]
    peak_ref = float(analytic(np.array([t2]))[0])
    rel_sp = np.abs(rise_sp - analytic(t_sp)) / peak_ref
    heating = t_sp <= t2

    # PyTorch: each sample time is the end of a pulse (heating) or of a step (cooling)
    t_grid = np.linspace(0.0, t_stop, 97)
    rise_pt = np.zeros_like(t_grid)
    i_t = torch.tensor([i_step], dtype=torch.float64)
    zero = NeuronState(torch.zeros(1, dtype=torch.float64))
    for k, t in enumerate(t_grid):
        rel_t = t - t1
        if rel_t <= 10.0 * edge:          # the card needs t_pulse >= 10 t_edge; the rise is ~0 here
            rise_pt[k] = float(analytic(np.array([t]))[0])
            continue
        if t <= t2:
            c = card.replace(t_pulse_s=rel_t, t_step_s=rel_t + 4e-12, t_reset_s=1e-12)
            rise_pt[k] = float(mtj_neuron_step(i_t, zero, NeuronParams.from_card(c)).t_rise_peak_k[0])
        else:
            c = card.replace(t_pulse_s=t2 - t1, t_step_s=max(rel_t, t2 - t1 + 4e-12), t_reset_s=1e-12)
            rise_pt[k] = float(mtj_neuron_step(i_t, zero, NeuronParams.from_card(c)).state.t_rise_k[0])
    rel_pt = np.abs(rise_pt - analytic(t_grid)) / peak_ref
    rel_sp_pt = np.abs(np.interp(t_grid, t_sp, rise_sp) - rise_pt) / peak_ref

    # SPICE waveform on a 0.1 tau grid for the JSON (errors above use every SPICE time point)
    t_json = np.linspace(0.0, t_stop, int(round((THERMAL_ON_TAUS + THERMAL_OFF_TAUS) * 20)) + 1)
    return {
        "current_a": i_step,
        "power_w": power_w,
        "t_rise_steady_k": rise_ss,
        "t_rise_peak_analytic_k": peak_ref,
        "tau_th_s": tau,
        "t_on_s": t_on,
        "t_stop_s": t_stop,
        "edge_s": edge,
        "equivalent_rectangle_s": [t1, t2],
        "p_fire_torch_expected": p_fire,
        "spice_state_max": float(np.max(waves["st0"])),
        "spice_max_step_s": dt,
        "spice_reltol": 1e-4,
        "spice_n_points": int(t_sp.size),
        "time_s": t_json,
        "t_rise_k_spice": np.interp(t_json, t_sp, rise_sp),
        "t_rise_k_analytic": analytic(t_json),
        "time_s_torch": t_grid,
        "t_rise_k_torch": rise_pt,
        "max_rel_err_spice_vs_analytic": float(np.max(rel_sp)),
        "max_rel_err_spice_vs_analytic_heating": float(np.max(rel_sp[heating])),
        "max_rel_err_torch_vs_analytic": float(np.max(rel_pt)),
        "max_rel_err_spice_vs_torch": float(np.max(rel_sp_pt)),
        "rel_err_reference": "analytic peak rise at switch-off",
        "_plot": {"t_spice_s": t_sp, "rise_spice_k": rise_sp, "rel_err_spice": rel_sp},
    }


# -- part 2: R(V) ------------------------------------------------------------------------------------

def _grid_v(with_zero: bool = False) -> np.ndarray:
    """The R(V) voltage grid, V; without V = 0 (where R = V / I is undefined) by default."""
    n = int(round(RV_V_MAX_V / RV_V_STEP_V))
    v = np.arange(-n, n + 1) * RV_V_STEP_V
    return v if with_zero else v[v != 0.0]


def _sweep_p_dc(card: DeviceCard, osdi: Path) -> dict[str, Any]:
    """P state: DC sweep with the reset held high and the draw at its lower clamp.

    With rst high the DC hazard is G tau_reset / (1 + tau_reset/tau_leak); tau_reset_s = 2 fs
    keeps it below f0 e^E_max 2 fs = 0.044 (default card) against the threshold
    -ln(1e-12) = 27.6, so the device stays parallel even at +0.8 V and 160 K of heating.
    """
    c = card.replace(tau_reset_s=2e-15)
    from ipnet_cosim.netlist_gen.ir import DCSweep, VoltageSource
    # reltol 1e-3 leaves an 8e-5 relative error in the branch current at the second sweep
    # point of the AP state (Newton stops early); 1e-6 is exact to ~1e-12 and cheap
    netlist = _single_neuron("ipnet-cosim characterization: R(V) of the P state, DC sweep", c,
                             VoltageSource("Vs0", "a0", "0", dc_v=0.0), 1e-12, card.timing.v_reset_v,
                             dc=DCSweep("Vs0", -RV_V_MAX_V, RV_V_MAX_V, RV_V_STEP_V), reltol=1e-6)
    w = run_netlist(netlist, [osdi])
    v_sw = w["v-sweep"]
    idx = np.array([int(np.argmin(np.abs(v_sw - v))) for v in _grid_v()])
    return {"v": v_sw[idx], "i": -w["vs0#branch"][idx], "st": w["st0"][idx], "h": w["n0#h"][idx],
            "th": w["th0"][idx], "method": "DC sweep, rst high, u = 1e-12",
            "overrides": {"tau_reset_s": 2e-15, "u_v": 1e-12, "rst_v": card.timing.v_reset_v}}


def _sweep_ap_tran(card: DeviceCard, osdi: Path) -> dict[str, Any]:
    """AP state: fire with +V_max for 5 ns, then ramp slowly from -V_max to +V_max (transient).

    A DC sweep cannot hold the AP state: at DC the hazard is G tau_leak, which at negative
    bias (G ~ 1e-15 Hz at -0.8 V on the default card) falls below any threshold and the
    device relaxes to P. In the transient the hazard left by the firing pulse (~1e4) decays
    only with tau_leak (1 s), so the state holds over the 160 ns ramp. The ramp is a PWL
    through every grid voltage, so ngspice has a time point exactly at each of them. The
    draw is at its upper clamp (threshold 1e-12) so the firing pulse fires on any card whose
    switching rate at +V_max is not negligible.
    """
    v_grid = _grid_v(with_zero=True)
    t_fire, t_edge, t_hold, t_per_pt = 5e-9, 10e-12, 1e-9, 2e-9
    t0 = t_fire + t_edge + t_hold
    times = t0 + np.arange(v_grid.size) * t_per_pt
    pts = [(0.0, 0.0), (t_edge, RV_V_MAX_V), (t_fire, RV_V_MAX_V), (t_fire + t_edge, -RV_V_MAX_V)]
    pts += list(zip(times.tolist(), v_grid.tolist()))
    from ipnet_cosim.netlist_gen.ir import Transient, VoltageSource
    netlist = _single_neuron("ipnet-cosim characterization: R(V) of the AP state, fire then slow ramp", card,
                             VoltageSource("Vs0", "a0", "0", pwl=tuple((float(t), float(v)) for t, v in pts)),
                             1.0 - 1e-12, 0.0, tran=Transient(t_per_pt / 4, float(times[-1]), t_per_pt / 4),
                             reltol=1e-6)
    w = run_netlist(netlist, [osdi])
    t_read = times[v_grid != 0.0]
    return {"v": w.at("a0", t_read), "i": -w.at("vs0#branch", t_read), "st": w.at("st0", t_read),
            "h": w.at("n0#h", t_read), "th": w.at("th0", t_read),
            "method": f"transient: {t_fire * 1e9:g} ns at +{RV_V_MAX_V:g} V to fire, then a PWL ramp "
                      f"-{RV_V_MAX_V:g} V -> +{RV_V_MAX_V:g} V at {RV_V_STEP_V / t_per_pt * 1e-9:g} V/ns; "
                      f"u = 1 - 1e-12, rst low",
            "overrides": {"u_v": 1.0 - 1e-12, "rst_v": 0.0}}


def _resistance(card: DeviceCard, osdi: Path) -> dict[str, Any]:
    """R(V) of the P and AP states in ngspice, against the formula and PyTorch's ``resistance_ohm``.

    P from a DC sweep, AP from a transient (see :func:`_sweep_p_dc`, :func:`_sweep_ap_tran`).
    Heating changes only the switching hazard, not R, in this model. The state SPICE is in
    is checked at every point (``st``); errors are taken over the points in the claimed state.
    """
    m = card.mtj
    p = NeuronParams.from_card(card)
    out: dict[str, Any] = {"sweep_v": f"{-RV_V_MAX_V:g} V to {RV_V_MAX_V:g} V in {RV_V_STEP_V:g} V steps, "
                                      f"V = 0 left out",
                           "r_p_ohm": m.r_p_ohm, "tmr0": m.tmr0, "vh_v": m.vh_v}
    worst = 0.0
    for name, m_state, sweep in (("p", 0.0, _sweep_p_dc), ("ap", 1.0, _sweep_ap_tran)):
        s = sweep(card, osdi)
        v, r_sp = s["v"], s["v"] / s["i"]
        r_formula = m.r_p_ohm * (1.0 + m_state * m.tmr0 / (1.0 + v * v / (m.vh_v * m.vh_v)))
        r_pt = resistance_ohm(torch.as_tensor(v, dtype=torch.float64), m_state, p).numpy()
        ok = np.abs(s["st"] - m_state) < 1e-6
        err_f = np.abs(r_sp / r_formula - 1.0)
        err_pt = np.abs(r_sp / r_pt - 1.0)
        err_pt_f = np.abs(r_pt / r_formula - 1.0)
        entry = {
            "voltage_v": v, "current_a_spice": s["i"], "resistance_ohm_spice": r_sp,
            "resistance_ohm_formula": r_formula, "resistance_ohm_torch": r_pt,
            "state_spice": s["st"], "hazard_spice": s["h"], "t_rise_k_spice": s["th"],
            "state_claimed": m_state, "state_verified": bool(np.all(ok)),
            "n_points_state_mismatch": int(np.sum(~ok)),
            "spice_method": s["method"], "spice_overrides": s["overrides"],
            "max_rel_err_spice_vs_formula": float(np.max(err_f[ok])) if ok.any() else None,
            "max_rel_err_spice_vs_torch": float(np.max(err_pt[ok])) if ok.any() else None,
            "max_rel_err_torch_vs_formula": float(np.max(err_pt_f)),
        }
        if ok.any():
            worst = max(worst, float(np.max(err_f[ok])), float(np.max(err_pt[ok])))
        out[name] = entry
    out["max_rel_err"] = worst
    return out


# -- SPICE trial runner ------------------------------------------------------------------------------

def _spice_trials(card: DeviceCard, osdi: Path, sequences: np.ndarray, seed: int,
                  drive: bool = False) -> tuple[Any, Any]:
    """Simulate [neurons, steps] pulse currents in stochastic mode (the drive stage's inputs with
    ``drive``); returns (BenchResult, Waveforms).

    The ambient temperature is the card's: NeuronBench's per-neuron ``t_amb_k`` writes it as an
    instance parameter, which ngspice rejects ("unknown parameter (t_amb_k)") because the
    Verilog-A parameters are model parameters; one card per temperature avoids it.
    """
    bench = NeuronBench.from_array(sequences, card=card, mode="stochastic", max_step_s=SPICE_MAX_STEP_S,
                                   reltol=SPICE_RELTOL, title="ipnet-cosim characterization trials", drive=drive)
    return simulate_bench(bench, seed=seed, osdi=osdi)


def _trial_job(card: DeviceCard, osdi: str, sequences: np.ndarray, seed: int, drive: bool,
               sample_times_s: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """One stochastic trial run (in a worker process): the spikes ``[neurons, steps]`` and, with
    ``sample_times_s``, every neuron's temperature rise at those times ``[neurons, times]``."""
    res, waves = _spice_trials(card, Path(osdi), sequences, seed, drive=drive)
    temps = None
    if sample_times_s is not None:
        temps = np.stack([waves.at(f"th{j}", sample_times_s) for j in range(sequences.shape[0])])
    return np.asarray(res.spikes), temps


class _TrialPool:
    """The ngspice trial runs of a characterization in ``workers`` processes (ngspice is one simulator per
    process); each run is seeded by its own ``setseed``, so results do not depend on which process ran it or
    in which order. ``workers`` = 1 runs in this process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = None
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, *args):
        if self._pool is not None:
            return self._pool.submit(_trial_job, *args)
        from concurrent.futures import Future
        fut: Future = Future()
        fut.set_result(_trial_job(*args))
        return fut

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _layout(trials: int, per_run: int = 0) -> tuple[int, int]:
    """(parallel neurons, repeats per neuron) with neurons x repeats >= trials; ``per_run`` neurons at most
    (default :data:`SPICE_REPLICAS`; PyTorch runs :data:`TORCH_REPLICAS` in one batch: its cost is the
    number of sequential steps, ngspice's the time points of the whole deck)."""
    n = min(per_run or SPICE_REPLICAS, trials)
    return n, -(-trials // n)


# -- part 3: switching probability vs current and temperature ------------------------------------------

def _switching_submit(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: _TrialPool):
    """The switching sweep's ngspice runs, submitted to ``pool``: (step period, cards, current grid, futures)."""
    t_step = max(card.timing.t_step_s, ISO_STEP_TAUS * card.mtj.tau_th_s)
    c_iso = card.replace(t_step_s=t_step)
    n_par, reps = _layout(trials)
    cards = [c_iso.replace(t_amb_k=t_amb) for t_amb in TEMPERATURES_K]
    grid = [np.linspace(*(_current_for_probability(c_t, q) for q in P_RANGE), N_CURRENTS) for c_t in cards]
    runs = {(ti, ci): pool.submit(c_t, str(osdi), np.full((n_par, reps), i_a), _seed_for(seed, 3, ti, ci), False, None)
            for ti, c_t in enumerate(cards) for ci, i_a in enumerate(grid[ti])}
    return t_step, cards, grid, runs


def _switching(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: _TrialPool,
               submitted=None) -> dict[str, Any]:
    """Firing probability of one pulse vs current at several ambient temperatures.

    Each trial is one step of period max(t_step, 5 tau_th) (the heat of the previous
    trial has decayed to < 1 % of its peak), pulse width as on the card. The currents of
    each temperature span PyTorch's cold-start probabilities 2 % to 98 % evenly.
    """
    t_step, cards, grid, runs = submitted if submitted is not None else _switching_submit(card, osdi, seed, trials, pool)
    n_par, reps = _layout(trials)
    curves = []
    for ti, t_amb in enumerate(TEMPERATURES_K):
        c_t = cards[ti]
        currents = grid[ti]
        k_sp, k_st = np.zeros(N_CURRENTS, dtype=int), np.zeros(N_CURRENTS, dtype=int)
        n_tp, reps_t = _layout(trials, TORCH_REPLICAS)
        for ci, i_a in enumerate(currents):
            seq = np.full((n_tp, reps_t), i_a)
            neuron = ThermalMTJNeuron(c_t, mode="stochastic", seed=_seed_for(seed, 30, ti, ci))
            spk, _ = neuron(torch.as_tensor(seq.T.copy(), dtype=torch.float64))
            k_st[ci] = int(spk.detach().numpy().T.reshape(-1)[:trials].sum())
        for ci in range(N_CURRENTS):
            spikes, _ = runs[(ti, ci)].result()
            k_sp[ci] = int(spikes.reshape(-1)[:trials].sum())
        p_sp, p_st = k_sp / trials, k_st / trials
        p_ex = _expected_cold(c_t, currents)
        lo, hi = _wilson(k_sp, trials)
        se = np.sqrt(np.clip(p_ex * (1 - p_ex), 1e-12, None) / trials)
        fine = np.linspace(currents[0] - 0.1 * (currents[-1] - currents[0]),
                           currents[-1] + 0.1 * (currents[-1] - currents[0]), 61)
        curves.append({
            "t_amb_k": t_amb,
            "current_a": currents,
            "p_spice": p_sp, "p_spice_ci95_low": lo, "p_spice_ci95_high": hi,
            "n_fired_spice": k_sp,
            "p_torch_stochastic": p_st, "n_fired_torch_stochastic": k_st,
            "p_torch_expected": p_ex,
            "current_a_fine": fine, "p_torch_expected_fine": _expected_cold(c_t, fine),
            "max_abs_diff_spice_vs_expected": float(np.max(np.abs(p_sp - p_ex))),
            "max_abs_diff_spice_vs_torch_stochastic": float(np.max(np.abs(p_sp - p_st))),
            "max_abs_diff_torch_stochastic_vs_expected": float(np.max(np.abs(p_st - p_ex))),
            "max_abs_z_spice_vs_expected": float(np.max(np.abs(p_sp - p_ex) / se)),
        })
    return {"t_step_s": t_step, "t_pulse_s": card.timing.t_pulse_s, "trials_per_point": trials,
            "spice_layout": {"parallel_neurons": n_par, "steps_per_neuron": reps},
            "torch_layout": dict(zip(("parallel_neurons", "steps_per_neuron"), _layout(trials, TORCH_REPLICAS))),
            "spice_max_step_s": SPICE_MAX_STEP_S, "spice_reltol": SPICE_RELTOL,
            "current_design": f"{N_CURRENTS} currents per temperature from PyTorch cold-start "
                              f"p = {P_RANGE[0]:g} to p = {P_RANGE[1]:g}",
            "curves": curves,
            "max_abs_diff_spice_vs_expected": float(max(c["max_abs_diff_spice_vs_expected"] for c in curves)),
            "max_abs_diff_spice_vs_torch_stochastic":
                float(max(c["max_abs_diff_spice_vs_torch_stochastic"] for c in curves))}


# -- part 4: intrinsic plasticity ----------------------------------------------------------------------

def _plasticity_block(d: int | None, in_cond: float, in_test: float, n_cool: int) -> list[float]:
    """One trial's drive inputs: [I_cond, 0 x (d - 1), I_test, 0 x n_cool] (baseline ``d`` None: no conditioning)."""
    head = [] if d is None else [in_cond] + [0.0] * (d - 1)
    return head + [in_test] + [0.0] * n_cool


def _plasticity_submit(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: _TrialPool):
    """The plasticity protocol's ngspice runs, submitted to ``pool``: (test current, drive inputs of the test
    and conditioning pulses, cooling steps, futures per condition)."""
    drive = NeuronDriveStage(card)
    i_test = _current_for_probability(card, IP_TEST_P_COLD)
    if i_test >= drive.i_max_a:
        raise ConfigError(f"device card: the drive's ceiling ({drive.i_max_a * 1e6:.1f} uA) lies below the test "
                          f"current of the plasticity protocol ({i_test * 1e6:.1f} uA); raise drive.v_dd_v or "
                          f"lower mtj.ra_ohm_m2")
    in_test = drive.input_for(i_test)
    in_cond = IP_COND_INPUT_FACTOR * drive.i_max_a
    n_cool = max(1, math.ceil(IP_COOL_TAUS * card.mtj.tau_th_s / card.timing.t_step_s - 1e-9))
    n_par, reps = _layout(trials)
    runs = []
    for ci, d in enumerate([None, *IP_DELAYS_STEPS]):
        blk = _plasticity_block(d, in_cond, in_test, n_cool)
        L, i_test_pos = len(blk), (0 if d is None else d)
        test_idx = np.arange(reps) * L + i_test_pos
        seq = np.tile(np.asarray(blk), (n_par, reps))
        # the temperature is sampled at the start of each test pulse (before its edge)
        runs.append(pool.submit(card, str(osdi), seq, _seed_for(seed, 4, ci), True, test_idx * card.timing.t_step_s))
    return i_test, in_test, in_cond, n_cool, runs


def _plasticity(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: _TrialPool,
                submitted=None) -> dict[str, Any]:
    """Test-pulse firing probability vs delay after a conditioning pulse (the card's timing).

    Per trial one neuron's drive stage sees the inputs [I_cond, 0 x (d - 1), I_test, 0 x n_cool]:
    the conditioning input saturates the drive (the MTJ gets ~its ceiling i_max), fires almost
    surely and early in its pulse (so its heat is nearly deterministic); the test input gives the
    MTJ the current that fires with probability ~12 % from ambient. The zero steps after the test
    let the heat decay for >= 5 tau_th before the next trial.
    """
    m, tm = card.mtj, card.timing
    tau, t_step = m.tau_th_s, tm.t_step_s
    drive = NeuronDriveStage(card)
    i_test, in_test, in_cond, n_cool, runs = (submitted if submitted is not None
                                              else _plasticity_submit(card, osdi, seed, trials, pool))
    i_cond = float(drive(torch.tensor(in_cond, dtype=torch.float64)))
    n_par, reps = _layout(trials)

    def block(d: int | None) -> list[float]:
        return _plasticity_block(d, in_cond, in_test, n_cool)

    p_sp, k_sp, p_st, p_ex, rise_sp, rise_sp_std, rise_pt, cond_fired = [], [], [], [], [], [], [], []
    conditions = [None, *IP_DELAYS_STEPS]
    for ci, d in enumerate(conditions):
        blk = block(d)
        L, i_test_pos = len(blk), (0 if d is None else d)
        # PyTorch stochastic on the same protocol (a larger batch), PyTorch expected on one block from cold;
        # computed while the workers simulate
        n_tp, reps_t = _layout(trials, TORCH_REPLICAS)
        seq_t = np.tile(np.asarray(blk), (n_tp, reps_t))
        neuron = ThermalMTJNeuron(card, mode="stochastic", seed=_seed_for(seed, 40, ci))
        spk, _ = neuron(drive(torch.as_tensor(seq_t.T.copy(), dtype=torch.float64)))
        test_t = np.arange(reps_t) * L + i_test_pos
        p_st.append(float(spk.detach().numpy()[test_t, :].T.reshape(-1)[:trials].mean()))
        expected = ThermalMTJNeuron(card, mode="expected")
        one = drive(torch.as_tensor(np.asarray(blk)[: i_test_pos + 1, None], dtype=torch.float64))
        spk_ex, _, details = expected(one, return_details=True)
        p_ex.append(float(spk_ex[i_test_pos, 0]))
        rise_pt.append(0.0 if d is None else float(details[i_test_pos - 1].state.t_rise_k[0]))
        # ngspice
        spikes, temps_all = runs[ci].result()
        test_idx = np.arange(reps) * L + i_test_pos
        k = int(spikes[:, test_idx].reshape(-1)[:trials].sum())
        k_sp.append(k)
        p_sp.append(k / trials)
        temps = temps_all.reshape(-1)[:trials]
        rise_sp.append(float(np.mean(temps)))
        rise_sp_std.append(float(np.std(temps)))
        cond_fired.append(None if d is None else
                          float(spikes[:, np.arange(reps) * L].reshape(-1)[:trials].mean()))

    p_sp, p_st, p_ex = np.asarray(p_sp), np.asarray(p_st), np.asarray(p_ex)
    lo, hi = _wilson(np.asarray(k_sp), trials)
    delays = np.asarray(IP_DELAYS_STEPS, dtype=int)
    delay_s = delays * t_step
    rise_d = np.asarray(rise_sp[1:])
    # Every earlier pulse (the conditioning pulse and the previous trial's, which sit at fixed
    # offsets before it) cools as exp(-t/tau_th) with no power in between, so the raw rise at
    # the test pulse is a single exponential in the delay; no baseline is subtracted.
    ok = rise_d > 0
    if ok.sum() >= 2:
        slope, icpt = np.polyfit(delay_s[ok], np.log(rise_d[ok]), 1)
        tau_fit = -1.0 / slope if slope < 0 else None
        amp_fit = float(math.exp(icpt))
    else:
        tau_fit, amp_fit = None, None
    rise_pt_d = np.asarray(rise_pt[1:])
    ok_pt = rise_pt_d > 0
    sl_pt = np.polyfit(delay_s[ok_pt], np.log(rise_pt_d[ok_pt]), 1)[0] if ok_pt.sum() >= 2 else 0.0
    return {
        "t_step_s": t_step, "t_pulse_s": tm.t_pulse_s, "tau_th_s": tau,
        "current_a_test": i_test, "current_a_conditioning": i_cond,
        "drive": {"stage": "bounded drive (card section 'drive'; ipnet_neuron_drive in ngspice, "
                           "models.drive in PyTorch)", "i_max_a": drive.i_max_a,
                  "input_a_test": in_test, "input_a_conditioning": in_cond,
                  "v_compliance_v": card.drive.v_compliance_v()},
        "p_test_cold_design": IP_TEST_P_COLD, "n_cool_steps": n_cool,
        "protocol": "drive inputs per trial [I_cond, 0 x (delay-1), I_test, 0 x n_cool]; baseline [I_test, 0 x "
                    "n_cool]; current_a_* are the MTJ currents the drive gives",
        "trials_per_delay": trials,
        "spice_layout": {"parallel_neurons": n_par, "trials_per_neuron": reps},
        "torch_layout": dict(zip(("parallel_neurons", "trials_per_neuron"), _layout(trials, TORCH_REPLICAS))),
        "delay_steps": delays, "delay_s": delay_s,
        "p_spice": p_sp[1:], "p_spice_ci95_low": lo[1:], "p_spice_ci95_high": hi[1:],
        "n_fired_spice": np.asarray(k_sp[1:]),
        "p_torch_stochastic": p_st[1:], "p_torch_expected": p_ex[1:],
        "p_conditioning_fired_spice": cond_fired[1:],
        "baseline_p_spice": float(p_sp[0]), "baseline_p_spice_ci95": [float(lo[0]), float(hi[0])],
        "baseline_p_torch_stochastic": float(p_st[0]), "baseline_p_torch_expected": float(p_ex[0]),
        "baseline_t_rise_k_spice": float(rise_sp[0]),
        "t_rise_k_test_start_spice": rise_d, "t_rise_k_test_start_spice_std": np.asarray(rise_sp_std[1:]),
        "t_rise_k_test_start_torch": rise_pt_d,
        "fit": "t_rise(delay_s) = A exp(-delay_s / tau), least squares on log t_rise",
        "tau_fit_s_spice": tau_fit, "amplitude_fit_k_spice": amp_fit,
        "tau_fit_s_torch": -1.0 / sl_pt if sl_pt < 0 else None,
        "tau_fit_rel_err_spice": None if tau_fit is None else abs(tau_fit / tau - 1.0),
        "max_abs_diff_spice_vs_expected": float(np.max(np.abs(p_sp[1:] - p_ex[1:]))),
        "max_abs_diff_spice_vs_torch_stochastic": float(np.max(np.abs(p_sp[1:] - p_st[1:]))),
        "baseline_abs_diff_spice_vs_expected": float(abs(p_sp[0] - p_ex[0])),
    }


# -- plots ---------------------------------------------------------------------------------------------

def _figure(ncols: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.0 * ncols, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]
    return fig, axes


def _save(fig, path: Path) -> None:
    fig.savefig(path, metadata={"Software": None})


def _plot_thermal(d: dict[str, Any], path: Path) -> None:
    fig, (ax, ax_err) = _figure(2)
    pl = d["_plot"]
    ax.plot(pl["t_spice_s"] * 1e9, pl["rise_spice_k"], "-", lw=2.2, color="C0", label="ngspice (th0)")
    ax.plot(np.asarray(d["time_s"]) * 1e9, d["t_rise_k_analytic"], "--", color="k", lw=1.2,
            label=r"analytic $P R_{th}(1-e^{-t/\tau_{th}})$")
    ax.plot(np.asarray(d["time_s_torch"]) * 1e9, d["t_rise_k_torch"], "o", ms=3.5, mfc="none", color="C1",
            label="PyTorch neuron")
    ax.axvline(d["t_on_s"] * 1e9, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("time (ns)")
    ax.set_ylabel("temperature rise above ambient (K)")
    ax.set_title(f"Thermal step response: {d['current_a'] * 1e6:.0f} µA step, "
                 f"τ_th = {d['tau_th_s'] * 1e9:.2f} ns")
    ax.legend(loc="lower center", fontsize=8)
    ax.grid(alpha=0.3)
    ax_err.semilogy(pl["t_spice_s"] * 1e9, np.clip(pl["rel_err_spice"], 1e-12, None), color="C0",
                    label="|ngspice - analytic| (every time point)")
    t_pt = np.asarray(d["time_s_torch"])
    err_sp_pt = np.abs(np.interp(t_pt, pl["t_spice_s"], pl["rise_spice_k"]) - np.asarray(d["t_rise_k_torch"]))
    ax_err.semilogy(t_pt * 1e9, np.clip(err_sp_pt / d["t_rise_peak_analytic_k"], 1e-12, None), "o", ms=3,
                    mfc="none", color="C1", label="|ngspice - PyTorch|")
    ax_err.set_xlabel("time (ns)")
    ax_err.set_ylabel("|difference| / analytic peak rise (1)")
    ax_err.set_title(f"ngspice vs analytic: max {d['max_rel_err_spice_vs_analytic']:.1e}; "
                     f"PyTorch vs analytic: {d['max_rel_err_torch_vs_analytic']:.0e}", fontsize=10)
    ax_err.axvline(d["t_on_s"] * 1e9, color="0.6", lw=0.8, ls=":")
    ax_err.legend(loc="lower center", fontsize=8)
    ax_err.grid(alpha=0.3, which="both")
    _save(fig, path)


def _plot_resistance(d: dict[str, Any], path: Path) -> None:
    fig, (ax, ax_err) = _figure(2)
    for name, color, label in (("p", "C0", "P (rest)"), ("ap", "C3", "AP (fired)")):
        e = d[name]
        v = np.asarray(e["voltage_v"])
        ax.plot(v, np.asarray(e["resistance_ohm_spice"]) / 1e3, "o", ms=3.5, color=color,
                label=f"{label}: ngspice")
        ax.plot(v, np.asarray(e["resistance_ohm_formula"]) / 1e3, "-", color="k", lw=0.9,
                label=f"{label}: formula" if name == "p" else None)
        ax.plot(v, np.asarray(e["resistance_ohm_torch"]) / 1e3, "--", color=color, lw=1.2,
                label=f"{label}: PyTorch")
        err = np.abs(np.asarray(e["resistance_ohm_spice"]) / np.asarray(e["resistance_ohm_formula"]) - 1)
        ax_err.semilogy(v, np.clip(err, 1e-17, None), "o-", ms=3, color=color, label=f"{label}: ngspice vs formula")
    ax.set_xlabel("MTJ voltage V (V)")
    ax.set_ylabel("resistance R (kΩ)")
    ax.set_title("R(V): P = R_P, AP = R_P(1 + TMR0/(1 + V²/Vh²))")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax_err.set_xlabel("MTJ voltage V (V)")
    ax_err.set_ylabel("relative error |R_spice/R_formula - 1| (1)")
    ax_err.set_title(f"R(V) relative error: max {d['max_rel_err']:.1e} (zeros drawn at 1e-17)")
    ax_err.legend(fontsize=8)
    ax_err.grid(alpha=0.3, which="both")
    _save(fig, path)


def _plot_switching(d: dict[str, Any], path: Path) -> None:
    from matplotlib.lines import Line2D
    fig, (ax,) = _figure(1)
    fig.set_size_inches(8.6, 5.2)
    handles = []
    for k, c in enumerate(d["curves"]):
        color = f"C{k}"
        i_ua = np.asarray(c["current_a"]) * 1e6
        p = np.asarray(c["p_spice"])
        yerr = np.vstack([p - np.asarray(c["p_spice_ci95_low"]), np.asarray(c["p_spice_ci95_high"]) - p])
        ax.plot(np.asarray(c["current_a_fine"]) * 1e6, c["p_torch_expected_fine"], "-", color=color, lw=1.4)
        ax.plot(i_ua, c["p_torch_stochastic"], "x", color=color, ms=6)
        ax.errorbar(i_ua, p, yerr=yerr, fmt="o", ms=5, mfc="none", color=color, capsize=2.5)
        handles.append(Line2D([], [], color=color, lw=3, label=f"T_amb = {c['t_amb_k']:.0f} K"))
    handles += [Line2D([], [], color="k", lw=1.4, label="PyTorch expected\n1 - exp(-H), cold start"),
                Line2D([], [], color="k", marker="x", ls="none", label="PyTorch stochastic"),
                Line2D([], [], color="k", marker="o", mfc="none", ls="none",
                       label="ngspice stochastic\n(95 % Wilson CI)")]
    ax.set_xlabel("pulse current (µA)")
    ax.set_ylabel("switching probability per pulse (1)")
    ax.set_title(f"Switching probability: {d['t_pulse_s'] * 1e9:g} ns pulse, step "
                 f"{d['t_step_s'] * 1e9:g} ns, {d['trials_per_point']} trials per point")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def _plot_plasticity(d: dict[str, Any], path: Path) -> None:
    fig, (ax, ax_t) = _figure(2)
    x = np.asarray(d["delay_s"]) * 1e9
    p = np.asarray(d["p_spice"])
    yerr = np.vstack([p - np.asarray(d["p_spice_ci95_low"]), np.asarray(d["p_spice_ci95_high"]) - p])
    ax.errorbar(x, p, yerr=yerr, fmt="o", color="C0", capsize=3, label="ngspice (95 % CI)")
    ax.plot(x, d["p_torch_expected"], "-", color="C1", label="PyTorch expected")
    ax.plot(x, d["p_torch_stochastic"], "x", color="C2", ms=7, label="PyTorch stochastic")
    ax.axhline(d["baseline_p_spice"], color="C0", ls=":", lw=1.2,
               label=f"no conditioning: ngspice {d['baseline_p_spice']:.3f}")
    ax.axhline(d["baseline_p_torch_expected"], color="C1", ls="--", lw=1.0,
               label=f"no conditioning: PyTorch {d['baseline_p_torch_expected']:.3f}")
    ax.set_xlabel(f"delay from conditioning to test pulse (ns; step = {d['t_step_s'] * 1e9:g} ns)")
    ax.set_ylabel("test-pulse firing probability (1)")
    ax.set_title(f"Intrinsic plasticity through the bounded drive: test {d['current_a_test'] * 1e6:.1f} µA "
                 f"after {d['current_a_conditioning'] * 1e6:.1f} µA (ceiling {d['drive']['i_max_a'] * 1e6:.0f} µA)",
                 fontsize=9)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    rise = np.asarray(d["t_rise_k_test_start_spice"])
    ax_t.semilogy(x, np.clip(rise, 1e-6, None), "o", color="C0", label="ngspice (mean over trials)")
    ax_t.semilogy(x, d["t_rise_k_test_start_torch"], "x", color="C1", ms=7, label="PyTorch")
    xx = np.linspace(x[0], x[-1], 100)
    if d["tau_fit_s_spice"] is not None:
        ax_t.semilogy(xx, d["amplitude_fit_k_spice"] * np.exp(-xx * 1e-9 / d["tau_fit_s_spice"]), "-", color="C0",
                      lw=1, label=f"fit: τ = {d['tau_fit_s_spice'] * 1e9:.3f} ns")
        ref0 = rise[0] * math.exp(x[0] * 1e-9 / d["tau_th_s"])
        ax_t.semilogy(xx, ref0 * np.exp(-xx * 1e-9 / d["tau_th_s"]), "--", color="k", lw=1,
                      label=f"card τ_th = R_th C_th = {d['tau_th_s'] * 1e9:.3f} ns")
    ax_t.set_xlabel(f"delay from conditioning to test pulse (ns; step = {d['t_step_s'] * 1e9:g} ns)")
    ax_t.set_ylabel("temperature rise at test-pulse start (K)")
    ax_t.set_title("Heat left at the test pulse (the neuron's memory)")
    ax_t.grid(alpha=0.3, which="both")
    ax_t.legend(fontsize=8)
    _save(fig, path)


# -- entry point ---------------------------------------------------------------------------------------

def _summary(result: dict[str, Any]) -> dict[str, Any]:
    th, rv, sw, ip = (result[k] for k in ("thermal_step", "resistance", "switching", "plasticity"))
    return {
        "thermal_max_rel_err_spice_vs_analytic": th["max_rel_err_spice_vs_analytic"],
        "resistance_max_rel_err": rv["max_rel_err"],
        "resistance_states_verified": bool(rv["p"]["state_verified"] and rv["ap"]["state_verified"]),
        "switching_max_abs_diff_spice_vs_expected": sw["max_abs_diff_spice_vs_expected"],
        "plasticity_tau_fit_s_spice": ip["tau_fit_s_spice"],
        "plasticity_tau_th_s": ip["tau_th_s"],
        "plasticity_baseline_p_spice": ip["baseline_p_spice"],
        "plasticity_max_abs_diff_spice_vs_expected": ip["max_abs_diff_spice_vs_expected"],
    }


def run_characterization(out_dir: Path, card: DeviceCard | None = None, *, seed: int = 1,
                         trials: int = 500, progress: Callable[[str], None] | None = None,
                         workers: int = 0) -> dict:
    """Characterize one thermal MTJ neuron in ngspice and in PyTorch; write a JSON and PNG plots.

    Runs the thermal step response, R(V) of both states, the switching probability vs
    pulse current at 275/300/325/350 K, and the intrinsic-plasticity curve (see the module
    docstring). The stochastic parts scale linearly with ``trials``; their ngspice runs go to ``workers``
    processes while PyTorch's trials run in this one (``benchmarks/characterize_neuron.py`` measures it).

    Args:
        out_dir: output folder (created); receives ``characterization.json`` and four PNGs.
        card: device card (SI units); the default card when None.
        seed: non-negative seed of the ngspice ``trrandom`` draws and the PyTorch draws; the
            same seed gives the same JSON.
        trials: stochastic trials per point (per current and temperature, per delay).
        progress: called with a one-line message before each part.
        workers: ngspice processes for the stochastic parts (0: one per CPU, at most 4; 1: this process).

    Returns:
        The JSON content as a dict: ``provenance``, ``summary``, ``thermal_step``,
        ``resistance``, ``switching``, ``plasticity`` and ``files``.

    Raises:
        ConfigError: a bad argument (trials < 1, negative seed, not a DeviceCard, out_dir a file).
        SimulationError, CompilerError, SimulatorNotFoundError: ngspice or openvaf-r failed.
    """
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ConfigError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if card is None:
        card = DeviceCard()
    elif not isinstance(card, DeviceCard):
        raise ConfigError(f"card must be a DeviceCard or None, got {type(card).__name__}")
    if progress is not None and not callable(progress):
        raise ConfigError("progress must be callable (it receives one message string)")
    try:
        out_dir = Path(out_dir)
    except TypeError as exc:
        raise ConfigError(f"out_dir must be a path, got {out_dir!r}") from exc
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"out_dir {out_dir} exists and is not a folder")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ConfigError(f"workers must be a non-negative integer (0: one per CPU), got {workers!r}")
    trials, seed = int(trials), int(seed)
    n_workers = int(workers) or max(1, min(4, len(os.sched_getaffinity(0))))
    say = progress if progress is not None else (lambda msg: None)

    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.device.compiler import compile_va, openvaf_version
    osdi = compile_va()
    out_dir.mkdir(parents=True, exist_ok=True)

    pool = _TrialPool(n_workers)
    try:
        # with worker processes every ngspice run of parts 3 and 4 is queued first (the longer plasticity decks
        # ahead), so that the workers start at once and never wait: parts 1-2, their plots and PyTorch's trials
        # run here meanwhile (in this process alone they run in the order of the parts)
        early = n_workers > 1
        plasticity_runs = _plasticity_submit(card, osdi, seed, trials, pool) if early else None
        switching_runs = _switching_submit(card, osdi, seed, trials, pool) if early else None
        say("1/4 thermal step response (ngspice, PyTorch, analytic RC)")
        thermal = _thermal_step(card, osdi)
        say("2/4 R(V) of the P and AP states (ngspice DC sweep / transient ramp, PyTorch, formula)")
        resistance = _resistance(card, osdi)
        _plot_thermal(thermal, out_dir / PLOT_FILES["thermal_step"])
        _plot_resistance(resistance, out_dir / PLOT_FILES["resistance"])
        say(f"3/4 switching probability vs current at {', '.join(f'{t:g}' for t in TEMPERATURES_K)} K "
            f"({trials} trials per point)")
        switching = _switching(card, osdi, seed, trials, pool, switching_runs)
        say(f"4/4 intrinsic plasticity vs delay ({trials} trials per delay)")
        plasticity = _plasticity(card, osdi, seed, trials, pool, plasticity_runs)
    finally:
        pool.close()

    say("writing plots and JSON")
    _plot_switching(switching, out_dir / PLOT_FILES["switching"])
    _plot_plasticity(plasticity, out_dir / PLOT_FILES["plasticity"])
    thermal.pop("_plot")

    result: dict[str, Any] = {
        "provenance": {"device_card": card.to_dict(), "ngspice_version": ngspice_version(),
                       "openvaf_version": openvaf_version(), "seed": seed, "trials": trials,
                       "source": SOURCE},
        "thermal_step": thermal, "resistance": resistance, "switching": switching, "plasticity": plasticity,
        "files": sorted([JSON_NAME, *PLOT_FILES.values()]),
    }
    result["summary"] = _summary(result)
    result = _jsonable(result)
    text = json.dumps(result, sort_keys=True, indent=2, allow_nan=False) + "\n"
    (out_dir / JSON_NAME).write_text(text, encoding="utf-8")
    return result
