"""Memory energy of the conventional baselines: the digital temporal state IPNet does without.

IPNet keeps its short-term memory in the heat of each frontier MTJ; its baselines (see
``ipnet_cosim.models.network``) replace that memory with state held in digital memory and read
and written at every inference step. This module counts those bits from plain shapes and prices
them with a cited technology table (``data/memory_technologies.json``).

Bit accounting (per inference step; ``N_out = prod(out_shape)`` is the size of layer 0's output,
``N_in = prod(in_shape)`` the size of an input frame, ``b`` the state precision in bits per value,
``b_in`` the stored bits per input element)::

    arch        held state (bits)            read / step              write / step
    rnn         N_out b          (h)         N_out b   (h_{t-1})      N_out b   (h_t)
    lstm        2 N_out b        (h, c)      2 N_out b                2 N_out b
    conv2p1d    (k-1) N_out b                (k-1) N_out b            N_out b      (k > 1)
    conv3d      (W-1) N_in b_in              (W-1) N_in b_in          N_in b_in    (W > 1)
    cnn2d_sum   N_in b           (sum)       N_in b                   N_in b
    ipnet       0  (heat, in the MTJs)       0                        0
    memoryless  0                            0                        0

* ``conv2p1d``: the causal temporal convolution over ``k = temporal_kernel`` steps needs the last
  k-1 spatial outputs; the newest one comes straight from the spatial op and is not read back from
  memory. Each step overwrites the oldest slot of a (k-1)-slot ring buffer.
* ``conv3d``: the causal 3D convolution over ``W = window`` input frames keeps the last W-1
  frames. The frames are binary events, so they *can* be stored at 1 bit per element
  (``input_bits=1``); by default they are stored at the state precision (``input_bits=None`` means
  ``b_in = b``), as a GPU framework holding fp32 input tensors does.
* ``cnn2d_sum`` (the 2D CNN on the time-averaged frame, not a paper baseline): a streaming
  implementation keeps a running sum of the input frames, read and written once per step.
* ``ipnet`` / ``memoryless``: no digital temporal state. IPNet's memory energy is the heat the
  MTJs keep, which comes from circuit simulation, not from this table.

Energy per step (J), with ``E_r``, ``E_w`` the technology's read/write energies in J/bit::

    E_step = read_bits_per_step * E_r + write_bits_per_step * E_w

A ratio of memory *power* at the same step rate equals the ratio of energy per step, which is what
:func:`memory_ratios` reports (baseline / IPNet).

Default configuration (resembling the paper's GPU comparison, not tuned to its numbers):

* state precision ``DEFAULT_BITS_PER_VALUE = 32`` (fp32, what a GPU baseline stores by default);
* technology: the table's ``default`` entry, ``hbm2`` (O'Connor et al., MICRO 2017: 3.97 pJ/bit),
  because the paper compares against GPUs and a GPU holds recurrent / windowed state of this size
  in HBM, not in registers;
* ``temporal_kernel = 3`` and ``window = 8``: the defaults of ``NetworkConfig``. Note the paper's
  ratio 90,920 / 2,874 = 31.6 suggests a window of about 32 frames; we do not adopt it to fit.

Standby / refresh energy is out of scope (no cited per-bit standby power); only access energy is
counted. This module never imports torch or ``ipnet_cosim.models``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy.memory_tech import (DEFAULT_TABLE_PATH, SCHEMA_VERSION, MemoryTechnology,  # noqa: F401
                                            default_technology_name, format_citation, load_technologies)
from ipnet_cosim.energy.quantity import Quantity

DEFAULT_BITS_PER_VALUE = 32
DEFAULT_TEMPORAL_KERNEL = 3
DEFAULT_WINDOW = 8
SENSITIVITY_PRECISIONS_BITS = (8, 16, 32)
BASELINE_ARCHS = ("rnn", "lstm", "conv2p1d", "conv3d")

PAPER_SOURCE = "arXiv 2512.15829 (Liu, Zheng, Zou, Yang), abstract"
PAPER_MEMORY_RATIOS = {
    "lstm": (2874.0, "memory power 2,874x lower than an LSTM"),
    "conv3d": (90920.0, "memory power 90,920x lower than a parallel 3D CNN"),
}

# -- temporal state accounting ---------------------------------------------------------------------

@dataclass(frozen=True)
class StateShapes:
    """What the bit accounting needs to know about the frontier layer (plain numbers).

    Args:
        in_shape: input frame shape (C_in, H, W) of layer 0.
        out_shape: output shape (C, H', W') of layer 0.
        bits_per_value: state precision, bits per stored value (32 = fp32).
        temporal_kernel: 2+1D CNN, steps of the causal temporal convolution (k).
        window: 3D CNN, input frames in the causal window (W).
        input_bits: 3D CNN, stored bits per input element; None means ``bits_per_value``.
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    bits_per_value: int = DEFAULT_BITS_PER_VALUE
    temporal_kernel: int = DEFAULT_TEMPORAL_KERNEL
    window: int = DEFAULT_WINDOW
    input_bits: int | None = None

    def __post_init__(self) -> None:
        for name in ("in_shape", "out_shape"):
            shape = getattr(self, name)
            if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
                raise ConfigError(f"temporal state: {name} must be a tuple of positive integers, e.g. (8, 10, 10) "
                                  f"(got {shape!r})")
            shape = tuple(shape)
            if not shape or not all(_is_int(n) and n >= 1 for n in shape):
                raise ConfigError(f"temporal state: {name} {shape!r} must be a non-empty tuple of positive integers")
            object.__setattr__(self, name, tuple(int(n) for n in shape))
        for name in ("bits_per_value", "temporal_kernel", "window"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"temporal state: {name} ({value!r}) must be an integer >= 1")
        if self.input_bits is not None and (not _is_int(self.input_bits) or self.input_bits < 1):
            raise ConfigError(f"temporal state: input_bits ({self.input_bits!r}) must be an integer >= 1, or None "
                              f"to store input frames at bits_per_value")

    @property
    def n_in(self) -> int:
        """Values per input frame, prod(in_shape)."""
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        """Values per layer-0 output, prod(out_shape)."""
        return math.prod(self.out_shape)

    @property
    def stored_input_bits(self) -> int:
        """Bits per stored input element: ``input_bits``, or ``bits_per_value`` if None."""
        return self.bits_per_value if self.input_bits is None else self.input_bits


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class StateTraffic:
    """Digital temporal state of one architecture and its traffic per inference step.

    Args:
        arch: architecture name.
        state_bits: bits held between steps.
        read_bits_per_step: bits read from the state per step.
        write_bits_per_step: bits written to the state per step.
        description: one line saying what is held.
    """

    arch: str
    state_bits: int
    read_bits_per_step: int
    write_bits_per_step: int
    description: str

    def quantities(self) -> dict[str, Quantity]:
        """The three counts as computed figures (unit "bit")."""
        src = f"{self.arch} temporal state: {self.description}"
        return {"state_bits": Quantity(self.state_bits, "bit", "computed", src),
                "read_bits_per_step": Quantity(self.read_bits_per_step, "bit", "computed", src),
                "write_bits_per_step": Quantity(self.write_bits_per_step, "bit", "computed", src)}

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "state_bits": self.state_bits, "read_bits_per_step": self.read_bits_per_step,
                "write_bits_per_step": self.write_bits_per_step, "description": self.description}


