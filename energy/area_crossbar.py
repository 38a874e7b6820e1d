"""Area of the crossbars and their periphery in 28 nm: the cell of each synapse technology, the row drivers, column
sense and mirror outputs at a fixed width or sized from the currents they carry (the on-current densities of the
28 nm node), per tile; the rules and their sources are in :mod:`~ipnet_cosim.energy.area`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ipnet_cosim.device.interconnect import INTERCONNECT_28NM
from ipnet_cosim.device.interconnect import SOURCES as INTERCONNECT_SOURCES
from ipnet_cosim.device.synapse import SynapseCard
from ipnet_cosim.energy.area_data import AreaData, resolve_area_data
from ipnet_cosim.energy.quantity import Quantity
from ipnet_cosim.energy.area import CrossbarAreaModel, NeuronCellModel, device_area, transistor_footprint


def crossbar_cell_area(data: AreaData | None = None, model: CrossbarAreaModel = CrossbarAreaModel(),
                       neuron_model: NeuronCellModel = NeuronCellModel(),
                       synapse: SynapseCard | None = None) -> Quantity:
    """Area of one crossbar device cell, m^2: the synapse card's cell (``synapse``; its source and
    technology named), else the cited 1T1R cell; 4 F^2 = p_M^2 for ``model.cell_kind`` 0T1R."""
    data = resolve_area_data(data)
    if synapse is not None and model.cell_kind == "1T1R":
        tech = synapse.technology_label
        return Quantity(synapse.cell_area_m2, "m^2", "assumed",
                        f"synapse card '{synapse.name}' ({tech}) cell_area_m2: {synapse.sources['cell_area_m2']}",
                        ("" if synapse.is_device else "the ideal synapse card is not a device; its cell is priced "
                         "as a 1T1R cell. ") + f"node {synapse.cell_node_m * 1e9:g} nm: "
                        f"{synapse.sources['cell_node_m']}")
    if model.cell_kind == "1T1R":
        fig = data.figure(model.cell_1t1r_entry, "m^2")
        q = fig.quantity()
        return Quantity(q.value, "m^2", "assumed", f"1T1R cell = {q.source}",
                        f"CrossbarAreaModel.cell_kind = 1T1R: {CrossbarAreaModel.reason('cell_kind')}. "
                        f"{q.note}".strip())
    pitch = data.figure(neuron_model.metal_pitch_entry, "m")
    return Quantity(pitch.value ** 2, "m^2", "computed",
                    f"0T1R cross-point cell = 4 F^2 = p_M^2 with F = p_M / 2 = ({pitch.value:g} m)^2; "
                    f"p_M = {pitch.name} ({pitch.citation_text()})",
                    "passive array: no selector (sneak paths), the densest bound")


@dataclass(frozen=True)
class PeripheralAreas:
    """Per-instance areas of the crossbar periphery, m^2."""

    cell: Quantity            # one crossbar device
    row_driver: Quantity      # one row driver (per row per unit)
    column_sense: Quantity    # one column end's clamp + mirror input (per physical column per tile)
    mirror_output: Quantity   # one mirror output leg (per physical column per tile)


def peripheral_areas(data: AreaData | None = None, model: CrossbarAreaModel = CrossbarAreaModel(),
                     neuron_model: NeuronCellModel = NeuronCellModel(),
                     synapse: SynapseCard | None = None) -> PeripheralAreas:
    """The per-instance areas that a layer multiplies by its counts (see the module docstring)."""
    data = resolve_area_data(data)
    a_t = transistor_footprint(data, neuron_model)
    return PeripheralAreas(
        cell=crossbar_cell_area(data, model, neuron_model, synapse),
        row_driver=device_area(model.row_driver_transistors, model.row_driver_width_multiple, a_t, "A_drv",
                            "CrossbarAreaModel.row_driver_transistors, row_driver_width_multiple"),
        column_sense=device_area(model.sense_transistors, model.sense_width_multiple, a_t, "A_sense",
                              "CrossbarAreaModel.sense_transistors, sense_width_multiple"),
        mirror_output=device_area(1, neuron_model.mirror_output_width_multiple, a_t, "A_mir_leg",
                               "one leg per column end; NeuronCellModel.mirror_output_width_multiple"),
    )



@dataclass(frozen=True)
class PeripheryCurrents:
    """The peak currents the periphery of a chip must carry (SI), and the rule that sizes a device for one.

    Worst case of any programmed weights: every cell of a row (column) at ``g_max_s`` under the read voltage::

        I_row(cols) = v_read cols G_max          one row driver (a PMOS pull-up sources it)
        I_col(rows) = v_read rows G_max          one column's clamp and mirror input (NMOS)
        I_leg       = min(I_col, I_drive_max)     one mirror output leg; the bounded drive clips the neuron
                                                  current at its ceiling (None: no ceiling)
        m(I)        = max(1, I / (J_on W_min))    width multiple (ipnet_cosim.device.interconnect)

    Attributes:
        g_max_s: the chip's largest cell conductance (G_max of a device times the devices in parallel per
            cell), S.
        v_read_v: read voltage of an input spike, V.
        i_drive_max_a: the neuron drive's current ceiling, A (None: an ideal, unbounded drive).
    """

    g_max_s: float
    v_read_v: float
    i_drive_max_a: float | None = None

    def row_a(self, cols: int) -> float:
        return self.v_read_v * cols * self.g_max_s

    def column_a(self, rows: int) -> float:
        return self.v_read_v * rows * self.g_max_s

    def leg_a(self, rows: int) -> float:
        i_col = self.column_a(rows)
        return i_col if self.i_drive_max_a is None else min(i_col, self.i_drive_max_a)

    def describe(self) -> str:
        ceiling = "none (ideal drive)" if self.i_drive_max_a is None else f"{self.i_drive_max_a * 1e6:.4g} uA"
        return (f"G_max {self.g_max_s * 1e6:.4g} uS, v_read {self.v_read_v:g} V, drive ceiling {ceiling}; "
                f"I_row = v_read cols G_max, I_col = v_read rows G_max, I_leg = min(I_col, ceiling); "
                f"m(I) = max(1, I / (J_on W_min)) with J_on (PMOS {INTERCONNECT_28NM.j_on_pmos_a_per_m:.4g} A/m, "
                f"NMOS {INTERCONNECT_28NM.j_on_nmos_a_per_m:.4g} A/m; 1 A/m = 1 uA/um) and W_min "
                f"{INTERCONNECT_28NM.min_width_m * 1e9:g} nm: {SIZING_SOURCE}")


SIZING_SOURCE = (f"{INTERCONNECT_SOURCES['j_on_pmos_a_per_m']}; {INTERCONNECT_SOURCES['j_on_nmos_a_per_m']}; "
                 f"{INTERCONNECT_SOURCES['min_width_features']}")


@dataclass(frozen=True)
class TileWidths:
    """The sized periphery of one row tile, in minimum transistor widths (``m(I)`` per device times the count)."""

    row_driver: float        # one row driver (n_drv transistors of width m(I_row))
    column_sense: float      # one column end's clamp and mirror input (n_sense transistors of width m(I_col))
    mirror_output: float     # one mirror output leg (one transistor of width m(I_leg))
    rows: int
    cols: int

    @property
    def total(self) -> float:
        """Every periphery transistor of the tile: rows drivers + cols (sense + leg)."""
        return self.rows * self.row_driver + self.cols * (self.column_sense + self.mirror_output)


def tile_widths(rows: int, cols: int, currents: PeripheryCurrents,
                model: CrossbarAreaModel = CrossbarAreaModel()) -> TileWidths:
    """The periphery of a ``rows x cols`` tile sized for its peak currents (:class:`PeripheryCurrents`)."""
    ic = INTERCONNECT_28NM
    return TileWidths(row_driver=model.row_driver_transistors * ic.width_multiple(currents.row_a(cols), pmos=True),
                      column_sense=model.sense_transistors * ic.width_multiple(currents.column_a(rows)),
                      mirror_output=ic.width_multiple(currents.leg_a(rows)), rows=rows, cols=cols)


def sized_periphery(tiles: Sequence[tuple[int, int]], currents: PeripheryCurrents, a_t: Quantity,
                    model: CrossbarAreaModel = CrossbarAreaModel()) -> dict[str, Quantity]:
    """Row drivers, column sense and mirror outputs of ``tiles`` ([rows, physical columns] each), every device
    sized for its peak current (:func:`tile_widths`), m^2 per component (keys of :data:`COMPONENTS`)."""
    sized = [tile_widths(rows, cols, currents, model) for rows, cols in tiles]
    sums = {"row_drivers": sum(t.rows * t.row_driver for t in sized),
            "column_sense": sum(t.cols * t.column_sense for t in sized),
            "mirror_outputs": sum(t.cols * t.mirror_output for t in sized)}
    widest = {"row_drivers": max(t.row_driver / model.row_driver_transistors for t in sized),
              "column_sense": max(t.column_sense / model.sense_transistors for t in sized),
              "mirror_outputs": max(t.mirror_output for t in sized)}
    symbols = {"row_drivers": "sum_tiles rows n_drv m(I_row)", "column_sense": "sum_tiles cols n_sense m(I_col)",
               "mirror_outputs": "sum_tiles cols m(I_leg)"}
    rule = currents.describe()
    return {k: Quantity(sums[k] * a_t.value, "m^2", "computed",
                        f"{k} = {symbols[k]} A_T = {sums[k]:.6g} minimum widths x {a_t.value:.4g} m^2 (widest device "
                        f"{widest[k]:.3g} x minimum); sized from the currents: {rule}",
                        "saturated on-current per width: the narrowest device that can carry the peak current (a "
                        "triode switch with little drop would be wider)")
            for k in sums}
