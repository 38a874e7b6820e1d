"""Circuit IR: plain, frozen data for crossbar tiles, their drivers and MTJ neurons.

A :class:`Circuit` is a flat list of elements plus, as simulator-neutral data, its compact-model
parameter sets (:class:`ModelCard`), the vectors to keep (:class:`Save`), the solver settings
(:class:`SolverOptions`) and its analysis (:class:`Transient` or :class:`DCSweep`). Builders return new
values; one writer per dialect (``circuits.ngspice``, ``circuits.vacask``) translates a circuit to
text and nothing else (no writer parses another's text).
:func:`validate_circuit` checks a circuit with networkx before anything is written:
duplicate or illegal names, floating nets (a node touched by one terminal only), nodes without
a DC path to ground, and neurons whose input is not driven.

Node ``0`` is ground. Names follow SPICE: the first letter is the element type (``R``, ``V``,
``I``, ``F``, ``N``: OSDI devices, the neuron and its drive), the rest letters, digits and ``_``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Union

from ipnet_cosim.device.errors import NetlistError

GROUND = "0"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Resistor:
    """A linear resistor between ``n1`` and ``n2`` (ohm)."""

    name: str
    n1: str
    n2: str
    r_ohm: float
    prefix = "R"

    def nodes(self) -> tuple[str, ...]:
        return (self.n1, self.n2)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.n1, self.n2),)


class _VoltageTerminals:
    """Terminals of a voltage source: a DC path between n_plus and n_minus."""

    n_plus: str
    n_minus: str

    def nodes(self) -> tuple[str, ...]:
        return (self.n_plus, self.n_minus)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.n_plus, self.n_minus),)


@dataclass(frozen=True)
class VoltageSource(_VoltageTerminals):
    """A voltage source ``n_plus - n_minus``: DC, or piecewise linear ``pwl`` ((t_s, v_v), ...)."""

    name: str
    n_plus: str
    n_minus: str
    dc_v: float = 0.0
    pwl: tuple[tuple[float, float], ...] | None = None
    prefix = "V"


@dataclass(frozen=True)
class PulseSource(_VoltageTerminals):
    """A periodic pulse source (SPICE ``PULSE``): v0 -> v1 after delay, edges, width, period."""

    name: str
    n_plus: str
    n_minus: str
    v0_v: float
    v1_v: float
    delay_s: float
    rise_s: float
    fall_s: float
    width_s: float
    period_s: float
    prefix = "V"


@dataclass(frozen=True)
class CurrentSource:
    """An independent current source (SPICE ``I``): the current flows from ``n_from`` through the source
    to ``n_to`` (into ``n_to``'s external circuit); DC, or piecewise linear ``pwl`` ((t_s, i_a), ...)."""

    name: str
    n_from: str
    n_to: str
    dc_a: float = 0.0
    pwl: tuple[tuple[float, float], ...] | None = None
    prefix = "I"

    def nodes(self) -> tuple[str, ...]:
        return (self.n_from, self.n_to)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ()          # an ideal current source is no DC path


@dataclass(frozen=True)
class CurrentMirror:
    """A current-controlled current source (SPICE ``F``): ``gain * I(control)`` flows from
    ``n_from`` through the source to ``n_to`` (into ``n_to``'s external circuit)."""

    name: str
    n_from: str
    n_to: str
    control: str
    gain: float
    prefix = "F"

    def nodes(self) -> tuple[str, ...]:
        return (self.n_from, self.n_to)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ()          # an ideal current source is no DC path


@dataclass(frozen=True)
class MTJNeuronInstance:
    """A thermal MTJ neuron (Verilog-A module via OSDI): terminals p, n, u, rst, th, st."""

    name: str
    p: str
    n: str
    u: str
    rst: str
    th: str
    st: str
    model: str
    prefix = "N"

    def nodes(self) -> tuple[str, ...]:
        return (self.p, self.n, self.u, self.rst, self.th, self.st)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        # the MTJ conducts p-n; th and st are driven by the model with respect to n
        return ((self.p, self.n), (self.th, self.n), (self.st, self.n))

    def outputs(self) -> tuple[str, ...]:
        """Nodes the model drives itself (read-out only; they need no other connection)."""
        return (self.th, self.st)


@dataclass(frozen=True)
class NeuronDriveInstance:
    """The neuron drive stage (Verilog-A module ``ipnet_neuron_drive`` via OSDI): the current flowing into
    ``inp`` (sunk to ground through the stage's input resistance) sets the current it pushes into ``out``
    (:class:`~ipnet_cosim.device.card.NeuronDrive`)."""

    name: str
    inp: str
    out: str
    model: str
    prefix = "N"

    def nodes(self) -> tuple[str, ...]:
        return (self.inp, self.out)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.inp, GROUND),)     # the input resistance; the output is a current source


