"""A NIR graph (the Neuromorphic Intermediate Representation, ``nir`` on PyPI) read as a chain of *segments*, each
the composition of its linear nodes followed by one neuron node: the shape an IPNet layer (a crossbar, then MTJ
neurons) can take. Plain numpy; the torch side is :mod:`~ipnet_cosim.models.nir_import`.

Linear nodes compose exactly into one op per segment:

* ``Conv2d`` (stride, integer or 'same'/'valid' padding, dilation by a zero-filled kernel, groups as a
  block-diagonal kernel), ``SumPool2d`` / ``AvgPool2d`` (a conv with a channel-diagonal kernel of ones, resp.
  1/k^2), ``Scale`` constant over the spatial axes (a 1x1 channel-diagonal conv): a chain ``A`` then ``B`` of convs
  is one conv when ``B`` has no padding: kernel ``(k_B - 1) s_A + k_A``, stride ``s_A s_B``, padding ``p_A``,
  ``W[o, i, s_A p + u, s_A q + v] += sum_m W_B[o, m, p, q] W_A[m, i, u, v]``, ``b = b_B + sum_m (sum_pq W_B) b_A``;
* ``Flatten`` (C order) and ``Affine`` / ``Linear`` (a dense map; a conv before a flatten is unrolled into its
  dense matrix, exactly);

so a pooling layer between two spiking layers is folded into the next layer's crossbar and adds no circuit.
Refused by name: several inputs or outputs of a node (skip connections), cycles (recurrent edges), nested graphs
(e.g. snnTorch's RLeaky), ``Delay``, non-square kernels and strides, asymmetric 'same' padding, padding after a
fold, a spatially varying ``Scale`` on feature maps, and any node type not listed in :data:`LINEAR_TYPES`,
:data:`NEURON_TYPES` or :data:`READOUT_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError

LINEAR_TYPES = ("Conv2d", "SumPool2d", "AvgPool2d", "Scale", "Flatten", "Affine", "Linear")
NEURON_TYPES = ("Threshold", "IF", "LIF", "CubaLIF")
READOUT_TYPES = ("LI", "I")
SUPPORTED = ("Input", "Output") + LINEAR_TYPES + NEURON_TYPES + READOUT_TYPES
WHY_NOT = {
    "Delay": "an MTJ crossbar has no delay line; remove the delay or fold it into the input timing",
    "CubaLI": "a current-based leaky integrator has no MTJ analogue; end the graph with LI, I or a spiking layer",
    "NIRGraph": "nested graphs (e.g. snnTorch's RLeaky/RSynaptic recurrent layers) hold recurrent edges; an MTJ "
                "layer keeps its memory in heat, not in recurrent weights: use a feed-forward layer",
    "Conv1d": "1-D convolutions: reshape the input to 2-D (C, 1, W) and use Conv2d",
}


@dataclass
class ConvOp:
    """``y = conv2d(x, weight, bias, stride, padding)`` on (C, H, W), square kernel and stride."""

    weight: np.ndarray          # [O, I, k, k]
    bias: np.ndarray            # [O]
    stride: int
    padding: int


@dataclass
class DenseOp:
    """``y = weight @ x + bias`` on a flat vector."""

    weight: np.ndarray          # [O, N]
    bias: np.ndarray            # [O]


@dataclass
class Segment:
    """The linear nodes before one neuron node (or the readout) composed into ``op`` (None: identity)."""

    nodes: list[str]
    op: ConvOp | DenseOp | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    neuron: str | None = None               # the neuron node's name (None: the graph's output)
    notes: list[str] = field(default_factory=list)


def read_nir(path: str | Path):
    """``nir.read`` with one named error for a missing, damaged or foreign file."""
    try:
        import nir
    except ImportError as exc:                          # pragma: no cover - a dependency
        raise ConfigError("reading NIR needs the 'nir' package: pip install 'nir>=1.0'") from exc
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"NIR file {p} does not exist; write one with your framework's NIR exporter (e.g. "
                          f"snntorch.export_to_nir + nir.write) or 'ipnet-cosim to-nir'")
    try:
        return nir.read(p, type_check=False)       # shapes are checked here, node by node (nir's check ignores groups)
    except Exception as exc:                            # h5py, KeyError, assertion of a node's __post_init__
        raise ConfigError(f"{p} is not a readable NIR graph ({type(exc).__name__}: {str(exc)[:200]}); pass an "
                          f".nir file (HDF5) written by nir.write") from None


def chain(graph) -> list[tuple[str, Any]]:
    """The graph's nodes from its Input to its Output, checked to be one feed-forward chain."""
    import networkx as nx
    nodes = dict(graph.nodes)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED:
            why = WHY_NOT.get(kind, "no mapping onto crossbars and MTJ neurons is defined")
            raise ConfigError(f"NIR node '{name}' of type {kind} is not supported ({why}); supported node types: "
                              f"{', '.join(SUPPORTED)}")
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for edge in graph.edges:
        src, dst = edge
        for end in (src, dst):
            if end not in nodes:
                raise ConfigError(f"NIR edge {src} -> {dst} names node '{end}', which the graph does not have; the "
                                  f"file is damaged or was written by a broken exporter")
        g.add_edge(src, dst)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        raise ConfigError(f"NIR graph has a recurrent edge {cycle[-1][0]} -> {cycle[-1][1]} (cycle "
                          f"{' -> '.join(e[0] for e in cycle)}); only feed-forward graphs map onto crossbars (an IPNet "
                          f"layer keeps its memory in heat)")
    for name in g.nodes:
        if g.in_degree(name) > 1 or g.out_degree(name) > 1:
            which = "inputs" if g.in_degree(name) > 1 else "outputs"
            raise ConfigError(f"NIR node '{name}' ({type(nodes[name]).__name__}) has several {which}; skip "
                              f"connections and branches are not supported (a chain from Input to Output is)")
    inputs = [n for n, v in nodes.items() if type(v).__name__ == "Input"]
    outputs = [n for n, v in nodes.items() if type(v).__name__ == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"NIR graph needs exactly one Input and one Output node, has {len(inputs)} and "
                          f"{len(outputs)}")
    order = [inputs[0]]
    while g.out_degree(order[-1]):
        order.append(next(iter(g.successors(order[-1]))))
    if order[-1] != outputs[0]:
        raise ConfigError(f"NIR graph: the chain from '{inputs[0]}' ends at '{order[-1]}', not at the Output node "
                          f"'{outputs[0]}'")
    stray = sorted(set(nodes) - set(order))
    if stray:
        raise ConfigError(f"NIR graph: node(s) {stray} are not on the path from Input to Output; remove them")
    return [(n, nodes[n]) for n in order]


