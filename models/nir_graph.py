"""A NIR graph (the Neuromorphic Intermediate Representation, ``nir`` on PyPI) read as a chain of *segments*, each
the composition of its linear nodes followed by one neuron node: the shape an IPNet layer (a crossbar, then MTJ
neurons) can take. Plain numpy; the torch side is :mod:`~ipnet_cosim.models.nir_import`.

Linear nodes compose exactly into one op per segment (any chain of them is one affine map), in the cheapest form
that holds it:

* a **convolution** when every node of the chain is one: ``Conv2d`` (square kernel and stride, symmetric padding,
  dilation by a zero-filled kernel, groups as a block-diagonal kernel), ``SumPool2d`` / ``AvgPool2d`` (a conv with a
  channel-diagonal kernel of ones, resp. 1/k^2), ``Scale`` constant over the spatial axes (a 1x1 channel-diagonal
  conv). ``A`` then ``B`` is one conv with kernel ``(k_B - 1) s_A + k_A``, stride ``s_A s_B`` and padding
  ``p_A + s_A p_B``, ``W[o, i, s_A p + u, s_A q + v] += sum_m W_B[o, m, p, q] W_A[m, i, u, v]``,
  ``b = b_B + sum_m (sum_pq W_B) b_A``; when ``B`` pads, this holds only where ``A``'s output is zero in ``B``'s
  padding: ``A`` without bias, its kernel no wider than its stride (``k_A - p_A <= s_A``) and its windows covering
  the input (``s_A H_A >= H + p_A``): a pooling before a padded convolution, as Sinabs writes it;
* otherwise a **dense** matrix: the chain evaluated node by node with each node's own forward
  (:func:`linear_forward`: PyTorch's convolution and pooling with the node's own stride, padding, dilation and groups,
  non-square and 'same' included) on the unit vectors of its input, which is exact (``Flatten`` is C order;
  ``Affine``, ``Linear`` and ``Scale`` of any shape are dense maps).

Every composed op is checked against the chain's own forward on random inputs (:func:`fold_error`; round-off, about
1e-15 of the output). A pooling layer between two spiking layers is folded into the next layer's crossbar and adds no
circuit. Refused by name: several inputs or outputs of a node (skip connections), cycles (recurrent edges), nested
graphs (e.g. snnTorch's RLeaky), ``Delay``, a dense fold larger than :data:`MAX_DENSE_ENTRIES`, and any node type not
listed in :data:`LINEAR_TYPES`, :data:`NEURON_TYPES` or :data:`READOUT_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError

LINEAR_TYPES = ("Conv2d", "SumPool2d", "AvgPool2d", "Scale", "Flatten", "Affine", "Linear")
CONV_TYPES = ("Conv2d", "SumPool2d", "AvgPool2d", "Scale")       # those a conv layer may hold
# a composed op may depart from its nodes' own forward by round-off only (measured ~1e-16 of the output; a dense fold
# of a few thousand terms accumulates ~1e-14): a larger difference is a bug, not a property of the graph
FOLD_TOLERANCE = 1e-10
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


MAX_DENSE_ENTRIES = 50_000_000      # a dense fold of more weights (400 MB in float64) is refused with its size


class Unrepresentable(Exception):
    """A linear chain that is not one convolution of the kind a conv layer holds (it folds into a dense op)."""


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
    fold_error: float = 0.0                 # the composed op against the nodes' own forward (:func:`fold_error`)


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
        raise Unrepresentable(f"{what} {tuple(arr)} is not square")
    return int(arr[0])


def conv_of(name: str, node, shape: tuple[int, ...]) -> ConvOp:
    """A Conv2d, SumPool2d, AvgPool2d or (channel-wise) Scale node as a :class:`ConvOp` on ``shape``."""
    kind = type(node).__name__
    if len(shape) != 3:
        raise ConfigError(f"NIR node '{name}' ({kind}) needs a (C, H, W) input, gets shape {shape}")
    c = shape[0]
    if kind == "Conv2d":
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 4:
            raise ConfigError(f"NIR node '{name}' (Conv2d): weight of shape {w.shape} is not [O, I, kh, kw]")
        if w.shape[2] != w.shape[3]:
            raise Unrepresentable(f"its kernel {w.shape[2]}x{w.shape[3]} is not square")
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
                raise Unrepresentable(f"padding 'same' with stride {stride} and kernel {k} is asymmetric")
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
            raise Unrepresentable("the scale varies over the feature map")
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


def compose_conv(a: ConvOp, b: ConvOp, a_in_shape: tuple[int, ...]) -> ConvOp:
    """``b`` after ``a`` as one convolution (module docstring).

    Raises:
        Unrepresentable: ``b`` pads where ``a``'s output is not zero (a bias, overlapping windows, an uncovered
            border): no single convolution holds the chain.
    """
    ka, kb, sa, pa = a.weight.shape[2], b.weight.shape[2], a.stride, a.padding
    k = (kb - 1) * sa + ka
    for n in a_in_shape[1:]:
        na = (n + 2 * pa - ka) // sa + 1                         # a's output, b's input
        nb = (na + 2 * b.padding - kb) // b.stride + 1           # b's output
        if b.padding and (np.any(a.bias != 0) or ka - pa > sa or sa * na < n + pa):
            raise Unrepresentable("a padded convolution or pooling follows a node whose output is not zero in its "
                                  "padding")
        if (n + 2 * (pa + sa * b.padding) - k) // (sa * b.stride) + 1 != nb:
            raise Unrepresentable("the composed convolution would not give the chain's output size")
    wt = np.zeros((b.weight.shape[0], a.weight.shape[1], k, k))
    for p in range(kb):
        for q in range(kb):
            wt[:, :, p * sa:p * sa + ka, q * sa:q * sa + ka] += np.einsum("om,mikl->oikl", b.weight[:, :, p, q],
                                                                          a.weight)
    bias = b.bias + np.einsum("om,m->o", b.weight.sum(axis=(2, 3)), a.bias)
    return ConvOp(wt, bias, sa * b.stride, pa + sa * b.padding)


def unroll(op: ConvOp, shape: tuple[int, ...]) -> DenseOp:
    """The dense matrix of a convolution on ``shape`` (C-order flattening of input and output)."""
    import torch
    n = int(np.prod(shape))
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    out = torch.nn.functional.conv2d(eye, torch.from_numpy(op.weight), None, op.stride, op.padding)
    m = out.reshape(n, -1).T.numpy().copy()
    bias = np.repeat(op.bias, out.shape[2] * out.shape[3])
    return DenseOp(m, bias)


def as_float64(value, shape=None):
    """A node's parameter as a float64 tensor (None as 0), reshaped to ``shape`` when it holds as many values."""
    import torch
    arr = torch.as_tensor(np.asarray(value if value is not None else 0.0, dtype=np.float64))
    if shape is not None and arr.numel() == int(np.prod(shape)) and tuple(arr.shape) != tuple(shape):
        arr = arr.reshape(shape)
    return arr