def _rnn_state(s: StateShapes) -> StateTraffic:
    # held: h (N_out b); per step read h_{t-1}, write h_t
    h_bits = s.n_out * s.bits_per_value
    return StateTraffic("rnn", h_bits, h_bits, h_bits,
                        f"hidden state h {s.out_shape} at {s.bits_per_value} bit")


def _lstm_state(s: StateShapes) -> StateTraffic:
    # held: h and c (2 N_out b); per step read both, write both
    hc_bits = 2 * s.n_out * s.bits_per_value
    return StateTraffic("lstm", hc_bits, hc_bits, hc_bits,
                        f"hidden state h and cell state c, 2 x {s.out_shape} at {s.bits_per_value} bit")


def _conv2p1d_state(s: StateShapes) -> StateTraffic:
    # held: last k-1 spatial outputs ((k-1) N_out b); read k-1 of them, write the new one (if k > 1)
    frame_bits = s.n_out * s.bits_per_value
    slots = s.temporal_kernel - 1
    return StateTraffic("conv2p1d", slots * frame_bits, slots * frame_bits, frame_bits if slots else 0,
                        f"last {slots} spatial outputs {s.out_shape} at {s.bits_per_value} bit "
                        f"(temporal kernel {s.temporal_kernel})")


def _conv3d_state(s: StateShapes) -> StateTraffic:
    # held: last W-1 input frames ((W-1) N_in b_in); read W-1 of them, write the new one (if W > 1)
    frame_bits = s.n_in * s.stored_input_bits
    slots = s.window - 1
    return StateTraffic("conv3d", slots * frame_bits, slots * frame_bits, frame_bits if slots else 0,
                        f"last {slots} input frames {s.in_shape} at {s.stored_input_bits} bit "
                        f"(window {s.window})")


