"""The MTJ neuron units of a network layer: currents ``[T, ...]`` in, spikes ``[T, ...]`` out.

* :class:`HeatMemoryNeurons`: thermal MTJ neurons that keep their heat from step to step (intrinsic
  plasticity; :func:`~ipnet_cosim.models.neuron.mtj_neuron_step` with the heat carried over).
* :class:`ThresholdMTJNeurons`: MTJ neurons with a fast thermal path (``tau_th`` of 0.1 ns by default, so the
  heat left after a step's idle part is ``exp(-20)`` of the pulse's): every step starts at ambient. In the
  median mode such a neuron fires iff ``I >= I_th``, ``I_th`` found once by bisection on the exact step
  (:func:`cold_threshold`), which is exact and cheap; in the stochastic mode it fires iff its cold step's hazard
  reaches ``-ln u`` (the same step function, evaluated for all steps at once).

Both take the neurons' draws ``u`` (``[T, ...]``, see :mod:`ipnet_cosim.device.draws`): None is the median
mode (``u = 1/2``). With ``details`` they also return a :class:`UnitDetails`: each neuron-step's hazard at the
read time, Joule energy, the temperature rise at the step's start and at the pulse's end, and the firing time,
which is what the twin's energy, the safe operating area and the coin-flip statistics are computed from.

Precision: ``"train"`` (float32, the network's coarse quadrature) or ``"exact"`` (float64, 64/16 Simpson
substeps: the setting that matches ngspice spike for spike).
"""

from __future__ import annotations

import functools
import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.mtj_physics import NeuronParams
from ipnet_cosim.models.neuron import NeuronState, mtj_neuron_step

Precision = Literal["train", "exact"]
#: how a figure's precision is named in metrics and reports
PRECISION_NOTE: dict[str, str] = {"train": "train (float32, coarse quadrature)",
                                  "exact": "exact (float64, 64/16 substeps)"}
EXACT_N_SUB = 64
EXACT_N_SUB_IDLE = 16


class UnitDetails(NamedTuple):
    """Per neuron-step quantities of a unit's run, each shaped like its currents ``[T, ...]``."""

    hazard: Tensor          # H at the read time (dimensionless)
    energy_j: Tensor        # Joule energy in the MTJ during the pulse, J
    t_rise_start_k: Tensor  # temperature rise above ambient at the step's start, K
    t_rise_peak_k: Tensor   # temperature rise at the end of the pulse, K
    fire_time_s: Tensor     # firing time within the step, s (+inf: did not fire)
    charge_c: Tensor        # charge the pulse carries through the MTJ, C


def memoryless_card(card: DeviceCard, tau_th_s: float) -> DeviceCard:
    """The fast-thermal variant of a card: same device, C_th lowered so that R_th C_th = tau_th_s."""
    return card.replace(c_th_j_per_k=tau_th_s / card.mtj.r_th_k_per_w)


def current_for_hazard(card: DeviceCard, hazard: float, *, bounded_drive: bool = False, n_sub: int = EXACT_N_SUB,
                       n_sub_idle: int = EXACT_N_SUB_IDLE, dtype: torch.dtype = torch.float64,
                       rel_tol: float = 1e-12) -> float:
    """The smallest pulse current (A) whose one-step hazard from ambient reaches ``hazard``: the one threshold search
    of the project (median threshold: ``hazard = ln 2``; a firing probability ``p`` from ambient:
    ``hazard = -ln(1 - p)``). Bisection on :func:`~ipnet_cosim.models.neuron.mtj_neuron_step` with the given
    substeps and dtype, from the bracket [0, 4 ic0] (doubled until it fires), to ``rel_tol`` relative.

    Raises:
        ConfigError: a neuron at ambient does not reach ``hazard`` up to 2^41 ic0 (the card cannot fire)."""
    p = NeuronParams.from_card(card, bounded_drive)
    zero = NeuronState(torch.zeros(1, dtype=dtype))

    def reached(i_a: float) -> bool:
        res = mtj_neuron_step(torch.tensor([i_a], dtype=dtype), zero, p, n_sub=n_sub, n_sub_idle=n_sub_idle)
        return float(res.hazard[0]) >= hazard

    lo, hi = 0.0, 4.0 * card.mtj.ic0_a
    for _ in range(40):
        if reached(hi):
            break
        lo, hi = hi, 2.0 * hi
    else:
        raise ConfigError(f"device card: a neuron at ambient does not reach a hazard of {hazard:g} even at {hi:g} A; "
                          f"check ic0_a/delta0")
    while (hi - lo) > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        if reached(mid):
            hi = mid
        else:
            lo = mid
    return hi


