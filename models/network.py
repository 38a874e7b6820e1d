"""IPNet and its baselines: one spiking backbone of thermal MTJ neurons, different temporal memories.

Every network here has the same shape::

    frames [B, T, C, H, W]  ->  layer 0 (frontier) -> layer 1 -> ... -> layer L-1  ->  readout
    (binary event frames)       weight op + unit     weight op + unit                  integrating

* A **weight op** is a convolution or a fully connected map (a crossbar in the circuit,
  issue 5). Its output ``a`` is dimensionless; the net column current is ``I_in = current_scale_a * a``
  (A). Inputs are binary spikes, so ``a = W x + b`` is the sum of the weights of the active rows.
* The **drive** (``drive="bounded"``, the default) turns ``I_in`` into the MTJ current through the
  card's drive stage (:mod:`~ipnet_cosim.models.drive`: no current for a net negative input, a smooth
  ceiling ``i_max`` at which a fired junction takes the supply minus the headroom); ``drive="ideal"``
  feeds ``I_in`` itself (an ideal bidirectional, unbounded mirror: no chip has it, kept for comparison
  and for checkpoints trained before the bounded drive).
* A **unit** turns the current sequence ``I[t]`` into the layer's output sequence
  (:mod:`~ipnet_cosim.models.units`); MTJ units fire in the median mode (``u = 1/2``, an idealisation) unless
  the forward pass is given a draw source (:mod:`~ipnet_cosim.models.firing`: every neuron fires when its
  hazard reaches ``-ln u``, a uniform ``u`` per neuron and step, as a thermally activated device does).
  - :class:`HeatMemoryNeurons`: thermal MTJ neurons that keep their heat from step to step
    (intrinsic plasticity; :func:`~ipnet_cosim.models.neuron.mtj_neuron_step`). This is IPNet's
    memory; ``memory_layers`` says which layers have it (default: the frontier, layer 0).
  - :class:`ThresholdMTJNeurons`: MTJ neurons with a fast thermal path (``tau_th =
    memoryless_tau_th_s``, 0.1 ns by default, so the heat left after the 2 ns idle part of a
    step is ``exp(-20)`` of the pulse's): memoryless. Started at ambient, a deterministic
    MTJ neuron fires iff ``I >= I_th``; ``I_th`` is found once by bisection on the exact step
    (64/16 Simpson substeps, float64), so this unit is exact and cheap.
  - baselines replace the frontier unit with a conventional memory: an RNN
    (``h_t = tanh(a_t + U h_{t-1})``, ``U`` a 1x1 convolution over channels), an LSTM (1x1
    convolutional gates over ``[a_t, h_{t-1}]``), a 2+1D CNN (a causal temporal convolution
    of ``temporal_kernel`` steps after the spatial one, then memoryless MTJ neurons), a
    parallel 3D CNN (the frontier op is a causal 3D convolution over a window of ``window``
    input frames, then memoryless MTJ neurons), the memoryless control (IPNet with the heat
    memory switched off: every layer uses :class:`ThresholdMTJNeurons`), and a 2D CNN that
    sees only the time-averaged frame (one step).
* The **readout** integrates current: ``logits = g mean_t (W_r s_t + b_r)`` (``g = readout_gain``) (in the circuit, the
  charge collected on each output column), so a network whose units are all memoryless is
  invariant to the order of the frames, which is what the time-reversed benchmark tests.

Layers 1..L-1 and the readout are identical in every architecture ("identical backbones").
Training uses a surrogate gradient (a sigmoid in ``ln H`` of width ``surrogate_width``) and a
cheaper quadrature in float32 (``train_n_sub``/``train_n_sub_idle``); :meth:`SpikingNet.set_precision`
("exact") switches to float64 and the foundation's 64/16 substeps, the setting that matches
ngspice spike for spike.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Mapping, Sequence, cast

import torch
from torch import Tensor, nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.drive import NeuronDriveStage
from ipnet_cosim.models.firing import DrawSource
from ipnet_cosim.models.mtj_physics import NeuronParams, ap_voltage_v
from ipnet_cosim.models.units import (HeatMemoryNeurons, Precision, ThresholdMTJNeurons, UnitDetails, cold_threshold,
                                      memoryless_card)
from ipnet_cosim.models.network_config import LayerSpec, NetworkConfig, layer_shapes

class RNNMemory(nn.Module):
    """h_t = tanh(a_t + U h_{t-1}); U is a 1x1 convolution over channels (per position)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.recurrent = nn.Conv2d(channels, channels, 1)

    def forward(self, a: Tensor) -> Tensor:
        h = torch.zeros_like(a[0])
        out = []
        for t in range(a.shape[0]):
            h = torch.tanh(a[t] + self.recurrent(h))
            out.append(h)
        return torch.stack(out)


