"""Event streams, event frames and a minimal DVS pixel model shared by the generators and loaders.

Conventions (every module in ``ipnet_cosim.models.data`` follows them):

- An event stream is a 1-D structured array of :data:`EVENT_DTYPE`: ``t`` the timestamp in
  integer microseconds, ``x`` the column, ``y`` the row (0 = top row, as in AEDAT 3.1 and
  OpenCV), ``p`` the polarity, 1 = ON (log intensity rose), 0 = OFF (fell). Streams are sorted
  by ``t`` with a *stable* sort, so equal timestamps keep their order.
- An event frame tensor has shape ``[n_bins, 2, height, width]`` (uint8); channel 0 holds OFF
  events, channel 1 ON events. A window ``[t_start_us, t_stop_us)`` of length
  ``D = t_stop_us - t_start_us`` is cut into ``n_bins`` bins of ``w = D / n_bins`` microseconds
  (``D`` must be divisible by ``n_bins``); bin ``k`` holds the events with
  ``t_start_us + k w <= t <= t_start_us + (k + 1) w - 1``. Events outside the window are dropped.
  Binary frames hold 1 where at least one event fell, count frames the number of events clipped
  to 255.
- Time reversal within a window maps ``t -> t_start_us + t_stop_us - 1 - t`` and keeps ``x``,
  ``y`` and ``p``. Bin ``k`` maps onto bin ``n_bins - 1 - k`` exactly, so the frames of a
  reversed stream are the forward frames in reverse order and the time-summed frame is unchanged.

DVS pixel model (:func:`simulate_dvs`), used by the synthetic generators: each pixel keeps a
reference log intensity ``L_ref`` (initialised to the first rendered frame); at every rendered
time ``t_k`` it compares the new log intensity ``L_k``::

    n = trunc((L_k - L_ref) / theta_pixel)          (signed event count)
    emit |n| events of polarity (n > 0) with t uniform in [t_{k-1}, t_k)
    L_ref <- L_ref + n theta_pixel

``theta_pixel = theta (1 + sigma z)``, ``z ~ N(0, 1)`` per pixel (threshold mismatch). Large
changes therefore give several events per pixel and sub-step, and a pixel whose change stays
within one threshold emits none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")])
"""Structured dtype of an event stream: t (us), x (column), y (row, 0 = top), p (1 = ON, 0 = OFF)."""

OFF_CHANNEL = 0
ON_CHANNEL = 1


class DataFormatError(ConfigError):
    """A data file is malformed or in an unsupported format (the message names the file and the fault)."""


# -- event streams ---------------------------------------------------------------------------------

def _as_int_array(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ConfigError(f"events: {name} must be a 1-D array, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating):
            raise ConfigError(f"events: {name} must be numeric, got dtype {arr.dtype}")
        if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            raise ConfigError(f"events: {name} must hold integers (t in whole microseconds); "
                              f"round the values first")
    return arr.astype(np.int64)


def make_events(t_us: Any, x: Any, y: Any, p: Any) -> np.ndarray:
    """Build a validated event stream of :data:`EVENT_DTYPE`, sorted stably by timestamp.

    Args:
        t_us: Timestamps in integer microseconds.
        x: Columns (0 = left), 0..32767.
        y: Rows (0 = top), 0..32767.
        p: Polarities, 1 = ON, 0 = OFF (bool accepted).

    Returns:
        The structured event array, sorted by ``t`` (stable).

    Raises:
        ConfigError: The arrays differ in length, are not 1-D integers, coordinates are negative
            or too large for int16, or a polarity is not 0/1.
    """
    t_arr, x_arr, y_arr, p_arr = (_as_int_array(n, v) for n, v in (("t_us", t_us), ("x", x), ("y", y), ("p", p)))
    n = t_arr.size
    for name, arr in (("x", x_arr), ("y", y_arr), ("p", p_arr)):
        if arr.size != n:
            raise ConfigError(f"events: {name} has {arr.size} entries but t_us has {n}; pass equal-length arrays")
    for name, arr in (("x", x_arr), ("y", y_arr)):
        if n and (arr.min() < 0 or arr.max() > np.iinfo(np.int16).max):
            raise ConfigError(f"events: {name} must lie in 0..32767, got {arr.min()}..{arr.max()}")
    if n and not np.all((p_arr == 0) | (p_arr == 1)):
        bad = np.unique(p_arr[(p_arr != 0) & (p_arr != 1)])[:5]
        raise ConfigError(f"events: polarity p must be 0 (OFF) or 1 (ON), got values {bad.tolist()}")
    order = np.argsort(t_arr, kind="stable")
    out = np.empty(n, dtype=EVENT_DTYPE)
    out["t"] = t_arr[order]
    out["x"] = x_arr[order]
    out["y"] = y_arr[order]
    out["p"] = p_arr[order]
    return out


def _check_events(events: Any) -> np.ndarray:
    if not isinstance(events, np.ndarray) or events.dtype.names is None \
            or not {"t", "x", "y", "p"} <= set(events.dtype.names):
        raise ConfigError("events must be a structured array with fields t, x, y, p "
                          "(build one with make_events)")
    if events.ndim != 1:
        raise ConfigError(f"events must be 1-D, got shape {events.shape}")
    return events


def _check_window(t_start_us: int, t_stop_us: int) -> tuple[int, int]:
    for name, v in (("t_start_us", t_start_us), ("t_stop_us", t_stop_us)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ConfigError(f"{name} must be an integer number of microseconds, got {v!r}")
    if t_stop_us <= t_start_us:
        raise ConfigError(f"empty window: t_stop_us={t_stop_us} must exceed t_start_us={t_start_us}")
    return int(t_start_us), int(t_stop_us)


def time_reverse(events: np.ndarray, *, t_start_us: int, t_stop_us: int) -> np.ndarray:
    """Reverse an event stream in time within the window ``[t_start_us, t_stop_us)``.

    Every event maps to ``t' = t_start_us + t_stop_us - 1 - t`` with the same ``x``, ``y`` and
    polarity ``p``; the result is re-sorted by ``t'``. Bin ``k`` of a window of ``n_bins`` bins maps
    exactly onto bin ``n_bins - 1 - k``, so :func:`events_to_frames` of the reversed stream is the
    forward frame sequence in reverse order (binary and counts) and the time-summed frame per
    polarity is identical. Events outside the window map outside it.

    Why the polarity is *not* flipped: a physical replay of the scene backwards would turn every
    brightness increase into a decrease and swap ON and OFF. Then the polarity histogram alone
    (e.g. ON events on the right of a moving edge, OFF on its left) would tell a gesture from its
    reversal without any memory. Keeping the polarity makes each reversed sample share its
    forward twin's frames exactly, so only the temporal order separates the two classes: the
    benchmark needs memory.

    Args:
        events: Event stream (:data:`EVENT_DTYPE`).
        t_start_us: Window start (us, inclusive).
        t_stop_us: Window stop (us, exclusive).

    Returns:
        The reversed stream, sorted stably by the new timestamps.
    """
    events = _check_events(events)
    t0, t1 = _check_window(t_start_us, t_stop_us)
    rev = events[::-1]
    return make_events(t0 + t1 - 1 - rev["t"].astype(np.int64), rev["x"], rev["y"], rev["p"])


def events_to_frames(events: np.ndarray, *, n_bins: int, height: int, width: int, t_start_us: int,
                     t_stop_us: int, binary: bool = True) -> np.ndarray:
    """Bin an event stream into frames ``[n_bins, 2, height, width]`` (uint8).

    Channel 0 holds OFF events (p = 0), channel 1 ON events (p = 1). With ``w = (t_stop_us -
    t_start_us) / n_bins``, bin ``k`` holds the events with ``t_start_us + k w <= t <=
    t_start_us + (k + 1) w - 1``; events outside ``[t_start_us, t_stop_us)`` are dropped.

    Args:
        events: Event stream (:data:`EVENT_DTYPE`); need not be sorted.
        n_bins: Number of time bins (>= 1).
        height: Frame height in pixels; every kept event needs ``0 <= y < height``.
        width: Frame width in pixels; every kept event needs ``0 <= x < width``.
        t_start_us: Window start (us, inclusive).
        t_stop_us: Window stop (us, exclusive); ``t_stop_us - t_start_us`` must be divisible by ``n_bins``.
        binary: True: 1 where at least one event fell; False: event counts clipped to 255.

    Returns:
        uint8 array of shape ``[n_bins, 2, height, width]``.

    Raises:
        ConfigError: Bad sizes, a window not divisible by ``n_bins`` (the message suggests a
            length that is) or events with coordinates outside the frame.
    """
    events = _check_events(events)
    for name, v in (("n_bins", n_bins), ("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"events_to_frames: {name} must be a positive integer, got {v!r}")
    t0, t1 = _check_window(t_start_us, t_stop_us)
    length_us = t1 - t0
    if length_us % n_bins:
        down = (length_us // n_bins) * n_bins
        up = down + n_bins
        hint = f"{up}" if down == 0 else f"{down} or {up}"
        raise ConfigError(f"events_to_frames: the window length t_stop_us - t_start_us = {length_us} us is not "
                          f"divisible by n_bins={n_bins}; use a length of {hint} us "
                          f"(e.g. t_stop_us = {t0 + (down or up)})")
    bin_us = length_us // n_bins
    t = events["t"].astype(np.int64)
    keep = (t >= t0) & (t < t1)
    x = events["x"][keep].astype(np.int64)
    y = events["y"][keep].astype(np.int64)
    p = events["p"][keep].astype(np.int64)
    if x.size:
        if x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height:
            raise ConfigError(f"events_to_frames: event coordinates x in {x.min()}..{x.max()}, y in "
                              f"{y.min()}..{y.max()} do not fit a {height}x{width} frame; downsample the "
                              f"coordinates or pass the sensor size")
        if p.min() < 0 or p.max() > 1:
            raise ConfigError("events_to_frames: polarity must be 0 (OFF) or 1 (ON)")
    k = (t[keep] - t0) // bin_us
    flat = ((k * 2 + p) * height + y) * width + x
    counts = np.bincount(flat, minlength=n_bins * 2 * height * width)
    frames = (counts > 0) if binary else np.minimum(counts, 255)
    return frames.astype(np.uint8).reshape(n_bins, 2, height, width)


def downsample_events(events: np.ndarray, *, sensor_height: int, sensor_width: int, height: int,
                      width: int) -> np.ndarray:
    """Map sensor coordinates onto a smaller grid: ``x' = floor(x width / sensor_width)``, same for y.

    For DVS128 (128x128) to 32x32 this is ``x // 4``; every output pixel collects an equal block.

    Raises:
        ConfigError: The target is larger than the sensor or an event lies outside the sensor.
    """
    events = _check_events(events)
    if not (1 <= height <= sensor_height and 1 <= width <= sensor_width):
        raise ConfigError(f"cannot downsample a {sensor_height}x{sensor_width} sensor to {height}x{width}; "
                          f"choose 1 <= height <= {sensor_height} and 1 <= width <= {sensor_width}")
    out = events.copy()
    if out.size:
        x = out["x"].astype(np.int64)
        y = out["y"].astype(np.int64)
        if x.max() >= sensor_width or y.max() >= sensor_height or x.min() < 0 or y.min() < 0:
            raise ConfigError(f"events outside the {sensor_height}x{sensor_width} sensor (x up to {x.max()}, "
                              f"y up to {y.max()})")
        out["x"] = x * width // sensor_width
        out["y"] = y * height // sensor_height
    return out


# -- the DVS pixel model -----------------------------------------------------------------------------

def simulate_dvs(log_intensity: np.ndarray, *, t_edges_us: np.ndarray, threshold: float,
                 threshold_mismatch: float, rng: np.random.Generator) -> np.ndarray:
    """Events of an ideal DVS watching a rendered log-intensity movie (see the module docstring).

    Args:
        log_intensity: ``[S + 1, height, width]`` log intensity at the times ``t_edges_us``.
        t_edges_us: ``S + 1`` increasing integer times (us); the change between frames ``k`` and
            ``k + 1`` is reported with timestamps uniform in ``[t_edges_us[k], t_edges_us[k + 1])``.
        threshold: Contrast threshold theta in log-intensity units (> 0).
        threshold_mismatch: Relative standard deviation sigma of the per-pixel threshold (>= 0).
        rng: Random generator (threshold map, timestamp jitter).

    Returns:
        The event stream (:data:`EVENT_DTYPE`), sorted by time.
    """
    if log_intensity.ndim != 3 or log_intensity.shape[0] < 2:
        raise ConfigError(f"simulate_dvs: log_intensity must be [S + 1 >= 2, H, W], got {log_intensity.shape}")
    t_edges = np.asarray(t_edges_us, dtype=np.int64)
    if t_edges.shape != (log_intensity.shape[0],) or np.any(np.diff(t_edges) <= 0):
        raise ConfigError("simulate_dvs: t_edges_us must be S + 1 strictly increasing times")
    if not threshold > 0 or not threshold_mismatch >= 0:
        raise ConfigError("simulate_dvs: threshold must be > 0 and threshold_mismatch >= 0")
    n_steps = log_intensity.shape[0] - 1
    shape = log_intensity.shape[1:]
    theta = threshold * np.clip(1.0 + threshold_mismatch * rng.standard_normal(shape), 0.25, None)
    ref = log_intensity[0].astype(np.float64).copy()
    counts = np.zeros((n_steps,) + shape, dtype=np.int32)
    for k in range(n_steps):
        n = np.trunc((log_intensity[k + 1] - ref) / theta)
        counts[k] = n
        ref += n * theta
    k_idx, y_idx, x_idx = np.nonzero(counts)
    c = counts[k_idx, y_idx, x_idx]
    reps = np.abs(c)
    k_rep = np.repeat(k_idx, reps)
    t0 = t_edges[k_rep]
    span = t_edges[k_rep + 1] - t0
    t = t0 + np.floor(rng.random(k_rep.size) * span).astype(np.int64)
    return make_events(t, np.repeat(x_idx, reps), np.repeat(y_idx, reps), np.repeat((c > 0).astype(np.int8), reps))


def add_noise_events(events: np.ndarray, *, fraction: float, height: int, width: int, t_start_us: int,
                     t_stop_us: int, rng: np.random.Generator) -> np.ndarray:
    """Add uniformly random background events (Poisson count with mean ``fraction * len(events)``).

    Position, polarity and time (``[t_start_us, t_stop_us)``) are uniform.
    """
    n_noise = int(rng.poisson(fraction * events.size)) if fraction > 0 else 0
    if n_noise == 0:
        return events
    t = rng.integers(t_start_us, t_stop_us, n_noise)
    x = rng.integers(0, width, n_noise)
    y = rng.integers(0, height, n_noise)
    p = rng.integers(0, 2, n_noise)
    noise = make_events(t, x, y, p)
    merged = np.concatenate([events, noise])
    return merged[np.argsort(merged["t"], kind="stable")]


# -- datasets of frames ------------------------------------------------------------------------------

def _check_meta(meta: Any, owner: str) -> dict:
    if not isinstance(meta, dict):
        raise ConfigError(f"{owner}.meta must be a dict, got {type(meta).__name__}")
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{owner}.meta must be JSON-serialisable (plain str/int/float/list/dict): {exc}") from exc
    return meta


def _check_frames(frames: Any, owner: str) -> np.ndarray:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise ConfigError(f"{owner}.frames must be a uint8 numpy array, got "
                          f"{getattr(frames, 'dtype', type(frames).__name__)}")
    if frames.ndim != 5 or frames.shape[2] < 1:
        raise ConfigError(f"{owner}.frames must have shape [N, T, C, H, W] (event cameras: C = 2, channel 0 OFF, "
                          f"1 ON), got {frames.shape}")
    return frames


def _indices(indices: Any, n: int, owner: str) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise ConfigError(f"{owner}.subset: a boolean mask needs shape ({n},), got {idx.shape}")
        return np.nonzero(idx)[0]
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ConfigError(f"{owner}.subset: indices must be a 1-D integer array or boolean mask")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ConfigError(f"{owner}.subset: indices out of range for {n} samples")
    return idx


UNLABELLED = -1     # the label of a sample without one (an unlabelled stimulus file; meta["unlabelled"] is True)


@dataclass
class EventFrames:
    """A classification data set of event frames.

    Attributes:
        frames: uint8 ``[N, T, 2, H, W]``; channel 0 OFF, channel 1 ON events per time bin.
        labels: int64 ``[N]``, class indices into ``class_names``.
        class_names: Name of every class, index = label.
        meta: JSON-serialisable provenance (generator or data set name, config as a dict, seed, split).
    """

    frames: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_frames(self.frames, "EventFrames")
        labels = np.asarray(self.labels)
        if labels.ndim != 1 or labels.shape[0] != self.frames.shape[0]:
            raise ConfigError(f"EventFrames.labels must have shape [{self.frames.shape[0]}] (one per sample), "
                              f"got {labels.shape}")
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise ConfigError(f"EventFrames.labels must be integers, got dtype {labels.dtype}")
        self.labels = labels.astype(np.int64, copy=False)
        self.class_names = tuple(str(c) for c in self.class_names)
        if not self.class_names:
            raise ConfigError("EventFrames.class_names is empty")
        self.meta = _check_meta(self.meta, "EventFrames")
        lowest = UNLABELLED if self.meta.get("unlabelled") else 0
        if self.labels.size and (self.labels.min() < lowest or self.labels.max() >= len(self.class_names)):
            raise ConfigError(f"EventFrames.labels must lie in 0..{len(self.class_names) - 1} "
                              f"(one per class name), got {self.labels.min()}..{self.labels.max()}")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_bins(self) -> int:
        """Time bins per sample (T)."""
        return int(self.frames.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def subset(self, indices: Any) -> "EventFrames":
        """The samples at ``indices`` (integer array or boolean mask), same classes, copied meta."""
        idx = _indices(indices, len(self), "EventFrames")
        meta = dict(self.meta)
        meta["subset_of_n"] = len(self)
        return EventFrames(frames=self.frames[idx], labels=self.labels[idx], class_names=self.class_names, meta=meta)


@dataclass
class SteeringFrames:
    """A regression data set of event frames with a steering angle per time bin.

    Attributes:
        frames: uint8 ``[N, T, 2, H, W]``; channel 0 OFF, channel 1 ON events per time bin.
        steering_deg: float32 ``[N, T]``, the steering wheel angle (degrees) at each bin's centre.
        meta: JSON-serialisable provenance.
    """

    frames: np.ndarray
    steering_deg: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_frames(self.frames, "SteeringFrames")
        target = np.asarray(self.steering_deg)
        if target.shape != self.frames.shape[:2]:
            raise ConfigError(f"SteeringFrames.steering_deg must have shape {self.frames.shape[:2]} ([N, T]), "
                              f"got {target.shape}")
        if target.size and not np.all(np.isfinite(target)):
            raise ConfigError("SteeringFrames.steering_deg contains NaN or inf")
        self.steering_deg = target.astype(np.float32, copy=False)
        self.meta = _check_meta(self.meta, "SteeringFrames")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_bins(self) -> int:
        """Time bins per sample (T)."""
        return int(self.frames.shape[1])

    def subset(self, indices: Any) -> "SteeringFrames":
        """The samples at ``indices`` (integer array or boolean mask), copied meta."""
        idx = _indices(indices, len(self), "SteeringFrames")
        meta = dict(self.meta)
        meta["subset_of_n"] = len(self)
        return SteeringFrames(frames=self.frames[idx], steering_deg=self.steering_deg[idx], meta=meta)


def split_seed_sequence(seed: int, generator_tag: int, split: str, *keys: int) -> np.random.SeedSequence:
    """The seed sequence of one stream: ``SeedSequence(entropy=seed, spawn_key=(tag, split_code, *keys))``.

    Split codes: train 0, val 1, test 2. Different splits, generators (``generator_tag``) and
    keys give independent streams for the same user seed.

    Raises:
        ConfigError: ``seed`` is not a non-negative integer or ``split`` is unknown.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if split not in SPLIT_CODES:
        raise ConfigError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(int(generator_tag), SPLIT_CODES[split]) + keys)


SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
