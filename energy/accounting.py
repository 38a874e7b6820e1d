"""Energy of a simulated export: per category, per layer, per unit (tile), per neuron and per spike.

Inputs are what ``ipnet-cosim simulate`` writes (``sim/energy_sample_<i>.npz``, ``sim/spikes_sample_<i>.npz``,
``sim/results.json``) and the export's ``manifest.json``. Categories:

* **input drivers** (simulated, or computed exactly from the port model): the energy lost in the row drivers'
  output resistance, ``integral i^2 r_driver dt`` (zero when ``r_driver_ohm`` is 0: the drivers are ideal sources;
  their own switching energy is not modelled).
* **crossbar read** (simulated, or computed exactly from the port model): what the row sources deliver to the
  array, cells and wire segments, ``integral -v i dt - driver loss``. Columns sit at 0 V (sense sources), so all
  of it is dissipated in the array. With ``simulate``'s default port model (:mod:`~ipnet_cosim.netlist_gen.ports`)
  the crossbar is not in the simulator's matrix: these two are then computed exactly from the port conductances
  and the row levels (results.json says which, ``provenance.crossbar``), and labelled computed.
* **neuron heating** (simulated): the Joule energy of every MTJ neuron, ``integral v(a) i dt``: in a
  heat-memory layer this is the energy that writes the thermal memory.
* **mirror supply** (computed): the drive's output stage draws the neuron current from its supply ``v_dd``
  (the device card's ``drive.v_dd_v``): ``v_dd Q - heating`` with ``Q = integral |i| dt`` (simulated) the
  charge delivered, i.e. the drop across the output transistor. It is never clipped: a neuron-step whose
  MTJ took more than ``v_dd Q`` (only possible with the ideal, unbounded drive) makes this term negative,
  and ``check`` counts such neuron-steps and the energy the supply could not have given
  (``energy_above_supply_j``), which the report puts in its safe-operating-area section.
* **spike read** (computed): reading each neuron's magnetic state once per step, before the reset
  (``v_read^2 / R t_read``, at ``R_AP`` if it fired in that step and ``R_P`` otherwise); the netlist
  reads ``v(st)`` for free.
* **reset** (computed): a fired neuron is switched back by a current pulse ``i_reset`` through ``R_AP`` for
  the card's ``t_reset_s``: ``i_reset^2 R_AP t_reset`` per spike; the netlist clears the state ideally.
* **periphery switching** (computed): every row pulse switches its driver, whose gates (sized for the row's peak
  current, :func:`~ipnet_cosim.energy.area.tile_widths`) are charged and discharged once:
  ``pulses x n_drv m(I_row) W_min C_g v_dd^2`` (pulses counted from the simulated input spikes; the row wire's
  own capacitance is not counted).
* **periphery leakage** (computed): the off-current of every sized periphery transistor (row drivers, column
  sense, mirror outputs) from the supply for the whole inference: ``sum m W_min I_off v_dd n_steps t_step``.
  Both move with G_max, the read voltage, the tile size and the drive ceiling (28 nm figures:
  :mod:`~ipnet_cosim.device.interconnect`).

The assumptions of the computed categories live in :class:`PeripheryAssumptions`, each with its source.

**Per spike.** Each neuron's energy is its own heating, mirror, read and reset energy plus a share of its
unit's crossbar and driver energy in proportion to the charge it received (its column's share of the
tile's current); a neuron that fired ``n`` times has ``E_neuron / n`` per spike. The energy of neurons
that never fired and of the readout is reported separately, so
``sum over spikes + silent neurons + readout = total`` exactly.

**Memory energy of IPNet** (what is compared with the baselines' memory traffic): the Joule heating of
the heat-memory layers' neurons per inference step. This is an upper bound on the cost of the memory:
the same heat is also what makes the neuron fire (computation); a memoryless MTJ neuron would dissipate
much of it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.interconnect import INTERCONNECT_28NM
from ipnet_cosim.energy.area_crossbar import tile_widths
from ipnet_cosim.energy.area_layers import manifest_currents
from ipnet_cosim.energy.quantity import figure
from ipnet_cosim.netlist_gen.contract import (EXPORT_TAG, Export, ExportManifest, ForeignResultsError, SimFiles,
                                              SimulationResults, read_export, read_results)
from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v
from ipnet_cosim.simulation.inputs import load_frames

CATEGORIES = ("input_drivers", "crossbar_read", "neuron_heating", "mirror_supply", "spike_read", "reset",
              "periphery_switching", "periphery_leakage")
SIMULATED = ("input_drivers", "crossbar_read", "neuron_heating")
PORT_COMPUTED = ("input_drivers", "crossbar_read")      # computed when the crossbar ran as its port model


@dataclass(frozen=True)
class PeripheryAssumptions:
    """What the netlist leaves ideal and the energy model must assume (SI units).

    Args:
        v_dd_v: supply of the drive's output stage, V; None: the device card's ``drive.v_dd_v``.
        reset_current_a: reset pulse amplitude, A; None: the card's ``ic0_a`` (critical current at T0).
        spike_read_v: bias of the per-step state read, V.
        spike_read_s: duration of the per-step state read, s.
    """

    v_dd_v: float | None = None
    reset_current_a: float | None = None
    spike_read_v: float = 0.1
    spike_read_s: float = 0.5e-9

    SOURCES = {
        "v_dd_v": "the device card's drive.v_dd_v (the neuron drive's supply) unless given",
        "reset_current_a": "assumed: the card's critical current ic0_a, the smallest current that switches "
                           "the free layer deterministically in ~the card's t_reset_s",
        "spike_read_v": "assumed: typical STT-MRAM read bias (0.1 V, far below switching)",
        "spike_read_s": "assumed: a 0.5 ns sense window per step",
    }

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in ("reset_current_a", "v_dd_v"):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise ConfigError(f"energy assumption {f.name} = {v!r} must be a positive number (SI units)")

    def to_dict(self) -> dict[str, Any]:
        return {k: {"value": v, "source": self.SOURCES[k]} for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SimulationData:
    """A simulated export as plain arrays (see :func:`load_simulation`)."""

    export: Export
    sim: Path
    results: SimulationResults
    samples: tuple[int, ...]
    energy: dict[int, dict[str, np.ndarray]]
    spikes: dict[int, dict[str, np.ndarray]]

    @property
    def folder(self) -> Path:
        return self.export.folder

    @property
    def manifest(self) -> ExportManifest:
        return self.export.manifest


def _load_npz(path: Path, what: str, fix: str, export: Export) -> dict[str, np.ndarray]:
    """The arrays of a per-sample file; one that names another export (``EXPORT_TAG``) is refused."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise ConfigError(f"{what} {path} is damaged ({type(exc).__name__}); {fix}") from None
    tag = arrays.pop(EXPORT_TAG, None)
    if tag is not None and str(tag) != export.identity.manifest_sha256:
        raise ForeignResultsError(f"{what} {path} belongs to another export (manifest {str(tag)[:12]}, not "
                                  f"{export.identity.manifest_sha256[:12]}); {fix}")
    return arrays


