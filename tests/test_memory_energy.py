"""Memory energy of the conventional baselines (energy/memory.py) and its cited technology table."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy import memory
from ipnet_cosim.energy.memory import (BASELINE_ARCHS, TEMPORAL_STATE_MODELS, MemoryTechnology, load_technologies,
                                       memory_energy_per_step, memory_ratios, paper_comparison, sensitivity_table,
                                       temporal_state)
from ipnet_cosim.energy.quantity import PROVENANCES, Quantity

# Small hand-checkable frontier: N_out = 8*10*10 = 800 values, N_in = 2*32*32 = 2048 values.
IN_SHAPE = (2, 32, 32)
OUT_SHAPE = (8, 10, 10)
N_IN, N_OUT = 2048, 800
SHAPES = dict(in_shape=IN_SHAPE, out_shape=OUT_SHAPE, temporal_kernel=3, window=8)

CITATION = {"authors": "A. Author", "title": "A title", "venue": "A venue", "year": "2020",
            "doi": "10.0000/test"}


def _entry(read=1e-12, write=3e-12, citation=CITATION, **extra):
    entry = {"read_j_per_bit": read, "write_j_per_bit": write, "as_printed": "1 pJ/bit read, 3 pJ/bit write",
             "verified": True}
    if citation is not None:
        entry["citation"] = citation
    entry.update(extra)
    return entry


def _write_table(tmp_path: Path, technologies: dict, default: str | None = None, **top) -> Path:
    data = {"schema_version": 1, "default": default or next(iter(technologies)), "technologies": technologies}
    data.update(top)
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data))
    return path


def _custom_tech(read=1e-12, write=3e-12) -> MemoryTechnology:
    return MemoryTechnology("custom", read, write, citation="test table", as_printed="test", verified=True)


# -- bit accounting, by hand -----------------------------------------------------------------------

@pytest.mark.parametrize("arch, state, read, write", [
    ("rnn", N_OUT * 32, N_OUT * 32, N_OUT * 32),                       # h
    ("lstm", 2 * N_OUT * 32, 2 * N_OUT * 32, 2 * N_OUT * 32),          # h and c
    ("conv2p1d", 2 * N_OUT * 32, 2 * N_OUT * 32, N_OUT * 32),          # k-1 = 2 past outputs
    ("conv3d", 7 * N_IN * 32, 7 * N_IN * 32, N_IN * 32),               # W-1 = 7 past input frames
    ("cnn2d_sum", N_IN * 32, N_IN * 32, N_IN * 32),                    # running sum of inputs
    ("ipnet", 0, 0, 0),
    ("memoryless", 0, 0, 0),
])
def test_bits_by_hand(arch, state, read, write):
    traffic = temporal_state(arch, bits_per_value=32, **SHAPES)
    assert (traffic.state_bits, traffic.read_bits_per_step, traffic.write_bits_per_step) == (state, read, write)
    assert traffic.arch == arch and traffic.description


def test_bits_follow_precision():
    assert temporal_state("rnn", bits_per_value=8, **SHAPES).state_bits == N_OUT * 8
    assert temporal_state("lstm", bits_per_value=16, **SHAPES).read_bits_per_step == 2 * N_OUT * 16


def test_conv3d_input_bits_default_and_binary_events():
    default = temporal_state("conv3d", bits_per_value=16, **SHAPES)
    assert default.state_bits == 7 * N_IN * 16          # input frames stored at the state precision
    events = temporal_state("conv3d", bits_per_value=16, input_bits=1, **SHAPES)
    assert (events.state_bits, events.read_bits_per_step, events.write_bits_per_step) == (7 * N_IN, 7 * N_IN, N_IN)


def test_window_and_kernel_of_one_hold_nothing():
    assert temporal_state("conv3d", in_shape=IN_SHAPE, out_shape=OUT_SHAPE, window=1).to_dict()["state_bits"] == 0
    assert temporal_state("conv3d", in_shape=IN_SHAPE, out_shape=OUT_SHAPE, window=1).write_bits_per_step == 0
    k1 = temporal_state("conv2p1d", in_shape=IN_SHAPE, out_shape=OUT_SHAPE, temporal_kernel=1)
    assert (k1.state_bits, k1.read_bits_per_step, k1.write_bits_per_step) == (0, 0, 0)


def test_defaults_are_fp32_and_network_defaults():
    traffic = temporal_state("conv3d", in_shape=IN_SHAPE, out_shape=OUT_SHAPE)
    assert memory.DEFAULT_BITS_PER_VALUE == 32
    assert traffic.state_bits == (memory.DEFAULT_WINDOW - 1) * N_IN * 32


def test_unknown_arch_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        temporal_state("transformer", **SHAPES)
    message = str(err.value)
    assert "transformer" in message
    for arch in TEMPORAL_STATE_MODELS:
        assert arch in message


@pytest.mark.parametrize("bad", [dict(out_shape=(8, 0, 10)), dict(out_shape=()), dict(in_shape=(2, -1, 3)),
                                 dict(in_shape=(2.5, 3, 3)), dict(out_shape="abc"), dict(bits_per_value=0),
                                 dict(window=0), dict(temporal_kernel=True), dict(input_bits=0)])
def test_invalid_shapes_and_counts_raise(bad):
    args = dict(SHAPES, **bad)
    with pytest.raises(ConfigError):
        temporal_state("conv3d", **args)


@pytest.mark.parametrize("arch", sorted(TEMPORAL_STATE_MODELS))
def test_every_registered_model_is_consistent(arch):
    traffic = temporal_state(arch, **SHAPES)
    assert traffic.arch == arch
    assert traffic.description
    counts = (traffic.state_bits, traffic.read_bits_per_step, traffic.write_bits_per_step)
    assert all(isinstance(n, int) and n >= 0 for n in counts)
    # a step never reads more than is held
    assert traffic.read_bits_per_step <= traffic.state_bits
    for q in traffic.quantities().values():
        assert q.unit == "bit" and q.provenance == "computed"


def test_every_network_architecture_has_a_state_model():
    pytest.importorskip("torch")
    from ipnet_cosim.models.network_config import ARCHITECTURES
    assert set(ARCHITECTURES) <= set(TEMPORAL_STATE_MODELS)


# -- energy ----------------------------------------------------------------------------------------

def test_energy_is_the_hand_formula_with_a_custom_table(tmp_path):
    techs = load_technologies(_write_table(tmp_path, {"custom": _entry(read=1e-12, write=3e-12)}))
    tech = techs["custom"]
    conv2p1d = memory_energy_per_step(temporal_state("conv2p1d", bits_per_value=32, **SHAPES), tech)
    # reads 2*800*32 bit at 1 pJ, writes 800*32 bit at 3 pJ
    assert conv2p1d.value == pytest.approx(2 * N_OUT * 32 * 1e-12 + N_OUT * 32 * 3e-12, rel=1e-12, abs=0)
    assert conv2p1d.unit == "J" and conv2p1d.provenance == "computed"
    assert "A. Author" in conv2p1d.source and "J/bit" in conv2p1d.source
    ipnet = memory_energy_per_step(temporal_state("ipnet", **SHAPES), tech)
    assert ipnet.value == 0.0


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_lstm_is_twice_rnn(bits):
    for tech in list(load_technologies().values()) + [_custom_tech(1e-12, 7e-12)]:
        rnn = memory_energy_per_step(temporal_state("rnn", bits_per_value=bits, **SHAPES), tech)
        lstm = memory_energy_per_step(temporal_state("lstm", bits_per_value=bits, **SHAPES), tech)
        assert lstm.value / rnn.value == pytest.approx(2.0, rel=1e-12)


def test_conv3d_over_lstm_scales_with_window():
    tech = _custom_tech(2e-12, 2e-12)              # equal read/write energy
    lstm = memory_energy_per_step(temporal_state("lstm", **SHAPES), tech).value
    ratios = {}
    for window in (2, 8, 32):
        conv3d = memory_energy_per_step(temporal_state("conv3d", **dict(SHAPES, window=window)), tech).value
        ratios[window] = conv3d / lstm
        # (W-1) frames read + 1 written = W frames of N_in values; LSTM: 4 N_out values
        assert ratios[window] == pytest.approx(window * N_IN / (4 * N_OUT), rel=1e-12)
    assert ratios[32] / ratios[8] == pytest.approx(4.0, rel=1e-12)


def test_ratios_and_their_provenance():
    tech = _custom_tech(1e-12, 1e-12)
    ipnet = Quantity(2e-15, "J", "simulated", "test: heat-memory energy per step")
    baselines = {a: memory_energy_per_step(temporal_state(a, **SHAPES), tech) for a in BASELINE_ARCHS}
    ratios = memory_ratios(ipnet, baselines)
    assert set(ratios) == set(BASELINE_ARCHS)
    assert ratios["rnn"].value == pytest.approx(2 * N_OUT * 32 * 1e-12 / 2e-15, rel=1e-12)
    assert ratios["lstm"].value / ratios["rnn"].value == pytest.approx(2.0)
    for q in ratios.values():
        assert q.unit == "1" and q.provenance == "computed" and "simulated" in q.source


def test_ratio_needs_positive_ipnet_energy_in_joules():
    baselines = {"rnn": Quantity(1e-9, "J", "computed", "x")}
    with pytest.raises(ConfigError, match="positive"):
        memory_ratios(Quantity(0.0, "J", "simulated", "x"), baselines)
    with pytest.raises(ConfigError, match="in J"):
        memory_ratios(Quantity(1e-15, "W", "simulated", "x"), baselines)
    with pytest.raises(ConfigError, match="rnn"):
        memory_ratios(Quantity(1e-15, "J", "simulated", "x"), {"rnn": Quantity(1.0, "1", "computed", "x")})


def test_every_returned_quantity_has_unit_and_provenance():
    techs = load_technologies()
    ipnet = Quantity(1e-15, "J", "assumed", "test")
    quantities = []
    for tech in techs.values():
        quantities += [tech.read_energy(), tech.write_energy()]
        energies = {a: memory_energy_per_step(temporal_state(a, **SHAPES), tech) for a in BASELINE_ARCHS}
        quantities += list(energies.values())
        ratios = memory_ratios(ipnet, energies)
        quantities += list(ratios.values())
        for row in paper_comparison(ratios):
            quantities += [row.ours, row.paper, row.ours_over_paper]
    assert quantities
    for q in quantities:
        assert isinstance(q, Quantity)
        assert q.unit in ("J", "J/bit", "1") and q.provenance in PROVENANCES and q.source.strip()


# -- sensitivity and comparison with the paper -----------------------------------------------------

def test_sensitivity_table_rows():
    techs = load_technologies()
    ipnet = Quantity(1e-15, "J", "assumed", "test")
    rows = sensitivity_table(ipnet, in_shape=IN_SHAPE, out_shape=OUT_SHAPE, temporal_kernel=3, window=8)
    assert len(rows) == len(techs) * 3 * len(BASELINE_ARCHS)
    json.dumps(rows)                                     # plain, JSON-serialisable
    for row in rows:
        tech = techs[row["technology"]]
        traffic = temporal_state(row["arch"], bits_per_value=row["bits_per_value"], **SHAPES)
        expected = traffic.read_bits_per_step * tech.read_j_per_bit + traffic.write_bits_per_step * tech.write_j_per_bit
        assert row["energy_j_per_step"] == pytest.approx(expected, rel=1e-12, abs=0)
        assert row["ratio_to_ipnet"] == pytest.approx(expected / 1e-15, rel=1e-12)
        assert row["verified"] == tech.verified and row["provenance"] == "computed"
    by_key = {(r["technology"], r["bits_per_value"], r["arch"]): r for r in rows}
    # halving the precision halves the energy (input frames follow the precision by default)
    assert by_key[("hbm2", 16, "conv3d")]["energy_j_per_step"] == pytest.approx(
        by_key[("hbm2", 32, "conv3d")]["energy_j_per_step"] / 2)
    table = memory.format_markdown_table(rows)
    assert table.count("\n") == len(rows) + 2 and table.startswith("| technology |")


def test_paper_comparison_reports_the_factor():
    ratios = {"lstm": Quantity(5748.0, "1", "computed", "x"), "conv3d": Quantity(9092.0, "1", "computed", "x"),
              "rnn": Quantity(10.0, "1", "computed", "x")}
    rows = {row.arch: row for row in paper_comparison(ratios)}
    assert set(rows) == {"lstm", "conv3d"}
    assert rows["lstm"].paper.value == 2874 and rows["conv3d"].paper.value == 90920
    assert rows["lstm"].ours_over_paper.value == pytest.approx(2.0)
    assert rows["conv3d"].ours_over_paper.value == pytest.approx(0.1)
    assert "2512.15829" in rows["lstm"].paper.source and rows["lstm"].paper.provenance == "assumed"
    json.dumps([row.to_dict() for row in rows.values()])
    with pytest.raises(ConfigError, match="lstm"):
        paper_comparison({"rnn": Quantity(10.0, "1", "computed", "x")})


# -- the technology table --------------------------------------------------------------------------

def test_packaged_table_loads_with_citations():
    techs = load_technologies()
    assert {"sram_8kb_45nm", "sram_1mb_45nm", "dram_offchip_45nm", "hbm2", "gddr5", "hbm2e", "gddr6"} <= set(techs)
    assert memory.default_technology_name() == "hbm2"
    for name, tech in techs.items():
        assert tech.name == name
        assert tech.citation.strip() and tech.as_printed.strip()
        assert "doi:" in tech.citation or "http" in tech.citation
        # per-bit access energies of real memories lie between 0.01 pJ and 100 pJ: catches pJ typed as J
        for e in (tech.read_j_per_bit, tech.write_j_per_bit):
            assert 1e-14 < e < 1e-10 and math.isfinite(e)
        if not tech.verified:
            assert tech.verification.strip()


def test_packaged_table_anchor_values():
    techs = load_technologies()
    assert techs["sram_8kb_45nm"].read_j_per_bit == pytest.approx(5e-12 / 32, abs=0)      # 5 pJ per 32-bit access
    assert techs["dram_offchip_45nm"].read_j_per_bit == pytest.approx(640e-12 / 32, abs=0)  # 640 pJ per 32-bit access
    assert techs["hbm2"].read_j_per_bit == pytest.approx(3.97e-12, abs=0)
    assert techs["gddr5"].read_j_per_bit == pytest.approx(14.0e-12, abs=0)
    assert "O'Connor" in techs["hbm2"].citation and "10.1145/3123939.3124545" in techs["hbm2"].citation
    assert "Horowitz" in techs["sram_8kb_45nm"].citation
    # the on-chip / off-chip ordering the comparison rests on
    assert (techs["sram_8kb_45nm"].read_j_per_bit < techs["sram_1mb_45nm"].read_j_per_bit
            < techs["hbm2"].read_j_per_bit < techs["gddr5"].read_j_per_bit)


def test_missing_citation_names_the_technology(tmp_path):
    path = _write_table(tmp_path, {"good": _entry(), "fancy_hbm": _entry(citation=None)})
    with pytest.raises(ConfigError) as err:
        load_technologies(path)
    assert "fancy_hbm" in str(err.value) and "citation" in str(err.value)


def test_incomplete_citation_names_the_field(tmp_path):
    no_title = {k: v for k, v in CITATION.items() if k != "title"}
    with pytest.raises(ConfigError, match=r"fancy_hbm.*citation\.title"):
        load_technologies(_write_table(tmp_path, {"fancy_hbm": _entry(citation=no_title)}))
    no_link = {k: v for k, v in CITATION.items() if k != "doi"}
    with pytest.raises(ConfigError, match=r"fancy_hbm.*doi nor url"):
        load_technologies(_write_table(tmp_path, {"fancy_hbm": _entry(citation=no_link)}))


@pytest.mark.parametrize("field, value", [("read_j_per_bit", -1e-12), ("write_j_per_bit", 0.0),
                                          ("read_j_per_bit", float("inf")), ("write_j_per_bit", "3 pJ"),
                                          ("read_j_per_bit", True)])
def test_bad_energy_names_technology_and_field(tmp_path, field, value):
    entry = _entry()
    entry[field] = value
    path = tmp_path / "table.json"
    # json.dumps writes inf as Infinity, which Python's json reads back
    path.write_text(json.dumps({"schema_version": 1, "default": "odd_sram", "technologies": {"odd_sram": entry}}))
    with pytest.raises(ConfigError) as err:
        load_technologies(path)
    assert "odd_sram" in str(err.value) and field in str(err.value)


def test_missing_energy_names_technology_and_field(tmp_path):
    entry = _entry()
    del entry["write_j_per_bit"]
    with pytest.raises(ConfigError, match=r"odd_sram.*write_j_per_bit"):
        load_technologies(_write_table(tmp_path, {"odd_sram": entry}))


def test_missing_file_and_bad_table(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_technologies(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_technologies(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="schema_version"):
        load_technologies(_write_table(tmp_path, {"a": _entry()}, schema_version=2))
    with pytest.raises(ConfigError, match="default"):
        load_technologies(_write_table(tmp_path, {"a": _entry()}, default="b"))
    with pytest.raises(ConfigError, match=r"a.*read_j_bit"):
        load_technologies(_write_table(tmp_path, {"a": _entry(read_j_bit=1e-12)}))
    with pytest.raises(ConfigError, match=r"a.*verified"):
        load_technologies(_write_table(tmp_path, {"a": _entry(verified="yes")}))


# -- layering --------------------------------------------------------------------------------------

def test_import_does_not_load_torch_or_models():
    code = ("import sys, ipnet_cosim.energy.memory; "
            "print('torch' in sys.modules, any(m.startswith('ipnet_cosim.models') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
