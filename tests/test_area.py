"""Area model: hand-computed neuron cells and layers, the cited data file, and its validation.

Hand values read the data file directly with ``json`` (not through the module under test), so a
wrong unit conversion or a wrong entry in the module shows up as a mismatch.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import subprocess
import sys

import pytest

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy.area import (COMPONENTS, NEURON_TERMS, CrossbarAreaModel, NeuronCellModel,
                                     compare_neuron_claim, neuron_cell_area, transistor_footprint)
from ipnet_cosim.energy.area_crossbar import crossbar_cell_area
from ipnet_cosim.energy.area_data import DEFAULT_AREA_DATA, load_area_data
from ipnet_cosim.energy.area_layers import layer_area, network_area
from ipnet_cosim.energy.quantity import PROVENANCES, Quantity

RAW = json.loads(DEFAULT_AREA_DATA.read_text())["entries"]
RHO_GATE = RAW["raw_gate_density_tsmc28"]["value"]          # 3900 kGate/mm^2 in 1/m^2
PITCH_M = RAW["min_metal_pitch_tsmc28"]["value"]            # 90 nm
CELL_1T1R_M2 = RAW["emram_1t1r_cell_intel22ffl"]["value"]   # 0.0486 um^2
A_T = 1.0 / (RHO_GATE * 4)                                  # minimum transistor, m^2


def rel(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


# -- the data file ------------------------------------------------------------------------------

def test_package_data_loads_with_si_values_and_as_printed_text():
    data = load_area_data()
    assert rel(RHO_GATE, 3.9e12) and rel(PITCH_M, 90e-9) and rel(CELL_1T1R_M2, 0.0486e-12)
    assert rel(data.figure("lif_neuron_area_28nm", "m^2").value, 34e-12)
    assert rel(data.figure("ipnet_neuron_area_claim", "m^2").value, 1.5e-12)
    assert "34" in data.figure("lif_neuron_area_28nm", "m^2").as_printed
    assert "2408.07734" in data.figure("lif_neuron_area_28nm", "m^2").citation["url"]


def test_default_models_use_only_verified_figures():
    data = load_area_data()
    n, c = NeuronCellModel(), CrossbarAreaModel()
    used = [n.gate_density_entry, n.metal_pitch_entry, c.cell_1t1r_entry, "lif_neuron_area_28nm",
            "ipnet_neuron_area_claim", "ipnet_lif_area_ratio_claim"]
    assert all(data.figures[name].verified for name in used)


def _write(tmp_path, raw):
    path = tmp_path / "area.json"
    path.write_text(json.dumps(raw))
    return path


def _package_raw():
    return json.loads(DEFAULT_AREA_DATA.read_text())


def test_missing_citation_names_the_entry(tmp_path):
    raw = _package_raw()
    del raw["entries"]["min_metal_pitch_tsmc28"]["citation"]
    with pytest.raises(ConfigError, match="min_metal_pitch_tsmc28.*citation"):
        load_area_data(_write(tmp_path, raw))


def test_citation_without_url_or_doi_names_the_entry(tmp_path):
    raw = _package_raw()
    raw["entries"]["lif_neuron_area_28nm"]["citation"].pop("url")
    with pytest.raises(ConfigError, match="lif_neuron_area_28nm.*url or doi"):
        load_area_data(_write(tmp_path, raw))


@pytest.mark.parametrize("bad", [-0.0486e-12, 0.0, float("nan")])
def test_non_positive_area_names_the_entry(tmp_path, bad):
    raw = _package_raw()
    raw["entries"]["emram_1t1r_cell_intel22ffl"]["value"] = bad
    with pytest.raises(ConfigError, match="emram_1t1r_cell_intel22ffl.*positive"):
        load_area_data(_write(tmp_path, raw))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match="nope.json.*does not exist"):
        load_area_data(tmp_path / "nope.json")


def test_entry_missing_for_the_model_names_it(tmp_path):
    raw = _package_raw()
    del raw["entries"]["raw_gate_density_tsmc28"]
    data = load_area_data(_write(tmp_path, raw))
    with pytest.raises(ConfigError, match="no entry 'raw_gate_density_tsmc28'"):
        neuron_cell_area(data=data)


def test_unverified_figure_is_flagged_in_its_quantity(tmp_path):
    raw = _package_raw()
    raw["entries"]["emram_1t1r_cell_intel22ffl"]["verified"] = False
    data = load_area_data(_write(tmp_path, raw))
    assert "UNVERIFIED" in crossbar_cell_area(data).note
    assert "UNVERIFIED" not in crossbar_cell_area(load_area_data()).note


# -- the neuron cell ------------------------------------------------------------------------------

def test_neuron_area_is_the_hand_sum_of_a_custom_model():
    model = NeuronCellModel(mtj_spacing_pitches=2.0, reset_transistors=2, reset_width_multiple=3.0,
                            detector_transistors=5, detector_width_multiple=1.5,
                            mirror_output_transistors=2, mirror_output_width_multiple=6.0)
    cell = neuron_cell_area(DeviceCard(), model=model)
    d = DeviceCard().mtj.diameter_m
    hand = {"mtj": (d + 2.0 * PITCH_M) ** 2, "reset_switch": 2 * 3.0 * A_T,
            "spike_detector": 5 * 1.5 * A_T, "input_mirror_outputs": 2 * 6.0 * A_T}
    assert tuple(cell.terms) == NEURON_TERMS
    for name, value in hand.items():
        assert rel(cell.terms[name].value, value), name
    assert rel(cell.total.value, sum(hand.values()))
    assert rel(cell.core.value, sum(hand.values()) - hand["input_mirror_outputs"])
    assert rel(transistor_footprint().value, A_T)


def test_default_neuron_cell_value():
    # (40 nm + 90 nm)^2 + (1 x 4 + 3 x 1 + 2 x 4) A_T with A_T = 1 / (4 x 3.9e12 m^-2) = 0.0641 um^2
    cell = neuron_cell_area()
    assert rel(cell.total.value, (130e-9) ** 2 + 15 * A_T)
    assert 0.97e-12 < cell.total.value < 0.99e-12


def test_card_diameter_changes_only_the_mtj_term():
    card = DeviceCard()
    wide = dataclasses.replace(card, mtj=dataclasses.replace(card.mtj, diameter_m=80e-9))
    a, b = neuron_cell_area(card), neuron_cell_area(wide)
    assert rel(b.terms["mtj"].value, (80e-9 + PITCH_M) ** 2)
    assert rel(b.terms["mtj"].value - a.terms["mtj"].value, (80e-9 + PITCH_M) ** 2 - (40e-9 + PITCH_M) ** 2)
    for name in NEURON_TERMS[1:]:
        assert a.terms[name].value == b.terms[name].value
    assert rel(b.total.value - a.total.value, b.terms["mtj"].value - a.terms["mtj"].value)


def test_claim_check_against_paper_and_lif():
    check = compare_neuron_claim(neuron_cell_area())
    ours = (130e-9) ** 2 + 15 * A_T
    assert rel(check.lif_over_ours.value, 34e-12 / ours)
    assert rel(check.ours_over_paper.value, ours / 1.5e-12)
    assert rel(check.break_even.value, 34e-12 / 20)
    assert check.holds and check.dominant_term == "input_mirror_outputs"
    # wider analog devices push the cell past the 1.7 um^2 break-even: the claim then fails
    big = NeuronCellModel(reset_width_multiple=8.0, mirror_output_width_multiple=8.0)
    check_big = compare_neuron_claim(neuron_cell_area(model=big))
    assert check_big.ours.value > check_big.break_even.value and not check_big.holds
    assert "does NOT hold" in check_big.summary()


@pytest.mark.parametrize("bad", [dict(reset_transistors=-1), dict(reset_transistors=1.5),
                                 dict(mirror_output_width_multiple=0.0), dict(mtj_spacing_pitches=float("inf")),
                                 dict(transistors_per_gate=0), dict(gate_density_entry="")])
def test_invalid_neuron_model_is_rejected(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        NeuronCellModel(**bad)


def test_unknown_cell_kind_is_rejected():
    with pytest.raises(ConfigError, match="cell_kind.*1T1R"):
        CrossbarAreaModel(cell_kind="2T2R")


def test_passive_cell_is_metal_pitch_squared():
    assert rel(crossbar_cell_area(model=CrossbarAreaModel(cell_kind="0T1R")).value, PITCH_M ** 2)
    assert rel(crossbar_cell_area().value, CELL_1T1R_M2)


# -- layers from a hand-written manifest --------------------------------------------------------------

def tiny_manifest() -> dict:
    """A heat layer (two units: one with two row tiles), a memoryless layer, a readout."""
    fast = DeviceCard().replace(diameter_m=60e-9)
    return {
        "device_card": DeviceCard().to_dict(), "fast_card": fast.to_dict(),
        "layers": [
            {"index": 0, "name": "layer0", "unit": "heat", "matrix_shape": [5, 3], "positions": 1, "devices": 30},
            {"index": 1, "name": "layer1", "unit": "memoryless", "matrix_shape": [4, 2], "positions": 1,
             "devices": 16},
            {"index": 2, "name": "readout", "unit": "integrate", "matrix_shape": [3, 2], "positions": 1,
             "devices": 12},
        ],
        "units": [
            {"name": "L0_p000_c0", "layer": 0, "neurons": [0, 1],
             "tiles": [{"rows": [0, 3], "size": [3, 4]}, {"rows": [3, 5], "size": [2, 4]}]},
            {"name": "L0_p000_c1", "layer": 0, "neurons": [2], "tiles": [{"rows": [0, 5], "size": [5, 2]}]},
            {"name": "L1_p000_c0", "layer": 1, "neurons": [0, 1], "tiles": [{"rows": [0, 4], "size": [4, 4]}]},
            {"name": "L2_p000_c0", "layer": 2, "neurons": [0, 1], "tiles": [{"rows": [0, 3], "size": [3, 4]}]},
        ],
    }


# per-instance areas of the default models, by hand
A_DRV = 2 * 8.0 * A_T       # row driver: one inverter, 8x wide
A_SENSE = 2 * 4.0 * A_T     # column end: clamp + mirror input, 4x wide
A_LEG = 1 * 4.0 * A_T       # one mirror output leg, 4x wide


def a_neuron(d_m: float) -> float:
    return (d_m + PITCH_M) ** 2 + 1 * 4.0 * A_T + 3 * 1.0 * A_T + 2 * 4.0 * A_T


def test_layer_area_equals_the_hand_formula():
    m = tiny_manifest()
    units = [u for u in m["units"] if u["layer"] == 0]
    la = layer_area(m["layers"][0], units)
    # devices 3x4 + 2x4 + 5x2 = 30; driver rows 3 + 2 + 5 = 10; column ends 4 + 4 + 2 = 10; neurons 3
    assert (la.counts.devices, la.counts.driver_rows, la.counts.column_ends, la.counts.neurons) == (30, 10, 10, 3)
    core = a_neuron(40e-9) - 2 * A_LEG
    hand = {"crossbar_cells": 30 * CELL_1T1R_M2, "row_drivers": 10 * A_DRV, "column_sense": 10 * A_SENSE,
            "mirror_outputs": 10 * A_LEG, "neurons": 3 * core}
    for name, value in hand.items():
        assert rel(la.components[name].value, value), name
    assert rel(la.total.value, sum(hand.values()))


def test_single_row_tile_layer_counts_the_whole_neuron_cell():
    # one row tile: column ends = 2 x neurons, so mirror legs + neuron cores = neurons x A_neuron
    m = tiny_manifest()
    la = layer_area(m["layers"][1], [m["units"][2]], card=DeviceCard().replace(diameter_m=60e-9))
    cell = neuron_cell_area(DeviceCard().replace(diameter_m=60e-9))
    assert rel(la.components["mirror_outputs"].value + la.components["neurons"].value, 2 * cell.total.value)
    assert rel(la.total.value, 16 * CELL_1T1R_M2 + 4 * A_DRV + 4 * A_SENSE + 2 * a_neuron(60e-9))


def test_network_area_sums_and_uses_each_layers_card():
    m = tiny_manifest()
    report = network_area(m, crossbar_model=CrossbarAreaModel(sizing="fixed"))
    assert [la.name for la in report.layers] == ["layer0", "layer1", "readout"]
    assert rel(report.total.value, sum(la.total.value for la in report.layers))
    breakdown = report.breakdown_m2()
    assert tuple(breakdown) == COMPONENTS
    assert rel(sum(breakdown.values()), report.total.value)
    for la in report.layers:
        assert rel(sum(report.breakdown_by_layer_m2()[la.name].values()), la.total.value)
    # memoryless layer: neurons from the fast card (60 nm); readout: no neurons, but column ends
    assert rel(report.layers[1].neuron_cell.terms["mtj"].value, (60e-9 + PITCH_M) ** 2)
    assert report.layers[2].components["neurons"].value == 0.0 and report.layers[2].neuron_cell is None
    assert rel(report.layers[2].total.value, 12 * CELL_1T1R_M2 + 3 * A_DRV + 4 * (A_SENSE + A_LEG))
    # an explicit card overrides the manifest's cards
    forced = network_area(m, card=DeviceCard(), crossbar_model=CrossbarAreaModel(sizing="fixed"))
    assert rel(forced.layers[1].neuron_cell.terms["mtj"].value, (40e-9 + PITCH_M) ** 2)


def test_every_returned_figure_has_unit_and_provenance():
    report = network_area(tiny_manifest())
    cell = neuron_cell_area()
    check = compare_neuron_claim(cell)
    figures: list[tuple[str, Quantity]] = [("total", report.total)]
    for la in report.layers:
        figures += [(f"{la.name}.total", la.total)] + [(f"{la.name}.{k}", q) for k, q in la.components.items()]
    figures += [(f"cell.{k}", q) for k, q in cell.terms.items()]
    figures += [("cell.total", cell.total), ("cell.core", cell.core)]
    figures += [(f"input.{k}", q) for k, q in cell.inputs.items()]
    figures += [(f.name, getattr(check, f.name)) for f in dataclasses.fields(check)
                if isinstance(getattr(check, f.name), Quantity)]
    assert len(figures) > 30
    for name, q in figures:
        assert isinstance(q, Quantity), name
        assert q.unit in ("m^2", "m", "1"), name
        assert q.provenance in PROVENANCES and q.source.strip(), name
    for name, q in figures:
        if name.endswith("total") or name.startswith(("cell.", "layer", "readout")):
            assert q.unit == "m^2" and q.provenance == "computed", name
    assert check.lif.provenance == "assumed" and "2408.07734" in check.lif.source
    assert cell.inputs["diameter_m"].provenance == "assumed" and "diameter_m" in cell.inputs["diameter_m"].source
    assert "ic0_a" in cell.inputs["reset_width_multiple"].source   # the assumption carries its reason
    json.dumps(report.to_dict())   # plain data


def test_inconsistent_manifest_names_the_layer():
    m = tiny_manifest()
    bad = copy.deepcopy(m)
    bad["layers"][0]["devices"] = 31
    with pytest.raises(ConfigError, match="layer0.*30 devices.*31"):
        network_area(bad)
    bad = copy.deepcopy(m)
    bad["units"] = [u for u in bad["units"] if u["layer"] != 1]
    with pytest.raises(ConfigError, match="layer1.*no entries"):
        network_area(bad)
    bad = copy.deepcopy(m)
    bad["layers"][2]["unit"] = "leaky"
    with pytest.raises(ConfigError, match="readout.*leaky"):
        network_area(bad)
    bad = copy.deepcopy(m)
    del bad["units"][0]["tiles"][1]["size"]
    with pytest.raises(ConfigError, match="L0_p000_c0.*size"):
        network_area(bad)


def test_import_does_not_load_torch_or_models():
    code = ("import sys, ipnet_cosim.energy.area_layers as a; a.network_area({'layers': [{'index': 0, 'name': 'x', "
            "'unit': 'heat'}], 'units': [{'layer': 0, 'neurons': [0], 'tiles': [{'size': [2, 2]}]}]}); "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'ipnet_cosim.models'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# -- periphery sized from the currents -----------------------------------------------------------------

# the 28 nm figures, typed here from their sources (DNN+NeuroSim V1.3: PTM 32 nm LP at 0.9 V, MIN_NMOS_SIZE 2 F)
J_ON_PMOS_A_PER_M = 400.0          # 400.0 uA/um
J_ON_NMOS_A_PER_M = 600.2          # 600.2 uA/um
W_MIN_M = 2 * 28e-9


def test_periphery_is_sized_from_the_peak_currents_by_hand():
    from ipnet_cosim.energy.area_crossbar import PeripheryCurrents, tile_widths
    cur = PeripheryCurrents(g_max_s=300e-6, v_read_v=0.2, i_drive_max_a=150e-6)
    t = tile_widths(64, 32, cur)
    i_row, i_col = 0.2 * 32 * 300e-6, 0.2 * 64 * 300e-6        # 1.92 mA, 3.84 mA
    assert rel(t.row_driver, 2 * i_row / (J_ON_PMOS_A_PER_M * W_MIN_M))
    assert rel(t.column_sense, 2 * i_col / (J_ON_NMOS_A_PER_M * W_MIN_M))
    assert rel(t.mirror_output, 150e-6 / (J_ON_NMOS_A_PER_M * W_MIN_M))      # clipped at the drive ceiling
    assert rel(t.total, 64 * t.row_driver + 32 * (t.column_sense + t.mirror_output))
    # a tiny current still needs a minimum transistor
    small = tile_widths(4, 2, PeripheryCurrents(g_max_s=1e-9, v_read_v=0.2))
    assert small.row_driver == 2.0 and small.column_sense == 2.0 and small.mirror_output == 1.0


def test_area_follows_g_max_and_tile_size_with_current_sizing():
    m = tiny_manifest()
    base = network_area(m)
    m_hi = copy.deepcopy(m)
    m_hi.setdefault("mapping_options", {}).setdefault("conductance", {})["g_max_s"] = 10e-3
    hi = network_area(m_hi)
    for c in ("row_drivers", "column_sense"):
        assert hi.breakdown_m2()[c] > base.breakdown_m2()[c]
    assert hi.breakdown_m2()["crossbar_cells"] == base.breakdown_m2()["crossbar_cells"]
    fixed = network_area(m_hi, crossbar_model=CrossbarAreaModel(sizing="fixed"))
    assert fixed.total.value == network_area(m, crossbar_model=CrossbarAreaModel(sizing="fixed")).total.value
    assert "sized from the currents" in hi.layers[0].components["row_drivers"].source
    with pytest.raises(ConfigError, match="sizing"):
        CrossbarAreaModel(sizing="guess")
