"""DVS128 Gesture (AEDAT 3.1 and tonic layouts) and DDD-20 (raw and export HDF5) loaders on real files."""

from __future__ import annotations

import struct

import h5py
import numpy as np
import pytest

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.ddd20 import load_ddd20
from ipnet_cosim.models.data.dvs128 import (
    DVS_GESTURE_CLASSES, load_dvs128_gesture, load_dvs128_gesture_recording, read_aedat31,
    read_tonic_gesture_npy)
from ipnet_cosim.models.data.events import DataFormatError, downsample_events, events_to_frames, make_events

# -- AEDAT 3.1 writer (from the iniVation spec, independent of the reader) ------------------------

AEDAT_HEADER = (b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
                b"#Start-Time: 2017-03-01 12:00:00 (TZ+0000)\r\n#!END-HEADER\r\n")


def polarity_packet(x, y, p, ts, *, overflow=0, valid=None, spare=0):
    """A polarity packet; ``spare`` extra capacity slots hold garbage that must not be read."""
    n = len(x)
    valid = np.ones(n, dtype=np.uint32) if valid is None else np.asarray(valid, dtype=np.uint32)
    data = (np.asarray(x, np.uint32) << 17) | (np.asarray(y, np.uint32) << 2) | (np.asarray(p, np.uint32) << 1) | valid
    body = np.zeros(2 * (n + spare), dtype="<u4")
    body[0:2 * n:2] = data
    body[1:2 * n:2] = np.asarray(ts, dtype=np.uint32)
    body[2 * n::2] = 0xFFFFFFFF                                      # garbage with the valid bit set
    head = struct.pack("<hhiiiiii", 1, 1, 8, 4, overflow, n + spare, n, int(valid.sum()))
    return head + body.tobytes()


def other_packet(event_type, event_size, n):
    return struct.pack("<hhiiiiii", event_type, 1, event_size, 4, 0, n, n, n) + bytes(range(7, 7 + event_size * n))


@pytest.fixture()
def recording(tmp_path):
    """One recording with a skipped special and frame packet, an invalid event and a timestamp overflow."""
    rng = np.random.default_rng(0)
    n1, n2 = 400, 300
    ts1 = np.sort(rng.integers(500, 9000, n1))
    ts2 = np.sort(rng.integers(0, 6000, n2))
    x1, y1, p1 = rng.integers(0, 128, n1), rng.integers(0, 128, n1), rng.integers(0, 2, n1)
    x2, y2, p2 = rng.integers(0, 128, n2), rng.integers(0, 128, n2), rng.integers(0, 2, n2)
    valid1 = np.ones(n1, dtype=np.uint32)
    valid1[17] = 0
    blob = (AEDAT_HEADER + other_packet(0, 8, 2) + polarity_packet(x1, y1, p1, ts1, valid=valid1, spare=3)
            + other_packet(2, 40, 1) + polarity_packet(x2, y2, p2, ts2, overflow=1))
    path = tmp_path / "user01_fluorescent.aedat"
    path.write_bytes(blob)
    keep = valid1.astype(bool)
    expected = make_events(np.concatenate([ts1[keep], ts2.astype(np.int64) + (1 << 31)]),
                           np.concatenate([x1[keep], x2]), np.concatenate([y1[keep], y2]),
                           np.concatenate([p1[keep], p2]))
    labels = [(3, 1000, 5000), (11, 6000, (1 << 31) + 3000)]
    (tmp_path / "user01_fluorescent_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n" + "".join(f"{c},{a},{b}\n" for c, a, b in labels))
    return path, expected, labels, blob


def test_read_aedat31_round_trip(recording):
    path, expected, _, _ = recording
    ev = read_aedat31(path)
    np.testing.assert_array_equal(ev, expected)
    assert ev["t"].max() > (1 << 31)                                 # overflow applied


def test_recording_cut_by_labels(recording):
    path, expected, labels, _ = recording
    samples = load_dvs128_gesture_recording(path)
    assert [lab for _, lab in samples] == [2, 10]
    for (ev, _), (_, start, end) in zip(samples, labels):
        ref = expected[(expected["t"] >= start) & (expected["t"] < end)]
        np.testing.assert_array_equal(ev, ref)
        assert ev.size > 50


