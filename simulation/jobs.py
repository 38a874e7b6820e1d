"""Job planning for ``simulate``: one :class:`UnitJob` per unit and sample, built from the export's typed
manifest, the previous layer's spikes and the crossbar model.

* ``crossbar="ports"``: the unit's crossbar is its exact port model (``ports/<unit>.npz``). A neuron unit's deck
  drives each neuron with its net input current, one PWL source per neuron (the mirrored column currents summed,
  exact: :func:`~ipnet_cosim.netlist_gen.unit_circuits.input_unit_circuit`), in parts of at most
  :data:`NEURONS_PER_DECK` neurons (the neurons are independent given their inputs, so a part is exact and
  takes only its own neurons' time points); the readout's deck has one PWL source per sensed column
  (:func:`~ipnet_cosim.netlist_gen.unit_circuits.port_unit_circuit`). The row sources' energy is computed from the port
  conductances (carried by a unit's first part).
* ``crossbar="netlist"``: the exported ngspice deck with its ``Vx*`` placeholders replaced by the sample's
  row drivers, every resistor simulated.

A job's cache key is the SHA-256 of the export's identity and the exact deck it runs, so a cache is never
reused across exports nor after a change of the deck.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.draws import neuron_draws
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.contract import Export, LayerRecord, SimFiles, UnitRecord
from ipnet_cosim.circuits.ir import Save
from ipnet_cosim.netlist_gen.export import replace_drivers, stimulus_lines
from ipnet_cosim.netlist_gen.mapping import LayerMatrix, MappingOptions, Unit

CROSSBAR_MODELS = ("ports", "netlist")
# Neurons per deck of a port-model unit: measured (benchmarks/time_points.py) as the fastest per neuron-step; a
# deck's time points are the union of its neurons' (each switching neuron adds its own), while a smaller deck
# pays the per-run set-up more often.
NEURONS_PER_DECK = 8
SIMULATORS = ("ngspice", "vacask", "twin")     # twin: no circuit simulator (simulation.twin)


@dataclass(frozen=True)
class EnergySpec:
    """What a worker needs to integrate a unit's energies (see :mod:`ipnet_cosim.simulation.integrate`).

    Saved vectors: every row source's branch current ``i(Vx<r>)`` and its node voltage (``x<r>``, or
    ``d<r>`` behind a separate driver resistor), every sense current and, for neuron units, every
    neuron input ``v(a<j>)``. Per step the worker keeps: the energy each row source delivers, the
    part of it dissipated in the driver resistance (``i^2 r_driver``), and the energy each neuron's
    MTJ absorbs (``v(a) i``, ``i`` the MTJ current: the mirrored ``i_in = mirror_gain sum_slices L^s sum_tiles
    (i(Vsp) - i(Vsm))`` itself, or through the bounded drive ``drive_current_a(i_in)`` when ``drive`` is set).
    """

    n_rows: int
    source_node_prefix: str
    mirror_gain: float
    r_driver_ohm: float
    t_step_s: float
    n_steps: int
    drive: tuple[float, float] | None = None       # (i_max_a, knee) of the bounded drive stage


@dataclass(frozen=True)
class UnitJob:
    """One simulator run: a unit's deck for one sample."""

    sample: int
    unit: str
    deck: str
    kind: str                       # "neurons" or "integrate"
    n_cols: int
    n_tiles: int
    read_times_s: tuple[float, ...]
    osdi: str
    cache: str
    key: str
    waveforms: bool
    energy: EnergySpec | None = None
    simulator: str = "ngspice"
    crossbar_energy: tuple[np.ndarray, np.ndarray] | None = None   # port model: (e_source_j, e_rdriver_j) [T, rows]
    step: tuple[float, int] = (0.0, 0)           # (t_step_s, n_steps): per-step SOA peaks of neuron units
    slice_gains: tuple[float, ...] = (1.0,)      # bit slicing: sense columns j S + s weigh L^s into neuron j
    part: tuple[int, int] | None = None          # (first neuron, neurons): a part of the unit's neurons
    inputs_sensed: bool = False                  # the deck senses each neuron's input current (Vin<j>)


