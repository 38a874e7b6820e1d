"""ngspice writer for the circuit IR: a pure function from :class:`~ipnet_cosim.circuits.ir.Circuit` to text.

Deterministic: elements in declared order, numbers by the one formatter
(:func:`ipnet_cosim.device.units.spice_number`), ``\\n`` line ends, no timestamps. The compiled
neuron model is loaded by the runner (``osdi`` command) or by a ``pre_osdi`` line in a
``.control`` block when ``osdi_path`` is given (for running the file with the ngspice program).
"""

from __future__ import annotations


from ipnet_cosim.device.errors import NetlistError
from ipnet_cosim.device.units import continuation_lines
from ipnet_cosim.device.units import spice_number as num
from ipnet_cosim.circuits.ir import (Circuit, CurrentMirror, CurrentSource, MTJNeuronInstance, ModelCard,
                                        NeuronDriveInstance, PulseSource, RandomSource, Resistor, Save, SolverOptions,
                                        SubcircuitInstance, VoltageSource, validate_circuit)


def format_element(e) -> list[str]:
    """The netlist line(s) of one element."""
    if isinstance(e, Resistor):
        if not e.r_ohm > 0:
            raise NetlistError(f"{e.name}: resistance {e.r_ohm} ohm must be positive")
        return [f"{e.name} {e.n1} {e.n2} {num(e.r_ohm)}"]
    if isinstance(e, (VoltageSource, CurrentSource)):
        a, b, dc = (e.n_plus, e.n_minus, e.dc_v) if isinstance(e, VoltageSource) else (e.n_from, e.n_to, e.dc_a)
        if e.pwl is None:
            return [f"{e.name} {a} {b} {num(dc)}"]
        times = [t for t, _ in e.pwl]
        if any(t1 <= t0 for t0, t1 in zip(times, times[1:])):
            raise NetlistError(f"{e.name}: PWL times must increase strictly")
        return continuation_lines(f"{e.name} {a} {b} PWL(", [f"{num(t)} {num(v)}" for t, v in e.pwl], ")")
    if isinstance(e, PulseSource):
        return [f"{e.name} {e.n_plus} {e.n_minus} PULSE({num(e.v0_v)} {num(e.v1_v)} {num(e.delay_s)} "
                f"{num(e.rise_s)} {num(e.fall_s)} {num(e.width_s)} {num(e.period_s)})"]
    if isinstance(e, CurrentMirror):
        return [f"{e.name} {e.n_from} {e.n_to} {e.control} {num(e.gain)}"]
    if isinstance(e, MTJNeuronInstance):
        return [f"{e.name} {e.p} {e.n} {e.u} {e.rst} {e.th} {e.st} {e.model}"]
    if isinstance(e, NeuronDriveInstance):
        return [f"{e.name} {e.inp} {e.out} {e.model}"]
    if isinstance(e, SubcircuitInstance):
        return continuation_lines(e.name, list(e.nodes_) + [e.subckt], "")
    if isinstance(e, RandomSource):       # TRRANDOM type 1: uniform, amplitude (hi-lo)/2 about (hi+lo)/2
        return [f"{e.name} {e.n_plus} {e.n_minus} DC 0 TRRANDOM(1 {num(e.interval_s)} 0 "
                f"{num((e.hi_v - e.lo_v) / 2)} {num((e.hi_v + e.lo_v) / 2)})"]
    raise NetlistError(f"no ngspice syntax for element type {type(e).__name__}")


def format_model(card: ModelCard) -> str:
    """``.model <name> <module> p=v ...`` (one line, values by the one number formatter)."""
    values = "".join(f" {k}={num(v)}" for k, v in card.params)
    return f".model {card.name} {card.module}{values}"


def format_save(save: Save) -> str:
    """A save as ngspice names the vector: ``v(node)``, ``i(source)`` (``i(v.x1.vs)`` inside a subcircuit
    instance), ``instance#var`` for a device's internal variable."""
    if save.kind == "v":
        return f"v({save.target})"
    if save.kind == "i":
        parts = save.target.split(".")
        if len(parts) > 1:               # ngspice names a source inside instance x1 as v.x1.vname
            return f"i({parts[-1][0].lower()}.{'.'.join(parts)})"
        return f"i({save.target})"
    return f"{save.target.lower()}#{save.var}"


def format_options(options: SolverOptions) -> str:
    return f".options reltol={num(options.reltol)}" + (" klu" if options.klu else "")


def format_ngspice(circuit: Circuit, osdi_path: str | None = None, validate: bool = True,
                   control: tuple[str, ...] = ()) -> str:
    """The circuit as an ngspice netlist (validated first unless ``validate=False``); ``control``
    lines follow ``pre_osdi`` in the ``.control`` block (e.g. ``run``: a control block stops batch
    mode from running the analyses by itself)."""
    if validate:
        validate_circuit(circuit)
    lines = [f"* {circuit.title}"]
    lines += [f"* {c}" for c in circuit.comments]
    lines += [format_model(m) for m in circuit.models]
    for sub in circuit.subcircuits:
        lines += continuation_lines(f".subckt {sub.name}", list(sub.ports), "")
        for e in sub.elements:
            lines += format_element(e)
        lines.append(f".ends {sub.name}")
    for e in circuit.elements:
        lines += format_element(e)
    lines.append(format_options(circuit.options))
    if circuit.saves:
        lines += continuation_lines(".save", [format_save(x) for x in circuit.saves])
    if circuit.tran is not None:
        t = circuit.tran
        lines.append(f".tran {num(t.step_s)} {num(t.stop_s)} 0 {num(t.max_step_s)}")
    if circuit.dc is not None:
        d = circuit.dc
        lines.append(f".dc {d.source} {num(d.start_v)} {num(d.stop_v)} {num(d.step_v)}")
    if osdi_path is not None:
        lines += [".control", f"pre_osdi {osdi_path}", *control, ".endc"]
    lines.append(".end")
    return "\n".join(lines) + "\n"
