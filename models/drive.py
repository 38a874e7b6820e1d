"""The neuron drive stage in PyTorch: the same function as ``ipnet_neuron_drive`` in ``thermal_mtj_neuron.va``.

A unidirectional, current-limited mirror (:class:`~ipnet_cosim.device.card.NeuronDrive`) sits
between a crossbar column pair and its MTJ neuron. For the net mirrored input current ``i_in`` (A)::

    x     = max(i_in, 0) / i_max
    i_out = i_max x / (1 + x^n)^(1/n)

with ``i_max = v_comp / R_AP(v_comp)``, ``v_comp = v_dd - v_headroom`` and ``n`` the card's
``drive.knee``: no current for a net negative input, nearly linear well below ``i_max``, a smooth
saturation below it, so the MTJ never sees more than ``v_comp``.

Gradient: the exact derivative ``dI_out/dI_in = (1 + x^n)^(-1 - 1/n)`` vanishes for negative inputs
and falls as ``x^(-n-1)`` in saturation, which would stop learning for neurons pushed there. The
backward pass uses ``max(exact, floor)`` instead (``floor`` = ``NetworkConfig.drive_grad_floor``), a
straight-through slope that keeps such neurons trainable; the forward pass is exact.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ipnet_cosim.device.card import DeviceCard


def drive_current(i_in_a: Tensor, i_max_a: float, knee: float) -> Tensor:
    """Output current of the drive (exact, differentiable where the function is), A."""
    x = torch.clamp(i_in_a, min=0.0) / i_max_a
    return i_max_a * x / (1.0 + x ** knee) ** (1.0 / knee)


class _DriveWithFloor(torch.autograd.Function):
    """Exact drive forward; ``max(dI_out/dI_in, floor)`` backward."""

    @staticmethod
    def forward(ctx, i_in_a: Tensor, i_max_a: float, knee: float, floor: float) -> Tensor:
        ctx.save_for_backward(i_in_a)
        ctx.i_max_a, ctx.knee, ctx.floor = i_max_a, knee, floor
        return drive_current(i_in_a, i_max_a, knee)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (i_in,) = ctx.saved_tensors
        x = torch.clamp(i_in, min=0.0) / ctx.i_max_a
        exact = torch.where(i_in > 0, (1.0 + x ** ctx.knee) ** (-1.0 - 1.0 / ctx.knee), torch.zeros_like(x))
        return grad * torch.clamp(exact, min=ctx.floor), None, None, None


class NeuronDriveStage(nn.Module):
    """The bounded drive of a layer's neurons (``[T, ...]`` input currents in A -> MTJ currents in A).

    Args:
        card: the device card (its ``drive`` section and the MTJ that sets ``i_max``).
        grad_floor: smallest slope of the backward pass (0 = the exact derivative).
    """

    def __init__(self, card: DeviceCard, grad_floor: float = 0.0) -> None:
        super().__init__()
        self.i_max_a = card.drive_i_max_a
        self.knee = card.drive.knee
        self.grad_floor = grad_floor

    def forward(self, i_in_a: Tensor) -> Tensor:
        if self.grad_floor > 0 and torch.is_grad_enabled() and i_in_a.requires_grad:
            return _DriveWithFloor.apply(i_in_a, self.i_max_a, self.knee, self.grad_floor)
        return drive_current(i_in_a, self.i_max_a, self.knee)

    def input_for(self, i_out_a: float) -> float:
        """The input current that gives ``i_out_a`` (0 <= i_out < i_max), A."""
        from ipnet_cosim.device.drive import drive_input_for_a
        return float(drive_input_for_a(i_out_a, self.i_max_a, self.knee))

    def extra_repr(self) -> str:
        return f"i_max={self.i_max_a * 1e6:.1f} uA, knee={self.knee:g}, grad_floor={self.grad_floor:g}"