def input_shape(node) -> tuple[int, ...]:
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise ConfigError("NIR Input node has no shape; re-export with the input shape set")
    return tuple(int(s) for s in np.asarray(shape).ravel())


def _pair(value, name: str, what: str) -> int:
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    if arr.size == 0 or np.any(arr != arr[0]):
        raise ConfigError(f"NIR node '{name}': {what} {tuple(arr)} is not square; MTJ crossbar layers take square "
                          f"kernels, strides and paddings")
    return int(arr[0])


def conv_of(name: str, node, shape: tuple[int, ...]) -> ConvOp:
    """A Conv2d, SumPool2d, AvgPool2d or (channel-wise) Scale node as a :class:`ConvOp` on ``shape``."""
    kind = type(node).__name__
    if len(shape) != 3:
        raise ConfigError(f"NIR node '{name}' ({kind}) needs a (C, H, W) input, gets shape {shape}")
    c = shape[0]
    if kind == "Conv2d":
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 4 or w.shape[2] != w.shape[3]:
            raise ConfigError(f"NIR node '{name}' (Conv2d): weight of shape {w.shape} is not [O, I, k, k]")
        groups = int(node.groups)
        if w.shape[1] * groups != c:
            raise ConfigError(f"NIR node '{name}' (Conv2d): weight takes {w.shape[1] * groups} input channels "
                              f"({w.shape[1]} x {groups} groups), its input has {c} (shape {shape})")
        dil = _pair(node.dilation, name, "dilation")
        if dil > 1:                                       # a dilated kernel is a larger kernel with zeros
            k = w.shape[2]
            big = np.zeros((*w.shape[:2], (k - 1) * dil + 1, (k - 1) * dil + 1))
            big[:, :, ::dil, ::dil] = w
            w = big
        if groups > 1:                                    # block-diagonal dense kernel
            o_per = w.shape[0] // groups
            full = np.zeros((w.shape[0], c, *w.shape[2:]))
            for gi in range(groups):
                full[gi * o_per:(gi + 1) * o_per, gi * w.shape[1]:(gi + 1) * w.shape[1]] = \
                    w[gi * o_per:(gi + 1) * o_per]
            w = full
        k = w.shape[2]
        stride = _pair(node.stride, name, "stride")
        pad = node.padding
        if isinstance(pad, str):
            if pad == "valid":
                p = 0
            elif stride != 1 or k % 2 == 0:
                raise ConfigError(f"NIR node '{name}' (Conv2d): padding 'same' with stride {stride} and kernel {k} "
                                  f"pads asymmetrically; give an explicit symmetric padding")
            else:
                p = (k - 1) // 2
        else:
            p = _pair(pad, name, "padding")
        bias = np.zeros(w.shape[0]) if node.bias is None else np.asarray(node.bias, dtype=np.float64).ravel()
        if bias.size == 1 and w.shape[0] > 1:
            bias = np.full(w.shape[0], float(bias[0]))
        return ConvOp(w, bias, stride, p)
    if kind in ("SumPool2d", "AvgPool2d"):
        k = _pair(node.kernel_size, name, "kernel_size")
        w = np.zeros((c, c, k, k))
        for i in range(c):
            w[i, i] = 1.0 if kind == "SumPool2d" else 1.0 / (k * k)
        return ConvOp(w, np.zeros(c), _pair(node.stride, name, "stride"), _pair(node.padding, name, "padding"))
    if kind == "Scale":
        s = np.broadcast_to(np.asarray(node.scale, dtype=np.float64), shape) if np.ndim(node.scale) else \
            np.full(shape, float(node.scale))
        per_c = s.reshape(c, -1)
        if not np.all(per_c == per_c[:, :1]):
            raise ConfigError(f"NIR node '{name}' (Scale): a scale that varies over the feature map cannot be "
                              f"folded into a convolution's crossbar; scale per channel, or flatten first")
        w = np.zeros((c, c, 1, 1))
        w[np.arange(c), np.arange(c), 0, 0] = per_c[:, 0]
        return ConvOp(w, np.zeros(c), 1, 0)
    raise ConfigError(f"NIR node '{name}' ({kind}) is not a convolution")


