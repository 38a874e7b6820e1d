"""The mapped crossbar in PyTorch (chip/crossbar_torch.py): the conductances export writes, the exact column
currents of tiles with wires (against the reduction, the full ladder in ngspice), and gradients through
quantization and the IR-drop model."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.netlist_gen.contract import SimFiles
from ipnet_cosim.netlist_gen.conductance import ConductanceOptions, map_weights
from ipnet_cosim.chip.crossbar_torch import (wired_row_col, column_currents_a, conductances_torch, tile_row_col_s,
                                              variation_factors)
from ipnet_cosim.netlist_gen.reduction import reduce_tile

NONIDEAL = ConductanceOptions(levels=16, variation_sigma=0.05, seed=3)


def _weights(rows=9, cols=4, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.7, (rows, cols))


def test_conductances_equal_the_exported_ones():
    w = _weights()
    ref = map_weights(w, v_read_v=0.2, current_scale_a=150e-6, options=NONIDEAL)
    g_p, g_m, k = conductances_torch(torch.tensor(w), NONIDEAL, variation_factors(w.shape, NONIDEAL))
    np.testing.assert_allclose(g_p.numpy(), ref.g_plus_s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g_m.numpy(), ref.g_minus_s, rtol=1e-15, atol=0)
    assert float(k) == pytest.approx(ref.k_s, rel=1e-15, abs=0)
    other = conductances_torch(torch.tensor(w), NONIDEAL, variation_factors(w.shape, NONIDEAL, seed=99))[0]
    assert not np.allclose(other.numpy(), ref.g_plus_s, rtol=1e-3, atol=0)          # another chip, other devices


@pytest.mark.parametrize("scale", [0.0, 5e-324, 1e-310])
def test_a_numerically_zero_layer_maps_as_export_maps_it(scale):
    w = _weights() * scale                                     # all zero, or subnormal: span / w_max overflows
    ref = map_weights(w, v_read_v=0.2, current_scale_a=150e-6, options=NONIDEAL)
    g_p, g_m, k = conductances_torch(torch.tensor(w), NONIDEAL, variation_factors(w.shape, NONIDEAL))
    assert torch.isfinite(g_p).all() and torch.isfinite(g_m).all() and math.isfinite(float(k))
    np.testing.assert_allclose(g_p.numpy(), ref.g_plus_s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g_m.numpy(), ref.g_minus_s, rtol=1e-15, atol=0)
    assert float(k) == pytest.approx(ref.k_s, rel=1e-15, abs=0)


@pytest.mark.parametrize("r_wire, r_driver", [(1.0, 0.0), (1.0, 30.0), (20.0, 5.0), (0.0, 30.0), (0.0, 0.0)])
def test_tile_port_conductances_equal_the_reduction(r_wire, r_driver):
    w = _weights(12, 5, seed=1)
    g = map_weights(w, v_read_v=0.2, current_scale_a=150e-6, options=NONIDEAL)
    a = tile_row_col_s(torch.tensor(g.g_plus_s), torch.tensor(g.g_minus_s), r_wire, r_driver).numpy()
    if r_wire > 0:
        ref = reduce_tile(g.g_plus_s, g.g_minus_s, r_wire, r_driver).row_col      # rounded to 12 digits
    else:
        cells = np.stack([g.g_plus_s, g.g_minus_s], axis=-1).reshape(12, -1)
        ref = cells / (1.0 + r_driver * cells.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(a, ref, rtol=1e-10, atol=0)


def test_batched_tiles_equal_the_reduction_tile_by_tile():
    """Tiles of one shape go through as a batch (a convolution's positions); each equals the sparse Schur
    reduction of its own ladder, for a tile wider than tall and one taller than wide."""
    rng = np.random.default_rng(7)
    for rows, cols in ((9, 13), (31, 3)):
        g_p = rng.uniform(1e-6, 1e-3, (3, rows, cols))
        g_m = rng.uniform(1e-6, 1e-3, (3, rows, cols))
        a = tile_row_col_s(torch.tensor(g_p), torch.tensor(g_m), 1.5, 40.0).numpy()
        assert a.shape == (3, rows, 2 * cols)
        for b in range(3):
            ref = reduce_tile(g_p[b], g_m[b], 1.5, 40.0).row_col
            np.testing.assert_allclose(a[b], ref, rtol=1e-10, atol=0)


def test_the_ir_drop_model_has_the_exact_gradient():
    """Autograd through the row-by-row elimination against finite differences (torch.autograd.gradcheck),
    a batch of two tiles, conductances in units of 100 uS so that the default step is small against them."""
    rng = np.random.default_rng(4)
    g0 = torch.tensor(rng.uniform(0.05, 1.0, (2, 3, 4)), requires_grad=True)

    def f(x):
        return wired_row_col(x * 1e-4, 2.0, 7.0) * 1e4

    assert torch.autograd.gradcheck(f, (g0,), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_gradients_flow_through_quantization_and_wires():
    w = torch.tensor(_weights(8, 3, seed=5), requires_grad=True)
    g_p, g_m, k = conductances_torch(w, NONIDEAL, variation_factors(tuple(w.shape), NONIDEAL))
    levels = torch.tensor(np.random.default_rng(6).integers(0, 2, (4, 8)) * 0.2)
    cur = column_currents_a(levels, tile_row_col_s(g_p, g_m, 1.0, 30.0))
    cur.sum().backward()
    assert torch.isfinite(w.grad).all() and (w.grad != 0).sum() > 0.8 * w.numel()
    # the straight-through estimator: the quantized map's gradient is the continuous map's (no variation,
    # no wires, no clipping at G_max): d(I+ - I-)/dW = k v per active row
    w2 = torch.tensor(_weights(8, 3, seed=5) * 0.5, requires_grad=True)
    plain = dataclasses.replace(NONIDEAL, variation_sigma=0.0)
    gq = conductances_torch(w2, plain)
    gc = conductances_torch(w2, dataclasses.replace(plain, levels=None))
    grads = []
    for g_p, g_m, _ in (gq, gc):
        w2.grad = None
        column_currents_a(levels, tile_row_col_s(g_p, g_m)).sum().backward()
        grads.append(w2.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=0)


@pytest.mark.ngspice
def test_column_currents_equal_ngspice_on_a_tiled_layer_with_wires():
    """A layer of 20 inputs x 6 outputs cut into row tiles of 8 (quantized, 5 % lognormal variation, 1 ohm
    wire segments, 30 ohm drivers), written as the full ladder netlist and solved by ngspice at a DC point:
    every tile's differential sense current equals the PyTorch model's to 1e-9 relative."""
    from ipnet_cosim.circuits.runner import run_netlist
    from ipnet_cosim.circuits.ir import DCSweep, Save, VoltageSource
    from ipnet_cosim.netlist_gen.mapping import BIAS, LayerMatrix, MappingOptions, conductances, layer_units
    from ipnet_cosim.netlist_gen.unit_circuits import unit_circuit
    from ipnet_cosim.circuits.ngspice import format_ngspice
    card = DeviceCard()
    rng = np.random.default_rng(7)
    n_in, n_out = 20, 6
    lm = LayerMatrix(rng.normal(0, 0.6, (n_in + 1, n_out)), np.array([list(range(n_in)) + [BIAS]]),
                     np.arange(n_out)[None, :], "hardware test")
    options = MappingOptions(tile_rows=8, tile_cols=16, r_wire_ohm=1.0, r_driver_ohm=30.0, wire_model="ladder",
                             conductance=NONIDEAL)
    (unit,) = layer_units(0, lm, options)
    gmap = conductances(lm, 0, 0, v_read_v=card.timing.v_read_v, current_scale_a=150e-6, options=options,
                        name="hardware test")
    circuit = unit_circuit(unit, lm, gmap, unit_kind="integrate", card=card, fast_card=card, n_steps=1,
                           options=options, title="hardware test")
    x = (rng.random(n_in + 1) < 0.5) * card.timing.v_read_v
    x[-1] = card.timing.v_read_v                                   # the bias row
    els = tuple(dataclasses.replace(e, dc_v=float(x[int(e.name[2:])]), pwl=None)
                if isinstance(e, VoltageSource) and e.name.startswith("Vx") else e for e in circuit.elements)
    dc_source = next(e for e in els if isinstance(e, VoltageSource) and e.name.startswith("Vx"))
    v0 = dc_source.dc_v
    deck = format_ngspice(dataclasses.replace(
        circuit, elements=els, tran=None, dc=DCSweep(dc_source.name, v0, v0, 0.1),
        saves=tuple(Save.i(f"Vs{pm}{r}_{j}") for r in range(len(unit.row_blocks)) for j in range(n_out)
                    for pm in "pm")))
    waves = run_netlist(deck)
    # PyTorch: the same devices (the exported chip's, drawn for this layer and position), tile by tile
    xs = torch.tensor(x)
    for r, (r0, r1) in enumerate(unit.row_blocks):
        a = tile_row_col_s(torch.tensor(gmap.g_plus_s[r0:r1]), torch.tensor(gmap.g_minus_s[r0:r1]),
                           options.r_wire_ohm, options.r_driver_ohm)
        model = column_currents_a(xs[r0:r1], a).numpy()
        spice = np.array([waves[f"vsp{r}_{j}#branch"][0] - waves[f"vsm{r}_{j}#branch"][0] for j in range(n_out)])
        np.testing.assert_allclose(model, spice, rtol=1e-9, atol=1e-9 * np.abs(spice).max())


def assert_layer0_currents_equal_ports(export, man, net, frames, trace, units: int = 6) -> None:
    """The hardware model's layer-0 neuron input currents (sample 0 of ``trace``) equal those of the export's own
    port models (row levels x port conductances, G+ minus G-, times the mirror gain) to 1e-9, first ``units``."""
    from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v
    from ipnet_cosim.netlist_gen.ports import UnitPorts
    spikes0 = frames[0].reshape(frames.shape[1], -1).numpy().astype(float)
    for u in man.units_of(0)[:units]:
        ports = UnitPorts.load(export / u.ports)
        levels = row_levels_v(np.asarray(u.rows), spikes0, net.card.timing.v_read_v)
        phys = levels @ ports.row_col_s
        diff = (phys[:, 0::2] - phys[:, 1::2]) * man.layers[0].mirror_gain
        model = trace["input_currents_a"][0][:, 0].reshape(frames.shape[1], -1)[:, list(u.neurons)].numpy()
        np.testing.assert_allclose(model, diff, rtol=1e-9, atol=1e-9 * net.config.current_scale_a)


def _small_net_and_frames(tmp_path):
    from _small_net import SMALL_DATA, make_small_checkpoint
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import load_dataset
    ck_path = make_small_checkpoint(tmp_path / "ck")
    ck = load_checkpoint(ck_path)
    _, test = load_dataset(SMALL_DATA)
    return ck_path, ck.model.set_precision("exact").eval(), torch.as_tensor(test.frames[:2])


def test_evaluation_reuses_the_tiles_until_the_weights_or_the_chip_change(tmp_path):
    """Without autograd the solved tiles are kept between batches; an optimizer step (in-place) or another chip
    gives new ones, equal to a fresh computation."""
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    _, net, _ = _small_net_and_frames(tmp_path)
    layer = HardwareNet(net, MappingOptions(tile_rows=16, tile_cols=4, r_wire_ohm=1.0, conductance=NONIDEAL)).layers[0]
    with torch.no_grad():
        a, _ = layer.effective_matrix()
        assert layer.effective_matrix()[0] is a                                 # kept
        assert not torch.equal(layer.effective_matrix(7)[0], a)                 # another chip
        layer.view.module.weight.mul_(0.5)                                      # what an optimizer step does
        b, _ = layer.effective_matrix()
    assert not torch.equal(b, a)
    torch.testing.assert_close(b, layer.effective_matrix()[0].detach(), rtol=0, atol=0)   # autograd: computed afresh


def test_positions_in_chunks_equal_one_batch(tmp_path, monkeypatch):
    """Large convolutions eliminate their positions in memory-bounded chunks: the same result, to the bit."""
    from ipnet_cosim.chip import hardware_net
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    _, net, _ = _small_net_and_frames(tmp_path)
    options = MappingOptions(tile_rows=16, tile_cols=4, r_wire_ohm=1.0, conductance=NONIDEAL)
    with torch.no_grad():
        whole = hardware_net.HardwareNet(net, options).layers[0].effective_matrix()[0]
        monkeypatch.setattr(hardware_net, "TILE_BATCH_BYTES", 1)          # one position at a time
        chunked = hardware_net.HardwareNet(net, options).layers[0].effective_matrix()[0]
    assert whole.shape[0] > 1
    torch.testing.assert_close(chunked, whole, rtol=1e-14, atol=0)


def test_ideal_hardware_net_is_the_network(tmp_path):
    from ipnet_cosim.chip.hardware_net import HardwareNet
    _, net, frames = _small_net_and_frames(tmp_path)
    with torch.no_grad():
        ref, tr = net(frames, return_trace=True)
        hw, th = HardwareNet(net)(frames, return_trace=True)
    for a, b in zip(tr["input_currents_a"], th["input_currents_a"]):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(hw, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_hardware_net_predicts_the_nonideal_circuit(tmp_path):
    """16 levels, 5 % lognormal variation, 1 ohm wires and 30 ohm drivers on the small tiled net: the PyTorch
    hardware model gives the exported chip's layer-0 currents (the export's port models) to 1e-9 and the same
    spikes as ngspice in every layer."""
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.simulation.simulate import simulate_export
    ck_path, net, frames = _small_net_and_frames(tmp_path)
    options = MappingOptions(tile_rows=16, tile_cols=4, r_wire_ohm=1.0, r_driver_ohm=30.0, conductance=NONIDEAL)
    export_network(ck_path, tmp_path / "exp", samples=[0, 1], options=options)
    res = simulate_export(tmp_path / "exp", progress=False, compare=False, workers=2)
    hw = HardwareNet(net, options)
    with torch.no_grad():
        logits, trace = hw(frames, return_trace=True)
    man = read_export(tmp_path / "exp").manifest
    # layer-0 currents of the exported chip, from the export's own port models
    assert_layer0_currents_equal_ports(tmp_path / "exp", man, net, frames, trace)
    for s in (0, 1):
        with np.load(tmp_path / "exp" / "sim" / f"spikes_sample_{s:04d}.npz") as sim:
            for li, layer in enumerate(man.hidden_layers):
                circuit = sim[SimFiles.spike_key(layer.name)]
                model = trace["outputs"][li][:, s].reshape(circuit.shape[0], -1).numpy() > 0.5
                assert np.array_equal(model, circuit), (s, layer.name, int((model != circuit).sum()))
    from ipnet_cosim.simulation.compare import decide
    for s, e in enumerate(res.per_sample):        # and the class scores: the readout's charge
        np.testing.assert_allclose(e.scores, logits[s].numpy(), rtol=1e-6, atol=1e-9)
        assert decide(logits[s].numpy()) == e.predicted_class


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_finetune_records_its_hardware_and_export_warns_on_other_options(tmp_path, capsys):
    """One epoch of hardware-aware fine-tuning of the small net: the checkpoint round-trips its hardware
    configuration, export with the same options is silent and with other options warns (CLI), and a
    second fine-tune into the same folder is refused."""
    from ipnet_cosim.cli.app import main
    from ipnet_cosim.device.errors import CheckpointError
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.chip.finetune import TRAINING_CHIP_SEED_MIN, finetune_hardware
    from ipnet_cosim.netlist_gen.recorded_hardware import hardware_mismatch, hardware_of
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    ck_path, _, _ = _small_net_and_frames(tmp_path)
    options = MappingOptions(tile_rows=16, tile_cols=4, r_wire_ohm=1.0, conductance=NONIDEAL)
    code = main(["finetune", str(ck_path), "-o", str(tmp_path / "hw"), "--epochs", "1", "--batch-size", "8",
                 "--tile-rows", "16", "--tile-cols", "4", "--r-wire", "1", "--levels", "16", "--variation", "0.05",
                 "--variation-seed", "3", "--synapse", "ideal"])
    assert code == 0
    ck = load_checkpoint(tmp_path / "hw")
    metrics = ck.metrics
    # the recorded hardware accuracy is the exported chip's (chip seed 3, exact precision) on the whole test set
    from _small_net import SMALL_DATA, chip_scores
    from ipnet_cosim.models.datasets import load_dataset
    _, test = load_dataset(SMALL_DATA)
    predicted = chip_scores(ck.model, options, test.frames).argmax(dim=1).numpy()
    assert metrics["hardware_test_accuracy"] == pytest.approx(float((predicted == test.labels).mean()), abs=1e-12)
    assert metrics["hardware_test_accuracy_precision"].startswith("exact")
    assert "hardware_test_accuracy_source" in metrics
    hw = hardware_of(ck.raw)
    assert hw["mapping_options"] == options.to_dict() and hw["variation"] == "per_batch" and hw["epochs"] == 1
    assert str(TRAINING_CHIP_SEED_MIN) in hw["training_chips"]
    assert hardware_mismatch(ck.raw, options) is None
    assert hardware_mismatch(ck.raw, dataclasses.replace(options, wire_model="ladder")) is None   # same hardware
    assert "r_wire_ohm" in hardware_mismatch(ck.raw, dataclasses.replace(options, r_wire_ohm=2.0))
    # the synapse card is part of the hardware it was trained for (recorded, compared)
    from ipnet_cosim.device.synapse import synapse_card
    assert hw["mapping_options"]["synapse"]["name"] == "ideal"
    assert "synapse" in hardware_mismatch(ck.raw, dataclasses.replace(options, synapse=synapse_card("pcm")))
    capsys.readouterr()
    code = main(["export", str(tmp_path / "hw"), "-o", str(tmp_path / "exp"), "--samples", "0", "--tile-rows",
                 "16", "--tile-cols", "4", "--levels", "16", "--variation", "0.05", "--variation-seed", "3"])
    assert code == 0
    err = capsys.readouterr().err
    assert "fine-tuned for other hardware" in err and "r_wire_ohm" in err      # exported without the wires
    with pytest.raises(CheckpointError, match="exists"):
        finetune_hardware(ck_path, tmp_path / "hw", options, epochs=1)


def test_finetune_t_max_penalty_cools_the_junctions(tmp_path):
    """On a card whose t_max (420 K) the small net's hottest junctions exceed, fine-tuning with the junction
    penalty lowers the test set's junction excess well below what the same fine-tuning without it leaves; the
    penalty is recorded, and a bad weight is named before any work."""
    from _small_net import make_small_checkpoint
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.chip.finetune import finetune_hardware
    from ipnet_cosim.netlist_gen.recorded_hardware import hardware_of
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    base = DeviceCard()
    card = dataclasses.replace(base, limits=dataclasses.replace(base.limits, t_max_k=420.0))
    ck = make_small_checkpoint(tmp_path / "ck", card=card)
    runs = {pen: finetune_hardware(ck, tmp_path / f"ft{pen:g}", MappingOptions(), epochs=2, batch_size=8,
                                   t_max_penalty=pen) for pen in (0.0, 10.0)}
    assert runs[0.0]["junction_excess_before"] == runs[10.0]["junction_excess_before"] > 0.01
    assert runs[10.0]["junction_excess_after"] < 0.7 * runs[0.0]["junction_excess_after"]
    assert hardware_of(load_checkpoint(tmp_path / "ft10").raw)["t_max_penalty"] == 10.0
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="t_max_penalty"):
            finetune_hardware(ck, tmp_path / "never", MappingOptions(), t_max_penalty=bad)
    assert not (tmp_path / "never").exists()
