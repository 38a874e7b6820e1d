"""Synapse cards: every preset value has a source, bad cards are refused by name, and the card reaches the
mapping (range, levels, variation), the PyTorch hardware model and the area model unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from ipnet_cosim.device.errors import ConfigError  # noqa: E402
from ipnet_cosim.device.synapse import (SynapseCard, citations, ideal_synapse, format_synapse_card_toml,  # noqa: E402
                                        preset_entries, synapse_card, synapse_presets, value_fields)
from ipnet_cosim.netlist_gen.conductance import (ConductanceOptions, map_weights, variation_factors,  # noqa: E402
                                                 variation_offsets_s)
from ipnet_cosim.chip.crossbar_torch import conductances_torch  # noqa: E402
from ipnet_cosim.netlist_gen.mapping import MappingOptions  # noqa: F401

PRESETS = sorted(synapse_presets())


def test_the_presets_cover_the_technologies_the_field_uses():
    techs = {c.technology for c in synapse_presets().values()}
    assert {"ideal", "rram", "pcm", "stt_mram"} <= techs
    assert ideal_synapse().name == "ideal" and not ideal_synapse().is_device
    assert "NOT A DEVICE" in ideal_synapse().headline()
    mram = synapse_card("stt_mram")
    assert mram.levels == 2 and 2 < mram.on_off_ratio < 3          # a binary MTJ: TMR 180 %, not 1000x
    assert synapse_card("pcm").drift_nu > 0 and synapse_card("rram_1t1r").drift_nu == 0


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_value_has_a_source(name):
    card = synapse_card(name)
    entry = preset_entries()[name]["values"]
    cites = citations()
    for f in value_fields():
        assert card.sources[f.name].strip(), f"{name}.{f.name} has no source"
        item = entry[f.name]
        assert item["source"].strip()
        if item.get("citation"):
            c = cites[item["citation"]]                       # the key resolves to a full citation
            assert c["authors"] and c["title"] and c["year"] and (c.get("doi") or c.get("url"))
        if item.get("verified"):
            # a number we read in a stored copy carries the text as printed and a citation to find it in
            assert item.get("as_printed") and item.get("citation"), f"{name}.{f.name}"
    assert set(card.verified) <= {f.name for f in value_fields()}
    # the values are physical: the read limit admits the toolkit's read pulse (0.2 V)
    assert card.v_read_max_v >= 0.2


@pytest.mark.parametrize("name", PRESETS)
def test_a_card_round_trips_through_dict_and_toml(name, tmp_path):
    card = synapse_card(name)
    assert SynapseCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    path = tmp_path / f"{name}.toml"
    path.write_text(format_synapse_card_toml(card))
    assert synapse_card(path) == card


@pytest.mark.parametrize("change, match", [
    ({"g_off_s": 2e-4, "g_on_s": 1e-4}, r"g_off_s \(0.0002 S\) must be below g_on_s"),
    ({"g_off_s": 1e-4, "g_on_s": 1e-4}, r"g_off_s .* must be below g_on_s"),
    ({"levels": 1}, r"levels \(1\) must be at least 2"),
    ({"levels": 2.5}, r"levels must be an integer"),
    ({"cell_area_m2": 0.0}, r"cell_area_m2 = 0 m\^2 is outside the allowed range"),
    ({"cell_area_m2": -1e-14}, r"cell_area_m2 = -1e-14 m\^2 is outside"),
    ({"g_on_s": float("nan")}, r"g_on_s is nan"),
    ({"d2d_sigma_rel": -0.1}, r"d2d_sigma_rel = -0.1 is outside"),
    ({"technology": "flash"}, r"technology 'flash' is unknown"),
    ({"is_device": False}, r"is_device must be false for the ideal card and true for a device"),
    ({"cell_kind": "2T2R"}, r"cell_kind '2T2R' is unknown"),
    ({"colour": "red"}, r"unknown field\(s\) \['colour'\]"),
])
def test_an_inconsistent_card_is_refused_by_name(change, match):
    data = {**synapse_card("rram_1t1r").to_dict(), **change}
    with pytest.raises(ConfigError, match=match):
        SynapseCard.from_dict(data)


def test_a_value_without_a_source_is_refused():
    data = synapse_card("pcm").to_dict()
    data["sources"] = {k: v for k, v in data["sources"].items() if k != "drift_nu"}
    with pytest.raises(ConfigError, match=r"no source for drift_nu"):
        SynapseCard.from_dict(data)
    data["sources"]["drift_nu"] = "  "
    with pytest.raises(ConfigError, match=r"no source for drift_nu"):
        SynapseCard.from_dict(data)


def test_bad_card_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"neither a preset .* nor a card file"):
        synapse_card("rram")
    with pytest.raises(ConfigError, match=r"does not exist"):
        synapse_card(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("g_on_s = [")
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        synapse_card(broken)
    partial = tmp_path / "partial.toml"
    partial.write_text('name = "x"\ntechnology = "rram"\n')
    with pytest.raises(ConfigError, match=r"missing field\(s\)"):
        synapse_card(partial)


def test_the_mapping_takes_the_card_and_records_overrides():
    card = synapse_card("rram_1t1r")
    opts = MappingOptions.for_synapse(card, seed=4)
    co = opts.conductance
    assert (co.g_min_s, co.g_max_s, co.levels, co.variation_sigma, co.variation_sigma_s, co.seed) == \
        (card.g_off_s, card.g_on_s, card.levels, card.d2d_sigma_rel, card.d2d_sigma_s, 4)
    assert opts.synapse_overrides() == []
    over = MappingOptions.for_synapse(card, conductance_overrides={"g_max_s": 1e-4, "levels": None})
    assert sorted(over.synapse_overrides()) == ["g_max_s", "levels"]
    back = MappingOptions.from_dict(json.loads(json.dumps(over.to_dict())))
    assert back == over and back.synapse == card
    # an export made before synapse cards (no 'synapse' in its mapping options) was the ideal card
    legacy = MappingOptions().to_dict()
    del legacy["synapse"]
    assert MappingOptions.from_dict(legacy).synapse == ideal_synapse()
    with pytest.raises(ConfigError, match=r"conductance option\(s\) \['g_typo'\] are unknown"):
        ConductanceOptions.from_synapse(card, g_typo=1.0)


def test_additive_variation_is_one_seeded_draw_and_the_hardware_model_draws_the_same():
    card = synapse_card("pcm")
    co = ConductanceOptions.from_synapse(card, seed=7)
    w = np.random.default_rng(0).normal(0.0, 1.0, (300, 40))
    gmap = map_weights(w, v_read_v=0.2, current_scale_a=150e-6, options=co)
    offsets = variation_offsets_s(w.shape, co)
    assert offsets.shape == (2, 300, 40)
    assert np.std(offsets) == pytest.approx(card.d2d_sigma_s, rel=0.03)          # 24,000 draws
    assert np.array_equal(offsets, variation_offsets_s(w.shape, co))             # deterministic per seed
    assert not np.allclose(offsets, variation_offsets_s(w.shape, co, seed=8), rtol=1e-3, atol=0)    # another chip
    # the relative and additive draws are independent streams
    assert abs(np.corrcoef(np.log(variation_factors(w.shape, co)).ravel(), offsets.ravel())[0, 1]) < 0.03
    g_p, g_m, k = conductances_torch(torch.tensor(w), co, variation_factors(w.shape, co), offsets)
    np.testing.assert_allclose(g_p.numpy(), gmap.g_plus_s, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g_m.numpy(), gmap.g_minus_s, rtol=1e-15, atol=0)
    # devices stay inside the card's range, and the zero-weight devices (at g_off) are spread by the error
    assert gmap.g_plus_s.min() >= card.g_off_s and gmap.g_plus_s.max() <= card.g_on_s
    assert np.std(gmap.g_minus_s[w > 0]) > 0.1 * card.d2d_sigma_s


def test_area_prices_each_device_with_the_cards_cell():
    from ipnet_cosim.energy.area_crossbar import crossbar_cell_area
    from ipnet_cosim.energy.area_layers import network_area
    from test_area import tiny_manifest
    m = tiny_manifest()
    base = network_area(m)
    with pytest.raises(ConfigError, match=r"give the source of the new cell_area_m2"):
        synapse_card("rram_1t1r").replace(cell_area_m2=1e-13)
    big = synapse_card("rram_1t1r").replace(cell_area_m2=1e-13, sources={"cell_area_m2": "assumed; a larger cell"})
    assert "cell_area_m2" not in big.verified and big.sources["cell_area_m2"] == "assumed; a larger cell"
    other = network_area(m, synapse=big)
    for la0, la1 in zip(base.layers, other.layers):
        n = la1.counts.devices
        assert la1.components["crossbar_cells"].value == pytest.approx(n * 1e-13, rel=1e-12, abs=0)
        assert la1.components["crossbar_cells"].value - la0.components["crossbar_cells"].value == \
            pytest.approx(n * (1e-13 - ideal_synapse().cell_area_m2), rel=1e-9, abs=0)
    cell = crossbar_cell_area(synapse=synapse_card("pcm"))
    assert "synapse card 'pcm' (PCM)" in cell.source and cell.value == synapse_card("pcm").cell_area_m2
    # the manifest's card is used when none is given
    m["mapping_options"] = MappingOptions.for_synapse(big).to_dict()
    assert network_area(m).total.value == pytest.approx(network_area(m, synapse=big).total.value, rel=1e-12, abs=0)


@pytest.mark.openvaf
@pytest.mark.parametrize("name", ["pcm", "rram_1t1r"])
def test_the_hardware_model_gives_the_exported_chip_of_a_card(name, tmp_path):
    """A card with additive programming error (PCM: relative + additive; RRAM: additive, 5 levels), tiled with
    wires: the PyTorch hardware model's layer-0 neuron currents equal the export's own port models to 1e-9, and
    the manifest records the card."""
    from test_hardware import _small_net_and_frames, assert_layer0_currents_equal_ports
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.chip.hardware_net import HardwareNet
    ck_path, net, frames = _small_net_and_frames(tmp_path)
    options = MappingOptions.for_synapse(synapse_card(name), seed=3, tile_rows=16, tile_cols=4, r_wire_ohm=1.0,
                                         r_driver_ohm=30.0)
    export_network(ck_path, tmp_path / "exp", samples=[0], options=options)
    man = read_export(tmp_path / "exp").manifest
    assert man.options() == options and man.mapping_options["synapse"]["name"] == name
    lo, hi = man.layers[0].conductance_range_s
    assert synapse_card(name).g_off_s <= lo < hi <= synapse_card(name).g_on_s
    with torch.no_grad():
        _, trace = HardwareNet(net, options)(frames[:1], return_trace=True)
    assert_layer0_currents_equal_ports(tmp_path / "exp", man, net, frames, trace)


def test_cli_lists_prints_writes_and_refuses(tmp_path, capsys):
    from ipnet_cosim.cli.app import main
    assert main(["synapse"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("ideal", "pcm", "stt_mram"))
    assert main(["synapse", "pcm"]) == 0
    text = capsys.readouterr().out
    assert "[sources]" in text and "Joshi" in text and "drift_nu = 0.049" in text
    out = tmp_path / "mine.toml"
    assert main(["synapse", "stt_mram", "--write", str(out)]) == 0
    assert synapse_card(out) == synapse_card("stt_mram")
    capsys.readouterr()
    assert main(["export", str(tmp_path / "ck"), "-o", str(tmp_path / "x"), "--synapse", "mram"]) == 2
    err = capsys.readouterr().err
    assert "synapse card 'mram' is neither a preset" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
