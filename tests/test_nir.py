"""NIR in and out: graphs written by snnTorch and built with the nir package itself imported onto MTJ crossbars and
simulated in ngspice (spikes equal to the PyTorch twin), the exact neuron rules checked against the graph's own
reference, an IPNet written as NIR read back identically and run by snnTorch, bad graphs named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from _small_net import SMALL_DATA, make_small_checkpoint
from ipnet_cosim.cli.app import main
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.datasets import load_dataset

nir = pytest.importorskip("nir")
DT = 1e-4


def _quantile_threshold(x: torch.Tensor, q: float) -> float:
    """A threshold near the q-quantile of ``x`` but off its values (a threshold equal to a current the data produce
    is a tie that no two integrators resolve alike)."""
    values = torch.unique(x.flatten().double())
    k = int(torch.searchsorted(values, torch.quantile(x.flatten()[::7].double(), q)))
    return float(0.5 * (values[k] + values[min(k + 1, len(values) - 1)]))


def snntorch_conv_snn(path: Path) -> Path:
    """A convolutional SNN built in snnTorch (seeded weights, thresholds set so that ~15-20 % of each layer's
    neurons fire on the training frames), exported with snnTorch's own NIR exporter and written with nir.write.
    Layer 0 leaks (beta 0.5: memory), layers 1 and 2 have beta 0 (no memory)."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir
    torch.manual_seed(0)
    conv1, pool = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1), torch.nn.AvgPool2d((2, 2), stride=(2, 2))
    conv2, fc = torch.nn.Conv2d(4, 8, 3), torch.nn.Linear(8 * 2 * 2, 11)
    train, _ = load_dataset(SMALL_DATA)
    x = torch.as_tensor(train.frames, dtype=torch.float32)            # [N, T, 2, 16, 16]
    n, t = x.shape[:2]
    with torch.no_grad():
        a1 = conv1(x.flatten(0, 1)).reshape(n, t, 4, 8, 8)
        thr1 = _quantile_threshold(a1, 0.85)
        v, s1 = torch.zeros_like(a1[:, 0]), []
        for k in range(t):                                          # snnTorch Leaky, reset to zero
            v = 0.5 * v + a1[:, k]
            z = (v > thr1).float()
            v = v * (1 - z)
            s1.append(z)
        a2 = conv2(pool(torch.stack(s1, 1).flatten(0, 1)))
        thr2 = _quantile_threshold(a2, 0.8)
        a3 = fc((a2 > thr2).float().flatten(1))
        thr3 = _quantile_threshold(a3, 0.8)

    def leaky(beta, thr, shape, **kw):
        return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.full(shape, thr), init_hidden=True, **kw)

    net = torch.nn.Sequential(conv1, leaky(0.5, thr1, (4, 8, 8)), pool, conv2, leaky(0.0, thr2, (8, 2, 2)),
                              torch.nn.Flatten(), fc, leaky(0.0, thr3, (11,), output=True))
    graph = export_to_nir(net, torch.zeros(1, 2, 16, 16), ignore_dims=[0])
    nir.write(path, graph)
    return path


def sinabs_shaped_graph(path: Path) -> Path:
    """Conv2d -> IF -> SumPool2d -> Conv2d -> IF -> Flatten -> Affine -> IF -> Output, built with nir (the shape of
    Sinabs' CNN example: IAF neurons, sum pooling), r = 1 per step at dt = 1 (Sinabs' discrete convention)."""
    rng = np.random.default_rng(3)
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2, 16, 16])}),
        "conv1": nir.Conv2d(input_shape=(16, 16), weight=rng.normal(0.15, 0.3, (4, 2, 3, 3)), stride=1, padding=1,
                            dilation=1, groups=1, bias=np.zeros(4)),
        "iaf1": nir.IF(r=np.ones((4, 16, 16)), v_threshold=np.full((4, 16, 16), 1.0)),
        "pool1": nir.SumPool2d(kernel_size=np.array([4, 4]), stride=np.array([4, 4]), padding=np.array([0, 0])),
        "conv2": nir.Conv2d(input_shape=(4, 4), weight=rng.normal(0.1, 0.3, (8, 4, 2, 2)), stride=2, padding=0,
                            dilation=1, groups=1, bias=np.zeros(8)),
        "iaf2": nir.IF(r=np.ones((8, 2, 2)), v_threshold=np.full((8, 2, 2), 1.0)),
        "flat": nir.Flatten(input_type={"input": np.array([8, 2, 2])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(0.0, 0.4, (11, 32)), bias=np.full(11, 0.05)),
        "iaf3": nir.IF(r=np.ones(11), v_threshold=np.full(11, 1.0)),
        "output": nir.Output(output_type={"output": np.array([11])}),
    }, edges=[("input", "conv1"), ("conv1", "iaf1"), ("iaf1", "pool1"), ("pool1", "conv2"), ("conv2", "iaf2"),
              ("iaf2", "flat"), ("flat", "fc"), ("fc", "iaf3"), ("iaf3", "output")])
    nir.write(path, graph)
    return path