def load_simulation(folder: str | Path, sim: str | Path | None = None) -> SimulationData:
    """Read an export and its simulation results (bound to that export); every problem is named with its fix."""
    export = read_export(folder, need_checkpoint=False)
    sim = Path(sim) if sim is not None else export.default_sim()
    results = read_results(sim, export)
    samples = results.samples
    rerun = f"rerun 'ipnet-cosim simulate {export.folder}' (finished units are cached)"
    energy, spikes = {}, {}
    for s in samples:
        e_path, s_path = sim / SimFiles.energy(s), sim / SimFiles.spikes(s)
        if not s_path.is_file():
            raise ConfigError(f"the simulation in {sim} is partial: {s_path.name} is missing; {rerun}")
        if not e_path.is_file():
            raise ConfigError(f"{sim} has no energy data for sample {s} ({e_path.name}): it was simulated without "
                              f"current vectors (--no-energy); rerun 'ipnet-cosim simulate {export.folder}' with "
                              f"energy on")
        energy[s] = _load_npz(e_path, "energy file", rerun, export)
        spikes[s] = _load_npz(s_path, "spike file", rerun, export)
        for layer in export.manifest.layers:
            need = [f"{layer.name}_source_j", f"{layer.name}_rdriver_j"]
            if not layer.is_readout:
                need += [f"{layer.name}_neuron_j", f"{layer.name}_neuron_charge_c"]
            missing = [k for k in need if k not in energy[s]]
            if missing:
                raise ConfigError(f"{e_path} lacks {', '.join(missing)} (waveforms without the current vectors "
                                  f"this report needs); {rerun}")
            if not layer.is_readout and SimFiles.spike_key(layer.name) not in spikes[s]:
                raise ConfigError(f"{s_path} lacks the spikes of layer {layer.name}; {rerun}")
    return SimulationData(export, sim, results, samples, energy, spikes)


