"""Synthetic gestures (11 classes and the 22-class time-reversed benchmark) and the synthetic steering stream."""

from __future__ import annotations

import numpy as np
import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.synthetic_steering import SyntheticSteeringConfig, make_steering_dataset
from ipnet_cosim.models.data.events import EVENT_DTYPE
from ipnet_cosim.models.data.synthetic_gestures import (
    GESTURE_CLASSES, SyntheticGestureConfig, generate_gesture_events, make_gesture_dataset)

N_PER_CLASS = 6


@pytest.fixture(scope="module")
def reversed_set():
    return make_gesture_dataset(N_PER_CLASS, seed=3, time_reversed=True)


def test_class_list():
    assert GESTURE_CLASSES == ("swipe_right", "swipe_down", "diagonal", "circle_cw", "arc_over", "spiral_out",
                               "zigzag_right", "converge", "expand", "l_path", "wave_up")


def test_dataset_layout(reversed_set):
    ds = reversed_set
    n_fwd = 11 * N_PER_CLASS
    assert ds.frames.shape == (2 * n_fwd, 16, 2, 32, 32) and ds.frames.dtype == np.uint8
    assert ds.class_names == GESTURE_CLASSES + tuple(n + "_reversed" for n in GESTURE_CLASSES)
    assert ds.labels.tolist() == [c for c in range(22) for _ in range(N_PER_CLASS)]
    assert set(np.unique(ds.frames).tolist()) <= {0, 1}
    assert ds.meta["seed"] == 3 and ds.meta["split"] == "train" and ds.meta["time_reversed"] is True
    assert ds.meta["config"] == SyntheticGestureConfig().to_dict()
    # every sample has clear activity in most bins
    per_bin = ds.frames.reshape(len(ds), 16, -1).sum(-1)
    assert (per_bin > 10).mean() > 0.7


def test_reversal_pairs_share_frames_but_not_order(reversed_set):
    ds = reversed_set
    n_fwd = 11 * N_PER_CLASS
    for j in range(n_fwd):
        fwd, rev = ds.frames[j], ds.frames[n_fwd + j]
        assert ds.labels[n_fwd + j] == ds.labels[j] + 11
        np.testing.assert_array_equal(rev, fwd[::-1])
        np.testing.assert_array_equal(rev.sum(axis=0, dtype=np.int64), fwd.sum(axis=0, dtype=np.int64))
        assert not np.array_equal(rev, fwd), f"sample {j} ({ds.class_names[ds.labels[j]]}) is time-symmetric"


def test_reversal_with_counts():
    cfg = SyntheticGestureConfig(binary=False)
    ds = make_gesture_dataset(1, config=cfg, seed=5, time_reversed=True)
    assert ds.frames.max() > 1
    np.testing.assert_array_equal(ds.frames[11:], ds.frames[:11, ::-1])


def test_determinism_seeds_and_splits(reversed_set):
    a = make_gesture_dataset(1, seed=3)
    b = make_gesture_dataset(1, seed=3)
    assert a.frames.tobytes() == b.frames.tobytes()
    # sample i of class c does not depend on n_per_class
    np.testing.assert_array_equal(a.frames, reversed_set.frames[:11 * N_PER_CLASS:N_PER_CLASS])
    other_seed = make_gesture_dataset(1, seed=4)
    test_split = make_gesture_dataset(1, seed=3, split="test")
    val_split = make_gesture_dataset(1, seed=3, split="val")
    for other in (other_seed, test_split, val_split):
        assert all(not np.array_equal(a.frames[j], other.frames[j]) for j in range(11))
    assert not np.array_equal(test_split.frames, val_split.frames)


def test_generate_events_is_a_valid_stream():
    cfg = SyntheticGestureConfig()
    ev = generate_gesture_events(0, np.random.default_rng(1), cfg)
    assert ev.dtype == EVENT_DTYPE and ev.size > 500
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].min() >= 0 and ev["t"].max() < cfg.window_us
    assert ev["x"].max() < 32 and ev["y"].max() < 32 and set(np.unique(ev["p"]).tolist()) == {0, 1}
    with pytest.raises(ConfigError, match="class_index"):
        generate_gesture_events(11, np.random.default_rng(1), cfg)


