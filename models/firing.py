"""Where a network's neuron draws come from (see :mod:`ipnet_cosim.device.draws`).

A draw source is a callable ``source(layer, shape, dtype) -> Tensor`` giving the uniform draws ``u`` of one
hidden layer's neurons, ``shape = [T, B, *neurons]``; a network run with no source fires in the median mode.

* :class:`SampledDraws`: fresh draws from a torch generator (stochastic training).
* :class:`RecordedDraws`: the recorded draws of :func:`~ipnet_cosim.device.draws.neuron_draws` for batch entries
  ``(sample, draw)``: what the export writes into the circuits, so the twin and the simulators see the same
  ``u`` (evaluation, ``simulate``).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch
from torch import Tensor

from ipnet_cosim.device.draws import neuron_draws
from ipnet_cosim.device.errors import ConfigError


class DrawSource(Protocol):
    """The draws of one layer: ``u`` shaped ``shape`` (``[T, B, *neurons]``) in ``dtype``."""

    def __call__(self, layer: int, shape: Sequence[int], dtype: torch.dtype) -> Tensor: ...


class SampledDraws:
    """Fresh uniform draws from ``generator`` (torch's default generator when None)."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = generator

    def __call__(self, layer: int, shape: Sequence[int], dtype: torch.dtype) -> Tensor:
        u = torch.rand(tuple(shape), generator=self.generator, dtype=torch.float64)
        return u.clamp_min(2.0 ** -53).to(dtype)


class RecordedDraws:
    """The recorded draws of batch entry ``b``: sample ``samples[b]``, draw ``draw_indices[b]``, seed ``seed``."""

    def __init__(self, seed: int, samples: Sequence[int], draw_indices: Sequence[int]) -> None:
        if len(samples) != len(draw_indices):
            raise ConfigError(f"recorded draws: {len(samples)} samples but {len(draw_indices)} draw indices")
        self.seed = int(seed)
        self.pairs = [(int(s), int(d)) for s, d in zip(samples, draw_indices)]

    def __call__(self, layer: int, shape: Sequence[int], dtype: torch.dtype) -> Tensor:
        t, b = int(shape[0]), int(shape[1])
        if b != len(self.pairs):
            raise ConfigError(f"recorded draws: a batch of {b} entries but draws for {len(self.pairs)}")
        n = int(np.prod(shape[2:], dtype=np.int64))
        u = np.stack([neuron_draws(self.seed, d, s, layer, (t, n)) for s, d in self.pairs], axis=1)
        return torch.from_numpy(u).to(dtype).reshape(tuple(shape))

    @classmethod
    def product(cls, seed: int, samples: Sequence[int], draws: int) -> "RecordedDraws":
        """Every sample with every draw ``0 .. draws - 1``, sample-major: entry ``k draws + d`` is
        ``(samples[k], d)`` (batch the frames with ``repeat_interleave(draws)``)."""
        return cls(seed, [s for s in samples for _ in range(draws)], [d for _ in samples for d in range(draws)])