def test_load_dvs128_gesture_original_layout(recording, tmp_path):
    path, expected, labels, _ = recording
    folder = tmp_path / "DvsGesture"
    folder.mkdir()
    for f in (path, tmp_path / "user01_fluorescent_labels.csv"):
        f.rename(folder / f.name)
    (folder / "trials_to_train.txt").write_text("user01_fluorescent.aedat\n\n")
    (folder / "trials_to_test.txt").write_text("user24_led.aedat\n")
    ds = load_dvs128_gesture(tmp_path, split="train", n_bins=16, height=32, width=32)
    assert ds.class_names == DVS_GESTURE_CLASSES and ds.labels.tolist() == [2, 10]
    assert ds.meta["layout"] == "aedat" and ds.frames.shape == (2, 16, 2, 32, 32)
    for k, (_, start, end) in enumerate(labels):
        length = (end - start) // 16 * 16
        ref = expected[(expected["t"] >= start) & (expected["t"] < end)]
        small = downsample_events(ref, sensor_height=128, sensor_width=128, height=32, width=32)
        np.testing.assert_array_equal(ds.frames[k], events_to_frames(
            small, n_bins=16, height=32, width=32, t_start_us=start, t_stop_us=start + length))
    assert len(load_dvs128_gesture(tmp_path, split="train", max_samples=1)) == 1
    with pytest.raises(ConfigError, match="user24_led.aedat"):
        load_dvs128_gesture(tmp_path, split="test")                  # listed but absent


@pytest.mark.parametrize("mutate, match", [
    (lambda b: b[:-5], "truncated packet at byte"),
    (lambda b: b + b"\x01\x00\x08\x00", "truncated packet header"),
    (lambda b: b.replace(b"#!AER-DAT3.1", b"#!AER-DAT2.0", 1), "version 2.0 is not supported"),
    (lambda b: b"\x00\x01garbage" + b, "not an AEDAT 3.1 file"),
    (lambda b: b.replace(b"#!END-HEADER\r\n", b"", 1), "not terminated"),
    (lambda b: AEDAT_HEADER + struct.pack("<hhiiiiii", 1, 1, 6, 4, 0, 1, 1, 1) + bytes(6), "eventSize=6"),
])
def test_malformed_aedat(recording, tmp_path, mutate, match):
    _, _, _, blob = recording
    bad = tmp_path / "broken.aedat"
    bad.write_bytes(mutate(blob))
    with pytest.raises(DataFormatError, match=match) as info:
        read_aedat31(bad)
    assert "broken.aedat" in str(info.value)


@pytest.mark.parametrize("csv, match", [
    ("start,end\n1,2,3\n", "header"),
    ("class,startTime_usec,endTime_usec\n12,1000,2000\n", "line 2"),
    ("class,startTime_usec,endTime_usec\n1,3000,2000\n", "startTime_usec < endTime_usec"),
    ("class,startTime_usec,endTime_usec\n1,abc,2000\n", "three integers"),
])
def test_malformed_labels(recording, csv, match):
    path, _, _, _ = recording
    labels = path.with_name("user01_fluorescent_labels.csv")
    labels.write_text(csv)
    with pytest.raises(DataFormatError, match=match) as info:
        load_dvs128_gesture_recording(path)
    assert "user01_fluorescent_labels.csv" in str(info.value)


def test_missing_files_say_where_to_get_the_data(tmp_path):
    with pytest.raises(ConfigError, match="research.ibm.com/interactive/dvsgesture"):
        load_dvs128_gesture(tmp_path / "nope")
    with pytest.raises(ConfigError, match="trials_to_train.txt.*ibmGestureTrain"):
        load_dvs128_gesture(tmp_path)
    with pytest.raises(ConfigError, match="ibmGestureTrain"):
        load_dvs128_gesture(tmp_path, layout="tonic")
    with pytest.raises(ConfigError, match="not found"):
        read_aedat31(tmp_path / "user99_led.aedat")
    with pytest.raises(ConfigError, match="split"):
        load_dvs128_gesture(tmp_path, split="val")


