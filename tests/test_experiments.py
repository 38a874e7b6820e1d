"""The temporal experiments in their quick configurations: files, keys, reuse of finished runs."""

from __future__ import annotations

import json

import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.experiments import EXPERIMENTS, get_experiment, run_experiment
from ipnet_cosim.models.experiments.temporal import ARCH_ORDER, STOCHASTIC_DRAWS


def test_registry_names_resolve():
    import inspect
    for name, target in EXPERIMENTS.items():
        fn = get_experiment(name)
        assert f"{fn.__module__}:{fn.__name__}" == target          # the registry entry resolves to its function
        assert {"quick", "seed"} <= set(inspect.signature(fn).parameters), name
    with pytest.raises(ConfigError, match="time-reversed"):
        get_experiment("telepathy")


def test_time_reversed_quick_covers_every_baseline(tmp_path):
    result = run_experiment("time-reversed", tmp_path, quick=True, seed=1)
    saved = json.loads((tmp_path / "time-reversed.json").read_text())
    assert (tmp_path / "time-reversed.png").stat().st_size > 10_000
    assert saved["tables"] == json.loads(json.dumps(result["tables"]))
    for dataset in ("synthetic-11", "synthetic-22"):
        assert [r["arch"] for r in saved["tables"][dataset]] == list(ARCH_ORDER)
        for row in saved["tables"][dataset]:
            assert row["parameter_count"] > 0
            n_test = 2 * 11 if dataset == "synthetic-11" else 2 * 22    # a fraction of whole test samples
            assert row["test_accuracy"] * n_test == pytest.approx(round(row["test_accuracy"] * n_test)), row
            # every network, baselines included, evaluated under its MTJ neurons' randomness too
            k = row["stochastic_accuracy"] * n_test * row["stochastic_draws"]
            assert row["stochastic_draws"] == STOCHASTIC_DRAWS and k == pytest.approx(round(k)), row
            mtj_layers = [str(i) for i, kind in enumerate(row["layer_kinds"]) if "MTJ" in kind]
            assert sorted(row["coin_flip_fraction"]) == mtj_layers, row
    # memoryless networks see the same multiset of frames for a pair: exactly chance on direction
    for arch in ("memoryless", "cnn2d_sum"):
        assert saved["checks"][f"{arch}_direction_accuracy"] == pytest.approx(0.5)


def test_frontier_quick_and_reuse(tmp_path):
    first = run_experiment("frontier", tmp_path, quick=True)
    assert [r["memory_layer"] for r in first["rows"]] == [0, 1, 2, None]
    from _figures import coloured_fraction
    assert coloured_fraction(tmp_path / "frontier.png", (5.5, 4)) > 0.004    # three curves (measured 0.0084)
    messages = []
    second = run_experiment("frontier", tmp_path, quick=True, progress=messages.append)
    assert sum("reusing finished run" in m for m in messages) == 4
    assert json.dumps(second["rows"], sort_keys=True) == json.dumps(first["rows"], sort_keys=True)


def _accuracy_over_draws(folder) -> float:
    """A checkpoint's test accuracy under STOCHASTIC_DRAWS recorded draws (seed 0), the mean over the draws."""
    import numpy as np
    import torch
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.firing import RecordedDraws
    ck = load_checkpoint(folder)
    model = ck.model.set_precision("train").eval()
    _, test = load_dataset(DataConfig.from_dict(ck.data_config))
    samples = list(range(len(test.labels)))
    with torch.no_grad():
        return float(np.mean([(model(torch.as_tensor(test.frames), draws=RecordedDraws(0, samples, [d] * len(samples)))
                               .argmax(dim=1).numpy() == test.labels).mean() for d in range(STOCHASTIC_DRAWS)]))


