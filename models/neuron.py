"""The thermal MTJ neuron in PyTorch: the same equations as ``thermal_mtj_neuron.va``.

One network step of period t_step drives the neuron with a current pulse and the spike is read at
t_read = t_step - t_reset - t_fall, before the reset, which clears the magnetic state (not the heat).
Within a step (device card ``ipnet_cosim.device.card``)::

    stimulus   s(t) = t / t_rise on [0, t_rise], 1 to t_pulse, 1 - (t - t_pulse) / t_fall to t_pulse + t_fall, then 0
    current    I(t) = D(s(t) D^-1(I))   through the bounded drive D (``drive_i_max_a`` > 0), else s(t) I
    R(V, m)    = R_P (1 + m TMR0 / (1 + V^2/Vh^2)),   V = I R(V, m)
    C_th dT/dt = V I - (T - T_amb) / R_th
    Ms(T)/Ms(T0) = ((1 - T/Tc)/(1 - T0/Tc))^beta,   Delta(T) = Delta0 (T0/T) (Ms/Ms0)^2,   Ic0(T) = Ic0 (Ms/Ms0)^2
    G(I, T)    = f0 exp(min(-Delta(T)(1 - I/Ic0(T)), E_max)),    H(t) = integral_0^t G dt'
    crossing   t_c: the first time H >= -ln u,   u ~ U(0, 1) (stochastic) or u = 1/2 (deterministic)
    switching  m(t) = x^2 (3 - 2 x),  x = clip((t - t_c) / t_switch, 0, 1)   (P -> AP over t_switch)
    fired      <=>  H(t_read) >= -ln u

``I`` is the current the drive puts into the MTJ at the full stimulus level (what the network computes); the
edges follow the stimulus through the drive's soft limit, as the drive stage in the circuit does.

Integration. The junction is parallel until the crossing, so its power is I(t)^2 R_P: on the flat part of the
pulse (constant power) and in the idle part (no power) the temperature is the exact RC solution; on the edges and
from the crossing on, the power varies and the heat is integrated with exponential-integrator weights (the RC
kernel integrated exactly against the quadratic through each substep's three power values), which holds for any
tau_th. The hazard is integrated by composite Simpson on the same nodes (``n_edge`` substeps per edge,
``n_sub`` over the flat part, ``n_sub_idle`` over the idle part). The crossing time is interpolated within its
substep assuming exponential growth of the switching rate; from it the switching ramp, the mixed-state voltage
(Newton on V = I R(V, m)), the heat and the Joule energy are integrated on a per-neuron grid (``n_post``
substeps per interval between the crossing, the ramp's end and the stimulus' corners). After the crossing the
hazard no longer decides anything; it is reported as that of the unswitched junction. The compact model's hazard
leak (tau_leak, 1 s by default) is below 1e-8 relative over a step and is not modelled here.

Gradients: ``mode="expected"`` returns the switching probability 1 - exp(-H) (differentiable); the
deterministic and stochastic modes return 0/1 spikes with a sigmoid surrogate gradient in ln H. The heat carried
between steps is differentiable in all modes, so training back-propagates through the memory.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.mtj_physics import (NeuronParams, mtj_voltage_v, stimulus_current_a, stimulus_level,
                                           switched_fraction, switching_rate_hz)

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
    fire_time_s: Tensor     # time of the crossing H = -ln u within the step, +inf if it did not fire
    t_rise_peak_k: Tensor   # largest temperature rise during the pulse (its start to the end of its fall), K
    energy_j: Tensor        # Joule energy dissipated in the MTJ during the pulse, J
    charge_c: Tensor        # charge the pulse carries through the MTJ, C


def _moments(length: Tensor, tau_s: float) -> tuple[Tensor, Tensor, Tensor]:
    """J_k = integral_0^L exp(-u/tau) u^k du for k = 0, 1, 2 (float64; series where the closed form cancels)."""
    if math.isinf(tau_s):
        return length, length ** 2 / 2.0, length ** 3 / 3.0
    a = length / tau_s
    ea = torch.exp(-a)
    small = a < 1e-2
    a2 = a * a
    j1 = torch.where(small, a2 * (1 / 2 + a * (-1 / 3 + a * (1 / 8 + a * (-1 / 30 + a / 144)))),
                     -torch.expm1(-a) - a * ea)
    j2 = torch.where(small, a2 * a * (1 / 3 + a * (-1 / 4 + a * (1 / 10 + a * (-1 / 36 + a / 168)))),
                     -2.0 * torch.expm1(-a) - ea * a * (a + 2.0))
    return -tau_s * torch.expm1(-a), tau_s ** 2 * j1, tau_s ** 3 * j2


def _quadratic_weights(length: Tensor, h: Tensor, tau_s: float, dtype: torch.dtype
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(decay, w0, w1, w2)``: integral_0^L exp(-(L - s)/tau) q(s) ds = w0 q(0) + w1 q(h/2) + w2 q(h) for the
    quadratic q through its three values, and decay = exp(-L/tau) (tau = inf: the plain integral, decay 1).
    Exact for any tau; computed in float64. Zero-width substeps (h = 0) get zero weights."""
    length = torch.as_tensor(length, dtype=torch.float64)
    h = torch.as_tensor(h, dtype=torch.float64)
    j0, j1, j2 = _moments(length, tau_s)
    m0, m1, m2 = j0, length * j0 - j1, length * length * j0 - 2.0 * length * j1 + j2
    live = h > 0
    hs = torch.where(live, h, torch.ones_like(h))
    k = torch.where(live, 2.0 / (hs * hs), torch.zeros_like(hs))
    w0 = k * (m2 - 1.5 * hs * m1 + 0.5 * hs * hs * m0)
    w1 = -2.0 * k * (m2 - hs * m1)
    w2 = k * (m2 - 0.5 * hs * m1)
    decay = torch.ones_like(length) if math.isinf(tau_s) else torch.exp(-length / tau_s)
    return tuple(x.to(dtype) for x in (decay, w0, w1, w2))  # type: ignore[return-value]


