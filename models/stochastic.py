"""A network's accuracy as a distribution over its neurons' randomness, and the coin flips behind it.

:func:`evaluate_firing` runs a network (or its hardware model) on a test set under a
:class:`~ipnet_cosim.device.draws.Firing`: the median idealisation, or ``draws`` seeded draws per sample
(:class:`~ipnet_cosim.models.firing.RecordedDraws`, the same ``u`` the circuits are given), many draws batched
at once. It reports the accuracy distribution (:func:`~ipnet_cosim.device.statistics.accuracy_distribution`)
and, per MTJ layer, the fire rate and the **coin-flip fraction**: the share of neuron-steps whose firing
probability ``p = 1 - exp(-H)`` lies inside (0.05, 0.95), split into those below and above ``p = 1/2`` (the
median mode never fires the first and always fires the second, whatever the device does).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ipnet_cosim.device.draws import Firing, coin_flip_hazard_band
from ipnet_cosim.device.statistics import accuracy_distribution
from ipnet_cosim.models.firing import RecordedDraws


def coin_flips(hazard: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of the neuron-steps whose firing probability ``1 - exp(-H)`` lies in the coin-flip band
    (:data:`~ipnet_cosim.device.draws.COIN_FLIP_BAND`), below and at-or-above ``p = 1/2`` (``H = ln 2``)."""
    h_lo, h_hi = coin_flip_hazard_band()
    h = hazard.detach().double()
    h_half = float(np.log(2.0))
    return (h > h_lo) & (h < h_half), (h >= h_half) & (h < h_hi)


class _LayerTally:
    """Counts of one MTJ layer's neuron-steps over an evaluation."""

    def __init__(self) -> None:
        self.steps = 0
        self.fired = 0
        self.flip_low = 0
        self.flip_high = 0

    def add(self, spikes: torch.Tensor, hazard: torch.Tensor) -> None:
        low, high = coin_flips(hazard)
        self.steps += hazard.numel()
        self.fired += int((spikes.detach() > 0.5).sum())
        self.flip_low += int(low.sum())
        self.flip_high += int(high.sum())

    def record(self, index: int, kind: str) -> dict[str, Any]:
        n = max(self.steps, 1)
        return {"layer": index, "kind": kind, "neuron_steps": self.steps, "fire_rate": self.fired / n,
                "coin_flip_fraction": (self.flip_low + self.flip_high) / n,
                "coin_flip_below_half": self.flip_low / n, "coin_flip_above_half": self.flip_high / n}


@torch.no_grad()
def evaluate_firing(model: nn.Module, frames: np.ndarray, labels: np.ndarray, firing: Firing, *,
                    sample_ids: Sequence[int] | None = None, batch_size: int = 16,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Accuracy distribution and per-layer coin-flip statistics of ``model`` under ``firing``.

    Args:
        model: a :class:`~ipnet_cosim.models.network.SpikingNet` or a model with the same ``forward`` arguments
            (:class:`~ipnet_cosim.chip.hardware_net.HardwareNet`), at the precision the caller set.
        frames: ``[N, T, C, H, W]`` binary frames; ``labels`` ``[N]``.
        firing: the firing mode; stochastic: ``firing.draws`` draws of every sample from ``firing.seed``.
        sample_ids: each sample's index in its data set (names its draws); default ``0 .. N-1``.
        batch_size: samples per forward pass (each with all its draws).
        progress: called with (samples done, samples).

    Returns:
        ``firing`` (the mode as a dict), ``firing_note`` (one line naming the mode), ``accuracy`` (the
        distribution), ``layers`` (per MTJ layer: fire rate, coin-flip fractions), ``predictions``
        ``[N][draws]``, ``n_samples`` and, for a time-reversed set (an even class count: class ``c + k/2`` is the
        reversal of ``c``), ``direction_accuracy`` (forward/reversed right, whatever the gesture) and
        ``gesture_accuracy`` (gesture right, whatever the direction), over samples and draws.
    """
    model.eval()
    labels = np.asarray(labels)
    n = len(labels)
    ids = list(range(n)) if sample_ids is None else [int(s) for s in sample_ids]
    if len(ids) != n:
        raise ValueError(f"{len(ids)} sample ids for {n} samples")
    d = firing.draws
    correct = np.zeros((n, d), dtype=bool)
    preds = np.zeros((n, d), dtype=np.int64)
    tallies: dict[int, _LayerTally] = {}
    net: Any = model if hasattr(model, "layer_kinds") else model.net     # the network (HardwareNet wraps it)
    kinds = net.layer_kinds()
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        x = torch.from_numpy(np.ascontiguousarray(frames[start:stop])).repeat_interleave(d, dim=0)
        draws = RecordedDraws.product(firing.seed, ids[start:stop], d) if firing.stochastic else None
        logits, trace = model(x, return_trace=True, draws=draws, details=True)
        p = logits.argmax(dim=1).numpy().reshape(stop - start, d)
        preds[start:stop] = p
        correct[start:stop] = p == labels[start:stop, None]
        for i, (spikes, info) in enumerate(zip(trace["outputs"], trace["details"])):
            if info is not None:
                tallies.setdefault(i, _LayerTally()).add(spikes, info.hazard)
        if progress:
            progress(stop, n)
    out: dict[str, Any] = {}
    k = int(net.config.n_classes)
    if k % 2 == 0:          # a time-reversed set: class c and c + k/2 are a gesture and its reversal
        half = k // 2
        out = {"direction_accuracy": float(((preds // half) == (labels[:, None] // half)).mean()),
               "gesture_accuracy": float(((preds % half) == (labels[:, None] % half)).mean())}
    return {"firing": firing.to_dict(), "firing_note": firing.describe(), "n_samples": n,
            "accuracy": accuracy_distribution(correct), **out,
            "layers": [tallies[i].record(i, kinds[i]) for i in sorted(tallies)],
            "predictions": preds.tolist()}