def _cnn2d_sum_state(s: StateShapes) -> StateTraffic:
    # held: running sum of input frames (N_in b); read and write it once per step
    sum_bits = s.n_in * s.bits_per_value
    return StateTraffic("cnn2d_sum", sum_bits, sum_bits, sum_bits,
                        f"running sum of input frames {s.in_shape} at {s.bits_per_value} bit")


def _ipnet_state(s: StateShapes) -> StateTraffic:
    return StateTraffic("ipnet", 0, 0, 0, "no digital state: the memory is the heat of the frontier MTJs")


def _memoryless_state(s: StateShapes) -> StateTraffic:
    return StateTraffic("memoryless", 0, 0, 0, "no temporal state (fast-thermal MTJs, no memory)")


TEMPORAL_STATE_MODELS: dict[str, Callable[[StateShapes], StateTraffic]] = {
    "ipnet": _ipnet_state,
    "memoryless": _memoryless_state,
    "rnn": _rnn_state,
    "lstm": _lstm_state,
    "conv2p1d": _conv2p1d_state,
    "conv3d": _conv3d_state,
    "cnn2d_sum": _cnn2d_sum_state,
}
"""``{arch: function(StateShapes) -> StateTraffic}``; a new architecture is one entry."""


def temporal_state(arch: str, *, in_shape: Sequence[int], out_shape: Sequence[int],
                   bits_per_value: int = DEFAULT_BITS_PER_VALUE, temporal_kernel: int = DEFAULT_TEMPORAL_KERNEL,
                   window: int = DEFAULT_WINDOW, input_bits: int | None = None) -> StateTraffic:
    """Digital temporal state of ``arch``'s frontier memory and its traffic per step.

    Args:
        arch: a key of :data:`TEMPORAL_STATE_MODELS`.
        in_shape: input frame shape (C_in, H, W) of layer 0.
        out_shape: output shape (C, H', W') of layer 0.
        bits_per_value: state precision, bits per value (default 32, fp32).
        temporal_kernel: 2+1D CNN temporal kernel k, steps.
        window: 3D CNN window W, input frames.
        input_bits: 3D CNN stored bits per input element (1 for raw binary events); None stores
            them at ``bits_per_value``.

    Returns:
        The bits held, read per step and written per step (see the module docstring's table).

    Raises:
        ConfigError: unknown architecture (the message lists the known ones) or invalid shapes.
    """
    model = TEMPORAL_STATE_MODELS.get(arch)
    if model is None:
        raise ConfigError(f"architecture '{arch}' has no temporal-state model; known: "
                          f"{', '.join(TEMPORAL_STATE_MODELS)} (add an entry to TEMPORAL_STATE_MODELS)")
    shapes = StateShapes(in_shape=tuple(in_shape), out_shape=tuple(out_shape), bits_per_value=bits_per_value,
                         temporal_kernel=temporal_kernel, window=window, input_bits=input_bits)
    return model(shapes)


# -- energy ----------------------------------------------------------------------------------------

