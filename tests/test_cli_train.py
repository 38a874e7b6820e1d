"""The train / evaluate / experiment commands, run through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from ipnet_cosim.cli.app import main

TINY = """
[network]
layers = [{kind = "conv", out = 4, kernel = 5, stride = 3},
          {kind = "conv", out = 4, kernel = 3, stride = 2},
          {kind = "linear", out = 8}]

[data]
n_bins = 8
n_train_per_class = 2
n_test_per_class = 1
n_val_per_class = 1

[train]
batch_size = 8
calibrate_samples = 8
"""


@pytest.fixture(scope="module")
def trained_cli(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    cfg = root / "tiny.toml"
    cfg.write_text(TINY)
    out = root / "run"
    code = main(["train", "-o", str(out), "--dataset", "synthetic-11", "--epochs", "1", "--config", str(cfg),
                 "--quiet", "--no-exact-eval", "--threads", "1", "--seed", "4"])
    assert code == 0
    return root, out, cfg


def test_train_writes_a_complete_checkpoint(trained_cli):
    _, out, _ = trained_cli
    summary = json.loads((out / "checkpoint.json").read_text())
    assert summary["network_config"]["layers"][0]["out"] == 4
    assert summary["data_config"]["dataset"] == "synthetic-11"
    assert summary["data_config"]["seed"] == 4 and summary["train_config"]["seed"] == 4
    assert summary["network_config"]["n_classes"] == 11
    assert summary["metrics"]["complete"] is True
    assert "mtj" in summary["device_card"] and "timing" in summary["device_card"]
    assert len(summary["class_names"]) == 11


def test_evaluate_reproduces_the_training_metric(trained_cli, tmp_path):
    _, out, _ = trained_cli
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(out), "--precision", "train", "-o", str(report), "--threads", "1"]) == 0
    result = json.loads(report.read_text())
    summary = json.loads((out / "checkpoint.json").read_text())
    assert result["accuracy"] == pytest.approx(summary["metrics"]["test_accuracy_train_precision"])
    assert result["n_samples"] == 11


def test_training_into_an_existing_run_fails_without_touching_it(trained_cli, capsys):
    _, out, cfg = trained_cli
    before = (out / "checkpoint.pt").read_bytes()
    code = main(["train", "-o", str(out), "--dataset", "synthetic-11", "--epochs", "1", "--config", str(cfg),
                 "--quiet", "--no-exact-eval", "--threads", "1"])
    assert code == 2
    assert "--resume" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[netwrok]\narch = 'ipnet'\n")
    assert main(["train", "-o", str(tmp_path / "x"), "--config", str(bad), "--quiet"]) == 2
    assert "netwrok" in capsys.readouterr().err
    assert main(["train", "-o", str(tmp_path / "y"), "--arch", "transformer", "--quiet"]) == 2
    assert "transformer" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["experiment", "telepathy"]) == 2