class LSTMMemory(nn.Module):
    """Convolutional LSTM with 1x1 gates over [a_t, h_{t-1}]; outputs h_t."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gates = nn.Conv2d(2 * channels, 4 * channels, 1)
        with torch.no_grad():
            assert self.gates.bias is not None
            self.gates.bias[channels:2 * channels].fill_(1.0)  # forget-gate bias 1 (Jozefowicz 2015)

    def forward(self, a: Tensor) -> Tensor:
        h = torch.zeros_like(a[0])
        c = torch.zeros_like(a[0])
        out = []
        for t in range(a.shape[0]):
            i, f, g, o = self.gates(torch.cat([a[t], h], dim=1)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(h)
        return torch.stack(out)


class TemporalConv(nn.Module):
    """Causal temporal convolution over ``kernel`` steps (channels mixed, per position)."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv3d(channels, channels, (kernel, 1, 1))

    def forward(self, a: Tensor) -> Tensor:
        x = a.permute(1, 2, 0, 3, 4)                                  # [B, C, T, H, W]
        x = nn.functional.pad(x, (0, 0, 0, 0, self.kernel - 1, 0))    # causal: pad the past
        return self.conv(x).permute(2, 0, 1, 3, 4)                    # [T, B, C, H, W]


# -- weight ops -----------------------------------------------------------------------------------

