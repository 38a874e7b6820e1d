"""Bit slicing: a weight written in base ``levels`` over several cells per sign, the partial sums combined by
mirrors of gain ``L^s``; the same devices in map_weights and the PyTorch hardware model, the exact combination
in netlists and port models, and the circuit's spikes equal to the hardware model's (binary STT-MRAM)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from ipnet_cosim.device.errors import ConfigError  # noqa: E402
from ipnet_cosim.device.synapse import synapse_card  # noqa: E402
from ipnet_cosim.netlist_gen.conductance import (ConductanceOptions, map_weights, slice_digits,  # noqa: E402
                                                 variation_factors, variation_offsets_s)
from ipnet_cosim.chip.crossbar_torch import conductances_torch  # noqa: E402
from ipnet_cosim.netlist_gen.mapping import MappingOptions  # noqa: F401

V_READ, SCALE = 0.2, 150e-6


@pytest.mark.parametrize("levels, slices", [(2, 1), (2, 3), (2, 5), (3, 2), (5, 2)])
def test_digits_rebuild_the_code_and_the_devices_realise_the_quantized_weight(levels, slices):
    rng = np.random.default_rng(levels * 10 + slices)
    q = rng.integers(0, levels ** slices, size=(7, 5))
    d = slice_digits(q, levels, slices).reshape(7, 5, slices)
    assert d.min() >= 0 and d.max() <= levels - 1
    assert np.array_equal((d * levels ** np.arange(slices)).sum(axis=-1), q)
    co = ConductanceOptions(g_min_s=1e-4, g_max_s=2.8e-4, levels=levels, slices=slices)
    w = rng.normal(0.0, 1.0, (9, 4))
    gmap = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=co)
    assert gmap.g_plus_s.shape == (9, 4 * slices)
    assert gmap.slice_gains == tuple(float(levels ** s) for s in range(slices))
    top = levels ** slices - 1
    w_max = np.abs(w).max()
    expected = np.round(w / w_max * top) * w_max / top
    np.testing.assert_allclose(gmap.effective_weights(V_READ, SCALE), expected, rtol=1e-9, atol=1e-12 * w_max)
    # every device sits on one of the cell's levels
    step = (co.g_max_s - co.g_min_s) / (levels - 1)
    codes = (gmap.g_plus_s - co.g_min_s) / step
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)
    assert ConductanceOptions(levels=levels, slices=slices).weight_levels == 2 * top + 1


def test_one_slice_is_the_plain_mapping():
    w = np.random.default_rng(1).normal(0.0, 1.0, (12, 6))
    a = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=ConductanceOptions(levels=16, slices=1))
    b = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=ConductanceOptions(levels=16))
    assert np.array_equal(a.g_plus_s, b.g_plus_s) and a.k_s == b.k_s and a.slice_gains == (1.0,)


@pytest.mark.parametrize("kw, match", [
    ({"slices": 3}, r"slices = 3 needs devices with levels"),
    ({"slices": 0, "levels": 2}, r"slices \(0\) must be an integer from 1 to 16"),
    ({"slices": 2.0, "levels": 2}, r"slices \(2.0\) must be an integer"),
])
def test_bad_slicing_is_refused(kw, match):
    with pytest.raises(ConfigError, match=match):
        ConductanceOptions(**kw)


def test_a_tile_must_hold_all_slices_of_a_weight():
    co = ConductanceOptions(levels=2, slices=4)
    with pytest.raises(ConfigError, match=r"tile_cols = 6 is below the 8 physical columns"):
        MappingOptions(conductance=co, tile_cols=6)
    assert MappingOptions(conductance=co, tile_cols=20).weight_cols_per_tile == 2


def test_the_hardware_model_slices_like_export_and_passes_the_straight_through_gradient():
    card = synapse_card("stt_mram")
    co = ConductanceOptions.from_synapse(card, seed=2, slices=4)
    w = np.random.default_rng(3).normal(0.0, 1.0, (20, 6))
    gmap = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=co)
    shape = gmap.g_plus_s.shape
    g_p, g_m, k = conductances_torch(torch.tensor(w), co, variation_factors(shape, co), variation_offsets_s(shape, co))
    np.testing.assert_allclose(g_p.numpy(), gmap.g_plus_s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g_m.numpy(), gmap.g_minus_s, rtol=1e-15, atol=0)
    assert float(k) == pytest.approx(gmap.k_s, rel=1e-15, abs=0)
    # straight-through: the slice-weighted sum passes d(k w)/dw, as one continuous device would
    ideal = ConductanceOptions.from_synapse(card, slices=4, variation_sigma=0.0)
    wt = torch.tensor(w, requires_grad=True)
    g_p, g_m, k = conductances_torch(wt, ideal)
    gains = torch.tensor(ideal.slice_gains, dtype=torch.float64)
    eff = ((g_p - g_m).reshape(20, 6, 4) * gains).sum(-1)
    eff.sum().backward()
    full = k.item() * float(np.abs(w).max())                   # k = full / max|W|
    ref = torch.tensor(w, requires_grad=True)
    (ref * full / ref.abs().max()).sum().backward()
    torch.testing.assert_close(wt.grad, ref.grad, rtol=1e-12, atol=1e-18)


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_binary_mram_with_bit_slicing_circuit_spikes_equal_the_hardware_model(tmp_path):
    """Binary STT-MRAM cells (card 'stt_mram': on/off 2.8, 5 % variation), 3 slices per sign (15 weight levels),
    tiled with 1 ohm wires: the netlist mirrors slice s with gain 2^s, the port model holds 6 physical columns per
    weight, and ngspice's spikes equal the PyTorch hardware model's in every layer (both samples)."""
    from test_hardware import _small_net_and_frames
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.ports import UnitPorts
    from ipnet_cosim.simulation.simulate import simulate_export
    ck_path, net, frames = _small_net_and_frames(tmp_path)
    options = MappingOptions.for_synapse(synapse_card("stt_mram"), seed=1, conductance_overrides={"slices": 3},
                                         tile_rows=16, tile_cols=12, r_wire_ohm=1.0, r_driver_ohm=10.0)
    export_network(ck_path, tmp_path / "exp", samples=[0, 1], options=options)
    man = read_export(tmp_path / "exp").manifest
    layer0 = man.layers[0]
    assert layer0.slice_gains == (1.0, 2.0, 4.0)
    assert layer0.devices == 2 * 3 * int(np.prod(layer0.matrix_shape)) * layer0.positions
    u = man.units_of(0)[0]
    assert all(t.size[1] == 6 * u.n_cols for t in u.tiles)
    assert UnitPorts.load(tmp_path / "exp" / u.ports).row_col_s.shape[1] == 6 * u.n_cols
    netlist = (tmp_path / "exp" / u.netlist).read_text()
    lines = re.finditer(r"^Fp0_(\d+) 0 \S+ Vsp0_\d+ (\S+)$", netlist, re.M)
    gains = {int(m.group(1)): float(m.group(2)) for m in lines}
    base = layer0.mirror_gain
    assert [round(gains[k] / base, 9) for k in range(3)] == [1.0, 2.0, 4.0]
    res = simulate_export(tmp_path / "exp", progress=False, workers=2)
    summary = res.summary
    assert summary.torch is not None and summary.torch.model.startswith("hardware")
    for layer in summary.layers:
        assert layer.compared is not None and layer.compared.mismatches == 0, layer
    assert summary.layers[0].fire_rate > 0.01          # the agreement is not that of silent layers
    assert summary.torch.classes_agree == 2
    mapping = json.loads((tmp_path / "exp" / "manifest.json").read_text())["mapping_options"]
    assert mapping["conductance"]["slices"] == 3 and mapping["synapse"]["name"] == "stt_mram"
    # the report names the card and the slicing, and prices every one of the 6 cells per weight
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    report, data = build_report(tmp_path / "exp")
    syn = report["synapse"]
    assert syn["name"] == "stt_mram" and syn["overrides"] == [] and syn["levels"]["value"] == 2
    assert syn["mapping"]["cells_per_weight"]["value"] == 6 and syn["mapping"]["weight_levels"]["value"] == 15
    devices = sum(layer.devices for layer in man.layers)
    cell = synapse_card("stt_mram").cell_area_m2
    assert report["area"]["breakdown"]["crossbar_cells"]["value"] == pytest.approx(devices * cell, rel=1e-12, abs=0)
    assert report["energy"]["totals"]["crossbar_read"]["value"] > 0
    md = write_report(report, data, tmp_path / "rep")["md"].read_text()
    assert "| technology | STT-MRAM ('stt_mram')" in md and "Bit slicing: 3 cells per weight sign" in md
