"""The circuits of a mapped unit, as the circuit IR: a tile's subcircuit (every cell, or its exact port equivalent)
and port model, the unit's netlist (tiles, sense sources, mirrors, neurons or the readout, reset), the port-model and
input-only decks the simulator runs, the drawn thresholds of stochastic neurons and the row drivers of a sample. What
each part is, electrically, is described in :mod:`~ipnet_cosim.netlist_gen.mapping`."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.draws import MEDIAN_U
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.conductance import ConductanceMap
from ipnet_cosim.circuits.ir import (Circuit, CurrentMirror, CurrentSource, MTJNeuronInstance, ModelCard,
                                        NeuronDriveInstance, PulseSource, Resistor, Save, SolverOptions, Subcircuit,
                                        SubcircuitInstance, Transient, VoltageSource)
from ipnet_cosim.netlist_gen.reduction import ReducedTile, reduce_tile
from ipnet_cosim.netlist_gen.mapping import BIAS, DRIVE_MODEL, FAST_MODEL, HEAT_MODEL, LayerMatrix, MappingOptions, Unit


def tile_ports(g_plus: np.ndarray, g_minus: np.ndarray, options: MappingOptions) -> ReducedTile:
    """The port conductances of one tile (S): ``row_col[i, c]`` from row source ``i`` to physical column
    ``c`` (``2 j``: G+ of weight column ``j``, ``2 j + 1``: G-) with every column end at 0 V, and the
    row-to-row couplings, ``r_driver_ohm`` inside. Without wires: ``G_ic / (1 + r_driver sum_c G_ic)``,
    no couplings; with wires: the exact reduction (:func:`~ipnet_cosim.netlist_gen.reduction.reduce_tile`)."""
    if options.r_wire_ohm > 0:
        return reduce_tile(g_plus, g_minus, options.r_wire_ohm, options.r_driver_ohm)
    g = np.empty((g_plus.shape[0], 2 * g_plus.shape[1]))
    g[:, 0::2] = g_plus
    g[:, 1::2] = g_minus
    if options.r_driver_ohm > 0:
        g = g / (1.0 + options.r_driver_ohm * g.sum(axis=1, keepdims=True))
    return ReducedTile(g, ())


def _tile_subcircuit(name: str, g_plus: np.ndarray, g_minus: np.ndarray, options: MappingOptions,
                     reduced: ReducedTile | None = None) -> Subcircuit:
    """A crossbar tile: ports r0.. (rows, driven at the left), p0 m0 p1 m1 .. (columns, sensed at the bottom)."""
    n_rows, n_cols = g_plus.shape
    ports = tuple(f"r{i}" for i in range(n_rows)) + tuple(x for j in range(n_cols) for x in (f"p{j}", f"m{j}"))
    r_wire = options.r_wire_ohm
    els: list = []
    if r_wire <= 0:
        for i in range(n_rows):
            for j in range(n_cols):
                els += [Resistor(f"Rp{i}_{j}", f"r{i}", f"p{j}", 1.0 / g_plus[i, j]),
                        Resistor(f"Rm{i}_{j}", f"r{i}", f"m{j}", 1.0 / g_minus[i, j])]
        return Subcircuit(name, ports, tuple(els))
    if options.reduced:
        # the exact port equivalent: Re<p|m><row>_<col> row source -> column end, Rrr<a>_<b> row <-> row
        red = reduced if reduced is not None else reduce_tile(g_plus, g_minus, r_wire, options.r_driver_ohm)
        for i in range(n_rows):
            for j in range(n_cols):
                els += [Resistor(f"Rep{i}_{j}", f"r{i}", f"p{j}", 1.0 / red.row_col[i, 2 * j]),
                        Resistor(f"Rem{i}_{j}", f"r{i}", f"m{j}", 1.0 / red.row_col[i, 2 * j + 1])]
        els += [Resistor(f"Rrr{a}_{b}", f"r{a}", f"r{b}", 1.0 / g) for a, b, g in red.row_row]
        return Subcircuit(name, ports, tuple(els))
    # physical column c = 2j (G+) and 2j+1 (G-); row i runs w{i}_0 .. w{i}_{C-1}; column c runs q{c}_0 .. q{c}_{R-1}
    n_phys = 2 * n_cols
    for i in range(n_rows):
        els.append(Resistor(f"Rwr{i}_0", f"r{i}", f"w{i}_0", r_wire))
        els += [Resistor(f"Rwr{i}_{c}", f"w{i}_{c - 1}", f"w{i}_{c}", r_wire) for c in range(1, n_phys)]
    for c in range(n_phys):
        j, sign = divmod(c, 2)
        g = (g_minus if sign else g_plus)[:, j]
        tag = "m" if sign else "p"
        els += [Resistor(f"R{tag}{i}_{j}", f"w{i}_{c}", f"q{c}_{i}", 1.0 / g[i]) for i in range(n_rows)]
        els += [Resistor(f"Rwc{c}_{i}", f"q{c}_{i}", f"q{c}_{i + 1}", r_wire) for i in range(n_rows - 1)]
        els.append(Resistor(f"Rwc{c}_{n_rows - 1}", f"q{c}_{n_rows - 1}", f"{tag}{j}", r_wire))
    return Subcircuit(name, ports, tuple(els))


def read_delay_s(card: DeviceCard) -> float:
    """Time within a step at which spikes are read (and the reset pulse starts)."""
    return card.timing.t_read_s


def unit_circuit(unit: Unit, lm: LayerMatrix, gmap: ConductanceMap, *, unit_kind: str, card: DeviceCard,
                 fast_card: DeviceCard, n_steps: int, options: MappingOptions, title: str,
                 reduced: tuple[ReducedTile, ...] | None = None, drive: bool = False,
                 stochastic: bool = False) -> Circuit:
    """The netlist of one unit, row drivers as 0 V placeholders (:func:`driver_sources` replaces them);
    ``reduced``: the row tiles' port conductances when already computed (:func:`tile_ports`); ``drive``:
    the mirrors feed each neuron through the bounded drive stage instead of directly; ``stochastic``: every
    neuron has its own draw source ``Vu<j>`` (a 0.5 V placeholder, replaced by a sample's draws)."""
    _check_kind(unit_kind)
    sl = len(gmap.slice_gains)
    c0, c1 = unit.cols[0] * sl, unit.cols[1] * sl          # slice columns (= weight columns without slicing)
    els: list = []
    subs = []
    for r, (r0, r1) in enumerate(unit.row_blocks):
        tile = f"xb_{unit.name}_r{r}".lower()
        subs.append(_tile_subcircuit(tile, gmap.g_plus_s[r0:r1, c0:c1], gmap.g_minus_s[r0:r1, c0:c1],
                                     options, reduced[r] if reduced is not None and options.reduced else None))
        cols = [x for j in range(c1 - c0) for x in (f"sp{r}_{j}", f"sm{r}_{j}")]
        els.append(SubcircuitInstance(f"Xt{r}", tuple(f"x{i}" for i in range(r0, r1)) + tuple(cols), tile))
        for j in range(c1 - c0):
            els += [VoltageSource(f"Vsp{r}_{j}", f"sp{r}_{j}", "0"), VoltageSource(f"Vsm{r}_{j}", f"sm{r}_{j}", "0")]
    els += driver_sources(unit, lm, options, card, None)
    n_cols = unit.cols[1] - unit.cols[0]
    return _with_neurons(title, els, subs, n_tiles=len(unit.row_blocks), n_cols=n_cols,
                         unit_kind=unit_kind, mirror_gain=gmap.mirror_gain, card=card, fast_card=fast_card,
                         n_steps=n_steps, options=options, drive=drive, slice_gains=gmap.slice_gains,
                         draws=np.full((n_steps, n_cols), MEDIAN_U) if stochastic else None)


def port_unit_circuit(name: str, *, n_tiles: int, n_cols: int, unit_kind: str, mirror_gain: float,
                      card: DeviceCard, fast_card: DeviceCard, n_steps: int, options: MappingOptions,
                      currents: Mapping[str, tuple[tuple[float, float], ...]] | None = None,
                      drive: bool = False, slice_gains: tuple[float, ...] = (1.0,),
                      draws: np.ndarray | None = None) -> Circuit:
    """A unit with its crossbar as the port model (see the module docstring): per row tile ``r`` and
    slice column ``j`` (the weight column without bit slicing) the PWL current sources ``Ip<r>_<j>`` /
    ``Im<r>_<j>`` into the 0 V sense sources ``Vsp<r>_<j>`` / ``Vsm<r>_<j>`` (``currents``: name -> PWL points
    in A; a name not given is 0 A), then the same mirrors, (drive stages,) neurons and reset as
    :func:`unit_circuit`; ``n_cols`` counts weight columns (neurons); ``draws``: the neurons' random draws
    ``[T, n_cols]`` (stochastic mode; None: the median mode, u = 1/2)."""
    _check_kind(unit_kind)
    currents = currents or {}
    els: list = []
    for r in range(n_tiles):
        for j in range(n_cols * len(slice_gains)):
            for pm in "pm":
                src = f"I{pm}{r}_{j}"
                els += [CurrentSource(src, "0", f"s{pm}{r}_{j}", pwl=currents.get(src)),
                        VoltageSource(f"Vs{pm}{r}_{j}", f"s{pm}{r}_{j}", "0")]
    title = f"ipnet-cosim unit {name}: crossbar as its port model (PWL column currents), {unit_kind} neurons"
    return _with_neurons(title, els, [], n_tiles=n_tiles, n_cols=n_cols, unit_kind=unit_kind,
                         mirror_gain=mirror_gain, card=card, fast_card=fast_card, n_steps=n_steps, options=options,
                         drive=drive, slice_gains=slice_gains, draws=draws)


def input_unit_circuit(name: str, *, n_cols: int, unit_kind: str, card: DeviceCard, fast_card: DeviceCard,
                       n_steps: int, options: MappingOptions,
                       inputs: Sequence[tuple[tuple[float, float], ...] | None], drive: bool = False,
                       draws: np.ndarray | None = None) -> Circuit:
    """Neurons driven by their net input currents: per neuron ``j`` the PWL current ``Iin<j>`` (``inputs[j]``, A;
    None: 0 A) through the 0 V sense source ``Vin<j>`` into the neuron's input (the drive stage's ``b<j>`` with
    ``drive``, else the MTJ's ``a<j>``), then the same drive stages, neurons and reset as :func:`unit_circuit`.
    With the crossbar as its port model this is the unit's circuit with the ideal mirrors folded into the sources
    (their sum is itself one PWL: :func:`~ipnet_cosim.netlist_gen.ports.neuron_inputs_pwl`); ``draws``: the
    neurons' random draws ``[T, n_cols]`` (None: the median mode)."""
    _check_kind(unit_kind)
    if unit_kind == "integrate":
        raise ConfigError("input_unit_circuit builds neuron units; the readout integrates its columns")
    els: list = []
    for j in range(n_cols):
        els += [CurrentSource(f"Iin{j}", "0", f"c{j}", pwl=inputs[j]),
                VoltageSource(f"Vin{j}", f"c{j}", f"b{j}" if drive else f"a{j}")]
    title = f"ipnet-cosim unit {name}: neurons driven by their input currents (port model), {unit_kind} neurons"
    return _with_neurons(title, els, [], n_tiles=0, n_cols=n_cols, unit_kind=unit_kind, mirror_gain=0.0, card=card,
                         fast_card=fast_card, n_steps=n_steps, options=options, drive=drive, draws=draws)


def _check_kind(unit_kind: str) -> None:
    from ipnet_cosim.netlist_gen.contract import UNIT_KINDS
    if unit_kind not in UNIT_KINDS:
        raise ConfigError(f"unit kind '{unit_kind}' is unknown; use one of {', '.join(UNIT_KINDS)}")


def _with_neurons(title: str, els: list, subs: list, *, n_tiles: int, n_cols: int, unit_kind: str,
                  mirror_gain: float, card: DeviceCard, fast_card: DeviceCard, n_steps: int,
                  options: MappingOptions, drive: bool = False, slice_gains: tuple[float, ...] = (1.0,),
                  draws: np.ndarray | None = None) -> Circuit:
    """Add the mirrors, (drive stages,) neurons, reset and analysis to a unit's sensed columns
    (``Vsp<r>_<k>``, ``Vsm<r>_<k>``; slice column ``k = j S + s`` of neuron ``j`` is mirrored with gain
    ``slice_gains[s] mirror_gain``). The neurons' draw terminals: one shared 0.5 V source ``Vu`` (median mode,
    ``draws`` None), or per neuron ``j`` a source ``Vu<j>`` on node ``u<j>`` holding ``draws[k, j]`` through
    step k (:meth:`~ipnet_cosim.device.card.PulseTiming.draw_pwl`; constant draws are written as DC)."""
    from ipnet_cosim.device.compiler import DRIVE_MODULE, NEURON_MODULE
    t = card.timing
    saves: list[Save] = []
    sl = len(slice_gains)
    if unit_kind == "integrate":
        saves = [Save.i(f"Vs{s}{r}_{j}") for r in range(n_tiles) for j in range(n_cols * sl) for s in "pm"]
    else:
        model = HEAT_MODEL if unit_kind == "heat" else FAST_MODEL
        for j in range(n_cols):
            into = f"b{j}" if drive else f"a{j}"
            for r in range(n_tiles):
                for s, gain in enumerate(slice_gains):
                    k = j * sl + s
                    els += [CurrentMirror(f"Fp{r}_{k}", "0", into, f"Vsp{r}_{k}", gain * mirror_gain),
                            CurrentMirror(f"Fm{r}_{k}", "0", into, f"Vsm{r}_{k}", -gain * mirror_gain)]
            if drive:
                els.append(NeuronDriveInstance(f"ND{j}", into, f"a{j}", DRIVE_MODEL))
            u_node = "u" if draws is None else f"u{j}"
            els.append(MTJNeuronInstance(f"N{j}", f"a{j}", "0", u_node, "rst", f"th{j}", f"st{j}", model))
            if draws is not None:
                els.append(draw_source(f"Vu{j}", u_node, draws[:, j], t))
        if draws is None:
            els.append(VoltageSource("Vu", "u", "0", dc_v=MEDIAN_U))
        els.append(PulseSource("Vrst", "rst", "0", 0.0, t.v_reset_v, read_delay_s(card), t.t_rise_s, t.t_fall_s,
                               t.t_reset_s - t.t_rise_s, t.t_step_s))
        saves = [Save.v(f"st{j}") for j in range(n_cols)]
    models: tuple[ModelCard, ...] = ()
    if unit_kind != "integrate":
        layer_card = card if unit_kind == "heat" else fast_card
        models = (ModelCard(HEAT_MODEL if unit_kind == "heat" else FAST_MODEL, NEURON_MODULE,
                            layer_card.mtj.model_params()),)
        if drive:
            models += (ModelCard(DRIVE_MODEL, DRIVE_MODULE, layer_card.drive.model_params(layer_card.mtj)),)
    step = options.max_step_s or (fast_card if unit_kind == "memoryless" else card).max_time_step_s
    return Circuit(title, tuple(els), models=models, subcircuits=tuple(subs), saves=tuple(saves),
                   tran=Transient(step, n_steps * t.t_step_s, step),
                   # KLU: same results, 3x faster than ngspice's default sparse solver on tiles with wire segments
                   options=SolverOptions(reltol=options.reltol, klu=True))


def draw_source(name: str, node: str, draws: np.ndarray, timing) -> VoltageSource:
    """A neuron's draw source ``name`` on ``node``: the draw ``draws[k]`` (V) through step k
    (:meth:`~ipnet_cosim.device.card.PulseTiming.draw_pwl`); DC when every step has the same draw (the
    placeholder)."""
    draws = np.asarray(draws, dtype=np.float64)
    if np.all(draws == draws[0]):
        return VoltageSource(name, node, "0", dc_v=float(draws[0]))
    return VoltageSource(name, node, "0", pwl=tuple(timing.draw_pwl(draws)))


def row_levels_v(rows: np.ndarray, spikes: np.ndarray, v_read_v: float) -> np.ndarray:
    """The read-pulse level of every row at every step, V ``[T, rows]``: ``v_read_v`` where the row's input
    spiked (the bias row: every step), 0 elsewhere and on padding rows; ``rows`` the unit's gather indices."""
    rows = np.asarray(rows)
    levels = np.zeros((spikes.shape[0], rows.size))
    real = rows >= 0
    levels[:, real] = np.where(spikes[:, rows[real]] != 0, v_read_v, 0.0)
    levels[:, rows == BIAS] = v_read_v
    return levels


def driver_sources(unit: Unit, lm: LayerMatrix, options: MappingOptions, card: DeviceCard,
                   spikes: np.ndarray | None) -> list:
    """Row drivers of a unit: PWL read pulses from ``spikes`` ([T, inputs] 0/1 of the layer's input),
    or 0 V placeholders when ``spikes`` is None (and a driver resistance if set)."""
    els: list = []
    levels = None if spikes is None else row_levels_v(lm.gather[unit.position], spikes, card.timing.v_read_v)
    for r in range(unit.row_blocks[0][0], unit.row_blocks[-1][1]):
        node = f"x{r}"
        if options.r_driver_ohm > 0 and not options.reduced:      # reduced tiles contain the driver resistance
            els.append(Resistor(f"Rd{r}", f"d{r}", node, options.r_driver_ohm))
            node = f"d{r}"
        active = np.flatnonzero(levels[:, r]) if levels is not None else np.zeros(0, dtype=np.int64)
        if levels is None or active.size == 0:
            els.append(VoltageSource(f"Vx{r}", node, "0"))
        else:
            els.append(VoltageSource(f"Vx{r}", node, "0",
                                     pwl=tuple(card.timing.pulse_pwl(levels[:active[-1] + 1, r]))))
    return els
