"""A synthetic DDD-20-style driving stream (no download): DVS events of a road scene whose lateral flow follows a
seeded steering signal, binned like the recordings, with the steering angle per step as the regression target; the
stand-in for DDD-20 when its files are absent (:mod:`~ipnet_cosim.models.data.ddd20` reads the real ones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.config import (check_bool, check_bounded_numbers, check_positive_ints, check_sensor_window,
                                       from_plain_dict, normalise_pairs, to_plain_dict)
from ipnet_cosim.models.data.events import (
    SteeringFrames, add_noise_events, events_to_frames, simulate_dvs, split_seed_sequence)
from ipnet_cosim.models.data.ddd20 import STEERING_TAG


_STEER_RANGES = ("steering_freq_hz_range", "forward_flow_px_per_s_range", "dot_radius_px_range",
                 "dot_log_contrast_range")


@dataclass(frozen=True)
class SyntheticSteeringConfig:
    """The synthetic driving stream (see the module docstring for the equations).

    Attributes:
        height: Sensor rows.
        width: Sensor columns.
        n_bins: Time bins per sample.
        window_us: Sample length (us); divisible by ``n_bins * sub_steps_per_bin``.
        sub_steps_per_bin: Rendered frames per bin for the DVS model.
        max_steering_deg: The angle is clipped to +-this (degrees).
        steering_offset_std_deg: Standard deviation of the per-sample mean angle (degrees).
        steering_wobble_deg_max: Upper bound of each of the 3 sinusoid amplitudes (degrees).
        steering_freq_hz_range: Frequency range of the sinusoids (Hz).
        flow_gain_px_per_s_per_deg: Sideways drift speed per degree of steering (px/s/deg).
        forward_flow_px_per_s_range: Downward drift speed of the texture (px/s), uniform per sample.
        n_texture_dots: Dots on the periodic canvas (2 H x 2 W), a quarter of them in view.
        dot_radius_px_range: Dot radius range (px).
        dot_log_contrast_range: Dot contrast magnitude range (log intensity), sign random.
        lane_log_contrast: Lane-marking contrast magnitude (log intensity), sign random; 0 disables.
        threshold: DVS contrast threshold (log-intensity units).
        threshold_mismatch: Relative per-pixel threshold spread.
        noise_fraction: Mean noise events relative to signal events.
        binary: Binary frames (True) or counts clipped to 255.
    """

    height: int = 32
    width: int = 32
    n_bins: int = 16
    window_us: int = 1_600_000
    sub_steps_per_bin: int = 4
    max_steering_deg: float = 45.0
    steering_offset_std_deg: float = 12.0
    steering_wobble_deg_max: float = 10.0
    steering_freq_hz_range: tuple[float, float] = (0.15, 1.0)
    flow_gain_px_per_s_per_deg: float = 1.0
    forward_flow_px_per_s_range: tuple[float, float] = (8.0, 20.0)
    n_texture_dots: int = 48
    dot_radius_px_range: tuple[float, float] = (1.0, 2.5)
    dot_log_contrast_range: tuple[float, float] = (0.6, 1.2)
    lane_log_contrast: float = 0.8
    threshold: float = 0.2
    threshold_mismatch: float = 0.05
    noise_fraction: float = 0.02
    binary: bool = True

    def __post_init__(self) -> None:
        check_positive_ints(self, ("height", "width", "n_bins", "window_us", "sub_steps_per_bin", "n_texture_dots"))
        check_sensor_window(self)
        normalise_pairs(self, _STEER_RANGES)
        check_bounded_numbers(self, (("max_steering_deg", 1.0, 720.0), ("steering_offset_std_deg", 0.0, None),
                                     ("steering_wobble_deg_max", 0.0, None),
                                     ("flow_gain_px_per_s_per_deg", 1e-6, None), ("lane_log_contrast", 0.0, None),
                                     ("threshold", 1e-3, None), ("threshold_mismatch", 0.0, 0.5),
                                     ("noise_fraction", 0.0, 10.0)))
        check_bool(self, "binary")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (pairs as lists)."""
        return to_plain_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SyntheticSteeringConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        return from_plain_dict(cls, data, _STEER_RANGES)


