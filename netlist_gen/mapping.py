"""Network layers to crossbar tiles: the mapping registry, im2col, tiling and the tile netlists.

The circuit of a layer (recorded in every export's manifest):

* **Rows** are the inputs of the weight op in im2col order plus one **bias row**. A conv layer with
  kernel ``[C_out, C_in, k, k]`` becomes a ``(C_in k k + 1) x C_out`` matrix (row ``(c k + ky) k + kx``,
  bias last); a linear layer ``[out, in]`` becomes ``(in + 1) x out`` (rows in PyTorch's flatten order
  ``(c H + y) W + x``). An input spike at step ``s`` drives its row with one read pulse of
  ``v_read_v`` (``[s t_step, s t_step + t_pulse]``); the bias row is pulsed at every step; rows that
  fall into a conv's zero padding are held at 0 V.
* **Columns**: every weight column is a differential pair (two physical columns, G+ and G-, see
  :mod:`~ipnet_cosim.netlist_gen.conductance`), each ending in a 0 V sense source (virtual ground). With
  bit slicing (``conductance.slices = S``) a weight column is S differential pairs, its *slice columns*
  ``k = j S + s`` (digit ``s`` of the weight's code, least significant first), mirrored with gains
  ``L^s mirror_gain`` into the same neuron; a tile then holds ``tile_cols // (2 S)`` weight columns and all
  slices of a weight column stay in one tile (one unit holds its neuron).
* **Positions**: each output position of a conv layer has its own crossbar copy and its own MTJ
  neurons (the memory lives in the neuron); a linear layer has one position.
* **Tiles**: a position's matrix is cut into row blocks of at most ``tile_rows`` rows and column
  blocks of at most ``tile_cols`` physical columns (``tile_cols // (2 S)`` weight columns). A
  **unit** (one netlist) is one position x one column block: its row tiles (one ``.subckt`` each)
  each have their own sense sources and current mirrors, and the mirror outputs of all row tiles of
  a column are summed at the neuron's input node (Kirchhoff's current law): the partial sums of the
  row tiles are combined in current, before the neuron, so the neuron sees ``I = current_scale_a a``.
* **Neurons**: mirrors ``F`` with gain ``+-mirror_gain`` drive ``(I+ - I-)`` into a thermal MTJ
  neuron (Verilog-A, ``N`` instance) per weight column, or, with the bounded drive (``drive=True``,
  networks with ``drive="bounded"``), into the input ``b<j>`` of the drive stage ``ND<j>``
  (:class:`~ipnet_cosim.device.card.NeuronDrive`: unidirectional, current-limited) whose output
  ``a<j>`` feeds the neuron; heat-memory layers use the device card,
  memoryless layers its fast-thermal variant (two ``.model`` cards). A shared ``PULSE`` source
  resets the neurons at the end of every step; the spike is ``v(st) > 0.5`` just before the reset.
* **Readout**: a crossbar without neurons; the class score is the charge collected on each
  differential column over the sample (``logit = g Q / (k v_read t_pulse T)``).
* **Wires** (optional): ``r_wire_ohm`` per cell segment along every row (driven from the left end: one
  segment from the row's port to the first cell, then one between adjacent cells) and every column
  (one segment below each cell, the last one into the sensed bottom end); ``r_driver_ohm`` in
  series with every row driver. With wire segments the tiles are by default written as their exact
  port equivalent (``wire_model="reduced"``, :mod:`~ipnet_cosim.netlist_gen.reduction`): one
  resistor per row source/column pair and per row pair, the driver resistance inside; the same port
  currents as the full ladder (``wire_model="ladder"``) at the cost of an ideal crossbar.
* **Port model** (:mod:`~ipnet_cosim.netlist_gen.unit_circuits`): the sense sources hold every column
  end at 0 V and the row drivers are ideal sources (behind ``r_driver_ohm``), so each column's current
  is a fixed linear function of the row drive, ``I_c(t) = sum_i A_ic V_i(t)`` (``A`` the port
  conductances: the cells, divided by ``1 + r_driver G_row`` without wires, the Schur complement with
  them). All rows share the pulse shape of :meth:`PulseTiming.pulse_pwl`, so ``I_c`` is itself a PWL
  of that shape. ``ipnet-cosim simulate`` (``crossbar="ports"``, the default) gives the simulator
  each column as that PWL current source into its sense source and computes the row sources'
  energy exactly from ``A`` and the row couplings; the neurons, mirrors and reset are unchanged. The
  same spikes and waveforms as the netlist of every resistor (tested), without the crossbar in the
  simulator's matrix.

Layer types map through :data:`LAYER_MAPPINGS` (``{type name: function}``); add one with
:func:`register_mapping`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ipnet_cosim.device.errors import ConfigError, UnsupportedLayerError
from ipnet_cosim.device.interconnect import INTERCONNECT_28NM
from ipnet_cosim.device.synapse import SynapseCard, default_synapse, ideal_synapse
from ipnet_cosim.netlist_gen.conductance import ConductanceMap, ConductanceOptions, map_weights

PAD = -1     # gather index of a row in a conv's zero padding (held at 0 V)
BIAS = -2    # gather index of the bias row (pulsed at every step)
HEAT_MODEL = "mtjn"
FAST_MODEL = "mtjf"
DRIVE_MODEL = "drv"
WIRE_MODELS = ("reduced", "ladder")


#: bit slices of a binary cell on a chip built by :meth:`MappingOptions.for_chip`: one binary pair holds 3 weight
#: levels (useless for a trained network: 0.06 for the bundled IPNet); 4 slices hold 31 (the shift-and-add of
#: ISAAC/PRIME in the mirrors)
BINARY_CHIP_SLICES = 4


def chip_slices(card: SynapseCard) -> int:
    """The bit slices a chip of ``card`` uses by default: :data:`BINARY_CHIP_SLICES` for a binary cell, else 1."""
    return BINARY_CHIP_SLICES if card.levels == 2 else 1


#: devices in parallel per cell of an analog chip built by :meth:`MappingOptions.for_chip` (the multi-memristive
#: synapse of Boybat et al., Nat. Commun. 9, 2514 (2018)): their independent programming errors average, so the
#: cell's relative error falls as 1/sqrt(C); 4 halve it. Chosen by measurement against one device per cell
#: (benchmarks/default_chip.py, data/default_chip.json: accuracy on unseen chips after fine-tuning, area, energy).
ANALOG_CHIP_COPIES = 4


def chip_copies(card: SynapseCard) -> int:
    """The devices per cell a chip of ``card`` uses by default: :data:`ANALOG_CHIP_COPIES` for an analog device
    (no discrete levels, a programming error to average), else 1 (a multi-level or binary cell is bit-sliced;
    the ideal card has no error)."""
    analog_with_error = card.is_device and card.levels is None and (card.d2d_sigma_s > 0 or card.d2d_sigma_rel > 0)
    return ANALOG_CHIP_COPIES if analog_with_error else 1


@dataclass(frozen=True)
class MappingOptions:
    """How a network becomes crossbars (SI units; every field is recorded in the manifest).

    Args:
        tile_rows: largest crossbar's rows.
        tile_cols: largest crossbar's physical columns (a weight column uses two).
        conductance: weight-to-conductance options (range, quantization, variation).
        r_wire_ohm: resistance of one wire segment between adjacent cells (rows and columns), ohm.
        r_driver_ohm: output resistance of every row driver, ohm.
        wire_model: with wire segments, "reduced" writes each tile as its exact port equivalent
            (:mod:`~ipnet_cosim.netlist_gen.reduction`, driver resistance folded in); "ladder" writes
            every segment (slow; for validation).
        max_step_s: the simulator's largest time step; None: the layer card's
            :attr:`~ipnet_cosim.device.card.DeviceCard.max_time_step_s`.
        reltol: ngspice's relative tolerance.
        gain_trims: the chip's trim of every hidden layer's mirror gain (one factor per layer with neurons, in
            order; the readout, a charge integrator, is not trimmed); () = untrimmed. A per-chip calibration
            (:mod:`~ipnet_cosim.chip.calibrate`), like the variation seed not part of the hardware a
            network is fine-tuned for.
    """

    tile_rows: int = 128
    tile_cols: int = 128
    conductance: ConductanceOptions = ConductanceOptions()
    r_wire_ohm: float = 0.0
    r_driver_ohm: float = 0.0
    wire_model: str = "reduced"
    max_step_s: float | None = None
    reltol: float = 1e-4
    synapse: SynapseCard = field(default_factory=ideal_synapse)
    gain_trims: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name, low in (("tile_rows", 1), ("tile_cols", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"mapping option {name} = {value!r} must be an integer >= {low}"
                                  + (" (a weight column is a differential pair of two physical columns)"
                                     if name == "tile_cols" else ""))
        for name in ("r_wire_ohm", "r_driver_ohm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float, np.floating, np.integer))
                                               and math.isfinite(value) and value >= 0):
                raise ConfigError(f"mapping option {name} = {value!r} must be a finite resistance >= 0 ohm")
        def real(v) -> bool:
            return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)
        if self.max_step_s is not None and not (real(self.max_step_s) and self.max_step_s > 0):
            raise ConfigError(f"mapping option max_step_s = {self.max_step_s!r} must be a positive time in s")
        if self.wire_model not in WIRE_MODELS:
            raise ConfigError(f"mapping option wire_model = {self.wire_model!r} is unknown; use one of "
                              f"{', '.join(WIRE_MODELS)}")
        if not (real(self.reltol) and 0 < self.reltol < 0.1):
            raise ConfigError(f"mapping option reltol = {self.reltol!r} must be in (0, 0.1)")
        if not isinstance(self.conductance, ConductanceOptions):
            raise ConfigError("mapping option conductance must be a ConductanceOptions")
        if not isinstance(self.synapse, SynapseCard):
            raise ConfigError("mapping option synapse must be a SynapseCard (ipnet_cosim.device.synapse)")
        if not isinstance(self.gain_trims, tuple) or not all(real(t) and 0 < t for t in self.gain_trims):
            raise ConfigError(f"mapping option gain_trims = {self.gain_trims!r} must be a tuple of positive factors, "
                              f"one per hidden layer (or empty: untrimmed)")
        if self.tile_cols < 2 * self.conductance.slices:
            raise ConfigError(f"mapping option tile_cols = {self.tile_cols} is below the {2 * self.conductance.slices} "
                              f"physical columns of one weight column with {self.conductance.slices} slices "
                              f"(two per slice); raise tile_cols or use fewer slices")

    @property
    def weight_cols_per_tile(self) -> int:
        """Weight columns (neurons) in one tile: ``tile_cols // (2 slices)`` (a slice is a differential pair, and
        all slices of a weight column stay in the same tile so that one unit holds its neuron)."""
        return self.tile_cols // (2 * self.conductance.slices)

    @classmethod
    def for_synapse(cls, card: SynapseCard, *, seed: int = 0, conductance_overrides: Mapping[str, Any] | None = None,
                    **options: Any) -> "MappingOptions":
        """Options whose conductances come from ``card`` (:meth:`ConductanceOptions.from_synapse`), with
        ``conductance_overrides`` taking precedence (recorded: :meth:`synapse_overrides`)."""
        conductance = ConductanceOptions.from_synapse(card, seed=seed, **dict(conductance_overrides or {}))
        return cls(conductance=conductance, synapse=card, **options)

    @classmethod
    def for_chip(cls, card: SynapseCard | None = None, *, slices: int | None = None, copies: int | None = None,
                 seed: int = 0, conductance_overrides: Mapping[str, Any] | None = None,
                 **options: Any) -> "MappingOptions":
        """The chip built from ``card`` (None: the default synapse card, :func:`default_synapse`): the card's
        conductances and variation, bit slices :func:`chip_slices` and devices in parallel per cell
        :func:`chip_copies` unless given (see :mod:`~ipnet_cosim.netlist_gen.conductance`), and, for a device, the wire
        resistance per cell segment of its cell at 28 nm (:mod:`~ipnet_cosim.device.interconnect`; none for the
        ideal card). ``options`` override any of it (e.g. ``r_wire_ohm=0``)."""
        card = default_synapse() if card is None else card
        slices = chip_slices(card) if slices is None else slices
        copies = chip_copies(card) if copies is None else copies
        over = {**({"slices": slices} if slices != 1 else {}), **({"copies": copies} if copies != 1 else {}),
                **dict(conductance_overrides or {})}
        conductance = ConductanceOptions.from_synapse(card, seed=seed, **over)     # checked before the wires use it
        # a cell of C parallel devices spans C device cells: its wire segment is sqrt(C A_cell) long
        cell_m2 = card.cell_area_m2 * conductance.copies
        options.setdefault("r_wire_ohm", INTERCONNECT_28NM.segment_resistance_ohm(cell_m2) if card.is_device else 0.0)
        return cls(conductance=conductance, synapse=card, **options)

    @property
    def trimmed(self) -> bool:
        """Some hidden layer's mirror gain is trimmed (a factor other than 1)."""
        return any(t != 1.0 for t in self.gain_trims)

    def gain_trim(self, layer: int) -> float:
        """The mirror-gain trim of layer ``layer`` (1.0 untrimmed, and for the readout)."""
        return float(self.gain_trims[layer]) if layer < len(self.gain_trims) else 1.0

    def check_gain_trims(self, hidden_layers: int) -> None:
        """Refuse trims that are not one per hidden layer of the network being mapped."""
        if self.gain_trims and len(self.gain_trims) != hidden_layers:
            raise ConfigError(f"mapping option gain_trims has {len(self.gain_trims)} factors for a network with "
                              f"{hidden_layers} hidden layers; give one per hidden layer (or none)")

    def synapse_overrides(self) -> list[str]:
        """Conductance options that differ from the synapse card's (empty: the mapping is the card's)."""
        return self.conductance.differs_from(self.synapse)

    @property
    def reduced(self) -> bool:
        """Tiles are written as their exact port equivalent (wire segments on, ``wire_model`` reduced);
        the driver resistance is then part of the tile and the row sources drive the tile directly."""
        return self.r_wire_ohm > 0 and self.wire_model == "reduced"

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["conductance"] = self.conductance.to_dict()
        data["synapse"] = self.synapse.to_dict()
        data["gain_trims"] = list(self.gain_trims)          # as JSON holds it
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MappingOptions":
        from ipnet_cosim.models.config import check_known_keys
        check_known_keys(cls, data, "mapping options")
        values = dict(data)
        if isinstance(values.get("conductance"), Mapping):
            check_known_keys(ConductanceOptions, values["conductance"], "conductance options")
            values["conductance"] = ConductanceOptions(**values["conductance"])
        if isinstance(values.get("synapse"), Mapping):      # absent in exports before synapse cards: the ideal card
            values["synapse"] = SynapseCard.from_dict(values["synapse"], origin="mapping options synapse")
        if isinstance(values.get("gain_trims"), list):         # JSON has no tuples
            values["gain_trims"] = tuple(values["gain_trims"])
        return cls(**values)