@dataclass(frozen=True)
class SubcircuitInstance:
    """An instance (SPICE ``X``) of a :class:`Subcircuit`: ``nodes`` connect to its ports in order."""

    name: str
    nodes_: tuple[str, ...]
    subckt: str
    prefix = "X"

    def nodes(self) -> tuple[str, ...]:
        return self.nodes_

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ()          # resolved by flattening (see validate_circuit)


@dataclass(frozen=True)
class RandomSource(_VoltageTerminals):
    """A voltage source that draws a new uniform value in [lo_v, hi_v] every ``interval_s`` (ngspice
    ``TRRANDOM``; seeded by the runner): the stochastic draw of a neuron bench."""

    name: str
    n_plus: str
    n_minus: str
    lo_v: float
    hi_v: float
    interval_s: float
    prefix = "V"


Element = Union[Resistor, VoltageSource, PulseSource, CurrentSource, CurrentMirror, MTJNeuronInstance,
                NeuronDriveInstance, SubcircuitInstance, RandomSource]


@dataclass(frozen=True)
class ModelCard:
    """A compact-model parameter set that instances refer to by ``name``: the OSDI ``module`` and its
    parameters ``((name, value), ...)`` in SI units, in the module's declared order."""

    name: str
    module: str
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for label, value in (("model name", self.name), ("module", self.module)):
            if not isinstance(value, str) or not _NAME.match(value):
                raise NetlistError(f"{label} {value!r} is illegal: use letters, digits and '_', starting with a letter")
        for item in self.params:
            if (not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str)
                    or not _NAME.match(item[0]) or isinstance(item[1], bool)
                    or not isinstance(item[1], (int, float))):
                raise NetlistError(f"model {self.name}: parameter {item!r} must be (name, number)")


SAVE_KINDS = ("v", "i", "state")


@dataclass(frozen=True)
class Save:
    """A vector to keep: ``v`` the voltage of node ``target``, ``i`` the current through voltage source
    ``target``, ``state`` the internal variable ``var`` of device instance ``target``. Inside a subcircuit
    instance the target is hierarchical: ``<instance>.<name>`` (e.g. ``X1.q``, ``X1.Vsq``)."""

    kind: str
    target: str
    var: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SAVE_KINDS:
            raise NetlistError(f"save kind {self.kind!r} is unknown; use one of {', '.join(SAVE_KINDS)}")
        parts = self.target.split(".")
        if not all(p == GROUND or _NAME.match(p) for p in parts) or (self.kind == "state") != bool(self.var):
            raise NetlistError(f"save {self.kind}({self.target}{', ' + self.var if self.var else ''}) is illegal: "
                               f"a node or element name (hierarchical with '.'), and a variable for 'state' only")

    @classmethod
    def v(cls, node: str) -> "Save":
        return cls("v", node)

    @classmethod
    def i(cls, source: str) -> "Save":
        return cls("i", source)

    @classmethod
    def state(cls, instance: str, var: str) -> "Save":
        return cls("state", instance, var)


