"""The thermal MTJ's physics in PyTorch, as the compact model thermal_mtj_neuron.va writes it: the parameters taken
from the device card (:class:`NeuronParams`), the voltage across the junction (Newton on V = I R(V, m)), its
resistance, the thermally activated switching rate, the stimulus' shape through the bounded drive and the switching
ramp. The step that integrates them is :func:`~ipnet_cosim.models.neuron.mtj_neuron_step`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ipnet_cosim.device.card import DeviceCard


@dataclass(frozen=True)
class NeuronParams:
    """Device card values as plain floats, in SI units (see :class:`~ipnet_cosim.device.card.MTJParams`).

    ``drive_i_max_a`` is the bounded drive's ceiling when the current reaches the MTJ through it (the edges
    then follow the stimulus through the drive's soft limit), 0 when the current follows the stimulus linearly
    (an ideal current source)."""

    r_p_ohm: float
    tmr0: float
    vh_v: float
    delta0: float
    t0_k: float
    f0_hz: float
    ic0_a: float
    tc_k: float
    ms_beta: float
    r_th_k_per_w: float
    tau_th_s: float
    t_amb_k: float
    sw_exp_max: float
    t_pulse_s: float
    t_step_s: float
    t_read_s: float
    min_threshold: float = 1e-4
    t_rise_s: float = 0.0
    t_fall_s: float = 0.0
    t_switch_s: float = 0.0
    drive_i_max_a: float = 0.0
    drive_knee: float = 4.0

    @classmethod
    def from_card(cls, card: DeviceCard, bounded_drive: bool = False) -> "NeuronParams":
        """The card's parameters; ``bounded_drive``: the current reaches the MTJ through the card's drive stage."""
        m, t = card.mtj, card.timing
        return cls(r_p_ohm=m.r_p_ohm, tmr0=m.tmr0, vh_v=m.vh_v, delta0=m.delta0, t0_k=m.t0_k, f0_hz=m.f0_hz,
                   ic0_a=m.ic0_a, tc_k=m.tc_k, ms_beta=m.ms_beta, r_th_k_per_w=m.r_th_k_per_w,
                   tau_th_s=m.tau_th_s, t_amb_k=m.t_amb_k, sw_exp_max=m.sw_exp_max,
                   t_pulse_s=t.t_pulse_s, t_step_s=t.t_step_s, t_read_s=t.t_read_s, min_threshold=m.min_threshold,
                   t_rise_s=t.t_rise_s, t_fall_s=t.t_fall_s, t_switch_s=m.t_switch_s,
                   drive_i_max_a=card.drive_i_max_a if bounded_drive else 0.0, drive_knee=card.drive.knee)

    @property
    def t_current_end_s(self) -> float:
        """End of the pulse's fall edge: no current flows after it, s."""
        return self.t_pulse_s + self.t_fall_s

    @property
    def c_th_j_per_k(self) -> float:
        """Thermal capacitance tau_th / R_th, J/K."""
        return self.tau_th_s / self.r_th_k_per_w


# -- device physics (elementwise, any shape) ----------------------------------------------------

def mtj_voltage_v(i_a: Tensor, m: Tensor | float, p: NeuronParams, iterations: int = 12) -> Tensor:
    """Voltage across an MTJ in state ``m`` (0 parallel, 1 antiparallel) carrying current I: solves
    V = I R_P (1 + m TMR0 / (1 + V^2/Vh^2)) by Newton's method from the zero-bias guess V = I R_P (1 + m TMR0)
    (the I-V curve is monotonic for the default TMR0, so the root is unique; 4 iterations reach round-off on the
    default card and 6 with TMR0 = 3, Vh = 0.2 V)."""
    vh2 = p.vh_v * p.vh_v

    def newton(v: Tensor) -> Tensor:
        x = 1.0 + v * v / vh2
        f = v - i_a * p.r_p_ohm * (1.0 + m * p.tmr0 / x)
        df = 1.0 + i_a * p.r_p_ohm * m * p.tmr0 * 2.0 * v / (vh2 * x * x)
        return v - f / df

    with torch.no_grad():                  # the iterations need no graph: the last step carries the gradient
        v = i_a * p.r_p_ohm * (1.0 + m * p.tmr0)
        for _ in range(iterations - 1):
            v = newton(v)
    return newton(v)


