"""Energy of an exported network computed from its PyTorch twin, in the same categories, keys and units as
``simulate`` writes them (``energy_sample_<i>.npz``): a design point's energy without a circuit simulation.

The twin is the model ``simulate`` compares with (the network at exact precision, or its hardware model
:class:`~ipnet_cosim.chip.hardware_net.HardwareNet` for a non-ideal mapping). Per sample and layer:

* ``<layer>_source_j`` / ``<layer>_rdriver_j`` ``[units, T]``: what each unit's row sources deliver and the part
  lost in the driver resistance, from the export's port model and the twin's input spikes
  (:func:`~ipnet_cosim.netlist_gen.ports.row_energy_j`: exact; the same computation ``simulate`` does for
  the port model, so equal to it whenever the spikes are);
* ``<layer>_neuron_j`` ``[T, neurons]``: each MTJ's Joule energy in each step, from the twin's own integration of
  the neuron (the units' per-step details, :class:`~ipnet_cosim.models.units.UnitDetails`, at exact precision
  with the layer's card: heat-memory layers carry their heat, memoryless layers start every step at ambient on
  the fast card): ``I^2 R_P`` until the state switches, ``V_AP(I) I`` after it, over the pulse;
* ``<layer>_neuron_charge_c`` ``[T, neurons]``: the charge the drive stage delivers, ``|integral I dt|`` over the
  pulse with its edges through the drive (the step's own integral, as the circuit's ``integral |i| dt``);
* the readout's column charges and the safe-operating-area peaks per neuron and step, as ``simulate``'s files
  hold them: ``|V|`` across the MTJ (``V_AP(I)`` if the reversal started during the pulse, ``I R_P`` otherwise:
  conservative for a reversal the fall edge cuts short) and the junction temperature (the step's largest, from its
  start to the end of the current).

The categories ``energy.accounting`` derives from these (mirror supply, spike read, reset) follow from them
and the spikes exactly as for a simulation. What the twin does not resolve: the simulator's time discretisation
(reltol 1e-4; the agreement contract, docs/simulation.md).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ipnet_cosim.netlist_gen.contract import Export


TWIN_BATCH = 4     # samples per forward pass: the quadrature's tensors stay small enough for the allocator to reuse
                   # (one pass over 64 samples spent more system time in page faults than user time computing)


def twin_outputs(export: Export, frames: np.ndarray, samples: Sequence[int], draw: int | None = None) -> dict[str, Any]:
    """The twin's spikes, energies, readout charges and SOA peaks of ``frames`` ``[B, T, C, H, W]`` (sample
    indices ``samples``; a stochastic export's draw index ``draw``), keyed like ``simulate``'s outputs:
    ``spikes[s]`` (a ``[T, n]`` array per hidden layer), ``energies[s]``, ``charges[s]``, ``soa[s]``; plus ``model``
    (which twin ran) and ``coin_flip`` (per hidden layer, the fraction of neuron-steps in the coin-flip band).
    The samples run :data:`TWIN_BATCH` at a time (each sample's figures do not depend on the others')."""
    from ipnet_cosim.simulation.compare import twin_model
    from ipnet_cosim.simulation.inputs import load_crossbars
    _, twin, hardware = twin_model(export)
    ports = load_crossbars(export, "ports")
    out: dict[str, Any] = {"spikes": {}, "energies": {}, "charges": {}, "soa": {},
                           "model": "the hardware model of the exported chip (HardwareNet)" if hardware
                           else "the network"}
    flips: list[tuple[int, list[float | None]]] = []
    for start in range(0, len(samples), TWIN_BATCH):
        chunk = list(samples[start:start + TWIN_BATCH])
        part = _twin_chunk(export, twin, ports, frames[start:start + TWIN_BATCH], chunk, draw)
        for key in ("spikes", "energies", "charges", "soa"):
            out[key].update(part[key])
        flips.append((len(chunk), part["coin_flip"]))
    # every sample has the same neuron-steps: the fraction over all samples is the chunks' sample-weighted mean
    out["coin_flip"] = [_weighted_mean(flips, li) for li in range(len(flips[0][1]))]
    return out


def _weighted_mean(flips: list[tuple[int, list[float | None]]], layer: int) -> float | None:
    """The sample-weighted mean over chunks of one layer's coin-flip fraction (None where the layer has none)."""
    total, count = 0.0, 0
    for n, fractions in flips:
        value = fractions[layer]
        if value is None:
            return None
        total += n * value
        count += n
    return total / count