def _import(nir_path: Path, out: Path, dt: float = DT, samples: int = 8) -> dict:
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    return import_to_checkpoint(nir_path, out, data=SMALL_DATA, dt_s=dt, samples=samples)


@pytest.mark.ngspice
@pytest.mark.slow
@pytest.mark.openvaf
def test_snntorch_conv_snn_runs_at_circuit_level_spike_exact(tmp_path):
    """snnTorch -> NIR -> MTJ crossbars -> ngspice: every spike of every layer equals the PyTorch twin of the imported
    network; the layers whose NIR neuron has no memory reproduce the graph's reference exactly given its input; the
    end-to-end agreement with the reference is reported (not asserted)."""
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    rec = _import(snntorch_conv_snn(tmp_path / "snn.nir"), tmp_path / "ck")
    assert [l["unit"] for l in rec["layers"]] == ["heat-memory MTJ", "memoryless MTJ", "memoryless MTJ"]
    assert [l["exact"] for l in rec["layers"]] == [False, True, True] and rec["readout"]["kind"] == "spikes"
    assert rec["layers"][1]["op"] == {"kind": "conv", "out": 8, "kernel": 6, "stride": 2, "padding": 0}  # pool folded
    assert "tau_th" in rec["device_card_change"]          # the card's heat leak set to the LIF's beta = 0.5
    card = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["device_card"]["mtj"]
    t_step = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["device_card"]["timing"]["t_step_s"]
    assert np.exp(-t_step / (card["r_th_k_per_w"] * card["c_th_j_per_k"])) == pytest.approx(0.5, rel=1e-6)
    ag = rec["agreement"]
    for layer in ag["layers"]:
        assert layer["fire_rate_reference"] > 0.01             # the test exercises firing neurons
        if layer["exact_rule"]:
            assert layer["equal_neuron_steps_given_reference_input"] == 1.0
    export_network(tmp_path / "ck", tmp_path / "exp", samples=[0, 5])
    res = simulate_export(tmp_path / "exp", out=tmp_path / "sim", progress=False, workers=2)
    assert res.summary.torch.all_spikes_equal
    assert all(l.fire_rate > 0 for l in res.summary.layers[:2])


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_sinabs_shaped_graph_imports_and_simulates(tmp_path, capsys):
    path = sinabs_shaped_graph(tmp_path / "sinabs.nir")
    assert main(["import-nir", str(path), "-o", str(tmp_path / "ck"), "--data", "synthetic-11", "--steps", "8",
                 "--dt", "1", "--samples", "4"]) == 0
    err = capsys.readouterr().err
    assert "classes agree on" in err and "approximate" in err          # IF integrates: an approximate rule, said
    rec = json.loads((tmp_path / "ck" / "nir_import.json").read_text())
    assert [l["neuron"] for l in rec["layers"]] == ["IF", "IF", "IF"]
    assert rec["layers"][1]["op"]["kernel"] == 8 and rec["layers"][1]["op"]["stride"] == 8   # (2-1)*4 + 4: pool folded
    assert rec["device_card_change"] is None                 # IF has no leak to match
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    export_network(tmp_path / "ck", tmp_path / "exp", samples=[0])
    assert simulate_export(tmp_path / "exp", out=tmp_path / "sim", progress=False).summary.torch.all_spikes_equal


