"""Sensor noise and distractors: deterministic per seed, adding only what they claim at the rate they claim (measured
on long generated streams within 5 %), and the noisy test sets equal to the clean ones plus the added events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.events import make_events
from ipnet_cosim.models.data.noise import (MIXED_CLEAN_FRACTION, NoiseSetting, add_background_activity,
                                           add_distractor_burst, add_hot_pixels, hot_pixel_set, noise_rng,
                                           training_perturber)
from ipnet_cosim.models.datasets import DataConfig, load_dataset, load_noisy_test, load_validation

H, W = 32, 32
LONG_US = 200_000_000                         # 200 s: enough events for a 5 % rate check


def _clean(n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(7)
    return make_events(rng.integers(0, 1_600_000, n), rng.integers(0, W, n), rng.integers(0, H, n),
                       rng.integers(0, 2, n))


def _added(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The events of ``after`` that are not in ``before`` (as a multiset), checking every clean event is kept."""
    key = lambda e: e[["t", "x", "y", "p"]].tolist()        # noqa: E731
    rest = list(map(tuple, key(after)))
    for ev in map(tuple, key(before)):
        rest.remove(ev)                                        # raises if a clean event was lost
    return np.array(rest, dtype=np.int64).reshape(-1, 4)


def test_background_activity_has_its_rate_and_is_deterministic():
    clean = _clean()
    out = add_background_activity(clean, rate_hz=2.0, height=H, width=W, t_start_us=0, t_stop_us=LONG_US,
                                  rng=noise_rng(3, "background", 1))
    again = add_background_activity(clean, rate_hz=2.0, height=H, width=W, t_start_us=0, t_stop_us=LONG_US,
                                    rng=noise_rng(3, "background", 1))
    other = add_background_activity(clean, rate_hz=2.0, height=H, width=W, t_start_us=0, t_stop_us=LONG_US,
                                    rng=noise_rng(4, "background", 1))
    assert np.array_equal(out, again) and not np.array_equal(out, other)
    added = out.size - clean.size
    assert added / (H * W * LONG_US * 1e-6) == pytest.approx(2.0, rel=0.05)
    assert np.all(np.diff(out["t"]) >= 0)
    extra = _added(clean[:50], add_background_activity(clean[:50], rate_hz=5.0, height=H, width=W, t_start_us=0,
                                                       t_stop_us=1_600_000, rng=noise_rng(0, "background", 2)))
    assert extra.shape[0] > 0 and extra[:, 1].max() < W and extra[:, 2].max() < H


def test_hot_pixels_fire_only_there_at_their_rate():
    rng = noise_rng(0, "hot_pixels", 0)
    pixels = hot_pixel_set(12, H, W, rng)
    assert len({(y, x) for y, x, _ in pixels}) == 12
    clean = _clean(100)
    out = add_hot_pixels(clean, pixels=pixels, rate_hz=50.0, t_start_us=0, t_stop_us=20_000_000,
                         rng=noise_rng(0, "hot_pixels", 1))
    extra = _added(clean, out)
    allowed = {(x, y, p) for y, x, p in pixels}
    assert {(x, y, p) for _, x, y, p in extra} <= allowed
    assert extra.shape[0] / (12 * 20.0) == pytest.approx(50.0, rel=0.05)


def test_distractor_burst_stays_in_its_patch_and_time():
    clean = _clean(100)
    out = add_distractor_burst(clean, n_events=400, size_px=6, fraction=0.25, height=H, width=W, t_start_us=0,
                               t_stop_us=1_600_000, rng=noise_rng(2, "burst", 1))
    extra = _added(clean, out)
    assert extra.shape[0] == 400
    assert extra[:, 0].max() < 400_000                          # the first quarter of the window
    assert np.ptp(extra[:, 1]) < 6 and np.ptp(extra[:, 2]) < 6  # one 6 x 6 patch


@pytest.mark.parametrize("kw, message", [
    ({"kind": "rain", "level": 1.0}, "noise kind 'rain'"),
    ({"kind": "background", "level": -1.0}, "background level"),
    ({"kind": "hot_pixels", "level": 2.5}, "whole number"),
    ({"kind": "burst", "level": float("nan")}, "finite"),
])
def test_bad_noise_settings_are_named(kw, message):
    with pytest.raises(ConfigError, match=message):
        NoiseSetting(**kw)