def test_stochastic_metrics_are_the_mean_over_recorded_draws_and_are_kept_per_checkpoint(tmp_path):
    """The experiments' accuracy under stochastic firing (temporal.stochastic_metrics) on a network whose draws
    differ in accuracy (the quick experiments' networks sit at chance, where any draw gives the same): the mean of
    the per-draw accuracies recomputed here, kept beside the checkpoint and recomputed when its weights change."""
    import numpy as np
    from _small_net import make_small_checkpoint
    from ipnet_cosim.models.experiments.temporal import stochastic_metrics
    folder = make_small_checkpoint(tmp_path / "ck", trained_steps=30)
    folder = folder if folder.is_dir() else folder.parent
    first = stochastic_metrics(folder, {})
    assert len(set(first["accuracy"]["per_draw"])) > 1, "the draws must differ for the mean to be checked"
    assert first["accuracy"]["mean"] == pytest.approx(_accuracy_over_draws(folder), abs=1e-12)
    assert first["accuracy"]["mean"] == pytest.approx(np.mean(first["accuracy"]["per_draw"]), abs=1e-12)
    cache = folder / f"stochastic_test_{STOCHASTIC_DRAWS}.json"
    stamp = cache.stat().st_mtime_ns
    assert stochastic_metrics(folder, {}) == json.loads(json.dumps(first)) and cache.stat().st_mtime_ns == stamp
    other = make_small_checkpoint(tmp_path / "other", trained_steps=5)              # other weights, same path
    other = other if other.is_dir() else other.parent
    (folder / "checkpoint.pt").write_bytes((other / "checkpoint.pt").read_bytes())
    assert stochastic_metrics(folder, {})["accuracy"]["mean"] == pytest.approx(_accuracy_over_draws(folder), abs=1e-12)
    assert cache.stat().st_mtime_ns != stamp


def test_time_reversed_trained_for_stochastic_firing_fine_tunes_the_median_run(tmp_path):
    """--firing stochastic: each network's median-mode run, then a stochastic fine-tune from its weights; the row
    reports the fine-tuned network and, beside it, the same network before the fine-tune."""
    archs = ("ipnet", "memoryless")
    res = run_experiment("time-reversed", tmp_path, quick=True, archs=archs, datasets=("synthetic-22",),
                         firing="stochastic", holds_up_within=None)
    assert list(res["tables"]) == ["synthetic-22"] and res["firing_trained"] == "stochastic"
    for row in res["tables"]["synthetic-22"]:
        run = tmp_path / "runs" / "synthetic-22" / f"{row['arch']}-stochastic"
        summary = json.loads((run / "checkpoint.json").read_text())
        assert summary["train_config"]["firing"] == "stochastic"
        assert summary["train_config"]["init_checkpoint"] == str(
            (tmp_path / "runs" / "synthetic-22" / row["arch"] / "checkpoint.pt").resolve())
        before = row["median_trained"]
        assert row["trained"].startswith("stochastic fine-tune")
        # the network before its fine-tune under stochastic firing: recomputed here draw by draw (recorded draws of
        # seed 0, train precision, as the experiment states)
        assert before["stochastic_accuracy"] == pytest.approx(
            _accuracy_over_draws(tmp_path / "runs" / "synthetic-22" / row["arch"]), abs=1e-12)
        summary = tmp_path / "runs" / "synthetic-22" / row["arch"] / "checkpoint.json"
        assert before["test_accuracy"] == json.loads(summary.read_text())["metrics"]["test_accuracy"]
    messages: list[str] = []
    run_experiment("time-reversed", tmp_path, quick=True, archs=archs, datasets=("synthetic-22",),
                   firing="stochastic", progress=messages.append, holds_up_within=None)
    assert sum("reusing finished run" in m for m in messages) == 4          # both stages of both networks
    # a network that holds up under stochastic firing (here: any, within a tolerance of 1) is not fine-tuned
    kept = run_experiment("time-reversed", tmp_path / "kept", quick=True, archs=archs, datasets=("synthetic-22",),
                          firing="stochastic", holds_up_within=1.0)
    for row in kept["tables"]["synthetic-22"]:
        assert "not fine-tuned" in row["trained"] and "median_trained" not in row
        assert not (tmp_path / "kept" / "runs" / "synthetic-22" / f"{row['arch']}-stochastic").exists()
    with pytest.raises(ConfigError, match="synthetic-22"):
        run_experiment("time-reversed", tmp_path, quick=True, datasets=("synthetic-11",))
    with pytest.raises(ConfigError, match="neuron mode"):
        run_experiment("frontier", tmp_path, quick=True, firing="random")