def test_gesture_timing_varies_symmetrically(reversed_set):
    """Random start and duration: onsets and ends spread over the window, the same way forward and reversed."""
    ds = reversed_set
    n_fwd = 11 * N_PER_CLASS
    act = ds.frames.reshape(len(ds), ds.n_bins, -1).sum(-1).astype(np.float64)
    busy = act > 0.3 * act.max(axis=1, keepdims=True)
    first = busy.argmax(axis=1)
    last = ds.n_bins - 1 - busy[:, ::-1].argmax(axis=1)
    assert np.mean(first[:n_fwd] > 0) > 0.3 and np.mean(last[:n_fwd] < ds.n_bins - 1) > 0.3
    np.testing.assert_array_equal(first[n_fwd:], ds.n_bins - 1 - last[:n_fwd])
    centre = (act * np.arange(ds.n_bins)).sum(1) / act.sum(1)
    assert abs(centre[:n_fwd].mean() - centre[n_fwd:].mean()) < 1.0      # no "early vs late" shortcut


def _centroid_tracks(frames):
    """Per sample and bin: (x, y) centroid of all active pixels; NaN for empty bins."""
    act = frames.astype(np.float64).sum(axis=2)                       # [N, T, H, W]
    tot = act.sum(axis=(2, 3))
    ys, xs = np.mgrid[0:act.shape[2], 0:act.shape[3]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (act * xs).sum(axis=(2, 3)) / tot
        cy = (act * ys).sum(axis=(2, 3)) / tot
    busy = tot > 0.3 * tot.max(axis=1, keepdims=True)                 # ignore bins with only noise
    return np.where(busy, cx, np.nan), np.where(busy, cy, np.nan)


def _slope(track):
    t = np.arange(track.shape[-1], dtype=np.float64)
    ok = np.isfinite(track)
    return np.polyfit(t[ok], track[ok], 1)[0]


@pytest.mark.parametrize("name, axis, sign", [
    ("swipe_right", "x", 1), ("swipe_down", "y", 1), ("diagonal", "x", 1), ("diagonal", "y", 1),
    ("zigzag_right", "x", 1), ("wave_up", "y", -1), ("arc_over", "x", 1),
])
def test_motion_direction_is_consistent(reversed_set, name, axis, sign):
    ds = reversed_set
    c = GESTURE_CLASSES.index(name)
    cx, cy = _centroid_tracks(ds.frames)
    track = cx if axis == "x" else cy
    for j in np.nonzero(ds.labels == c)[0]:
        assert sign * _slope(track[j]) > 0.4, f"{name} sample {j} does not move along +{axis}*{sign}"
    for j in np.nonzero(ds.labels == c + 11)[0]:
        assert sign * _slope(track[j]) < -0.4, f"{name}_reversed sample {j} does not move backwards"


def test_rotation_sense_of_circle_and_spiral(reversed_set):
    """circle_cw turns clockwise on screen (y down), spiral_out counter-clockwise; reversals flip the sense."""
    ds = reversed_set
    cx, cy = _centroid_tracks(ds.frames)

    def turn(j):
        ok = np.isfinite(cx[j])
        x, y = cx[j][ok] - np.mean(cx[j][ok]), cy[j][ok] - np.mean(cy[j][ok])
        return np.sum(x[:-1] * y[1:] - y[:-1] * x[1:])              # > 0: clockwise on screen

    for name, sense in (("circle_cw", 1), ("spiral_out", -1)):
        c = GESTURE_CLASSES.index(name)
        assert all(sense * turn(j) > 0 for j in np.nonzero(ds.labels == c)[0]), name
        assert all(sense * turn(j) < 0 for j in np.nonzero(ds.labels == c + 11)[0]), name + "_reversed"


def test_classes_are_distinguishable_from_summed_frames():
    train = make_gesture_dataset(12, seed=11)
    test = make_gesture_dataset(8, seed=11, split="test")

    def feats(d):
        return d.frames.astype(np.float32).sum(axis=1).reshape(len(d), -1)

    x_tr, x_te = feats(train), feats(test)
    centroids = np.stack([x_tr[train.labels == c].mean(axis=0) for c in range(11)])
    pred = np.argmin(((x_te[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    acc = (pred == test.labels).mean()
    assert acc > 0.5, f"nearest-centroid accuracy {acc:.2f} on time-summed frames"


def test_config_validation_and_round_trip():
    cfg = SyntheticGestureConfig(n_bins=8, window_us=800_000, radius_px_range=(2.0, 3.0))
    assert SyntheticGestureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="radius_px_range"):
        SyntheticGestureConfig(radius_px_range=(3.0, 2.0))
    with pytest.raises(ConfigError, match="window_us"):
        SyntheticGestureConfig(window_us=1_000_001)
    with pytest.raises(ConfigError, match="duration_fraction_range"):
        SyntheticGestureConfig(duration_fraction_range=(0.5, 1.5))
    with pytest.raises(ConfigError, match="noise_fraction"):
        SyntheticGestureConfig(noise_fraction=-0.1)
    with pytest.raises(ConfigError, match="unknown field"):
        SyntheticGestureConfig.from_dict({"hieght": 32})
    with pytest.raises(ConfigError, match="n_per_class"):
        make_gesture_dataset(0)
    with pytest.raises(ConfigError, match="split"):
        make_gesture_dataset(1, split="training")


def test_other_resolution_and_bins():
    cfg = SyntheticGestureConfig(height=24, width=40, n_bins=8, window_us=800_000)
    ds = make_gesture_dataset(1, config=cfg, seed=0, time_reversed=True)
    assert ds.frames.shape == (22, 8, 2, 24, 40)
    np.testing.assert_array_equal(ds.frames[11:], ds.frames[:11, ::-1])


# -- synthetic steering -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def steering_set():
    return make_steering_dataset(60, seed=2)


def test_steering_determinism_and_range(steering_set):
    again = make_steering_dataset(3, seed=2)
    assert again.frames.tobytes() == steering_set.frames[:3].tobytes()
    np.testing.assert_array_equal(again.steering_deg, steering_set.steering_deg[:3])
    other = make_steering_dataset(3, seed=2, split="test")
    assert not np.array_equal(other.frames, again.frames)
    y = steering_set.steering_deg
    assert y.dtype == np.float32 and y.shape == (60, 16)
    cfg = SyntheticSteeringConfig()
    assert np.all(np.abs(y) <= cfg.max_steering_deg)
    assert 5.0 < y.std() < 30.0 and np.mean(np.abs(y) < 30.0) > 0.85
    assert y.min() < -10 and y.max() > 10
    assert SyntheticSteeringConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="forward_flow_px_per_s_range"):
        SyntheticSteeringConfig(forward_flow_px_per_s_range=(5.0, 1.0))


def _xshift_between(a, b, max_shift=6):
    """Horizontal shift (px) that best maps frame a onto frame b (2-D circular cross-correlation)."""
    shifts = range(-max_shift, max_shift + 1)
    score = np.stack([np.stack([(a * np.roll(b, (-dy, -dx), axis=(-2, -1))).sum(axis=(-2, -1)) for dx in shifts])
                      for dy in shifts])                             # [dy, dx, ...]
    flat = score.reshape(len(shifts) ** 2, -1).argmax(axis=0)
    return (np.array(shifts)[flat % len(shifts)]).reshape(a.shape[:-2])


def _r2(feature, target):
    x = np.column_stack([np.ones(feature.size), feature.ravel()])
    coef, *_ = np.linalg.lstsq(x, target.ravel(), rcond=None)
    res = target.ravel() - x @ coef
    return 1.0 - res.var() / target.var()


def test_steering_is_encoded_in_motion_not_in_one_frame(steering_set):
    f = steering_set.frames.astype(np.float64)
    y = steering_set.steering_deg.astype(np.float64)
    act = f.sum(axis=2)                                               # [N, T, H, W]
    dx = _xshift_between(act[:, :-1], act[:, 1:])                     # pattern shift between consecutive bins
    r2_pair = _r2(dx, 0.5 * (y[:, :-1] + y[:, 1:]))
    # single frame: how often ON events sit right (vs left) of OFF events, 1-3 px away. This is the
    # direction cue one frame offers; it would reveal the sign if all dots had the same contrast sign.
    on, off = f[:, :, 1], f[:, :, 0]
    right_of = sum((on[..., d:] * off[..., :-d]).sum(axis=(-2, -1)) - (on[..., :-d] * off[..., d:]).sum(axis=(-2, -1))
                   for d in (1, 2, 3))
    r2_single = _r2(right_of / np.maximum(f.sum(axis=(2, 3, 4)), 1), y)
    assert r2_pair > 0.8, f"pair R^2 {r2_pair:.2f}"
    assert r2_single < 0.1, f"single-frame R^2 {r2_single:.2f}"
