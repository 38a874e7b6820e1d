"""Chains of linear NIR nodes folded into one crossbar op: as a convolution where one holds the chain (a pooling
before a padded convolution, as Sinabs writes it), as an exact dense matrix otherwise (non-square kernels, 'same'
padding with a stride, groups, dilation, overlapping pools before padding, biases, scales over the feature map), each
checked against the same chain built from PyTorch's own modules (not the importer's node forward)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _nir_graphs import chain_graph

nir = pytest.importorskip("nir")


def _graph(shape, *pairs):
    """Input(shape) -> the linear nodes -> a Threshold on the chain's output -> Output."""
    return chain_graph(shape, [*pairs, ("thr", nir.Threshold(threshold=np.array(1.0)))], 1)


def _conv(rng, c_in, c_out, k, *, stride=1, padding=0, dilation=1, groups=1, bias=True):
    kh, kw = (k, k) if isinstance(k, int) else k
    w = rng.normal(size=(c_out, c_in // groups, kh, kw))
    b = rng.normal(size=c_out) if bias else np.zeros(c_out)
    node = nir.Conv2d(input_shape=None, weight=w, stride=stride, padding=padding, dilation=dilation, groups=groups,
                      bias=b)
    module = torch.nn.Conv2d(c_in, c_out, (kh, kw), stride=stride, padding=padding, dilation=dilation, groups=groups,
                             bias=True, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        module.bias.copy_(torch.from_numpy(b))
    return node, module


class _Sum(torch.nn.Module):
    def __init__(self, k, s, p):
        super().__init__()
        self.pool, self.k = torch.nn.AvgPool2d(k, s, p, count_include_pad=True), k

    def forward(self, x):
        return self.pool(x) * (self.k * self.k)


class _Mul(torch.nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = torch.from_numpy(scale)

    def forward(self, x):
        return x * self.scale


def _chains():
    rng = np.random.default_rng(0)
    out = {}
    # Sinabs' N-MNIST block: SumPool2d then a padded convolution (no bias before the padding): one convolution
    c1 = _conv(rng, 4, 6, 3, padding=1)
    out["sumpool then padded conv"] = ((4, 8, 8), [("pool", nir.SumPool2d(kernel_size=np.array([2, 2]),
                                                                          stride=np.array([2, 2]),
                                                                          padding=np.array([0, 0])), _Sum(2, 2, 0)),
                                                   ("conv", *c1)], "convolution")
    c2 = _conv(rng, 2, 3, 3, stride=2, padding=1)
    c3 = _conv(rng, 3, 4, 3, padding=1)
    out["biased conv then padded conv"] = ((2, 9, 9), [("a", *c2), ("b", *c3)], "dense")
    c4 = _conv(rng, 2, 4, (3, 5), stride=1, padding=(1, 2))
    out["non-square kernel"] = ((2, 7, 9), [("a", *c4)], "dense")
    c5 = _conv(rng, 4, 4, 3, dilation=2, groups=2, padding=2)
    out["dilated grouped conv"] = ((4, 8, 8), [("a", *c5)], "convolution")
    scale = rng.uniform(0.5, 2.0, size=(2, 6, 6))
    c6 = _conv(rng, 2, 3, 3)
    out["scale over the feature map then conv"] = ((2, 6, 6), [("s", nir.Scale(scale=scale), _Mul(scale)),
                                                                ("a", *c6)], "dense")
    c7 = _conv(rng, 2, 2, 2, padding=1)
    out["overlapping avgpool then padded conv"] = (
        (2, 8, 8), [("p", nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([1, 1]),
                                        padding=np.array([1, 1])), torch.nn.AvgPool2d(3, 1, 1)),
                    ("a", *c7)], "dense")
    w = rng.normal(size=(5, 3 * 3 * 3))
    c8 = _conv(rng, 2, 3, 3, stride=2)
    fc = torch.nn.Linear(27, 5, dtype=torch.float64)
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(w))
        fc.bias.zero_()
    out["conv flatten affine"] = ((2, 7, 7), [("a", *c8), ("f", nir.Flatten(input_type=None, start_dim=0,
                                                                               end_dim=-1), torch.nn.Flatten()),
                                              ("fc", nir.Affine(weight=w, bias=np.zeros(5)), fc)], "dense")
    return out


CHAINS = _chains()


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_a_linear_chain_folds_exactly_into_one_op(name):
    from ipnet_cosim.models.nir_graph import ConvOp, op_forward, segments
    shape, nodes, fold = CHAINS[name]
    graph = _graph(shape, *((n, node) for n, node, _ in nodes))
    _, segs = segments(graph)
    seg = segs[0]
    assert seg.neuron == "thr" and ("convolution" if isinstance(seg.op, ConvOp) else "dense") == fold
    reference = torch.nn.Sequential(*(module for _, _, module in nodes))
    gen = torch.Generator().manual_seed(1)
    x = torch.cat([(torch.rand((4, *shape), generator=gen) < 0.3).double(),
                   torch.rand((4, *shape), generator=gen, dtype=torch.float64)])
    with torch.no_grad():
        want = reference(x).reshape(len(x), -1)
    got = op_forward(seg.op, x).reshape(len(x), -1)
    # float64 round-off of a few hundred products: ~1e-15 of the output; 1e-12 leaves room for any BLAS
    assert float((got - want).abs().max()) <= 1e-12 * float(want.abs().max())
    assert seg.fold_error <= 1e-12


def test_a_fold_too_large_for_a_dense_crossbar_is_named(monkeypatch):
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.models import nir_graph
    rng = np.random.default_rng(0)
    node, _ = _conv(rng, 2, 4, (3, 5), padding=(1, 2))
    monkeypatch.setattr(nir_graph, "MAX_DENSE_ENTRIES", 1000)
    with pytest.raises(ConfigError, match="'wide'.*8192 x 16384 weights"):
        nir_graph.segments(_graph((2, 64, 64), ("wide", node)))


def test_a_sinabs_shaped_cnn_imports_with_its_padded_convolution_folded(tmp_path):
    """The N-MNIST CNN Sinabs writes (Conv2d -> IF -> Conv2d -> IF -> SumPool2d -> Conv2d with padding 1 -> IF ->
    SumPool2d -> Flatten -> Affine -> IF -> Affine -> IF), here on 2 x 16 x 16 frames: every layer imports, the pooling
    before the padded convolution folds into one convolution, the pooling before the flatten into the dense layer,
    and each layer's rule reproduces the graph's own reference given its input (the IF layers approximately: heat is
    not a lossless integrator)."""
    from _small_net import SMALL_DATA
    from ipnet_cosim.models.datasets import load_dataset
    from ipnet_cosim.models.nir_import import import_nir
    from ipnet_cosim.models.nir_reference import agreement
    rng = np.random.default_rng(3)

    def conv(c_in, c_out, k, stride=1, padding=0):
        return nir.Conv2d(input_shape=None, weight=rng.normal(0, 0.5, (c_out, c_in, k, k)), stride=stride,
                          padding=padding, dilation=1, groups=1, bias=np.zeros(c_out))

    def if_(shape):
        return nir.IF(r=np.full(shape, 1e3), v_threshold=np.ones(shape))      # r dt = 1

    def pool():
        return nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))

    pairs = [("conv1", conv(2, 4, 3, padding=1)), ("if1", if_((4, 16, 16))), ("conv2", conv(4, 4, 3, padding=1)),
             ("if2", if_((4, 16, 16))), ("pool1", pool()), ("conv3", conv(4, 8, 3, padding=1)),
             ("if3", if_((8, 8, 8))), ("pool2", pool()),
             ("flat", nir.Flatten(input_type=None, start_dim=0, end_dim=-1)),
             ("fc1", nir.Affine(weight=rng.normal(0, 0.2, (16, 128)), bias=np.zeros(16))), ("if4", if_(16)),
             ("fc2", nir.Affine(weight=rng.normal(0, 0.2, (11, 16)), bias=np.zeros(11))), ("if5", if_(11))]
    graph = chain_graph((2, 16, 16), pairs, 11)
    net, data, record = import_nir(graph, data=SMALL_DATA, dt_s=1e-3)
    folds = [(layer["nodes"][:-1], layer["fold"]) for layer in record["layers"]]
    assert folds == [(["conv1"], "convolution"), (["conv2"], "convolution"), (["pool1", "conv3"], "convolution"),
                     (["pool2", "flat", "fc1"], "dense"), (["fc2"], "dense")]
    assert record["layers"][2]["op"] == {"kind": "conv", "out": 8, "kernel": 6, "stride": 2, "padding": 2}
    assert all(layer["fold_rel_error"] <= 1e-12 for layer in record["layers"])
    _, test = load_dataset(data)
    ag = agreement(graph, net, record, test.frames[:6], test.labels[:6])
    assert len(ag["layers"]) == 5 and ag["layers"][0]["fire_rate_reference"] > 0.0
