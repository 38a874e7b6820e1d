"""Safe operating area (SOA) of the MTJ neurons, measured from simulated waveforms.

A simulated neuron is inside its safe operating area when, at every instant,

* the voltage across the MTJ ``|v(a)|`` stays at or below the drive's compliance
  ``v_dd - v_headroom`` (what the stage can put across its load from its supply) and below the
  barrier's breakdown voltage ``v_breakdown``;
* the junction temperature ``T = T_amb + v(th)`` stays at or below ``t_max`` (reliable operation) and
  below the free layer's Curie temperature ``Tc`` (above it there is no magnetic state to switch).

The limits come from the device card (:class:`~ipnet_cosim.device.card.NeuronDrive`,
:class:`~ipnet_cosim.device.card.OperatingLimits`, ``mtj.tc_k``). Waveforms are reduced to one peak
per neuron and network step (:func:`step_peaks`); :func:`check_layer` counts the neuron-steps above
each limit and names the worst one. ``ipnet-cosim simulate --soa strict|warn|off`` decides what a
violation does (:data:`SOA_MODES`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import SimulationError

SOA_MODES = ("strict", "warn", "off")
LIMIT_NAMES = ("v_compliance_v", "v_breakdown_v", "t_max_k", "tc_k")
SEVERITY = ("v_breakdown_v", "tc_k", "t_max_k", "v_compliance_v")     # which violation a message names first


class SOAViolationError(SimulationError):
    """A simulated operating point left the card's safe operating area (``--soa strict``)."""


@dataclass(frozen=True)
class SOALimits:
    """The limits a run is checked against (SI units), each with the card field it comes from."""

    v_compliance_v: float
    v_breakdown_v: float
    t_max_k: float
    tc_k: float

    FIELDS = {"v_compliance_v": ("V", "drive.v_dd_v - drive.v_headroom_v", "MTJ voltage"),
              "v_breakdown_v": ("V", "limits.v_breakdown_v", "MTJ voltage"),
              "t_max_k": ("K", "limits.t_max_k", "junction temperature"),
              "tc_k": ("K", "mtj.tc_k", "junction temperature")}

    @classmethod
    def from_card(cls, card: DeviceCard) -> "SOALimits":
        return cls(card.drive.v_compliance_v(), card.limits.v_breakdown_v, card.limits.t_max_k, card.mtj.tc_k)

    def to_dict(self) -> dict[str, Any]:
        return {k: {"value": v, "unit": self.FIELDS[k][0], "card_field": self.FIELDS[k][1]}
                for k, v in asdict(self).items()}


def step_peaks(time_s: np.ndarray, values: np.ndarray, t_step_s: float, n_steps: int) -> np.ndarray:
    """The largest value of every signal within every network step.

    Args:
        time_s: simulation time points, s (increasing, from 0).
        values: ``[signals, time]`` samples.
        t_step_s: period of one network step, s.
        n_steps: steps simulated.

    Returns:
        ``[n_steps, signals]``: the maximum over the time points of ``[k t_step, (k + 1) t_step]``
        (the points at both boundaries belong to both steps, so an edge is never missed).
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    bounds = np.arange(n_steps + 1) * t_step_s
    lo = np.searchsorted(time_s, bounds[:-1], side="left")
    hi = np.searchsorted(time_s, bounds[1:], side="right")
    out = np.full((n_steps, values.shape[0]), -np.inf)
    for k in range(n_steps):
        if hi[k] > lo[k]:
            out[k] = values[:, lo[k]:hi[k]].max(axis=1)
    return out


def check_layer(layer: str, v_peak_v: Sequence[np.ndarray], t_peak_k: Sequence[np.ndarray],
                samples: Sequence[int], limits: SOALimits) -> dict[str, Any]:
    """Count a layer's neuron-steps above each limit and find the worst of each kind.

    Args:
        layer: the layer's name.
        v_peak_v: per sample ``[T, neurons]`` peak ``|v|`` across the MTJ, V.
        t_peak_k: per sample ``[T, neurons]`` peak junction temperature, K.
        samples: the sample index of each entry.
        limits: the card's limits.

    Returns:
        ``{"layer", "neuron_steps", "v_peak_v", "t_peak_k", "above": {limit: count},
        "worst": {limit: {sample, step, neuron, value} or None}, "within": bool}``.
    """
    v = np.stack([np.asarray(a) for a in v_peak_v])       # [samples, T, neurons]
    t = np.stack([np.asarray(a) for a in t_peak_k])
    measured = {"v_compliance_v": v, "v_breakdown_v": v, "t_max_k": t, "tc_k": t}
    above: dict[str, int] = {}
    worst: dict[str, dict[str, float] | None] = {}
    for name in LIMIT_NAMES:
        data, limit = measured[name], getattr(limits, name)
        over = data > limit
        above[name] = int(over.sum())
        if above[name]:
            s, k, j = np.unravel_index(int(np.argmax(np.where(over, data, -np.inf))), data.shape)
            worst[name] = {"sample": int(samples[int(s)]), "step": int(k), "neuron": int(j),
                           "value": float(data[s, k, j])}
        else:
            worst[name] = None
    return {"layer": layer, "neuron_steps": int(v.size), "v_peak_v": float(v.max()), "t_peak_k": float(t.max()),
            "above": above, "worst": worst, "within": not any(above.values())}


def describe_violation(check: dict[str, Any], limits: SOALimits) -> str:
    """One line naming a layer's most severe violation: layer, neuron, step, sample, value and limit."""
    for name in SEVERITY:
        w = check["worst"][name]
        if w is None:
            continue
        unit, field, what = SOALimits.FIELDS[name]
        total = sum(check["above"].values())
        return (f"{check['layer']}: neuron {w['neuron']} at step {w['step']} of sample {w['sample']} reaches "
                f"{what} {w['value']:.4g} {unit} > {field} = {getattr(limits, name):.4g} {unit} "
                f"({check['above'][name]} of {check['neuron_steps']} neuron-steps above it; {total} limit "
                f"crossings in all)")
    return f"{check['layer']}: within the safe operating area"
