"""Sensor noise and distractors: deterministic per seed, adding only what they claim at the rate they claim (measured
on long generated streams within 5 %), and the noisy test sets equal to the clean ones plus the added events."""

from __future__ import annotations

import numpy as np
import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.events import make_events
from ipnet_cosim.models.data.noise import (NoiseSetting, add_background_activity, add_distractor_burst, add_hot_pixels,
                                           hot_pixel_set, noise_rng)
from ipnet_cosim.models.datasets import DataConfig, load_dataset, load_noisy_test

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


@pytest.mark.slow
def test_noise_experiment_quick_covers_every_kind_level_and_seed(tmp_path):
    """The experiment end to end in its quick configuration (three architectures, one seed: a quick IPNet trains in
    ~30 s): every kind and level evaluated, intervals around the accuracy, the error ratios beside the paper's 18x
    with a verdict, a PNG; a rerun with another seed count reuses the trained networks."""
    from ipnet_cosim.models.experiments import run_experiment
    archs = ("ipnet", "conv3d", "lstm")
    levels = {"background": (0.0, 8.0), "burst": (0, 800)}
    res = run_experiment("noise", tmp_path, quick=True, seeds=1, seed=3, levels=levels, archs=archs)
    assert res["seeds"] == [3] and (tmp_path / "noise.png").stat().st_size > 10_000
    for kind, values in levels.items():
        assert set(res["curves"][kind]) == set(archs)
        for points in res["curves"][kind].values():
            assert [p["level"] for p in points] == list(values)
            for p in points:
                assert len(p["accuracy_per_seed"]) == 1 and p["samples"] == 44
                assert p["ci95"][0] <= p["accuracy"] <= p["ci95"][1]
                assert p["accuracy"] == pytest.approx(np.mean(p["accuracy_per_seed"]))
    assert len({(r["arch"], r["seed"]) for r in res["runs"]}) == 3
    assert len(res["error_ratios"]) == 2 * 2 * 2 and res["paper"]["error_ratio"] == 18.0
    assert any("18x" in line for line in res["summary_lines"])
    messages: list[str] = []
    again = run_experiment("noise", tmp_path, quick=True, seeds=1, seed=3, levels={"burst": (800,)}, archs=archs,
                           progress=messages.append)
    assert sum("reusing finished run" in m for m in messages) == 3
    assert again["curves"]["burst"]["ipnet"][0] == res["curves"]["burst"]["ipnet"][1]
