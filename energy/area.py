"""Silicon area of an exported IPNet circuit in 28 nm CMOS, from cited figures and stated counts.

Every number either comes from ``data/area_28nm.json`` (public 28 nm figures, each with a citation;
provenance "assumed"), is a count or sizing rule of this module (provenance "assumed", with its reason),
or is computed from those (provenance "computed", with the formula). Nothing is tuned to the paper's
~1.5 um^2: our neuron is reported *beside* it and beside a fabricated 28 nm LIF neuron (34 um^2).

Technology unit (minimum transistor footprint), from the raw gate density rho_gate of a 28 nm library
(a NAND2 equivalent = 4 transistors)::

    A_T = 1 / (rho_gate n_T)                 n_T = 4 transistors per NAND2 gate

A device of width multiple w (w times the minimum width, same length) is counted as ``w A_T``: linear
in width, which overestimates wide devices a little (shared contacts) and underestimates long-channel
analog devices (their extra length is folded into ``w``).

Neuron cell (:class:`NeuronCellModel`; one per weight column of a "heat" or "memoryless" layer)::

    A_mtj    = (d + k_s p_M)^2               MTJ pillar on a square pitch: diameter d from the device
                                             card, spacing k_s minimum metal pitches p_M
    A_reset  = n_rst  w_rst  A_T             reset switch: drives the MTJ back to P (current ~ ic0_a)
    A_detect = n_det  w_det  A_T             spike read-out: reference load + inverter on the MTJ node
    A_mirror = n_mir  w_mir  A_T             input current-mirror output legs (G+ leg and G- leg)
    A_neuron = A_mtj + A_reset + A_detect + A_mirror

No capacitor: the MTJ's heat is the state. The sum is conservative: in a real layout the MTJ sits in
the back end of line above the transistors and would overlap them.

Layer (from an export manifest; see :func:`network_area`). Per unit (one position x one column block,
one netlist) and per row tile of size ``rows x cols`` (cols = physical columns, two per weight)::

    N_dev  = sum rows x cols                 crossbar devices (= the layer's ``devices``)
    N_drv  = sum rows                        row drivers: each unit drives its own rows
    N_col  = sum cols                        column ends: 0 V sense clamp + current mirror, per tile
    N_neu  = sum len(neurons)                MTJ neurons (0 for the "integrate" readout)

    A_layer = N_dev A_cell                               crossbar_cells
            + N_drv n_drv w_drv A_T                      row_drivers
            + N_col n_sense w_sense A_T                  column_sense (clamp + mirror input)
            + N_col 1 w_mir A_T                          mirror_outputs (one output leg per column end)
            + N_neu (A_neuron - A_mirror)                neurons (the mirror legs are already counted)

With one row tile and no bit slicing, N_col = 2 N_neu, so the last two lines are exactly ``N_neu A_neuron``
(with S slices each neuron has 2 S column ends and mirror legs, all counted): the layer
counts the neuron cell as compared with the paper; more row tiles add one mirror output leg per extra
tile and physical column, as in the netlist. The crossbar cell ``A_cell`` is a cited 1T1R (1T-1MTJ)
embedded-MRAM cell by default, or a passive cross-point (0T1R) cell ``4 F^2 = p_M^2`` with F = p_M / 2.
The readout keeps its column ends (its column currents are integrated); the integrator itself, the
shared reset/bias generators and the wiring between tiles are not counted.

Never imports torch or ``ipnet_cosim.models``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from ipnet_cosim.device.card import DeviceCard, MTJParams
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy.area_data import AreaData, resolve_area_data
from ipnet_cosim.energy.quantity import Quantity

CELL_KINDS = ("1T1R", "0T1R")
SIZINGS = ("currents", "fixed")
#: layer components, in stacking order (keys of :meth:`AreaReport.breakdown_m2`)
COMPONENTS = ("crossbar_cells", "row_drivers", "column_sense", "mirror_outputs", "neurons")
#: neuron cell terms, in order (keys of :attr:`NeuronCellArea.terms`)
NEURON_TERMS = ("mtj", "reset_switch", "spike_detector", "input_mirror_outputs")
UM2_PER_M2 = 1e12


# -- parameters ---------------------------------------------------------------------------------

def _rule(default: Any, reason: str) -> Any:
    """A model field with the reason for its default (recorded in every Quantity it produces)."""
    return field(default=default, metadata={"reason": reason})


def _validate(section: Any) -> None:
    """Check the fields of a model: entry names are text, counts whole numbers >= 0, the rest >= 0
    (width multiples > 0)."""
    name = type(section).__name__
    for f in fields(section):
        value = getattr(section, f.name)
        if isinstance(f.default, str):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{name}.{f.name} must be text (an entry name of the area data file or a "
                                  f"kind), got {value!r}")
        elif isinstance(f.default, int) and not isinstance(f.default, bool):
            low = 1 if f.name == "transistors_per_gate" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name}.{f.name} = {value!r} must be a whole number >= {low}")
        else:
            low_open = f.name.endswith("_width_multiple")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0 or (low_open and value == 0):
                raise ConfigError(f"{name}.{f.name} = {value!r} must be a finite number "
                                  f"{'> 0 (1 = minimum width)' if low_open else '>= 0'}")


@dataclass(frozen=True)
class NeuronCellModel:
    """Components of one MTJ neuron cell: counts, widths and rules (all assumed, each with its reason).

    Widths are multiples of the minimum transistor of the node (``A_T``, see the module docstring).
    Change any field with :func:`dataclasses.replace`; every returned Quantity cites the field.
    """

    mtj_spacing_pitches: float = _rule(
        1.0, "MTJ pillars sit on a square pitch of diameter + 1 minimum metal pitch: the bottom-electrode "
             "landing pad and the pillar-to-pillar space need at least one metal pitch (eMRAM: Intel 22FFL puts "
             "60-80 nm MTJs in a 216 nm x 225 nm cell)")
    reset_transistors: int = _rule(
        1, "one switch per neuron pulls the MTJ back to the parallel state at the end of each step "
           "(the netlist's shared PULSE source reaches every neuron through it)")
    reset_width_multiple: float = _rule(
        4.0, "the reset switch carries a current of the order of the card's ic0_a (150 uA) through a "
             "~4 kOhm junction, like an eMRAM access transistor that writes an MTJ (Intel 22FFL uses two "
             "poly word lines per cell); 4x the minimum width")
    detector_transistors: int = _rule(
        3, "spike read-out: a load/reference transistor forming a divider with the MTJ, and a minimum "
           "inverter that turns the P/AP voltage step (TMR ~100 %) into a digital spike")
    detector_width_multiple: float = _rule(1.0, "read-out devices carry no MTJ current; minimum size")
    mirror_output_transistors: int = _rule(
        2, "the neuron's input stage: the output legs of the G+ and G- column mirrors (one row tile) that "
           "inject I+ - I- into the MTJ; one leg per physical column end, as in the netlist")
    mirror_output_width_multiple: float = _rule(
        4.0, "mirror outputs carry the firing current (up to ~ic0_a) and need a longer channel for output "
             "resistance; 4x the minimum footprint")
    gate_density_entry: str = _rule("raw_gate_density_tsmc28", "TSMC 28 nm, the node of the LIF reference")
    transistors_per_gate: int = _rule(4, "a NAND2 equivalent gate has 4 transistors")
    metal_pitch_entry: str = _rule("min_metal_pitch_tsmc28", "28 nm minimum metal pitch")

    def __post_init__(self) -> None:
        _validate(self)

    @staticmethod
    def reason(name: str) -> str:
        """The documented reason for the default of field ``name``."""
        return {f.name: f.metadata.get("reason", "") for f in fields(NeuronCellModel)}[name]


@dataclass(frozen=True)
class CrossbarAreaModel:
    """Crossbar cell and peripheral sizing (all assumed, each with its reason).

    ``cell_kind`` "1T1R" uses the cited embedded-MRAM 1T-1MTJ cell (``cell_1t1r_entry``); "0T1R" a
    passive cross-point cell of 4 F^2 with F = half the minimum metal pitch.
    """

    cell_kind: str = _rule(
        "1T1R", "a selector per device avoids sneak paths and half-selected writes when the weights are "
                "programmed; it is the cell of every production embedded MRAM (0T1R is the dense lower bound)")
    cell_1t1r_entry: str = _rule("emram_1t1r_cell_intel22ffl", "the smallest verified production 1T-1MTJ cell "
                                 "near 28 nm (22 nm FinFET, so a lower bound for planar 28 nm)")
    row_driver_transistors: int = _rule(2, "one inverter per row switches the row between 0 V and v_read_v")
    row_driver_width_multiple: float = _rule(
        8.0, "a row driver sources the read current of up to 128 x 2 cells (v_read_v / R per cell); 8x the "
             "minimum width (an assumption: with g_max = 1 mS a full row could draw tens of mA)")
    sense_transistors: int = _rule(
        2, "each column end holds its column at virtual ground (one common-gate clamp transistor) and feeds "
           "a diode-connected mirror input (one transistor); the mirror output leg is counted separately")
    sense_width_multiple: float = _rule(4.0, "the clamp and mirror input carry the whole column current; "
                                             "4x the minimum width, matched to the mirror output")
    sizing: str = _rule(
        "currents", "row drivers, column sense and mirror outputs are sized from the peak currents the chip implies "
                    "(PeripheryCurrents: G_max, the read voltage, each tile's rows and columns, the drive ceiling) by "
                    "the 28 nm width-per-current rule of ipnet_cosim.device.interconnect; 'fixed' uses the width "
                    "multiples above whatever the currents")

    def __post_init__(self) -> None:
        if self.sizing not in SIZINGS:
            raise ConfigError(f"CrossbarAreaModel.sizing {self.sizing!r} is unknown; use one of {', '.join(SIZINGS)}")
        if self.cell_kind not in CELL_KINDS:
            raise ConfigError(f"CrossbarAreaModel.cell_kind {self.cell_kind!r} is unknown; use one of "
                              f"{', '.join(CELL_KINDS)}")
        _validate(self)

    @staticmethod
    def reason(name: str) -> str:
        """The documented reason for the default of field ``name``."""
        return {f.name: f.metadata.get("reason", "") for f in fields(CrossbarAreaModel)}[name]


def _assumed(value: float, unit: str, cls: Any, name: str) -> Quantity:
    """An assumed figure of a model class whose ``reason(name)`` says why it is assumed."""
    return Quantity(float(value), unit, "assumed", f"{cls.__name__}.{name}: {cls.reason(name)}")


# -- the technology unit --------------------------------------------------------------------------

def transistor_footprint(data: AreaData | None = None, model: NeuronCellModel = NeuronCellModel()) -> Quantity:
    """Footprint of a minimum transistor, ``A_T = 1 / (rho_gate n_T)`` in m^2.

    Args:
        data: cited figures (default: the package file).
        model: names the gate-density entry and ``transistors_per_gate``.
    """
    data = resolve_area_data(data)
    rho = data.figure(model.gate_density_entry, "1/m^2")
    a_t_m2 = 1.0 / (rho.value * model.transistors_per_gate)
    return Quantity(a_t_m2, "m^2", "computed",
                    f"A_T = 1 / (rho_gate n_T) = 1 / ({rho.value:g} m^-2 x {model.transistors_per_gate}); "
                    f"rho_gate = {rho.name} ({rho.as_printed}; {rho.citation_text()})",
                    "raw (unrouted) library density: a lower bound for a routed device")


def device_area(count: int, width: float, a_t: Quantity, what: str, fields_used: str) -> Quantity:
    return Quantity(count * width * a_t.value, "m^2", "computed",
                    f"{what} = n w A_T = {count} x {width:g} x {a_t.value:.4g} m^2 ({fields_used}; A_T from "
                    f"the gate density)")


# -- the neuron cell ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NeuronCellArea:
    """Area of one MTJ neuron cell, term by term.

    Attributes:
        terms: ``mtj``, ``reset_switch``, ``spike_detector``, ``input_mirror_outputs`` (m^2 each).
        total: their sum, the neuron cell compared with the paper (m^2).
        core: ``total`` without the input mirror outputs: what a layer adds per neuron (its mirror
            output legs are counted per column end, see the module docstring).
        inputs: the Quantities the terms were computed from (diameter, pitch, A_T, counts).
    """

    terms: Mapping[str, Quantity]
    total: Quantity
    core: Quantity
    inputs: Mapping[str, Quantity]

    @property
    def dominant_term(self) -> str:
        """Name of the largest term."""
        return max(self.terms, key=lambda k: self.terms[k].value)


def _mtj_params(card: DeviceCard | MTJParams | None) -> MTJParams:
    if card is None:
        return DeviceCard().mtj
    if isinstance(card, DeviceCard):
        return card.mtj
    if isinstance(card, MTJParams):
        return card
    raise ConfigError(f"card must be a DeviceCard or MTJParams, got {type(card).__name__}")


def neuron_cell_area(card: DeviceCard | MTJParams | None = None, data: AreaData | None = None,
                     model: NeuronCellModel = NeuronCellModel()) -> NeuronCellArea:
    """Area of one MTJ neuron cell (see the module docstring for the components).

    Args:
        card: the device card (or its ``mtj`` section); the MTJ diameter ``diameter_m`` comes from it.
            Default: ``DeviceCard()``.
        data: cited figures (default: the package file).
        model: counts, widths and rules.

    Returns:
        The terms and their sum, m^2.
    """
    data = resolve_area_data(data)
    mtj = _mtj_params(card)
    a_t = transistor_footprint(data, model)
    pitch = data.quantity(model.metal_pitch_entry, "m")
    d_m = Quantity(mtj.diameter_m, "m", "assumed", "DeviceCard.mtj.diameter_m (the device card; "
                   "ipnet_cosim.device.card)")
    spacing_m = model.mtj_spacing_pitches * pitch.value
    side_m = mtj.diameter_m + spacing_m
    terms = {
        # A_mtj = (d + k_s p_M)^2
        "mtj": Quantity(side_m ** 2, "m^2", "computed",
                        f"A_mtj = (d + k_s p_M)^2 = ({mtj.diameter_m:g} m + {model.mtj_spacing_pitches:g} x "
                        f"{pitch.value:g} m)^2 (d: DeviceCard.mtj.diameter_m; k_s: "
                        f"NeuronCellModel.mtj_spacing_pitches; p_M: {model.metal_pitch_entry})",
                        "BEOL device: would overlap the transistors in a real layout; counted in full"),
        # A_reset = n_rst w_rst A_T
        "reset_switch": device_area(model.reset_transistors, model.reset_width_multiple, a_t, "A_reset",
                                 "NeuronCellModel.reset_transistors, reset_width_multiple"),
        # A_detect = n_det w_det A_T
        "spike_detector": device_area(model.detector_transistors, model.detector_width_multiple, a_t, "A_detect",
                                   "NeuronCellModel.detector_transistors, detector_width_multiple"),
        # A_mirror = n_mir w_mir A_T
        "input_mirror_outputs": device_area(model.mirror_output_transistors, model.mirror_output_width_multiple,
                                         a_t, "A_mirror", "NeuronCellModel.mirror_output_transistors, "
                                         "mirror_output_width_multiple"),
    }
    total_m2 = sum(q.value for q in terms.values())
    total = Quantity(total_m2, "m^2", "computed",
                     "A_neuron = A_mtj + A_reset + A_detect + A_mirror = "
                     + " + ".join(f"{terms[k].value * UM2_PER_M2:.4g}" for k in NEURON_TERMS) + " um^2")
    core = Quantity(total_m2 - terms["input_mirror_outputs"].value, "m^2", "computed",
                    "A_neuron - A_mirror (the mirror output legs are counted per column end in a layer)")
    inputs = {
        "diameter_m": d_m, "metal_pitch_m": pitch, "transistor_footprint_m2": a_t,
        "mtj_spacing_pitches": _assumed(model.mtj_spacing_pitches, "1", NeuronCellModel, "mtj_spacing_pitches"),
        "reset_transistors": _assumed(model.reset_transistors, "1", NeuronCellModel, "reset_transistors"),
        "reset_width_multiple": _assumed(model.reset_width_multiple, "1", NeuronCellModel, "reset_width_multiple"),
        "detector_transistors": _assumed(model.detector_transistors, "1", NeuronCellModel, "detector_transistors"),
        "detector_width_multiple": _assumed(model.detector_width_multiple, "1", NeuronCellModel,
                                            "detector_width_multiple"),
        "mirror_output_transistors": _assumed(model.mirror_output_transistors, "1", NeuronCellModel,
                                              "mirror_output_transistors"),
        "mirror_output_width_multiple": _assumed(model.mirror_output_width_multiple, "1", NeuronCellModel,
                                                 "mirror_output_width_multiple"),
    }
    return NeuronCellArea(terms, total, core, inputs)


@dataclass(frozen=True)
class NeuronClaimCheck:
    """Our neuron cell beside the paper's claim and the fabricated 28 nm LIF neuron.

    Attributes:
        ours, paper, lif: neuron areas, m^2.
        lif_over_ours: LIF area / our area (the paper claims > ``claimed_ratio``).
        ours_over_paper: our area / the paper's ~1.5 um^2.
        claimed_ratio: the paper's ">20x".
        break_even: the neuron area at which LIF / neuron = claimed_ratio, m^2.
        holds: whether LIF / ours > claimed_ratio under our assumptions.
        dominant_term: the largest term of our cell, and its share of the cell.
    """

    ours: Quantity
    paper: Quantity
    lif: Quantity
    lif_over_ours: Quantity
    ours_over_paper: Quantity
    claimed_ratio: Quantity
    break_even: Quantity
    holds: bool
    dominant_term: str
    dominant_fraction: float

    def summary(self) -> str:
        """A few lines for a report (um^2)."""
        u = UM2_PER_M2
        verdict = "holds" if self.holds else "does NOT hold"
        return (f"MTJ neuron cell (ours): {self.ours.value * u:.3g} um^2; paper: ~{self.paper.value * u:.3g} um^2 "
                f"(ours/paper = {self.ours_over_paper.value:.2f}); fabricated 28 nm LIF: {self.lif.value * u:.3g} "
                f"um^2\n"
                f"LIF / ours = {self.lif_over_ours.value:.1f}: the >{self.claimed_ratio.value:g}x claim {verdict} "
                f"under "
                f"our assumptions (break-even at {self.break_even.value * u:.3g} um^2)\n"
                f"dominant term: {self.dominant_term} ({100 * self.dominant_fraction:.0f} % of the cell)")


def compare_neuron_claim(neuron: NeuronCellArea, data: AreaData | None = None, *,
                         paper_entry: str = "ipnet_neuron_area_claim",
                         lif_entry: str = "lif_neuron_area_28nm",
                         ratio_entry: str = "ipnet_lif_area_ratio_claim") -> NeuronClaimCheck:
    """Compare a neuron cell with the paper's ~1.5 um^2 and the 34 um^2 LIF reference.

    Formulas: ``LIF/ours = A_LIF / A_neuron``, ``break_even = A_LIF / ratio_claimed``;
    the claim holds when ``LIF/ours > ratio_claimed``.
    """
    data = resolve_area_data(data)
    paper = data.quantity(paper_entry, "m^2")
    lif = data.quantity(lif_entry, "m^2")
    claimed = data.quantity(ratio_entry, "1")
    ours = neuron.total
    ratio = lif.value / ours.value
    dominant = neuron.dominant_term
    share = neuron.terms[dominant].value / ours.value
    assumption = {"mtj": "NeuronCellModel.mtj_spacing_pitches and the card's diameter_m",
                  "reset_switch": "NeuronCellModel.reset_width_multiple",
                  "spike_detector": "NeuronCellModel.detector_transistors",
                  "input_mirror_outputs": "NeuronCellModel.mirror_output_width_multiple"}[dominant]
    return NeuronClaimCheck(
        ours=ours, paper=paper, lif=lif,
        lif_over_ours=Quantity(ratio, "1", "computed", f"A_LIF / A_neuron = {lif.value:g} / {ours.value:.4g} m^2",
                               f"dominated by {dominant} ({100 * share:.0f} %): assumption {assumption}"),
        ours_over_paper=Quantity(ours.value / paper.value, "1", "computed",
                                 f"A_neuron / A_paper = {ours.value:.4g} / {paper.value:g} m^2"),
        claimed_ratio=claimed,
        break_even=Quantity(lif.value / claimed.value, "m^2", "computed",
                            f"A_LIF / ratio_claimed = {lif.value:g} m^2 / {claimed.value:g}"),
        holds=ratio > claimed.value, dominant_term=dominant, dominant_fraction=share)


# -- crossbar cells and peripherals -------------------------------------------------------------------
