"""Event streams, binning, time reversal, the DVS pixel model and the frame containers."""

from __future__ import annotations

import numpy as np
import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.events import (
    EVENT_DTYPE, DataFormatError, EventFrames, SteeringFrames, downsample_events, events_to_frames, make_events,
    simulate_dvs, split_seed_sequence, time_reverse)


def _random_events(rng, n=2000, t0=0, t1=1_600_000, h=8, w=9):
    return make_events(rng.integers(t0, t1, n), rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n))


def test_event_dtype_and_stable_sort():
    assert EVENT_DTYPE == np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")])
    ev = make_events([5, 1, 5, 1], [0, 1, 2, 3], [0, 0, 0, 0], [1, 0, 0, 1])
    assert ev.dtype == EVENT_DTYPE
    assert ev["t"].tolist() == [1, 1, 5, 5]
    assert ev["x"].tolist() == [1, 3, 0, 2]          # equal timestamps keep their input order
    assert issubclass(DataFormatError, ConfigError)


@pytest.mark.parametrize("args, match", [
    (([1, 2], [0], [0, 0], [0, 1]), "x has 1 entries"),
    (([1], [0], [0], [2]), "polarity"),
    (([1], [-1], [0], [1]), "x must lie"),
    (([1.5], [0], [0], [1]), "integers"),
])
def test_make_events_rejects_bad_input(args, match):
    with pytest.raises(ConfigError, match=match):
        make_events(*args)


def test_binning_boundaries_and_dropped_events():
    # window [100, 180) in 4 bins of 20 us: bin k holds t in [100 + 20k, 119 + 20k]
    t = [99, 100, 119, 120, 139, 140, 179, 180, 500]
    ev = make_events(t, [0, 1, 2, 3, 4, 5, 6, 7, 0], [0] * 9, [1, 1, 0, 1, 1, 0, 1, 1, 1])
    fr = events_to_frames(ev, n_bins=4, height=1, width=8, t_start_us=100, t_stop_us=180)
    assert fr.shape == (4, 2, 1, 8) and fr.dtype == np.uint8
    on, off = fr[:, 1, 0], fr[:, 0, 0]
    assert np.nonzero(on[0])[0].tolist() == [1] and np.nonzero(off[0])[0].tolist() == [2]
    assert np.nonzero(on[1])[0].tolist() == [3, 4] and not off[1].any()
    assert np.nonzero(off[2])[0].tolist() == [5] and not on[2].any()
    assert np.nonzero(on[3])[0].tolist() == [6] and not off[3].any()
    assert fr.sum() == 6                              # t = 99, 180, 500 are outside [100, 180)


def test_binary_versus_counts():
    ev = make_events([0] * 3 + [10] * 300, [1] * 303, [2] * 303, [1] * 303)
    binary = events_to_frames(ev, n_bins=2, height=4, width=4, t_start_us=0, t_stop_us=20)
    counts = events_to_frames(ev, n_bins=2, height=4, width=4, t_start_us=0, t_stop_us=20, binary=False)
    assert binary[0, 1, 2, 1] == 1 and binary[1, 1, 2, 1] == 1 and binary.sum() == 2
    assert counts[0, 1, 2, 1] == 3 and counts[1, 1, 2, 1] == 255   # clipped
    assert counts[:, 0].sum() == 0                                     # nothing in the OFF channel


def test_window_not_divisible_names_a_fix():
    ev = make_events([0], [0], [0], [1])
    with pytest.raises(ConfigError, match=r"not divisible by n_bins=16.*1000000 or 1000016"):
        events_to_frames(ev, n_bins=16, height=1, width=1, t_start_us=0, t_stop_us=1_000_001)
    with pytest.raises(ConfigError, match="t_stop_us"):
        events_to_frames(ev, n_bins=4, height=1, width=1, t_start_us=10, t_stop_us=10)


def test_coordinates_outside_frame_rejected():
    ev = make_events([0], [40], [0], [1])
    with pytest.raises(ConfigError, match="do not fit a 32x32 frame"):
        events_to_frames(ev, n_bins=1, height=32, width=32, t_start_us=0, t_stop_us=10)


@pytest.mark.parametrize("binary", [True, False])
def test_time_reverse_gives_reversed_frames(binary):
    rng = np.random.default_rng(7)
    ev = _random_events(rng, t0=-50_000, t1=1_700_000)          # some events outside the window
    kw = dict(n_bins=16, height=8, width=9, t_start_us=0, t_stop_us=1_600_000, binary=binary)
    fwd = events_to_frames(ev, **kw)
    rev_ev = time_reverse(ev, t_start_us=0, t_stop_us=1_600_000)
    rev = events_to_frames(rev_ev, **kw)
    np.testing.assert_array_equal(rev, fwd[::-1])
    np.testing.assert_array_equal(rev.astype(int).sum(axis=0), fwd.astype(int).sum(axis=0))
    assert not np.array_equal(rev, fwd)
    # polarity and positions are kept; reversing twice restores the stream
    assert sorted(zip(rev_ev["x"], rev_ev["y"], rev_ev["p"])) == sorted(zip(ev["x"], ev["y"], ev["p"]))
    twice = time_reverse(rev_ev, t_start_us=0, t_stop_us=1_600_000)
    np.testing.assert_array_equal(np.sort(twice, order=["t", "x", "y", "p"]), np.sort(ev, order=["t", "x", "y", "p"]))


