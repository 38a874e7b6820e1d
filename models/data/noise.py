"""Sensor noise and distractors added to DVS event streams, for the paper's noise claim (``experiment noise``).

Each generator adds events to a stream and never changes or removes one (the clean events are kept as they are):

* **background activity** (:func:`add_background_activity`): the DVS's leak/shot noise, uniformly random events at
  ``rate_hz`` per pixel (both polarities together, equally likely), i.e. a Poisson process of rate
  ``rate_hz * height * width`` over the window, uniform in position and time (DVS noise models, e.g. the 0.1-5 Hz
  per pixel of indoor DAVIS346 recordings, grow with darkness);
* **hot pixels** (:func:`add_hot_pixels`): a fixed set of ``n_pixels`` defective pixels (drawn from the *sensor*
  seed, the same for every sample of one sensor), each firing a Poisson stream of one polarity at ``rate_hz``;
* **distractor burst** (:func:`add_distractor_burst`): a burst of ``n_events`` events in a ``size_px`` square patch
  at a random place, within the first ``fraction`` of the window (something that flashed before the gesture and that
  a memory must forget), uniform in time and position within it, random polarities.

Randomness: every call takes its own ``numpy.random.Generator``; :func:`noise_rng` derives it from
``SeedSequence(entropy=seed, spawn_key=(NOISE_TAG, kind, *keys))``, so the noise of one sample at one level does not
depend on the other samples or levels, and the clean data's streams are untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.events import make_events

NOISE_TAG = 0x4E01
KINDS = {"background": 1, "hot_pixels": 2, "burst": 3}


def noise_rng(seed: int, kind: str, *keys: int) -> np.random.Generator:
    """The generator of one noise stream (module docstring)."""
    if kind not in KINDS:
        raise ConfigError(f"noise kind '{kind}' is unknown; use one of {', '.join(KINDS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"noise seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed),
                                                        spawn_key=(NOISE_TAG, KINDS[kind], *map(int, keys))))


def _merge(events: np.ndarray, t, x, y, p) -> np.ndarray:
    if len(t) == 0:
        return events
    merged = np.concatenate([events, make_events(t, x, y, p)])
    return merged[np.argsort(merged["t"], kind="stable")]


def _check(name: str, value: float, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < low:
        raise ConfigError(f"{name} ({value!r}) must be a finite number >= {low:g}")
    return float(value)


def add_background_activity(events: np.ndarray, *, rate_hz: float, height: int, width: int, t_start_us: int,
                            t_stop_us: int, rng: np.random.Generator) -> np.ndarray:
    """``events`` plus background activity at ``rate_hz`` events per pixel per second."""
    rate = _check("background rate_hz", rate_hz)
    mean = rate * height * width * (t_stop_us - t_start_us) * 1e-6
    n = int(rng.poisson(mean)) if mean > 0 else 0
    return _merge(events, rng.integers(t_start_us, t_stop_us, n), rng.integers(0, width, n),
                  rng.integers(0, height, n), rng.integers(0, 2, n))


def hot_pixel_set(n_pixels: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pixels`` distinct pixels ``[(y, x, polarity), ...]`` (a sensor's defects)."""
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, (int, np.integer)) or not 0 <= n_pixels <= height * width:
        raise ConfigError(f"hot pixels: n_pixels ({n_pixels!r}) must be an integer in 0..{height * width}")
    flat = rng.choice(height * width, size=int(n_pixels), replace=False)
    return np.stack([flat // width, flat % width, rng.integers(0, 2, int(n_pixels))], axis=1).astype(np.int64)


def add_hot_pixels(events: np.ndarray, *, pixels: np.ndarray, rate_hz: float, t_start_us: int, t_stop_us: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``events`` plus a Poisson stream at ``rate_hz`` from each hot pixel of ``pixels`` (:func:`hot_pixel_set`)."""
    rate = _check("hot-pixel rate_hz", rate_hz)
    counts = rng.poisson(rate * (t_stop_us - t_start_us) * 1e-6, size=len(pixels)) if len(pixels) else np.zeros(0, int)
    idx = np.repeat(np.arange(len(pixels)), counts)
    t = rng.integers(t_start_us, t_stop_us, idx.size)
    return _merge(events, t, pixels[idx, 1], pixels[idx, 0], pixels[idx, 2])


def add_distractor_burst(events: np.ndarray, *, n_events: int, size_px: int, fraction: float, height: int,
                         width: int, t_start_us: int, t_stop_us: int, rng: np.random.Generator) -> np.ndarray:
    """``events`` plus ``n_events`` events in a ``size_px`` square patch within the first ``fraction`` of the window
    (the burst's place is drawn per call)."""
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 0:
        raise ConfigError(f"distractor burst: n_events ({n_events!r}) must be an integer >= 0")
    if (isinstance(size_px, bool) or not isinstance(size_px, (int, np.integer))
            or not 1 <= size_px <= min(height, width)):
        raise ConfigError(f"distractor burst: size_px ({size_px!r}) must be an integer in 1..{min(height, width)}")
    frac = _check("distractor burst fraction", fraction)
    if not 0 < frac <= 1:
        raise ConfigError(f"distractor burst: fraction ({fraction!r}) must lie in (0, 1]")
    y0 = int(rng.integers(0, height - size_px + 1))
    x0 = int(rng.integers(0, width - size_px + 1))
    t_end = t_start_us + max(1, int(frac * (t_stop_us - t_start_us)))
    n = int(n_events)
    return _merge(events, rng.integers(t_start_us, t_end, n), x0 + rng.integers(0, size_px, n),
                  y0 + rng.integers(0, size_px, n), rng.integers(0, 2, n))


LEVEL_UNITS = {"background": "events per pixel per second", "hot_pixels": "hot pixels on the sensor",
               "burst": "events in the distractor burst"}


@dataclass(frozen=True)
class NoiseSetting:
    """One kind of noise at one level (:data:`LEVEL_UNITS`), with the fixed parameters of its kind."""

    kind: str
    level: float
    hot_pixel_rate_hz: float = 50.0          # each hot pixel's event rate
    burst_size_px: int = 6                   # the burst's square patch
    burst_fraction: float = 0.25             # the burst lies in the first quarter of the window

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"noise kind '{self.kind}' is unknown; use one of {', '.join(KINDS)}")
        _check(f"{self.kind} level", self.level)
        if self.kind != "background" and float(self.level) != int(self.level):
            raise ConfigError(f"{self.kind} level ({self.level}) must be a whole number ({LEVEL_UNITS[self.kind]})")

    def apply(self, events: np.ndarray, *, height: int, width: int, window_us: int, rng: np.random.Generator,
              pixels: np.ndarray | None = None) -> np.ndarray:
        """``events`` with this noise added, drawn from ``rng`` (hot pixels: ``pixels``, :func:`hot_pixel_set`)."""
        window: dict[str, Any] = dict(t_start_us=0, t_stop_us=window_us, rng=rng)
        if self.level == 0:
            return events
        if self.kind == "background":
            return add_background_activity(events, rate_hz=self.level, height=height, width=width, **window)
        if self.kind == "hot_pixels":
            if pixels is None:
                raise ValueError("hot-pixel noise needs its pixel set (hot_pixel_set)")
            return add_hot_pixels(events, pixels=pixels, rate_hz=self.hot_pixel_rate_hz, **window)
        return add_distractor_burst(events, n_events=int(self.level), size_px=self.burst_size_px,
                                    fraction=self.burst_fraction, height=height, width=width, **window)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "level": float(self.level), "unit": LEVEL_UNITS[self.kind],
                "hot_pixel_rate_hz": self.hot_pixel_rate_hz, "burst_size_px": self.burst_size_px,
                "burst_fraction": self.burst_fraction}

    @classmethod
    def from_dict(cls, data) -> "NoiseSetting":
        if not isinstance(data, dict) or not {"kind", "level"} <= set(data):
            raise ConfigError(f"a noise setting needs 'kind' and 'level', got {data!r}")
        extra = set(data) - {f.name for f in fields(cls)} - {"unit"}
        if extra:
            raise ConfigError(f"noise setting: unknown field(s) {sorted(extra)}")
        return cls(**{k: v for k, v in data.items() if k != "unit"})

    @classmethod
    def from_record(cls, record) -> tuple["NoiseSetting", int]:
        """(setting, seed) of a manifest's noise record: :meth:`to_dict` plus ``seed``."""
        if not isinstance(record, dict):
            raise ConfigError(f"a noise record must be a table (kind, level, seed), got {type(record).__name__}")
        seed = record.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
        return cls.from_dict({k: v for k, v in record.items() if k != "seed"}), seed

    @classmethod
    def parse(cls, text: str) -> "NoiseSetting":
        """``KIND=LEVEL`` (e.g. ``burst=300``, ``background=0.1``, ``hot_pixels=16``)."""
        kind, sep, value = str(text).partition("=")
        try:
            level = float(value)
        except ValueError:
            level = None
        if not sep or level is None:
            raise ConfigError(f"noise '{text}': use KIND=LEVEL with KIND one of {', '.join(KINDS)} "
                              f"(e.g. burst=300 or background=0.1)")
        kind = kind.strip()
        whole = kind != "background" and math.isfinite(level) and level.is_integer()
        return cls(kind, int(level) if whole else level)

    def perturber(self, height: int, width: int, window_us: int, seed: int):
        """``perturb(events, class_index, sample_index, reversed)`` for
        :func:`~ipnet_cosim.models.data.synthetic_gestures.make_gesture_dataset`, or None at level 0. Every sample
        (forward and reversed separately) draws its own noise; hot pixels are one sensor's, the same for all."""
        if self.level == 0:
            return None
        pixels = (hot_pixel_set(int(self.level), height, width, noise_rng(seed, "hot_pixels", 0))
                  if self.kind == "hot_pixels" else None)

        def perturb(events: np.ndarray, c: int, i: int, rev: bool) -> np.ndarray:
            return self.apply(events, height=height, width=width, window_us=window_us,
                              rng=noise_rng(seed, self.kind, 1, c, i, int(rev)), pixels=pixels)
        return perturb


# -- training with noise ---------------------------------------------------------------------------------------------
TRAIN_NOISE = ("none", "mixed")
MIXED_LEVELS = {"background": (0.05, 0.1, 0.2, 0.5), "hot_pixels": (4, 16, 64), "burst": (100, 300, 1000)}
MIXED_CLEAN_FRACTION = 0.25
MIXED_RECIPE = ("'mixed': each training and validation sample (forward and reversed apart) is kept clean with "
                f"probability {MIXED_CLEAN_FRACTION:g}, else gets one noise kind drawn uniformly (background / hot "
                f"pixels / burst) at a level drawn uniformly from "
                + "; ".join(f"{kind} {', '.join(f'{v:g}' for v in values)} ({LEVEL_UNITS[kind]})"
                            for kind, values in MIXED_LEVELS.items())
                + " (hot pixels: a sensor drawn per sample). Streams independent of the test noise")
_SPLIT_KEYS = {"train": 2, "val": 3}


def training_perturber(recipe: str, height: int, width: int, window_us: int, seed: int, split: str):
    """``perturb`` for the training or validation split under a training-noise recipe (:data:`MIXED_RECIPE`), or
    None for ``"none"``. The draws derive from ``seed`` with keys apart from the test noise's."""
    if recipe not in TRAIN_NOISE:
        raise ConfigError(f"training noise '{recipe}' is unknown; use one of {', '.join(TRAIN_NOISE)}")
    if recipe == "none":
        return None
    if split not in _SPLIT_KEYS:
        raise ConfigError(f"training noise applies to the train and val splits, not '{split}'")
    key = _SPLIT_KEYS[split]
    kinds = tuple(MIXED_LEVELS)

    def perturb(events: np.ndarray, c: int, i: int, rev: bool) -> np.ndarray:
        pick = np.random.default_rng(np.random.SeedSequence(entropy=int(seed),
                                                            spawn_key=(NOISE_TAG, 0, key, c, i, int(rev))))
        if pick.random() < MIXED_CLEAN_FRACTION:
            return events
        kind = kinds[int(pick.integers(len(kinds)))]
        values = MIXED_LEVELS[kind]
        setting = NoiseSetting(kind, values[int(pick.integers(len(values)))])
        rng = noise_rng(seed, kind, key, c, i, int(rev))
        pixels = hot_pixel_set(int(setting.level), height, width, rng) if kind == "hot_pixels" else None
        return setting.apply(events, height=height, width=width, window_us=window_us, rng=rng, pixels=pixels)
    return perturb