# -- layers of a network ------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerView:
    """One layer of a trained network as the mapper sees it.

    ``type`` is the registry key (the PyTorch module's class name, e.g. ``Conv2d``); ``unit`` is
    "heat" (heat-memory MTJ neurons), "memoryless" (fast-thermal MTJ neurons) or "integrate"
    (the readout: charge on the columns, no neurons).
    """

    index: int
    name: str
    type: str
    module: Any
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    unit: str


_UNIT_KINDS = {"HeatMemoryNeurons": "heat", "ThresholdMTJNeurons": "memoryless"}


def network_layers(model) -> list[LayerView]:
    """The layers of a :class:`~ipnet_cosim.models.network.SpikingNet`, checked against the registry."""
    from torch import nn
    from ipnet_cosim.models.network import SpatialOp
    from ipnet_cosim.models.network_config import layer_shapes
    config = model.config
    shapes = layer_shapes(config)
    in_shape: tuple[int, ...] = (config.in_channels, config.height, config.width)
    views = []
    for i, (op, memory, unit) in enumerate(zip(model.ops, model.memories, model.units)):
        if not isinstance(memory, nn.Identity):
            raise UnsupportedLayerError(
                f"layer {i}: the temporal memory '{type(memory).__name__}' of this {config.arch} network is "
                f"digital state (a conventional baseline) and has no crossbar/neuron mapping; circuits are "
                f"built from MTJ neurons only. Export an IPNet or memoryless checkpoint")
        unit_kind = _UNIT_KINDS.get(type(unit).__name__)
        if unit_kind is None:
            raise UnsupportedLayerError(
                f"layer {i}: neuron unit of type '{type(unit).__name__}' has no circuit model (known: "
                f"{', '.join(sorted(_UNIT_KINDS))}); export an IPNet or memoryless checkpoint")
        inner = op.op if isinstance(op, SpatialOp) else op
        kind = type(inner).__name__
        mapping_for(kind, f"layer {i}")
        views.append(LayerView(i, f"layer{i}", kind, inner, in_shape, shapes[i], unit_kind))
        in_shape = shapes[i]
    kind = type(model.readout).__name__
    mapping_for(kind, "readout")
    views.append(LayerView(len(views), "readout", kind, model.readout, in_shape, (config.n_classes,), "integrate"))
    return views


