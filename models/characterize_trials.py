"""The stochastic parts of the neuron characterization (:mod:`~ipnet_cosim.models.characterize`): the SPICE trial
runner (many seeded neurons per netlist, in a process pool), part 3 (switching probability vs current and
temperature) and part 4 (intrinsic plasticity), each in ngspice and PyTorch on the same protocol."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ipnet_cosim.circuits.neuron_bench import NeuronBench, simulate_bench
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.statistics import wilson_bounds
from ipnet_cosim.models.characterize_protocol import (IP_COND_INPUT_FACTOR, IP_COOL_TAUS, IP_DELAYS_STEPS,
                                                      IP_TEST_P_COLD, ISO_STEP_TAUS, N_CURRENTS, P_RANGE,
                                                      SPICE_MAX_STEP_S, SPICE_RELTOL, SPICE_REPLICAS, TEMPERATURES_K,
                                                      TORCH_REPLICAS, current_for_probability, expected_cold, seed_for)
from ipnet_cosim.models.drive import NeuronDriveStage
from ipnet_cosim.models.neuron import ThermalMTJNeuron

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


class TrialPool:
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

def switching_submit(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: TrialPool):
    """The switching sweep's ngspice runs, submitted to ``pool``: (step period, cards, current grid, futures)."""
    t_step = max(card.timing.t_step_s, ISO_STEP_TAUS * card.mtj.tau_th_s)
    c_iso = card.replace(t_step_s=t_step)
    n_par, reps = _layout(trials)
    cards = [c_iso.replace(t_amb_k=t_amb) for t_amb in TEMPERATURES_K]
    grid = [np.linspace(current_for_probability(c_t, P_RANGE[0]), current_for_probability(c_t, P_RANGE[1]),
                        N_CURRENTS) for c_t in cards]
    runs = {(ti, ci): pool.submit(c_t, str(osdi), np.full((n_par, reps), i_a), seed_for(seed, 3, ti, ci), False, None)
            for ti, c_t in enumerate(cards) for ci, i_a in enumerate(grid[ti])}
    return t_step, cards, grid, runs


def switching_trials(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: TrialPool,
               submitted=None) -> dict[str, Any]:
    """Firing probability of one pulse vs current at several ambient temperatures.

    Each trial is one step of period max(t_step, 5 tau_th) (the heat of the previous
    trial has decayed to < 1 % of its peak), pulse width as on the card. The currents of
    each temperature span PyTorch's cold-start probabilities 2 % to 98 % evenly.
    """
    t_step, cards, grid, runs = submitted if submitted is not None else switching_submit(card, osdi, seed, trials, pool)
    n_par, reps = _layout(trials)
    curves = []
    for ti, t_amb in enumerate(TEMPERATURES_K):
        c_t = cards[ti]
        currents = grid[ti]
        k_sp, k_st = np.zeros(N_CURRENTS, dtype=int), np.zeros(N_CURRENTS, dtype=int)
        n_tp, reps_t = _layout(trials, TORCH_REPLICAS)
        for ci, i_a in enumerate(currents):
            seq = np.full((n_tp, reps_t), i_a)
            neuron = ThermalMTJNeuron(c_t, mode="stochastic", seed=seed_for(seed, 30, ti, ci))
            spk, _ = neuron(torch.as_tensor(seq.T.copy(), dtype=torch.float64))
            k_st[ci] = int(spk.detach().numpy().T.reshape(-1)[:trials].sum())
        for ci in range(N_CURRENTS):
            spikes, _ = runs[(ti, ci)].result()
            k_sp[ci] = int(spikes.reshape(-1)[:trials].sum())
        p_sp, p_st = k_sp / trials, k_st / trials
        p_ex = expected_cold(c_t, currents)
        lo, hi = wilson_bounds(k_sp, trials)
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
            "current_a_fine": fine, "p_torch_expected_fine": expected_cold(c_t, fine),
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


def plasticity_submit(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: TrialPool):
    """The plasticity protocol's ngspice runs, submitted to ``pool``: (test current, drive inputs of the test
    and conditioning pulses, cooling steps, futures per condition)."""
    drive = NeuronDriveStage(card)
    i_test = current_for_probability(card, IP_TEST_P_COLD)
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
        runs.append(pool.submit(card, str(osdi), seq, seed_for(seed, 4, ci), True, test_idx * card.timing.t_step_s))
    return i_test, in_test, in_cond, n_cool, runs


def plasticity_trials(card: DeviceCard, osdi: Path, seed: int, trials: int, pool: TrialPool,
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
                                              else plasticity_submit(card, osdi, seed, trials, pool))
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
        neuron = ThermalMTJNeuron(card, mode="stochastic", seed=seed_for(seed, 40, ci))
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

    p_sp_a, p_st_a, p_ex_a = np.asarray(p_sp), np.asarray(p_st), np.asarray(p_ex)
    lo, hi = wilson_bounds(np.asarray(k_sp), trials)
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
        "p_spice": p_sp_a[1:], "p_spice_ci95_low": lo[1:], "p_spice_ci95_high": hi[1:],
        "n_fired_spice": np.asarray(k_sp[1:]),
        "p_torch_stochastic": p_st_a[1:], "p_torch_expected": p_ex_a[1:],
        "p_conditioning_fired_spice": cond_fired[1:],
        "baseline_p_spice": float(p_sp_a[0]), "baseline_p_spice_ci95": [float(lo[0]), float(hi[0])],
        "baseline_p_torch_stochastic": float(p_st_a[0]), "baseline_p_torch_expected": float(p_ex_a[0]),
        "baseline_t_rise_k_spice": float(rise_sp[0]),
        "t_rise_k_test_start_spice": rise_d, "t_rise_k_test_start_spice_std": np.asarray(rise_sp_std[1:]),
        "t_rise_k_test_start_torch": rise_pt_d,
        "fit": "t_rise(delay_s) = A exp(-delay_s / tau), least squares on log t_rise",
        "tau_fit_s_spice": tau_fit, "amplitude_fit_k_spice": amp_fit,
        "tau_fit_s_torch": -1.0 / sl_pt if sl_pt < 0 else None,
        "tau_fit_rel_err_spice": None if tau_fit is None else abs(tau_fit / tau - 1.0),
        "max_abs_diff_spice_vs_expected": float(np.max(np.abs(p_sp_a[1:] - p_ex_a[1:]))),
        "max_abs_diff_spice_vs_torch_stochastic": float(np.max(np.abs(p_sp_a[1:] - p_st_a[1:]))),
        "baseline_abs_diff_spice_vs_expected": float(abs(p_sp_a[0] - p_ex_a[0])),
    }
