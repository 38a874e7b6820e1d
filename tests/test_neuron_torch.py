"""The PyTorch neuron against independent computations of the same equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.mtj_physics import NeuronParams, ap_voltage_v
from ipnet_cosim.models.neuron import NeuronState, ThermalMTJNeuron, mtj_neuron_step

CARD = DeviceCard()
P = NeuronParams.from_card(CARD)


def reference_step(card: DeviceCard, i_a: float, rise0: float, bounded: bool, thr: float = math.log(2.0)) -> dict:
    """One step of the card's ODEs, written out independently: scipy's DOP853 at rtol 1e-12 between the
    stimulus' corners, the crossing located as an event, then the reversal ramp; the drive's inverse by brentq."""
    m, t = card.mtj, card.timing
    i_max, n = card.drive_i_max_a, card.drive.knee
    drive = lambda x: x / (1.0 + (max(x, 0.0) / i_max) ** n) ** (1.0 / n)           # noqa: E731
    x_full = brentq(lambda x: drive(x) - i_a, 0.0, 50 * i_max, xtol=1e-22, rtol=1e-15) if bounded else i_a

    def current(tt: float) -> float:
        if tt < t.t_rise_s:
            level = tt / t.t_rise_s
        elif tt <= t.t_pulse_s:
            level = 1.0
        else:
            level = max(0.0, 1.0 - (tt - t.t_pulse_s) / t.t_fall_s)
        return drive(level * x_full) if bounded else level * x_full

    def rate(i: float, temp: float) -> float:
        ms = ((1 - temp / m.tc_k) / (1 - m.t0_k / m.tc_k)) ** m.ms_beta
        delta = m.delta0 * (m.t0_k / temp) * ms * ms
        return m.f0_hz * math.exp(min(-delta * (1 - i / (m.ic0_a * ms * ms)), m.sw_exp_max))

    def volt(i: float, state: float) -> float:
        if i == 0.0 or state == 0.0:
            return i * m.r_p_ohm
        f = lambda v: v - i * m.r_p_ohm * (1 + state * m.tmr0 / (1 + v * v / m.vh_v ** 2))   # noqa: E731
        return brentq(f, 0.0, i * m.r_p_ohm * (1 + state * m.tmr0) * 1.001, xtol=1e-18, rtol=1e-15)

    t_cross = [math.inf]

    def state_at(tt: float) -> float:
        x = min(max((tt - t_cross[0]) / m.t_switch_s, 0.0), 1.0)
        return x * x * (3 - 2 * x)

    def rhs(tt: float, y: np.ndarray) -> list[float]:
        i = current(tt)
        pw = volt(i, state_at(tt)) * i
        return [(pw - y[0] / m.r_th_k_per_w) / m.c_th_j_per_k, rate(i, m.t_amb_k + y[0]), pw]

    def crossing(tt: float, y: np.ndarray) -> float:
        return y[1] - thr
    crossing.terminal, crossing.direction = True, 1
    end = t.t_pulse_s + t.t_fall_s
    marks = [t.t_rise_s, t.t_pulse_s, end, t.t_read_s]
    y, now, peak, at_end = np.array([rise0, 0.0, 0.0]), 0.0, rise0, None
    while marks:
        stop = marks[0]
        sol = solve_ivp(rhs, (now, stop), y, method="DOP853", rtol=1e-12, atol=[1e-12, 1e-16, 1e-26],
                        events=crossing if math.isinf(t_cross[0]) else None, dense_output=True)
        if now < end:
            peak = max(peak, float(sol.sol(np.linspace(now, sol.t[-1], 400))[0].max()))
        y, now = sol.y[:, -1], sol.t[-1]
        if sol.status == 1:                                   # crossed: the ramp ends are corners too
            t_cross[0] = float(sol.t_events[0][0])
            marks = sorted(set(marks + [t_cross[0] + m.t_switch_s]) - {x for x in marks if x <= now})
            continue
        marks.pop(0)
        if stop == end:
            at_end = y.copy()
    return {"hazard": y[1], "fire_time_s": t_cross[0], "t_rise_peak_k": peak, "energy_j": at_end[2],
            "end_k": at_end[0] * math.exp(-(t.t_step_s - end) / m.tau_th_s)}


@pytest.mark.parametrize("bounded", [False, True])
@pytest.mark.parametrize("i_a,rise0", [(100e-6, 0.0), (140e-6, 20.0), (150e-6, 0.0), (170e-6, 5.0),
                                       (200e-6, 0.0), (235e-6, 30.0)])
def test_step_matches_an_independent_ode_solution(i_a, rise0, bounded):
    """Edges through the drive, the crossing and the reversal ramp: the twin's quadrature against scipy's
    DOP853 on the same equations. Tolerances: the twin's quadrature error at the exact setting (64/16 substeps,
    16 per edge, 8 per switching interval), measured 4e-6 (hazard, energy) and 1.1e-5 (peak, sampled on the
    nodes); the hazard after a crossing is the unswitched junction's by definition and is not compared."""
    p = NeuronParams.from_card(CARD, bounded)
    res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64),
                          NeuronState(torch.tensor([rise0], dtype=torch.float64)), p)
    ref = reference_step(CARD, i_a, rise0, bounded)
    fired = math.isfinite(ref["fire_time_s"])
    assert bool(res.spikes[0] > 0.5) == fired
    if fired:
        # interpolated inside its substep (1.25 ps on an edge, where the rate grows faster than exponentially)
        assert float(res.fire_time_s[0]) == pytest.approx(ref["fire_time_s"], rel=3e-4, abs=2e-14)
    else:
        assert float(res.hazard[0]) == pytest.approx(ref["hazard"], rel=2e-5)
    assert float(res.energy_j[0]) == pytest.approx(ref["energy_j"], rel=2e-5, abs=0)
    assert float(res.t_rise_peak_k[0]) == pytest.approx(ref["t_rise_peak_k"], rel=3e-5)
    assert float(res.state.t_rise_k[0]) == pytest.approx(ref["end_k"], rel=2e-5)


