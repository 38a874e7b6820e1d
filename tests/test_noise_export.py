"""A noisy stimulus through the circuit: ``export --noise`` records the sensor noise in the manifest, exports the
noisy test set's frames, simulate loads further samples with the same noise, and ngspice's spikes equal PyTorch's on
them; bad or damaged noise records are named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _small_net import SMALL_DATA, make_small_checkpoint
from ipnet_cosim.cli.app import main
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.noise import NoiseSetting
from ipnet_cosim.models.datasets import load_dataset, load_noisy_test
from ipnet_cosim.netlist_gen.contract import ExportError, read_export
from ipnet_cosim.netlist_gen.export import export_network, export_once
from ipnet_cosim.simulation.simulate import simulate_export

BURST = NoiseSetting("burst", 150)


@pytest.fixture(scope="module")
def small_ck(tmp_path_factory) -> Path:
    return make_small_checkpoint(tmp_path_factory.mktemp("ck"))


@pytest.fixture(scope="module")
def noisy_export(small_ck, tmp_path_factory, openvaf_tool) -> Path:
    out = tmp_path_factory.mktemp("exp") / "noisy"
    export_network(small_ck, out, samples=[0, 7], noise=BURST, noise_seed=4)
    return out


def test_noisy_export_records_the_noise_and_exports_the_noisy_frames(noisy_export):
    manifest = json.loads((noisy_export / "manifest.json").read_text())
    assert manifest["samples"]["noise"] == {**BURST.to_dict(), "seed": 4}
    noisy = load_noisy_test(SMALL_DATA, BURST, 4)
    _, clean = load_dataset(SMALL_DATA)
    with np.load(noisy_export / "stimulus" / "samples.npz") as data:
        assert np.array_equal(data["frames"], noisy.frames[[0, 7]])
        assert not np.array_equal(data["frames"], clean.frames[[0, 7]])
    assert read_export(noisy_export).manifest.samples.noise["seed"] == 4


@pytest.mark.openvaf
def test_clean_exports_carry_no_noise_record(small_ck, tmp_path):
    for noise in (None, NoiseSetting("background", 0.0)):
        out = tmp_path / f"clean_{noise is None}"
        export_network(small_ck, out, samples=[0], noise=noise)
        assert "noise" not in json.loads((out / "manifest.json").read_text())["samples"]


@pytest.mark.ngspice
def test_noisy_samples_spikes_equal_pytorch_including_samples_not_exported(noisy_export, tmp_path):
    """Sample 12 is not in the export: simulate builds its frames from the data set with the manifest's noise, and
    PyTorch runs the same frames (its spikes equal the circuit's only if both saw the noisy stimulus)."""
    res = simulate_export(noisy_export, out=tmp_path / "sim", samples=[7, 12], workers=2, progress=False,
                          energy=False)
    assert res.summary.torch.all_spikes_equal and res.summary.torch.classes_agree == 2
    assert all(layer.compared is not None and layer.compared.mismatches == 0 for layer in res.summary.layers)


def test_export_once_refuses_an_export_with_other_noise(small_ck, noisy_export):
    export_once(small_ck, noisy_export, samples=[0, 7], noise=BURST, noise_seed=4)          # the same: kept
    for noise, seed in ((BURST, 5), (NoiseSetting("burst", 100), 4), (None, 0)):
        with pytest.raises(ConfigError, match="sensor noise"):
            export_once(small_ck, noisy_export, samples=[0, 7], noise=noise, noise_seed=seed)


@pytest.mark.parametrize("record, message", [
    ({"kind": "rain", "level": 3, "seed": 0}, "noise kind 'rain' is unknown"),
    ({"kind": "burst", "level": 1.5, "seed": 0}, "whole number"),
    ({"kind": "burst", "level": 10, "seed": -1}, "seed must be an integer >= 0"),
    ({"kind": "burst", "level": 10}, "seed must be an integer >= 0"),
    ({"kind": "burst", "level": 10, "seed": 0, "colour": 1}, "unknown field"),
    ("burst", "must be a table"),
])
def test_a_damaged_noise_record_is_named(noisy_export, tmp_path, record, message):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(noisy_export, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["samples"]["noise"] = record
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match=message):
        read_export(copy)


@pytest.mark.parametrize("args, message", [
    (["--noise", "burst"], "use KIND=LEVEL"),
    (["--noise", "snow=3"], "noise kind 'snow' is unknown"),
    (["--noise", "hot_pixels=2.5"], "whole number"),
    (["--noise", "background=-1"], ">= 0"),
    (["--noise", "burst=10", "--noise-seed", "-2"], "noise seed"),
    (["--noise", "hot_pixels=1000"], "n_pixels"),
])
def test_bad_noise_options_are_one_line_and_exit_2(small_ck, tmp_path, capsys, args, message):
    out = tmp_path / "never"
    code = main(["export", str(small_ck), "-o", str(out), "--samples", "0", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_train_names_an_unknown_training_noise(tmp_path, capsys):
    out = tmp_path / "never"
    code = main(["train", "--train-noise", "rain", "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "train_noise 'rain' is unknown" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--training", "dirty"], "training regime"),
    (["--seeds", "0"], "--seeds"),
])
def test_experiment_noise_names_bad_options_before_any_work(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    code = main(["experiment", "noise", "-o", str(out), "--quick", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_a_report_of_a_noisy_export_states_its_stimulus(noisy_export, small_ck, tmp_path):
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    simulate_export(noisy_export, out=tmp_path / "twin", simulator="twin", progress=False)
    report, data = build_report(noisy_export, sim=tmp_path / "twin")
    assert "burst = 150 (events in the distractor burst), noise seed 4" in report["provenance"]["stimulus"]
    write_report(report, data, tmp_path / "report")
    assert "noise seed 4" in (tmp_path / "report" / "report.md").read_text()
    clean = tmp_path / "clean"
    export_network(small_ck, clean, samples=[0])
    simulate_export(clean, out=tmp_path / "twin_clean", simulator="twin", progress=False)
    assert "no added noise" in build_report(clean, sim=tmp_path / "twin_clean")[0]["provenance"]["stimulus"]