def conv_out_shape(op: ConvOp, shape: tuple[int, ...], name: str) -> tuple[int, int, int]:
    _, h, w = shape
    k = op.weight.shape[2]
    oh = (h + 2 * op.padding - k) // op.stride + 1
    ow = (w + 2 * op.padding - k) // op.stride + 1
    if oh < 1 or ow < 1:
        raise ConfigError(f"NIR node '{name}': kernel {k} (stride {op.stride}, padding {op.padding}) does not fit "
                          f"its {h}x{w} input")
    return op.weight.shape[0], oh, ow


def compose_conv(a: ConvOp, b: ConvOp, name: str) -> ConvOp:
    """``b`` after ``a`` as one convolution (module docstring); ``b`` must not pad."""
    if b.padding:
        raise ConfigError(f"NIR node '{name}': a padded convolution or pooling after another linear node cannot be "
                          f"folded into one crossbar (its zero padding is not the previous node's output); put a "
                          f"neuron layer between them or remove the padding")
    ka, kb, sa = a.weight.shape[2], b.weight.shape[2], a.stride
    k = (kb - 1) * sa + ka
    w = np.zeros((b.weight.shape[0], a.weight.shape[1], k, k))
    for p in range(kb):
        for q in range(kb):
            w[:, :, p * sa:p * sa + ka, q * sa:q * sa + ka] += np.einsum("om,mikl->oikl", b.weight[:, :, p, q],
                                                                         a.weight)
    bias = b.bias + np.einsum("om,m->o", b.weight.sum(axis=(2, 3)), a.bias)
    return ConvOp(w, bias, a.stride * b.stride, a.padding)


def unroll(op: ConvOp, shape: tuple[int, ...]) -> DenseOp:
    """The dense matrix of a convolution on ``shape`` (C-order flattening of input and output)."""
    import torch
    n = int(np.prod(shape))
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    out = torch.nn.functional.conv2d(eye, torch.from_numpy(op.weight), None, op.stride, op.padding)
    m = out.reshape(n, -1).T.numpy().copy()
    bias = np.repeat(op.bias, out.shape[2] * out.shape[3])
    return DenseOp(m, bias)


