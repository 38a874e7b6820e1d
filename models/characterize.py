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

from ipnet_cosim.circuits.neuron_bench import MODEL_NAME
from ipnet_cosim.circuits.runner import run_netlist
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.compiler import NEURON_MODULE
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.characterize_protocol import (THERMAL_STEP_CURRENT_A, THERMAL_ON_TAUS, THERMAL_OFF_TAUS,
                                                      THERMAL_MAX_FIRE_PROB, RV_V_MAX_V, RV_V_STEP_V, TEMPERATURES_K,
                                                      expected_cold)
from ipnet_cosim.models.mtj_physics import NeuronParams, resistance_ohm
from ipnet_cosim.models.neuron import NeuronState, mtj_neuron_step

SOURCE = "simulated (ngspice + OSDI) and computed (PyTorch)"
JSON_NAME = "characterization.json"
PLOT_FILES = {
    "thermal_step": "thermal_step_response.png",
    "resistance": "resistance_vs_voltage.png",
    "switching": "switching_probability.png",
    "plasticity": "intrinsic_plasticity.png",
}

# -- small helpers ---------------------------------------------------------------------------------

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


def _single_neuron(title: str, card: DeviceCard, drive_el, u_v: float, rst_v: float, *, tran=None, dc=None,
                   saves=(), reltol: float = 1e-4) -> str:
    """One neuron N0 (nodes a0, u0, rst, th0, st0) with the given drive of a0, as an ngspice deck built from the
    circuit IR (the same writer as every other deck)."""
    from ipnet_cosim.circuits.ir import Circuit, MTJNeuronInstance, ModelCard, SolverOptions, VoltageSource
    from ipnet_cosim.circuits.ngspice import format_ngspice
    els = (MTJNeuronInstance("N0", "a0", "0", "u0", "rst", "th0", "st0", MODEL_NAME), drive_el,
           VoltageSource("Vu0", "u0", "0", dc_v=u_v), VoltageSource("Vrst", "rst", "0", dc_v=rst_v))
    return format_ngspice(Circuit(title, els, models=(ModelCard(MODEL_NAME, NEURON_MODULE, card.mtj.model_params()),),
                                  saves=tuple(saves), tran=tran, dc=dc, options=SolverOptions(reltol=reltol)))


# -- part 1: thermal step response ----------------------------------------------------------------

def _thermal_step(card: DeviceCard, osdi: Path) -> dict[str, Any]:
    """Temperature rise under a sub-threshold current step: SPICE vs PyTorch vs the RC solution.

    The step (trapezoid with the card's rise and fall times t_r, t_f) is on from 0 to t_on = 5 tau_th and
    off after; the analytic solution uses the energy-equivalent rectangle [2 t_r / 3, t_on + t_f / 3] (the power
    grows as t^2 on an edge; the rectangle differs from it by ~(t_r / tau_th)^2 of the rise), while the PyTorch
    neuron and ngspice integrate the trapezoid itself.
    """
    m, tm = card.mtj, card.timing
    tau = m.tau_th_s
    t_on = THERMAL_ON_TAUS * tau
    t_stop = (THERMAL_ON_TAUS + THERMAL_OFF_TAUS) * tau
    t1, t2 = 2.0 * tm.t_rise_s / 3.0, t_on + tm.t_fall_s / 3.0          # energy-equivalent rectangle

    # the step must not fire: lower the current until PyTorch's firing probability is negligible
    i_step = THERMAL_STEP_CURRENT_A
    # PyTorch integrates a near-rectangle (10 fs edges) of the equivalent rectangle's length, shifted by t1
    sharp = dict(t_rise_s=1e-14, t_fall_s=1e-14, t_reset_s=1e-12)
    long_card = card.replace(t_pulse_s=t2 - t1, t_step_s=t_stop, **sharp)
    while expected_cold(long_card, i_step)[0] >= THERMAL_MAX_FIRE_PROB:
        i_step *= 0.8
    p_fire = float(expected_cold(long_card, i_step)[0])
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
    pwl = [(0.0, 0.0), (tm.t_rise_s, i_step), (t_on, i_step), (t_on + tm.t_fall_s, 0.0)]
    from ipnet_cosim.circuits.ir import CurrentSource, Save, Transient
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
        if t <= 2.0 * tm.t_rise_s + tm.t_fall_s:    # the card needs t_pulse >= 2 t_rise; the rise is ~0 here
            rise_pt[k] = float(analytic(np.array([t]))[0])
            continue
        if t <= t2:
            c = card.replace(t_pulse_s=rel_t, t_step_s=rel_t + 4e-12, **sharp)
            rise_pt[k] = float(mtj_neuron_step(i_t, zero, NeuronParams.from_card(c)).t_rise_peak_k[0])
        else:
            c = card.replace(t_pulse_s=t2 - t1, t_step_s=max(rel_t, t2 - t1 + 4e-12), **sharp)
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
        "t_rise_s": tm.t_rise_s,
        "t_fall_s": tm.t_fall_s,
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
    from ipnet_cosim.circuits.ir import DCSweep, VoltageSource
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
    from ipnet_cosim.circuits.ir import Transient, VoltageSource
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
    # parts 3-4 and the figures live in their own modules (they import this one's constants and helpers)
    from ipnet_cosim.models.characterize_plots import plot_plasticity, plot_resistance, plot_switching, plot_thermal
    from ipnet_cosim.models.characterize_trials import (plasticity_trials, plasticity_submit, switching_trials,
                                                        switching_submit, TrialPool)
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

    pool = TrialPool(n_workers)
    try:
        # with worker processes every ngspice run of parts 3 and 4 is queued first (the longer plasticity decks
        # ahead), so that the workers start at once and never wait: parts 1-2, their plots and PyTorch's trials
        # run here meanwhile (in this process alone they run in the order of the parts)
        early = n_workers > 1
        plasticity_runs = plasticity_submit(card, osdi, seed, trials, pool) if early else None
        switching_runs = switching_submit(card, osdi, seed, trials, pool) if early else None
        say("1/4 thermal step response (ngspice, PyTorch, analytic RC)")
        thermal = _thermal_step(card, osdi)
        say("2/4 R(V) of the P and AP states (ngspice DC sweep / transient ramp, PyTorch, formula)")
        resistance = _resistance(card, osdi)
        plot_thermal(thermal, out_dir / PLOT_FILES["thermal_step"])
        plot_resistance(resistance, out_dir / PLOT_FILES["resistance"])
        say(f"3/4 switching probability vs current at {', '.join(f'{t:g}' for t in TEMPERATURES_K)} K "
            f"({trials} trials per point)")
        switching = switching_trials(card, osdi, seed, trials, pool, switching_runs)
        say(f"4/4 intrinsic plasticity vs delay ({trials} trials per delay)")
        plasticity = plasticity_trials(card, osdi, seed, trials, pool, plasticity_runs)
    finally:
        pool.close()

    say("writing plots and JSON")
    plot_switching(switching, out_dir / PLOT_FILES["switching"])
    plot_plasticity(plasticity, out_dir / PLOT_FILES["plasticity"])
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