@functools.lru_cache(maxsize=256)
def _grid_weights(h_s: float, tau_s: float, dtype: torch.dtype) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """:func:`_quadratic_weights` over a whole substep of width ``h_s`` and over its first half (fixed grids)."""
    h = torch.tensor(h_s, dtype=torch.float64)
    return _quadratic_weights(h, h, tau_s, dtype), _quadratic_weights(h / 2.0, h, tau_s, dtype)


def _heat_through(power_w: Tensor, rise0_k: Tensor, h_s: Tensor | float, p: NeuronParams,
                  weights: tuple[tuple[Tensor, ...], tuple[Tensor, ...]] | None = None) -> Tensor:
    """Temperature rise at every node of consecutive substeps of width ``h_s`` (nodes at their ends and
    midpoints, ``power_w[..., 2n + 1]``), from ``rise0_k`` at the first node: exact RC response to the quadratic
    through each substep's three powers. The recurrence T_k = d T_(k-1) + inc_k is summed in closed form,
    T_k = d^k (T_0 + sum_(j<=k) d^-j inc_j) (all terms positive), or step by step where d^-n would overflow."""
    dtype = power_w.dtype
    n = (power_w.shape[-1] - 1) // 2
    h = torch.as_tensor(h_s, dtype=torch.float64)
    if weights is not None:
        full, half = weights
    elif isinstance(h_s, float):
        full, half = _grid_weights(h_s, p.tau_th_s, dtype)
    else:
        full = _quadratic_weights(h, h, p.tau_th_s, dtype)
        half = _quadratic_weights(h / 2.0, h, p.tau_th_s, dtype)
    c = p.c_th_j_per_k
    p0, p1, p2 = power_w[..., 0:-1:2], power_w[..., 1::2], power_w[..., 2::2]
    inc = (full[1].unsqueeze(-1) * p0 + full[2].unsqueeze(-1) * p1 + full[3].unsqueeze(-1) * p2) / c   # [..., n]
    inc_half = (half[1].unsqueeze(-1) * p0 + half[2].unsqueeze(-1) * p1 + half[3].unsqueeze(-1) * p2) / c
    ratio = n * float(h.detach().max()) / p.tau_th_s if h.numel() else 0.0
    if ratio < 30.0:
        k = torch.arange(1, n + 1, dtype=torch.float64)
        grow = torch.exp(k * (h.unsqueeze(-1) / p.tau_th_s)).to(dtype)       # d^-k
        ends = (rise0_k.unsqueeze(-1) + torch.cumsum(inc * grow, dim=-1)) / grow   # T_1 .. T_n
    else:
        t, steps = rise0_k, []
        for j in range(n):
            t = full[0] * t + inc[..., j]
            steps.append(t)
        ends = torch.stack(steps, dim=-1)
    out = ends.new_empty(*ends.shape[:-1], 2 * n + 1)                       # T_0, T_1/2, T_1, ..., T_n
    out[..., 0] = rise0_k
    out[..., 1] = half[0] * rise0_k + inc_half[..., 0]
    out[..., 2::2] = ends
    out[..., 3::2] = half[0].unsqueeze(-1) * ends[..., :-1] + inc_half[..., 1:]
    return out