def test_time_reverse_boundaries():
    ev = make_events([100, 179], [0, 1], [0, 0], [1, 0])
    rev = time_reverse(ev, t_start_us=100, t_stop_us=180)
    assert rev["t"].tolist() == [100, 179] and rev["x"].tolist() == [1, 0] and rev["p"].tolist() == [0, 1]


def test_downsample_events():
    ev = make_events([0, 1], [127, 4], [3, 127], [1, 0])
    small = downsample_events(ev, sensor_height=128, sensor_width=128, height=32, width=32)
    assert small["x"].tolist() == [31, 1] and small["y"].tolist() == [0, 31]
    with pytest.raises(ConfigError, match="outside the 128x128"):
        downsample_events(make_events([0], [128], [0], [1]), sensor_height=128, sensor_width=128, height=32, width=32)


def test_simulate_dvs_counts_thresholds_and_timestamps():
    # one pixel: log intensity rises by 1.0 (5 thresholds of 0.2), stays, then falls by 0.5 (2 events, 0.1 left)
    log_i = np.array([0.0, 1.0, 1.0, 0.5]).reshape(4, 1, 1)
    ev = simulate_dvs(log_i, t_edges_us=np.array([0, 100, 200, 300]), threshold=0.2, threshold_mismatch=0.0,
                      rng=np.random.default_rng(0))
    on, off = ev[ev["p"] == 1], ev[ev["p"] == 0]
    assert on.size == 5 and np.all((on["t"] >= 0) & (on["t"] < 100))
    assert off.size == 2 and np.all((off["t"] >= 200) & (off["t"] < 300))
    # the reference level remembers sub-threshold changes: 0.15 per step crosses 0.2 at steps 2 and 3
    slow = simulate_dvs(np.array([0.0, 0.15, 0.30, 0.45]).reshape(4, 1, 1), t_edges_us=np.array([0, 100, 200, 300]),
                        threshold=0.2, threshold_mismatch=0.0, rng=np.random.default_rng(0))
    assert slow["p"].tolist() == [1, 1] and slow["t"][0] >= 100 and slow["t"][1] >= 200


def test_event_frames_validation_and_subset():
    frames = np.zeros((3, 4, 2, 5, 6), dtype=np.uint8)
    ds = EventFrames(frames=frames, labels=np.array([0, 1, 1], dtype=np.int32), class_names=("a", "b"),
                     meta={"seed": 1})
    assert ds.labels.dtype == np.int64 and len(ds) == 3 and ds.n_bins == 4 and ds.n_classes == 2
    sub = ds.subset([2, 0])
    assert sub.labels.tolist() == [1, 0] and sub.meta["seed"] == 1 and len(sub) == 2
    assert len(ds.subset(np.array([True, False, True]))) == 2
    with pytest.raises(ConfigError, match="uint8"):
        EventFrames(frames=frames.astype(np.float32), labels=[0, 0, 0], class_names=("a",))
    with pytest.raises(ConfigError, match=r"\[N, T, C, H, W\]"):
        EventFrames(frames=np.zeros((3, 4, 5, 6), np.uint8), labels=[0, 0, 0], class_names=("a",))
    with pytest.raises(ConfigError, match=r"\[N, T, C, H, W\]"):
        EventFrames(frames=np.zeros((3, 4, 0, 5, 6), np.uint8), labels=[0, 0, 0], class_names=("a",))
    assert EventFrames(frames=np.zeros((3, 4, 3, 5, 6), np.uint8), labels=[0, 0, 0], class_names=("a",)).n_bins == 4
    with pytest.raises(ConfigError, match="labels must lie in 0..0"):      # -1 only for an unlabelled stimulus
        EventFrames(frames=frames, labels=[-1, 0, 0], class_names=("a",))
    assert EventFrames(frames=frames, labels=[-1, -1, -1], class_names=("a",), meta={"unlabelled": True}).n_classes == 1
    with pytest.raises(ConfigError, match="labels must have shape"):
        EventFrames(frames=frames, labels=[0, 0], class_names=("a",))
    with pytest.raises(ConfigError, match="labels must lie in 0..1"):
        EventFrames(frames=frames, labels=[0, 2, 0], class_names=("a", "b"))
    with pytest.raises(ConfigError, match="JSON"):
        EventFrames(frames=frames, labels=[0, 0, 0], class_names=("a",), meta={"x": np.zeros(2)})
    with pytest.raises(ConfigError, match="out of range"):
        ds.subset([5])


def test_steering_frames_validation():
    frames = np.zeros((2, 4, 2, 3, 3), dtype=np.uint8)
    sf = SteeringFrames(frames=frames, steering_deg=np.zeros((2, 4)), meta={})
    assert sf.steering_deg.dtype == np.float32 and len(sf.subset([1])) == 1
    with pytest.raises(ConfigError, match=r"shape \(2, 4\)"):
        SteeringFrames(frames=frames, steering_deg=np.zeros((2, 3)))
    bad = np.zeros((2, 4))
    bad[1, 2] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        SteeringFrames(frames=frames, steering_deg=bad)


def test_seed_streams():
    a = np.random.default_rng(split_seed_sequence(0, 1, "train", 3)).random(4)
    b = np.random.default_rng(split_seed_sequence(0, 1, "test", 3)).random(4)
    c = np.random.default_rng(split_seed_sequence(0, 1, "train", 3)).random(4)
    assert np.array_equal(a, c) and not np.array_equal(a, b)
    with pytest.raises(ConfigError, match="split must be one of"):
        split_seed_sequence(0, 1, "training")
    with pytest.raises(ConfigError, match="seed"):
        split_seed_sequence(-1, 1, "train")
