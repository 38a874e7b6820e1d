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
    assert (tmp_path / "frontier.png").exists()
    messages = []
    second = run_experiment("frontier", tmp_path, quick=True, progress=messages.append)
    assert sum("reusing finished run" in m for m in messages) == 4
    assert json.dumps(second["rows"], sort_keys=True) == json.dumps(first["rows"], sort_keys=True)


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
        assert row["trained"].startswith("stochastic fine-tune") and 0 <= before["stochastic_accuracy"] <= 1
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


def test_steering_quick(tmp_path):
    result = run_experiment("steering", tmp_path, quick=True)
    assert {r["arch"] for r in result["rows"]} == {"ipnet", "lstm", "memoryless"}
    assert all(r["rmse_deg"] > 0 for r in result["rows"])
    assert result["metric"].startswith("RMSE")
    assert (tmp_path / "steering.png").exists()


def test_steering_runs_on_ddd20_files(tmp_path):
    """The same experiment on real-format DDD-20 recordings (exported layout, written here)."""
    import h5py
    import numpy as np
    rng = np.random.default_rng(0)
    data = tmp_path / "ddd20"
    data.mkdir()
    for k in range(2):
        n = 48
        with h5py.File(data / f"rec{k}_export.hdf5", "w") as f:
            f["dvs_frame"] = rng.integers(-2, 3, size=(n, 260, 346)).astype(np.int16)
            f["steering_wheel_angle"] = np.linspace(-10, 10, n) * (1 if k else -1)
            f["timestamp"] = np.arange(n) * 0.1
    result = run_experiment("steering", tmp_path / "out", quick=True, data_root=str(data))
    assert result["data"]["source"] == "DDD-20"
    assert len(result["data"]["files"]) == 2
    assert all(np.isfinite(r["rmse_deg"]) for r in result["rows"])