def _check_steering(result: dict, out, train_deg, test_deg) -> None:
    """steering.json's figures recomputed from the data (regenerated here by the test) and every test window's
    predictions (steering_predictions.npz): RMSE and MAE over steps t >= 1 in degrees, the mean predictor from the
    training targets, the example window, the IPNet-vs-LSTM check; and the figure drawn with its data."""
    import numpy as np
    from _figures import coloured_fraction
    saved = np.load(out / result["predictions_file"])
    np.testing.assert_array_equal(saved["target_deg"], test_deg)                      # the held-out windows
    assert result["data"]["windows"] == {"train": len(train_deg), "test": len(test_deg)}
    mean = train_deg[:, 1:].mean()
    assert result["mean_predictor_rmse_deg"] == pytest.approx(np.sqrt(np.mean((test_deg[:, 1:] - mean) ** 2)),
                                                              rel=1e-9)
    for row in result["rows"]:
        pred = saved[f"predicted_deg_{row['arch']}"]
        assert pred.shape == test_deg.shape
        err = pred[:, 1:] - test_deg[:, 1:]
        assert row["rmse_deg"] == pytest.approx(float(np.sqrt(np.mean(err ** 2))), rel=1e-12)
        assert row["mae_deg"] == pytest.approx(float(np.mean(np.abs(err))), rel=1e-12)
        assert result["example"]["predictions_deg"][row["arch"]] == pytest.approx(pred[0].tolist(), rel=1e-12)
        assert np.ptp(pred[:, 1:]) > 0                   # a prediction that follows the input, not a constant
    by = {r["arch"]: r["rmse_deg"] for r in result["rows"]}
    if "lstm" in by:
        assert result["checks"]["ipnet_vs_cnn_lstm_relative_rmse"] == pytest.approx(
            (by["ipnet"] - by["lstm"]) / by["lstm"], rel=1e-12, abs=0)
    assert coloured_fraction(out / "steering.png", (11, 4)) > 0.1       # bars and curves (measured 0.25; 0 without)


def test_steering_quick(tmp_path):
    from ipnet_cosim.models.data.synthetic_steering import make_steering_dataset
    result = run_experiment("steering", tmp_path, quick=True)
    assert [r["arch"] for r in result["rows"]] == ["ipnet", "lstm", "memoryless"]
    assert result["metric"].startswith("RMSE")
    n = result["data"]["windows"]
    train = make_steering_dataset(n["train"], seed=0, split="train").steering_deg
    test = make_steering_dataset(n["test"], seed=0, split="test").steering_deg
    assert (n["train"], n["test"]) == (24, 8)                                     # the quick configuration
    _check_steering(result, tmp_path, train, test)


def test_steering_runs_on_ddd20_files(tmp_path):
    """The same experiment on real-format DDD-20 recordings (exported layout, written here); the last 20 % of the
    windows in file order are the test set."""
    import h5py
    import numpy as np
    from ipnet_cosim.models.data.ddd20 import load_ddd20
    rng = np.random.default_rng(0)
    data = tmp_path / "ddd20"
    data.mkdir()
    for k in range(2):
        n = 48
        with h5py.File(data / f"rec{k}_export.hdf5", "w") as f:
            # sparse events (0.2 % of the pixels per polarity and frame: ~16 % of the 32 x 32 bins active; dense
            # noise saturates every bin, every window is then the same input and every prediction a constant)
            f["dvs_frame"] = rng.choice(np.array([-1, 0, 1], dtype=np.int16), size=(n, 260, 346),
                                        p=[0.002, 0.996, 0.002])
            f["steering_wheel_angle"] = np.linspace(-10, 10, n) * (1 if k else -1)
            f["timestamp"] = np.arange(n) * 0.1
    result = run_experiment("steering", tmp_path / "out", quick=True, data_root=str(data))
    assert result["data"]["source"] == "DDD-20"
    assert len(result["data"]["files"]) == 2
    angles = np.concatenate([load_ddd20(f).steering_deg for f in sorted(data.glob("*.hdf5"))])
    split = int(0.8 * len(angles))
    _check_steering(result, tmp_path / "out", angles[:split], angles[split:])
