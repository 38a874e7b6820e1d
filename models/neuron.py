"""The thermal MTJ neuron in PyTorch: the same equations as ``thermal_mtj_neuron.va``.

One network step of period t_step drives the neuron with a current pulse of
amplitude I (A) over [0, t_pulse] and no current over the rest; the spike is
read before the reset at t_read = t_step - t_reset - t_edge, and the reset
clears the magnetic state (not the heat). Within a step (device card
``ipnet_cosim.device.card``)::

    R_P = RA / (pi d^2/4);   R_AP(V) = R_P (1 + TMR0 / (1 + V^2/Vh^2));   V = I R(V)
    T(t) = T_amb + P R_th + (T(t0) - T_amb - P R_th) exp(-(t - t0)/tau_th),  P = V I,  tau_th = R_th C_th
    Ms(T)/Ms(T0) = ((1 - T/Tc)/(1 - T0/Tc))^beta,   Delta(T) = Delta0 (T0/T) (Ms/Ms0)^2,   Ic0(T) = Ic0 (Ms/Ms0)^2
    G(I, T) = f0 exp(min(-Delta(T)(1 - I/Ic0(T)), E_max)),    H(t) = integral_0^t G dt'
    fired  <=>  H >= -ln u,   u ~ U(0, 1) (stochastic) or u = 1/2 (deterministic)

Power is constant between state changes (current drive), so the temperature is
integrated exactly; only the hazard integral H needs quadrature (composite
Simpson on ``n_sub`` substeps). If the neuron fires inside the pulse, the
firing time is interpolated within its substep and the rest of the pulse heats
with the antiparallel resistance, as in the compact model. The compact model's
hazard leak (tau_leak, 1 s by default) is below 1e-8 relative over a step and
is not modelled here.

Gradients: ``mode="expected"`` returns the switching probability 1 - exp(-H)
(differentiable); the deterministic and stochastic modes return 0/1 spikes
with a sigmoid surrogate gradient in ln H. The heat carried between steps is
differentiable in all modes, so training back-propagates through the memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError

Mode = Literal["deterministic", "stochastic", "expected"]
MODES = ("deterministic", "stochastic", "expected")


class NeuronState(NamedTuple):
    """State carried between steps: the temperature rise above ambient at the step start (K)."""

    t_rise_k: Tensor


class StepResult(NamedTuple):
    """Everything one step computes (tensors shaped like the input current)."""

    spikes: Tensor          # 0/1 (or probability in expected mode)
    state: NeuronState      # temperature rise at the end of the step
    hazard: Tensor          # H at the read time (dimensionless)
    fire_time_s: Tensor     # firing time within the step, +inf if it did not fire
    t_rise_peak_k: Tensor   # temperature rise at the end of the pulse
    energy_j: Tensor        # Joule energy dissipated in the MTJ during the pulse


@dataclass(frozen=True)
class NeuronParams:
    """Device card values as plain floats, in SI units (see :class:`~ipnet_cosim.device.card.MTJParams`)."""

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

    @classmethod
    def from_card(cls, card: DeviceCard) -> "NeuronParams":
        m, t = card.mtj, card.timing
        return cls(r_p_ohm=m.r_p_ohm, tmr0=m.tmr0, vh_v=m.vh_v, delta0=m.delta0, t0_k=m.t0_k, f0_hz=m.f0_hz,
                   ic0_a=m.ic0_a, tc_k=m.tc_k, ms_beta=m.ms_beta, r_th_k_per_w=m.r_th_k_per_w,
                   tau_th_s=m.tau_th_s, t_amb_k=m.t_amb_k, sw_exp_max=m.sw_exp_max,
                   t_pulse_s=t.t_pulse_s, t_step_s=t.t_step_s,
                   t_read_s=t.t_read_s, min_threshold=m.min_threshold)


# -- device physics (elementwise, any shape) ----------------------------------------------------

def ap_voltage_v(i_a: Tensor, p: NeuronParams, iterations: int = 30) -> Tensor:
    """Voltage across the antiparallel MTJ carrying current I: solves V = I R_P (1 + TMR0/(1 + V^2/Vh^2)).

    Newton's method from the zero-bias guess V = I R_P (1 + TMR0); the I-V curve is
    monotonic for the default TMR0, so the root is unique.
    """
    v = i_a * p.r_p_ohm * (1.0 + p.tmr0)
    vh2 = p.vh_v * p.vh_v
    for _ in range(iterations):
        x = 1.0 + v * v / vh2
        f = v - i_a * p.r_p_ohm * (1.0 + p.tmr0 / x)
        df = 1.0 + i_a * p.r_p_ohm * p.tmr0 * 2.0 * v / (vh2 * x * x)
        v = v - f / df
    return v


def resistance_ohm(v: Tensor, fired: Tensor | float, p: NeuronParams) -> Tensor:
    """R(V, m) = R_P (1 + m TMR0 / (1 + V^2/Vh^2))."""
    return p.r_p_ohm * (1.0 + fired * p.tmr0 / (1.0 + v * v / (p.vh_v * p.vh_v)))


def switching_rate_hz(i_a: Tensor, t_k: Tensor, p: NeuronParams) -> Tensor:
    """G(I, T) = f0 exp(min(-Delta(T) (1 - I/Ic0(T)), E_max)), T clamped to [1 K, 0.999 Tc]."""
    t = torch.clamp(t_k, 1.0, 0.999 * p.tc_k)
    ms_ratio = ((1.0 - t / p.tc_k) / (1.0 - p.t0_k / p.tc_k)) ** p.ms_beta
    ms2 = ms_ratio * ms_ratio
    delta = p.delta0 * (p.t0_k / t) * ms2
    ic = p.ic0_a * ms2
    expo = torch.clamp(-delta * (1.0 - i_a / ic), max=p.sw_exp_max)
    return p.f0_hz * torch.exp(expo)


def _relax(t0_rise: Tensor, t_ss: Tensor, dt_s: Tensor | float, tau_s: float) -> Tensor:
    """Exact first-order thermal response: rise after dt with steady-state rise t_ss."""
    if not torch.is_tensor(dt_s):
        dt_s = torch.tensor(dt_s, dtype=t0_rise.dtype)
    return t_ss + (t0_rise - t_ss) * torch.exp(-dt_s / tau_s)


def _cumulative_simpson(i_a: Tensor, rise0: Tensor, t_ss: Tensor, t_span: float, n_sub: int,
                        p: NeuronParams) -> tuple[Tensor, Tensor]:
    """Hazard at the n_sub + 1 nodes of [0, t_span] for constant current and power.

    Returns (H at nodes [..., n_sub + 1], node times [n_sub + 1]).
    """
    dtype = rise0.dtype
    tt = torch.linspace(0.0, t_span, 2 * n_sub + 1, dtype=dtype)         # nodes and midpoints
    rise = t_ss.unsqueeze(-1) + (rise0 - t_ss).unsqueeze(-1) * torch.exp(-tt / p.tau_th_s)
    g = switching_rate_hz(i_a.unsqueeze(-1), p.t_amb_k + rise, p)
    dt = t_span / n_sub
    seg = dt / 6.0 * (g[..., 0:-1:2] + 4.0 * g[..., 1::2] + g[..., 2::2])
    h = torch.cat([torch.zeros_like(seg[..., :1]), torch.cumsum(seg, dim=-1)], dim=-1)
    return h, tt[0::2], g[..., 0::2]


def mtj_neuron_step(i_a: Tensor, state: NeuronState, p: NeuronParams, *, mode: Mode = "deterministic",
                    u: Tensor | None = None, generator: torch.Generator | None = None,
                    n_sub: int = 64, n_sub_idle: int = 16, surrogate_width: float = 0.5) -> StepResult:
    """Advance thermal MTJ neurons by one network step.

    Args:
        i_a: pulse current of each neuron in A (any shape; positive drives switching).
        state: temperature rise above ambient at the step start, K (same shape).
        p: device parameters (:meth:`NeuronParams.from_card`).
        mode: "deterministic" (u = 1/2), "stochastic" (u drawn or given) or "expected".
        u: the uniform draws in (0, 1) for stochastic mode; drawn from ``generator`` when None.
        generator: torch generator for the draws (seeded by the caller).
        n_sub: Simpson substeps over the pulse; n_sub_idle over the idle interval.
        surrogate_width: width of the surrogate gradient's sigmoid in ln H.

    Returns:
        :class:`StepResult`; ``state`` is the temperature rise at the end of the step.
    """
    if mode not in MODES:
        raise ConfigError(f"neuron mode '{mode}' is unknown; use one of {', '.join(MODES)}")
    rise0 = state.t_rise_k
    dtype = torch.promote_types(i_a.dtype, rise0.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    i_a = i_a.to(dtype)
    tiny = torch.finfo(dtype).tiny     # a floor that exists in the working precision
    rise0 = torch.broadcast_to(rise0.to(dtype), i_a.shape)

    if mode == "stochastic":
        if u is None:
            u = torch.rand(i_a.shape, generator=generator, dtype=dtype)
        u = torch.clamp(u.to(dtype), torch.finfo(dtype).tiny, math.exp(-p.min_threshold))  # as the .va clamps
    else:
        u = torch.full_like(i_a, 0.5)
    threshold = -torch.log(u)

    # pulse, parallel state: V = I R_P, P = I^2 R_P
    p_p_w = i_a * i_a * p.r_p_ohm
    ss_p = p_p_w * p.r_th_k_per_w
    h_nodes, t_nodes, g_nodes = _cumulative_simpson(i_a, rise0, ss_p, p.t_pulse_s, n_sub, p)
    crossed = h_nodes >= threshold.unsqueeze(-1)
    fired_pulse = crossed[..., -1]
    first = torch.argmax(crossed.to(torch.int8), dim=-1).clamp(min=1)     # first node at/over threshold
    h_hi = torch.gather(h_nodes, -1, first.unsqueeze(-1)).squeeze(-1)
    h_lo = torch.gather(h_nodes, -1, (first - 1).unsqueeze(-1)).squeeze(-1)
    dt_sub = p.t_pulse_s / n_sub
    step_h = h_hi - h_lo
    # double where so neither branch's gradient has inf/NaN (b^2 must not underflow in float32)
    rising = (h_hi >= threshold) & (h_lo < threshold) & (step_h > 1e-18)
    lin = torch.where(rising, (threshold - h_lo) / torch.where(rising, step_h, torch.ones_like(step_h)),
                      torch.zeros_like(step_h)).clamp(0.0, 1.0)
    # G grows ~exponentially inside the substep: H(t_lo + f dt) - h_lo ~ step_h (e^{kf} - 1) / (e^k - 1)
    # with k = ln(G_hi / G_lo); invert for f (linear interpolation when k ~ 0). The firing time sets how
    # long the rest of the pulse heats with R_AP, so it matters for the heat memory.
    g_hi = torch.gather(g_nodes, -1, first.unsqueeze(-1)).squeeze(-1)
    g_lo = torch.gather(g_nodes, -1, (first - 1).unsqueeze(-1)).squeeze(-1)
    curved = rising & (g_lo > tiny) & (g_hi > g_lo * (1.0 + 1e-6))
    k = torch.log(torch.where(curved, g_hi, torch.full_like(g_hi, 2.0)) /
                  torch.where(curved, g_lo, torch.ones_like(g_lo)))
    frac = torch.where(curved, torch.log1p(lin * torch.expm1(k)) / k, lin).clamp(0.0, 1.0)
    t_fire_pulse = ((first - 1).to(dtype) + frac) * dt_sub
    t_fire_pulse = torch.where(fired_pulse & (h_nodes[..., 0] >= threshold), torch.zeros_like(frac),
                               t_fire_pulse)

    # heat to the end of the pulse: P state until the firing time, then AP state
    v_ap = ap_voltage_v(i_a, p)
    ss_ap = v_ap * i_a * p.r_th_k_per_w
    t_switch = torch.where(fired_pulse, t_fire_pulse, torch.full_like(frac, p.t_pulse_s))
    rise_at_switch = _relax(rise0, ss_p, t_switch, p.tau_th_s)
    rise_pulse_end = torch.where(fired_pulse,
                                 _relax(rise_at_switch, ss_ap, p.t_pulse_s - t_switch, p.tau_th_s),
                                 rise_at_switch)
    energy_j = p_p_w * t_switch + torch.where(fired_pulse, v_ap * i_a * (p.t_pulse_s - t_switch),
                                              torch.zeros_like(frac))

    # idle interval up to the read time: no current, heat decays, spontaneous switching possible
    zero_i = torch.zeros_like(i_a)
    h_idle, t_idle, _ = _cumulative_simpson(zero_i, rise_pulse_end, torch.zeros_like(i_a),
                                         p.t_read_s - p.t_pulse_s, n_sub_idle, p)
    h_read = h_nodes[..., -1] + h_idle[..., -1]
    fired = h_read >= threshold
    idle_cross = (h_nodes[..., -1:] + h_idle) >= threshold.unsqueeze(-1)
    idle_first = torch.argmax(idle_cross.to(torch.int8), dim=-1)
    t_fire_idle = p.t_pulse_s + t_idle[idle_first]
    inf = torch.full_like(frac, math.inf)
    fire_time_s = torch.where(fired_pulse, t_fire_pulse, torch.where(fired, t_fire_idle, inf))

    rise_end = _relax(rise_pulse_end, torch.zeros_like(i_a), p.t_step_s - p.t_pulse_s, p.tau_th_s)

    log_margin = torch.log(torch.clamp(h_read, min=tiny)) - torch.log(threshold)
    if mode == "expected":
        spikes = -torch.expm1(-h_read)
    else:
        hard = fired.to(dtype)
        soft = torch.sigmoid(log_margin / surrogate_width)
        spikes = hard + (soft - soft.detach())
    return StepResult(spikes=spikes, state=NeuronState(rise_end), hazard=h_read, fire_time_s=fire_time_s,
                      t_rise_peak_k=rise_pulse_end, energy_j=energy_j)


class ThermalMTJNeuron(nn.Module):
    """A population of thermal MTJ neurons driven by current pulses, one pulse per step.

    Input ``[T, *shape]`` currents in A; output ``[T, *shape]`` spikes. The heat
    between steps is the neuron's memory (intrinsic plasticity); set
    ``keep_heat=False`` for a memoryless control that starts every step at ambient.

    Args:
        card: the device card (default card when None).
        mode: "deterministic", "stochastic" or "expected".
        keep_heat: carry the temperature from step to step.
        n_sub, n_sub_idle: quadrature substeps (pulse, idle).
        seed: seed of the stochastic draws (a private generator, so results repeat).
    """

    def __init__(self, card: DeviceCard | None = None, mode: Mode = "deterministic", keep_heat: bool = True,
                 n_sub: int = 64, n_sub_idle: int = 16, seed: int | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"neuron mode '{mode}' is unknown; use one of {', '.join(MODES)}")
        if n_sub < 1 or n_sub_idle < 1:
            raise ConfigError(f"n_sub ({n_sub}) and n_sub_idle ({n_sub_idle}) must be at least 1")
        self.card = card or DeviceCard()
        self.params = NeuronParams.from_card(self.card)
        self.mode = mode
        self.keep_heat = keep_heat
        self.n_sub = n_sub
        self.n_sub_idle = n_sub_idle
        self.dtype = dtype
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def initial_state(self, shape: torch.Size | tuple[int, ...]) -> NeuronState:
        """Every neuron at ambient temperature."""
        return NeuronState(torch.zeros(shape, dtype=self.dtype))

    def forward(self, i_a: Tensor, state: NeuronState | None = None, u: Tensor | None = None,
                return_details: bool = False):
        """Run ``T`` steps. ``i_a``: [T, *shape] currents (A); ``u``: optional [T, *shape] draws.

        Returns:
            spikes [T, *shape] and the final state; with ``return_details`` also a list of
            per-step :class:`StepResult`.
        """
        if i_a.dim() < 1:
            raise ConfigError("ThermalMTJNeuron expects currents shaped [T, ...] (time first)")
        if not torch.isfinite(i_a).all():
            raise ConfigError("ThermalMTJNeuron: input currents contain NaN or inf")
        state = state if state is not None else self.initial_state(i_a.shape[1:])
        spikes, details = [], []
        for k in range(i_a.shape[0]):
            if not self.keep_heat:
                state = NeuronState(torch.zeros_like(state.t_rise_k))
            res = mtj_neuron_step(i_a[k], state, self.params, mode=self.mode,
                                  u=None if u is None else u[k], generator=self.generator,
                                  n_sub=self.n_sub, n_sub_idle=self.n_sub_idle)
            state = res.state
            spikes.append(res.spikes)
            if return_details:
                details.append(res)
        out = torch.stack(spikes)
        return (out, state, details) if return_details else (out, state)
