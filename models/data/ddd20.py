"""DDD-20 steering data (DAVIS Driving Dataset 2020) and a synthetic driving event stream.

DDD-20 loader (:func:`load_ddd20`)
----------------------------------
The recordings are HDF5 files written by the DDD-20 tools (``SensorsINI/ddd20-utils``). The layout
below is taken from that repository's sources, not from a real file (none was available here):

* Raw recording ``recXXXXXXXXXX.hdf5`` (``record.py``, ``datasets.py``, ``view.py``,
  ``interfaces/caer.py``, ``interfaces/oxc.py``):

  - ``dvs/data``: ``(N, 3)`` variable-length uint8 rows (``h5py.special_dtype(vlen=np.uint8)``),
    one cAER event packet per row: ``[host time as ASCII digits, 28-byte packet header, packet
    body]``. The header is libcaer's (int16 type, int16 source, int32 size, int32 TS offset,
    int32 TS overflow, int32 capacity, int32 number, int32 valid); the body holds ``capacity x
    size`` bytes. Polarity packets (type 1, 8-byte events) hold uint32 data (bit 0 valid, bit 1
    polarity, bits 2-16 y, bits 17-31 x; ``interfaces/caer.py`` decodes ``pol = data >> 1 & 1``,
    ``y = data >> 2 & 0x7FFF``, ``x = data >> 17``) and an int32 device timestamp in us. Other
    packet types (frames, IMU, special) are skipped.
  - ``dvs/timestamp``: ``(N,)`` int, host time in us (``int(time.time() * 1e6)``) when the packet
    arrived.
  - ``steering_wheel_angle/data``: ``(M, 2)`` float rows ``[host time in us, angle in degrees]``
    (``record.py`` stores ``[timestamp, value]``; ``view.py`` draws the value as ``'%0.1f deg'``),
    and ``steering_wheel_angle/timestamp`` ``(M,)``. The other vehicle signals follow the same pattern.
  - Datasets grow in blocks of 2048 rows, so unwritten trailing rows are zero; rows with a zero
    timestamp are skipped, as the DDD-20 viewer does.
  - The sensor is a DAVIS346: 346 x 260 pixels (``DVS_SHAPE = (260, 346)``). Some drives were
    recorded with the camera upside down (``view.py --rotate``); pass ``rotate180=True`` for those.

  Event times are put on the host clock packet by packet: the packet's last valid event is placed
  at the packet's arrival time, ``t_host = t_arrival - (t_dev,last - t_dev)`` with ``t_dev =
  (TS overflow << 31) | timestamp``. The error is the USB/packet latency (milliseconds), small
  against 100 ms bins, and device clock resets or drift cannot accumulate.

* Exported file ``*_export.hdf5`` (``export.py``): root datasets ``dvs_frame`` ``(N, 260, 346)``
  int16 (ON minus OFF event count per fixed bin, default 0.1 s), ``steering_wheel_angle`` ``(N,)``
  (latest value at the bin), ``timestamp`` ``(N,)`` (seconds), plus ``aps_frame`` and other signals.
  Here every ``n_bins`` consecutive rows make one window (``window_us`` is ignored; the bin width is
  the export's). Since the export keeps only the net count, a pixel goes to the ON channel if the
  net count is positive and to OFF if negative.

Windows: the drive is cut into consecutive windows of ``n_bins`` bins of ``window_us / n_bins``
starting at the later of the first DVS packet and the first steering sample; the target of every
bin is the steering wheel angle linearly interpolated at the bin's centre. Coordinates are
downsampled as ``x' = floor(x W / 346)``, ``y' = floor(y H / 260)``.

Synthetic steering stream (:func:`make_steering_dataset`)
---------------------------------------------------------
A forward-looking camera in a car; the steering angle (degrees, positive = turning right in this
model; DDD-20's sign convention is not assumed) is a smooth random signal per sample::

    delta(t) = clip(delta_0 + sum_{k=1..3} a_k sin(2 pi f_k t + phi_k), -delta_max, delta_max)
    delta_0 ~ N(0, offset_std),  a_k ~ U(0, wobble_max),  f_k ~ U(freq_range),  phi_k ~ U(0, 2 pi)

Yawing rotates the view, and a rotation shifts every image point sideways by the same amount
regardless of depth, so the roadside texture drifts horizontally at a rate set by the current
angle, while the forward motion streams it downward at a steering-independent speed ``v``::

    X(t) = X_0 - g * integral_0^t delta dt'      (px; g = flow_gain_px_per_s_per_deg)
    Y(t) = Y_0 + v t                              (px; v ~ U(forward_flow_px_per_s_range))
    L(x, y, t) = C((x - X(t)) mod W_c, (y - Y(t)) mod H_c) + lane(x, y, t)

``C`` is a periodic canvas (``W_c = 2 W``, ``H_c = 2 H``) of log-intensity dots with random radius
and random sign (brighter *or* darker than the road, equally likely). The lane markings stay put
(the car keeps its lane) below the horizon at 0.35 H; their dashes stream down with the forward
speed. The DVS model and noise are those of the gesture generator.

Why the angle needs two frames: in one binary event frame a bright dot moving right (ON ahead,
OFF behind) looks exactly like a dark dot moving left, and the dots' signs are random, so a single
frame carries at most the speed ``|delta|`` (how wide the event bands are), not the sign. The
displacement of the event pattern between consecutive frames, ``-g delta dt`` per bin (3 px per
bin at 30 deg with the defaults), gives the signed angle. Seeds: sample ``i`` uses
``SeedSequence(entropy=seed, spawn_key=(STEERING_TAG, split_code, i))``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.events import (
    DataFormatError, SteeringFrames)

DDD20_SENSOR_HEIGHT = 260
DDD20_SENSOR_WIDTH = 346
DDD20_HINT = ("DDD-20 recordings are available from https://sites.google.com/view/davis-driving-dataset-2020/home "
              "(raw recXXXXXXXXXX.hdf5 files; tools in github.com/SensorsINI/ddd20-utils)")
STEERING_TOPIC = "steering_wheel_angle"
STEERING_TAG = 0x57EE
_PACKET_HEADER = struct.Struct("<hhiiiiii")
_POLARITY_EVENT = 1
_CHUNK_ROWS = 2048


# -- DDD-20 -------------------------------------------------------------------------------------

def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ConfigError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _dataset(f: Any, key: str, path: Path) -> Any:
    import h5py

    obj = f.get(key)
    if not isinstance(obj, h5py.Dataset):
        found = sorted(f.keys())[:20]
        raise DataFormatError(f"{path}: missing HDF5 dataset '/{key}' (expected the DDD-20 layout; "
                              f"top-level entries found: {found})")
    return obj


def _read_steering_raw(f: Any, path: Path) -> tuple[np.ndarray, np.ndarray]:
    ds = _dataset(f, f"{STEERING_TOPIC}/data", path)
    data = np.asarray(ds[...], dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != 2:
        raise DataFormatError(f"{path}: '/{STEERING_TOPIC}/data' must have shape (M, 2) "
                              f"[host time us, angle deg], got {data.shape}")
    rows = np.nonzero(data[:, 0] != 0)[0]
    t, v = data[rows, 0], data[rows, 1]
    bad = np.nonzero(~np.isfinite(t) | ~np.isfinite(v))[0]
    if bad.size:
        raise DataFormatError(f"{path}: '/{STEERING_TOPIC}/data' has NaN or inf at row {int(rows[bad[0]])} "
                              f"({bad.size} rows); repair or drop those rows")
    if t.size < 2:
        raise DataFormatError(f"{path}: '/{STEERING_TOPIC}/data' holds {t.size} timestamped samples; "
                              f"at least 2 are needed to interpolate the steering angle")
    order = np.argsort(t, kind="stable")
    return np.round(t[order]).astype(np.int64), v[order]


def _accumulate(acc: np.ndarray, flat: np.ndarray, binary: bool) -> None:
    if flat.size == 0:
        return
    lo, hi = int(flat.min()), int(flat.max()) + 1
    local = np.bincount(flat - lo, minlength=hi - lo)
    if binary:
        acc[lo:hi] |= (local > 0).astype(np.uint8)
    else:
        acc[lo:hi] = np.minimum(acc[lo:hi].astype(np.int64) + local, 255).astype(np.uint8)


def _load_raw(f: Any, path: Path, *, n_bins: int, height: int, width: int, window_us: int,
              max_windows: int | None, binary: bool, rotate180: bool) -> SteeringFrames:
    steer_t, steer_v = _read_steering_raw(f, path)
    ds_data = _dataset(f, "dvs/data", path)
    ds_ts = _dataset(f, "dvs/timestamp", path)
    if ds_data.ndim != 2 or ds_data.shape[1] != 3 or ds_ts.shape != (ds_data.shape[0],):
        raise DataFormatError(f"{path}: '/dvs/data' must be (N, 3) [host time, packet header, packet body] "
                              f"with '/dvs/timestamp' (N,), got {ds_data.shape} and {ds_ts.shape}")
    arrival = np.asarray(ds_ts[...], dtype=np.int64)
    used = np.nonzero(arrival > 0)[0]
    if used.size == 0:
        raise DataFormatError(f"{path}: '/dvs/timestamp' has no non-zero entries (no DVS packets recorded)")
    arr_used = arrival[used]
    t_begin = max(int(arr_used.min()), int(steer_t[0]))
    t_end = min(int(arr_used.max()), int(steer_t[-1]))
    n_windows = (t_end - t_begin) // window_us if t_end > t_begin else 0
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    if n_windows < 1:
        raise DataFormatError(f"{path}: DVS and steering data overlap for {max(t_end - t_begin, 0)} us, less than "
                              f"one window of window_us={window_us}")
    span_us = n_windows * window_us
    bin_us = window_us // n_bins
    # Events precede their packet's arrival, so packets that arrived before t_begin are not needed;
    # packets arriving up to 1 s after the last window can still hold events inside it.
    needed = used[(arr_used >= t_begin) & (arr_used <= t_begin + span_us + 1_000_000)]
    first_row, last_row = (int(needed.min()), int(needed.max())) if needed.size else (0, -1)
    acc = np.zeros(n_windows * n_bins * 2 * height * width, dtype=np.uint8)
    n_events = 0
    for c0 in range(first_row, last_row + 1, _CHUNK_ROWS):
        c1 = min(c0 + _CHUNK_ROWS, last_row + 1)
        rows = ds_data[c0:c1]
        t_parts, x_parts, y_parts, p_parts = [], [], [], []
        for r in range(c1 - c0):
            t_arr = int(arrival[c0 + r])
            if t_arr <= 0:
                continue
            head = np.asarray(rows[r, 1], dtype=np.uint8)
            if head.size != _PACKET_HEADER.size:
                raise DataFormatError(f"{path}: '/dvs/data' row {c0 + r}: packet header has {head.size} bytes, "
                                      f"expected {_PACKET_HEADER.size}")
            etype, _src, esize, _tso, overflow, capacity, number, _valid = _PACKET_HEADER.unpack(head.tobytes())
            if etype != _POLARITY_EVENT:
                continue
            body = np.asarray(rows[r, 2], dtype=np.uint8)
            if esize != 8 or not 0 <= number <= capacity or body.size < number * 8:
                raise DataFormatError(f"{path}: '/dvs/data' row {c0 + r}: polarity packet with eventSize={esize}, "
                                      f"eventNumber={number}, eventCapacity={capacity} but {body.size} body bytes "
                                      f"(truncated or corrupt packet)")
            words = np.frombuffer(body.tobytes(), dtype="<u4", count=2 * number).reshape(-1, 2)
            data = words[:, 0]
            keep = (data & 1).astype(bool)
            if not keep.any():
                continue
            data = data[keep]
            t_dev = words[keep, 1].view("<i4").astype(np.int64) | (np.int64(overflow) << 31)
            t_parts.append(t_arr - (t_dev.max() - t_dev))
            x_parts.append((data >> 17) & 0x7FFF)
            y_parts.append((data >> 2) & 0x7FFF)
            p_parts.append((data >> 1) & 1)
        if not t_parts:
            continue
        t = np.concatenate(t_parts)
        x = np.concatenate(x_parts).astype(np.int64)
        y = np.concatenate(y_parts).astype(np.int64)
        p = np.concatenate(p_parts).astype(np.int64)
        if x.max() >= DDD20_SENSOR_WIDTH or y.max() >= DDD20_SENSOR_HEIGHT:
            raise DataFormatError(f"{path}: '/dvs/data' rows {c0}..{c1 - 1} hold events up to x={x.max()}, "
                                  f"y={y.max()}, outside the {DDD20_SENSOR_WIDTH}x{DDD20_SENSOR_HEIGHT} DAVIS346")
        rel = t - t_begin
        sel = (rel >= 0) & (rel < span_us)
        rel, x, y, p = rel[sel], x[sel], y[sel], p[sel]
        if rotate180:
            x = DDD20_SENSOR_WIDTH - 1 - x
            y = DDD20_SENSOR_HEIGHT - 1 - y
        xs = x * width // DDD20_SENSOR_WIDTH
        ys = y * height // DDD20_SENSOR_HEIGHT
        win = rel // window_us
        k = (rel - win * window_us) // bin_us
        flat = ((((win * n_bins + k) * 2 + p) * height + ys) * width + xs)
        _accumulate(acc, flat, binary)
        n_events += int(rel.size)
    centres = t_begin + np.arange(n_windows)[:, None] * window_us + (np.arange(n_bins)[None, :] + 0.5) * bin_us
    target = np.interp(centres.ravel(), steer_t, steer_v).reshape(n_windows, n_bins)
    meta = {
        "dataset": "DDD-20", "file": str(path), "layout": "raw", "n_bins": n_bins, "height": height,
        "width": width, "window_us": window_us, "binary": binary, "rotate180": rotate180,
        "t_begin_host_us": t_begin, "n_events_binned": n_events,
        "target": "steering_wheel_angle (deg) linearly interpolated at each bin centre",
        "source_layout": "SensorsINI/ddd20-utils record.py/view.py",
    }
    return SteeringFrames(frames=acc.reshape(n_windows, n_bins, 2, height, width), steering_deg=target, meta=meta)


def _block_starts(n_in: int, n_out: int) -> np.ndarray:
    """First input index of each output cell under ``out = floor(in n_out / n_in)``."""
    return -((-np.arange(n_out) * n_in) // n_out)


def _load_export(f: Any, path: Path, *, n_bins: int, height: int, width: int, max_windows: int | None,
                 binary: bool, rotate180: bool) -> SteeringFrames:
    frames_ds = _dataset(f, "dvs_frame", path)
    steer_ds = _dataset(f, STEERING_TOPIC, path)
    ts_ds = _dataset(f, "timestamp", path)
    if frames_ds.ndim != 3 or steer_ds.shape[:1] != frames_ds.shape[:1] or ts_ds.shape[:1] != frames_ds.shape[:1]:
        raise DataFormatError(f"{path}: export layout needs '/dvs_frame' (N, H, W) with '/{STEERING_TOPIC}' and "
                              f"'/timestamp' of N rows, got {frames_ds.shape}, {steer_ds.shape}, {ts_ds.shape}")
    sensor_h, sensor_w = int(frames_ds.shape[1]), int(frames_ds.shape[2])
    if height > sensor_h or width > sensor_w:
        raise ConfigError(f"cannot downsample {sensor_h}x{sensor_w} frames of {path} to {height}x{width}")
    ts = np.asarray(ts_ds[...], dtype=np.float64).reshape(-1)
    steer = np.asarray(steer_ds[...], dtype=np.float64).reshape(-1)
    nonzero = np.nonzero(ts != 0)[0]
    n_rows = int(nonzero[-1]) + 1 if nonzero.size else 0      # trailing rows of the 2048-row blocks are zero
    bad = np.nonzero(~np.isfinite(steer[:n_rows]))[0]
    if bad.size:
        raise DataFormatError(f"{path}: '/{STEERING_TOPIC}' has NaN or inf at row {int(bad[0])} ({bad.size} rows)")
    n_windows = n_rows // n_bins
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    if n_windows < 1:
        raise DataFormatError(f"{path}: {n_rows} exported rows, fewer than one window of n_bins={n_bins} rows")
    ys0, xs0 = _block_starts(sensor_h, height), _block_starts(sensor_w, width)
    out = np.zeros((n_windows, n_bins, 2, height, width), dtype=np.uint8)
    step = max(1, 64 // n_bins)                  # 64 rows of 260 x 346 at a time (~23 MB as int32)
    for w0 in range(0, n_windows, step):
        w1 = min(w0 + step, n_windows)
        raw = np.asarray(frames_ds[w0 * n_bins:w1 * n_bins], dtype=np.int32)
        if rotate180:
            raw = raw[:, ::-1, ::-1]
        for ch, part in ((0, np.clip(-raw, 0, None)), (1, np.clip(raw, 0, None))):
            pooled = np.add.reduceat(np.add.reduceat(part, ys0, axis=1), xs0, axis=2)
            pooled = pooled.reshape(w1 - w0, n_bins, height, width)
            out[w0:w1, :, ch] = (pooled > 0) if binary else np.minimum(pooled, 255)
    dt = np.diff(ts[:n_rows])
    meta = {
        "dataset": "DDD-20", "file": str(path), "layout": "export", "n_bins": n_bins, "height": height,
        "width": width, "binary": binary, "rotate180": rotate180,
        "bin_s_median": float(np.median(dt)) if dt.size else None,
        "target": "steering_wheel_angle (deg) of each exported row",
        "source_layout": "SensorsINI/ddd20-utils export.py",
    }
    return SteeringFrames(frames=out, steering_deg=steer[:n_windows * n_bins].reshape(n_windows, n_bins), meta=meta)


def load_ddd20(path: str | Path, *, n_bins: int = 16, height: int = 32, width: int = 32,
               window_us: int = 1_600_000, max_windows: int | None = None, layout: str = "auto",
               binary: bool = True, rotate180: bool = False) -> SteeringFrames:
    """One DDD-20 drive as consecutive windows of event frames with the steering angle per bin.

    Args:
        path: A raw recording (``recXXXXXXXXXX.hdf5``) or an ``*_export.hdf5`` file.
        n_bins: Time bins per window.
        height: Output rows (downsampled from 260).
        width: Output columns (downsampled from 346).
        window_us: Window length (us), divisible by ``n_bins`` (raw layout only).
        max_windows: Keep at most this many windows from the start (None: all).
        layout: "auto", "raw" or "export" (see the module docstring).
        binary: Binary frames (True) or counts clipped to 255.
        rotate180: Rotate the sensor image by 180 degrees (drives recorded upside down).

    Returns:
        :class:`SteeringFrames`; ``steering_deg[n, k]`` is the angle at bin ``k``'s centre.

    Raises:
        ConfigError: Missing file or bad arguments.
        DataFormatError: Not HDF5, a missing dataset (the message names the expected HDF5 path
            and the file), NaN steering values or corrupt packets.
    """
    import h5py

    p = Path(path)
    n_bins = _positive_int("n_bins", n_bins)
    height = _positive_int("height", height)
    width = _positive_int("width", width)
    window_us = _positive_int("window_us", window_us)
    if max_windows is not None:
        max_windows = _positive_int("max_windows", max_windows)
    if window_us % n_bins:
        raise ConfigError(f"window_us={window_us} is not divisible by n_bins={n_bins}; use "
                          f"{(window_us // n_bins) * n_bins or n_bins} or {(window_us // n_bins + 1) * n_bins}")
    if height > DDD20_SENSOR_HEIGHT or width > DDD20_SENSOR_WIDTH:
        raise ConfigError(f"height/width must not exceed the DAVIS346 sensor "
                          f"({DDD20_SENSOR_HEIGHT}x{DDD20_SENSOR_WIDTH}), got {height}x{width}")
    if layout not in ("auto", "raw", "export"):
        raise ConfigError(f"layout must be 'auto', 'raw' or 'export', got {layout!r}")
    if not p.is_file():
        raise ConfigError(f"DDD-20 file not found: {p}. {DDD20_HINT}")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise DataFormatError(f"{p}: not a readable HDF5 file ({exc})") from exc
    with f:
        if layout == "auto":
            if "dvs" in f:
                layout = "raw"
            elif "dvs_frame" in f:
                layout = "export"
            else:
                raise DataFormatError(f"{p}: neither a raw DDD-20 recording (needs '/dvs/data', '/dvs/timestamp', "
                                      f"'/{STEERING_TOPIC}/data') nor an export (needs '/dvs_frame', "
                                      f"'/{STEERING_TOPIC}', '/timestamp'); top-level entries: {sorted(f.keys())[:20]}")
        if layout == "raw":
            return _load_raw(f, p, n_bins=n_bins, height=height, width=width, window_us=window_us,
                             max_windows=max_windows, binary=bool(binary), rotate180=bool(rotate180))
        return _load_export(f, p, n_bins=n_bins, height=height, width=width, max_windows=max_windows,
                            binary=bool(binary), rotate180=bool(rotate180))


# -- synthetic steering stream ------------------------------------------------------------------