def test_noisy_test_sets_are_the_clean_ones_plus_the_noise():
    cfg = DataConfig(dataset="synthetic-22", n_train_per_class=1, n_test_per_class=2, n_val_per_class=0, height=16,
                     width=16, n_bins=8)
    _, clean = load_dataset(cfg)
    assert np.array_equal(load_noisy_test(cfg, NoiseSetting("background", 0.0), 0).frames, clean.frames)
    for setting in (NoiseSetting("background", 3.0), NoiseSetting("hot_pixels", 5), NoiseSetting("burst", 200)):
        noisy = load_noisy_test(cfg, setting, 1)
        assert np.array_equal(noisy.labels, clean.labels)
        assert np.all(noisy.frames >= clean.frames) and noisy.frames.sum() > clean.frames.sum()
        assert np.array_equal(load_noisy_test(cfg, setting, 1).frames, noisy.frames)      # deterministic
        assert not np.array_equal(load_noisy_test(cfg, setting, 2).frames, noisy.frames)  # the seed matters
    hot = load_noisy_test(cfg, NoiseSetting("hot_pixels", 5), 1).frames.astype(int) - clean.frames
    lit = np.argwhere(hot.any(axis=(0, 1)).any(axis=0))       # pixels that gained events, any sample/channel
    assert len(lit) <= 5                                       # one sensor's five hot pixels, in every sample


def test_training_noise_perturbs_train_and_validation_only_and_deterministically():
    base = dict(dataset="synthetic-22", n_train_per_class=6, n_test_per_class=2, n_val_per_class=3, height=16,
                width=16, n_bins=8, seed=2)
    clean_cfg, noisy_cfg = DataConfig(**base), DataConfig(**base, train_noise="mixed")
    (train_c, test_c), (train_n, test_n) = load_dataset(clean_cfg), load_dataset(noisy_cfg)
    assert np.array_equal(test_c.frames, test_n.frames)                    # the test set stays clean
    assert np.array_equal(train_c.labels, train_n.labels)
    assert np.all(train_n.frames >= train_c.frames)                        # noise only adds events
    changed = (train_n.frames != train_c.frames).any(axis=(1, 2, 3, 4))
    # about a quarter stay clean (132 samples: 0.25 +- 4 standard deviations)
    sd = np.sqrt(MIXED_CLEAN_FRACTION * (1 - MIXED_CLEAN_FRACTION) / changed.size)
    assert abs((~changed).mean() - MIXED_CLEAN_FRACTION) < 4 * sd
    val_c, val_n = load_validation(clean_cfg), load_validation(noisy_cfg)
    assert np.all(val_n.frames >= val_c.frames) and (val_n.frames != val_c.frames).any()
    again = training_perturber("mixed", 16, 16, 1_600_000, 2, "train")
    ev = _clean()
    fresh = training_perturber("mixed", 16, 16, 1_600_000, 2, "train")
    assert np.array_equal(again(ev, 3, 1, False), fresh(ev, 3, 1, False))
    assert training_perturber("none", 16, 16, 1_600_000, 2, "train") is None


@pytest.mark.parametrize("kw, message", [
    (dict(train_noise="rain"), "train_noise 'rain' is unknown"),
    (dict(train_noise="mixed", dataset="dvs128-22", root="/nowhere"), "is recorded"),
    (dict(train_noise=3), "must be"),
])
def test_bad_training_noise_is_named(kw, message):
    with pytest.raises(ConfigError, match=message):
        DataConfig(**kw)


def test_noise_settings_parse_and_round_trip():
    assert NoiseSetting.parse("burst=300") == NoiseSetting("burst", 300)
    assert NoiseSetting.parse(" background = 0.1") == NoiseSetting("background", 0.1)
    assert NoiseSetting.parse("hot_pixels=16.0").level == 16
    for s in (NoiseSetting("burst", 300), NoiseSetting("hot_pixels", 4, hot_pixel_rate_hz=20.0)):
        assert NoiseSetting.from_dict(s.to_dict()) == s
    for text, message in (("burst", "KIND=LEVEL"), ("burst=x", "KIND=LEVEL"), ("hail=3", "unknown"),
                          ("burst=nan", "finite"), ("hot_pixels=inf", "finite")):
        with pytest.raises(ConfigError, match=message):
            NoiseSetting.parse(text)