def _two(value) -> tuple[int, int]:
    v = tuple(int(x) for x in np.atleast_1d(np.asarray(value)).ravel())
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def linear_forward(name: str, node, x):
    """The linear node's own forward (float64 PyTorch) on ``x [N, *feature shape]``: the semantics the composed op,
    the dense fold and the graph's reference all use. 'same' padding pads as PyTorch and TensorFlow do (the larger
    half after), also with a stride."""
    import torch.nn.functional as F
    kind = type(node).__name__
    n = x.shape[0]
    try:
        if kind == "Conv2d":
            weight = as_float64(node.weight)
            stride, dil = _two(node.stride), _two(node.dilation)
            bias = None if node.bias is None else as_float64(node.bias).reshape(-1).expand(weight.shape[0])
            pad = node.padding
            if isinstance(pad, str):
                if pad == "same":
                    pads = []
                    for size, k, s_, d in zip(reversed(x.shape[2:]), reversed(weight.shape[2:]), reversed(stride),
                                              reversed(dil)):
                        total = max((-(-size // s_) - 1) * s_ + d * (k - 1) + 1 - size, 0)
                        pads += [total // 2, total - total // 2]
                    x = F.pad(x, pads)
                return F.conv2d(x, weight, bias, stride, 0, dil, int(node.groups))
            return F.conv2d(x, weight, bias, stride, _two(pad), dil, int(node.groups))
        if kind in ("SumPool2d", "AvgPool2d"):
            k = _two(node.kernel_size)
            y = F.avg_pool2d(x, k, _two(node.stride), _two(node.padding), count_include_pad=True)
            return y * (k[0] * k[1]) if kind == "SumPool2d" else y
        if kind == "Scale":
            return x * as_float64(node.scale, tuple(x.shape[1:]))
        if kind == "Flatten":
            return x.reshape(n, -1)
        if kind in ("Affine", "Linear"):
            y = x.reshape(n, -1) @ as_float64(node.weight).T
            return y + as_float64(node.bias).reshape(-1) if kind == "Affine" else y
    except RuntimeError as exc:                       # PyTorch's own shape check
        raise ConfigError(f"NIR node '{name}' ({kind}) does not take its input of shape {tuple(x.shape[1:])} "
                          f"({str(exc).splitlines()[0][:160]}); the graph's shapes disagree") from None
    raise ConfigError(f"NIR node '{name}' ({kind}) is not a linear node")


def dense_of(name: str, node, shape: tuple[int, ...]) -> tuple[DenseOp, tuple[int, ...]]:
    """The node on ``shape`` as its exact dense matrix (its own forward on the unit vectors) and its output shape."""
    import torch
    n = int(np.prod(shape))
    zero = linear_forward(name, node, torch.zeros((1, *shape), dtype=torch.float64))
    out_shape = tuple(int(v) for v in zero.shape[1:])
    m = int(np.prod(out_shape))
    if n * m > MAX_DENSE_ENTRIES:
        raise ConfigError(f"NIR node '{name}' ({type(node).__name__}): folding its chain into one dense crossbar "
                          f"would take {n} x {m} weights (more than {MAX_DENSE_ENTRIES:,}); put a neuron layer "
                          f"before it, or give it square kernels and strides and symmetric padding so that it folds "
                          f"as a convolution")
    basis = linear_forward(name, node, torch.eye(n, dtype=torch.float64).reshape(n, *shape)).reshape(n, m)
    c = zero.reshape(m)
    return DenseOp((basis - c).T.numpy().copy(), c.numpy().copy()), out_shape


def _then(first: ConvOp | DenseOp | None, in_shape: tuple[int, ...], dense: DenseOp) -> DenseOp:
    """``dense`` after ``first`` (on ``in_shape``) as one dense op."""
    if first is None:
        return dense
    d = unroll(first, in_shape) if isinstance(first, ConvOp) else first
    return DenseOp(dense.weight @ d.weight, dense.weight @ d.bias + dense.bias)


def op_forward(op: ConvOp | DenseOp | None, x):
    """A composed op on ``x [N, *in shape]`` (float64 PyTorch); a dense op's output is flat."""
    import torch
    import torch.nn.functional as F
    if op is None:
        return x
    if isinstance(op, ConvOp):
        return F.conv2d(x, torch.from_numpy(op.weight), torch.from_numpy(op.bias), op.stride, op.padding)
    return x.reshape(x.shape[0], -1) @ torch.from_numpy(op.weight).T + torch.from_numpy(op.bias)


def fold_error(graph, seg: Segment, seed: int = 0) -> float:
    """The composed op of ``seg`` against its nodes' own forward, one node after the other, on random spikes and
    random real inputs: the largest difference over the largest output magnitude (round-off: ~1e-15)."""
    import torch
    linear = [n for n in seg.nodes if type(graph.nodes[n]).__name__ in LINEAR_TYPES]
    if not linear or seg.op is None:
        return 0.0
    gen = torch.Generator().manual_seed(seed)
    x = torch.cat([(torch.rand((3, *seg.in_shape), generator=gen) < 0.3).double(),
                   torch.rand((3, *seg.in_shape), generator=gen, dtype=torch.float64) * 2 - 1])
    y = x
    for name in linear:
        y = linear_forward(name, graph.nodes[name], y)
    ours = op_forward(seg.op, x)
    y, ours = y.reshape(len(x), -1), ours.reshape(len(x), -1)
    scale = float(y.abs().max()) or 1.0
    return float((y - ours).abs().max()) / scale


def segments(graph) -> tuple[tuple[int, ...], list[Segment]]:
    """The graph's input shape and its segments (module docstring); the last segment's ``neuron`` is None when the
    graph ends in linear nodes, or names an LI/I readout node."""
    nodes = chain(graph)
    shape = input_shape(nodes[0][1])
    segs: list[Segment] = []
    cur = Segment([], None, shape, shape)
    for name, node in nodes[1:]:
        kind = type(node).__name__
        if kind == "Flatten":                          # C order: a flat op's output is already in that order
            cur.out_shape = (int(np.prod(cur.out_shape)),)
        elif kind in LINEAR_TYPES:
            conv = None
            if kind in CONV_TYPES and len(cur.out_shape) == 3 and not isinstance(cur.op, DenseOp):
                try:
                    op = conv_of(name, node, cur.out_shape)
                    conv = op if cur.op is None else compose_conv(cur.op, op, cur.in_shape)
                    new_shape: tuple[int, ...] = conv_out_shape(op, cur.out_shape, name)
                except Unrepresentable as why:
                    cur.notes.append(f"'{name}' ({kind}): {why}, so the segment folds into a dense crossbar (exact)")
            if conv is not None:
                cur.op = conv
            else:
                dense, new_shape = dense_of(name, node, cur.out_shape)
                if isinstance(cur.op, ConvOp):
                    cur.notes.append(f"convolution unrolled into a dense crossbar at '{name}' ({kind})")
                cur.op = _then(cur.op, cur.in_shape, dense)
            cur.out_shape = new_shape
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
    for seg in segs:
        seg.fold_error = fold_error(graph, seg)
        if seg.fold_error > FOLD_TOLERANCE:
            raise ConfigError(f"NIR segment {seg.nodes}: the composed op departs from the nodes' own forward by "
                              f"{seg.fold_error:.2e} of its output (more than {FOLD_TOLERANCE:g}); this is a bug of "
                              f"ipnet-cosim: please report it with the file")
    return shape, segs