def memory_energy_per_step(traffic: StateTraffic, technology: MemoryTechnology) -> Quantity:
    """Access energy of the temporal state per inference step.

    ``E_step = read_bits_per_step * E_read + write_bits_per_step * E_write`` (J).

    Args:
        traffic: the state's traffic (:func:`temporal_state`).
        technology: where the state lives (:func:`load_technologies`).

    Returns:
        A computed Quantity in J whose source names the formula, the counts and the citation.
    """
    e_step_j = (traffic.read_bits_per_step * technology.read_j_per_bit
                + traffic.write_bits_per_step * technology.write_j_per_bit)
    source = (f"{traffic.arch} temporal state in {technology.name}: "
              f"E = {traffic.read_bits_per_step} bit read x {technology.read_j_per_bit:.4g} J/bit + "
              f"{traffic.write_bits_per_step} bit written x {technology.write_j_per_bit:.4g} J/bit; "
              f"{technology.name} energies from {technology.citation}")
    note = traffic.description + ("" if technology.verified else
                                  f"; {technology.name}'s energy is NOT verified in its source")
    return Quantity(e_step_j, "J", "computed", source, note=note)


def _require_energy(label: str, q: Any) -> Quantity:
    if not isinstance(q, Quantity):
        raise ConfigError(f"{label} must be a Quantity in J (got {type(q).__name__})")
    if q.unit != "J":
        raise ConfigError(f"{label} is in '{q.unit}'; give the memory energy per step in J")
    return q


def memory_ratios(ipnet_memory_j_per_step: Quantity,
                  baseline_j_per_step: Mapping[str, Quantity]) -> dict[str, Quantity]:
    """How many times more memory energy per step (= power at equal step rate) each baseline spends.

    ``ratio[arch] = E_baseline[arch] / E_IPNet`` (dimensionless).

    Args:
        ipnet_memory_j_per_step: IPNet's memory energy per step, J (from simulation, or assumed).
        baseline_j_per_step: ``{arch: energy per step in J}`` (:func:`memory_energy_per_step`).

    Returns:
        ``{arch: Quantity(ratio, "1", "computed", ...)}``.

    Raises:
        ConfigError: a figure is not in J, or IPNet's figure is not positive.
    """
    ipnet = _require_energy("IPNet memory energy per step", ipnet_memory_j_per_step)
    if not ipnet.value > 0:
        raise ConfigError(f"IPNet memory energy per step is {ipnet.value} J; a ratio needs a positive figure "
                          f"(pass the simulated heat-memory energy per step)")
    ratios = {}
    for arch, energy in baseline_j_per_step.items():
        baseline = _require_energy(f"memory energy per step of '{arch}'", energy)
        source = (f"{arch} memory energy per step / IPNet memory energy per step = {baseline.value:.4g} J / "
                  f"{ipnet.value:.4g} J ({arch}: {baseline.provenance}, {baseline.source}; "
                  f"IPNet: {ipnet.provenance}, {ipnet.source})")
        ratios[arch] = Quantity(baseline.value / ipnet.value, "1", "computed", source)
    return ratios