def energy_breakdown(data: SimulationData, assumptions: PeripheryAssumptions = PeripheryAssumptions()
                     ) -> dict[str, Any]:
    """Energies of the simulated samples (see the module docstring); every figure a Quantity dict.

    Returns a dict with ``totals`` (per category, J per sample), ``layers`` (per layer and category,
    J per sample, plus spikes and energy per spike), ``units`` (per unit/tile, J per sample),
    ``per_neuron_j`` (layer -> every neuron's attributed energy, J per sample, output order),
    ``per_spike`` (statistics over neurons and the list of per-spike energies, J, for a histogram),
    ``memory`` (IPNet's memory energy per step) and ``check`` (attribution sums).
    """
    man = data.manifest
    card = man.card()
    mtj = card.mtj
    t = card.timing
    n_steps = man.timing.n_steps
    n_samples = len(data.samples)
    r_ap = mtj.r_ap_ohm
    i_reset = assumptions.reset_current_a or mtj.ic0_a
    v_dd = assumptions.v_dd_v or card.drive.v_dd_v
    e_reset_per_spike = i_reset ** 2 * r_ap * t.t_reset_s
    e_read_p = assumptions.spike_read_v ** 2 / mtj.r_p_ohm * assumptions.spike_read_s
    e_read_ap = assumptions.spike_read_v ** 2 / r_ap * assumptions.spike_read_s
    prov = data.results.provenance
    simulator = prov.get("simulator", "ngspice")
    twin = simulator == "twin"                 # simulate --simulator twin: no circuit, computed from PyTorch
    sim_src = (f"computed: the PyTorch twin's own integration of every neuron (simulation.twin_energy), "
               f"{data.folder} ({n_samples} samples, mean per sample)" if twin else
               f"simulated: {simulator} transients of {data.folder} ({n_samples} samples, mean per sample)")
    ports = prov.get("crossbar") == "ports"
    port_src = (f"computed: exact integral of the crossbar's port model (row levels x port conductances of "
                f"{data.folder}/ports, pulse shape of the card; netlist_gen.ports), {n_samples} samples, mean per "
                f"sample")

    def prov_of(c: str) -> tuple[str, str]:
        if ports and c in PORT_COMPUTED:
            return "computed", port_src
        if c in SIMULATED:
            return ("computed" if twin else "simulated"), sim_src
        return "computed", "computed: " + _formula(c)

    periphery = _Periphery(data, v_dd)
    totals = {c: 0.0 for c in CATEGORIES}
    layers_out, units_out, spike_energies = [], [], []
    neuron_energy: dict[str, np.ndarray] = {}
    silent_j = readout_j = 0.0
    memory_j = 0.0
    mirror_short = 0
    mirror_deficit_j = 0.0
    for layer in man.layers:
        name = layer.name
        units = man.units_of(layer.index)
        cat = {c: 0.0 for c in CATEGORIES}
        n_spikes = 0
        unit_e = np.zeros(len(units))
        for s in data.samples:
            e = data.energy[s]
            src, rd = e[f"{name}_source_j"], e[f"{name}_rdriver_j"]        # [units, T]
            cat["input_drivers"] += rd.sum()
            cat["crossbar_read"] += (src - rd).sum()
            unit_e += src.sum(axis=1)
            switching, leakage = periphery.unit_energies(layer, units, s)       # [units] each
            cat["periphery_switching"] += switching.sum()
            cat["periphery_leakage"] += leakage.sum()
            unit_periphery = switching + leakage
            if layer.is_readout:
                readout_j += src.sum() + unit_periphery.sum()
                continue
            heat, charge = e[f"{name}_neuron_j"], e[f"{name}_neuron_charge_c"]     # [T, neurons]
            fired = data.spikes[s][SimFiles.spike_key(name)].astype(bool)
            mirror = v_dd * charge - heat
            short = mirror < 0                  # the MTJ took more than v_dd Q: no real supply could drive it
            mirror_short += int(short.sum())
            mirror_deficit_j += float(-mirror[short].sum())
            read = np.where(fired, e_read_ap, e_read_p)        # read before the reset: AP iff it fired this step
            reset = fired * e_reset_per_spike
            cat["neuron_heating"] += heat.sum()
            cat["mirror_supply"] += mirror.sum()
            cat["spike_read"] += read.sum()
            cat["reset"] += reset.sum()
            n_spikes += int(fired.sum())
            if layer.unit == "heat":
                memory_j += heat.sum()
            # per neuron: own energy + share of its unit's array/driver energy by charge
            own = (heat + mirror + read + reset).sum(axis=0)
            q = charge.sum(axis=0)
            for k, u in enumerate(units):
                idx = np.asarray(u.neurons)
                share = q[idx] / q[idx].sum() if q[idx].sum() > 0 else np.full(idx.size, 1.0 / idx.size)
                own[idx] += (src[k].sum() + unit_periphery[k]) * share
            neuron_energy[name] = neuron_energy.get(name, 0.0) + own / n_samples
            n_fired = fired.sum(axis=0)
            spike_energies += list(np.repeat(own[n_fired > 0] / n_fired[n_fired > 0], n_fired[n_fired > 0]))
            silent_j += own[n_fired == 0].sum()
        for c in CATEGORIES:
            totals[c] += cat[c]
        total = sum(cat.values())
        layers_out.append({
            "name": name, "type": layer.type, "unit": layer.unit,
            "energy": {c: figure(cat[c] / n_samples, "J", *prov_of(c)) for c in CATEGORIES},
            "total": figure(total / n_samples, "J", "computed", "sum of the layer's categories"),
            "spikes": figure(n_spikes / n_samples, "1", "simulated", sim_src + "; spikes read at the end of each step"),
            "energy_per_spike": (figure(total / n_spikes, "J", "computed", "layer total / layer spikes")
                                 if n_spikes else None),
        })
        units_out += [{"name": u.name, "layer": name,
                       "array_and_drivers": figure(unit_e[k] / n_samples, "J", *prov_of("crossbar_read"))}
                      for k, u in enumerate(units)]
    grand = sum(totals.values())
    spikes_arr = np.asarray(spike_energies)
    attributed = float(spikes_arr.sum())
    per_spike: dict[str, Any] = {"count": figure(spikes_arr.size, "1", "simulated", sim_src + "; all spikes of all "
                                                                                              "layers"),
                                 "values_j": [float(v) for v in spikes_arr]}
    if spikes_arr.size:
        per_spike.update({
            "mean": figure(spikes_arr.mean(), "J", "computed", "attributed energy per spike, mean over all spikes"),
            "median": figure(np.median(spikes_arr), "J", "computed", "median over all spikes"),
            "p10": figure(np.percentile(spikes_arr, 10), "J", "computed", "10th percentile over all spikes"),
            "p90": figure(np.percentile(spikes_arr, 90), "J", "computed", "90th percentile over all spikes"),
            "std": figure(spikes_arr.std(), "J", "computed", "standard deviation over all spikes"),
        })
    n_heat = sum(layer.n_out for layer in man.layers if layer.unit == "heat")
    return {
        "assumptions": assumptions.to_dict(),
        "derived": {
            "r_ap_ohm": figure(r_ap, "ohm", "computed", "R_P (1 + TMR0) from the device card"),
            "reset_energy_per_spike": figure(e_reset_per_spike, "J", "computed", _formula("reset")),
        },
        "totals": {c: figure(totals[c] / n_samples, "J", *prov_of(c)) for c in CATEGORIES},
        "total": figure(grand / n_samples, "J", "computed", "sum of all categories, mean per sample"),
        "layers": layers_out, "units": units_out, "per_spike": per_spike,
        "per_neuron_j": {k: [float(x) for x in v] for k, v in neuron_energy.items()},
        "memory": {
            "ipnet_j_per_step": figure(memory_j / n_samples / n_steps, "J", "simulated",
                                   sim_src + "; Joule heating of the heat-memory neurons per step",
                                   "upper bound: the same heat also drives firing"),
            "heat_memory_neurons": n_heat,
        },
        "check": {"total_j": float(grand / n_samples), "attributed_to_spikes_j": float(attributed / n_samples),
                  "silent_neurons_j": float(silent_j / n_samples), "readout_j": float(readout_j / n_samples),
                  "neuron_steps_above_v_dd": mirror_short,
                  "energy_above_supply_j": mirror_deficit_j / n_samples, "v_dd_v": v_dd},
        "samples": list(data.samples), "steps_per_sample": n_steps,
    }