# -- the registry ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerMatrix:
    """A layer lowered to one crossbar matrix per output position.

    Attributes:
        matrix: ``[rows, cols]`` weights, im2col order, bias row last (float64).
        gather: ``[positions, rows]`` input index (flattened, PyTorch order) feeding each row;
            :data:`PAD` for zero padding, :data:`BIAS` for the bias row.
        out_index: ``[positions, cols]`` flattened output index of every neuron.
        layout: human-readable description of the lowering (goes into the manifest).
    """

    matrix: np.ndarray
    gather: np.ndarray
    out_index: np.ndarray
    layout: str


MappingFunction = Callable[[LayerView], LayerMatrix]
LAYER_MAPPINGS: dict[str, MappingFunction] = {}


def register_mapping(type_name: str) -> Callable[[MappingFunction], MappingFunction]:
    """Decorator: register ``fn(view) -> LayerMatrix`` as the mapping of layer type ``type_name``."""
    def deco(fn: MappingFunction) -> MappingFunction:
        LAYER_MAPPINGS[type_name] = fn
        return fn
    return deco


def mapping_for(type_name: str, where: str) -> MappingFunction:
    fn = LAYER_MAPPINGS.get(type_name)
    if fn is None:
        raise UnsupportedLayerError(
            f"{where}: layer type '{type_name}' has no circuit mapping (mapped: {', '.join(sorted(LAYER_MAPPINGS))}). "
            f"Add one with @register_mapping('{type_name}') in ipnet_cosim.netlist_gen.mapping: a function "
            f"from a LayerView to a LayerMatrix (im2col matrix, row gather and output indices)")
    return fn


