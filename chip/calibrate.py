"""Per-chip gain trims: every chip's first-layer mirror gain calibrated on training samples (issue 32).

IPNet's heat-memory neurons fire by thermal activation, steeply in their current, and the time-reversed classes
are told apart by how much heat the first layer's neurons keep: a fine-tuned network loses several points of
accuracy when the first layer's currents are 1 % off (``benchmarks/gain_sensitivity.py``), which is less than the
gain error a chip's programming errors leave. Each chip is therefore trimmed after programming, as analog chips
are: one programmable mirror ratio per hidden layer (:attr:`MappingOptions.gain_trims
<ipnet_cosim.netlist_gen.mapping.MappingOptions.gain_trims>`), a trim DAC of :data:`TRIM_BITS` bits in steps of
:data:`TRIM_STEP` (assumed periphery: its area and energy are not priced), set from the chip's own answers to
labelled training samples (never the test set).

The search (:func:`calibrate_gain_trims`), per calibrated layer in order, on the chip's PyTorch hardware model
(:class:`~ipnet_cosim.chip.hardware_net.HardwareNet`) with the firing mode the chip runs (stochastic: one
recorded draws per sample from ``draw_seed``): the codes ``-span .. span`` in strides of ``stride``, then the
neighbours of the best code at half the stride until the stride is 1. A code's score is its accuracy on the
calibration samples, ties broken by the mean cross-entropy of the class scores (what the readout's charges give
on chip), or (``objective="cross_entropy"``) that cross-entropy first; the code nearer 0 wins a remaining tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ipnet_cosim.device.draws import Firing
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.mapping import MappingOptions

#: one code of the trim DAC: a 0.25 % step of the mirror gain (the accuracy of a fine-tuned IPNet moves by about a
#: point per 0.25 % of first-layer gain near its optimum: benchmarks/data/gain_sensitivity.json)
TRIM_STEP = 0.0025
#: bits of the trim DAC: codes -32 .. 31, gains 0.92 .. 1.0775
TRIM_BITS = 6
TRIM_CODES = (-(2 ** (TRIM_BITS - 1)), 2 ** (TRIM_BITS - 1) - 1)
OBJECTIVES = ("accuracy", "cross_entropy")


def trim_gain(code: int) -> float:
    """The mirror-gain factor of trim code ``code``."""
    if not TRIM_CODES[0] <= code <= TRIM_CODES[1]:
        raise ConfigError(f"trim code {code} is outside the {TRIM_BITS}-bit DAC's {TRIM_CODES[0]}..{TRIM_CODES[1]}")
    return 1.0 + TRIM_STEP * code


@dataclass(frozen=True)
class Calibration:
    """One chip's calibration: its trim codes and gains per hidden layer, and how they were found."""

    chip_seed: int
    codes: tuple[int, ...]
    gain_trims: tuple[float, ...]
    layers: tuple[int, ...]              # the calibrated hidden layers (the others stay at code 0)
    samples: int                         # training samples scored per code
    firing: dict[str, Any]
    objective: str
    accuracy_untrimmed: float            # on the calibration samples
    accuracy_trimmed: float
    evaluations: tuple[dict[str, Any], ...]   # every code tried: layer, code, accuracy, cross_entropy

    def apply(self, options: MappingOptions) -> MappingOptions:
        """``options`` with this chip's trims."""
        import dataclasses
        return dataclasses.replace(options, gain_trims=self.gain_trims)

    def to_dict(self) -> dict[str, Any]:
        return {"chip_seed": self.chip_seed, "codes": list(self.codes), "gain_trims": list(self.gain_trims),
                "layers": list(self.layers), "samples": self.samples, "firing": dict(self.firing),
                "objective": self.objective,
                "accuracy_untrimmed": self.accuracy_untrimmed, "accuracy_trimmed": self.accuracy_trimmed,
                "trim_dac": {"bits": TRIM_BITS, "step": TRIM_STEP, "source": "assumed (chip.calibrate)"},
                "evaluations": [dict(e) for e in self.evaluations],
                "what": "computed: codes chosen by accuracy on labelled training samples (ties: cross-entropy) on the "
                        "chip's PyTorch hardware model"}


def calibration_samples(n_train: int, count: int) -> np.ndarray:
    """``count`` training-sample indices spread evenly over a training set of ``n_train`` (all of it if fewer)."""
    if count < 1:
        raise ConfigError(f"calibration samples ({count}) must be at least 1")
    return np.unique(np.linspace(0, n_train - 1, min(count, n_train)).round().astype(np.int64))


def score_chip(hardware, frames: np.ndarray, labels: np.ndarray, sample_ids: Sequence[int] | np.ndarray,
               firing: Firing, batch_size: int = 16) -> tuple[float, float]:
    """(accuracy, mean cross-entropy of the class scores) of a hardware model on labelled samples, over
    ``firing.draws`` recorded draws of each (stochastic) or its one outcome (median)."""
    import torch
    d = firing.draws
    correct, nll = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            stop = min(start + batch_size, len(labels))
            x = torch.from_numpy(np.ascontiguousarray(frames[start:stop])).repeat_interleave(d, dim=0)
            draws = None
            if firing.stochastic:
                from ipnet_cosim.models.firing import RecordedDraws
                draws = RecordedDraws.product(firing.seed, [int(s) for s in sample_ids[start:stop]], d)
            logits = hardware(x, draws=draws).double()
            y = torch.as_tensor(np.asarray(labels[start:stop], dtype=np.int64)).repeat_interleave(d)
            correct += int((logits.argmax(dim=1) == y).sum())
            nll += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
    return correct / (len(labels) * d), nll / (len(labels) * d)


