"""A trained network run through its mapped crossbars in PyTorch: every layer's neuron currents as the exported
circuit produces them (issue 16, item 1).

For every weight layer (and the readout) the mapping of :mod:`~ipnet_cosim.netlist_gen.mapping` gives the
im2col matrix ``M`` (weights, bias row last; built here from the module's parameters so that gradients reach
them), the row gather of every output position and the output index of every column. Per position ``p``
the devices are :func:`~ipnet_cosim.chip.crossbar_torch.conductances_torch` of ``M`` with that position's
variation (drawn per (seed, layer, position), as export draws it, or another chip's), cut into the tiles of
the mapping options (row tiles x column blocks); each tile's exact port conductances ``A``
(:func:`~ipnet_cosim.chip.crossbar_torch.tile_row_col_s`, wires and driver resistance included) turn the row
levels (``v_read`` where the input spiked, always on the bias row, 0 on padding) into differential column
currents, summed over row tiles. The mirrors scale them by ``current_scale_a / (k v_read)`` (times the chip's
gain trim of the layer, :attr:`MappingOptions.gain_trims`), so the op output ``a = (I+ - I-) / (k v_read)`` is what
:class:`~ipnet_cosim.models.network.SpikingNet` feeds its drive and neurons; the readout's class scores are
``readout_gain x mean_t a`` (the circuit's charge formula for the rectangular pulses PyTorch integrates).

With an ideal mapping (continuous devices, no variation, no wires) ``a`` equals the PyTorch op's output up to
round-off; a net with memory (RNN, LSTM) has no circuit and is refused as ``export`` refuses it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ipnet_cosim.models.network import SpikingNet
from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
from ipnet_cosim.chip.crossbar_torch import (conductances_torch, tile_row_col_s, variation_factors,
                                              variation_offsets_s)
from ipnet_cosim.netlist_gen.mapping import (BIAS, LAYER_MAPPINGS, PAD, MappingOptions, blocks, network_layers,
                                             position_seed)

# positions of one tile shape eliminated together: the row wires' inverses [P, rows, C, C] stay below this size
TILE_BATCH_BYTES = 1 << 28


def _matrix(module: Any) -> Tensor:
    """The im2col weight matrix ``[rows, cols]`` (bias row last) of a Conv2d or Linear, from its parameters."""
    w = module.weight
    b = module.bias if module.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
    return torch.cat([w.reshape(w.shape[0], -1).T, b[None, :]], dim=0)


class CrossbarLayer:
    """One mapped layer: gather, output indices and tiling (fixed), conductances (from the live weights)."""

    def __init__(self, view, options: MappingOptions, v_read_v: float) -> None:
        lm = LAYER_MAPPINGS[view.type](view)
        self.view, self.options, self.v_read_v = view, options, v_read_v
        self.n_in = int(np.prod(view.in_shape))
        rows, cols = lm.matrix.shape
        gather = lm.gather.copy()
        gather[gather == PAD] = self.n_in          # a zero appended to the input
        gather[gather == BIAS] = self.n_in + 1     # a one appended to the input
        self.gather = torch.as_tensor(gather)
        self.out_index = torch.as_tensor(lm.out_index)
        self.n_out = int(np.prod(view.out_shape))
        self.row_blocks = blocks(rows, options.tile_rows)
        self.col_blocks = blocks(cols, options.weight_cols_per_tile)
        self.slices = options.conductance.slices
        self.slice_gains = torch.tensor(options.conductance.slice_gains, dtype=torch.float64)
        self._cache: tuple[Any, tuple[Tensor, Tensor]] | None = None

    def effective_matrix(self, chip_seed: int | None = None) -> tuple[Tensor, Tensor]:
        """Per position ``[P, rows, cols]`` the map from row levels (V) to ``(I+ - I-)`` (S), and ``k``.

        Without autograd (evaluation) the result is kept until the weights change (their version counters)
        or another chip is asked for, so that evaluating batch after batch solves the tiles once."""
        if torch.is_grad_enabled():
            return self._effective_matrix(chip_seed)
        key = (chip_seed, tuple((id(p), p._version) for p in self.view.module.parameters()))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._effective_matrix(chip_seed))
        return self._cache[1]

    def _effective_matrix(self, chip_seed: int | None) -> tuple[Tensor, Tensor]:
        co: ConductanceOptions = self.options.conductance
        m = _matrix(self.view.module).to(torch.float64)
        base = co.seed if chip_seed is None else chip_seed
        positions = self.gather.shape[0]
        factors = offsets = None
        if co.varied:                         # one chip draw per position, as export draws it; batched
            seeds = [position_seed(base, self.view.index, p) for p in range(positions)]
            shape = (m.shape[0], m.shape[1] * co.slices)                  # devices: slice columns
            if co.variation_sigma > 0:
                draws = [variation_factors(shape, co, s) for s in seeds]
                factors = np.stack([f for f in draws if f is not None])
            if co.variation_sigma_s > 0:
                shifts = [variation_offsets_s(shape, co, s) for s in seeds]
                offsets = np.stack([f for f in shifts if f is not None])
        g_p, g_m, k = conductances_torch(m, co, factors, offsets)        # [P or none, rows, cols S]
        pieces = []
        sl = self.slices
        for r0, r1 in self.row_blocks:
            row = [self._tiles(g_p[..., r0:r1, c0 * sl:c1 * sl], g_m[..., r0:r1, c0 * sl:c1 * sl])
                   for c0, c1 in self.col_blocks]
            pieces.append(torch.cat(row, dim=-1))
        stack = torch.cat(pieces, dim=-2)
        if not co.varied:
            stack = stack.expand(positions, -1, -1)
        return stack, k

    def _tiles(self, g_p: Tensor, g_m: Tensor) -> Tensor:
        """``sum_s L^s (I+_s - I-_s)`` port conductances of one tile position ``[..., rows, cols]`` (``g_p``:
        slice columns ``[..., rows, cols S]``); positions in chunks whose dense elimination stays within
        :data:`TILE_BATCH_BYTES`."""
        rows, cols = g_p.shape[-2:]
        per = max(1, TILE_BATCH_BYTES // (8 * rows * (2 * cols) ** 2))
        chunks = [slice(i, i + per) for i in range(0, g_p.shape[0], per)] if g_p.dim() == 3 else [slice(None)]
        out = [tile_row_col_s(g_p[c], g_m[c], self.options.r_wire_ohm, self.options.r_driver_ohm) for c in chunks]
        a = out[0] if len(out) == 1 else torch.cat(out)
        diff = a[..., 0::2] - a[..., 1::2]          # one slice: x 1.0 and a sum of one term, exact
        return (diff.reshape(*diff.shape[:-1], -1, self.slices) * self.slice_gains).sum(dim=-1)

    def __call__(self, x: Tensor, chip_seed: int | None = None) -> Tensor:
        """Op output ``a`` ``[T, B, *out_shape]`` for input spikes ``x`` ``[T, B, *in_shape]``."""
        t, b = x.shape[:2]
        flat = x.reshape(t, b, self.n_in).to(torch.float64)
        ext = torch.cat([flat, torch.zeros(t, b, 1, dtype=flat.dtype), torch.ones(t, b, 1, dtype=flat.dtype)], dim=2)
        levels = self.v_read_v * ext[:, :, self.gather]                       # [T, B, P, rows]
        a_eff, k = self.effective_matrix(chip_seed)
        cur = torch.einsum("tbpr,prc->tbpc", levels, a_eff) / (k * self.v_read_v)
        out = torch.zeros(t, b, self.n_out, dtype=cur.dtype)
        out[:, :, self.out_index.reshape(-1)] = cur.reshape(t, b, -1)
        return out.reshape(t, b, *self.view.out_shape)


class HardwareNet(nn.Module):
    """A :class:`~ipnet_cosim.models.network.SpikingNet` whose ops and readout run through their mapped
    crossbars (module docstring); the neurons, drive and memories are the network's own."""

    def __init__(self, net: SpikingNet, options: MappingOptions = MappingOptions()) -> None:
        super().__init__()
        self.net = net
        self.options = options
        v_read = net.card.timing.v_read_v
        views = network_layers(net)
        self.layers = [CrossbarLayer(v, options, v_read) for v in views[:-1]]
        self.readout_layer = CrossbarLayer(views[-1], options, v_read)
        options.check_gain_trims(len(self.layers))
        self.chip_seed: int | None = None        # None: the exported chip; an int: another chip's variation
        # training only (finetune_hardware gain_sigma): every sample's crossbar outputs times exp(sigma N), N drawn per
        # sample and layer from this generator; None: the outputs as mapped
        self.gain_jitter: tuple[float, torch.Generator] | None = None

    @property
    def config(self):
        """The wrapped network's configuration."""
        return self.net.config

    def forward(self, frames: Tensor, return_trace: bool = False, draws=None, details: bool = False):
        """The network's :meth:`~ipnet_cosim.models.network.SpikingNet.run` with every op and the readout as its
        mapped crossbars (same arguments and returns as ``SpikingNet.forward``)."""
        net = self.net
        x = net.prepare_frames(frames)
        ops = [functools.partial(self.crossbar_op, layer) for layer in self.layers]
        return net.run(x, ops, functools.partial(self.crossbar_op, self.readout_layer, flat=True),
                       return_trace=return_trace, draws=draws, details=details)

    def crossbar_op(self, layer: CrossbarLayer, x: Tensor, flat: bool = False) -> Tensor:
        """One mapped layer's op output for input spikes ``x`` on this chip: the crossbar currents, the layer's gain
        trim, and (training only) the gain jitter; ``flat`` joins the output's trailing dimensions (the readout)."""
        out = layer(x, self.chip_seed)
        trim = self.options.gain_trim(layer.view.index)     # the mirrors' trim (the readout's is 1)
        out = (out if trim == 1.0 else out * trim).to(x.dtype)
        if self.gain_jitter is not None:
            sigma, generator = self.gain_jitter
            n = torch.randn((1, out.shape[1]) + (1,) * (out.dim() - 2), generator=generator, dtype=torch.float64)
            out = out * torch.exp(sigma * n).to(out.dtype)
        return out.reshape(out.shape[0], out.shape[1], -1) if flat else out
