"""Weights to crossbar conductances: differential pairs, optional quantization and device variation.

A weight op computes ``a_j = sum_i W_ij x_i + b_j`` (dimensionless) and the neuron receives
``I_j = current_scale_a * a_j``. In the crossbar, an active row is driven at ``v_read`` and each
weight is a pair of devices on two columns::

    G+_ij = G_min + k max(W_ij, 0),   G-_ij = G_min + k max(-W_ij, 0),   k = (G_max - G_min) / max|W|
    I+_j - I-_j = v_read sum_i x_i (G+_ij - G-_ij) = k v_read a_j         (the G_min offsets cancel)

The two column currents are sensed at virtual ground and subtracted by current mirrors whose gain
``mirror_gain = current_scale_a / (k v_read)`` restores ``I_j``. The largest weight of the layer
uses the full conductance range. Bias: a row driven at ``v_read`` at every step whose weights are
``b_j`` (treated as one more input that is always 1).

Quantization (``levels = n``): each device takes one of n equally spaced values in
[G_min, G_max]. Variation (device to device, one seeded draw per chip): each device is multiplied by a
lognormal factor ``exp(sigma N(0, 1))`` (or ``1 + sigma N(0, 1)`` for "normal") and shifted by an
additive error ``sigma_s N'(0, 1)`` (S; programming error of a write-verify scheme, as the synapse
cards give it), then clipped to [G_min, G_max]::

    G = clip(G_target f + o, G_min, G_max),   f = exp(sigma N),   o = sigma_s N'

Bit slicing (``slices = S`` cells per sign, each with ``levels = L``; binary cells have L = 2): the weight
magnitude becomes an integer code ``q = round(|W| (L^S - 1) / max|W|)`` written in base L over S cells,
``q = sum_s d_s L^s`` with digits ``d_s`` in [0, L - 1], each digit a device ``G_min + d_s step`` with
``step = (G_max - G_min) / (L - 1)``. Every slice is a differential pair of its own (physical columns in
the order G+ slice 0, G- slice 0, G+ slice 1, ...); its sensed difference is mirrored with gain
``L^s mirror_gain`` into the same neuron, so the partial sums are combined in current::

    sum_s L^s (I+_s - I-_s) = step v_read sum_i x_i (q+_i - q-_i) = k v_read a_j,   k = step (L^S - 1) / max|W|

(the G_min offsets cancel in every pair). One slice (S = 1) is the plain quantized mapping above. This
is the bit-sliced crossbar of ISAAC (Shafiee et al., ISCA 2016) and PRIME (Chi et al., ISCA 2016), with
the shift-and-add done by binary-weighted current mirrors instead of after an ADC.

Parallel devices (``copies = C``, the multi-memristive synapse of Boybat et al., Nat. Commun. 9, 2514 (2018):
the weight is the combined conductance of C devices that read in parallel): every cell of the crossbar holds C
devices programmed to the same target ``G_t``, each with its own variation draw and clip, and conducts their sum::

    G_cell = sum_c clip(G_t f_c + o_c, G_min, G_max),   k_cell = C k

so the cell spans [C G_min, C G_max], its signal grows as C and its independent programming errors as sqrt(C);
the cell's area is C devices' (one per device of the card). C = 1 is the plain cell above, drawn exactly as
before copies existed.

N and N' are independent standard normal draws: N from ``default_rng(seed)``, N' from
``default_rng([seed, 1])``. The defaults of :class:`ConductanceOptions` are those of the ideal
synapse card (:mod:`ipnet_cosim.device.synapse`), which is not a device.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ipnet_cosim.device.errors import ConfigError

if TYPE_CHECKING:
    from ipnet_cosim.device.synapse import SynapseCard


@dataclass(frozen=True)
class ConductanceOptions:
    """How weights become conductances (SI units).

    Args:
        g_min_s, g_max_s: device conductance range, S.
        levels: number of programmable levels per device (None: continuous).
        variation_sigma: relative device-to-device variation (0: none).
        variation_kind: "lognormal" or "normal" (of the relative variation).
        seed: seed of the variation draws.
        variation_sigma_s: additive device-to-device variation (programming error), S (0: none).
        slices: cells per weight sign (bit slicing, each a base-``levels`` digit; needs ``levels``).
        copies: devices in parallel in every cell (multi-memristive synapse; module docstring), 1: one.
    """

    g_min_s: float = 1e-6
    g_max_s: float = 1e-3
    levels: int | None = None
    variation_sigma: float = 0.0
    variation_kind: Literal["lognormal", "normal"] = "lognormal"
    seed: int = 0
    variation_sigma_s: float = 0.0
    slices: int = 1
    copies: int = 1

    def __post_init__(self) -> None:
        for name in ("g_min_s", "g_max_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"conductance option {name} = {value!r} must be a positive number in S")
        if self.g_min_s >= self.g_max_s:
            raise ConfigError(f"G_min ({self.g_min_s:g} S) must be below G_max ({self.g_max_s:g} S)")
        if self.levels is not None and self.levels < 2:
            raise ConfigError(f"levels ({self.levels}) must be at least 2 (or None for continuous devices)")
        if not (math.isfinite(self.variation_sigma) and self.variation_sigma >= 0):
            raise ConfigError(f"variation_sigma ({self.variation_sigma}) must be >= 0")
        if not (isinstance(self.variation_sigma_s, (int, float)) and not isinstance(self.variation_sigma_s, bool)
                and math.isfinite(self.variation_sigma_s) and self.variation_sigma_s >= 0):
            raise ConfigError(f"variation_sigma_s ({self.variation_sigma_s!r}) must be a conductance >= 0 S")
        if self.variation_kind not in ("lognormal", "normal"):
            raise ConfigError(f"variation_kind '{self.variation_kind}' is unknown; use lognormal or normal")
        if isinstance(self.slices, bool) or not isinstance(self.slices, int) or not 1 <= self.slices <= 16:
            raise ConfigError(f"slices ({self.slices!r}) must be an integer from 1 to 16 (cells per weight sign)")
        if isinstance(self.copies, bool) or not isinstance(self.copies, int) or not 1 <= self.copies <= 16:
            raise ConfigError(f"copies ({self.copies!r}) must be an integer from 1 to 16 "
                              f"(devices in parallel per cell)")
        if self.slices > 1 and self.levels is None:
            raise ConfigError(f"slices = {self.slices} needs devices with levels (bit slicing writes base-levels "
                              f"digits); give levels (2 for binary cells) or use slices = 1")

    @property
    def slice_gains(self) -> tuple[float, ...]:
        """Significance of each slice, ``levels^s`` (``(1.0,)`` without slicing)."""
        if self.slices == 1 or self.levels is None:         # (checked: slices > 1 needs levels)
            return (1.0,)
        return tuple(float(self.levels ** s) for s in range(self.slices))

    @property
    def code_span_s(self) -> float:
        """Conductance of the largest |weight| summed over the slices: ``G_max - G_min``, and with S slices of L levels
        ``(G_max - G_min) / (L - 1) x (L^S - 1)`` (written so that S = 1 gives the same floating-point value as before
        slicing existed). One formula for the export (:func:`map_weights`) and the PyTorch hardware model."""
        span = self.g_max_s - self.g_min_s
        if self.slices == 1 or self.levels is None:
            return span
        return span / (self.levels - 1) * (self.levels ** self.slices - 1)

    def to_dict(self) -> dict:
        """The options as a plain dict; ``copies`` only when > 1, so that the records of mappings from before
        copies existed (checkpoints' hardware, manifests) compare and read as they were."""
        data = dataclasses.asdict(self)
        if self.copies == 1:
            del data["copies"]
        return data

    @property
    def weight_levels(self) -> int | None:
        """Distinct weight values a differential set of cells realises, ``2 (L^S - 1) + 1`` (None: continuous)."""
        return None if self.levels is None else 2 * (self.levels ** self.slices - 1) + 1

    @classmethod
    def from_synapse(cls, card: "SynapseCard", seed: int = 0, **overrides) -> "ConductanceOptions":
        """The options a synapse card implies (range, levels, lognormal relative and additive variation), with
        ``overrides`` (field name -> value) taking precedence."""
        values: dict[str, Any] = dict(g_min_s=card.g_off_s, g_max_s=card.g_on_s, levels=card.levels,
                      variation_sigma=card.d2d_sigma_rel, variation_kind="lognormal",
                      variation_sigma_s=card.d2d_sigma_s, seed=seed, slices=1, copies=1)
        unknown = set(overrides) - set(values)
        if unknown:
            raise ConfigError(f"conductance option(s) {sorted(unknown)} are unknown; known: {', '.join(values)}")
        values.update(overrides)
        return cls(**values)

    def differs_from(self, card: "SynapseCard") -> list[str]:
        """The options that override ``card`` (empty: the mapping is the card's)."""
        ref = ConductanceOptions.from_synapse(card, seed=self.seed)
        out = [f.name for f in dataclasses.fields(self) if f.name not in ("seed", "variation_kind", "slices", "copies")
               and getattr(self, f.name) != getattr(ref, f.name)]
        if self.variation_sigma > 0 and self.variation_kind != ref.variation_kind:
            out.append("variation_kind")
        return out

    @property
    def varied(self) -> bool:
        """Whether a chip draw changes the devices (relative or additive variation)."""
        return self.variation_sigma > 0 or self.variation_sigma_s > 0


@dataclass(frozen=True)
class ConductanceMap:
    """Device conductances of one weight matrix (rows = inputs, columns = outputs); with bit slicing each weight
    column ``j`` has ``S`` slice columns ``j S + s`` (``g_plus_s`` ``[rows, cols S]``)."""

    g_plus_s: np.ndarray
    g_minus_s: np.ndarray
    k_s: float                 # conductance per unit weight (of the slice-weighted sum), S
    mirror_gain: float         # current_scale_a / (k v_read), the gain of slice 0
    options: ConductanceOptions

    @property
    def slice_gains(self) -> tuple[float, ...]:
        return self.options.slice_gains

    def effective_weights(self, v_read_v: float, current_scale_a: float) -> np.ndarray:
        """The weights the devices actually realise (after quantization/variation), ``[rows, cols]``."""
        diff = self.g_plus_s - self.g_minus_s
        gains = np.asarray(self.slice_gains)
        diff = (diff.reshape(diff.shape[0], -1, gains.size) * gains).sum(axis=-1)
        return diff * v_read_v * self.mirror_gain / current_scale_a


def slice_digits(q: np.ndarray, levels: int, slices: int) -> np.ndarray:
    """The base-``levels`` digits of the integer codes ``q`` ``[rows, cols]``, least significant first, as
    ``[rows, cols S]`` (slice column ``j S + s`` holds digit ``s`` of column ``j``)."""
    q = np.asarray(q, dtype=np.int64)
    digits = np.stack([(q // levels ** s) % levels for s in range(slices)], axis=-1)
    return digits.reshape(q.shape[0], -1).astype(np.float64)


def device_shape(shape: tuple[int, ...], options: ConductanceOptions) -> tuple[int, ...]:
    """The shape of one sign's device draws for cells ``shape``: ``shape`` itself, or ``(*shape, copies)`` with
    parallel devices (their draws follow one another in the last axis)."""
    return tuple(shape) + ((options.copies,) if options.copies > 1 else ())


def variation_offsets_s(shape: tuple[int, ...], options: ConductanceOptions,
                        seed: int | None = None) -> np.ndarray | None:
    """The additive device errors ``[2, *device_shape]`` (G+ then G-, S) of a chip drawn with ``options.seed`` (or
    ``seed``): ``sigma_s N'(0, 1)``, N' from ``default_rng([seed, 1])``; None without additive variation."""
    if options.variation_sigma_s <= 0:
        return None
    noise = np.random.default_rng([options.seed if seed is None else seed, 1]).standard_normal(
        (2,) + device_shape(shape, options))
    return options.variation_sigma_s * noise


def variation_factors(shape: tuple[int, ...], options: ConductanceOptions,
                      seed: int | None = None) -> np.ndarray | None:
    """The device factors ``[2, *device_shape]`` (G+ then G-) of a chip drawn with ``options.seed`` (or ``seed``):
    ``exp(sigma N(0, 1))`` (lognormal) or ``1 + sigma N(0, 1)`` (normal); None without variation."""
    if options.variation_sigma <= 0:
        return None
    noise = np.random.default_rng(options.seed if seed is None else seed).standard_normal(
        (2,) + device_shape(shape, options))
    if options.variation_kind == "lognormal":
        return np.exp(options.variation_sigma * noise)
    return 1.0 + options.variation_sigma * noise


def map_weights(weights: np.ndarray, *, v_read_v: float, current_scale_a: float,
                options: ConductanceOptions = ConductanceOptions(), name: str = "layer") -> ConductanceMap:
    """Differential conductances for ``weights`` [rows, cols] (see the module docstring)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.size == 0:
        raise ConfigError(f"{name}: weights must be a non-empty [rows, columns] matrix, got shape {w.shape}")
    bad = ~np.isfinite(w)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ConfigError(f"{name}: weight [{r}, {c}] is {w[r, c]} ({int(bad.sum())} non-finite in all); "
                          f"the checkpoint is damaged or training diverged")
    if not (math.isfinite(v_read_v) and v_read_v > 0 and math.isfinite(current_scale_a) and current_scale_a > 0):
        raise ConfigError(f"{name}: v_read_v ({v_read_v}) and current_scale_a ({current_scale_a}) must be positive")
    o = options
    span = o.g_max_s - o.g_min_s
    full = o.code_span_s            # conductance per unit weight of the slice-weighted sum: full / max|W|
    w_max = float(np.abs(w).max())
    k = full / w_max if w_max > 0 else full
    if not math.isfinite(k):          # a subnormal largest weight: the layer is numerically zero
        k, w = full, np.zeros_like(w)
    dev_plus = k * np.maximum(w, 0.0)
    dev_minus = k * np.maximum(-w, 0.0)
    if o.levels is not None:
        step = span / (o.levels - 1)
        if o.slices > 1:
            dev_plus = slice_digits(np.round(dev_plus / step), o.levels, o.slices) * step
            dev_minus = slice_digits(np.round(dev_minus / step), o.levels, o.slices) * step
        else:
            dev_plus = np.round(dev_plus / step) * step
            dev_minus = np.round(dev_minus / step) * step
    g_plus = o.g_min_s + dev_plus
    g_minus = o.g_min_s + dev_minus
    cells = g_plus.shape
    if o.copies > 1:                                   # a trailing axis of the cell's parallel devices
        g_plus = np.repeat(g_plus[..., None], o.copies, axis=-1)
        g_minus = np.repeat(g_minus[..., None], o.copies, axis=-1)
    factor = variation_factors(cells, o)
    if factor is not None:
        g_plus = g_plus * factor[0]
        g_minus = g_minus * factor[1]
    offset = variation_offsets_s(cells, o)
    if offset is not None:
        g_plus = g_plus + offset[0]
        g_minus = g_minus + offset[1]
    g_plus = np.clip(g_plus, o.g_min_s, o.g_max_s)
    g_minus = np.clip(g_minus, o.g_min_s, o.g_max_s)
    if o.copies > 1:
        g_plus, g_minus, k = g_plus.sum(axis=-1), g_minus.sum(axis=-1), k * o.copies
    return ConductanceMap(g_plus_s=g_plus, g_minus_s=g_minus, k_s=k,
                          mirror_gain=current_scale_a / (k * v_read_v), options=o)