def test_exact_rules_reproduce_the_reference_spike_for_spike(tmp_path):
    """Threshold and tau = dt LIF/CubaLIF neurons, pooling folded into the next convolution, a dilated grouped
    convolution, a channel Scale: the imported network equals the graph's reference on every neuron-step."""
    rng = np.random.default_rng(1)
    shape1 = (4, 8, 8)
    graph = _graph(nodes={
        "input": nir.Input(input_type={"input": np.array([2, 16, 16])}),
        "conv1": nir.Conv2d(input_shape=(16, 16), weight=rng.normal(0.2, 0.3, (4, 1, 3, 3)), stride=2, padding=2,
                            dilation=2, groups=2, bias=np.full(4, -0.05)),
        "scale": nir.Scale(scale=np.repeat(np.array([1.0, 2.0, 0.5, 1.5])[:, None, None], 64, 1).reshape(shape1)),
        "thr1": nir.Threshold(threshold=np.full(shape1, 0.3)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "conv2": nir.Conv2d(input_shape=(4, 4), weight=rng.normal(0.2, 0.4, (6, 4, 3, 3)), stride=1, padding=0,
                            dilation=1, groups=1, bias=np.zeros(6)),
        "lif": nir.LIF(tau=np.full((6, 2, 2), DT), r=np.full((6, 2, 2), 2.0), v_leak=np.zeros((6, 2, 2)),
                       v_threshold=np.full((6, 2, 2), 0.4)),
        "flat": nir.Flatten(input_type={"input": np.array([6, 2, 2])}, start_dim=0, end_dim=-1),
        "fc": nir.Linear(weight=rng.normal(0.1, 0.5, (11, 24))),
        "cuba": nir.CubaLIF(tau_syn=np.full(11, DT), tau_mem=np.full(11, DT), r=np.ones(11), v_leak=np.zeros(11),
                            v_threshold=np.full(11, 0.2), w_in=np.ones(11)),
        "out": nir.Output(output_type={"output": np.array([11])}),
    }, edges=[("input", "conv1"), ("conv1", "scale"), ("scale", "thr1"), ("thr1", "pool"), ("pool", "conv2"),
              ("conv2", "lif"), ("lif", "flat"), ("flat", "fc"), ("fc", "cuba"), ("cuba", "out")])
    nir.write(tmp_path / "exact.nir", graph)       # (nir's own type inference does not know grouped convolutions)
    rec = _import(tmp_path / "exact.nir", tmp_path / "ck", samples=11)
    assert rec["exact"] and not rec["memory_layers"]
    ag = rec["agreement"]
    assert ag["classes_agree"] == ag["samples"] == 11
    for layer in ag["layers"]:
        assert layer["fire_rate_reference"] > 0.01
        assert layer["equal_neuron_steps"] == layer["equal_neuron_steps_given_reference_input"] == 1.0


def test_an_ipnet_written_as_nir_reads_back_identically_and_runs_in_snntorch(tmp_path):
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.nir_reference import run_reference
    ck = make_small_checkpoint(tmp_path / "ck")
    assert main(["to-nir", str(ck), "-o", str(tmp_path / "net.nir")]) == 0
    assert main(["to-nir", str(ck), "-o", str(tmp_path / "net.nir")]) == 2          # never overwritten
    graph = nir.read(tmp_path / "net.nir")
    assert type(graph.nodes["layer0_neurons"]).__name__ == "LIF"
    assert main(["import-nir", str(tmp_path / "net.nir"), "-o", str(tmp_path / "back"), "--samples", "0"]) == 0
    a, b = load_checkpoint(ck), load_checkpoint(tmp_path / "back")
    assert a.card == b.card and a.network_config == b.network_config and a.data_config == b.data_config
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    # a second framework: snnTorch's importer builds and runs the graph; its outputs equal the NIR reference
    snn_import = pytest.importorskip("snntorch.import_nir")
    import snntorch.utils as snn_utils
    module = snn_import.import_from_nir(graph)
    _, test = load_dataset(SMALL_DATA)
    frames = torch.as_tensor(test.frames[:3], dtype=torch.float32)
    ref = run_reference(graph, test.frames[:3], DT)["output"]
    for s in range(3):
        snn_utils.reset(module)
        out = torch.stack([module(frames[s, t])[0] for t in range(frames.shape[1])])
        np.testing.assert_allclose(out.detach().double().numpy(), ref[:, s].numpy(), atol=1e-5)


def _write(graph, path: Path) -> Path:
    nir.write(path, graph)
    return path


def _chain(*pairs, shape=(2, 16, 16)):
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)})}
    names = ["input"]
    for name, node in pairs:
        nodes[name] = node
        names.append(name)
    nodes["output"] = nir.Output(output_type={"output": np.array([11])})
    names.append("output")
    return nodes, list(zip(names[:-1], names[1:]))


def _graph(nodes, edges):
    g = nir.NIRGraph.__new__(nir.NIRGraph)            # no type inference: damaged graphs are the point
    g.nodes, g.edges, g.metadata = nodes, edges, {}
    g.input_type, g.output_type = {}, {}
    return g


FC = nir.Affine(weight=np.ones((11, 512)), bias=np.zeros(11))
FLAT = nir.Flatten(input_type={"input": np.array([2, 16, 16])}, start_dim=0, end_dim=-1)
LIF11 = nir.LIF(tau=np.full(11, 2 * DT), r=np.ones(11), v_leak=np.zeros(11), v_threshold=np.ones(11))


