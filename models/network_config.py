"""The configuration of a network (:class:`NetworkConfig`, its :class:`LayerSpec` s, the architectures and drives a
network may have) and the shapes of its layers; the networks themselves are in :mod:`~ipnet_cosim.models.network`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.config import check_field_types, check_known_keys


LAYER_KINDS = ("conv", "linear")
ARCHITECTURES = ("ipnet", "memoryless", "rnn", "lstm", "conv2p1d", "conv3d", "cnn2d_sum")
ARCH_DESCRIPTIONS = {
    "ipnet": "IPNet: thermal MTJ neurons keep their heat (intrinsic plasticity) in the memory layers",
    "memoryless": "memoryless control: IPNet with the heat memory switched off (fast-thermal MTJs)",
    "rnn": "frontier memory replaced by an RNN (tanh, 1x1 recurrent convolution)",
    "lstm": "frontier memory replaced by an LSTM (1x1 convolutional gates)",
    "conv2p1d": "frontier memory replaced by a causal temporal convolution (2+1D CNN)",
    "conv3d": "frontier op replaced by a causal 3D convolution over a window of frames",
    "cnn2d_sum": "2D CNN on the time-averaged frame (sees no temporal order)",
}
DRIVES = ("bounded", "ideal")


@dataclass(frozen=True)
class LayerSpec:
    """One hidden layer's weight op. ``out``: output channels (conv) or features (linear)."""

    kind: str
    out: int
    kernel: int = 0
    stride: int = 1
    padding: int = 0

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.kind not in LAYER_KINDS:
            raise ConfigError(f"layer kind '{self.kind}' is unknown; use one of {', '.join(LAYER_KINDS)}")
        if self.out < 1:
            raise ConfigError(f"{self.kind} layer: out ({self.out}) must be at least 1")
        if self.kind == "conv" and (self.kernel < 1 or self.stride < 1 or self.padding < 0):
            raise ConfigError(f"conv layer: kernel ({self.kernel}) and stride ({self.stride}) must be >= 1 "
                              f"and padding ({self.padding}) >= 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LayerSpec":
        check_known_keys(cls, data, "layer spec")
        return cls(**dict(data))


DEFAULT_LAYERS = (LayerSpec("conv", 8, kernel=5, stride=3), LayerSpec("conv", 16, kernel=3, stride=2),
                  LayerSpec("linear", 64))


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture and neuron settings (everything needed to rebuild the network).

    Args:
        arch: one of :data:`ARCHITECTURES`.
        in_channels, height, width: input frame shape (2 polarities x H x W).
        n_classes: readout size.
        layers: hidden layers; layer 0 is the frontier.
        memory_layers: IPNet only: indices of layers whose neurons keep their heat; None means
            the frontier ``(0,)`` for IPNet and none for the other architectures.
        current_scale_a: A per unit of the weight op's output (the net input current of the drive).
        drive: "bounded" (the card's drive stage between crossbar and MTJ) or "ideal" (the net current
            itself, signed and unbounded: not realisable; for comparison and old checkpoints).
        drive_grad_floor: smallest slope of the bounded drive's backward pass (keeps neurons with
            negative or saturating inputs trainable; the forward pass is exact).
        memoryless_tau_th_s: thermal time constant of the fast-thermal MTJs of memoryless layers, s.
        surrogate_width: width of the surrogate gradient's sigmoid, in ln H.
        temporal_kernel: 2+1D CNN: steps of the causal temporal convolution.
        window: 3D CNN: frames in the causal window.
        train_n_sub, train_n_sub_idle: quadrature substeps of heat-memory neurons in training.
        readout_gain: class scores are ``readout_gain * mean_t(readout)``: a softmax temperature
            for training; it does not change the predicted class (nor the circuit).
    """

    arch: str = "ipnet"
    in_channels: int = 2
    height: int = 32
    width: int = 32
    n_classes: int = 22
    layers: tuple[LayerSpec, ...] = DEFAULT_LAYERS
    memory_layers: tuple[int, ...] | None = None
    current_scale_a: float = 150e-6
    drive: str = "bounded"
    drive_grad_floor: float = 0.1
    memoryless_tau_th_s: float = 1e-10
    surrogate_width: float = 2.0
    temporal_kernel: int = 3
    window: int = 8
    train_n_sub: int = 8
    train_n_sub_idle: int = 2
    readout_gain: float = 10.0

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"architecture '{self.arch}' is unknown; use one of {', '.join(ARCHITECTURES)}")
        layers = tuple(LayerSpec.from_dict(l) if isinstance(l, Mapping) else l for l in self.layers)
        bad = [l for l in layers if not isinstance(l, LayerSpec)]
        if bad:
            raise ConfigError(f"network: every entry of layers must be a table like {{kind = 'conv', out = 8, "
                              f"kernel = 5, stride = 3}}, got {bad[0]!r}")
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise ConfigError("network: at least one hidden layer is needed (the frontier)")
        if self.memory_layers is not None:
            object.__setattr__(self, "memory_layers", tuple(int(i) for i in self.memory_layers))
            if self.arch != "ipnet" and self.memory_layers:
                raise ConfigError(f"memory_layers is IPNet's setting; architecture '{self.arch}' keeps heat "
                                  f"in no layer (leave memory_layers unset)")
            for i in self.memory_layers:
                if not 0 <= i < len(layers):
                    raise ConfigError(f"memory_layers: layer {i} does not exist (layers 0..{len(layers) - 1})")
        for name in ("in_channels", "height", "width", "n_classes", "temporal_kernel", "window",
                     "train_n_sub", "train_n_sub_idle"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"network: {name} ({getattr(self, name)}) must be at least 1")
        if self.drive not in DRIVES:
            raise ConfigError(f"network: drive '{self.drive}' is unknown; use one of {', '.join(DRIVES)}")
        floor = self.drive_grad_floor
        if isinstance(floor, bool) or not (isinstance(floor, (int, float)) and 0.0 <= floor <= 1.0):
            raise ConfigError(f"network: drive_grad_floor ({floor!r}) must be a number in [0, 1]")
        for name in ("current_scale_a", "memoryless_tau_th_s", "surrogate_width", "readout_gain"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"network: {name} ({value!r}) must be a positive number")
        if self.arch in ("rnn", "lstm", "conv2p1d", "conv3d") and layers[0].kind != "conv":
            raise ConfigError(f"architecture '{self.arch}' needs a conv frontier (layer 0 is {layers[0].kind})")
        layer_shapes(self)  # raises if a layer does not fit

    @property
    def heat_layers(self) -> tuple[int, ...]:
        """Indices of layers whose neurons keep heat between steps."""
        if self.memory_layers is not None:
            return self.memory_layers
        return (0,) if self.arch == "ipnet" else ()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["layers"] = [l.to_dict() for l in self.layers]
        data["memory_layers"] = None if self.memory_layers is None else list(self.memory_layers)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NetworkConfig":
        check_known_keys(cls, data, "network config")
        values = dict(data)
        for key in ("layers", "memory_layers"):
            if values.get(key) is not None and not isinstance(values[key], (list, tuple)):
                raise ConfigError(f"network config: {key} must be a list, got {values[key]!r}")
        if "layers" in values:
            values["layers"] = tuple(LayerSpec.from_dict(l) if isinstance(l, Mapping) else l
                                     for l in values["layers"])
        if values.get("memory_layers") is not None:
            values["memory_layers"] = tuple(values["memory_layers"])
        return cls(**values)

    def replace(self, **changes: Any) -> "NetworkConfig":
        return dataclasses.replace(self, **changes)


def layer_shapes(config: NetworkConfig) -> list[tuple[int, ...]]:
    """Output shape (without batch/time) of every hidden layer; raises ConfigError if one does not fit."""
    shape: tuple[int, ...] = (config.in_channels, config.height, config.width)
    shapes: list[tuple[int, ...]] = []
    for i, spec in enumerate(config.layers):
        if spec.kind == "conv":
            if len(shape) != 3:
                raise ConfigError(f"layer {i}: a conv layer cannot follow a linear layer")
            c, h, w = shape
            oh = (h + 2 * spec.padding - spec.kernel) // spec.stride + 1
            ow = (w + 2 * spec.padding - spec.kernel) // spec.stride + 1
            if oh < 1 or ow < 1:
                raise ConfigError(f"layer {i}: conv kernel {spec.kernel} (stride {spec.stride}, padding "
                                  f"{spec.padding}) does not fit its {h}x{w} input; use a smaller kernel")
            shape = (spec.out, oh, ow)
        else:
            shape = (spec.out,)
        shapes.append(shape)
    return shapes


# -- conventional memories (baselines) ------------------------------------------------------------