def _weights(module, name: str) -> tuple[np.ndarray, np.ndarray]:
    w = module.weight.detach().double().cpu().numpy()
    b = (module.bias.detach().double().cpu().numpy() if module.bias is not None
         else np.zeros(w.shape[0]))
    for label, arr in (("weight", w), ("bias", b)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ConfigError(f"{name}: {int(bad.sum())} {label} value(s) are NaN or infinite (first at index "
                              f"{tuple(int(v) for v in np.argwhere(bad)[0])}); the checkpoint is damaged or "
                              f"training diverged. Retrain or export another epoch")
    return w, b


@register_mapping("Conv2d")
def map_conv2d(view: LayerView) -> LayerMatrix:
    """im2col: one ``(C_in k k + 1) x C_out`` crossbar per output position."""
    m = view.module
    if isinstance(m.padding, str) or m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros":
        raise UnsupportedLayerError(f"{view.name}: Conv2d with groups, dilation, string padding or a non-zero padding "
                                    f"mode has no mapping; use groups=1, dilation=1 and integer zero padding")
    w, b = _weights(m, view.name)
    c_out, c_in, kh, kw = w.shape
    sh, sw = m.stride
    ph, pw = m.padding
    _, h, wd = view.in_shape
    _, oh, ow = view.out_shape
    matrix = np.concatenate([w.reshape(c_out, c_in * kh * kw).T, b[None, :]], axis=0)
    cg, kyg, kxg = np.meshgrid(np.arange(c_in), np.arange(kh), np.arange(kw), indexing="ij")
    c, ky, kx = cg.ravel(), kyg.ravel(), kxg.ravel()
    oyg, oxg = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    oy, ox = oyg.ravel(), oxg.ravel()
    y = oy[:, None] * sh + ky[None, :] - ph
    x = ox[:, None] * sw + kx[None, :] - pw
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < wd)
    gather = np.where(inside, (c[None, :] * h + y) * wd + x, PAD)
    gather = np.concatenate([gather, np.full((oh * ow, 1), BIAS)], axis=1).astype(np.int64)
    pos = np.arange(oh * ow)
    out_index = (np.arange(c_out)[None, :] * (oh * ow) + pos[:, None]).astype(np.int64)
    layout = (f"conv {c_in}->{c_out} k{kh}x{kw} s{sh} p{ph} on {h}x{wd}: im2col rows (c*{kh}+ky)*{kw}+kx then "
              f"bias; position p = oy*{ow}+ox has its own crossbar copy and {c_out} neurons (output "
              f"index j*{oh * ow}+p)")
    return LayerMatrix(matrix, gather, out_index, layout)


