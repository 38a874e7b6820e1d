"""Area of the layers of an export manifest (:func:`network_area`): counts from its units and tiles, times the cell
and peripheral areas of :mod:`~ipnet_cosim.energy.area` (see its docstring for the formulas)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ipnet_cosim.device.card import DeviceCard, MTJParams
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.synapse import SynapseCard, ideal_synapse
from ipnet_cosim.energy.area import (COMPONENTS, UM2_PER_M2, CrossbarAreaModel, NeuronCellArea, NeuronCellModel,
                                     neuron_cell_area, transistor_footprint)
from ipnet_cosim.energy.area_crossbar import PeripheryCurrents, peripheral_areas, sized_periphery
from ipnet_cosim.energy.area_data import AreaData, load_area_data
from ipnet_cosim.energy.quantity import Quantity
from ipnet_cosim.netlist_gen.contract import UNIT_KINDS


@dataclass(frozen=True)
class LayerCounts:
    """What a layer contains, counted from the manifest's units and tiles."""

    devices: int          # crossbar devices, sum of tile rows x physical columns
    driver_rows: int      # row drivers, sum of tile rows over the layer's units
    column_ends: int      # sense clamp + mirror per physical column per tile
    neurons: int          # MTJ neurons (0 for the readout)
    tiles: int
    units: int


@dataclass(frozen=True)
class LayerArea:
    """Area of one layer: its counts, components (m^2, keys :data:`COMPONENTS`) and total."""

    index: int
    name: str
    unit_kind: str
    counts: LayerCounts
    components: Mapping[str, Quantity]
    total: Quantity
    neuron_cell: NeuronCellArea | None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "unit": self.unit_kind,
                "counts": dataclasses.asdict(self.counts),
                "components": {k: q.to_dict() for k, q in self.components.items()},
                "total": self.total.to_dict(),
                "neuron_cell": None if self.neuron_cell is None else
                {"terms": {k: q.to_dict() for k, q in self.neuron_cell.terms.items()},
                 "total": self.neuron_cell.total.to_dict()}}


@dataclass(frozen=True)
class AreaReport:
    """Per-layer and total area of an exported network."""

    layers: tuple[LayerArea, ...]
    total: Quantity

    def breakdown_m2(self) -> dict[str, float]:
        """Component -> m^2 summed over layers (one stacked bar; keys in :data:`COMPONENTS` order)."""
        return {c: sum(layer.components[c].value for layer in self.layers) for c in COMPONENTS}

    def breakdown_by_layer_m2(self) -> dict[str, dict[str, float]]:
        """Layer name -> component -> m^2 (one stacked bar per layer)."""
        return {layer.name: {c: layer.components[c].value for c in COMPONENTS} for layer in self.layers}

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [layer.to_dict() for layer in self.layers], "total": self.total.to_dict(),
                "breakdown_m2": self.breakdown_m2()}

    def format_table(self) -> str:
        """A plain-text table in um^2 (reports convert at the boundary; values stay SI)."""
        head = f"{'layer':<12}{'unit':<12}" + "".join(f"{c:>16}" for c in COMPONENTS) + f"{'total':>16}"
        lines = ["area, um^2", head]
        for layer in self.layers:
            lines.append(f"{layer.name:<12}{layer.unit_kind:<12}"
                         + "".join(f"{layer.components[c].value * UM2_PER_M2:>16.4g}" for c in COMPONENTS)
                         + f"{layer.total.value * UM2_PER_M2:>16.4g}")
        b = self.breakdown_m2()
        lines.append(f"{'total':<24}" + "".join(f"{b[c] * UM2_PER_M2:>16.4g}" for c in COMPONENTS)
                     + f"{self.total.value * UM2_PER_M2:>16.4g}")
        return "\n".join(lines)


def _int(value: Any, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: {what} = {value!r} must be a whole number >= 0; the manifest is damaged, "
                          f"re-export it")
    return value