@dataclass(frozen=True)
class JobContext:
    """What every job of one simulation shares."""

    export: Export
    out: Path
    card: DeviceCard
    fast_card: DeviceCard
    options: MappingOptions
    osdi: Path
    crossbar: str
    simulator: str
    waveform_units: frozenset[str]
    energy: bool
    ports: Mapping[str, Any] = field(default_factory=dict)     # unit -> UnitPorts (crossbar "ports")
    draw: int | None = None         # the draw index of a stochastic export (None: median mode)

    @property
    def n_steps(self) -> int:
        return self.export.manifest.timing.n_steps

    @property
    def read_times_s(self) -> tuple[float, ...]:
        t = self.export.manifest.timing
        return tuple(float(v) for v in np.arange(t.n_steps) * t.t_step_s + t.read_delay_s)


def unit_draws(ctx: JobContext, u: UnitRecord, sample: int) -> np.ndarray | None:
    """The recorded draws ``[T, n_cols]`` of unit ``u``'s neurons for ``sample`` and the run's draw
    (:func:`~ipnet_cosim.device.draws.neuron_draws` of the unit's layer, at its neurons' indices); None in the
    median mode and for the readout."""
    layer = ctx.export.manifest.layers[u.layer]
    if ctx.draw is None or layer.is_readout:
        return None
    firing = ctx.export.manifest.firing_mode()
    full = neuron_draws(firing.seed, ctx.draw, sample, u.layer, (ctx.n_steps, layer.n_out))
    return full[:, list(u.neurons)]


def unit_kind(layer: LayerRecord) -> str:
    """The job kind of a layer's units: "integrate" (readout) or "neurons"."""
    return "integrate" if layer.is_readout else "neurons"


def energy_spec(ctx: JobContext, u: UnitRecord) -> EnergySpec | None:
    if not ctx.energy:
        return None
    man = ctx.export.manifest
    behind = ctx.options.r_driver_ohm > 0 and not ctx.options.reduced      # a separate Rd: the source sits on d<r>
    drive = (ctx.card.drive_i_max_a, ctx.card.drive.knee) if man.bounded else None
    return EnergySpec(len(u.rows), "d" if behind else "x", man.layers[u.layer].mirror_gain, ctx.options.r_driver_ohm,
                      man.timing.t_step_s, man.timing.n_steps, drive)


def neuron_saves(kind: str, n_cols: int, n_tiles: int, energy: bool, slices: int = 1,
                 inputs: bool = False) -> tuple[Save, ...]:
    """Vectors a neuron unit saves besides the spikes: the MTJ voltage and temperature of every neuron
    (safe operating area, kept waveforms, energy); for the energy integrals every sense current (``slices``
    sense columns per neuron), or with ``inputs`` every neuron's input current (``Vin<j>``)."""
    if kind != "neurons":
        return ()
    extra = tuple(Save.v(f"{n}{j}") for j in range(n_cols) for n in ("a", "th"))
    if energy and inputs:
        return extra + tuple(Save.i(f"Vin{j}") for j in range(n_cols))
    if energy:
        extra += tuple(Save.i(f"Vs{pm}{t}_{j}") for j in range(n_cols * slices) for t in range(n_tiles)
                       for pm in "pm")
    return extra


def _key(ctx: JobContext, deck: str) -> str:
    return hashlib.sha256(ctx.export.identity.manifest_sha256.encode() + b"\0" + deck.encode()).hexdigest()