@register_mapping("Linear")
def map_linear(view: LayerView) -> LayerMatrix:
    """One ``(in + 1) x out`` crossbar; a conv input is flattened in PyTorch order (c, y, x)."""
    w, b = _weights(view.module, view.name)
    n_out, n_in = w.shape
    matrix = np.concatenate([w.T, b[None, :]], axis=0)
    gather = np.concatenate([np.arange(n_in), [BIAS]])[None, :].astype(np.int64)
    flat = "" if len(view.in_shape) == 1 else f" (flatten of {'x'.join(map(str, view.in_shape))}: (c*H+y)*W+x)"
    layout = f"linear {n_in}->{n_out}: rows = inputs{flat} then bias; one position"
    return LayerMatrix(matrix, gather, np.arange(n_out, dtype=np.int64)[None, :], layout)


# -- tiles and units ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """One netlist: a position's column block with all its row tiles."""

    layer: int
    position: int
    col_block: int
    cols: tuple[int, int]                      # weight columns [start, stop)
    row_blocks: tuple[tuple[int, int], ...]    # rows [start, stop) of each row tile

    @property
    def name(self) -> str:
        return f"L{self.layer}_p{self.position:03d}_c{self.col_block}"

    def tile_names(self) -> list[str]:
        return [f"{self.name}_r{r}" for r in range(len(self.row_blocks))]