def ap_voltage_v(i_a: Tensor, p: NeuronParams, iterations: int = 12) -> Tensor:
    """Voltage across the antiparallel MTJ carrying current I (:func:`mtj_voltage_v` with m = 1)."""
    return mtj_voltage_v(i_a, 1.0, p, iterations)


def resistance_ohm(v: Tensor, fired: Tensor | float, p: NeuronParams) -> Tensor:
    """R(V, m) = R_P (1 + m TMR0 / (1 + V^2/Vh^2))."""
    return p.r_p_ohm * (1.0 + fired * p.tmr0 / (1.0 + v * v / (p.vh_v * p.vh_v)))


def switching_rate_hz(i_a: Tensor, t_k: Tensor, p: NeuronParams) -> Tensor:
    """G(I, T) = f0 exp(min(-Delta(T) (1 - I/Ic0(T)), E_max)), T clamped to [1 K, 0.999 Tc]. With
    Delta(T) = Delta0 (T0/T) (Ms/Ms0)^2 and Ic0(T) = Ic0 (Ms/Ms0)^2 the exponent is Delta0 (T0/T) (I/Ic0 - (Ms/Ms0)^2)
    (the same expression, fewer operations; (Ms/Ms0)^2 as exp(2 beta ln(Ms/Ms0)))."""
    t = torch.clamp(t_k, 1.0, 0.999 * p.tc_k)
    ms2 = torch.exp((2.0 * p.ms_beta) * torch.log((1.0 - t / p.tc_k) / (1.0 - p.t0_k / p.tc_k)))
    expo = torch.clamp((p.delta0 * p.t0_k) * (i_a / p.ic0_a - ms2) / t, max=p.sw_exp_max)
    return p.f0_hz * torch.exp(expo)


def stimulus_level(t_s: Tensor, p: NeuronParams) -> Tensor:
    """The stimulus' fraction of its full level at times ``t_s`` within a step: the trapezoid of rise, flat top
    and fall (0 after the fall)."""
    after = (1.0 - (t_s - p.t_pulse_s) / p.t_fall_s) if p.t_fall_s > 0 else torch.zeros_like(t_s)
    level = torch.where(t_s <= p.t_pulse_s, torch.ones_like(t_s), after)
    if p.t_rise_s > 0:                      # no division by a zero edge (its gradient would be 0 x inf)
        level = torch.where(t_s < p.t_rise_s, t_s / p.t_rise_s, level)
    return torch.clamp(level, 0.0, 1.0)


def stimulus_current_a(level: Tensor, i_a: Tensor, p: NeuronParams) -> Tensor:
    """The MTJ current at a fraction ``level`` (0..1) of the stimulus of a neuron whose full-level current is
    ``i_a``: ``D(level D^-1(i_a))`` through the bounded drive (its input scales with the row voltages), else
    ``level i_a``."""
    if p.drive_i_max_a <= 0:
        return level * i_a
    n = p.drive_knee
    top = 1.0 - 8.0 * torch.finfo(i_a.dtype).eps
    y = torch.clamp(i_a / p.drive_i_max_a, 0.0, top)
    x = level * (y / (1.0 - y ** n) ** (1.0 / n))
    return p.drive_i_max_a * x * torch.exp(torch.log1p(x ** n) * (-1.0 / n))


def switched_fraction(t_s: Tensor, t_cross_s: Tensor, p: NeuronParams) -> Tensor:
    """The magnetic state m after a crossing at ``t_cross_s``: x^2 (3 - 2x), x = clip((t - t_c)/t_switch, 0, 1)
    (0 before the crossing; a step at the crossing when t_switch is 0)."""
    if p.t_switch_s <= 0:
        return (t_s >= t_cross_s).to(t_s.dtype)
    x = torch.clamp((t_s - t_cross_s) / p.t_switch_s, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# -- quadrature ----------------------------------------------------------------------------------

