"""Training, checkpoints, resume and their failure modes (tiny configurations, real code paths)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import CheckpointError, ConfigError
from ipnet_cosim.models.checkpoint import CHECKPOINT_FILE, load_checkpoint
from ipnet_cosim.models.datasets import DataConfig, load_dataset
from ipnet_cosim.models.network_config import LayerSpec, NetworkConfig
from ipnet_cosim.models.train import TrainConfig, evaluate, train

SMALL = (LayerSpec("conv", 8, kernel=5, stride=3), LayerSpec("conv", 8, kernel=3, stride=2), LayerSpec("linear", 16))
DATA = DataConfig(dataset="synthetic-11", n_train_per_class=4, n_test_per_class=2, n_val_per_class=2, n_bins=8, seed=3)
NET = NetworkConfig(arch="ipnet", n_classes=11, layers=SMALL)


def _opts(**kw):
    base = dict(epochs=2, batch_size=16, lr=1e-2, seed=0, calibrate_samples=16, eval_exact=False, threads=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    metrics = train(out, NET, DATA, _opts(epochs=5, lr=1e-2, eval_exact=True), progress_bar=False)
    return out, metrics


def test_training_reduces_the_loss(trained):
    out, metrics = trained
    summary = json.loads((out / "checkpoint.json").read_text())
    losses = [h["train_loss"] for h in summary["history"]]
    assert len(losses) == 5
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] * 0.92
    assert summary["metrics"]["complete"] is True
    assert summary["metrics"]["test_accuracy"] == metrics["test_accuracy"]      # saved = returned
    assert summary["device_card"] == DeviceCard().to_dict()
    assert summary["network_config"]["arch"] == "ipnet"
    assert summary["metrics"]["test_accuracy_precision"].startswith("exact")


def test_checkpoint_reloads_to_identical_outputs(trained):
    out, _ = trained
    ck1 = load_checkpoint(out)
    ck2 = load_checkpoint(out / CHECKPOINT_FILE)
    _, test = load_dataset(DATA)
    x = torch.from_numpy(test.frames[:6])
    for precision in ("train", "exact"):
        ck1.model.set_precision(precision)
        ck2.model.set_precision(precision)
        with torch.no_grad():
            assert torch.equal(ck1.model(x), ck2.model(x))
    ck1.model.set_precision("exact")
    again = evaluate(ck1.model, test.frames, test.labels)
    assert again["accuracy"] == pytest.approx(ck1.metrics["test_accuracy"])


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(a, NET, DATA, _opts(), progress_bar=False)
    partial = train(b, NET, DATA, _opts(), progress_bar=False, stop_after=1)
    assert partial["complete"] is False
    train(b, NET, DATA, _opts(), progress_bar=False, resume=True)
    wa, wb = load_checkpoint(a).model.state_dict(), load_checkpoint(b).model.state_dict()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_existing_checkpoint_is_never_overwritten(trained):
    out, _ = trained
    before = (out / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(CheckpointError, match="--resume"):
        train(out, NET, DATA, _opts(), progress_bar=False)
    assert (out / CHECKPOINT_FILE).read_bytes() == before


def test_resume_with_other_settings_is_refused(trained, tmp_path):
    out, _ = trained
    with pytest.raises(CheckpointError, match="differs"):
        train(out, NET, DATA, _opts(epochs=5, lr=5e-3, eval_exact=True), progress_bar=False, resume=True)


def test_truncated_and_foreign_files_raise_checkpoint_errors(trained, tmp_path):
    out, _ = trained
    data = (out / CHECKPOINT_FILE).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not readable"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not readable"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not an ipnet-cosim checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing")


def _edited(out, tmp_path, edit):
    raw = torch.load(out / CHECKPOINT_FILE, weights_only=True)
    edit(raw)
    path = tmp_path / "edited.pt"
    torch.save(raw, path)
    return path


def test_mismatched_or_damaged_checkpoints_are_named(trained, tmp_path):
    out, _ = trained
    def wrong_arch(raw):
        raw["network_config"]["arch"] = "lstm"
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(_edited(out, tmp_path, wrong_arch))
    def wrong_shape(raw):
        raw["network_config"]["layers"][0]["out"] = 6
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(_edited(out, tmp_path, wrong_shape))
    def nan_weight(raw):
        raw["state_dict"]["readout.weight"][0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="readout.weight.*NaN"):
        load_checkpoint(_edited(out, tmp_path, nan_weight))
    def bad_card(raw):
        raw["device_card"]["mtj"]["r_th_k_per_w"] = -1.0
    with pytest.raises(CheckpointError, match="r_th_k_per_w"):
        load_checkpoint(_edited(out, tmp_path, bad_card))
    def old_version(raw):
        raw["format_version"] = 99
    with pytest.raises(CheckpointError, match="version"):
        load_checkpoint(_edited(out, tmp_path, old_version))
    with pytest.raises(CheckpointError, match="expected 'rnn'"):
        load_checkpoint(out, expected_arch="rnn")


def test_class_count_mismatch_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="n_classes=11"):
        train(tmp_path / "x", NET.replace(n_classes=22), DATA, _opts(), progress_bar=False)


def test_bad_train_configs():
    for bad in (dict(epochs=0), dict(lr=-1.0), dict(lr=float("nan")), dict(batch_size=0)):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)
    with pytest.raises(ConfigError, match="unknown key"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match="data-root"):
        DataConfig(dataset="dvs128-22")
    with pytest.raises(ConfigError, match="synthetic-22"):
        DataConfig(dataset="mnist")


def test_22_class_set_pairs_share_summed_frames():
    cfg = DataConfig(dataset="synthetic-22", n_train_per_class=2, n_test_per_class=1, n_bins=8, seed=1)
    train_set, _ = load_dataset(cfg)
    labels = train_set.labels
    assert sorted(set(labels.tolist())) == list(range(22))
    summed = train_set.frames.astype(np.int64).sum(axis=1)
    fwd = summed[labels < 11]
    rev = summed[labels >= 11]
    # every reversed sample's summed frame equals one forward sample's of the same gesture
    for r, lab in zip(rev, labels[labels >= 11]):
        assert any(np.array_equal(r, f) for f in fwd[labels[labels < 11] == lab - 11])


def test_dvs128_22_class_set_from_tonic_files(tmp_path):
    """The real-data path: tonic-layout files -> 22-class set whose reversed copies are flipped frames."""
    rng = np.random.default_rng(0)
    for _split, rel in (("train", "ibmGestureTrain/user01_led/2.npy"), ("train", "ibmGestureTrain/user01_led/5.npy"),
                       ("test", "ibmGestureTest/user24_led/7.npy")):
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        t_ms = np.sort(rng.integers(0, 3000, 400)).astype(np.float64)
        np.save(f, np.column_stack([rng.integers(0, 128, 400), rng.integers(0, 128, 400),
                                    rng.integers(0, 2, 400), t_ms]).astype(np.float64))
    cfg = DataConfig(dataset="dvs128-22", root=str(tmp_path), n_bins=8)
    train_set, test_set = load_dataset(cfg)
    assert len(train_set.class_names) == 22 and train_set.class_names[13] == train_set.class_names[2] + "_reversed"
    assert sorted(train_set.labels.tolist()) == [2, 5, 13, 16]
    fwd = train_set.frames[train_set.labels == 2][0]
    rev = train_set.frames[train_set.labels == 13][0]
    assert np.array_equal(rev, fwd[::-1]) and not np.array_equal(rev, fwd)
    assert test_set.frames.shape == (2, 8, 2, 32, 32)
