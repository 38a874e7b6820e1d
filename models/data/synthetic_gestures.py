"""Synthetic DVS gestures and the 22-class time-reversed benchmark, generated without downloads.

Scene: a bright "hand" (one disc, two discs for ``converge``, a ring for ``expand``) of intensity
``1 + contrast`` moves over a uniform background of intensity 1 along a class-specific path.
The log intensity ``L = ln(1 + contrast * profile)`` is rendered at ``n_bins * sub_steps_per_bin``
sub-steps (plus the initial frame); the profile is anti-aliased (``clip(r + 1/2 - d, 0, 1)`` for a
disc of radius ``r`` at distance ``d``). A DVS pixel model turns the movie into events
(:func:`ipnet_cosim.models.data.events.simulate_dvs`: per-pixel threshold with mismatch, several
events per pixel for large changes, timestamps uniform within the sub-step), and uniformly random
noise events (mean ``noise_fraction`` of the signal count) are added.

Paths are written in units of half the sensor's shorter side, origin at the sensor centre, y
pointing down (row 0 = top), as functions of the progress ``u`` in [0, 1]::

    u(t) = clip((t / window - s) / f, 0, 1),  f ~ U(duration_fraction_range),  s ~ U(0, 1 - f)

so the hand rests before and after its gesture (no events). Per sample the path is scaled by
``path_scale_range``, rotated by up to ``path_rotation_deg_max``, shifted by up to
``position_jitter_px``; the disc radius is drawn from ``radius_px_range``. At the defaults
(32x32, 16 bins) the hand moves about 1.5-3 px per bin.

Classes (:data:`GESTURE_CLASSES`, label = index) and paths:

==============  ====================================================================
swipe_right     left -> right
swipe_down      top -> bottom
diagonal        top-left -> bottom-right
circle_cw       one full clockwise turn from a random start angle
arc_over        half circle from left to right over the top
spiral_out      one counter-clockwise turn with the radius growing 0.1 -> 0.6
zigzag_right    drifting right with a 1.5-period vertical zig-zag
converge        two discs from the left and right edges to the centre
expand          a ring growing from the centre
l_path          down, then right
wave_up         horizontal oscillation (1.25 periods) while drifting upward
==============  ====================================================================

Why every class is temporally asymmetric: with ``time_reversed=True`` each forward sample also
appears reversed in time (:func:`~ipnet_cosim.models.data.events.time_reverse`, polarity kept) as
class ``c + 11``. That task is only well posed if no class is, statistically, the time reversal of
itself or of another class; otherwise a reversed sample is also a valid forward sample and no
classifier can tell them apart. So every path here is open or monotonic (a swipe, a spiral that
grows, a ring that expands, a single turn of fixed direction), never a closed periodic motion
with random phase; the reversal of ``circle_cw`` turns counter-clockwise, which no forward class
does (``spiral_out`` also changes its radius). The real DVS128 Gesture set contains symmetric
gestures (hand waves, air drums, hand clapping are roughly periodic, and clockwise /
counter-clockwise arm rotations are each other's reversals), so a 22-class reversed version of it is
partly ill-posed; this generator avoids that by construction.

Seeds: sample ``i`` of class ``c`` uses ``np.random.default_rng(SeedSequence(entropy=seed,
spawn_key=(GESTURE_TAG, split_code, c, i)))`` with split codes train 0, val 1, test 2, so splits
are independent streams for one seed and a sample does not depend on ``n_per_class``. Data sets
are ordered class-major (all samples of class 0, then class 1, ...); with ``time_reversed=True``
the forward block (``11 n`` samples) is followed by the reversed block in the same order, so
sample ``j`` and ``j + 11 n`` are a pair. Shuffle in the data loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.config import (check_bool, check_bounded_numbers, check_positive_ints, check_sensor_window,
                                       from_plain_dict, normalise_pairs, to_plain_dict)
from ipnet_cosim.models.data.events import (
    EventFrames, add_noise_events, events_to_frames, simulate_dvs, split_seed_sequence, time_reverse)

GESTURE_CLASSES: tuple[str, ...] = (
    "swipe_right", "swipe_down", "diagonal", "circle_cw", "arc_over", "spiral_out",
    "zigzag_right", "converge", "expand", "l_path", "wave_up",
)
N_GESTURES = len(GESTURE_CLASSES)
REVERSED_SUFFIX = "_reversed"
GESTURE_TAG = 0x6E57  # generator tag in the seed derivation

_RANGE_FIELDS = ("radius_px_range", "path_scale_range", "duration_fraction_range")


@dataclass(frozen=True)
class SyntheticGestureConfig:
    """Geometry, timing and sensor model of the synthetic gestures (lengths in pixels, times in us).

    Attributes:
        height: Sensor rows.
        width: Sensor columns.
        n_bins: Time bins per sample.
        window_us: Sample length (us); divisible by ``n_bins * sub_steps_per_bin``.
        sub_steps_per_bin: Rendered frames per bin for the DVS model.
        radius_px_range: Disc radius range (px), uniform.
        path_scale_range: Path scale range (relative), uniform.
        path_rotation_deg_max: Path rotated by a uniform angle in +-this (degrees).
        position_jitter_px: Path shifted by a uniform offset in +-this per axis (px).
        duration_fraction_range: Fraction of the window the gesture lasts, uniform.
        ring_width_px: Width of the ``expand`` ring (px).
        contrast: Hand intensity over background minus 1 (background = 1).
        threshold: DVS contrast threshold (log-intensity units).
        threshold_mismatch: Relative per-pixel threshold spread (standard deviation).
        noise_fraction: Mean number of random noise events relative to signal events.
        binary: Binary frames (True) or event counts clipped to 255.
    """

    height: int = 32
    width: int = 32
    n_bins: int = 16
    window_us: int = 1_600_000
    sub_steps_per_bin: int = 4
    radius_px_range: tuple[float, float] = (2.5, 4.0)
    path_scale_range: tuple[float, float] = (0.85, 1.1)
    path_rotation_deg_max: float = 10.0
    position_jitter_px: float = 2.0
    duration_fraction_range: tuple[float, float] = (0.7, 1.0)
    ring_width_px: float = 1.5
    contrast: float = 3.0
    threshold: float = 0.2
    threshold_mismatch: float = 0.05
    noise_fraction: float = 0.02
    binary: bool = True

    def __post_init__(self) -> None:
        check_positive_ints(self, ("height", "width", "n_bins", "window_us", "sub_steps_per_bin"))
        check_sensor_window(self)
        normalise_pairs(self, _RANGE_FIELDS)
        if self.duration_fraction_range[1] > 1.0:
            raise ConfigError(f"SyntheticGestureConfig.duration_fraction_range must lie in (0, 1], got "
                              f"{self.duration_fraction_range}")
        check_bounded_numbers(self, (("path_rotation_deg_max", 0.0, 45.0), ("position_jitter_px", 0.0, None),
                                     ("ring_width_px", 0.5, None), ("contrast", 1e-3, None),
                                     ("threshold", 1e-3, None), ("threshold_mismatch", 0.0, 0.5),
                                     ("noise_fraction", 0.0, 10.0)))
        check_bool(self, "binary")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (pairs as lists)."""
        return to_plain_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SyntheticGestureConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        return from_plain_dict(cls, data, _RANGE_FIELDS)