def test_temperature_is_the_exact_rc_solution():
    """Without switching and with (nearly) rectangular edges the heat is the RC step response, exactly."""
    card = CARD.replace(t_rise_s=1e-14, t_fall_s=1e-14)
    p = NeuronParams.from_card(card)
    i_a = 90e-6
    res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), NeuronState(torch.zeros(1)), p)
    ss = i_a ** 2 * p.r_p_ohm * p.r_th_k_per_w
    t1, t2 = 2e-14 / 3, p.t_pulse_s + 1e-14 / 3                  # the edges' energy-equivalent rectangle
    peak = ss * (1 - math.exp(-(t2 - t1) / p.tau_th_s))
    # the largest rise lies inside the 10 fs fall, ~dT/dt x t_fall (~1e-6 relative) off the rectangle's end
    assert math.isclose(float(res.t_rise_peak_k), peak, rel_tol=1e-5)
    end = peak * math.exp(-(p.t_step_s - t2) / p.tau_th_s)
    assert math.isclose(float(res.state.t_rise_k), end, rel_tol=1e-9)
    assert math.isclose(float(res.energy_j), i_a ** 2 * p.r_p_ohm * (t2 - t1), rel_tol=1e-12)
    assert math.isclose(float(res.charge_c), i_a * p.t_pulse_s, rel_tol=1e-12)


def test_ap_voltage_solves_the_bias_dependent_tmr():
    i = torch.linspace(-200e-6, 200e-6, 41, dtype=torch.float64)
    v = ap_voltage_v(i, P)
    r = P.r_p_ohm * (1 + P.tmr0 / (1 + v ** 2 / P.vh_v ** 2))
    assert torch.allclose(v, i * r, rtol=1e-12, atol=1e-15)


def test_the_reversal_takes_t_switch_and_heats_in_between():
    """A supra-threshold pulse fires early; the junction heats more than an unswitched one and less than one that
    switched instantly (the resistance moves from R_P to R_AP over t_switch, current drive)."""
    i_a = 170e-6
    zero = NeuronState(torch.zeros(1, dtype=torch.float64))
    peaks = {}
    for t_switch in (0.0, CARD.mtj.t_switch_s, 0.9e-9):
        p = NeuronParams.from_card(CARD.replace(t_switch_s=t_switch))
        res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), zero, p)
        assert float(res.spikes) == 1.0 and 0 < float(res.fire_time_s) < 0.1 * P.t_pulse_s
        peaks[t_switch] = float(res.t_rise_peak_k)
    assert peaks[0.0] > peaks[CARD.mtj.t_switch_s] > peaks[0.9e-9]
    ss_p = i_a ** 2 * P.r_p_ohm * P.r_th_k_per_w
    assert peaks[0.9e-9] > ss_p * (1 - math.exp(-P.t_pulse_s / P.tau_th_s))    # AP heats more than P