def segments(graph) -> tuple[tuple[int, ...], list[Segment]]:
    """The graph's input shape and its segments (module docstring); the last segment's ``neuron`` is None when the
    graph ends in linear nodes, or names an LI/I readout node."""
    nodes = chain(graph)
    shape = input_shape(nodes[0][1])
    segs: list[Segment] = []
    cur = Segment([], None, shape, shape)
    flat = len(shape) == 1
    for name, node in nodes[1:]:
        kind = type(node).__name__
        if kind in ("Conv2d", "SumPool2d", "AvgPool2d") or (kind == "Scale" and not flat):
            if flat:
                raise ConfigError(f"NIR node '{name}' ({kind}) follows a flattened tensor; convolutions and pooling "
                                  f"need (C, H, W)")
            op = conv_of(name, node, cur.out_shape)
            if isinstance(cur.op, DenseOp):
                raise ConfigError(f"NIR node '{name}' ({kind}) after a dense layer without a neuron layer between "
                                  f"is not supported")
            new_shape = conv_out_shape(op, cur.out_shape, name)
            cur.op = op if cur.op is None else compose_conv(cur.op, op, name)
            cur.out_shape = new_shape
        elif kind == "Flatten":
            flat = True
            cur.out_shape = (int(np.prod(cur.out_shape)),)
        elif kind in ("Affine", "Linear", "Scale"):
            n = int(np.prod(cur.out_shape))
            if kind == "Scale":
                s = np.broadcast_to(np.asarray(node.scale, dtype=np.float64), (n,))
                dense = DenseOp(np.diag(s), np.zeros(n))
            else:
                w = np.asarray(node.weight, dtype=np.float64)
                if w.ndim != 2 or w.shape[1] != n:
                    raise ConfigError(f"NIR node '{name}' ({kind}): weight of shape {w.shape} does not take its "
                                      f"input of {n} values (shape {cur.out_shape}); the graph's shapes disagree")
                b = np.zeros(w.shape[0]) if kind == "Linear" else np.asarray(node.bias, dtype=np.float64).ravel()
                if b.shape != (w.shape[0],):
                    raise ConfigError(f"NIR node '{name}' (Affine): bias of shape {b.shape} for {w.shape[0]} outputs")
                dense = DenseOp(w, b)
            if not flat and len(cur.out_shape) != 1:
                raise ConfigError(f"NIR node '{name}' ({kind}) takes a (C, H, W) tensor without a Flatten before it; "
                                  f"add a Flatten node")
            if isinstance(cur.op, ConvOp):
                cur.op = unroll(cur.op, cur.in_shape)
                cur.notes.append("convolution unrolled into a dense crossbar (a flatten follows it in the segment)")
            cur.op = dense if cur.op is None else DenseOp(dense.weight @ cur.op.weight,
                                                          dense.weight @ cur.op.bias + dense.bias)
            cur.out_shape = (dense.weight.shape[0],)
        elif kind in NEURON_TYPES + READOUT_TYPES:
            if cur.op is None and kind in NEURON_TYPES:
                what = "the input" if not segs else f"neuron node '{segs[-1].neuron}'"
                raise ConfigError(f"NIR node '{name}' ({kind}) follows {what} without a weight node between; an MTJ "
                                  f"layer is a crossbar followed by neurons")
            cur.neuron = name
            cur.nodes.append(name)
            segs.append(cur)
            cur = Segment([], None, cur.out_shape, cur.out_shape)
            if kind in READOUT_TYPES:
                cur.notes.append("after readout")
            continue
        elif kind == "Output":
            segs.append(cur)
            break
        cur.nodes.append(name)
    for seg in segs[:-1]:
        if type(graph.nodes[seg.neuron]).__name__ in READOUT_TYPES:
            raise ConfigError(f"NIR node '{seg.neuron}' ({type(graph.nodes[seg.neuron]).__name__}) does not spike and "
                              f"is not the last node before Output; LI and I are taken only as the readout")
    if segs[-1].nodes and segs[-1].op is None and "after readout" in segs[-1].notes:
        raise ConfigError("NIR graph: nodes between the LI/I readout and the Output are not supported")
    return shape, segs