@pytest.mark.parametrize("make, message", [
    (lambda: _graph(*_chain(("flat", FLAT), ("fc", FC), ("d", nir.Delay(delay=np.ones(11)))),),
     "node 'd' of type Delay is not supported"),
    (lambda: _graph({**_chain(("flat", FLAT), ("fc", FC), ("n", LIF11))[0]},
                    _chain(("flat", FLAT), ("fc", FC), ("n", LIF11))[1] + [("n", "fc")]),
     "recurrent edge"),
    (lambda: _graph({**_chain(("flat", FLAT), ("fc", FC), ("n", LIF11))[0], "fc2": FC},
                    _chain(("flat", FLAT), ("fc", FC), ("n", LIF11))[1] + [("flat", "fc2"), ("fc2", "n")]),
     "several"),
    (lambda: _graph(*_chain(("flat", FLAT), ("fc", nir.Affine(weight=np.ones((11, 500)), bias=np.zeros(11))),
                            ("n", LIF11))),
     "does not take its input of shape (512,)"),
    (lambda: _graph(*_chain(("flat", FLAT), ("fc", FC), ("n", nir.LIF(tau=np.full(11, DT / 2), r=np.ones(11),
                                                                     v_leak=np.zeros(11), v_threshold=np.ones(11))))),
     "forward Euler oscillates"),
    (lambda: _graph(*_chain(("flat", FLAT), ("fc", FC), ("n", nir.Threshold(threshold=np.full(11, -1.0))))),
     "threshold or input gain <= 0"),
    (lambda: _graph(*_chain(("flat", FLAT), ("fc", FC), ("n", nir.LIF(tau=np.full(11, 2 * DT), r=np.ones(11),
                                                                     v_leak=np.ones(11), v_threshold=np.ones(11))))),
     "v_leak != 0 with memory"),
    (lambda: _graph(*_chain(("flat", FLAT), ("fc", FC), ("li", nir.LI(tau=np.ones(11), r=np.ones(11),
                                                                      v_leak=np.zeros(11))),
                            ("fc2", nir.Affine(weight=np.ones((11, 11)), bias=np.zeros(11))), ("n", LIF11))),
     "taken only as the readout"),
    (lambda: _graph(*_chain(("n", nir.Threshold(threshold=np.ones((2, 16, 16)))), ("flat", FLAT), ("fc", FC))),
     "without a weight node"),
    (lambda: _graph(*_chain(("flat", nir.Flatten(input_type={"input": np.array([1, 16, 16])}, start_dim=0,
                                                 end_dim=-1)),
                            ("fc", nir.Affine(weight=np.ones((11, 256)), bias=np.zeros(11))), ("n", LIF11),
                            shape=(1, 16, 16))),
     "2 polarities"),
])
def test_bad_graphs_are_named(tmp_path, capsys, make, message):
    graph = make()
    with pytest.raises(ConfigError) as info:
        from ipnet_cosim.models.nir_import import import_nir
        import_nir(graph, data=SMALL_DATA, dt_s=DT)
    assert message in str(info.value)
    try:
        path = _write(graph, tmp_path / "bad.nir")
    except Exception:                                   # nir refuses to write some broken graphs itself
        return
    assert main(["import-nir", str(path), "-o", str(tmp_path / "ck"), "--data", "synthetic-22"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ck").exists()


def test_damaged_and_foreign_files_are_named(tmp_path, capsys):
    (tmp_path / "junk.nir").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    (tmp_path / "text.nir").write_text("not a graph")
    for name in ("junk.nir", "text.nir", "missing.nir"):
        assert main(["import-nir", str(tmp_path / name), "-o", str(tmp_path / "ck")]) == 2
        err = capsys.readouterr().err
        assert ("not a readable NIR graph" in err or "does not exist" in err) and "Traceback" not in err
    snn = snntorch_conv_snn(tmp_path / "snn.nir")
    import h5py                                          # the same graph with a weight deleted
    damaged = tmp_path / "no_weight.nir"
    damaged.write_bytes(snn.read_bytes())
    with h5py.File(damaged, "r+") as f:
        del f["node"]["nodes"]["6"]["weight"]
    assert main(["import-nir", str(damaged), "-o", str(tmp_path / "ck")]) == 2
    err = capsys.readouterr().err
    assert "not a readable NIR graph" in err and "weight" in err
    assert main(["import-nir", str(snn), "-o", str(tmp_path / "ck"), "--data", "synthetic-22"]) == 2
    assert "11 outputs" in capsys.readouterr().err
    assert main(["export", str(snn), "-o", str(tmp_path / "exp")]) == 2      # a NIR graph where a checkpoint goes
    assert "import-nir" in capsys.readouterr().err and not (tmp_path / "exp").exists()
