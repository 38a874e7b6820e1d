"""The neurons' random draws as data: one uniform ``u`` per neuron and step, reproducible from a seed.

A thermally activated MTJ fires in a step when its hazard reaches ``-ln u`` for a uniform ``u``, i.e. with
probability ``1 - exp(-H)`` (device card, :class:`~ipnet_cosim.device.card.MTJParams`). The *median* mode
fixes ``u = 1/2`` (fire when ``H >= ln 2``): a mathematical idealisation no device has. The *stochastic* mode
gives every neuron of every layer its own ``u`` at every step. So that the PyTorch twin, ngspice and VACASK
see the same draws, the draws are data, defined once here::

    words  = PCG64(SeedSequence([seed, draw, sample, layer])).random_raw(T * N)       (uint64)
    u[t, n] = (2 (words[t N + n] >> 12) + 1) / 2^53                                  (0 < u < 1)

``sample`` is the sample's index in the data set it comes from (the test set's numbering, as ``export`` and
``simulate`` number samples), ``draw`` the index of the draw (one realisation of every neuron's randomness for
that sample), ``layer`` the hidden layer and ``n`` the neuron's index in the layer's flattened output (channel,
row, column). Only the bit generator's raw words are used: NumPy keeps ``PCG64`` and ``SeedSequence`` streams
fixed across versions and machines, whereas its distribution methods may change. Every ``u`` is an odd multiple
of ``2^-53`` (exact in float64): never 0 or 1, and written into a netlist by its shortest round-trip decimal, which any
correctly rounding parser reads back to the same double.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import ConfigError

FIRING_MODES = ("median", "stochastic")
MEDIAN_U = 0.5
# a neuron-step is a coin flip when its firing probability 1 - exp(-H) lies strictly inside this band
COIN_FLIP_BAND = (0.05, 0.95)
MEDIAN_NOTE = ("median mode (u = 1/2: fire when H >= ln 2), an idealisation: a thermally activated MTJ fires with "
               "probability 1 - exp(-H)")


def neuron_draws(seed: int, draw: int, sample: int, layer: int, shape: Sequence[int]) -> np.ndarray:
    """The uniform draws ``u`` (float64, ``0 < u < 1``) of one layer's neurons for one sample and draw.

    Args:
        seed: the run's draw seed (>= 0).
        draw: index of the draw (>= 0).
        sample: the sample's index in its data set (>= 0).
        layer: hidden-layer index (>= 0).
        shape: ``(steps, neurons)`` or any shape whose last axes flatten to the layer's neurons.

    Returns:
        ``u`` of the given shape (see the module docstring for the definition).
    """
    for name, value in (("seed", seed), ("draw", draw), ("sample", sample), ("layer", layer)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"neuron draws: {name} must be a whole number >= 0, got {value!r}")
    n = int(np.prod(shape, dtype=np.int64))
    words = np.random.PCG64(np.random.SeedSequence([int(seed), int(draw), int(sample), int(layer)])).random_raw(n)
    odd = (np.asarray(words, dtype=np.uint64) >> np.uint64(12)) * np.uint64(2) + np.uint64(1)     # < 2^53: exact
    u = odd.astype(np.float64) * 2.0 ** -53
    return u.reshape(tuple(int(s) for s in shape))


def firing_probability(hazard: np.ndarray) -> np.ndarray:
    """``p = 1 - exp(-H)``: the probability that a neuron-step with hazard ``H`` fires."""
    return -np.expm1(-np.asarray(hazard, dtype=np.float64))


def coin_flip_hazard_band() -> tuple[float, float]:
    """The hazards ``(H_lo, H_hi)`` between which a neuron-step's firing probability lies inside
    :data:`COIN_FLIP_BAND`: ``H = -ln(1 - p)``."""
    return -math.log1p(-COIN_FLIP_BAND[0]), -math.log1p(-COIN_FLIP_BAND[1])


@dataclass(frozen=True)
class Firing:
    """How the neurons fire: the median idealisation, or stochastically with seeded draws.

    Args:
        mode: "median" (u = 1/2) or "stochastic" (:func:`neuron_draws`).
        seed: the draw seed (stochastic mode).
        draws: draws per sample (stochastic mode): draw indices ``0 .. draws - 1``.
    """

    mode: str = "median"
    seed: int = 0
    draws: int = 1

    def __post_init__(self) -> None:
        if self.mode not in FIRING_MODES:
            raise ConfigError(f"firing mode '{self.mode}' is unknown; use one of {', '.join(FIRING_MODES)}")
        for name in ("seed", "draws"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"firing: {name} must be a whole number, got {value!r}")
        if self.seed < 0:
            raise ConfigError(f"firing: seed ({self.seed}) must be >= 0")
        if self.draws < 1:
            raise ConfigError(f"firing: draws ({self.draws}) must be at least 1")
        if self.mode == "median" and self.draws != 1:
            raise ConfigError(f"firing: the median mode has one outcome per sample; draws ({self.draws}) "
                              f"is a setting of the stochastic mode")

    @property
    def stochastic(self) -> bool:
        return self.mode == "stochastic"

    def describe(self) -> str:
        """One line naming the mode, as reports and the CLI print it next to an accuracy."""
        if not self.stochastic:
            return MEDIAN_NOTE
        return (f"stochastic (each neuron fires when H >= -ln u, u drawn per neuron and step: "
                f"{self.draws} draw(s) per sample, seed {self.seed})")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "seed": int(self.seed), "draws": int(self.draws)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Firing":
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"firing must be a table with mode, seed and draws, got {data!r}")
        unknown = set(data) - {"mode", "seed", "draws"}
        if unknown:
            raise ConfigError(f"firing: unknown key(s) {sorted(unknown)}; known: mode, seed, draws")
        return cls(**dict(data))
