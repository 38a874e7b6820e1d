"""The export/simulation contract: typed records, identity, integrity of the neuron model, degenerate circuits,
a report for every exportable network shape (EXPORTABLE_SHAPES) and every other architecture refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from _small_net import make_small_checkpoint
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.fileio import format_json
from ipnet_cosim.models.network_config import LayerSpec
from ipnet_cosim.netlist_gen.contract import (ExportError, ExportManifest, ForeignResultsError, LayerComparison,
                                              LayerResult, RunFiring, SimFiles, SimulationResults, SimulationSummary,
                                              bind_simulation_folder, read_export, read_results)
from ipnet_cosim.netlist_gen.export import export_network
from ipnet_cosim.simulation.compare import decide, layer_warnings
from ipnet_cosim.simulation.simulate import simulate_export


@pytest.fixture(scope="module")
def small_export(tmp_path_factory, openvaf_tool) -> Path:
    root = tmp_path_factory.mktemp("contract")
    ck = make_small_checkpoint(root / "ck")
    export_network(ck, root / "exp", samples=[0, 1])
    return root / "exp"


def test_manifest_round_trips_byte_for_byte(small_export):
    export = read_export(small_export)
    text = (small_export / "manifest.json").read_text()
    assert format_json(export.manifest.to_dict()) == text
    again = ExportManifest.from_dict(json.loads(text))
    assert again == export.manifest
    assert [u.layer for u in export.manifest.units] == sorted(u.layer for u in export.manifest.units)
    assert export.manifest.readout.is_readout and not any(h.is_readout for h in export.manifest.hidden_layers)


def test_identity_changes_with_the_manifest_and_binds_the_folder(small_export, tmp_path):
    a = read_export(small_export)
    copy = tmp_path / "copy"
    shutil.copytree(small_export, copy)
    data = json.loads((copy / "manifest.json").read_text())
    data["package_version"] = "0.0.0-other"
    (copy / "manifest.json").write_text(json.dumps(data))
    b = read_export(copy)
    assert b.identity != a.identity and b.identity.checkpoint_sha256 == a.identity.checkpoint_sha256
    sim = tmp_path / "sim"
    bind_simulation_folder(sim, a)
    bind_simulation_folder(sim, a)                       # the same export may come back (resume)
    with pytest.raises(ForeignResultsError, match="another export"):
        bind_simulation_folder(sim, b)
    cache_only = tmp_path / "cache_only"
    (cache_only / SimFiles.CACHE).mkdir(parents=True)
    with pytest.raises(ForeignResultsError, match="unknown origin"):
        bind_simulation_folder(cache_only, a)


def test_decide_names_ties_as_no_decision():
    assert decide([0.1, 0.5, 0.2]) == 1
    assert decide([0.0, 0.0, 0.0]) is None
    assert decide([0.3, 0.3, 0.1]) is None
    assert decide([1.0, 1.0 - 1e-6]) == 0
    assert decide([np.nan, 1.0]) is None


def test_layer_warnings_name_silent_layers_and_departing_rates():
    def layer(name, rate, torch_rate):
        return LayerResult(name, 100, rate, LayerComparison(torch_rate, 0, 0, 0, 0, "ln H - ln ln 2", 1.0))
    summary = SimulationSummary(
        samples=2, accuracy=0.0, accuracy_ci95=(0.0, 0.8), no_decision=2, sim_time_per_sample_s=1.0,
        layers=(layer("layer0", 0.0, 0.2), layer("layer1", 0.30, 0.20), layer("layer2", 0.205, 0.20)),
        firing=RunFiring("median", "median mode"))
    kinds = [(w.kind, w.layer) for w in layer_warnings(summary)]
    assert kinds == [("silent_layer", "layer0"), ("fire_rate", "layer1"), ("no_decision", "readout")]


@pytest.mark.ngspice
@pytest.mark.openvaf
@pytest.mark.parametrize("damage", ["truncated", "random"])
def test_damaged_osdi_is_rebuilt_from_its_source(small_export, tmp_path, damage):
    folder = tmp_path / "exp"
    shutil.copytree(small_export, folder)
    osdi = folder / "device" / "ipnet_mtj_neuron.osdi"
    data = osdi.read_bytes()
    damaged = data[: len(data) // 4] if damage == "truncated" else np.random.default_rng(0).bytes(len(data))
    osdi.write_bytes(damaged)
    notes: list[str] = []
    res = simulate_export(folder, samples=[0], progress=False, compare=False, workers=1, notify=notes.append)
    assert any("ipnet_mtj_neuron.osdi" in n and "fresh build" in n for n in notes), notes
    assert osdi.read_bytes() == damaged                   # the export is left as it was
    clean = simulate_export(small_export, samples=[0], out=tmp_path / "clean", progress=False, compare=False)
    assert res.per_sample[0].scores == clean.per_sample[0].scores


@pytest.mark.openvaf
def test_damaged_compiler_cache_is_rebuilt(tmp_path):
    from ipnet_cosim.device.compiler import compile_va, neuron_va_path
    va = tmp_path / "n.va"
    shutil.copyfile(neuron_va_path(), va)
    first = compile_va(va, cache_dir=tmp_path / "cache")
    good = first.read_bytes()
    first.write_bytes(good[:1000])
    again = compile_va(va, cache_dir=tmp_path / "cache")
    assert again == first and again.read_bytes() == good


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_results_are_bound_to_their_export(small_export, tmp_path):
    res = simulate_export(small_export, samples=[0], out=tmp_path / "sim", progress=False, compare=False)
    export = read_export(small_export)
    assert res.export == export.identity
    assert read_results(tmp_path / "sim", export) == res          # the one reader gives back the record written
    for name in ("spikes_sample_0000.npz", "energy_sample_0000.npz", "soa_sample_0000.npz"):
        with np.load(tmp_path / "sim" / name) as f:          # every per-sample file names its export
            assert str(f["export_manifest_sha256"]) == export.identity.manifest_sha256
    data = json.loads((tmp_path / "sim" / "results.json").read_text())
    data["export"]["manifest_sha256"] = "0" * 64
    (tmp_path / "sim" / "results.json").write_text(json.dumps(data))
    with pytest.raises(ForeignResultsError, match="another export"):
        read_results(tmp_path / "sim", export)


def test_reading_a_folder_that_is_not_an_export(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        read_export(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no manifest.json"):
        read_export(tmp_path)


#: every network shape the tests know that export maps to a circuit: both mappable architectures, the heat memory
#: at the frontier, in a later layer, in every layer and nowhere, conv and linear layers (a padded conv, two convs, a
#: linear layer on the input), both drive stages
EXPORTABLE_SHAPES = {
    "frontier memory, conv + linear": {},
    "memoryless": {"arch": "memoryless"},
    "memory in layer 1": {"memory_layers": (1,)},
    "memory in every layer": {"memory_layers": (0, 1)},
    "linear on the input": {"layers": (LayerSpec("linear", 12),)},
    "two convs, padded": {"layers": (LayerSpec("conv", 3, kernel=3, stride=2, padding=1),
                                     LayerSpec("conv", 4, kernel=3, stride=2), LayerSpec("linear", 6))},
    "ideal drive": {"drive": "ideal"},
}


@pytest.mark.openvaf
def test_every_architecture_is_exportable_or_refused_by_name(tmp_path):
    """The exportable shapes cover every mappable architecture; every other architecture is refused naming them."""
    from ipnet_cosim.models.network_config import ARCHITECTURES
    from ipnet_cosim.netlist_gen.export import MAPPABLE_ARCHS
    from ipnet_cosim.device.errors import CheckpointError
    assert {shape.get("arch", "ipnet") for shape in EXPORTABLE_SHAPES.values()} == set(MAPPABLE_ARCHS)
    for arch in set(ARCHITECTURES) - set(MAPPABLE_ARCHS):
        ck = make_small_checkpoint(tmp_path / arch, arch=arch)
        with pytest.raises(CheckpointError, match=f"'{arch}' network; only {', '.join(MAPPABLE_ARCHS)}"):
            export_network(ck, tmp_path / f"{arch}_exp", samples=[0])
        assert not (tmp_path / f"{arch}_exp" / "manifest.json").exists()


@pytest.mark.openvaf
@pytest.mark.parametrize("shape", list(EXPORTABLE_SHAPES))
def test_a_report_for_every_exportable_network_shape(tmp_path, shape):
    """Each shape exports, runs (twin) and reports every layer once: the spikes per layer counted here from the run's
    spike files, each layer's energy the sum of its categories, the totals the sums over the layers (energy per
    category and in all, area), the memory section naming the heat-memory layer (not applicable without one)."""
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    from ipnet_cosim.models.checkpoint import load_checkpoint
    ck = make_small_checkpoint(tmp_path / "ck", **EXPORTABLE_SHAPES[shape])
    export_network(ck, tmp_path / "exp", samples=[0])
    samples = [0, 1, 2]
    simulate_export(tmp_path / "exp", out=tmp_path / "run", samples=samples, simulator="twin", progress=False,
                    plots=0)
    report, data = build_report(tmp_path / "exp", sim=tmp_path / "run")
    hidden = [layer["name"] for layer in json.loads((tmp_path / "exp" / "manifest.json").read_text())["layers"]][:-1]
    energy = report["energy"]
    assert [layer["name"] for layer in energy["layers"]] == hidden + ["readout"]
    for layer in energy["layers"]:
        if layer["name"] != "readout":
            counted = [int(np.load(tmp_path / "run" / SimFiles.spikes(s))[SimFiles.spike_key(layer["name"])].sum())
                       for s in samples]
            assert layer["spikes"]["value"] == pytest.approx(np.mean(counted), rel=1e-12)
        assert layer["total"]["value"] == pytest.approx(sum(c["value"] for c in layer["energy"].values()),
                                                        rel=1e-12, abs=0)
    assert energy["total"]["value"] == pytest.approx(sum(l["total"]["value"] for l in energy["layers"]), rel=1e-12,
                                                     abs=0)
    for category, figure in energy["totals"].items():
        assert figure["value"] == pytest.approx(sum(l["energy"][category]["value"] for l in energy["layers"]),
                                                rel=1e-12, abs=1e-30)
    area = report["area"]
    assert [layer["name"] for layer in area["layers"]] == hidden + ["readout"]
    assert area["total"]["value"] == pytest.approx(sum(l["total"]["value"] for l in area["layers"]), rel=1e-12, abs=0)
    mem = report["memory"]
    config = load_checkpoint(ck).network_config
    memory = [hidden[i] for i in config.heat_layers]
    if not memory:
        assert mem["applicable"] is False and mem["paper_comparison"] == [] and mem["compared_layer"] is None
        assert all(b["ratio_to_ipnet"] is None for b in mem["baselines"].values())
        assert "not applicable" in mem["definition"]
    else:
        assert mem["applicable"] is True and mem["compared_layer"] == memory[0]
        assert report["inputs"]["memory"]["compared_layer"] == memory[0]
        assert f"layer {memory[0]}" in mem["definition"]
    paths = write_report(report, data, tmp_path / "rep")
    assert ("no heat-memory layer" in paths["md"].read_text()) == (not memory)


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_a_silent_circuit_is_named_not_counted_as_class_0(tmp_path):
    """Two conductance levels silence the small network's layer 0: simulate and report say so, and a tied
    readout is 'no decision', never class 0."""
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    ck = make_small_checkpoint(tmp_path / "ck")
    export_network(ck, tmp_path / "exp", samples=[0, 1],
                   options=MappingOptions(conductance=ConductanceOptions(levels=2)))
    notes: list[str] = []
    res = simulate_export(tmp_path / "exp", progress=False, notify=notes.append)
    layers = res.summary.layers
    kinds = {(w.kind, w.layer) for w in res.warnings}
    for tot in layers:
        assert (("silent_layer", tot.layer) in kinds) == (tot.fire_rate == 0.0)
    assert any(tot.fire_rate == 0.0 for tot in layers), layers      # the premise of this test
    assert len(notes) >= len(res.warnings) > 0
    for e in res.per_sample:
        assert e.predicted_class == decide(e.scores)
        if e.predicted_class is None:
            assert e.classes_agree is (e.torch_class is None)
    report, data = build_report(tmp_path / "exp")
    assert [w["kind"] for w in report["warnings"]] == [w.kind for w in res.warnings]
    md = write_report(report, data, tmp_path / "rep")["md"].read_text()
    assert md.count("> **Warning (") == len(res.warnings)
    # a quantized mapping: the reference is the hardware model of this chip, the network's accuracy beside it
    assert res.summary.torch.model.startswith("hardware") and "pytorch_network" in report["accuracy"]
    assert "PyTorch hardware model" in md


@pytest.mark.openvaf
def test_export_once_keeps_its_own_export_and_refuses_another(tmp_path):
    """A resumable pipeline's export step: the same checkpoint, samples and options reuse the folder untouched;
    other samples or options are refused by name and the folder is left as it was."""
    from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
    from ipnet_cosim.netlist_gen.export import export_once
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    ck = make_small_checkpoint(tmp_path / "ck")
    out = tmp_path / "exp"
    export_once(ck, out, samples=[0, 1])
    before = (out / "manifest.json").read_bytes()
    stamp = (out / "manifest.json").stat().st_mtime_ns
    export_once(ck, out, samples=[0, 1])
    assert (out / "manifest.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="differs in its samples"):
        export_once(ck, out, samples=[0, 2])
    with pytest.raises(ConfigError, match="differs in its mapping options"):
        export_once(ck, out, samples=[0, 1], options=MappingOptions(conductance=ConductanceOptions(levels=16)))
    assert (out / "manifest.json").read_bytes() == before


@pytest.mark.openvaf
def test_results_records_round_trip_and_name_what_is_damaged(tmp_path):
    """A twin run compared with nothing and a run of its results through JSON: the records written are the records
    read (floats included), and a field of the wrong kind is named with its place."""
    from ipnet_cosim.netlist_gen.contract import read_results
    ck = make_small_checkpoint(tmp_path / "ck")
    export_network(ck, tmp_path / "exp", samples=[0, 1])
    res = simulate_export(tmp_path / "exp", out=tmp_path / "sim", progress=False, simulator="twin")
    export = read_export(tmp_path / "exp")
    assert read_results(tmp_path / "sim", export) == res
    data = json.loads(json.dumps(res.to_dict()))
    assert SimulationResults.from_dict(data, export.identity) == res
    assert res.summary.accuracy == sum(e.correct for e in res.per_sample) / 2
    assert not any("circuit" in key for key in data["summary"]) and res.simulator == "twin"
    data["per_sample"][1]["layers"][0]["fire_rate"] = "high"
    with pytest.raises(ExportError, match=r"per_sample\[1\]\.layers\[0\]\.fire_rate must be a number"):
        SimulationResults.from_dict(data, export.identity)
    data = res.to_dict()
    data["summary"]["samples"] = 3
    with pytest.raises(ExportError, match="counts 3 samples but per_sample lists 2"):
        SimulationResults.from_dict(data, export.identity)