@dataclass(frozen=True)
class SolverOptions:
    """Solver settings: relative tolerance, and whether ngspice should use its KLU sparse solver
    (VACASK always does)."""

    reltol: float = 1e-4
    klu: bool = False


@dataclass(frozen=True)
class DCSweep:
    """A DC sweep of voltage source ``source`` from ``start_v`` to ``stop_v`` in steps of ``step_v``."""

    source: str
    start_v: float
    stop_v: float
    step_v: float


@dataclass(frozen=True)
class Subcircuit:
    """A ``.subckt`` definition: ``ports`` in order, and the elements inside (local node names;
    ``0`` is the global ground). Subcircuits do not nest."""

    name: str
    ports: tuple[str, ...]
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class Transient:
    """``.tran`` settings (s)."""

    step_s: float
    stop_s: float
    max_step_s: float


@dataclass(frozen=True)
class Circuit:
    """A flat circuit: header comments, model cards, subcircuits, elements, saves, solver options and one
    analysis (a transient, or a DC sweep)."""

    title: str
    elements: tuple[Element, ...]
    models: tuple[ModelCard, ...] = ()
    subcircuits: tuple[Subcircuit, ...] = ()
    comments: tuple[str, ...] = ()
    saves: tuple[Save, ...] = ()
    tran: Transient | None = None
    options: SolverOptions = SolverOptions()
    dc: DCSweep | None = None

    def element_names(self) -> list[str]:
        return [e.name for e in self.elements]

    def nodes(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.elements:
            for n in e.nodes():
                seen.setdefault(n)
        return list(seen)


def _check_names(elements: Iterable[Element]) -> None:
    names: dict[str, Element] = {}
    for e in elements:
        if not _NAME.match(e.name) or e.name[0].upper() != e.prefix:
            raise NetlistError(f"element name '{e.name}' is illegal: a {type(e).__name__} needs a name starting "
                               f"with '{e.prefix}' followed by letters, digits or '_'")
        key = e.name.lower()              # SPICE names are case-insensitive
        if key in names:
            raise NetlistError(f"element name '{e.name}' is used twice; names must be unique (case-insensitive)")
        names[key] = e
        for n in e.nodes():
            if n != GROUND and not _NAME.match(n):
                raise NetlistError(f"node '{n}' of {e.name} is illegal: use letters, digits and '_' "
                                   f"(starting with a letter), or '0' for ground")


def _renamed(e: Element, name: str, node: dict[str, str], control: str | None) -> Element:
    import dataclasses
    changes: dict = {"name": name}
    for f in dataclasses.fields(e):
        if f.name in ("n1", "n2", "n_plus", "n_minus", "n_from", "n_to", "p", "n", "u", "rst", "th", "st", "inp",
                      "out"):
            changes[f.name] = node[getattr(e, f.name)]
    if isinstance(e, CurrentMirror):
        changes["control"] = control
    return dataclasses.replace(e, **changes)


def flatten_circuit(circuit: Circuit) -> list[Element]:
    """The circuit's elements with every subcircuit instance expanded; inner names and nodes become
    ``<instance>.<name>`` as ngspice reports them (checks each definition's names on the way)."""
    defs: dict[str, Subcircuit] = {}
    for sub in circuit.subcircuits:
        if not _NAME.match(sub.name) or sub.name.lower() in defs:
            raise NetlistError(f"subcircuit name '{sub.name}' is illegal or defined twice")
        for port in sub.ports:
            if port == GROUND or not _NAME.match(port):
                raise NetlistError(f"subcircuit {sub.name}: port '{port}' is illegal (letters, digits, '_'; not 0)")
        if len(set(sub.ports)) != len(sub.ports):
            raise NetlistError(f"subcircuit {sub.name}: a port is listed twice")
        inner = [e for e in sub.elements if isinstance(e, SubcircuitInstance)]
        if inner:
            raise NetlistError(f"subcircuit {sub.name}: nested instance {inner[0].name} is not supported")
        _check_names(sub.elements)
        used = {n for e in sub.elements for n in e.nodes()}
        for port in sub.ports:
            if port not in used:
                raise NetlistError(f"subcircuit {sub.name}: port '{port}' connects to nothing inside")
        defs[sub.name.lower()] = sub
    flat: list[Element] = []
    for e in circuit.elements:
        if not isinstance(e, SubcircuitInstance):
            flat.append(e)
            continue
        found = defs.get(e.subckt.lower())
        if found is None:
            raise NetlistError(f"{e.name} instantiates subcircuit '{e.subckt}', which is not defined")
        sub = found
        if len(e.nodes_) != len(sub.ports):
            raise NetlistError(f"{e.name} connects {len(e.nodes_)} nodes but subcircuit {sub.name} has "
                               f"{len(sub.ports)} ports ({' '.join(sub.ports)})")
        node = {n: f"{e.name}.{n}" for x in sub.elements for n in x.nodes()}
        node[GROUND] = GROUND
        node.update(zip(sub.ports, e.nodes_))
        for x in sub.elements:
            control = f"{e.name}.{x.control}" if isinstance(x, CurrentMirror) else None
            flat.append(_renamed(x, f"{e.name}.{x.name}", node, control))
    return flat


def validate_circuit(circuit: Circuit) -> None:
    """Raise :class:`NetlistError` naming the first problem found (see the module docstring)."""
    import networkx as nx

    for what, items, kind in (("model", circuit.models, ModelCard), ("save", circuit.saves, Save)):
        bad = [x for x in items if not isinstance(x, kind)]
        if bad:
            raise NetlistError(f"{what} {bad[0]!r} is not a {kind.__name__}: the IR holds {what}s as data "
                               f"(ipnet_cosim.circuits.ir.{kind.__name__}), the writers turn them into text")
    if not isinstance(circuit.options, SolverOptions):
        raise NetlistError(f"options {circuit.options!r} must be SolverOptions(reltol=..., klu=...)")
    if circuit.tran is not None and circuit.dc is not None:
        raise NetlistError("a circuit runs one analysis: a transient or a DC sweep, not both")
    _check_names(circuit.elements)
    elements = flatten_circuit(circuit)
    sources = {e.name.lower() for e in elements if e.prefix == "V"}
    touches: dict[str, int] = {}
    dc = nx.Graph()
    dc.add_node(GROUND)
    for e in elements:
        for n in e.nodes():
            touches[n] = touches.get(n, 0) + 1
            dc.add_node(n)
        for a, b in e.dc_pairs():
            dc.add_edge(a, b)
        if isinstance(e, CurrentMirror) and e.control.lower() not in sources:
            raise NetlistError(f"{e.name} mirrors the current of '{e.control}', which is not a voltage source "
                               f"of this circuit; add a 0 V sense source named {e.control}")
    outputs = {n for e in elements if isinstance(e, MTJNeuronInstance) for n in e.outputs()}
    for node, count in touches.items():
        if node != GROUND and count < 2 and node not in outputs:
            owner = next(e.name for e in elements if node in e.nodes())
            raise NetlistError(f"node '{node}' is floating: only {owner} connects to it")
    grounded = nx.node_connected_component(dc, GROUND)
    for node in touches:
        if node not in grounded:
            owner = next(e.name for e in elements if node in e.nodes())
            raise NetlistError(f"node '{node}' (at {owner}) has no DC path to ground; ngspice would find a "
                               f"singular matrix. Connect it through a resistor or source")
    driven = {e.n_to for e in elements if isinstance(e, CurrentMirror)} | \
             {e.n_from for e in elements if isinstance(e, CurrentMirror)} | \
             {e.out for e in elements if isinstance(e, NeuronDriveInstance)}
    for e in elements:
        if isinstance(e, MTJNeuronInstance) and e.p not in driven and touches.get(e.p, 0) < 2:
            raise NetlistError(f"neuron {e.name} is unconnected: nothing drives its input node '{e.p}'")