def _simpson_segments(f: Tensor, h_s: Tensor | float) -> Tensor:
    """Composite Simpson over each substep of width ``h_s`` of ``f`` at the substeps' ends and midpoints
    (``[..., 2n + 1]``): the integral over each substep, ``[..., n]``."""
    h = torch.as_tensor(h_s, dtype=f.dtype)
    return h.unsqueeze(-1) / 6.0 * (f[..., 0:-1:2] + 4.0 * f[..., 1::2] + f[..., 2::2])


class _Path(NamedTuple):
    """The unswitched junction over the step: at the even nodes (the substeps' ends), and at every node of the
    segments that carry current (for the peak temperature before a crossing)."""

    t_s: Tensor                    # [K] even node times
    rise_k: Tensor                 # [..., K] temperature rise
    rate_hz: Tensor                # [..., K] switching rate
    hazard: Tensor                 # [..., K] cumulative hazard
    energy_j: Tensor               # [..., K] cumulative Joule energy (P state)
    current_end: int               # even node at the end of the current (the fall's end)
    charge_c: Tensor               # [...] charge through the whole pulse
    pulse_t_s: list[Tensor]        # node times of each segment with current (all nodes)
    pulse_rise_k: list[Tensor]     # [..., nodes] temperature rise there


def _parallel_path(i_a: Tensor, rise0: Tensor, p: NeuronParams, n_edge: int, n_sub: int, n_idle: int) -> _Path:
    """The step as if the junction never switched: rise edge, flat top, fall edge, idle part up to the read.
    On the flat top and in the idle part the current is constant, so the power, energy and charge are closed
    forms and only the temperature and switching rate vary along the nodes."""
    dtype = i_a.dtype
    segments = []
    if p.t_rise_s > 0:
        segments.append(("rise", 0.0, p.t_rise_s, n_edge))
    segments.append(("flat", p.t_rise_s, p.t_pulse_s, n_sub))
    if p.t_fall_s > 0:
        segments.append(("fall", p.t_pulse_s, p.t_current_end_s, n_edge))
    segments.append(("idle", p.t_current_end_s, p.t_read_s, n_idle))
    zero = torch.zeros_like(i_a)
    times = [torch.zeros(1, dtype=dtype)]
    rises, hazards, energies = [rise0.unsqueeze(-1)], [zero.unsqueeze(-1)], [zero.unsqueeze(-1)]
    rates: list[torch.Tensor] = []
    pulse_t: list[torch.Tensor] = []
    pulse_rise: list[torch.Tensor] = []
    rise_start, h_acc, e_acc, q_acc = rise0, zero, zero, zero
    current_end = 0
    for name, t0, t1, n in segments:
        tt = torch.linspace(t0, t1, 2 * n + 1, dtype=dtype)
        h = (t1 - t0) / n
        if name in ("flat", "idle"):        # constant current and power: the exact RC solution
            cur = i_a if name == "flat" else zero
            power = cur * cur * p.r_p_ohm
            ss = power * p.r_th_k_per_w
            rise = ss.unsqueeze(-1) + (rise_start - ss).unsqueeze(-1) * torch.exp(-(tt - t0) / p.tau_th_s)
            rate = switching_rate_hz(cur.unsqueeze(-1), p.t_amb_k + rise, p)
            eng = e_acc.unsqueeze(-1) + power.unsqueeze(-1) * (tt[2::2] - t0)
            q_acc = q_acc + cur * (t1 - t0)
        else:
            level = (tt - t0) / (t1 - t0)
            level = level if name == "rise" else 1.0 - level
            cur = stimulus_current_a(level, i_a.unsqueeze(-1), p)
            power = cur * cur * p.r_p_ohm
            rise = _heat_through(power, rise_start, h, p)
            rate = switching_rate_hz(cur, p.t_amb_k + rise, p)
            eng = e_acc.unsqueeze(-1) + torch.cumsum(_simpson_segments(power, h), dim=-1)
            q_acc = q_acc + _simpson_segments(cur, h).sum(dim=-1)
        if not rates:
            rates.append(rate[..., :1])
        haz = h_acc.unsqueeze(-1) + torch.cumsum(_simpson_segments(rate, h), dim=-1)
        times.append(tt[2::2])
        for out, val in ((rises, rise[..., 2::2]), (rates, rate[..., 2::2]), (hazards, haz), (energies, eng)):
            out.append(val)
        if name != "idle":
            pulse_t.append(tt)
            pulse_rise.append(rise)
            current_end += n
        rise_start, h_acc, e_acc = rise[..., -1], haz[..., -1], eng[..., -1]
    return _Path(torch.cat(times), torch.cat(rises, -1), torch.cat(rates, -1), torch.cat(hazards, -1),
                 torch.cat(energies, -1), current_end, q_acc, pulse_t, pulse_rise)


