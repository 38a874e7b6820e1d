"""Named data sets for training and experiments: synthetic DVS gestures (11 and 22-class
time-reversed) and DVS128 Gesture when the user has the files.

The 22-class sets add, for every sample, its time-reversed copy as class ``c + 11``; the
reversed copy has exactly the same frames in reverse order (see
:func:`ipnet_cosim.models.data.events.time_reverse`), so only temporal order separates a
gesture from its reversal.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.config import check_field_types, check_known_keys

DATASETS = {
    "synthetic-11": "synthetic DVS gestures, 11 classes (no download)",
    "synthetic-22": "synthetic DVS gestures + time-reversed copies, 22 classes (no download)",
    "dvs128-11": "IBM DVS128 Gesture, 11 classes (needs the files: --data-root)",
    "dvs128-22": "IBM DVS128 Gesture + time-reversed copies, 22 classes (needs the files: --data-root)",
    "stimulus": "your own input spikes from a file (root: a .npz or NIR spike data; models/data/stimulus.py)",
    "none": "no input data: a network imported from NIR whose input no data set fits (export it with --stimulus)",
}


@dataclass(frozen=True)
class DataConfig:
    """Which data set and how it is binned.

    Args:
        dataset: a key of :data:`DATASETS`.
        n_train_per_class, n_test_per_class: synthetic samples per (forward) class.
        n_val_per_class: synthetic validation samples per class (an independent stream), used to
            keep the best epoch's weights; 0 = no validation (the last epoch is kept).
        max_samples: DVS128: at most this many recordings per split (0 = all).
        n_bins: time bins (network steps) per sample.
        height, width: frame size in pixels.
        seed: generator seed (synthetic).
        root: folder with DVS128 Gesture (original AEDAT layout or tonic's).
        train_noise: sensor noise added to the synthetic training and validation streams: "none", or "mixed"
            (:data:`~ipnet_cosim.models.data.noise.MIXED_RECIPE`); the test set stays clean.
        channels: input channels per pixel (2 polarities for event cameras; a stimulus file's own).
        n_classes: "stimulus": the network's classes (0: the labels' largest + 1).
        stimulus_sha256: "stimulus": the file's sha256 when it was taken (a changed file is refused).
    """

    dataset: str = "synthetic-22"
    n_train_per_class: int = 48
    n_test_per_class: int = 16
    n_val_per_class: int = 16
    n_bins: int = 16
    height: int = 32
    width: int = 32
    seed: int = 0
    root: str | None = None
    max_samples: int = 0
    train_noise: str = "none"
    channels: int = 2
    n_classes: int = 0
    stimulus_sha256: str | None = None

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.dataset not in DATASETS:
            raise ConfigError(f"data set '{self.dataset}' is unknown; use one of {', '.join(DATASETS)}")
        from ipnet_cosim.models.data.noise import TRAIN_NOISE
        if self.train_noise not in TRAIN_NOISE:
            raise ConfigError(f"data: train_noise '{self.train_noise}' is unknown; use one of {', '.join(TRAIN_NOISE)}")
        if self.train_noise != "none" and not self.dataset.startswith("synthetic"):
            raise ConfigError(f"data: train_noise '{self.train_noise}' adds noise to the synthetic generator's event "
                              f"streams; data set '{self.dataset}' is recorded (use train_noise 'none')")
        for name in ("n_bins", "height", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"data: {name} ({getattr(self, name)}) must be at least 1")
        if self.n_val_per_class < 0:
            raise ConfigError(f"data: n_val_per_class ({self.n_val_per_class}) must be >= 0")
        if self.max_samples < 0:
            raise ConfigError(f"data: max_samples ({self.max_samples}) must be >= 0 (0 = all)")
        if self.dataset.startswith("synthetic") and (self.n_train_per_class < 1 or self.n_test_per_class < 1):
            raise ConfigError("data: n_train_per_class and n_test_per_class must be at least 1")
        if self.dataset == "stimulus" and not self.root:
            raise ConfigError("data set 'stimulus' needs its file: pass --stimulus FILE (a .npz or NIR spike data)")
        if self.dataset not in ("stimulus", "none") and self.channels != 2:
            raise ConfigError(f"data: channels ({self.channels}) must be 2 (event polarities) for data set "
                              f"'{self.dataset}'")
        if self.dataset.startswith("dvs128") and not self.root:
            raise ConfigError(f"data set '{self.dataset}' needs the DVS128 Gesture files: pass --data-root DIR "
                              f"(download from https://research.ibm.com/interactive/dvsgesture/)")

    @property
    def time_reversed(self) -> bool:
        return self.dataset.endswith("-22")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataConfig":
        check_known_keys(cls, data, "data config")
        return cls(**dict(data))


def _reverse_frames(data):
    """Append each sample's time-reversed copy (frames in reverse order) as class c + n."""
    from ipnet_cosim.models.data.events import EventFrames
    n = len(data.class_names)
    frames = np.concatenate([data.frames, data.frames[:, ::-1]], axis=0)
    labels = np.concatenate([data.labels, data.labels + n])
    names = tuple(data.class_names) + tuple(f"{c}_reversed" for c in data.class_names)
    return EventFrames(frames=np.ascontiguousarray(frames), labels=labels, class_names=names,
                       meta=dict(data.meta, time_reversed=True))


def _generator_config(config: DataConfig):
    from ipnet_cosim.models.data.synthetic_gestures import SyntheticGestureConfig
    base = SyntheticGestureConfig()
    # the window must split into n_bins x sub-steps of whole microseconds: keep it near the default
    unit = config.n_bins * base.sub_steps_per_bin
    window_us = unit * max(1, round(base.window_us / unit))
    return SyntheticGestureConfig(height=config.height, width=config.width, n_bins=config.n_bins,
                                  window_us=window_us)


@functools.lru_cache(maxsize=4)
def load_dataset(config: DataConfig):
    """(train, test) :class:`~ipnet_cosim.models.data.events.EventFrames` for a data config (cached per process)."""
    if config.dataset == "stimulus":
        test = load_stimulus(config)
        return test, test
    if config.dataset == "none":
        raise ConfigError("this network has no input data (it was imported from NIR without a stimulus, and no data "
                          "set fits its input): give your own input spikes with --stimulus FILE")
    if config.dataset.startswith("synthetic"):
        from ipnet_cosim.models.data.synthetic_gestures import make_gesture_dataset
        gen = _generator_config(config)
        train = make_gesture_dataset(config.n_train_per_class, config=gen, seed=config.seed, split="train",
                                     time_reversed=config.time_reversed, perturb=_training_noise(config, "train"))
        test = make_gesture_dataset(config.n_test_per_class, config=gen, seed=config.seed, split="test",
                                    time_reversed=config.time_reversed)
        return train, test
    from ipnet_cosim.models.data.dvs128 import load_dvs128_gesture
    if config.root is None:
        raise ConfigError(f"data set '{config.dataset}' needs its folder: set root (--data-root)")
    out = []
    for split in ("train", "test"):
        data = load_dvs128_gesture(config.root, split=split, n_bins=config.n_bins, height=config.height,
                                   width=config.width, max_samples=config.max_samples or None)
        out.append(_reverse_frames(data) if config.time_reversed else data)
    return tuple(out)


def stimulus_config(path: str | Path, *, n_classes: int = 0, input_shape: tuple[int, ...] | None = None,
                    n_bins: int | None = None) -> DataConfig:
    """The data config of a stimulus file (read and checked now; its shape as event frames, its sha256)."""
    from ipnet_cosim.models.data.stimulus import read_stimulus
    stim = read_stimulus(path, input_shape=input_shape, n_bins=n_bins)
    _, _, c, h, w = stim.as_chw().shape
    return DataConfig(dataset="stimulus", root=stim.path, n_bins=stim.n_steps, height=int(h), width=int(w),
                      channels=int(c), n_classes=int(n_classes), stimulus_sha256=stim.sha256, n_val_per_class=0)


def load_stimulus(config: DataConfig):
    """A stimulus file as the test split (:class:`~ipnet_cosim.models.data.events.EventFrames`)."""
    from ipnet_cosim.models.data.events import UNLABELLED, EventFrames
    from ipnet_cosim.models.data.stimulus import read_stimulus
    assert config.root is not None                      # (checked by DataConfig)
    stim = read_stimulus(config.root, n_bins=config.n_bins)
    if config.stimulus_sha256 and stim.sha256 != config.stimulus_sha256:
        raise ConfigError(f"stimulus file {config.root} changed since it was taken (sha256 {stim.sha256[:12]}, "
                          f"recorded {config.stimulus_sha256[:12]}); restore it, or export again with --stimulus")
    frames = stim.as_chw()
    if frames.shape[2:] != (config.channels, config.height, config.width):
        raise ConfigError(f"stimulus {config.root}: frames of shape {frames.shape[2:]}, the data config takes "
                          f"{(config.channels, config.height, config.width)}")
    meta = {"source": "stimulus", "path": stim.path, "sha256": stim.sha256, "unlabelled": stim.labels is None}
    if stim.labels is None:
        if not config.n_classes:
            raise ConfigError(f"stimulus {config.root} has no labels, and the network's class count is not known; "
                              f"give labels, or export the network (whose classes it knows) with --stimulus")
        labels = np.full(len(frames), UNLABELLED, dtype=np.int64)
        n = config.n_classes
    else:
        labels = stim.labels
        n = max(config.n_classes, int(labels.max()) + 1)
        if config.n_classes and int(labels.max()) >= config.n_classes:
            raise ConfigError(f"stimulus {config.root}: label {int(labels.max())} is beyond the network's "
                              f"{config.n_classes} classes")
    return EventFrames(frames=np.ascontiguousarray(frames), labels=labels,
                       class_names=tuple(f"class {i}" for i in range(n)), meta=meta)


def load_noisy_test(config: DataConfig, setting, noise_seed: int):
    """The test set of a synthetic data config with sensor noise or a distractor added to every sample's events
    before binning (:class:`~ipnet_cosim.models.data.noise.NoiseSetting`; the clean events are the test set's)."""
    if not config.dataset.startswith("synthetic"):
        raise ConfigError(f"noise is added to the synthetic generator's event streams; data set '{config.dataset}' is "
                          f"binned frames (use synthetic-11 or synthetic-22)")
    from ipnet_cosim.models.data.synthetic_gestures import make_gesture_dataset
    gen = _generator_config(config)
    return make_gesture_dataset(config.n_test_per_class, config=gen, seed=config.seed, split="test",
                                time_reversed=config.time_reversed,
                                perturb=setting.perturber(gen.height, gen.width, gen.window_us, noise_seed))


@functools.lru_cache(maxsize=4)
def load_validation(config: DataConfig):
    """The validation set of a data config, or None (DVS128 has no validation split; n_val_per_class=0)."""
    if not config.dataset.startswith("synthetic") or config.n_val_per_class == 0:
        return None
    from ipnet_cosim.models.data.synthetic_gestures import make_gesture_dataset
    return make_gesture_dataset(config.n_val_per_class, config=_generator_config(config), seed=config.seed,
                                split="val", time_reversed=config.time_reversed,
                                perturb=_training_noise(config, "val"))


def _training_noise(config: DataConfig, split: str):
    from ipnet_cosim.models.data.noise import training_perturber
    gen = _generator_config(config)
    return training_perturber(config.train_noise, gen.height, gen.width, gen.window_us, config.seed, split)


def class_spread(labels: Sequence[int] | np.ndarray, n: int) -> list[int]:
    """``n`` sample indices taken round-robin over the classes of ``labels`` (class order), within a class spread
    the k-th pick of class ``c`` is its sample ``(c + k) mod n_c`` (so that the picks differ in position too); all
    samples when ``n >= len(labels)``. ``n`` = the number of classes gives one sample per class."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return list(range(len(labels)))
    members = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
    picks: list[int] = []
    round_ = 0
    while len(picks) < n:
        for c, idx in members.items():
            if round_ < len(idx) and len(picks) < n:
                picks.append(int(idx[(c + round_) % len(idx)]))
        round_ += 1
    return sorted(set(picks))


def spread_indices(n_items: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(n_items)``, first and last included (the test sets are ordered by
    class, so the first ``n`` would cover a few classes only); all of them when ``n >= n_items``."""
    if n >= n_items:
        return list(range(n_items))
    if n <= 1:
        return [0][:max(n, 0)]
    return sorted({round(k * (n_items - 1) / (n - 1)) for k in range(n)})
