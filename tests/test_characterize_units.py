"""The two numerical cores of ``characterize`` on their own: the threshold search (the pulse current that reaches a
hazard, :func:`~ipnet_cosim.models.units.current_for_hazard`, a bisection; ``characterize`` places its currents
with it through :func:`~ipnet_cosim.models.characterize_protocol.current_for_probability`) against an analytic
solution and against scipy's root finder, and the confidence intervals of its firing probabilities
(:func:`~ipnet_cosim.device.statistics.wilson_bounds`) against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.statistics import wilson_bounds, wilson_interval
from ipnet_cosim.models.characterize_protocol import current_for_probability, expected_cold
from ipnet_cosim.models.mtj_physics import NeuronParams
from ipnet_cosim.models.neuron import NeuronState, mtj_neuron_step
from ipnet_cosim.models.units import EXACT_N_SUB, EXACT_N_SUB_IDLE, current_for_hazard


def _hazard(card: DeviceCard, i_a: float) -> float:
    """The one-step hazard from ambient of a pulse of ``i_a`` (exact precision), as the search evaluates it."""
    p = NeuronParams.from_card(card)
    res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), NeuronState(torch.zeros(1, dtype=torch.float64)),
                          p, n_sub=EXACT_N_SUB, n_sub_idle=EXACT_N_SUB_IDLE)
    return float(res.hazard[0])


def _isothermal_hazard(card: DeviceCard, i_a: float) -> float:
    """The hazard of one trapezoidal pulse at the ambient temperature T0 (no self-heating), in closed form:
    G = f0 exp(Delta0 (I(t)/Ic0 - 1)) with I(t) linear on the edges, integrated from 0 to the read time."""
    m, t = card.mtj, card.timing
    d, x = m.delta0, i_a / m.ic0_a
    top, floor = math.exp(d * (x - 1.0)), math.exp(-d)
    edge = (top - floor) / (d * x)                           # int_0^1 exp(d (x s - 1)) ds
    flat = t.t_pulse_s - t.t_rise_s
    rest = t.t_read_s - t.t_pulse_s - t.t_fall_s
    return m.f0_hz * (flat * top + (t.t_rise_s + t.t_fall_s) * edge + rest * floor)


def test_the_threshold_search_finds_the_isothermal_threshold_in_closed_form():
    """With the junction's thermal resistance at the card's lower limit (1.01e3 K/W: the pulse heats it by < 0.1 K)
    the hazard is the isothermal closed form; the searched median threshold (H = ln 2) is its root to the heating's
    effect, ~Delta0 dT / T0 in ln H, i.e. ~dT / T0 in current (measured 1.6e-4 for dT = 0.053 K); a search for
    H = 1 instead of ln 2 would be 0.9 % off."""
    from scipy.optimize import brentq
    card = DeviceCard().replace(r_th_k_per_w=1.01e3)
    found = current_for_hazard(card, math.log(2.0))
    m = card.mtj
    analytic = brentq(lambda i: _isothermal_hazard(card, i) - math.log(2.0), 0.5 * m.ic0_a, 2.0 * m.ic0_a,
                      xtol=1e-20, rtol=1e-14)
    heating_k = found ** 2 * m.r_p_ohm * m.r_th_k_per_w
    assert heating_k < 0.1
    assert found == pytest.approx(analytic, rel=3 * heating_k / m.t0_k, abs=0)
    assert abs(found / analytic - 1) < 0.1 * abs(math.log(math.log(2.0))) / m.delta0     # tighter than ln 2 vs 1


@pytest.mark.parametrize("hazard", [1e-3, math.log(2.0), 3.0])
def test_the_threshold_search_agrees_with_scipy_on_the_full_model(hazard):
    """On the default card (self-heating, edges, thermal memory within the step) the bisection's current is the
    root scipy's brentq finds of the same hazard function, to the search's 1e-12; the hazard just below it misses."""
    from scipy.optimize import brentq
    card = DeviceCard()
    found = current_for_hazard(card, hazard)
    root = brentq(lambda i: _hazard(card, i) - hazard, 0.2 * card.mtj.ic0_a, 4 * card.mtj.ic0_a, xtol=1e-22,
                  rtol=1e-13)
    assert found == pytest.approx(root, rel=2e-12, abs=0)
    assert _hazard(card, found) >= hazard > _hazard(card, found * (1 - 4e-12))


def test_the_search_widens_its_bracket_and_names_a_card_that_cannot_fire():
    """A junction that needs more than the first bracket's 4 Ic0 (the lowest barrier and attempt rate the card
    allows, the least self-heating: the isothermal root is 7.6 Ic0) is found by doubling the bracket, at the closed
    form's root; a card whose rate cap keeps the hazard below the target at any current is refused naming its
    fields."""
    from scipy.optimize import brentq
    slow = DeviceCard().replace(delta0=1.0, f0_hz=1e6, r_th_k_per_w=1.01e3)
    found = current_for_hazard(slow, math.log(2.0))
    ic0 = slow.mtj.ic0_a
    analytic = brentq(lambda i: _isothermal_hazard(slow, i) - math.log(2.0), ic0, 20 * ic0, xtol=1e-20, rtol=1e-14)
    heating_k = found ** 2 * slow.mtj.r_p_ohm * slow.mtj.r_th_k_per_w        # 3.1 K at 7.6 Ic0 (measured 0.8 %)
    assert found > 4 * ic0 and found == pytest.approx(analytic, rel=3 * heating_k / slow.mtj.t0_k, abs=0)
    with pytest.raises(ConfigError, match="does not reach a hazard of 10 .*ic0_a/delta0"):
        current_for_hazard(DeviceCard().replace(sw_exp_max=0.0), 10.0)      # H <= f0 t_read ~ 2.6


@pytest.mark.parametrize("target", [0.02, 0.12, 0.5, 0.98])
def test_current_for_probability_inverts_the_cold_start_probability(target):
    """characterize places its currents at PyTorch cold-start probabilities 2 %-98 %: each current fires with that
    probability, 1 - exp(-H), to the search's tolerance (dp/dI I ~ Delta0 (1-p) H: < 1e-12 x 200)."""
    card = DeviceCard()
    i_a = current_for_probability(card, target)
    assert float(expected_cold(card, i_a)[0]) == pytest.approx(target, rel=1e-10, abs=0)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_bounds_equal_scipys_interval(confidence):
    """Every count of small and large trial numbers, the ends (0 and n successes) included, against
    ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method="wilson")``."""
    from scipy.stats import binomtest
    for n in (1, 2, 7, 50, 500, 10_000):
        ks = np.unique(np.linspace(0, n, min(n + 1, 41)).round().astype(int))
        low, high = wilson_bounds(ks, n, confidence)
        for k, lo, hi in zip(ks, low, high):
            ci = binomtest(int(k), n).proportion_ci(confidence_level=confidence, method="wilson")
            assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15), (k, n)
    assert wilson_interval(3, 10, confidence) == pytest.approx(list(wilson_bounds(3, 10, confidence)), rel=0,
                                                                abs=0)


def test_wilson_bounds_cover_the_true_probability_as_often_as_they_claim():
    """The interval's purpose in characterize: a SPICE firing probability from 500 trials lies within it if the
    model is right. Over 20,000 simulated experiments at p = 0.3 its coverage is 95 % within sampling error
    (the Wilson interval is close to nominal at n p (1-p) = 105)."""
    rng = np.random.default_rng(0)
    n, p = 500, 0.3
    k = rng.binomial(n, p, size=20_000)
    low, high = wilson_bounds(k, n)
    coverage = float(((low <= p) & (p <= high)).mean())
    assert abs(coverage - 0.95) < 4 * math.sqrt(0.95 * 0.05 / 20_000)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