def layer_counts(layer: Mapping[str, Any], units: Sequence[Mapping[str, Any]]) -> LayerCounts:
    """Count devices, driver rows, column ends and neurons of one manifest layer from its units.

    Args:
        layer: a ``manifest["layers"]`` entry (``index``, ``name``, ``unit``; ``devices``,
            ``matrix_shape`` and ``positions`` are cross-checked when present).
        units: the ``manifest["units"]`` entries of this layer (``tiles`` with ``size`` [rows, physical
            columns]; ``neurons``).

    Raises:
        ConfigError: a field is missing or malformed, or the counts disagree with the layer's totals.
    """
    name = layer.get("name", f"layer {layer.get('index', '?')}")
    where = f"manifest layer '{name}'"
    kind = layer.get("unit")
    if kind not in UNIT_KINDS:
        raise ConfigError(f"{where}: unit {kind!r} is unknown; expected one of {', '.join(UNIT_KINDS)} "
                          f"(an export manifest of ipnet_cosim.netlist_gen.export)")
    if not units:
        raise ConfigError(f"{where} has no entries in manifest['units']; the area needs the tiles of every unit "
                          f"(pass the whole manifest of an export)")
    devices = driver_rows = column_ends = neurons = tiles = 0
    for unit in units:
        uwhere = f"{where}, unit '{unit.get('name', '?')}'"
        unit_tiles = unit.get("tiles")
        if not isinstance(unit_tiles, Sequence) or not unit_tiles:
            raise ConfigError(f"{uwhere}: 'tiles' must be a non-empty list of {{'size': [rows, columns]}}")
        for tile in unit_tiles:
            size = tile.get("size") if isinstance(tile, Mapping) else None
            if not isinstance(size, Sequence) or len(size) != 2:
                raise ConfigError(f"{uwhere}: a tile lacks 'size' [rows, physical columns]")
            rows = _int(size[0], uwhere, "tile rows")
            cols = _int(size[1], uwhere, "tile physical columns")
            devices += rows * cols
            driver_rows += rows
            column_ends += cols
            tiles += 1
        if kind != "integrate":
            if not isinstance(unit.get("neurons"), Sequence):
                raise ConfigError(f"{uwhere}: 'neurons' (list of output indices) is missing")
            neurons += len(unit["neurons"])
    if "devices" in layer and _int(layer["devices"], where, "devices") != devices:
        raise ConfigError(f"{where}: its tiles hold {devices} devices but the layer says {layer['devices']}; "
                          f"pass units of this layer only (unit['layer'] == layer['index'])")
    shape, positions = layer.get("matrix_shape"), layer.get("positions")
    if kind != "integrate" and isinstance(shape, Sequence) and len(shape) == 2 and isinstance(positions, int):
        if shape[1] * positions != neurons:
            raise ConfigError(f"{where}: {neurons} neurons in its units, but matrix_shape {list(shape)} x "
                              f"{positions} positions gives {shape[1] * positions}; the manifest is inconsistent")
    return LayerCounts(devices, driver_rows, column_ends, neurons, tiles, len(units))


def layer_area(layer: Mapping[str, Any], units: Sequence[Mapping[str, Any]], *,
               card: DeviceCard | MTJParams | None = None, data: AreaData | None = None,
               neuron_model: NeuronCellModel = NeuronCellModel(),
               crossbar_model: CrossbarAreaModel = CrossbarAreaModel(),
               synapse: SynapseCard | None = None, currents: PeripheryCurrents | None = None,
               copies: int = 1) -> LayerArea:
    """Area of one manifest layer (formulas in the module docstring).

    Args:
        layer: a ``manifest["layers"]`` entry.
        units: its ``manifest["units"]`` entries.
        card: device card of this layer's neurons (diameter_m); default ``DeviceCard()``.
        data, neuron_model, crossbar_model: figures and rules.
        synapse: the synapse card whose cell prices a crossbar device (None: the cited 1T1R cell).
        currents: the chip's peak currents; with ``crossbar_model.sizing`` "currents" the row drivers, column sense
            and mirror outputs are sized from them (None: the fixed width multiples).
        copies: devices in parallel in every crossbar cell (``mapping_options.conductance.copies``), each priced
            as the card's cell.
    """
    data = data if data is not None else load_area_data()
    counts = layer_counts(layer, units)
    per = peripheral_areas(data, crossbar_model, neuron_model, synapse)
    kind = layer["unit"]
    cell = neuron_cell_area(card, data, neuron_model) if kind != "integrate" else None

    def times(n: int, each: Quantity, what: str, symbol: str) -> Quantity:
        return Quantity(n * each.value, "m^2", "computed", f"{what} = {symbol} = {n} x {each.value:.4g} m^2 "
                        f"(per instance: {each.source})")

    components = {
        "crossbar_cells": (times(counts.devices, per.cell, "crossbar_cells", "N_dev A_cell") if copies == 1 else
                           times(counts.devices * copies, per.cell, "crossbar_cells",
                                 f"N_cell C A_cell with C = {copies} devices in parallel per cell")),
        "row_drivers": times(counts.driver_rows, per.row_driver, "row_drivers", "N_drv A_drv"),
        "column_sense": times(counts.column_ends, per.column_sense, "column_sense", "N_col A_sense"),
        "mirror_outputs": times(counts.column_ends, per.mirror_output, "mirror_outputs", "N_col A_mir_leg"),
        "neurons": (times(counts.neurons, cell.core, "neurons", "N_neu (A_neuron - A_mirror)") if cell is not None
                    else Quantity(0.0, "m^2", "computed", "integrate (readout) layer: no neurons")),
    }
    if currents is not None and crossbar_model.sizing == "currents":
        tiles = [(int(t["size"][0]), int(t["size"][1])) for u in units for t in u["tiles"]]
        components.update(sized_periphery(tiles, currents, transistor_footprint(data, neuron_model), crossbar_model))
    total = Quantity(sum(q.value for q in components.values()), "m^2", "computed",
                     f"{layer.get('name')}: " + " + ".join(COMPONENTS))
    return LayerArea(int(layer.get("index", -1)), str(layer.get("name")), kind, counts, components, total, cell)