class _Periphery:
    """The sized periphery of an export's units and its switching and leakage energy per sample (formulas in the
    module docstring)."""

    def __init__(self, data: SimulationData, v_dd: float) -> None:
        man = data.manifest
        self.data = data
        self.currents = manifest_currents(man.to_dict())
        self.e_gate_j = INTERCONNECT_28NM.gate_cap_f_per_m * INTERCONNECT_28NM.min_width_m * v_dd ** 2
        latency_s = man.timing.n_steps * man.timing.t_step_s
        self.e_leak_j = INTERCONNECT_28NM.i_off_a_per_m * INTERCONNECT_28NM.min_width_m * v_dd * latency_s
        _, frames, _ = load_frames(data.export, list(data.samples))
        n_steps = man.timing.n_steps
        self.frames = {s: frames[k].reshape(n_steps, -1) for k, s in enumerate(data.samples)}
        self.previous = {layer.index: prev for prev, layer in zip((None, *man.layers[:-1]), man.layers)}
        self._units: dict[str, tuple[np.ndarray, float]] = {}

    def _sized(self, u) -> tuple[np.ndarray, float]:
        """Per row of unit ``u``: its driver's width (minimum widths); and the unit's total periphery width."""
        if u.name not in self._units:
            sized = [tile_widths(t.size[0], t.size[1], self.currents) for t in u.tiles]
            per_row = np.concatenate([np.full(t.rows, t.row_driver) for t in sized])
            if per_row.size != len(u.rows):          # rows not split as the tiles: price every row as the widest
                per_row = np.full(len(u.rows), max(t.row_driver for t in sized))
            self._units[u.name] = (per_row, float(sum(t.total for t in sized)))
        return self._units[u.name]

    def unit_energies(self, layer, units, sample: int) -> tuple[np.ndarray, np.ndarray]:
        """Switching and leakage energy of each of ``units`` in ``sample``, J."""
        prev = self.previous[layer.index]
        spikes_in = (self.frames[sample] if prev is None
                     else self.data.spikes[sample][SimFiles.spike_key(prev.name)])
        switching = np.zeros(len(units))
        leakage = np.zeros(len(units))
        for k, u in enumerate(units):
            per_row, total = self._sized(u)
            pulses = np.count_nonzero(row_levels_v(np.asarray(u.rows), spikes_in, 1.0), axis=0)
            switching[k] = float((pulses * per_row).sum()) * self.e_gate_j
            leakage[k] = total * self.e_leak_j
        return switching, leakage


def _formula(category: str) -> str:
    return {
        "periphery_switching": "row pulses (from the simulated input spikes) x n_drv m(I_row) W_min C_g v_dd^2: the "
                               "row driver's gates, sized for the row's peak current v_read cols G_max (28 nm: PTM 32 "
                               "nm LP gate capacitance and on-current per width, DNN+NeuroSim's W_min)",
        "periphery_leakage": "sum over the sized periphery (row drivers, column sense, mirror outputs) of m W_min "
                             "I_off "
                             "v_dd x n_steps t_step (PTM 32 nm LP off-current per width, 300 K)",
        "mirror_supply": "v_dd * integral |i_neuron| dt - neuron heating (charge simulated, v_dd from the device "
                         "card's drive section; not clipped)",
        "spike_read": "steps x neurons x v_read^2 / R t_read (R_AP in a step with a spike, R_P otherwise; card + "
                      "assumptions)",
        "reset": "spikes x i_reset^2 R_AP t_reset (card: ic0_a, R_P, TMR0, t_reset_s)",
    }.get(category, category)