def blocks(n: int, size: int) -> tuple[tuple[int, int], ...]:
    """``[start, stop)`` blocks of at most ``size`` covering ``range(n)``."""
    return tuple((s, min(s + size, n)) for s in range(0, n, size))


def layer_units(layer: int, lm: LayerMatrix, options: MappingOptions) -> list[Unit]:
    rows, cols = lm.matrix.shape
    row_blocks = blocks(rows, options.tile_rows)
    col_blocks = blocks(cols, options.weight_cols_per_tile)
    return [Unit(layer, p, c, cb, row_blocks) for p in range(lm.gather.shape[0])
            for c, cb in enumerate(col_blocks)]


def position_seed(base_seed: int, layer: int, position: int) -> int:
    """The variation seed of one position's crossbar copy on the chip of ``base_seed``."""
    return int(np.random.SeedSequence([base_seed, layer, position]).generate_state(1)[0])


def conductances(lm: LayerMatrix, layer: int, position: int, *, v_read_v: float, current_scale_a: float,
                 options: MappingOptions, name: str) -> ConductanceMap:
    """The devices of one position's crossbar copy; variation is drawn per (seed, layer, position)."""
    co = options.conductance
    if co.varied:
        co = dataclasses.replace(co, seed=position_seed(co.seed, layer, position))
    gmap = map_weights(lm.matrix, v_read_v=v_read_v, current_scale_a=current_scale_a, options=co, name=name)
    trim = options.gain_trim(layer)
    return gmap if trim == 1.0 else dataclasses.replace(gmap, mirror_gain=gmap.mirror_gain * trim)