def _steering_signal(rng: np.random.Generator, cfg: SyntheticSteeringConfig, t_s: np.ndarray) -> np.ndarray:
    offset = rng.normal(0.0, cfg.steering_offset_std_deg) if cfg.steering_offset_std_deg > 0 else 0.0
    amp = rng.uniform(0.0, cfg.steering_wobble_deg_max, 3)
    freq = rng.uniform(*cfg.steering_freq_hz_range, 3)
    phase = rng.uniform(0.0, 2.0 * np.pi, 3)
    delta = offset + (amp[:, None] * np.sin(2.0 * np.pi * freq[:, None] * t_s[None, :] + phase[:, None])).sum(0)
    return np.clip(delta, -cfg.max_steering_deg, cfg.max_steering_deg)


def generate_steering_events(rng: np.random.Generator,
                             config: SyntheticSteeringConfig = SyntheticSteeringConfig()
                             ) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic driving sample: events over ``[0, window_us)`` and the angle at each bin centre.

    Returns:
        ``(events, steering_deg)``; ``steering_deg`` has ``n_bins`` entries (degrees).
    """
    if not isinstance(config, SyntheticSteeringConfig):
        raise ConfigError(f"config must be a SyntheticSteeringConfig, got {type(config).__name__}")
    cfg = config
    h, w = cfg.height, cfg.width
    n_steps = cfg.n_bins * cfg.sub_steps_per_bin
    sub_us = cfg.window_us // n_steps
    t_edges = np.arange(n_steps + 1, dtype=np.int64) * sub_us
    # Steering on a 8x finer grid, integrated with the trapezoid rule for the sideways drift X(t).
    fine = 8
    t_fine_s = np.arange(n_steps * fine + 1) * (sub_us / fine) * 1e-6
    delta_fine = _steering_signal(rng, cfg, t_fine_s)
    dt_s = sub_us / fine * 1e-6
    integral = np.concatenate([[0.0], np.cumsum(0.5 * (delta_fine[1:] + delta_fine[:-1]) * dt_s)])
    bin_us = cfg.window_us // cfg.n_bins
    centres_s = (np.arange(cfg.n_bins) + 0.5) * bin_us * 1e-6
    target = np.interp(centres_s, t_fine_s, delta_fine)

    hc, wc = 2 * h, 2 * w
    x0, y0 = rng.uniform(0.0, wc), rng.uniform(0.0, hc)
    v_fwd = rng.uniform(*cfg.forward_flow_px_per_s_range)
    t_s = t_edges * 1e-6
    shift_x = x0 - cfg.flow_gain_px_per_s_per_deg * integral[::fine]
    shift_y = y0 + v_fwd * t_s

    # Periodic canvas C, 2x supersampled, of dots of random sign.
    ss = 2
    n_dots = cfg.n_texture_dots
    dot_x, dot_y = rng.uniform(0.0, wc, n_dots), rng.uniform(0.0, hc, n_dots)
    dot_r = rng.uniform(*cfg.dot_radius_px_range, n_dots)
    dot_c = rng.uniform(*cfg.dot_log_contrast_range, n_dots) * rng.choice([-1.0, 1.0], n_dots)
    canvas = np.zeros((hc * ss, wc * ss))
    half = int(np.ceil((cfg.dot_radius_px_range[1] + 1.0) * ss))
    box = np.arange(-half, half + 1)
    for j in range(n_dots):                      # each dot touches only a small box (wrapped indices)
        iy = np.floor(dot_y[j] * ss).astype(np.int64) + box
        ix = np.floor(dot_x[j] * ss).astype(np.int64) + box
        ddy = (iy / ss - dot_y[j])[:, None]
        ddx = (ix / ss - dot_x[j])[None, :]
        canvas[np.ix_(iy % (hc * ss), ix % (wc * ss))] += dot_c[j] * np.clip(
            dot_r[j] + 0.5 - np.sqrt(ddx * ddx + ddy * ddy), 0.0, 1.0)

    # Bilinear, wrapped sampling of C at (x - X(t), y - Y(t)) for every rendered time.
    ys = np.arange(h, dtype=np.float64)[None, :, None]
    xs = np.arange(w, dtype=np.float64)[None, None, :]
    u = np.mod((xs - shift_x[:, None, None]) * ss, wc * ss)
    v = np.mod((ys - shift_y[:, None, None]) * ss, hc * ss)
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = u - u0, v - v0
    u1, v1 = (u0 + 1) % (wc * ss), (v0 + 1) % (hc * ss)
    log_i = ((1 - fv) * ((1 - fu) * canvas[v0, u0] + fu * canvas[v0, u1])
             + fv * ((1 - fu) * canvas[v1, u0] + fu * canvas[v1, u1]))

    # Lane markings below the horizon: fixed lines from the vanishing point, dashes streaming down.
    lane_sign = rng.choice([-1.0, 1.0])
    if cfg.lane_log_contrast > 0:
        y_h = 0.35 * h
        x_vp = 0.5 * (w - 1)
        yy = np.arange(h, dtype=np.float64)[:, None]
        below = np.clip(yy - y_h, 0.0, None)
        half_w = 0.3 + 0.04 * below
        lane = np.zeros((h, w))
        for side in (-1.0, 1.0):
            x_l = x_vp + side * 0.9 * below
            lane = np.maximum(lane, np.clip(half_w + 0.5 - np.abs(np.arange(w)[None, :] - x_l), 0.0, 1.0))
        lane *= (yy > y_h)
        phase = 6.0 / (below + 1.0)                                           # [H, 1], ground distance ~ 1/row
        dash = 0.5 + 0.5 * np.cos(2.0 * np.pi * (phase[None] - (v_fwd / 8.0) * t_s[:, None, None]))
        log_i = log_i + lane_sign * cfg.lane_log_contrast * lane[None] * dash
    events = simulate_dvs(log_i, t_edges_us=t_edges, threshold=cfg.threshold,
                          threshold_mismatch=cfg.threshold_mismatch, rng=rng)
    events = add_noise_events(events, fraction=cfg.noise_fraction, height=h, width=w, t_start_us=0,
                              t_stop_us=cfg.window_us, rng=rng)
    return events, target


def make_steering_dataset(n_samples: int, *, config: SyntheticSteeringConfig = SyntheticSteeringConfig(),
                          seed: int = 0, split: str = "train") -> SteeringFrames:
    """The synthetic steering data set: event frames and the steering angle per bin.

    Args:
        n_samples: Number of windows (>= 1).
        config: Generator configuration.
        seed: User seed (non-negative); same arguments give byte-identical frames.
        split: "train", "val" or "test": independent streams for the same seed.

    Returns:
        :class:`SteeringFrames` with ``steering_deg[n, k]`` the angle at bin ``k``'s centre.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
    if not isinstance(config, SyntheticSteeringConfig):
        raise ConfigError(f"config must be a SyntheticSteeringConfig, got {type(config).__name__}")
    split_seed_sequence(seed, STEERING_TAG, split)
    cfg = config
    frames = np.zeros((int(n_samples), cfg.n_bins, 2, cfg.height, cfg.width), dtype=np.uint8)
    target = np.zeros((int(n_samples), cfg.n_bins), dtype=np.float32)
    n_events = np.zeros(int(n_samples), dtype=np.int64)
    for i in range(int(n_samples)):
        rng = np.random.default_rng(split_seed_sequence(seed, STEERING_TAG, split, i))
        events, steer = generate_steering_events(rng, cfg)
        n_events[i] = events.size
        frames[i] = events_to_frames(events, n_bins=cfg.n_bins, height=cfg.height, width=cfg.width,
                                     t_start_us=0, t_stop_us=cfg.window_us, binary=cfg.binary)
        target[i] = steer
    meta = {
        "generator": "ipnet_cosim.models.data.ddd20.make_steering_dataset",
        "config": cfg.to_dict(),
        "seed": int(seed),
        "split": split,
        "n_samples": int(n_samples),
        "seed_derivation": "SeedSequence(entropy=seed, spawn_key=(0x57EE, split_code, i)); "
                           "split_code train 0, val 1, test 2",
        "mean_events_per_sample": float(n_events.mean()),
    }
    return SteeringFrames(frames=frames, steering_deg=target, meta=meta)