def _twin_chunk(export: Export, twin: Any, ports: Any, frames: np.ndarray, samples: list[int], draw: int | None
                ) -> dict[str, Any]:
    """:func:`twin_outputs` of one batch of samples."""
    import torch
    from ipnet_cosim.models.mtj_physics import NeuronParams, ap_voltage_v
    from ipnet_cosim.simulation.compare import coin_flip_fractions, run_draws
    man = export.manifest
    options = man.options()
    with torch.no_grad():
        _, trace = twin(torch.as_tensor(frames), return_trace=True, draws=run_draws(export, samples, draw),
                        details=True)
    timing = man.timing
    n_steps, batch = timing.n_steps, len(samples)
    out: dict[str, Any] = {"spikes": {s: [] for s in samples}, "energies": {s: {} for s in samples},
                           "charges": {}, "soa": {s: {} for s in samples}, "coin_flip": coin_flip_fractions(trace)}
    inputs = {s: frames[k].reshape(n_steps, -1).astype(np.float64) for k, s in enumerate(samples)}
    hidden = man.hidden_layers
    for layer in man.layers:
        units = man.units_of(layer.index)
        for s in samples:
            src, rdrv = _row_energies(units, ports, inputs[s], man, options.r_driver_ohm)
            out["energies"][s][f"{layer.name}_source_j"] = src
            out["energies"][s][f"{layer.name}_rdriver_j"] = rdrv
        if layer.is_readout:
            for s in samples:
                out["charges"][s] = _readout_charges(units, ports, inputs[s], man, layer)
            continue
        li = hidden.index(layer)
        card = man.card() if layer.unit == "heat" else man.fast()
        params = NeuronParams.from_card(card)
        i_a = trace["currents_a"][li].to(torch.float64).reshape(n_steps, batch, -1)
        info = trace["details"][li]
        with torch.no_grad():
            fired_in_pulse = info.fire_time_s.reshape(i_a.shape) < params.t_pulse_s
            v_peak = torch.where(fired_in_pulse, ap_voltage_v(i_a, params), i_a * params.r_p_ohm).abs()
            # the temperature relaxes monotonically during the pulse and decays after it: the step's peak is at
            # its start (heat carried in) or at the end of the pulse
            t_peak = torch.maximum(info.t_rise_start_k, info.t_rise_peak_k).reshape(i_a.shape) + params.t_amb_k
        energy_np = info.energy_j.reshape(i_a.shape).numpy()                                   # [T, B, n]
        v_np, t_np = v_peak.numpy(), t_peak.numpy()
        charge = np.abs(info.charge_c.reshape(i_a.shape).numpy())
        spikes = trace["outputs"][li].reshape(n_steps, batch, -1).numpy() > 0.5
        for k, s in enumerate(samples):
            out["energies"][s][f"{layer.name}_neuron_j"] = energy_np[:, k]
            out["energies"][s][f"{layer.name}_neuron_charge_c"] = charge[:, k]
            out["soa"][s][f"{layer.name}_v_peak_v"] = v_np[:, k]
            out["soa"][s][f"{layer.name}_t_peak_k"] = t_np[:, k]
            out["spikes"][s].append(spikes[:, k])
            inputs[s] = spikes[:, k].astype(np.float64)
    return out


def _row_energies(units, ports, spikes_in: np.ndarray, man, r_driver_ohm: float) -> tuple[np.ndarray, np.ndarray]:
    """``[units, T]`` energies the row sources deliver and lose in their drivers (exact, port model)."""
    from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v
    from ipnet_cosim.netlist_gen.ports import row_energy_j
    card = man.card()
    src, rdrv = [], []
    for u in units:
        levels = row_levels_v(np.asarray(u.rows), spikes_in, card.timing.v_read_v)
        e_s, e_d = row_energy_j(ports[u.name], levels, card.timing, r_driver_ohm)
        src.append(e_s.sum(axis=1))
        rdrv.append(e_d.sum(axis=1))
    return np.stack(src), np.stack(rdrv)


def _readout_charges(units, ports, spikes_in: np.ndarray, man, layer) -> np.ndarray:
    """The readout's column charges, C: ``sum_t sum_tiles sum_slices L^s (I+ - I-) integral s dt`` per output."""
    from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v
    from ipnet_cosim.netlist_gen.ports import column_levels_a
    card = man.card()
    q = np.zeros(layer.n_out)
    gains = layer.slice_gains
    sl = len(gains)
    for u in units:
        levels = row_levels_v(np.asarray(u.rows), spikes_in, card.timing.v_read_v)
        diff = np.zeros((levels.shape[0], u.n_cols))
        for lev in column_levels_a(ports[u.name], levels):          # per row tile: [T, 2 slice columns]
            for j in range(u.n_cols):
                for s_i, gain in enumerate(gains):
                    c = j * sl + s_i
                    diff[:, j] += gain * (lev[:, 2 * c] - lev[:, 2 * c + 1])
        q[list(u.neurons)] = diff.sum(axis=0) * card.timing.pulse_integral_s
    return q


def compare_energies(twin: dict[str, np.ndarray], circuit: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per energy key of one sample: the twin's total, the circuit's, their relative difference, and the largest
    per-element difference relative to the circuit's peak."""
    out = {}
    for key in sorted(circuit):
        c = np.asarray(circuit[key])
        if key not in twin or c.dtype.kind != "f":          # the export tag and other non-energy entries
            continue
        t = np.asarray(twin[key], dtype=float)
        total_c, total_t = float(c.sum()), float(t.sum())
        out[key] = {"twin": total_t, "circuit": total_c,
                    "total_rel": abs(total_t / total_c - 1.0) if total_c else (0.0 if total_t == 0 else math.inf),
                    "max_rel_of_peak": float(np.max(np.abs(t - c)) / np.max(np.abs(c))) if np.any(c) else 0.0}
    return out