def _layer_card(manifest: Mapping[str, Any], kind: str) -> DeviceCard:
    key = "fast_card" if kind == "memoryless" else "device_card"
    section = manifest.get(key) or manifest.get("device_card")
    if section is None:
        return DeviceCard()
    return DeviceCard.from_dict(section, origin=f"manifest {key}")


def network_area(manifest: Mapping[str, Any], *, data: AreaData | None = None,
                 neuron_model: NeuronCellModel = NeuronCellModel(),
                 crossbar_model: CrossbarAreaModel = CrossbarAreaModel(),
                 card: DeviceCard | MTJParams | None = None, synapse: SynapseCard | None = None) -> AreaReport:
    """Per-layer and total area of an export (the dict of its ``manifest.json``).

    Args:
        manifest: ``{"layers": [...], "units": [...], "device_card": {...}, "fast_card": {...}}`` as
            written by :func:`ipnet_cosim.netlist_gen.export.plan_export`.
        data: cited figures (default: the package file).
        neuron_model, crossbar_model: counts, widths and rules.
        card: overrides the manifest's cards (heat layers: ``device_card``, memoryless layers:
            ``fast_card``; a manifest without cards uses ``DeviceCard()``).
        synapse: overrides the manifest's synapse card (``mapping_options.synapse``; a manifest without one
            was exported before synapse cards: the ideal card), whose cell prices each crossbar device.

    Returns:
        The layers (index order of the manifest) and their total, m^2.

    Raises:
        ConfigError: the manifest lacks layers/units or is inconsistent (the message names the layer).
    """
    data = data if data is not None else load_area_data()
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("layers"), Sequence) \
            or not manifest["layers"]:
        raise ConfigError("manifest has no 'layers'; pass the dict of an export's manifest.json")
    all_units = manifest.get("units")
    if not isinstance(all_units, Sequence):
        raise ConfigError("manifest has no 'units'; pass the dict of an export's manifest.json")
    if synapse is None:
        synapse = manifest_synapse(manifest)
    currents = manifest_currents(manifest) if crossbar_model.sizing == "currents" else None
    copies = manifest_copies(manifest)
    layers = []
    for layer in manifest["layers"]:
        if not isinstance(layer, Mapping) or "index" not in layer:
            raise ConfigError(f"manifest layer {layer!r} lacks 'index'; re-export the network")
        units = [u for u in all_units if isinstance(u, Mapping) and u.get("layer") == layer["index"]]
        layer_card = card if card is not None else _layer_card(manifest, str(layer.get("unit")))
        layers.append(layer_area(layer, units, card=layer_card, data=data, neuron_model=neuron_model,
                                 crossbar_model=crossbar_model, synapse=synapse, currents=currents,
                                 copies=copies))
    total = Quantity(sum(la.total.value for la in layers), "m^2", "computed",
                     "sum of layer areas: " + " + ".join(la.name for la in layers))
    return AreaReport(tuple(layers), total)


def manifest_synapse(manifest: Mapping[str, Any]) -> SynapseCard:
    """The synapse card an export was mapped with (``mapping_options.synapse``); the ideal card for exports
    made before synapse cards existed.

    Raises:
        ConfigError: the recorded card is invalid (names the field).
    """
    options = manifest.get("mapping_options") if isinstance(manifest, Mapping) else None
    data = options.get("synapse") if isinstance(options, Mapping) else None
    if data is None:
        return ideal_synapse()
    return SynapseCard.from_dict(data, origin="manifest mapping_options.synapse")


def _manifest_conductance(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """An export's ``mapping_options.conductance`` (empty for exports without one)."""
    options = manifest.get("mapping_options") if isinstance(manifest, Mapping) else None
    conductance = options.get("conductance") if isinstance(options, Mapping) else None
    return conductance if isinstance(conductance, Mapping) else {}


def manifest_copies(manifest: Mapping[str, Any]) -> int:
    """Devices in parallel per crossbar cell of an export (``mapping_options.conductance.copies``; 1 when absent)."""
    copies = _manifest_conductance(manifest).get("copies", 1)
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ConfigError(f"manifest mapping_options.conductance.copies = {copies!r} is not a device count >= 1; "
                          f"re-export the network")
    return copies


def manifest_currents(manifest: Mapping[str, Any]) -> PeripheryCurrents:
    """The peak-current inputs of an export's periphery: the largest cell conductance of its mapping (G_max
    times the parallel devices per cell; the ideal card's G_max for exports without one), the read voltage of its
    device card and, with the bounded drive, the drive's ceiling."""
    g_max = _manifest_conductance(manifest).get("g_max_s")
    card = _layer_card(manifest, "heat")
    bounded = isinstance(manifest.get("network_config"), Mapping) and \
        manifest["network_config"].get("drive", "ideal") == "bounded"
    g_cell = (float(g_max) if isinstance(g_max, (int, float)) else ideal_synapse().g_on_s) * manifest_copies(manifest)
    return PeripheryCurrents(g_max_s=g_cell,
                             v_read_v=card.timing.v_read_v,
                             i_drive_max_a=card.drive_i_max_a if bounded else None)
