"""Every bad input named: damaged or foreign files, wrong types, contradicting metadata, a broken environment.

Each case runs the real command line and asserts: exit code 2, one line on stderr that names the cause
(and, where it matters, the fix), no traceback, nothing half-written, and every earlier result byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from _small_net import make_small_checkpoint
from ipnet_cosim.cli.app import main
from ipnet_cosim.netlist_gen.export import export_network
from ipnet_cosim.simulation.simulate import simulate_export

pytestmark = [pytest.mark.ngspice, pytest.mark.openvaf]


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` with the SHA-256 of its bytes."""
    out = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")) if Path(folder).exists() else []:
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_cli(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def assert_named(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for frag in fragments:
        assert frag.lower() in errors[0].lower(), (frag, errors[0])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two small checkpoints, A exported and simulated, B exported and simulated (other weights)."""
    root = tmp_path_factory.mktemp("bad")
    ck_a = make_small_checkpoint(root / "ck_a", seed=0)
    ck_b = make_small_checkpoint(root / "ck_b", seed=1)
    export_network(ck_a, root / "A", samples=[0])
    export_network(ck_b, root / "B", samples=[0])
    simulate_export(root / "A", progress=False, compare=False)
    simulate_export(root / "B", progress=False, compare=False)
    return {"root": root, "ck_a": ck_a, "ck_b": ck_b, "A": root / "A", "B": root / "B"}


@pytest.fixture
def copy_of(world, tmp_path):
    """A private copy of export A (with its simulation) that a test may damage."""
    def make(name: str = "A") -> Path:
        dst = tmp_path / f"copy_{name}"
        shutil.copytree(world[name], dst)
        return dst
    return make


@pytest.fixture
def ck_copy(world, tmp_path):
    dst = tmp_path / "ck"
    shutil.copytree(world["ck_a"].parent, dst)
    return dst


# -- checkpoints ------------------------------------------------------------------------------------

def test_missing_checkpoint(capsys, tmp_path):
    code, err = run_cli(capsys, "export", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert_named(code, err, "does not exist", "ipnet-cosim train")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_damaged_checkpoint_file(capsys, ck_copy, tmp_path, damage):
    pt = ck_copy / "checkpoint.pt"
    data = pt.read_bytes()
    pt.write_bytes({"truncated": data[: len(data) // 3], "random": np.random.default_rng(0).bytes(4096),
                    "empty": b""}[damage])
    code, err = run_cli(capsys, "export", ck_copy, "-o", tmp_path / "out")
    assert_named(code, err, "checkpoint", "not readable")
    assert not (tmp_path / "out").exists()


def test_nan_weight(capsys, ck_copy, tmp_path):
    raw = torch.load(ck_copy / "checkpoint.pt", weights_only=True)
    name = next(k for k, v in raw["state_dict"].items() if v.is_floating_point())
    raw["state_dict"][name].view(-1)[0] = float("nan")
    torch.save(raw, ck_copy / "checkpoint.pt")
    code, err = run_cli(capsys, "export", ck_copy, "-o", tmp_path / "out")
    assert_named(code, err, name, "NaN")


def test_weights_of_another_architecture(capsys, ck_copy, tmp_path):
    raw = torch.load(ck_copy / "checkpoint.pt", weights_only=True)
    raw["network_config"]["layers"][-1]["out"] = 7           # config and weights disagree
    torch.save(raw, ck_copy / "checkpoint.pt")
    (ck_copy / "checkpoint.json").unlink()
    code, err = run_cli(capsys, "export", ck_copy, "-o", tmp_path / "out")
    assert_named(code, err, "shape")


def test_unknown_layer_kind_in_checkpoint(capsys, ck_copy, tmp_path):
    raw = torch.load(ck_copy / "checkpoint.pt", weights_only=True)
    raw["network_config"]["layers"][0]["kind"] = "attention"
    torch.save(raw, ck_copy / "checkpoint.pt")
    (ck_copy / "checkpoint.json").unlink()
    code, err = run_cli(capsys, "export", ck_copy, "-o", tmp_path / "out")
    assert_named(code, err, "attention")


def test_checkpoint_summary_contradicting_the_weights_file(capsys, ck_copy, tmp_path):
    summary = json.loads((ck_copy / "checkpoint.json").read_text())
    summary["network_config"]["current_scale_a"] *= 2
    (ck_copy / "checkpoint.json").write_text(json.dumps(summary))
    code, err = run_cli(capsys, "export", ck_copy, "-o", tmp_path / "out")
    assert_named(code, err, "checkpoint.json", "contradicts", "network_config")
    assert not (tmp_path / "out").exists()


def test_checkpoint_summary_not_json(capsys, ck_copy, tmp_path):
    (ck_copy / "checkpoint.json").write_text("{ not json")
    code, err = run_cli(capsys, "export", ck_copy, "-o", tmp_path / "out")
    assert_named(code, err, "checkpoint.json", "not valid JSON")


def test_export_never_overwrites(capsys, world, copy_of):
    a = copy_of("A")
    before = snapshot(a)
    code, err = run_cli(capsys, "export", world["ck_a"].parent, "-o", a)
    assert_named(code, err, "not empty", "new folder")
    assert snapshot(a) == before


@pytest.mark.parametrize("args, fragment", [
    (("--samples", "a:b"), "samples"),
    (("--samples", "9999"), "outside the test set"),
    (("--tile-rows", "0"), "tile_rows"),
    (("--gain-trims", "1.01"), "2 hidden layers"),
    (("--gain-trims", "1.0,x"), "one factor per hidden layer"),
    (("--gain-trims", "1.0,0"), "positive factors"),
    (("--gain-trims", "nowhere.json"), "not a calibration file"),
])
def test_bad_export_options(capsys, world, tmp_path, args, fragment):
    code, err = run_cli(capsys, "export", world["ck_a"].parent, "-o", tmp_path / "out", *args)
    assert_named(code, err, fragment)
    assert not (tmp_path / "out").exists()


def test_trims_of_another_chip_are_refused(capsys, world, tmp_path):
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    cal = tmp_path / "chip5.json"       # a calibration of chip 5 (variation seed 5), exported as chip 0
    cal.write_text(json.dumps({"gain_trims": [1.01, 1.0],
                               "mapping_options": MappingOptions.for_chip(seed=5).to_dict()}, default=list))
    code, err = run_cli(capsys, "export", world["ck_a"].parent, "-o", tmp_path / "out", "--gain-trims", cal)
    assert_named(code, err, "calibrated another chip", "conductance", "--variation-seed")
    assert not (tmp_path / "out").exists()


def test_calibrate_never_overwrites(capsys, world, tmp_path):
    out = tmp_path / "cal.json"
    out.write_text("earlier results")
    code, err = run_cli(capsys, "calibrate", world["ck_a"].parent, "-o", out)
    assert_named(code, err, "exists", "--out")
    assert out.read_text() == "earlier results"


# -- device card and configuration files ------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("[mtj]\nr_th_k_per_w = -5\n", "r_th_k_per_w"),
    ("[mtj]\nno_such_field = 1\n", "no_such_field"),
    ("[mtj\nr_th = \n", "card"),
    ("[limits]\nt_max_k = 900\n", "t_max_k"),
    ("[mtj]\nr_th_k_per_w = \"hot\"\n", "r_th_k_per_w"),
])
def test_bad_card_file(capsys, tmp_path, text, fragment):
    card = tmp_path / "card.toml"
    card.write_text(text)
    code, err = run_cli(capsys, "card", "--check", card)
    assert_named(code, err, fragment)


@pytest.mark.parametrize("text, fragment", [
    ("[train]\nepochs = \"ten\"\n", "epochs"),
    ("[network]\nlayers = 5\n", "layers"),
    ("[network]\nlayers = [5]\n", "layers"),
    ("[nonsense]\nx = 1\n", "nonsense"),
    ("[network]\nwidth = -3\n", "width"),
])
def test_bad_config_file(capsys, tmp_path, text, fragment):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(text)
    code, err = run_cli(capsys, "train", "--config", cfg, "-o", tmp_path / "out", "--quiet")
    assert_named(code, err, fragment)
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


# -- export folders --------------------------------------------------------------------------------

def _edit_manifest(folder: Path, edit) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("damage, fragments", [
    (lambda f: (f / "manifest.json").unlink(), ("no manifest.json", "ipnet-cosim export")),
    (lambda f: (f / "manifest.json").write_text("{\"format\": "), ("not valid JSON",)),
    (lambda f: _edit_manifest(f, lambda d: d.update(format_version=99)), ("version 99",)),
    (lambda f: _edit_manifest(f, lambda d: d.update(format="something-else")), ("not an ipnet-cosim export",)),
    (lambda f: _edit_manifest(f, lambda d: d["layers"][0].update(k_s="big")), ("layers[0].k_s", "number")),
    (lambda f: _edit_manifest(f, lambda d: d["layers"][0].update(k_s=float("nan"))), ("layers[0].k_s", "finite")),
    (lambda f: _edit_manifest(f, lambda d: d["units"][0].update(neurons=[0])), ("unit L0_p000_c0", "neurons")),
    (lambda f: _edit_manifest(f, lambda d: d["layers"][0].update(unit="quantum")), ("quantum",)),
    (lambda f: _edit_manifest(f, lambda d: d["timing"].pop("t_step_s")), ("t_step_s",)),
    (lambda f: (f / "stimulus" / "samples.npz").unlink(), ("samples.npz", "missing")),
    (lambda f: (f / "stimulus" / "samples.npz").write_bytes(b"PK\x03\x04 damaged"), ("samples.npz", "damaged")),
    (lambda f: (f / "checkpoint" / "checkpoint.pt").write_bytes(b"other"), ("checkpoint.pt", "does not match")),
    (lambda f: next((f / "ports").glob("*.npz")).write_bytes(b"junk"), ("port model", "damaged")),
], ids=["no-manifest", "manifest-not-json", "manifest-version", "manifest-format", "field-type", "field-nan",
        "unit-neurons",
        "unit-kind", "timing-field", "samples-missing", "samples-damaged", "checkpoint-replaced", "ports-damaged"])
def test_damaged_export_folder(capsys, copy_of, tmp_path, damage, fragments):
    folder = copy_of("A")
    shutil.rmtree(folder / "sim")
    damage(folder)
    before = snapshot(folder)
    code, err = run_cli(capsys, "simulate", folder, "--no-compare", "--plots", "0", "--workers", "1")
    assert_named(code, err, *fragments)
    assert snapshot(folder) == before               # nothing written, not even an empty sim folder


def test_a_file_where_the_export_folder_belongs(capsys, world, tmp_path):
    code, err = run_cli(capsys, "report", world["A"] / "manifest.json", "-o", tmp_path / "rep")
    assert_named(code, err, "is a file, not an export folder")
    assert not (tmp_path / "rep").exists()


def test_missing_netlist_with_the_full_crossbar(capsys, copy_of):
    folder = copy_of("A")
    shutil.rmtree(folder / "sim")
    next((folder / "netlists").glob("*.cir")).unlink()
    code, err = run_cli(capsys, "simulate", folder, "--crossbar", "netlist", "--no-compare", "--plots", "0",
                        "--workers", "1")
    assert_named(code, err, "netlist", "missing")
    assert not (folder / "sim" / "results.json").exists()


def test_damaged_osdi_without_its_source(capsys, copy_of):
    folder = copy_of("A")
    shutil.rmtree(folder / "sim")
    (folder / "device" / "ipnet_mtj_neuron.osdi").write_bytes(b"\x7fELF truncated")
    (folder / "device" / "thermal_mtj_neuron.va").unlink()
    code, err = run_cli(capsys, "simulate", folder, "--no-compare", "--plots", "0", "--workers", "1")
    assert_named(code, err, "ipnet_mtj_neuron.osdi", "damaged", "export again")


# -- simulation folders ----------------------------------------------------------------------------

def test_simulate_into_another_exports_results_is_refused(capsys, world, copy_of):
    a = copy_of("A")
    before = snapshot(a)
    code, err = run_cli(capsys, "simulate", world["B"], "-o", a / "sim", "--no-compare", "--plots", "0")
    assert_named(code, err, "another export", "-o")
    assert snapshot(a) == before


def test_report_of_a_foreign_simulation_is_refused(capsys, world, copy_of, tmp_path):
    a = copy_of("A")
    code, err = run_cli(capsys, "report", a, "--sim", world["B"] / "sim", "-o", tmp_path / "rep")
    assert_named(code, err, "another export")
    assert not (tmp_path / "rep").exists()


def _edit_summary(sim, change, part="summary") -> None:
    """Rewrite a results.json with its summary (or another ``part``) changed (a missing accuracy must be named,
    never read as 0)."""
    data = json.loads((sim / "results.json").read_text())
    change(data[part] if part else data)
    (sim / "results.json").write_text(json.dumps(data))


@pytest.mark.parametrize("damage, fragments", [
    (lambda s: (s / "results.json").unlink(), ("has not been simulated", "ipnet-cosim simulate")),
    (lambda s: (s / "results.json").write_text("[1, 2"), ("results.json", "not valid JSON")),
    (lambda s: (s / "results.json").write_text(json.dumps({"per_sample": [{"sample": 0}]})), ("older",)),
    (lambda s: (s / "energy_sample_0000.npz").unlink(), ("energy",)),
    (lambda s: (s / "energy_sample_0000.npz").write_bytes(b"junk"), ("energy file", "damaged")),
    (lambda s: (s / "spikes_sample_0000.npz").unlink(), ("partial",)),
    (lambda s: _edit_summary(s, lambda summ: summ.pop("accuracy")), ("accuracy", "simulate again")),
    (lambda s: _edit_summary(s, lambda summ: summ.update(accuracy="high")), ("accuracy",)),
    (lambda s: _edit_summary(s, lambda d: d.update(format_version=2), None), ("version 2", "simulate again")),
    (lambda s: _edit_summary(s, lambda d: d[0].update(predicted_class=1.5), "per_sample"),
     ("per_sample[0]", "predicted_class")),
], ids=["no-results", "results-not-json", "results-old", "energy-missing", "energy-damaged", "spikes-missing",
        "accuracy-missing", "accuracy-not-a-number", "results-version-2", "class-not-an-integer"])
def test_damaged_simulation_folder(capsys, copy_of, tmp_path, damage, fragments):
    folder = copy_of("A")
    damage(folder / "sim")
    code, err = run_cli(capsys, "report", folder, "-o", tmp_path / "rep")
    assert_named(code, err, *fragments)
    assert not (tmp_path / "rep").exists()


def test_energy_file_of_another_export_is_refused(capsys, world, copy_of, tmp_path):
    a = copy_of("A")
    shutil.copyfile(world["B"] / "sim" / "energy_sample_0000.npz", a / "sim" / "energy_sample_0000.npz")
    code, err = run_cli(capsys, "report", a, "-o", tmp_path / "rep")
    assert_named(code, err, "energy_sample_0000.npz", "another export")
    assert not (tmp_path / "rep").exists()


def test_simulation_folder_that_is_a_file(capsys, copy_of, tmp_path):
    folder = copy_of("A")
    target = tmp_path / "a_file"
    target.write_text("keep me")
    code, err = run_cli(capsys, "simulate", folder, "-o", target, "--no-compare", "--plots", "0")
    assert_named(code, err, "is a file")
    assert target.read_text() == "keep me"


# -- options and environment -----------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (("--simulator", "spectre"), "simulator"),
    (("--soa", "lenient"), "soa mode"),
    (("--crossbar", "magic"), "crossbar model"),
    (("--simulator", "vacask", "--crossbar", "netlist"), "port model"),
    (("--waveforms", "L9_p999_c0"), "L9_p999_c0"),
    (("--samples", "99999"), "outside the test set"),
])
def test_bad_simulate_options(capsys, copy_of, args, fragment):
    folder = copy_of("A")
    before = snapshot(folder)
    code, err = run_cli(capsys, "simulate", folder, "--no-compare", "--plots", "0", *args)
    assert_named(code, err, fragment)
    assert snapshot(folder) == before


@pytest.mark.parametrize("library", ["missing", "random", "truncated"])
def test_broken_simulator_library_is_one_line(capsys, copy_of, tmp_path, monkeypatch, library):
    from ipnet_cosim.circuits.runner import libngspice_path
    lib = tmp_path / "libngspice.so"
    if library == "random":
        lib.write_bytes(np.random.default_rng(1).bytes(65536))
    elif library == "truncated":
        import ctypes.util
        real = Path(libngspice_path())
        if not real.is_file():
            real = next(Path(p) for p in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")
                        if (Path(p) / (ctypes.util.find_library("ngspice") or "x")).is_file()) / \
                ctypes.util.find_library("ngspice")
        lib.write_bytes(real.read_bytes()[:400_000])
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", str(lib))
    folder = copy_of("A")
    shutil.rmtree(folder / "sim")
    code, err = run_cli(capsys, "simulate", folder, "--no-compare", "--plots", "0", "--workers", "2")
    assert_named(code, err, str(lib), "install")
    assert not (folder / "sim").exists()             # named before any job was dispatched
    code, err = run_cli(capsys, "doctor")
    assert_named(code, err, str(lib))