def _switching_heat(i_a: Tensor, rise_c: Tensor, t_c: Tensor, p: NeuronParams, n_post: int
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """From a crossing at ``t_c`` (before the end of the current) to the end of the fall edge: the temperature
    rise there, the Joule energy and the largest rise, integrated through the switching ramp (per-neuron grid:
    ``n_post`` substeps per interval between the crossing, the corners of the stimulus and the ramp's end)."""
    end = p.t_current_end_s
    marks = [t_c, torch.clamp(torch.full_like(t_c, p.t_rise_s), min=t_c),
             torch.clamp(torch.full_like(t_c, p.t_pulse_s), min=t_c),
             torch.clamp(t_c + p.t_switch_s, max=end), torch.full_like(t_c, end)]
    b = torch.sort(torch.stack(marks, -1), dim=-1).values                  # [..., 5]
    h = (b[..., 1:] - b[..., :-1]) / n_post                                # [..., 4]
    frac = torch.linspace(0.0, 1.0, 2 * n_post + 1, dtype=t_c.dtype)
    tt = b[..., :-1].unsqueeze(-1) + (b[..., 1:] - b[..., :-1]).unsqueeze(-1) * frac     # [..., 4, 2n + 1]
    cur = stimulus_current_a(stimulus_level(tt, p), i_a[..., None, None], p)
    m = switched_fraction(tt, t_c[..., None, None], p)
    power = mtj_voltage_v(cur, m, p, iterations=8) * cur
    full = _quadratic_weights(h, h, p.tau_th_s, t_c.dtype)                 # each [..., 4]
    half = _quadratic_weights(h / 2.0, h, p.tau_th_s, t_c.dtype)
    energy = _simpson_segments(power, h).sum(dim=(-2, -1))
    rise, peak = rise_c, rise_c
    for k in range(4):
        weights = (tuple(w[..., k] for w in full), tuple(w[..., k] for w in half))
        temps = _heat_through(power[..., k, :], rise, h[..., k], p, weights)
        peak = torch.maximum(peak, temps.amax(dim=-1))
        rise = temps[..., -1]
    return rise, energy, peak


def mtj_neuron_step(i_a: Tensor, state: NeuronState, p: NeuronParams, *, mode: Mode = "deterministic",
                    u: Tensor | None = None, generator: torch.Generator | None = None,
                    n_sub: int = 64, n_sub_idle: int = 16, n_edge: int | None = None, n_post: int | None = None,
                    surrogate_width: float = 0.5) -> StepResult:
    """Advance thermal MTJ neurons by one network step.

    Args:
        i_a: current of each neuron at the full stimulus level, A (any shape; positive drives switching).
        state: temperature rise above ambient at the step start, K (same shape).
        p: device parameters (:meth:`NeuronParams.from_card`).
        mode: "deterministic" (u = 1/2), "stochastic" (u drawn or given) or "expected".
        u: the uniform draws in (0, 1) for stochastic mode; drawn from ``generator`` when None.
        generator: torch generator for the draws (seeded by the caller).
        n_sub, n_sub_idle, n_edge: Simpson substeps over the flat top, the idle part and each edge (None:
            n_sub / 4; the switching rate grows by orders of magnitude along a rising edge).
        n_post: substeps per interval of the switching grid (from the crossing to the end of the current; None:
            n_sub / 8).
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
        u = torch.clamp(u.to(dtype), tiny, math.exp(-p.min_threshold))  # as the .va clamps
    else:
        u = torch.full_like(i_a, 0.5)
    threshold = -torch.log(u)

    n_edge = n_edge if n_edge is not None else max(2, n_sub // 4)
    n_post = n_post if n_post is not None else max(2, n_sub // 8)
    path = _parallel_path(i_a, rise0, p, n_edge, n_sub, n_sub_idle)
    t_even = path.t_s
    h_read = path.hazard[..., -1]
    fired = h_read >= threshold
    crossed = path.hazard >= threshold.unsqueeze(-1)
    first = torch.argmax(crossed.to(torch.int8), dim=-1).clamp(min=1)     # first even node at/over threshold
    lo = first - 1

    def at(values: Tensor, index: Tensor) -> Tensor:
        return torch.gather(values, -1, index.unsqueeze(-1)).squeeze(-1)

    h_hi, h_lo = at(path.hazard, first), at(path.hazard, lo)
    step_h = h_hi - h_lo
    # double where so neither branch's gradient has inf/NaN (b^2 must not underflow in float32)
    rising = fired & (h_lo < threshold) & (step_h > 1e-18)
    lin = torch.where(rising, (threshold - h_lo) / torch.where(rising, step_h, torch.ones_like(step_h)),
                      torch.zeros_like(step_h)).clamp(0.0, 1.0)
    # G grows ~exponentially inside the substep: H(t_lo + f dt) - h_lo ~ step_h (e^{kf} - 1) / (e^k - 1)
    # with k = ln(G_hi / G_lo); invert for f (linear interpolation when k ~ 0). The crossing starts the switching,
    # which sets how the rest of the pulse heats, so it matters for the heat memory.
    g_hi, g_lo = at(path.rate_hz, first), at(path.rate_hz, lo)
    curved = rising & (g_lo > tiny) & (g_hi > g_lo * (1.0 + 1e-6))
    k = torch.log(torch.where(curved, g_hi, torch.full_like(g_hi, 2.0)) /
                  torch.where(curved, g_lo, torch.ones_like(g_lo)))
    frac = torch.where(curved, torch.log1p(lin * torch.expm1(k)) / k, lin).clamp(0.0, 1.0)
    t_lo, t_hi = t_even[lo], t_even[first]
    t_cross = t_lo + frac * (t_hi - t_lo)
    inf = torch.full_like(t_cross, math.inf)
    fire_time_s = torch.where(fired, t_cross, inf)

    # the unswitched path to the end of the current; from a crossing before it, the switching path
    rise_end = path.rise_k[..., path.current_end]
    energy_j = path.energy_j[..., path.current_end]
    charge_c = path.charge_c
    peak = torch.full_like(rise_end, -math.inf)
    for t_seg, rise_seg in zip(path.pulse_t_s, path.pulse_rise_k):          # nodes on the actual path
        before = t_seg < fire_time_s.unsqueeze(-1)
        peak = torch.maximum(peak, torch.where(before, rise_seg, -math.inf).amax(dim=-1))
    switching = fired & (t_cross < p.t_current_end_s)
    if bool(switching.any()):
        idx = switching.nonzero(as_tuple=True)
        t_c, lo_s = t_cross[idx], lo[idx]
        t_a, t_b = t_lo[idx], t_hi[idx]
        length, width = t_c - t_a, t_b - t_a
        i_s = i_a[idx]
        nodes = [stimulus_current_a(stimulus_level(t, p), i_s, p) for t in (t_a, 0.5 * (t_a + t_b), t_b)]
        powers = [c * c * p.r_p_ohm for c in nodes]
        rise_lo = at(path.rise_k[idx], lo_s)
        heat_w = _quadratic_weights(length, width, p.tau_th_s, dtype)
        plain_w = _quadratic_weights(length, width, math.inf, dtype)
        rise_c = heat_w[0] * rise_lo + sum(w * q for w, q in zip(heat_w[1:], powers)) / p.c_th_j_per_k
        e_c = at(path.energy_j[idx], lo_s) + sum(w * q for w, q in zip(plain_w[1:], powers))
        rise_sw, e_sw, peak_sw = _switching_heat(i_s, rise_c, t_c, p, n_post)
        rise_end = rise_end.index_put(idx, rise_sw)
        energy_j = energy_j.index_put(idx, e_c + e_sw)
        peak = peak.index_put(idx, torch.maximum(peak[idx], peak_sw))
    state_end = rise_end * math.exp(-(p.t_step_s - p.t_current_end_s) / p.tau_th_s)

    log_margin = torch.log(torch.clamp(h_read, min=tiny)) - torch.log(threshold)
    if mode == "expected":
        spikes = -torch.expm1(-h_read)
    else:
        hard = fired.to(dtype)
        soft = torch.sigmoid(log_margin / surrogate_width)
        spikes = hard + (soft - soft.detach())
    return StepResult(spikes=spikes, state=NeuronState(state_end), hazard=h_read, fire_time_s=fire_time_s,
                      t_rise_peak_k=peak, energy_j=energy_j, charge_c=charge_c)


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
