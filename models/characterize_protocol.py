"""The characterization's protocol (``ipnet-cosim characterize``, :mod:`ipnet_cosim.models.characterize`): its
constants (SI units; recorded in the JSON next to the data they shape), the sub-seed of every simulation, and the
PyTorch cold-start firing probability with the pulse current that reaches a given probability."""

from __future__ import annotations

import math

import numpy as np
import torch

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.models.mtj_physics import NeuronParams
from ipnet_cosim.models.neuron import NeuronState, mtj_neuron_step
from ipnet_cosim.models.units import current_for_hazard

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


def seed_for(seed: int, *keys: int) -> int:
    """A reproducible sub-seed in [1, 2^31 - 1] for one simulation of one part."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint32)[0]
    return int(state % (2 ** 31 - 2)) + 1


def expected_cold(card: DeviceCard, i_a: np.ndarray | float) -> np.ndarray:
    """PyTorch 'expected' firing probability 1 - exp(-H) of one pulse from ambient (cold start)."""
    p = NeuronParams.from_card(card)
    i = torch.as_tensor(np.atleast_1d(np.asarray(i_a, dtype=float)), dtype=torch.float64)
    res = mtj_neuron_step(i, NeuronState(torch.zeros_like(i)), p, mode="expected")
    return res.spikes.detach().numpy()


def current_for_probability(card: DeviceCard, target: float) -> float:
    """Pulse current (A) whose cold-start firing probability ``1 - exp(-H)`` is ``target``
    (:func:`~ipnet_cosim.models.units.current_for_hazard` at ``H = -ln(1 - target)``)."""
    return current_for_hazard(card, -math.log1p(-target), rel_tol=1e-15)
