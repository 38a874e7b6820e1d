"""``ipnet-cosim report``: schema, units and provenance of every number, determinism, bad input."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ipnet_cosim.device.errors import ConfigError  # noqa: E402
from ipnet_cosim.energy import memory as mem  # noqa: E402
from ipnet_cosim.energy.report import build_report
from ipnet_cosim.energy.report_checks import check_figures, validate_report
from ipnet_cosim.energy.report_text import write_report

UNIT = "L0_p005_c0"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, openvaf_tool, ngspice_tool):
    from _small_net import make_small_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    base = tmp_path_factory.mktemp("report")
    ck = make_small_checkpoint(base / "ck")
    export_network(ck, base / "exp", samples=[0, 1])
    simulate_export(base / "exp", workers=1, progress=False, waveform_units=[UNIT])
    return base / "exp"


@pytest.mark.ngspice
def test_report_figures_schema_and_files(simulated, tmp_path):
    report, data = build_report(simulated)
    validate_report(report)
    check_figures(report)
    # the memory ratios are the baselines' energies over IPNet's simulated heat per step
    ipnet = report["memory"]["ipnet_per_step"]
    assert ipnet["provenance"] == "simulated" and ipnet["unit"] == "J" and ipnet["value"] > 0
    for b in report["memory"]["baselines"].values():
        assert b["ratio_to_ipnet"]["value"] == pytest.approx(b["energy_per_step"]["value"] / ipnet["value"])
    lstm, rnn = report["memory"]["baselines"]["lstm"], report["memory"]["baselines"]["rnn"]
    assert lstm["energy_per_step"]["value"] == pytest.approx(2 * rnn["energy_per_step"]["value"], abs=0)
    assert {c["arch"] for c in report["memory"]["paper_comparison"]} == {"lstm", "conv3d"}
    techs = mem.load_technologies()
    assert len(report["memory"]["sensitivity"]) == len(techs) * 3 * len(mem.BASELINE_ARCHS)
    # the circuit accuracy carries its Wilson 95 % interval (scipy), and --samples all means the whole test set
    from scipy.stats import binomtest
    from ipnet_cosim.cli.circuit_cmds import size_of_test_set
    acc = report["accuracy"]
    n = len(data.samples)
    ci = binomtest(round(acc["run"]["value"] * n), n).proportion_ci(method="wilson")
    assert acc["run_ci95_low"]["value"] == pytest.approx(ci.low) and acc["run_ci95_high"]["value"] == \
        pytest.approx(ci.high)
    assert acc["run_ci95_low"]["value"] <= acc["run"]["value"] <= acc["run_ci95_high"]["value"]
    assert size_of_test_set(simulated) == 22                        # synthetic-11, 2 test samples per class
    claim = report["area"]["claim"]
    assert claim["holds"] == (claim["lif_over_ours"]["value"] > claim["claimed_ratio"]["value"])
    assert report["area"]["total"]["unit"] == "m^2"
    paths = write_report(report, data, tmp_path / "r")
    html = paths["html"].read_text()
    # self-contained: every image embedded, no external resources
    assert html.count("<img") >= 5 and not re.search(r"src=['\"](?!data:)", html)
    assert "neuron_waveform.png" in {p.name for p in (tmp_path / "r").glob("*.png")}
    md = paths["md"].read_text()
    assert "| layer0 (heat) |" in md and "Ours vs the paper" in md and "um^2" in md
    # one screen first: at a glance, the safe operating area, the summary, then the assumptions and details
    assert md.index("## At a glance") < md.index("## Safe operating area") < md.index("## Summary") \
        < md.index("## Assumptions")
    assert report["soa"]["within"] and report["soa"]["checked"] and "VIOLATED" not in md
    assert [c["layer"] for c in report["soa"]["layers"]] == ["layer0", "layer1"]
    assert "safe_operating_area.png" in {p.name for p in (tmp_path / "r").glob("*.png")}
    summary_block = md[md.index("## Summary"):md.index("## Assumptions")]
    assert "energy per inference" in summary_block and "/ IPNet" in summary_block and "x (paper " in summary_block
    # numbers for people: no exponent notation anywhere in the tables, ratios with thousands separators
    assert not re.search(r"\d\.\d+e[+-]\d+", md.split("## Ours vs the paper, explained")[0]), "exponent notation"
    ref = report["references"]["neurons"][0]
    assert ref["energy_per_spike"]["value"] == 1.61e-15 and "2408.07734" in ref["energy_per_spike"]["source"]
    assert ref["ours_over_reference"]["value"] == pytest.approx(report["per_spike"]["mean"]["value"] / 1.61e-15)
    assert report["references"]["dominant_category"] in report["energy"]["totals"]
    assert "Energy per spike beside published neurons" in md
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report))


@pytest.mark.ngspice
@pytest.mark.browser
def test_report_reads_in_one_screen_in_chromium(simulated, tmp_path):
    """In a real headless browser at 1280 x 1600 px: the summary and the safe-operating-area table end
    within the first screen, every embedded plot decodes, nothing is wider than the window."""
    from ipnet_cosim.energy.browser_check import check_in_browser, chromium_path
    if chromium_path() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/test.sh installs it)")
    report, data = build_report(simulated)
    paths = write_report(report, data, tmp_path / "r")
    layout = check_in_browser(paths["html"], tmp_path / "first_screen.png")
    assert layout["summary_and_soa_in_first_screen"], layout["tables"]
    order = [h["text"] for h in layout["headings"]]
    assert order[1:3] == ["At a glance", "Safe operating area (simulated peaks per layer)"], order
    assert layout["images"] and all(im["ok"] for im in layout["images"]), layout["images"]
    assert layout["width"] <= 1280
    assert (tmp_path / "first_screen.png").stat().st_size > 20_000


@pytest.mark.ngspice
def test_report_is_deterministic(simulated, tmp_path):
    for name in ("a", "b"):
        report, data = build_report(simulated)
        write_report(report, data, tmp_path / name)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


@pytest.mark.ngspice
def test_every_number_needs_unit_and_provenance(simulated):
    report, _ = build_report(simulated, area=False)
    bad = copy.deepcopy(report)
    bad["energy"]["total"] = 1.0e-12                           # a bare number
    with pytest.raises(ConfigError, match="energy.total"):
        check_figures(bad)
    bad = copy.deepcopy(report)
    del bad["energy"]["totals"]["reset"]["provenance"]
    with pytest.raises(ConfigError, match="schema"):
        validate_report(bad)
    bad = copy.deepcopy(report)
    bad["memory"]["ipnet_per_step"]["provenance"] = "guessed"
    with pytest.raises(ConfigError):
        validate_report(bad)


@pytest.mark.ngspice
def test_report_bad_input(simulated, tmp_path):
    table = json.loads(mem.DEFAULT_TABLE_PATH.read_text())
    name = table["default"]
    del table["technologies"][name]["citation"]
    bad_table = tmp_path / "table.json"
    bad_table.write_text(json.dumps(table))
    with pytest.raises(ConfigError, match=name):
        build_report(simulated, technology_table=bad_table)
    with pytest.raises(ConfigError, match="hbm9"):
        build_report(simulated, technology="hbm9")
    from ipnet_cosim.cli.app import main
    empty = tmp_path / "not_simulated"
    empty.mkdir()
    (empty / "manifest.json").write_text((simulated / "manifest.json").read_text())
    assert main(["report", str(empty)]) == 2


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_demo_runs_the_pipeline_and_resumes(tmp_path, capsys):
    """ipnet-cosim demo (on the small test checkpoint): export -> simulate -> report; a rerun reuses the
    export and every cached unit and writes the same report."""
    from _small_net import make_small_checkpoint
    from ipnet_cosim.cli.app import main
    ck = make_small_checkpoint(tmp_path / "ck")
    out = tmp_path / "demo"
    args = ["demo", "--checkpoint", str(ck), "-o", str(out), "--samples", "2", "--workers", "1"]
    assert main(args) == 0
    first = (out / "report" / "report.json").read_bytes()
    assert (out / "report" / "report.html").stat().st_size > 50_000
    assert "wrote" in capsys.readouterr().err          # the report path is printed (rich may wrap it)
    assert main(args) == 0
    assert (out / "report" / "report.json").read_bytes() == first
    results = json.loads((out / "export" / "sim" / "results.json").read_text())
    assert results["summary"]["runs_simulated"] == 0 and results["summary"]["runs_cached"] > 0
    # one synapse card from mapping to area and energy: the manifest's card is the one the report names, prices
    # the crossbar cells with and tags the crossbar read energy with
    from ipnet_cosim.device.synapse import SynapseCard, default_synapse
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    report = json.loads(first)
    card = SynapseCard.from_dict(manifest["mapping_options"]["synapse"])
    assert card == default_synapse() and card.is_device       # the default chip, not the idealisation
    assert manifest["mapping_options"]["conductance"]["g_max_s"] == card.g_on_s
    assert report["synapse"]["name"] == card.name and report["synapse"]["overrides"] == []
    assert report["synapse"]["card"]["cell_area_m2"]["value"] == card.cell_area_m2
    copies = manifest["mapping_options"]["conductance"].get("copies", 1)           # the default chip's (PCM: 4)
    assert copies == MappingOptions.for_chip(card).conductance.copies
    devices = sum(layer["devices"] for layer in manifest["layers"]) * copies
    cells = report["area"]["breakdown"]["crossbar_cells"]
    assert cells["value"] == pytest.approx(devices * card.cell_area_m2, rel=1e-12, abs=0)
    assert f"{devices:,} crossbar devices" in report["headline"]["network"]
    assert f"synapse card '{card.name}'" in report["area"]["layers"][0]["components"]["crossbar_cells"]["source"]
    for fig in (report["energy"]["totals"]["crossbar_read"], report["energy"]["total"], cells):
        assert f"synapse: {card.technology_label} ('{card.name}')" in fig["source"]
    md = (out / "report" / "report.md").read_text()
    assert f"| technology | {card.technology_label} ('{card.name}')" in md and "NOT A DEVICE" not in md
    assert "not a device" not in json.dumps(report["summary"]).lower()
    assert md.index("| technology |") < md.index("## Summary")
    # the first screen: the twin over the test set beside the circuit on samples over the classes, agreement,
    # latency and power, the paper comparison flagged, provenance with the command
    for key in ("accuracy, PyTorch twin", "accuracy, circuit", "per inference", "latency", "power", "provenance",
                "samples over 2 classes", "demo --out"):
        assert key in md, key
    head = report["headline"]
    assert head["twin"]["samples"]["value"] > head["run"]["samples"]["value"] == 2
    assert "network" in head and head["latency"]["unit"] == "s" and head["power"]["unit"] == "W"
    # an export made with another synapse card is refused, not silently reused
    assert main(args + ["--synapse", "rram_1t1r"]) == 2
    assert f"other mapping options (synapse card '{card.name}')" in capsys.readouterr().err
    # an export made from another checkpoint is refused, not silently reused
    other = make_small_checkpoint(tmp_path / "ck2", seed=5)
    assert main(["demo", "--checkpoint", str(other), "-o", str(out), "--samples", "2"]) == 2
    assert "another checkpoint" in capsys.readouterr().err