def calibrate_gain_trims(model, options: MappingOptions, frames: np.ndarray, labels: np.ndarray, *,
                         sample_ids: Sequence[int] | np.ndarray, chip_seed: int | None = None,
                         firing: Firing = Firing(), layers: Sequence[int] | None = (0,), span: int = 16,
                         stride: int = 4, objective: str = "accuracy",
                         progress: Callable[[str], None] | None = None) -> Calibration:
    """Trim codes of one chip (module docstring).

    Args:
        model: the network (a :class:`~ipnet_cosim.models.network.SpikingNet`, at the precision to calibrate with).
        options: the chip's mapping (its trims, if any, are the starting point).
        frames, labels, sample_ids: labelled training samples and their indices in the training set (name draws).
        chip_seed: the chip's variation seed; None: the exported chip (``options.conductance.seed``).
        firing: how the neurons fire while scoring (stochastic: ``firing.draws`` draws per sample from
            ``firing.seed``).
        layers: hidden layers to trim, in this order (default the first: the others hardly matter,
            benchmarks/data/gain_sensitivity.json); None: every hidden layer.
        span, stride: the first pass tries codes ``-span, -span + stride, .., span``; then half strides.
        objective: "accuracy" (ties by cross-entropy) or "cross_entropy" (the mean over samples and draws; smoother:
            with one draw per sample the draw alone moves a code's accuracy on 352 samples by points).
    """
    import dataclasses
    from ipnet_cosim.chip.hardware_net import HardwareNet
    say = progress or (lambda msg: None)
    hw = HardwareNet(model, options)
    hidden = len(hw.layers)
    layers = tuple(range(hidden)) if layers is None else tuple(int(v) for v in layers)
    if not layers or any(not 0 <= v < hidden for v in layers) or len(set(layers)) != len(layers):
        raise ConfigError(f"calibration layers {list(layers)} must be distinct hidden layers 0..{hidden - 1}")
    if objective not in OBJECTIVES:
        raise ConfigError(f"calibration objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}")
    if not (isinstance(stride, int) and stride >= 1 and isinstance(span, int) and 0 <= span <= TRIM_CODES[1]):
        raise ConfigError(f"calibration span ({span}) must be 0..{TRIM_CODES[1]} codes and stride ({stride}) >= 1")
    hw.chip_seed = options.conductance.seed if chip_seed is None else int(chip_seed)
    start = options.gain_trims or (1.0,) * hidden
    codes = [int(round((t - 1.0) / TRIM_STEP)) for t in start]
    cache: dict[tuple[int, ...], tuple[float, float]] = {}
    evaluations: list[dict[str, Any]] = []

    def score(trial: list[int], layer: int) -> tuple[float, float]:
        key = tuple(trial)
        if key not in cache:
            hw.options = dataclasses.replace(options, gain_trims=tuple(trim_gain(c) for c in trial))
            cache[key] = score_chip(hw, frames, labels, sample_ids, firing)
            acc, ce = cache[key]
            evaluations.append({"layer": layer, "codes": list(key), "accuracy": acc, "cross_entropy": ce})
            say(f"chip {hw.chip_seed}, layer {layer}: trim {trim_gain(trial[layer]):.4f} -> accuracy {acc:.4f}, "
                f"cross-entropy {ce:.4f}")
        return cache[key]

    def rank(trial: list[int], layer: int) -> tuple[float, float, int]:
        acc, ce = score(trial, layer)
        return (acc, -ce, -abs(trial[layer])) if objective == "accuracy" else (-ce, acc, -abs(trial[layer]))

    untrimmed = score([0] * hidden, layers[0])[0]
    for layer in layers:
        candidates = range(-span, span + 1, stride) if span else [0]
        best = max(candidates, key=lambda c: rank(codes[:layer] + [c] + codes[layer + 1:], layer))
        step = stride // 2
        while step >= 1:
            near = [c for c in (best - step, best, best + step) if TRIM_CODES[0] <= c <= TRIM_CODES[1]]
            best = max(near, key=lambda c: rank(codes[:layer] + [c] + codes[layer + 1:], layer))
            step //= 2
        codes[layer] = best
    hw.options = options
    return Calibration(chip_seed=hw.chip_seed, codes=tuple(codes), gain_trims=tuple(trim_gain(c) for c in codes),
                       layers=layers, samples=len(labels), firing=firing.to_dict(), objective=objective,
                       accuracy_untrimmed=untrimmed, accuracy_trimmed=cache[tuple(codes)][0],
                       evaluations=tuple(evaluations))


def calibrate_checkpoint(checkpoint, options: MappingOptions, *, samples: int = 352, chip_seed: int | None = None,
                         firing: str = "stochastic", draw_seed: int = 1, draws: int = 1,
                         layers: Sequence[int] | None = (0,), objective: str = "accuracy",
                         progress: Callable[[str], None] | None = None) -> Calibration:
    """:func:`calibrate_gain_trims` of a checkpoint's network (exact precision) on ``samples`` training samples spread
    over its training set (:func:`calibration_samples`); ``firing`` "stochastic" (a chip's neurons, ``draws``
    recorded draws per sample from ``draw_seed``) or "median"."""
    from ipnet_cosim.models.checkpoint import load_checkpoint, resolve_checkpoint_path
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    ck = load_checkpoint(resolve_checkpoint_path(checkpoint))
    train, _ = load_dataset(DataConfig.from_dict(ck.data_config))
    ids = calibration_samples(len(train.labels), samples)
    mode = Firing("stochastic", seed=draw_seed, draws=draws) if firing == "stochastic" else Firing(firing)
    return calibrate_gain_trims(ck.model.set_precision("exact").eval(), options, train.frames[ids], train.labels[ids],
                                sample_ids=ids, chip_seed=chip_seed, firing=mode, layers=layers,
                                objective=objective, progress=progress)