def sensitivity_table(ipnet_memory_j_per_step: Quantity, *, in_shape: Sequence[int], out_shape: Sequence[int],
                      temporal_kernel: int = DEFAULT_TEMPORAL_KERNEL, window: int = DEFAULT_WINDOW,
                      input_bits: int | None = None,
                      precisions_bits: Sequence[int] = SENSITIVITY_PRECISIONS_BITS,
                      archs: Sequence[str] = BASELINE_ARCHS,
                      technologies: Mapping[str, MemoryTechnology] | None = None) -> list[dict[str, Any]]:
    """Energy per step of every baseline for every technology x state precision, and its ratio to IPNet.

    Args:
        ipnet_memory_j_per_step: IPNet's memory energy per step, J.
        in_shape, out_shape: layer 0's input frame and output shapes.
        temporal_kernel: 2+1D CNN temporal kernel, steps.
        window: 3D CNN window, frames.
        input_bits: stored bits per input element of the 3D CNN; None follows each row's precision.
        precisions_bits: state precisions to sweep, bits per value.
        archs: architectures (default: the four baselines).
        technologies: table to use; None loads the packaged one.

    Returns:
        One plain dict per (technology, precision, arch), JSON-serialisable, with the columns
        technology, verified, bits_per_value, arch, state_bits, read_bits_per_step,
        write_bits_per_step, energy_j_per_step, ratio_to_ipnet, provenance ("computed").
    """
    ipnet = _require_energy("IPNet memory energy per step", ipnet_memory_j_per_step)
    techs = load_technologies() if technologies is None else technologies
    rows = []
    for tech in techs.values():
        for bits in precisions_bits:
            energies = {}
            traffic_by_arch = {}
            for arch in archs:
                traffic = temporal_state(arch, in_shape=in_shape, out_shape=out_shape, bits_per_value=bits,
                                         temporal_kernel=temporal_kernel, window=window, input_bits=input_bits)
                traffic_by_arch[arch] = traffic
                energies[arch] = memory_energy_per_step(traffic, tech)
            ratios = memory_ratios(ipnet, energies)
            for arch in archs:
                traffic = traffic_by_arch[arch]
                rows.append({"technology": tech.name, "verified": tech.verified, "bits_per_value": int(bits),
                             "arch": arch, "state_bits": traffic.state_bits,
                             "read_bits_per_step": traffic.read_bits_per_step,
                             "write_bits_per_step": traffic.write_bits_per_step,
                             "energy_j_per_step": energies[arch].value, "ratio_to_ipnet": ratios[arch].value,
                             "provenance": "computed"})
    return rows


def format_markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows (e.g. from :func:`sensitivity_table`) as a Markdown table; floats in 4 significant digits."""
    if not rows:
        return ""
    cols = list(columns) if columns is not None else list(rows[0])

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in cols) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# -- comparison with the paper ---------------------------------------------------------------------

@dataclass(frozen=True)
class PaperComparison:
    """Our ratio beside the paper's, and the factor between them.

    Args:
        arch: baseline architecture.
        ours: our ratio baseline / IPNet (computed).
        paper: the paper's figure (assumed, cited).
        ours_over_paper: ``ours / paper`` (1 means agreement; computed).
    """

    arch: str
    ours: Quantity
    paper: Quantity
    ours_over_paper: Quantity

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "ours": self.ours.to_dict(), "paper": self.paper.to_dict(),
                "ours_over_paper": self.ours_over_paper.to_dict()}


def paper_comparison(ratios: Mapping[str, Quantity]) -> list[PaperComparison]:
    """Put each of our ratios beside the paper's claim (2,874x LSTM, 90,920x 3D CNN).

    Nothing here is tuned to the paper: the factor ``ours / paper`` is reported as it comes.

    Args:
        ratios: ``{arch: ratio baseline / IPNet}`` (:func:`memory_ratios`); must include ``lstm``
            and/or ``conv3d``.

    Returns:
        One :class:`PaperComparison` per architecture the paper reports and ``ratios`` contains.

    Raises:
        ConfigError: none of the paper's architectures is in ``ratios``, or a ratio is not dimensionless.
    """
    rows = []
    for arch, (paper_value, claim) in PAPER_MEMORY_RATIOS.items():
        if arch not in ratios:
            continue
        ours = ratios[arch]
        if not isinstance(ours, Quantity) or ours.unit != "1":
            raise ConfigError(f"ratio of '{arch}' must be a dimensionless Quantity (unit '1'); "
                              f"use memory_ratios(...)")
        paper = Quantity(paper_value, "1", "assumed", f"{PAPER_SOURCE}: {claim}")
        factor = Quantity(ours.value / paper_value, "1", "computed",
                          f"ours / paper = {ours.value:.4g} / {paper_value:g} ({arch})")
        rows.append(PaperComparison(arch, ours, paper, factor))
    if not rows:
        raise ConfigError(f"no ratio for {' or '.join(PAPER_MEMORY_RATIOS)} (got {', '.join(ratios) or 'none'}); "
                          f"the paper reports memory-power ratios only for those")
    return rows
