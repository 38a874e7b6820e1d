"""Circuit IR, validation and the ngspice writer; a crossbar slice in ngspice against the PyTorch twin."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.compiler import NEURON_MODULE
from ipnet_cosim.device.errors import NetlistError
from ipnet_cosim.models.neuron import ThermalMTJNeuron
from ipnet_cosim.circuits.ir import (Circuit, CurrentMirror, MTJNeuronInstance, ModelCard, PulseSource, Resistor,
                                        Save, Transient, VoltageSource)
from ipnet_cosim.circuits.ngspice import format_ngspice


def crossbar_slice(rows=6, cols=3, steps=12, seed=0):
    """Rows driven by read-voltage pulses, differential columns into 0 V sense sources, mirrored
    (I+ - I-) into thermal MTJ neurons: the neuron interface of the crossbar mapping."""
    card = DeviceCard()
    t = card.timing
    rng = np.random.default_rng(seed)
    w = rng.normal(0.4, 0.5, (rows, cols))
    x = (rng.random((steps, rows)) < 0.5).astype(float)
    v_read = t.v_read_v
    k = 150e-6 / v_read
    g_plus = 1e-6 + np.maximum(w, 0) * k
    g_minus = 1e-6 + np.maximum(-w, 0) * k
    els = []
    for i in range(rows):
        pts = [(0.0, 0.0)]
        for s in range(steps):
            if x[s, i]:
                t0 = s * t.t_step_s
                if pts[-1][0] >= t0:
                    pts.pop()
                pts += [(t0, 0.0), (t0 + t.t_rise_s, v_read), (t0 + t.t_pulse_s, v_read),
                        (t0 + t.t_pulse_s + t.t_fall_s, 0.0)]
        els.append(VoltageSource(f"Vr{i}", f"r{i}", "0", pwl=tuple(pts)))
    for j in range(cols):
        for i in range(rows):
            els += [Resistor(f"Rp{i}_{j}", f"r{i}", f"cp{j}", 1 / g_plus[i, j]),
                    Resistor(f"Rm{i}_{j}", f"r{i}", f"cm{j}", 1 / g_minus[i, j])]
        els += [VoltageSource(f"Vsp{j}", f"cp{j}", "0"), VoltageSource(f"Vsm{j}", f"cm{j}", "0"),
                CurrentMirror(f"Fp{j}", "0", f"a{j}", f"Vsp{j}", 1.0),
                CurrentMirror(f"Fm{j}", "0", f"a{j}", f"Vsm{j}", -1.0),
                MTJNeuronInstance(f"N{j}", f"a{j}", "0", f"u{j}", "rst", f"th{j}", f"st{j}", "mtjn"),
                VoltageSource(f"Vu{j}", f"u{j}", "0", dc_v=0.5)]
    td = t.t_step_s - t.t_reset_s - t.t_fall_s
    els.append(PulseSource("Vrst", "rst", "0", 0.0, t.v_reset_v, td, t.t_rise_s, t.t_fall_s,
                           t.t_reset_s - t.t_rise_s, t.t_step_s))
    ms = card.max_time_step_s
    circuit = Circuit("crossbar slice", tuple(els), models=(ModelCard("mtjn", NEURON_MODULE, card.mtj.model_params()),),
                      saves=tuple(Save.v(f"st{j}") for j in range(cols)), tran=Transient(ms, steps * t.t_step_s, ms))
    currents = v_read * x @ (g_plus - g_minus)
    read_times = np.arange(steps) * t.t_step_s + td
    return circuit, currents, read_times, card


def test_writer_is_deterministic_and_wraps_long_pwl():
    circuit, *_ = crossbar_slice()
    a, b = format_ngspice(circuit), format_ngspice(crossbar_slice()[0])
    # the model card as data is written exactly as the device card's own ngspice line
    assert DeviceCard().mtj.model_card("mtjn", NEURON_MODULE) in a.splitlines()
    assert a == b
    assert a.endswith(".end\n") and "\r" not in a
    assert all(len(line) < 400 for line in a.splitlines() if not line.startswith(".model"))   # PWL wrapped
    assert format_ngspice(circuit, osdi_path="/x/mtj.osdi").splitlines()[-4:] == \
        [".control", "pre_osdi /x/mtj.osdi", ".endc", ".end"]


@pytest.mark.ngspice
def test_crossbar_slice_in_ngspice_spikes_like_the_twin(osdi_path):
    from ipnet_cosim.circuits.runner import run_netlist
    circuit, currents, read_times, card = crossbar_slice()
    waves = run_netlist(format_ngspice(circuit), [osdi_path])
    spice = np.stack([waves.at(f"st{j}", read_times) > 0.5 for j in range(currents.shape[1])]).T
    twin, _ = ThermalMTJNeuron(card)(torch.tensor(currents, dtype=torch.float64))
    assert 0 < spice.sum() < spice.size
    assert np.array_equal(spice, twin.numpy() > 0.5)


@pytest.mark.parametrize("extra, match", [
    ([Resistor("Rfl", "r0", "nowhere", 1e3)], "floating"),
    ([Resistor("Rp0_0", "r0", "0", 1.0)], "used twice"),
    ([Resistor("rp0_0", "r0", "0", 1.0)], "used twice"),
    ([CurrentMirror("Fz", "0", "a0", "Vnone", 1.0)], "Vnone"),
    ([Resistor("Ra", "i1", "i2", 1.0), Resistor("Rb", "i1", "i2", 2.0)], "no DC path"),
    ([MTJNeuronInstance("Nq", "q", "0", "u0", "rst", "thq", "stq", "mtjn")], "floating"),
    ([Resistor("Xr", "r0", "0", 1.0)], "illegal"),
    ([Resistor("Rbad", "r0", "a-b", 1.0)], "illegal"),
])
def test_validation_names_the_element(extra, match):
    circuit, *_ = crossbar_slice(rows=2, cols=1, steps=2)
    with pytest.raises(NetlistError, match=match):
        format_ngspice(dataclasses.replace(circuit, elements=circuit.elements + tuple(extra)))


def test_bad_values_are_refused():
    circuit, *_ = crossbar_slice(rows=2, cols=1, steps=2)
    with pytest.raises(NetlistError, match="positive"):
        format_ngspice(dataclasses.replace(circuit, elements=circuit.elements + (Resistor("Rz", "r0", "0", 0.0),)))
    with pytest.raises(NetlistError, match="must be positive"):
        nan_resistor = Resistor("Rn", "r0", "0", float("nan"))
        format_ngspice(dataclasses.replace(circuit, elements=circuit.elements + (nan_resistor,)))
    with pytest.raises(NetlistError, match="increase"):
        format_ngspice(dataclasses.replace(circuit, elements=circuit.elements + (
            VoltageSource("Vp", "r0", "0", pwl=((0.0, 0.0), (0.0, 1.0))),)))


def test_drive_stage_element_validates_and_writes_in_both_dialects():
    from ipnet_cosim.circuits.ir import NeuronDriveInstance, validate_circuit
    from ipnet_cosim.circuits.vacask import format_vacask
    card = DeviceCard()
    els = (VoltageSource("Vs", "s", "0"), CurrentMirror("F1", "0", "b0", "Vs", 1.0),
           NeuronDriveInstance("ND0", "b0", "a0", "drv"),
           MTJNeuronInstance("N0", "a0", "0", "u", "rst", "th0", "st0", "mtjn"),
           VoltageSource("Vu", "u", "0", dc_v=0.5), VoltageSource("Vrst", "rst", "0"), Resistor("Rs", "s", "0", 1e3))
    models = (ModelCard("mtjn", NEURON_MODULE, card.mtj.model_params()),
              ModelCard("drv", "ipnet_neuron_drive", card.drive.model_params(card.mtj)))
    circuit = Circuit("drive", els, models=models, tran=Transient(1e-12, 1e-9, 1e-12))
    validate_circuit(circuit)               # the drive's output counts as driving the neuron
    text = format_ngspice(circuit)
    assert "\nND0 b0 a0 drv\n" in text and ".model drv ipnet_neuron_drive i_max_a=" in text
    vac = format_vacask(circuit, "lib.osdi")
    assert "nd0 (b0 a0) drv" in vac and "model drv ipnet_neuron_drive" in vac
    # without the drive the neuron input is undriven: named
    undriven = dataclasses.replace(circuit, elements=tuple(e for e in els if e.name != "ND0"))
    with pytest.raises(NetlistError, match="floating|unconnected"):
        validate_circuit(undriven)


def test_models_saves_and_options_are_data_that_each_writer_translates():
    """The IR holds no simulator text: a string where a ModelCard or Save belongs is refused; each writer
    spells the same save, option and model its own way."""
    from ipnet_cosim.circuits.ir import DCSweep, RandomSource, SolverOptions, validate_circuit
    from ipnet_cosim.circuits.ngspice import format_save
    from ipnet_cosim.circuits.vacask import format_vacask
    circuit, *_ = crossbar_slice(rows=2, cols=1, steps=2)
    for bad in ({"models": (".model mtjn ipnet_mtj_neuron",)}, {"saves": ("v(st0)",)},
                {"options": (("reltol", 1e-4),)}):
        with pytest.raises(NetlistError, match="ModelCard|Save|SolverOptions"):
            validate_circuit(dataclasses.replace(circuit, **bad))
    assert [format_save(x) for x in (Save.v("a0"), Save.i("Vs"), Save.i("X1.Vsq"), Save.state("N0", "h"))] == \
        ["v(a0)", "i(Vs)", "i(v.X1.Vsq)", "n0#h"]
    c = dataclasses.replace(circuit, saves=(Save.v("st0"), Save.i("Vsp0")), options=SolverOptions(1e-5, klu=True))
    ng, vc = format_ngspice(c), format_vacask(c, "lib.osdi")
    assert ".options reltol=1e-05 klu" in ng and ".save\n+ v(st0) i(Vsp0)\n" in ng
    assert "  options reltol=1e-05" in vc and '  save v("st0") i("vsp0")' in vc and "// ngspice option 'klu'" in vc
    with pytest.raises(NetlistError, match="internal variable"):
        format_vacask(dataclasses.replace(c, saves=(Save.state("N0", "h"),)), "lib.osdi")
    with pytest.raises(NetlistError, match="DC sweep"):
        format_vacask(dataclasses.replace(c, tran=None, dc=DCSweep("Vsp0", -1, 1, 0.1)), "lib.osdi")
    rnd = dataclasses.replace(c, elements=c.elements + (RandomSource("Vq", "q", "0", 0.0, 1.0, 1e-9),
                                                         Resistor("Rq", "q", "0", 1.0)))
    assert "Vq q 0 DC 0 TRRANDOM(1 1e-09 0 0.5 0.5)" in format_ngspice(rnd)
    with pytest.raises(NetlistError, match="RandomSource"):
        format_vacask(rnd, "lib.osdi")
    with pytest.raises(NetlistError, match="parameter"):
        ModelCard("m", "mod", (("tmr0", "1.5k"),))
    with pytest.raises(NetlistError, match="one analysis"):
        validate_circuit(dataclasses.replace(c, dc=DCSweep("Vsp0", -1, 1, 0.1)))