# -- tonic layout ----------------------------------------------------------------------------------

def _tonic_sample(rng, n):
    t_ms = np.sort(rng.integers(0, 6000, n)).astype(np.float64) + 20.0
    t_ms[3] = t_ms[2] + 0.5                                          # sub-ms value: rounds to 500 us steps
    t_ms = np.sort(t_ms)
    return np.column_stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n), t_ms]
                           ).astype(np.float64)


@pytest.fixture()
def tonic_root(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {}
    for rel in ("ibmGestureTrain/user01_fluorescent/0.npy", "ibmGestureTrain/user01_fluorescent/3.npy",
                "ibmGestureTrain/user02_led/10.npy", "ibmGestureTest/user24_led/7.npy"):
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        arrays[rel] = _tonic_sample(rng, 500)
        np.save(f, arrays[rel])
    return tmp_path, arrays


def test_read_tonic_npy(tonic_root):
    root, arrays = tonic_root
    rel = "ibmGestureTrain/user01_fluorescent/3.npy"
    ev = read_tonic_gesture_npy(root / rel)
    a = arrays[rel]
    np.testing.assert_array_equal(ev["t"], np.round(a[:, 3] * 1000).astype(np.int64))
    np.testing.assert_array_equal(ev["x"], a[:, 0])
    np.testing.assert_array_equal(ev["y"], a[:, 1])
    np.testing.assert_array_equal(ev["p"], a[:, 2])
    assert np.any(ev["t"] % 1000 == 500)


def test_load_tonic_layout(tonic_root):
    root, arrays = tonic_root
    ds = load_dvs128_gesture(root, split="train", n_bins=8, height=16, width=32)
    assert ds.meta["layout"] == "tonic" and ds.labels.tolist() == [0, 3, 10]
    assert ds.meta["sources"][2] == "ibmGestureTrain/user02_led/10.npy"
    for k, rel in enumerate(sorted(r for r in arrays if r.startswith("ibmGestureTrain"))):
        ev = read_tonic_gesture_npy(root / rel)
        t0 = int(ev["t"][0])
        length = -(-(int(ev["t"][-1]) - t0 + 1) // 8) * 8
        small = make_events(ev["t"], ev["x"] // 4, ev["y"] // 8, ev["p"])
        ref = events_to_frames(small, n_bins=8, height=16, width=32, t_start_us=t0, t_stop_us=t0 + length)
        np.testing.assert_array_equal(ds.frames[k], ref)
        assert ds.frames[k, -1].any()                                 # the last event is inside the window
    test = load_dvs128_gesture(root, split="test")
    assert test.labels.tolist() == [7]


def test_malformed_tonic_files(tonic_root):
    root, _ = tonic_root
    bad = root / "ibmGestureTrain/user03_led/2.npy"
    bad.parent.mkdir()
    np.save(bad, np.zeros((5, 3)))
    with pytest.raises(DataFormatError, match=r"\[N, 4\]") as info:
        load_dvs128_gesture(root)
    assert "2.npy" in str(info.value)
    bad.unlink()
    (root / "ibmGestureTrain/user03_led/clap.npy").write_bytes(b"not numpy")
    with pytest.raises(DataFormatError, match="clap.npy"):
        load_dvs128_gesture(root)


# -- DDD-20 ----------------------------------------------------------------------------------------

T0_US = 1_499_000_000_000_000          # host clock (us since the epoch)
WIN_US = 320_000


def _ddd20_events(rng, n=6000, span_us=1_000_000):
    t = np.sort(rng.integers(T0_US, T0_US + span_us, n))
    return make_events(t, rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n))


def write_ddd20_raw(path, events, steer_t, steer_deg, *, packet=200, pad=5, steer_nan_row=None,
                    truncate_packet=False):
    """The layout of SensorsINI/ddd20-utils record.py: packets as vlen uint8 rows, signals as [t, value]."""
    dev_offset = T0_US + 400_000 - (1 << 31)                          # device clock crosses 2**31 mid-drive
    dev = events["t"] - dev_offset
    rows, arrivals = [], []
    cuts = list(range(0, events.size, packet)) + [events.size]
    bounds = sorted(set(cuts) | {int(np.searchsorted(dev, 1 << 31))})  # one overflow value per packet
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b <= a:
            continue
        d = dev[a:b]
        overflow = int(d[0] >> 31)
        words = np.zeros(2 * (b - a), dtype="<u4")
        words[0::2] = ((events["x"][a:b].astype(np.uint32) << 17) | (events["y"][a:b].astype(np.uint32) << 2)
                       | (events["p"][a:b].astype(np.uint32) << 1) | 1)
        words[1::2] = (d & 0x7FFFFFFF).astype(np.uint32)
        head = struct.pack("<hhiiiiii", 1, 0, 8, 4, overflow, b - a, b - a, b - a)
        body = words.tobytes()
        if truncate_packet and len(rows) == 12:                       # a packet in the middle of the drive
            body = body[:40]
        arrival = int(d[-1] + dev_offset)                             # zero-latency arrival of the last event
        rows.append((np.frombuffer(str(arrival).encode(), np.uint8), head, body))
        arrivals.append(arrival)
        if len(rows) == 3:                                            # a frame packet and a special packet to skip
            for etype, size in ((2, 48), (0, 8)):
                rows.append((np.frombuffer(str(arrival).encode(), np.uint8),
                             struct.pack("<hhiiiiii", etype, 0, size, 4, 0, 1, 1, 1), bytes(size)))
                arrivals.append(arrival)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("dvs/data", (len(rows) + pad, 3), dtype=h5py.vlen_dtype(np.uint8))
        for i, (ts_ascii, head, body) in enumerate(rows):
            ds[i] = np.array([ts_ascii, np.frombuffer(head, np.uint8), np.frombuffer(body, np.uint8)], dtype=object)
        f["dvs/timestamp"] = np.concatenate([arrivals, np.zeros(pad, dtype=np.int64)]).astype(np.int64)
        data = np.zeros((steer_t.size + pad, 2))
        data[:steer_t.size, 0], data[:steer_t.size, 1] = steer_t, steer_deg
        if steer_nan_row is not None:
            data[steer_nan_row, 1] = np.nan
        f["steering_wheel_angle/data"] = data
        f["steering_wheel_angle/timestamp"] = data[:, 0].astype(np.int64)
        f["vehicle_speed/data"] = np.zeros((pad, 2))
    return np.array(arrivals)


@pytest.fixture()
def ddd20_raw(tmp_path):
    rng = np.random.default_rng(2)
    events = _ddd20_events(rng, span_us=1_300_000)
    # steering starts after the first DVS packet, so the zero padding rows would move the start if read
    steer_t = np.sort(rng.integers(T0_US + 60_000, T0_US + 1_400_000, 120)).astype(np.float64)
    steer_deg = 25.0 * np.sin(steer_t * 1e-6 * 3.0)
    path = tmp_path / "rec1499000000.hdf5"
    arrivals = write_ddd20_raw(path, events, steer_t, steer_deg)
    return path, events, steer_t, steer_deg, arrivals


@pytest.mark.parametrize("binary, rotate", [(True, False), (False, True)])
def test_ddd20_raw_round_trip(ddd20_raw, binary, rotate):
    path, events, steer_t, steer_deg, arrivals = ddd20_raw
    out = load_ddd20(path, n_bins=16, height=32, width=32, window_us=WIN_US, binary=binary, rotate180=rotate)
    t_begin = max(int(arrivals.min()), int(steer_t.min()))
    assert t_begin == int(steer_t.min())
    n_win = (min(int(arrivals.max()), int(steer_t.max())) - t_begin) // WIN_US
    assert out.frames.shape == (n_win, 16, 2, 32, 32) and n_win == 3
    ev = events
    if rotate:
        ev = make_events(ev["t"], 345 - ev["x"].astype(int), 259 - ev["y"].astype(int), ev["p"])
    small = downsample_events(ev, sensor_height=260, sensor_width=346, height=32, width=32)
    for w in range(n_win):
        start = t_begin + w * WIN_US
        np.testing.assert_array_equal(out.frames[w], events_to_frames(
            small, n_bins=16, height=32, width=32, t_start_us=start, t_stop_us=start + WIN_US, binary=binary))
        centres = start + (np.arange(16) + 0.5) * (WIN_US // 16)
        np.testing.assert_allclose(out.steering_deg[w], np.interp(centres, steer_t, steer_deg), rtol=1e-5, atol=1e-4)
    assert out.meta["layout"] == "raw" and np.abs(out.steering_deg).max() > 5
    one = load_ddd20(path, window_us=WIN_US, max_windows=1, binary=binary, rotate180=rotate)
    np.testing.assert_array_equal(one.frames, out.frames[:1])


def test_ddd20_malformed(tmp_path, ddd20_raw):
    path, events, steer_t, steer_deg, _ = ddd20_raw
    nan_file = tmp_path / "nan.hdf5"
    write_ddd20_raw(nan_file, events, steer_t, steer_deg, steer_nan_row=7)
    with pytest.raises(DataFormatError, match=r"nan\.hdf5.*steering_wheel_angle/data.*NaN or inf at row 7"):
        load_ddd20(nan_file, window_us=WIN_US)
    trunc = tmp_path / "trunc.hdf5"
    write_ddd20_raw(trunc, events, steer_t, steer_deg, truncate_packet=True)
    with pytest.raises(DataFormatError, match=r"trunc\.hdf5.*truncated"):
        load_ddd20(trunc, window_us=WIN_US)
    no_steer = tmp_path / "no_steer.hdf5"
    with h5py.File(path, "r") as src, h5py.File(no_steer, "w") as dst:
        src.copy("dvs", dst)
    with pytest.raises(DataFormatError, match=r"no_steer\.hdf5: missing HDF5 dataset '/steering_wheel_angle/data'"):
        load_ddd20(no_steer, window_us=WIN_US)
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as f:
        f["images"] = np.zeros(3)
    with pytest.raises(DataFormatError, match=r"other\.hdf5.*'/dvs/data'"):
        load_ddd20(other)
    text = tmp_path / "text.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(DataFormatError, match=r"text\.hdf5: not a readable HDF5"):
        load_ddd20(text)
    with pytest.raises(ConfigError, match="DDD-20 file not found"):
        load_ddd20(tmp_path / "missing.hdf5")
    with pytest.raises(ConfigError, match="not divisible by n_bins"):
        load_ddd20(path, window_us=1_000_001)


def test_ddd20_export_layout(tmp_path):
    rng = np.random.default_rng(3)
    n_rows, pad = 37, 5
    frames = np.zeros((n_rows + pad, 260, 346), dtype=np.int16)
    mask = rng.random((n_rows, 260, 346)) < 0.01
    frames[:n_rows][mask] = rng.integers(-3, 4, mask.sum())
    steer = np.concatenate([rng.uniform(-30, 30, n_rows), np.zeros(pad)])
    ts = np.concatenate([0.1 * (np.arange(n_rows) + 1), np.zeros(pad)])
    path = tmp_path / "rec_export.hdf5"
    with h5py.File(path, "w") as f:
        f["dvs_frame"], f["steering_wheel_angle"], f["timestamp"] = frames, steer, ts
        f["aps_frame"] = np.zeros((n_rows + pad, 4, 4), np.uint8)
    out = load_ddd20(path, n_bins=16, binary=False)
    assert out.meta["layout"] == "export" and out.frames.shape == (2, 16, 2, 32, 32)
    yy, xx = np.mgrid[0:260, 0:346]
    cell = (yy * 32 // 260) * 32 + xx * 32 // 346
    for r in range(32):
        for ch, part in ((0, np.clip(-frames[r].astype(int), 0, None)), (1, np.clip(frames[r].astype(int), 0, None))):
            ref = np.bincount(cell.ravel(), weights=part.ravel(), minlength=1024).reshape(32, 32)
            np.testing.assert_array_equal(out.frames[r // 16, r % 16, ch], np.minimum(ref, 255))
    np.testing.assert_allclose(out.steering_deg.ravel(), steer[:32], rtol=1e-6)
    binary = load_ddd20(path, n_bins=16)
    np.testing.assert_array_equal(binary.frames, (out.frames > 0).astype(np.uint8))