def netlist_job(ctx: JobContext, u: UnitRecord, sample: int, spikes_in: np.ndarray) -> UnitJob:
    """The exported netlist of unit ``u`` with sample ``sample``'s row drivers (every resistor simulated)."""
    layer = ctx.export.manifest.layers[u.layer]
    kind = unit_kind(layer)
    rows = np.asarray(u.rows)[None, :]
    lm = LayerMatrix(matrix=np.zeros((rows.shape[1], 1)), gather=rows, out_index=np.zeros((1, 1), dtype=np.int64),
                     layout="")
    unit = Unit(u.layer, 0, u.col_block, (u.weight_columns[0], u.weight_columns[1]),
                tuple((t.rows[0], t.rows[1]) for t in u.tiles))
    path = ctx.export.path(u.netlist)
    try:
        netlist = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"netlist {path} of unit {u.name} is missing or unreadable ({type(exc).__name__}); export "
                          f"again, or simulate the port models (--crossbar ports)") from None
    from ipnet_cosim.netlist_gen.unit_circuits import draw_source
    from ipnet_cosim.circuits.ngspice import format_element, format_save
    draws = unit_draws(ctx, u, sample)
    draw_lines = None if draws is None else [
        line for j in range(u.n_cols)
        for line in format_element(draw_source(f"Vu{j}", f"u{j}", draws[:, j], ctx.card.timing))]
    espec = energy_spec(ctx, u)
    gains = layer.slice_gains
    extra = neuron_saves(kind, u.n_cols, len(u.tiles), espec is not None, len(gains))
    if espec is not None:
        extra += tuple(x for r in range(espec.n_rows)
                       for x in (Save.i(f"Vx{r}"), Save.v(f"{espec.source_node_prefix}{r}")))
    deck = replace_drivers(netlist, stimulus_lines(unit, lm, ctx.options, ctx.card, spikes_in),
                           [format_save(x) for x in extra], draw_lines)
    return UnitJob(sample, u.name, deck, kind, u.n_cols, len(u.tiles), ctx.read_times_s, str(ctx.osdi),
                   str(ctx.out / SimFiles.cache(sample, u.name)), _key(ctx, deck), u.name in ctx.waveform_units,
                   espec, step=(ctx.export.manifest.timing.t_step_s, ctx.n_steps), slice_gains=gains)


def unit_parts(ctx: JobContext, u: UnitRecord) -> list[tuple[int, int] | None]:
    """The decks a port-model neuron unit is simulated in: ``(first neuron, neurons)`` parts of at most
    :data:`NEURONS_PER_DECK`, or ``[None]`` (one deck of the whole unit) for the readout and for units whose
    waveforms are kept."""
    if unit_kind(ctx.export.manifest.layers[u.layer]) != "neurons" or u.name in ctx.waveform_units:
        return [None]
    return [(j0, min(NEURONS_PER_DECK, u.n_cols - j0)) for j0 in range(0, u.n_cols, NEURONS_PER_DECK)]


def part_name(unit: str, part: tuple[int, int] | None) -> str:
    """The cache name of a unit's part (the unit's own name for a whole unit)."""
    return unit if part is None else f"{unit}.n{part[0]}"