def test_heat_is_the_memory():
    """The same sub-threshold pulse has a higher switching probability after a conditioning pulse,
    and the raise falls with the delay; the memoryless control shows no raise."""
    test_i, cond_i = 135e-6, 170e-6
    def prob(delay_steps: int, keep_heat: bool = True) -> float:
        seq = [cond_i] + [0.0] * (delay_steps - 1) + [test_i]
        n = ThermalMTJNeuron(mode="expected", keep_heat=keep_heat)
        p, _ = n(torch.tensor(seq, dtype=torch.float64)[:, None])
        return float(p[-1, 0])
    base = prob(1, keep_heat=False)
    raised = [prob(d) for d in (1, 2, 3, 5)]
    assert raised[0] > 2 * base
    assert all(a > b for a, b in zip(raised, raised[1:]))
    assert raised[-1] - base < 0.25 * (raised[0] - base)


def test_gradients_flow_through_spikes_and_heat():
    i = torch.full((4, 3), 135e-6, dtype=torch.float64, requires_grad=True)
    for mode in ("deterministic", "expected"):
        n = ThermalMTJNeuron(mode=mode)
        spikes, state = n(i)
        (spikes.sum() + state.t_rise_k.sum()).backward()
        g = i.grad.clone()
        i.grad = None
        assert torch.isfinite(g).all() and (g.abs() > 0).all(), mode
    # the first step's current reaches the last step's output only through the heat
    n = ThermalMTJNeuron(mode="expected")
    spikes, _ = n(i)
    spikes[-1].sum().backward()
    assert (i.grad[0].abs() > 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("edges_s", [0.0, 20e-12])
def test_gradients_are_finite_for_any_edges_and_precision(dtype, edges_s):
    """Through the bounded drive, across the crossing and the reversal, with sharp (0) or physical edges: every
    output's gradient is finite in float32 too (a zero edge once put 0 x inf into the reversal's gradient)."""
    import dataclasses
    p = dataclasses.replace(NeuronParams.from_card(CARD, bounded_drive=True), t_rise_s=edges_s, t_fall_s=edges_s)
    gen = torch.Generator().manual_seed(0)
    i = (torch.rand(400, generator=gen, dtype=dtype) * 3 * p.ic0_a).requires_grad_(True)
    rise0 = (torch.rand(400, generator=gen, dtype=dtype) * 100).requires_grad_(True)
    r = mtj_neuron_step(i, NeuronState(rise0), p, mode="stochastic", u=torch.rand(400, generator=gen, dtype=dtype))
    assert 0.1 < float(torch.isfinite(r.fire_time_s).to(dtype).mean()) < 0.9      # crossings and non-crossings
    for out in (r.spikes, r.state.t_rise_k, r.energy_j, r.t_rise_peak_k, r.charge_c):
        gi, gr = torch.autograd.grad(out.sum(), (i, rise0), retain_graph=True, allow_unused=True)
        for g in (gi, gr):
            assert g is None or torch.isfinite(g).all()


def test_stochastic_is_reproducible_per_seed():
    i = torch.full((50, 20), 140e-6, dtype=torch.float64)
    a, _ = ThermalMTJNeuron(mode="stochastic", seed=7)(i)
    b, _ = ThermalMTJNeuron(mode="stochastic", seed=7)(i)
    c, _ = ThermalMTJNeuron(mode="stochastic", seed=8)(i)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 0.05 < float(a.mean()) < 0.95


def test_batched_shapes_and_bad_input():
    n = ThermalMTJNeuron()
    spikes, state = n(torch.zeros(3, 2, 5, dtype=torch.float64))
    assert spikes.shape == (3, 2, 5) and state.t_rise_k.shape == (2, 5)
    with pytest.raises(ConfigError, match="NaN"):
        n(torch.tensor([[float("nan")]]))
    with pytest.raises(ConfigError, match="mode"):
        ThermalMTJNeuron(mode="fuzzy")
