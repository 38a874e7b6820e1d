"""The PyTorch neuron against independent computations of the same equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.neuron import (NeuronParams, NeuronState, ThermalMTJNeuron, ap_voltage_v,
                                       mtj_neuron_step)

CARD = DeviceCard()
P = NeuronParams.from_card(CARD)


def reference_hazard(i_a: float, rise0: float, t_span: float, n: int = 200_001) -> float:
    """Trapezoid rule on a very fine grid, written out in numpy from the card's equations."""
    m = CARD.mtj
    t = np.linspace(0.0, t_span, n)
    ss = i_a * i_a * m.r_p_ohm * m.r_th_k_per_w
    temp = m.t_amb_k + ss + (rise0 - ss) * np.exp(-t / m.tau_th_s)
    ms = ((1 - temp / m.tc_k) / (1 - m.t0_k / m.tc_k)) ** m.ms_beta
    delta = m.delta0 * (m.t0_k / temp) * ms ** 2
    ic = m.ic0_a * ms ** 2
    g = m.f0_hz * np.exp(np.minimum(-delta * (1 - i_a / ic), m.sw_exp_max))
    return float(np.sum((g[1:] + g[:-1]) / 2 * np.diff(t)))


@pytest.mark.parametrize("i_a,rise0", [(100e-6, 0.0), (130e-6, 0.0), (130e-6, 15.0), (-120e-6, 5.0)])
def test_hazard_matches_fine_quadrature(i_a, rise0):
    res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), NeuronState(torch.tensor([rise0])), P,
                          mode="expected")
    ref = reference_hazard(i_a, rise0, P.t_pulse_s) + reference_hazard(
        0.0, float(res.t_rise_peak_k), P.t_read_s - P.t_pulse_s)
    assert math.isclose(float(res.hazard), ref, rel_tol=1e-4)


def test_temperature_is_the_exact_rc_solution():
    i_a = 90e-6
    res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), NeuronState(torch.zeros(1)), P)
    ss = i_a ** 2 * P.r_p_ohm * P.r_th_k_per_w
    peak = ss * (1 - math.exp(-P.t_pulse_s / P.tau_th_s))
    assert math.isclose(float(res.t_rise_peak_k), peak, rel_tol=1e-12)
    end = peak * math.exp(-(P.t_step_s - P.t_pulse_s) / P.tau_th_s)
    assert math.isclose(float(res.state.t_rise_k), end, rel_tol=1e-12)
    assert math.isclose(float(res.energy_j), i_a ** 2 * P.r_p_ohm * P.t_pulse_s, rel_tol=1e-12)


def test_ap_voltage_solves_the_bias_dependent_tmr():
    i = torch.linspace(-200e-6, 200e-6, 41, dtype=torch.float64)
    v = ap_voltage_v(i, P)
    r = P.r_p_ohm * (1 + P.tmr0 / (1 + v ** 2 / P.vh_v ** 2))
    assert torch.allclose(v, i * r, rtol=1e-12, atol=1e-15)


def test_firing_switches_to_the_antiparallel_heating():
    """A supra-threshold pulse fires early; the rest of the pulse heats with R_AP(V) (current drive)."""
    i_a = 170e-6
    res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), NeuronState(torch.zeros(1)), P)
    assert float(res.spikes) == 1.0
    t_f = float(res.fire_time_s)
    assert 0 < t_f < P.t_pulse_s
    ss_p = i_a ** 2 * P.r_p_ohm * P.r_th_k_per_w
    ss_ap = float(ap_voltage_v(torch.tensor(i_a, dtype=torch.float64), P)) * i_a * P.r_th_k_per_w
    at_switch = ss_p * (1 - math.exp(-t_f / P.tau_th_s))
    expected = ss_ap + (at_switch - ss_ap) * math.exp(-(P.t_pulse_s - t_f) / P.tau_th_s)
    assert math.isclose(float(res.t_rise_peak_k), expected, rel_tol=1e-9)
    assert ss_ap > 1.2 * ss_p   # AP heats more under current drive, less than 2x: TMR falls with bias


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