@functools.lru_cache(maxsize=32)
def cold_threshold(card: DeviceCard, bounded_drive: bool = False) -> tuple[float, float]:
    """Median-mode firing threshold of a neuron starting at ambient, and d(ln H)/dI there.

    Args:
        card: the device card.
        bounded_drive: the current reaches the MTJ through the card's drive stage (its edges follow the drive).

    Returns:
        (I_th in A: the smallest current whose hazard reaches ln 2, :func:`current_for_hazard` to 1e-12 relative;
        slope in 1/A).
    """
    p = NeuronParams.from_card(card, bounded_drive)
    zero = NeuronState(torch.zeros(1, dtype=torch.float64))

    def hazard(i_a: float) -> float:
        res = mtj_neuron_step(torch.tensor([i_a], dtype=torch.float64), zero, p,
                              n_sub=EXACT_N_SUB, n_sub_idle=EXACT_N_SUB_IDLE)
        return float(res.hazard[0])

    hi = current_for_hazard(card, math.log(2.0), bounded_drive=bounded_drive)
    d = 1e-4 * hi
    slope = (math.log(hazard(hi + d)) - math.log(hazard(hi - d))) / (2 * d)
    return hi, slope


class _SurrogateStep(torch.autograd.Function):
    """Heaviside(x) forward; sigmoid'(x / width) / width backward (x in ln H units)."""

    @staticmethod
    def forward(ctx, x: Tensor, width: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.width = width
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x / ctx.width)
        return grad * s * (1 - s) / ctx.width, None


class _MTJUnit(nn.Module):
    """What both units share: the card, its parameters, the surrogate width and the quadrature precision."""

    def __init__(self, card: DeviceCard, surrogate_width: float, n_sub: int, n_sub_idle: int,
                 bounded_drive: bool = False) -> None:
        super().__init__()
        self.card = card
        self.bounded_drive = bounded_drive
        self.params = NeuronParams.from_card(card, bounded_drive)
        self.surrogate_width = surrogate_width
        self.train_n_sub, self.train_n_sub_idle = n_sub, n_sub_idle
        self.precision: Precision = "train"

    def substeps(self) -> tuple[int, int]:
        """(pulse, idle) Simpson substeps of the current precision."""
        if self.precision == "exact":
            return EXACT_N_SUB, EXACT_N_SUB_IDLE
        return self.train_n_sub, self.train_n_sub_idle

    def step(self, i_a: Tensor, state: NeuronState, u: Tensor | None):
        """One :func:`mtj_neuron_step` at this unit's precision, median (``u`` None) or stochastic."""
        n_sub, n_idle = self.substeps()
        return mtj_neuron_step(i_a, state, self.params, mode="deterministic" if u is None else "stochastic",
                               u=u, n_sub=n_sub, n_sub_idle=n_idle, surrogate_width=self.surrogate_width)


class ThresholdMTJNeurons(_MTJUnit):
    """Memoryless MTJ neurons (fast thermal path; module docstring). Input ``[T, ...]`` currents (A), output
    spikes of the same shape (0/1 floats). The median mode's surrogate gradient is a sigmoid in
    ``ln H ~ slope (I - I_th)`` of width ``surrogate_width``; the stochastic mode's is the step function's."""

    def __init__(self, card: DeviceCard, surrogate_width: float, n_sub: int = 8, n_sub_idle: int = 2,
                 bounded_drive: bool = False) -> None:
        super().__init__(card, surrogate_width, n_sub, n_sub_idle, bounded_drive)
        self.i_th_a, self.slope_per_a = cold_threshold(card, bounded_drive)

    def forward(self, i_a: Tensor, u: Tensor | None = None, details: bool = False):
        """Spikes ``[T, ...]`` (and :class:`UnitDetails` with ``details``) for currents ``i_a`` and draws ``u``."""
        res = None
        if u is not None or details:
            # memoryless: every step starts at ambient, so all steps are one call
            res = self.step(i_a, NeuronState(torch.zeros_like(i_a)), u)
        if res is None:
            spikes = _SurrogateStep.apply((i_a - self.i_th_a) * self.slope_per_a, self.surrogate_width)
        else:
            spikes = res.spikes
        if not details:
            return spikes
        assert res is not None                          # (details: the step ran)
        return spikes, UnitDetails(res.hazard, res.energy_j, torch.zeros_like(res.t_rise_peak_k),
                                   res.t_rise_peak_k, res.fire_time_s, res.charge_c)

    def extra_repr(self) -> str:
        return f"I_th={self.i_th_a * 1e6:.3f} uA, tau_th={self.card.mtj.tau_th_s:.3g} s"


class HeatMemoryNeurons(_MTJUnit):
    """Thermal MTJ neurons that keep their heat between steps (intrinsic plasticity), with the surrogate
    gradient of :func:`~ipnet_cosim.models.neuron.mtj_neuron_step`; the heat carries gradients across steps."""

    def forward(self, i_a: Tensor, u: Tensor | None = None, details: bool = False):
        """Spikes ``[T, ...]`` (and :class:`UnitDetails` with ``details``) for currents ``i_a`` and draws ``u``."""
        state = NeuronState(torch.zeros_like(i_a[0]))
        spikes, rows = [], []
        for t in range(i_a.shape[0]):
            res = self.step(i_a[t], state, None if u is None else u[t])
            if details:
                rows.append((res.hazard, res.energy_j, state.t_rise_k, res.t_rise_peak_k, res.fire_time_s,
                             res.charge_c))
            state = res.state
            spikes.append(res.spikes)
        out = torch.stack(spikes)
        if not details:
            return out
        return out, UnitDetails(*(torch.stack(col) for col in zip(*rows)))

    def extra_repr(self) -> str:
        return f"tau_th={self.card.mtj.tau_th_s:.3g} s, keeps heat between steps"