def _path_units(class_index: int, u: np.ndarray, theta0: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Hand centres ``[S1, B, 2]`` (x, y) in path units and the ring radius ``[S1]`` (expand only)."""
    z = np.zeros_like(u)
    name = GESTURE_CLASSES[class_index]
    ring = None
    if name == "swipe_right":
        pts = [(-0.8 + 1.6 * u, z)]
    elif name == "swipe_down":
        pts = [(z, -0.8 + 1.6 * u)]
    elif name == "diagonal":
        pts = [(-0.6 + 1.2 * u, -0.6 + 1.2 * u)]
    elif name == "circle_cw":          # y points down: increasing angle turns clockwise on screen
        th = theta0 + 2.0 * np.pi * u
        pts = [(0.38 * np.cos(th), 0.38 * np.sin(th))]
    elif name == "arc_over":           # from (-0.7, 0.3) over the top (y = -0.4) to (0.7, 0.3)
        th = np.pi + np.pi * u
        pts = [(0.7 * np.cos(th), 0.3 + 0.7 * np.sin(th))]
    elif name == "spiral_out":         # decreasing angle: counter-clockwise on screen
        th = theta0 - 2.0 * np.pi * u
        r = 0.1 + 0.5 * u
        pts = [(r * np.cos(th), r * np.sin(th))]
    elif name == "zigzag_right":
        v = 1.5 * u
        tri = 1.0 - 4.0 * np.abs(np.mod(v + 0.25, 1.0) - 0.5)
        pts = [(-0.8 + 1.6 * u, 0.3 * tri)]
    elif name == "converge":
        pts = [(-0.95 + 0.83 * u, z), (0.95 - 0.83 * u, z)]
    elif name == "expand":
        pts = [(z, z)]
        ring = 0.08 + 0.72 * u
    elif name == "l_path":
        first = u < 0.5
        pts = [(np.where(first, -0.5, -0.5 + 2.1 * (u - 0.5)), np.where(first, -0.55 + 2.1 * u, 0.5))]
    elif name == "wave_up":
        pts = [(0.35 * np.sin(2.0 * np.pi * 1.25 * u), 0.75 - 1.5 * u)]
    else:  # pragma: no cover - GESTURE_CLASSES and this table are edited together
        raise ConfigError(f"no path for gesture {name!r}")
    centres = np.stack([np.stack([px, py], axis=-1) for px, py in pts], axis=1)
    return centres, ring


def generate_gesture_events(class_index: int, rng: np.random.Generator,
                            config: SyntheticGestureConfig = SyntheticGestureConfig()) -> np.ndarray:
    """One forward gesture sample as an event stream over ``[0, config.window_us)``.

    Args:
        class_index: Gesture class, 0..10 (:data:`GESTURE_CLASSES`).
        rng: Random generator; the same generator state gives the same events.
        config: Geometry, timing and sensor model.

    Returns:
        Events (:data:`~ipnet_cosim.models.data.events.EVENT_DTYPE`), sorted by time.

    Raises:
        ConfigError: ``class_index`` out of range or ``config`` of the wrong type.
    """
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= class_index < N_GESTURES:
        raise ConfigError(f"class_index must be an integer in 0..{N_GESTURES - 1}, got {class_index!r}")
    if not isinstance(config, SyntheticGestureConfig):
        raise ConfigError(f"config must be a SyntheticGestureConfig, got {type(config).__name__}")
    cfg = config
    # Draw every parameter for every class in the same order (stream layout independent of the class).
    frac = rng.uniform(*cfg.duration_fraction_range)
    start = rng.uniform(0.0, 1.0 - frac)
    radius = rng.uniform(*cfg.radius_px_range)
    scale = rng.uniform(*cfg.path_scale_range)
    alpha = np.deg2rad(rng.uniform(-cfg.path_rotation_deg_max, cfg.path_rotation_deg_max))
    offset = rng.uniform(-cfg.position_jitter_px, cfg.position_jitter_px, size=2)
    theta0 = rng.uniform(0.0, 2.0 * np.pi)

    n_steps = cfg.n_bins * cfg.sub_steps_per_bin
    sub_us = cfg.window_us // n_steps
    t_edges = np.arange(n_steps + 1, dtype=np.int64) * sub_us
    u = np.clip((t_edges / cfg.window_us - start) / frac, 0.0, 1.0)

    centres, ring = _path_units(int(class_index), u, theta0)
    unit_px = 0.5 * min(cfg.height, cfg.width) * scale
    rot = np.array([[np.cos(alpha), -np.sin(alpha)], [np.sin(alpha), np.cos(alpha)]])
    centres = centres @ rot.T * unit_px
    cx = 0.5 * (cfg.width - 1) + offset[0]
    cy = 0.5 * (cfg.height - 1) + offset[1]
    ys = np.arange(cfg.height, dtype=np.float64)[:, None]
    xs = np.arange(cfg.width, dtype=np.float64)[None, :]
    dx = xs[None, None] - (cx + centres[..., 0])[:, :, None, None]
    dy = ys[None, None] - (cy + centres[..., 1])[:, :, None, None]
    dist = np.sqrt(dx * dx + dy * dy)                                    # [S1, B, H, W]
    if ring is None:
        profile = np.clip(radius + 0.5 - dist, 0.0, 1.0).max(axis=1)
    else:
        r_px = (ring * unit_px)[:, None, None, None]
        profile = np.clip(0.5 * cfg.ring_width_px + 0.5 - np.abs(dist - r_px), 0.0, 1.0).max(axis=1)
    log_i = np.log1p(cfg.contrast * profile)
    events = simulate_dvs(log_i, t_edges_us=t_edges, threshold=cfg.threshold,
                          threshold_mismatch=cfg.threshold_mismatch, rng=rng)
    return add_noise_events(events, fraction=cfg.noise_fraction, height=cfg.height, width=cfg.width,
                            t_start_us=0, t_stop_us=cfg.window_us, rng=rng)


def make_gesture_dataset(n_per_class: int, *, config: SyntheticGestureConfig = SyntheticGestureConfig(),
                         seed: int = 0, split: str = "train", time_reversed: bool = False,
                         perturb: Callable[[np.ndarray, int, int, bool], np.ndarray] | None = None) -> EventFrames:
    """The synthetic gesture data set (11 classes) or the time-reversed benchmark (22 classes).

    Args:
        n_per_class: Forward samples per gesture class (>= 1).
        config: Generator configuration.
        seed: User seed (non-negative); same arguments give byte-identical frames.
        split: "train", "val" or "test": independent streams for the same seed.
        time_reversed: Also add, for every forward sample, its time reversal (polarity kept)
            labelled ``class + 11`` and named ``"<name>_reversed"``.
        perturb: ``perturb(events, class_index, sample_index, reversed)`` returns the stream to bin for each sample
            as presented (after the reversal): sensor noise and distractors (:mod:`~ipnet_cosim.models.data.noise`).

    Returns:
        :class:`EventFrames` ordered class-major; with ``time_reversed`` the reversed block
        follows the forward block in the same order (sample ``j`` pairs with ``j + 11 n``).
    """
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ConfigError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if not isinstance(config, SyntheticGestureConfig):
        raise ConfigError(f"config must be a SyntheticGestureConfig, got {type(config).__name__}")
    split_seed_sequence(seed, GESTURE_TAG, split)  # validates seed and split before the work
    cfg = config
    n_fwd = N_GESTURES * int(n_per_class)
    n_total = 2 * n_fwd if time_reversed else n_fwd
    frames = np.zeros((n_total, cfg.n_bins, 2, cfg.height, cfg.width), dtype=np.uint8)
    labels = np.zeros(n_total, dtype=np.int64)
    n_events = np.zeros(n_fwd, dtype=np.int64)
    kw: dict[str, Any] = dict(n_bins=cfg.n_bins, height=cfg.height, width=cfg.width, t_start_us=0,
                              t_stop_us=cfg.window_us, binary=cfg.binary)
    for c in range(N_GESTURES):
        for i in range(int(n_per_class)):
            j = c * int(n_per_class) + i
            rng = np.random.default_rng(split_seed_sequence(seed, GESTURE_TAG, split, c, i))
            events = generate_gesture_events(c, rng, cfg)
            n_events[j] = events.size
            frames[j] = events_to_frames(perturb(events, c, i, False) if perturb else events, **kw)
            labels[j] = c
            if time_reversed:
                rev = time_reverse(events, t_start_us=0, t_stop_us=cfg.window_us)
                frames[n_fwd + j] = events_to_frames(perturb(rev, c, i, True) if perturb else rev, **kw)
                labels[n_fwd + j] = c + N_GESTURES
    names = GESTURE_CLASSES + (tuple(n + REVERSED_SUFFIX for n in GESTURE_CLASSES) if time_reversed else ())
    meta = {
        "generator": "ipnet_cosim.models.data.synthetic_gestures",
        "config": cfg.to_dict(),
        "seed": int(seed),
        "split": split,
        "n_per_class": int(n_per_class),
        "time_reversed": bool(time_reversed),
        "order": ("class-major; forward block then reversed block (sample j pairs with j + n_forward)"
                  if time_reversed else "class-major"),
        "seed_derivation": "SeedSequence(entropy=seed, spawn_key=(0x6E57, split_code, class, i)); "
                           "split_code train 0, val 1, test 2",
        "mean_events_per_sample": float(n_events.mean()),
    }
    return EventFrames(frames=frames, labels=labels, class_names=names, meta=meta)