class SpatialOp(nn.Module):
    """A conv or linear weight op applied at every step (time folded into the batch)."""

    def __init__(self, spec: LayerSpec, in_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.spec = spec
        self.op: nn.Conv2d | nn.Linear
        if spec.kind == "conv":
            self.op = nn.Conv2d(in_shape[0], spec.out, spec.kernel, spec.stride, spec.padding)
        else:
            self.op = nn.Linear(math.prod(in_shape), spec.out)

    def forward(self, x: Tensor) -> Tensor:
        t, b = x.shape[:2]
        flat = x.reshape(t * b, *x.shape[2:])
        if self.spec.kind == "linear":
            flat = flat.reshape(t * b, -1)
        y = self.op(flat)
        return y.reshape(t, b, *y.shape[1:])


class WindowConv3dOp(nn.Module):
    """Causal 3D convolution over the last ``window`` frames (the parallel 3D CNN's frontier op)."""

    def __init__(self, spec: LayerSpec, in_channels: int, window: int) -> None:
        super().__init__()
        self.spec = spec
        self.window = window
        self.op = nn.Conv3d(in_channels, spec.out, (window, spec.kernel, spec.kernel),
                            (1, spec.stride, spec.stride), (0, spec.padding, spec.padding))

    def forward(self, x: Tensor) -> Tensor:
        v = x.permute(1, 2, 0, 3, 4)
        v = nn.functional.pad(v, (0, 0, 0, 0, self.window - 1, 0))
        return self.op(v).permute(2, 0, 1, 3, 4)


# -- the network ----------------------------------------------------------------------------------

class SpikingNet(nn.Module):
    """IPNet or one of its baselines (see the module docstring); ``forward(frames [B, T, C, H, W])``."""

    def __init__(self, config: NetworkConfig, card: DeviceCard | None = None) -> None:
        super().__init__()
        self.config = config
        self.card = card or DeviceCard()
        self.fast_card = memoryless_card(self.card, config.memoryless_tau_th_s)
        self.drive = (NeuronDriveStage(self.card, config.drive_grad_floor) if config.drive == "bounded" else None)
        if self.drive is not None:
            _check_drive_can_fire(self.card, self.fast_card, config)
        shapes = layer_shapes(config)
        in_shape: tuple[int, ...] = (config.in_channels, config.height, config.width)
        self.ops = nn.ModuleList()
        self.memories = nn.ModuleList()     # conventional memory per layer (Identity if none)
        self.units = nn.ModuleList()
        for i, spec in enumerate(config.layers):
            if i == 0 and config.arch == "conv3d":
                self.ops.append(WindowConv3dOp(spec, config.in_channels, config.window))
            else:
                self.ops.append(SpatialOp(spec, in_shape))
            memory: nn.Module = nn.Identity()
            unit: nn.Module
            if i in config.heat_layers:
                unit = HeatMemoryNeurons(self.card, config.surrogate_width, config.train_n_sub,
                                         config.train_n_sub_idle, bounded_drive=self.drive is not None)
            elif i == 0 and config.arch in ("rnn", "lstm"):
                memory = RNNMemory(spec.out) if config.arch == "rnn" else LSTMMemory(spec.out)
                unit = nn.Identity()        # the recurrent state feeds the backbone directly
            else:
                if i == 0 and config.arch == "conv2p1d":
                    memory = TemporalConv(spec.out, config.temporal_kernel)
                unit = ThresholdMTJNeurons(self.fast_card, config.surrogate_width, config.train_n_sub,
                                           config.train_n_sub_idle, bounded_drive=self.drive is not None)
            self.memories.append(memory)
            self.units.append(unit)
            in_shape = shapes[i]
        self.readout = nn.Linear(math.prod(in_shape), config.n_classes)
        with torch.no_grad():                  # start with class scores of PyTorch's default size
            self.readout.weight.div_(config.readout_gain)
            self.readout.bias.div_(config.readout_gain)
        self.precision: Precision = "train"

    # -- bookkeeping --
    def layer_kinds(self) -> list[str]:
        """What each layer's unit is: 'heat-memory MTJ', 'memoryless MTJ', 'RNN', ..."""
        kinds = []
        for memory, unit in zip(self.memories, self.units):
            if isinstance(unit, HeatMemoryNeurons):
                kinds.append("heat-memory MTJ")
            elif isinstance(memory, RNNMemory):
                kinds.append("RNN")
            elif isinstance(memory, LSTMMemory):
                kinds.append("LSTM")
            elif isinstance(memory, TemporalConv):
                kinds.append("temporal conv + memoryless MTJ")
            else:
                kinds.append("memoryless MTJ")
        return kinds

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def set_precision(self, precision: Precision) -> "SpikingNet":
        """"train": float32, coarse quadrature; "exact": float64, 64/16 substeps (matches ngspice)."""
        if precision not in ("train", "exact"):
            raise ConfigError(f"precision '{precision}' is unknown; use 'train' or 'exact'")
        self.precision = precision
        for unit in self.units:
            if isinstance(unit, (HeatMemoryNeurons, ThresholdMTJNeurons)):
                unit.precision = precision
        return self.to(torch.float64 if precision == "exact" else torch.float32)

    @property
    def dtype(self) -> torch.dtype:
        return self.readout.weight.dtype

    # -- forward --
    def neuron_current_a(self, a: Tensor) -> Tensor:
        """The MTJ current (A) for a weight op's output ``a``: through the drive stage when bounded."""
        i_in = a * self.config.current_scale_a
        return self.drive(i_in) if self.drive is not None else i_in

    def junction_excess(self, trace: Mapping[str, Any]) -> Tensor:
        """Differentiable penalty for junctions that could exceed the card's ``limits.t_max_k``.

        For every MTJ layer of a forward ``trace``, each neuron's bound on its junction temperature is the
        steady state at its largest current in the fired (hottest) state, ``T_amb + V_AP(I) I R_th``: under
        pulses of at most ``I`` the junction never gets hotter. Returns the mean over neurons of
        ``(max(T_bound - t_max, 0) / (t_max - T_amb))^2``, summed over layers (0 when all stay below).
        """
        total = torch.zeros((), dtype=self.dtype)
        for i_a, unit in zip(trace["currents_a"], self.units):
            if i_a is None:
                continue
            card = cast(DeviceCard, unit.card)
            p = NeuronParams.from_card(card)
            i_max = i_a.abs().amax(dim=0)                     # the largest current of every neuron over time
            t_bound = card.mtj.t_amb_k + ap_voltage_v(i_max, p) * i_max * card.mtj.r_th_k_per_w
            span = card.limits.t_max_k - card.mtj.t_amb_k
            total = total + (torch.relu(t_bound - card.limits.t_max_k) / span).pow(2).mean()
        return total

    def coin_flip_variance(self, trace: Mapping[str, Any]) -> Tensor:
        """Differentiable measure of how much of the network's firing is left to chance: per MTJ layer of a
        forward ``trace`` run with ``details``, the mean over neuron-steps of the Bernoulli variance ``p (1 - p)``
        of firing (``p = 1 - exp(-H)``: 1/4 at the median ``H = ln 2``, 0 for a certain outcome), summed over
        layers."""
        total = torch.zeros((), dtype=self.dtype)
        for info in trace["details"]:
            if info is not None:
                p = -torch.expm1(-info.hazard)
                total = total + (p * (1.0 - p)).mean()
        return total

    def input_threshold(self, i_th_a: float) -> float:
        """The weight-op output ``a`` at which the MTJ current reaches ``i_th_a``."""
        i_in = self.drive.input_for(i_th_a) if self.drive is not None else i_th_a
        return i_in / self.config.current_scale_a

    def prepare_frames(self, frames: Tensor) -> Tensor:
        if frames.dim() != 5:
            raise ConfigError(f"frames must be [batch, time, channels, height, width], got shape {tuple(frames.shape)}")
        c = self.config
        if tuple(frames.shape[2:]) != (c.in_channels, c.height, c.width):
            raise ConfigError(f"frames of shape {tuple(frames.shape[2:])} do not fit the network's input "
                              f"({c.in_channels}, {c.height}, {c.width}); bin the events to that size")
        x = frames.to(self.dtype).transpose(0, 1)                     # [T, B, C, H, W]
        if c.arch == "cnn2d_sum":
            x = x.mean(dim=0, keepdim=True)                          # one step: the time-averaged frame
        return x

    def forward(self, frames: Tensor, return_trace: bool = False, draws: DrawSource | None = None,
                details: bool = False):
        """Class scores ``[B, n_classes]`` from frames ``[B, T, C, H, W]`` (0/1 events).

        Args:
            frames: binary event frames.
            return_trace: also return the trace dict of :meth:`run`.
            draws: where the neurons' uniform draws come from (:mod:`~ipnet_cosim.models.firing`); None: the
                median mode (u = 1/2, an idealisation).
            details: the trace holds each MTJ layer's :class:`~ipnet_cosim.models.units.UnitDetails`.
        """
        ops = [functools.partial(_op_then_memory, op, memory) for op, memory in zip(self.ops, self.memories)]
        return self.run(self.prepare_frames(frames), ops, self.readout, return_trace=return_trace, draws=draws,
                        details=details)

    def run(self, x: Tensor, ops: Sequence[Callable[[Tensor], Tensor]], readout: Callable[[Tensor], Tensor], *,
            return_trace: bool = False, draws: DrawSource | None = None, details: bool = False):
        """The network on prepared input ``x`` ``[T, B, C, H, W]`` with the weight op of every hidden layer given
        (``ops[i](x) -> a``, the op's output; the network's own ops, or its mapped crossbars) and the readout op
        (``[T, B, features] -> [T, B, n_classes]``); the units, drive and memories are the network's own.

        Returns:
            logits ``[B, n_classes]``; with ``return_trace`` also a dict: ``currents_a`` (the MTJ currents, after
            the drive), ``input_currents_a`` (the net crossbar currents the drive receives), ``outputs`` and
            ``draws`` (the ``u`` used, None in median mode) per layer ([T, B, ...]; None for a layer without MTJ
            neurons), ``details`` per layer (:class:`~ipnet_cosim.models.units.UnitDetails` with ``details``,
            else None) and ``readout`` ([T, B, n_classes], the readout current per step in units of the op).
        """
        currents: list[Tensor | None] = []
        inputs: list[Tensor | None] = []
        outputs: list[Tensor] = []
        used: list[Tensor | None] = []
        unit_details: list[UnitDetails | None] = []
        for i, (op, unit) in enumerate(zip(ops, self.units)):
            a = op(x)
            if isinstance(unit, nn.Identity):
                x = a
                currents.append(None)
                inputs.append(None)
                used.append(None)
                unit_details.append(None)
            else:
                i_a = self.neuron_current_a(a)
                u = None if draws is None else draws(i, tuple(i_a.shape), i_a.dtype)
                if details:
                    x, info = unit(i_a, u, details=True)
                    unit_details.append(info)
                else:
                    x = unit(i_a, u)
                    unit_details.append(None)
                currents.append(i_a)
                inputs.append(a * self.config.current_scale_a)
                used.append(u)
            outputs.append(x)
        per_step = readout(x.reshape(x.shape[0], x.shape[1], -1))
        logits = self.config.readout_gain * per_step.mean(dim=0)
        if return_trace:
            return logits, {"currents_a": currents, "input_currents_a": inputs, "outputs": outputs,
                            "readout": per_step, "draws": used, "details": unit_details}
        return logits

    @torch.no_grad()
    def calibrate(self, frames: Tensor, fire_fraction: float = 0.15, spread: float = 0.35) -> dict:
        """Data-dependent initialisation: per layer, scale and shift the op so that on ``frames``
        the currents have a spread of ``spread * I_th`` and a fraction ``fire_fraction`` of them
        exceeds the cold threshold (so surrogate gradients are alive at the start).

        Returns the per-layer (scale, shift) applied. Deterministic for given frames and weights.
        """
        x = self.prepare_frames(frames)
        report = {}
        for i, (op, memory, unit) in enumerate(zip(self.ops, self.memories, self.units)):
            if isinstance(unit, nn.Identity):        # RNN/LSTM: their own nonlinearity
                x = memory(op(x))
                continue
            # the last affine map before the neurons: the temporal conv if there is one, else the op
            target: Any = memory.conv if isinstance(memory, TemporalConv) else op.op
            i_th = self.input_threshold(cold_threshold(unit.card, unit.bounded_drive)[0])
            a = memory(op(x))
            std = float(a.std())
            scale = spread * i_th / std if std > 0 else 1.0
            target.weight.mul_(scale)
            target.bias.mul_(scale)
            a = memory(op(x))
            sample = a.flatten()[:: max(1, a.numel() // 1_000_000)]
            q = float(torch.quantile(sample.double(), 1.0 - fire_fraction))
            target.bias.add_(i_th - q)
            report[i] = {"weight_scale": scale, "bias_shift": i_th - q}
            x = unit(self.neuron_current_a(memory(op(x))))
        return report


def _op_then_memory(op: nn.Module, memory: nn.Module, x: Tensor) -> Tensor:
    return memory(op(x))


def _check_drive_can_fire(card: DeviceCard, fast_card: DeviceCard, config: NetworkConfig) -> None:
    """Refuse a bounded drive whose ceiling lies below a cold neuron's firing threshold."""
    i_max = card.drive_i_max_a
    for what, layer_card in (("heat-memory", card), ("memoryless", fast_card)):
        i_th = cold_threshold(layer_card, True)[0]
        if i_max <= i_th * 1.001:
            raise ConfigError(
                f"device card: the drive's ceiling i_max = {i_max * 1e6:.1f} uA (a fired junction at drive.v_dd_v - "
                f"drive.v_headroom_v = {card.drive.v_compliance_v():g} V) does not reach the cold firing threshold "
                f"of the {what} neurons ({i_th * 1e6:.1f} uA): no neuron could fire. Raise drive.v_dd_v, lower "
                f"drive.v_headroom_v, or lower mtj.ra_ohm_m2 / mtj.ic0_a")


def build_network(config: NetworkConfig, card: DeviceCard | None = None, seed: int = 0) -> SpikingNet:
    """Build a network with seeded initial weights (the global torch RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SpikingNet(config, card)
    return net
