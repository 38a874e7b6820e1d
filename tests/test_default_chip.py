"""The default chip: wire resistance and periphery sizing from cited 28 nm figures, the chip a card builds, the
class-spread circuit samples, and the periphery's switching and leakage energy in the report.

Hand values are typed from the sources (DNN+NeuroSim V1.3 Param.cpp and Technology.cpp, WikiChip's 28 nm pitch),
not read through the module under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.interconnect import INTERCONNECT_28NM, SOURCES
from ipnet_cosim.device.synapse import DEFAULT_SYNAPSE, ideal_synapse, synapse_card, synapse_presets
from ipnet_cosim.energy.area_data import DEFAULT_AREA_DATA
from ipnet_cosim.models.datasets import class_spread
from ipnet_cosim.netlist_gen.mapping import BINARY_CHIP_SLICES, MappingOptions, chip_slices


def test_wire_segment_resistance_by_hand():
    # rho = 4.03e-8 ohm m, AR = 1.9 (NeuroSim's 40 nm wire), w = 90 nm / 2, L = sqrt(216 nm x 225 nm)
    cell = 216e-9 * 225e-9
    hand = 4.03e-8 * math.sqrt(cell) / (45e-9 * 1.9 * 45e-9)
    assert INTERCONNECT_28NM.segment_resistance_ohm(cell) == pytest.approx(hand, rel=1e-12)
    assert 2.2 < hand < 2.4                                   # ohm per cell segment
    # the same 28 nm pitch as the area model's cited figure (one value, two files)
    pitch = json.loads(DEFAULT_AREA_DATA.read_text())["entries"]["min_metal_pitch_tsmc28"]["value"]
    assert INTERCONNECT_28NM.metal_pitch_m == pitch
    for name in ("metal_pitch_m", "resistivity_ohm_m", "aspect_ratio", "j_on_nmos_a_per_m", "j_on_pmos_a_per_m",
                 "min_width_features", "gate_cap_f_per_m", "i_off_a_per_m"):
        assert SOURCES[name].strip(), name
    assert "NeuroSim" in SOURCES["resistivity_ohm_m"] and "PTM 32 nm LP" in SOURCES["j_on_pmos_a_per_m"]
    with pytest.raises(ConfigError, match="positive area"):
        INTERCONNECT_28NM.segment_resistance_ohm(0.0)


def test_width_per_current_by_hand():
    w_min = 2 * 28e-9
    assert INTERCONNECT_28NM.width_multiple(1e-3) == pytest.approx(1e-3 / (600.2 * w_min), rel=1e-12)
    assert INTERCONNECT_28NM.width_multiple(1e-3, pmos=True) == pytest.approx(1e-3 / (400.0 * w_min), rel=1e-12)
    assert INTERCONNECT_28NM.width_multiple(1e-9) == 1.0       # never below a minimum transistor
    with pytest.raises(ConfigError, match="finite"):
        INTERCONNECT_28NM.width_multiple(float("nan"))


@pytest.mark.parametrize("name", sorted(synapse_presets()))
def test_the_chip_of_each_card(name):
    card = synapse_card(name)
    chip = MappingOptions.for_chip(card)
    assert chip.synapse == card and chip.synapse_overrides() == []
    assert chip.conductance.slices == (BINARY_CHIP_SLICES if card.levels == 2 else 1) == chip_slices(card)
    if card.is_device:
        cell_m2 = card.cell_area_m2 * chip.conductance.copies      # a cell of parallel devices spans them all
        assert chip.r_wire_ohm == pytest.approx(INTERCONNECT_28NM.segment_resistance_ohm(cell_m2))
    else:
        assert chip.r_wire_ohm == 0.0
    # explicit choices win over the chip's defaults
    assert MappingOptions.for_chip(card, slices=1, r_wire_ohm=0.0).r_wire_ohm == 0.0
    assert MappingOptions.for_chip(card, slices=1).conductance.slices == 1


def test_the_default_chip_is_a_device_and_the_library_default_the_idealisation():
    assert synapse_card(DEFAULT_SYNAPSE).is_device
    assert MappingOptions().synapse == ideal_synapse() and not MappingOptions().synapse.is_device
    assert "NOT A DEVICE" not in synapse_card(DEFAULT_SYNAPSE).headline()


def test_class_spread_takes_one_sample_per_class_first():
    labels = np.repeat(np.arange(5), 4)
    picks = class_spread(labels, 5)
    assert sorted(labels[picks].tolist()) == [0, 1, 2, 3, 4]
    assert len(set(class_spread(labels, 12))) == 12
    counts = np.bincount(labels[class_spread(labels, 12)], minlength=5)
    assert counts.max() - counts.min() <= 1                        # round-robin over the classes
    assert class_spread(labels, 100) == list(range(20))
    # the picks move through each class's samples (not always its first)
    assert len({p % 4 for p in picks}) > 1


def _twin_report(root, g_max_s: float):
    from _small_net import make_small_checkpoint
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    ck = root / "ck"
    if not ck.exists():
        make_small_checkpoint(ck)
    export = root / f"exp_{g_max_s:g}"
    options = MappingOptions.for_chip(ideal_synapse(), conductance_overrides={"g_max_s": g_max_s})
    export_network(ck, export, samples=[0, 1, 2], options=options)
    simulate_export(export, progress=False, simulator="twin")
    return build_report(export)[0]


@pytest.mark.openvaf
def test_periphery_energy_and_area_follow_g_max(tmp_path):
    """The periphery's switching and leakage energy and its area are computed from the sized transistors: they grow
    with G_max (larger row and column currents), and the attribution still sums to the total."""
    low, high = _twin_report(tmp_path, 2e-4), _twin_report(tmp_path, 1e-3)
    for c in ("periphery_switching", "periphery_leakage"):
        assert 0 < low["energy"]["totals"][c]["value"] < high["energy"]["totals"][c]["value"], c
        assert low["energy"]["totals"][c]["provenance"] == "computed"
    assert low["area"]["breakdown"]["row_drivers"]["value"] < high["area"]["breakdown"]["row_drivers"]["value"]
    for r in (low, high):
        a = r["attribution"]
        parts = a["attributed_to_spikes_j"]["value"] + a["silent_neurons_j"]["value"] + a["readout_j"]["value"]
        assert parts == pytest.approx(a["total_j"]["value"], rel=1e-9, abs=0)
        assert r["energy"]["total"]["value"] == pytest.approx(a["total_j"]["value"], rel=1e-12, abs=0)
    # leakage by hand: every sized periphery transistor's off-current from v_dd for the inference
    from ipnet_cosim.energy.area_crossbar import tile_widths
    from ipnet_cosim.energy.area_layers import manifest_currents
    man = json.loads((tmp_path / "exp_0.001" / "manifest.json").read_text())
    cur = manifest_currents(man)
    widths = sum(tile_widths(t["size"][0], t["size"][1], cur).total for u in man["units"] for t in u["tiles"])
    latency = man["timing"]["n_steps"] * man["timing"]["t_step_s"]
    v_dd = man["device_card"]["drive"]["v_dd_v"]
    hand = widths * 2 * 28e-9 * 100.10e-12 / 1e-6 * v_dd * latency
    assert high["energy"]["totals"]["periphery_leakage"]["value"] == pytest.approx(hand, rel=1e-9, abs=0)


def test_the_bundled_network_was_fine_tuned_for_the_default_chip():
    """``export`` of the bundled checkpoint with default options maps the chip it was fine-tuned for: the hardware
    recorded in it equals the default chip's (no mismatch warning), under stochastic firing."""
    from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir, load_checkpoint
    from ipnet_cosim.netlist_gen.recorded_hardware import hardware_mismatch, hardware_of
    ck = load_checkpoint(bundled_checkpoint_dir())
    assert hardware_of(ck.raw) is not None
    assert hardware_mismatch(ck.raw, MappingOptions.for_chip()) is None
    assert ck.metrics["firing"] == "stochastic"
