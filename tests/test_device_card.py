"""The device card: one source of truth, validated, and the same as the Verilog-A parameter list."""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields

import pytest

from ipnet_cosim.device.card import SECTIONS, DeviceCard, MTJParams, NeuronDrive, OperatingLimits, describe_fields
from ipnet_cosim.device.card_files import format_device_card_toml, load_device_card
from ipnet_cosim.device.compiler import DRIVE_MODULE, NEURON_MODULE, neuron_va_path
from ipnet_cosim.device.errors import ConfigError

VA_PARAM = re.compile(r'\(\*\s*units="([^"]*)"[^*]*\*\)\s*parameter\s+real\s+(\w+)\s*=\s*([^\s;]+)')


def module_text(module: str) -> str:
    text = neuron_va_path().read_text()
    m = re.search(rf"module\s+{module}\s*\(.*?endmodule", text, re.S)
    assert m, f"module {module} not in the .va"
    return m.group(0)


def va_parameters(module: str = NEURON_MODULE):
    return [(name, float(default), unit) for unit, name, default in VA_PARAM.findall(module_text(module))]


def _same_parameters(va, card):
    assert [n for n, _, _ in va] == [n for n, _, _ in card], "same names in the same order"
    for (name, va_default, va_unit), (_, default, unit) in zip(va, card):
        assert va_unit == unit, f"{name}: unit {va_unit!r} in .va, {unit!r} in card"
        assert math.isclose(va_default, default, rel_tol=1e-12), f"{name}: default {va_default} vs {default}"


def test_va_parameter_list_matches_card():
    _same_parameters(va_parameters(), [(f.name, f.default, f.metadata["unit"]) for f in fields(MTJParams)])
    # every parameter declared in the .va carries a units attribute (so none escapes the check)
    for module in (NEURON_MODULE, DRIVE_MODULE):
        assert len(re.findall(r"parameter\s+real", module_text(module))) == len(va_parameters(module))


def test_drive_module_parameters_match_card():
    """The drive module takes the derived ceiling i_max_a and the card's knee and input resistance."""
    card = DeviceCard()
    by_name = {f.name: f for f in fields(NeuronDrive)}
    expected = [("i_max_a", card.drive_i_max_a, "A")] + [
        (n, by_name[n].default, by_name[n].metadata["unit"]) for n in ("knee", "r_in_ohm")]
    _same_parameters(va_parameters(DRIVE_MODULE), expected)
    line = card.drive.model_card(card.mtj)
    assert line.split()[2] == DRIVE_MODULE and [t.split("=")[0] for t in line.split()[3:]] == [
        n for n, _, _ in expected]


def test_drive_ceiling_puts_the_compliance_across_a_fired_junction():
    """i_max R_AP(V) = v_dd - v_headroom, solved the other way round with the neuron's own I-V."""
    import torch
    from ipnet_cosim.models.mtj_physics import NeuronParams, ap_voltage_v
    card = DeviceCard()
    v = float(ap_voltage_v(torch.tensor(card.drive_i_max_a, dtype=torch.float64), NeuronParams.from_card(card)))
    assert math.isclose(v, card.drive.v_dd_v - card.drive.v_headroom_v, rel_tol=1e-9)
    assert card.drive.v_compliance_v() < card.limits.v_breakdown_v


def test_model_card_sets_every_parameter_deterministically():
    card = DeviceCard()
    line = card.mtj.model_card()
    assert line == DeviceCard().mtj.model_card()
    for f in fields(MTJParams):
        assert f" {f.name}=" in line


def test_derived_quantities():
    m = MTJParams()
    assert math.isclose(m.area_m2, math.pi * (40e-9) ** 2 / 4)
    assert math.isclose(m.r_p_ohm, 3e-12 / m.area_m2)
    assert math.isclose(m.tau_th_s, 3e-9)


@pytest.mark.parametrize("section,name,value,needle", [
    ("mtj", "tmr0", -1.0, "tmr0"),
    ("mtj", "diameter_m", 0.0, "diameter_m"),
    ("mtj", "r_th_k_per_w", float("nan"), "finite"),
    ("mtj", "c_th_j_per_k", float("inf"), "finite"),
    ("mtj", "ra_ohm_m2", 5.0, "check the unit"),        # 5 ohm um^2 given without SI conversion
    ("mtj", "tc_k", 250.0, "tc_k"),
    ("timing", "t_pulse_s", 5e-9, "t_step_s"),           # pulse longer than the step
    ("timing", "v_reset_v", 0.3, "v_rst_th_v"),
    ("limits", "t_max_k", 800.0, "limits.t_max_k"),       # T_max >= Tc
    ("limits", "t_max_k", 290.0, "mtj.t_amb_k"),          # T_amb >= T_max
    ("drive", "v_headroom_v", 0.9, "drive.v_headroom_v"),  # nothing left across the MTJ
    ("limits", "v_breakdown_v", 0.7, "limits.v_breakdown_v"),   # the drive could break the barrier
    ("drive", "v_dd_v", -0.9, "v_dd_v"),
])
def test_invalid_values_raise_config_error(section, name, value, needle):
    data = DeviceCard().to_dict()
    data[section][name] = value
    with pytest.raises(ConfigError, match=needle):
        DeviceCard.from_dict(data)


def test_unknown_and_mistyped_entries():
    with pytest.raises(ConfigError, match="unknown parameter"):
        DeviceCard.from_dict({"mtj": {"tmr": 1.0}})
    with pytest.raises(ConfigError, match="unknown section"):
        DeviceCard.from_dict({"device": {}})
    with pytest.raises(ConfigError, match="must be a number"):
        DeviceCard.from_dict({"mtj": {"tmr0": "high"}})
    with pytest.raises(ConfigError, match="unknown parameter"):
        DeviceCard().replace(nope=1.0)


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_load_round_trip(tmp_path, suffix):
    card = DeviceCard().replace(tmr0=1.5, t_step_s=4e-9)
    path = tmp_path / f"card{suffix}"
    if suffix == ".toml":
        path.write_text(format_device_card_toml(card))
    elif suffix == ".yaml":
        import yaml
        path.write_text(yaml.safe_dump(card.to_dict()))
    else:
        path.write_text(json.dumps(card.to_dict()))
    assert load_device_card(path) == card


def test_card_sections_and_limits_round_trip_in_toml(tmp_path):
    card = DeviceCard().replace(t_max_k=450.0, v_dd_v=1.0)
    text = format_device_card_toml(card)
    for name, _ in SECTIONS:
        assert f"[{name}]" in text
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_device_card(path) == card
    assert isinstance(card.limits, OperatingLimits) and card.limits.t_max_k == 450.0


def test_partial_file_keeps_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[mtj]\ndelta0 = 35\n")
    card = load_device_card(path)
    assert card.mtj.delta0 == 35.0 and card.mtj.tmr0 == MTJParams().tmr0


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_device_card(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mtj\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_device_card(bad)
    other = tmp_path / "card.ini"
    other.write_text("x")
    with pytest.raises(ConfigError, match="unknown file type"):
        load_device_card(other)


def test_every_field_documents_unit_range_and_source():
    for _, klass in SECTIONS:
        for row in describe_fields(klass):
            assert row["unit"] and row["desc"] and row["source"]
            assert row["lo"] < row["hi"]
            assert row["lo"] <= row["default"] <= row["hi"]