@pytest.mark.slow
@pytest.mark.ngspice
@pytest.mark.openvaf
def test_noise_experiment_quick_covers_every_regime_kind_level_and_seed(tmp_path):
    """The experiment end to end in its quick configuration (two architectures, one seed, trained clean and with
    noise: a quick IPNet trains in ~30 s): every regime, kind and level evaluated, intervals around the accuracy,
    the error ratios beside the paper's 18x with a verdict, the circuit check in ngspice (spikes equal PyTorch's on
    the noisy stimulus), a PNG; a rerun reuses the trained networks and the evaluations."""
    from ipnet_cosim.models.experiments import run_experiment
    from ipnet_cosim.simulation.noise_check import noise_circuit_check
    archs = ("ipnet", "conv3d")
    levels = {"background": (0.0, 0.3), "burst": (0, 800)}
    res = run_experiment("noise", tmp_path, quick=True, seeds=1, seed=3, levels=levels, archs=archs,
                         circuit=("burst", 800), circuit_samples=1,
                         circuit_checker=noise_circuit_check)
    assert res["seeds"] == [3] and (tmp_path / "noise.png").stat().st_size > 10_000
    assert set(res["curves"]) == {"clean", "noise"}
    for regime in ("clean", "noise"):
        for kind, values in levels.items():
            assert set(res["curves"][regime][kind]) == set(archs)
            for points in res["curves"][regime][kind].values():
                assert [p["level"] for p in points] == list(values)
                for p in points:
                    assert len(p["accuracy_per_seed"]) == 1 and p["samples"] == 44
                    assert p["ci95"][0] <= p["accuracy"] <= p["ci95"][1]
            # the clean level is one evaluation shared by the kinds
            assert res["curves"][regime]["burst"]["ipnet"][0] == res["curves"][regime]["background"]["ipnet"][0]
    assert len({(r["arch"], r["seed"], r["training"]) for r in res["runs"]}) == 4
    assert len(res["error_ratios"]) == 2 * 2 * 2 and res["paper"]["error_ratio"] == 18.0
    assert sum("18x" in line for line in res["summary_lines"]) == 2
    check = res["circuit_check"]
    assert check["all_spikes_equal_pytorch"] and check["classes_agree"] == 1
    assert check["noise"]["kind"] == "burst" and check["noise"]["level"] == 800
    manifest = json.loads((Path(check["export"]) / "manifest.json").read_text())
    assert manifest["samples"]["noise"]["level"] == 800 and manifest["samples"]["noise"]["seed"] == 3
    messages: list[str] = []
    again = run_experiment("noise", tmp_path, quick=True, seeds=1, seed=3, levels={"burst": (800,)}, archs=archs,
                           progress=messages.append, circuit=("burst", 800), circuit_samples=1,
                           circuit_checker=noise_circuit_check)
    assert sum("reusing finished run" in m for m in messages) == 4
    assert not any(" on burst = " in m for m in messages)                 # every evaluation came from the cache
    assert again["curves"]["noise"]["burst"]["ipnet"][0] == res["curves"]["noise"]["burst"]["ipnet"][1]
    assert again["circuit_check"]["all_spikes_equal_pytorch"]
    # the same networks under their neurons' own randomness: every draw of every sample counted, cached apart
    messages.clear()
    st = run_experiment("noise", tmp_path, quick=True, seeds=1, seed=3, levels={"burst": (800,)}, archs=archs,
                        progress=messages.append, circuit=None, firing="stochastic", draws=2)
    assert st["firing"] == {"mode": "stochastic", "seed": 0, "draws": 2} and "stochastic" in st["provenance"]
    assert sum(" on burst = " in m for m in messages) == 4                # evaluated anew, not the median cache
    for regime in ("clean", "noise"):
        assert all(p["samples"] == 88 for pts in st["curves"][regime]["burst"].values() for p in pts)
