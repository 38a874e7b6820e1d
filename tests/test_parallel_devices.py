"""Cells of parallel devices (``ConductanceOptions.copies``, the multi-memristive synapse): the cell's conductance
is the sum of its devices, each drawn and clipped on its own; one device draws exactly as before copies existed;
the programming error of the cell's weight falls as 1/sqrt(copies); the hardware model sums as export does; a
chip of them has longer wire segments, its periphery sees the cell's current, and its area counts every device."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.interconnect import INTERCONNECT_28NM
from ipnet_cosim.device.synapse import synapse_card, synapse_presets
from ipnet_cosim.energy.area_layers import manifest_copies, manifest_currents
from ipnet_cosim.netlist_gen.conductance import (ConductanceOptions, map_weights, variation_factors,
                                                 variation_offsets_s)
from ipnet_cosim.chip.crossbar_torch import conductances_torch
from ipnet_cosim.netlist_gen.mapping import ANALOG_CHIP_COPIES, MappingOptions, chip_copies

V_READ, SCALE = 0.2, 1e-4
PCM = ConductanceOptions.from_synapse(synapse_card("pcm"), seed=5)


def test_a_cell_is_the_sum_of_its_devices_each_drawn_and_clipped():
    w = np.random.default_rng(0).normal(0.0, 1.0, (9, 4))
    one = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=dataclasses.replace(PCM, variation_sigma=0.0,
                                                                                             variation_sigma_s=0.0))
    co = dataclasses.replace(PCM, copies=3)
    cell = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=co)
    # by hand: the target of every device is the single device's, each device multiplied by its own factor, shifted
    # by its own offset and clipped, then summed
    f, o = variation_factors(w.shape, co), variation_offsets_s(w.shape, co)
    assert f.shape == o.shape == (2, 9, 4, 3)
    for sign, target, got in ((0, one.g_plus_s, cell.g_plus_s), (1, one.g_minus_s, cell.g_minus_s)):
        hand = np.clip(target[..., None] * f[sign] + o[sign], co.g_min_s, co.g_max_s).sum(axis=-1)
        np.testing.assert_array_equal(got, hand)
    assert cell.k_s == pytest.approx(3 * one.k_s, rel=1e-15, abs=0)
    assert cell.mirror_gain == pytest.approx(one.mirror_gain / 3, rel=1e-15, abs=0)
    # without variation the cell realises the weights exactly
    ideal = dataclasses.replace(co, variation_sigma=0.0, variation_sigma_s=0.0)
    np.testing.assert_allclose(map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=ideal)
                               .effective_weights(V_READ, SCALE), w, rtol=1e-12, atol=1e-12 * np.abs(w).max())


def test_one_device_per_cell_draws_as_before():
    w = np.random.default_rng(1).normal(0.0, 1.0, (7, 5))
    assert variation_factors(w.shape, PCM).shape == (2, 7, 5)
    g = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=PCM)
    noise = np.random.default_rng(PCM.seed).standard_normal((2, 7, 5))
    np.testing.assert_array_equal(variation_factors(w.shape, PCM), np.exp(PCM.variation_sigma * noise))
    assert np.all(g.g_plus_s <= PCM.g_max_s)
    assert "copies" not in PCM.to_dict() and dataclasses.replace(PCM, copies=2).to_dict()["copies"] == 2


def test_the_cells_programming_error_falls_as_one_over_sqrt_copies():
    """Additive programming error of devices programmed mid-range (no clip): the error of the cell's conductance,
    in weight units, is sigma_s sqrt(C) / (C k) = sqrt(1 / C) of one device's. (The pair's other device sits at
    G_min, where the clip makes its error one-sided; that part is left out here.)"""
    rng = np.random.default_rng(2)
    w = rng.uniform(0.3, 0.7, (200, 100))
    w[0, 0] = 1.0                                                    # the largest weight sets k
    base = dataclasses.replace(PCM, variation_sigma=0.0, g_min_s=1e-6, g_max_s=1e-4, variation_sigma_s=1e-6)
    errors = {}
    for c in (1, 4):
        g = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=dataclasses.replace(base, copies=c))
        errors[c] = float(np.std((g.g_plus_s - c * base.g_min_s) / g.k_s - w))
    # 2e4 draws: the standard error of a standard deviation is 1 / sqrt(2 n) = 0.5 %
    assert errors[1] == pytest.approx(1e-6 / (99e-6 / 1.0), rel=0.03)
    assert errors[4] / errors[1] == pytest.approx(0.5, rel=0.03)


def test_the_hardware_model_sums_the_devices_as_export_does():
    w = np.random.default_rng(3).normal(0.0, 1.0, (12, 6))
    co = dataclasses.replace(PCM, copies=4)
    gmap = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=co)
    shape = w.shape
    g_p, g_m, k = conductances_torch(torch.tensor(w), co, variation_factors(shape, co), variation_offsets_s(shape, co))
    np.testing.assert_allclose(g_p.numpy(), gmap.g_plus_s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g_m.numpy(), gmap.g_minus_s, rtol=1e-15, atol=0)
    assert float(k) == pytest.approx(gmap.k_s, rel=1e-15, abs=0)
    # per position leading axes (one chip per convolution position), as HardwareNet stacks them
    stacked = np.stack([variation_factors(shape, co, s) for s in (0, 1)])
    offsets = np.stack([variation_offsets_s(shape, co, s) for s in (0, 1)])
    g_p2, _, _ = conductances_torch(torch.tensor(w), co, stacked, offsets)
    assert g_p2.shape == (2, 12, 6)
    np.testing.assert_allclose(g_p2[0].numpy(), map_weights(w, v_read_v=V_READ, current_scale_a=SCALE,
                                                            options=dataclasses.replace(co, seed=0)).g_plus_s,
                               rtol=1e-15, atol=0)
    # no variation: C times one device
    ideal = dataclasses.replace(co, variation_sigma=0.0, variation_sigma_s=0.0)
    g_one = conductances_torch(torch.tensor(w), dataclasses.replace(ideal, copies=1))[0]
    np.testing.assert_allclose(conductances_torch(torch.tensor(w), ideal)[0].numpy(), 4 * g_one.numpy(), rtol=1e-15)


@pytest.mark.parametrize("bad", [0, 17, 2.0, True, None])
def test_bad_copies_are_named(bad):
    with pytest.raises(ConfigError, match="copies"):
        dataclasses.replace(PCM, copies=bad)


@pytest.mark.parametrize("name", sorted(synapse_presets()))
def test_a_chip_of_parallel_devices(name):
    """The chip's devices per cell unless asked (:func:`chip_copies`); with C, the cell's wire segment spans the C
    devices (sqrt(C A_cell)), the copies are the chip's design (not an override of the card) and the options
    round-trip."""
    card = synapse_card(name)
    assert MappingOptions.for_chip(card).conductance.copies == chip_copies(card)
    chip = MappingOptions.for_chip(card, copies=4)
    assert chip.conductance.copies == 4
    if card.is_device:
        assert chip.r_wire_ohm == pytest.approx(INTERCONNECT_28NM.segment_resistance_ohm(4 * card.cell_area_m2))
        assert chip.r_wire_ohm == pytest.approx(2 * MappingOptions.for_chip(card, copies=1).r_wire_ohm)
    assert chip.synapse_overrides() == []
    assert MappingOptions.from_dict(chip.to_dict()) == chip
    assert "copies" not in MappingOptions.for_chip(card, copies=1).to_dict()["conductance"]


def test_the_chip_averages_an_analog_devices_programming_error_only():
    """4 devices per cell where a cell is analog with a programming error to average (PCM); one where the cell is
    multi-level or binary (bit-sliced instead), or has no error (the ideal card, an error-free analog card)."""
    cards = synapse_presets()
    assert chip_copies(cards["pcm"]) == ANALOG_CHIP_COPIES == 4
    assert cards["pcm"].levels is None and cards["pcm"].d2d_sigma_s > 0
    for name in ("ideal", "rram_1t1r", "stt_mram"):
        assert chip_copies(cards[name]) == 1, name
    exact = dataclasses.replace(cards["pcm"], d2d_sigma_rel=0.0, d2d_sigma_s=0.0)
    assert chip_copies(exact) == 1
    assert chip_copies(dataclasses.replace(cards["pcm"], d2d_sigma_s=0.0)) == 4      # the relative error alone


def test_the_periphery_and_the_area_see_the_cell():
    from ipnet_cosim.energy.area_layers import layer_area
    manifest = {"mapping_options": {"conductance": {"g_max_s": 25e-6, "copies": 4}}}
    assert manifest_copies(manifest) == 4
    assert manifest_currents(manifest).g_max_s == pytest.approx(100e-6)
    assert manifest_copies({"mapping_options": {"conductance": {"g_max_s": 25e-6}}}) == 1
    with pytest.raises(ConfigError, match="copies"):
        manifest_copies({"mapping_options": {"conductance": {"copies": 0}}})
    layer = {"index": 0, "name": "l0", "unit": "integrate", "devices": 8 * 4}
    units = [{"layer": 0, "tiles": [{"size": [8, 4]}], "rows": list(range(8)), "weight_columns": [0, 2],
              "neurons": [0, 1]}]
    one = layer_area(layer, units).components["crossbar_cells"].value
    four = layer_area(layer, units, copies=4).components["crossbar_cells"].value
    assert four == pytest.approx(4 * one, rel=1e-15, abs=0) and math.isfinite(one) and one > 0


@pytest.mark.openvaf
def test_an_export_of_parallel_devices_records_them_and_prices_every_device(tmp_path):
    import json
    from _small_net import make_small_checkpoint
    from ipnet_cosim.device.synapse import ideal_synapse
    from ipnet_cosim.energy.area_layers import network_area
    from ipnet_cosim.netlist_gen.export import export_network
    ck = make_small_checkpoint(tmp_path / "ck")
    cells = {}
    for c in (1, 2):
        options = MappingOptions.for_chip(ideal_synapse(), copies=c, conductance_overrides={"variation_sigma": 0.05})
        export_network(ck, tmp_path / f"x{c}", samples=[0], options=options)
        manifest = json.loads((tmp_path / f"x{c}" / "manifest.json").read_text())
        assert manifest_copies(manifest) == c
        cells[c] = sum(la.components["crossbar_cells"].value for la in network_area(manifest).layers)
    assert cells[2] == pytest.approx(2 * cells[1], rel=1e-12, abs=0)