def port_job(ctx: JobContext, u: UnitRecord, ports, sample: int, spikes_in: np.ndarray,
             part: tuple[int, int] | None = None) -> UnitJob:
    """Unit ``u`` with its crossbar as the port model ``ports`` (:class:`~ipnet_cosim.netlist_gen.ports.UnitPorts`);
    a neuron unit as its neurons ``part`` = (first, count) driven by their input currents (None: all of them)."""
    from ipnet_cosim.netlist_gen.unit_circuits import input_unit_circuit, port_unit_circuit, row_levels_v
    from ipnet_cosim.netlist_gen.ports import column_currents_pwl, neuron_inputs_pwl, row_energy_j
    layer = ctx.export.manifest.layers[u.layer]
    card = ctx.card
    levels = row_levels_v(np.asarray(u.rows), spikes_in, card.timing.v_read_v)
    if levels.shape[1] != ports.n_rows:
        raise ConfigError(f"{u.ports} has {ports.n_rows} rows but unit {u.name} has {levels.shape[1]}; export again")
    kind = unit_kind(layer)
    espec = energy_spec(ctx, u)
    draws = unit_draws(ctx, u, sample)
    sensed = kind == "neurons"
    if sensed:
        j0, n = part if part is not None else (0, u.n_cols)
        inputs = neuron_inputs_pwl(ports, levels, card.timing, layer.mirror_gain, layer.slice_gains,
                                   range(j0, j0 + n))
        circuit = input_unit_circuit(part_name(u.name, part), n_cols=n, unit_kind=layer.unit, card=card,
                                     fast_card=ctx.fast_card, n_steps=ctx.n_steps, options=ctx.options,
                                     inputs=inputs, drive=ctx.export.manifest.bounded,
                                     draws=None if draws is None else draws[:, j0:j0 + n])
        saves = neuron_saves(kind, n, 0, espec is not None, inputs=True)
        n_cols, n_tiles = n, 0
    else:
        circuit = port_unit_circuit(u.name, n_tiles=len(u.tiles), n_cols=u.n_cols, unit_kind=layer.unit,
                                    mirror_gain=layer.mirror_gain, card=card, fast_card=ctx.fast_card,
                                    n_steps=ctx.n_steps, options=ctx.options,
                                    currents=column_currents_pwl(ports, levels, card.timing),
                                    drive=ctx.export.manifest.bounded, slice_gains=layer.slice_gains, draws=draws)
        saves = neuron_saves(kind, u.n_cols, len(u.tiles), espec is not None, len(layer.slice_gains))
        n_cols, n_tiles = u.n_cols, len(u.tiles)
    circuit = dataclasses.replace(circuit, saves=circuit.saves + saves)
    crossbar_energy = None
    if espec is not None and (part is None or part[0] == 0):
        crossbar_energy = row_energy_j(ports, levels, card.timing, ctx.options.r_driver_ohm)
    elif espec is not None:                           # the unit's row energy is carried by its first part
        crossbar_energy = (np.zeros(levels.shape), np.zeros(levels.shape))
    if ctx.simulator == "vacask":
        from ipnet_cosim.circuits.vacask import format_vacask
        deck = format_vacask(circuit, ctx.osdi.name if kind == "neurons" else None)
    else:
        from ipnet_cosim.circuits.ngspice import format_ngspice
        deck = format_ngspice(circuit)
    return UnitJob(sample, u.name, deck, kind, n_cols, n_tiles, ctx.read_times_s, str(ctx.osdi),
                   str(ctx.out / SimFiles.cache(sample, part_name(u.name, part))), _key(ctx, deck),
                   u.name in ctx.waveform_units, espec, ctx.simulator, crossbar_energy,
                   (card.timing.t_step_s, ctx.n_steps), layer.slice_gains, part, sensed)


def merge_parts(results: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """The results of a layer's jobs by ``(sample, unit)``, a unit's parts joined in neuron order: per-neuron
    arrays ``[T, neurons]`` side by side, the row energies of the first part, run times added, the largest RSS."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["sample"], r["unit"]), []).append(r)
    merged = {}
    for key, parts in groups.items():
        if len(parts) == 1 and parts[0].get("part") is None:
            merged[key] = parts[0]
            continue
        parts = sorted(parts, key=lambda r: int(np.asarray(r["part"])[0]))
        first = parts[0]
        out = {"sample": key[0], "unit": key[1], "cached": all(bool(r.get("cached")) for r in parts),
               "elapsed_s": np.asarray(sum(float(r["elapsed_s"]) for r in parts)),
               "rss_mb": np.asarray(max(float(r.get("rss_mb", np.nan)) for r in parts))}
        for name in ("spikes", "v_peak_v", "t_rise_peak_k", "e_neuron_j", "q_neuron_c"):
            if name in first:
                out[name] = np.concatenate([r[name] for r in parts], axis=1)
        for name in ("e_source_j", "e_rdriver_j"):
            if name in first:
                out[name] = first[name]
        merged[key] = out
    return merged


def layer_jobs(ctx: JobContext, layer: LayerRecord, samples: list[int],
               inputs: dict[int, np.ndarray]) -> Iterator[UnitJob]:
    """Every job of one layer: its units x ``samples``, driven by ``inputs[sample]`` ``[T, inputs]``; built as
    they are consumed, so the simulators start on the first decks while the rest are written."""
    units = ctx.export.manifest.units_of(layer.index)
    for s in samples:
        for u in units:
            if ctx.crossbar == "ports":
                for part in unit_parts(ctx, u):
                    yield port_job(ctx, u, ctx.ports[u.name], s, inputs[s], part)
            else:
                yield netlist_job(ctx, u, s, inputs[s])
