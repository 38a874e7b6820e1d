"""NIR graphs written by the producers themselves (Sinabs, Norse, SpikingJelly; snnTorch in tests/test_nir.py), each
imported onto MTJ crossbars with a stimulus of its own input shape, exported and simulated in ngspice with every spike
equal to the PyTorch twin; the rule each node gets is recorded (docs/nir.md's producer table comes from these runs:
benchmarks/nir_producers.py).

The producers are installed by .ci/setup.sh without their own requirements (Sinabs pins nir <= 1.0.4 and needs the
samna device library; SpikingJelly's torchvision and torchaudio would replace the pinned torch): their NIR exporters
need neither. The graphs are taken as the exporters return them: nir 1.0.8's writer refuses Sinabs' (None-valued
fields) and Norse's (scalar parameters) graphs, which is nir's limitation, not the graphs'."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipnet_cosim.models.data.stimulus import write_stimulus

nir = pytest.importorskip("nir")


def sinabs_graph():
    """Sinabs' N-MNIST block at 8 x 8: Conv2d -> IAF -> SumPool2d -> Conv2d (padding 1) -> IAF -> Flatten -> Linear
    -> IAF. Sinabs' IAF is ``v += x`` per step: an IF with r = 1 on a unit time step (dt = 1)."""
    sl = pytest.importorskip("sinabs.layers")
    from sinabs import to_nir
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1),
                              sl.SumPool2d(2), torch.nn.Conv2d(2, 4, 3, padding=1, bias=False),
                              sl.IAFSqueeze(batch_size=1), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 4 * 4, 3, bias=False), sl.IAFSqueeze(batch_size=1))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(3.0)                     # enough drive that every layer fires
    return to_nir(net, torch.zeros(1, 2, 8, 8)), (2, 8, 8), 1.0


def norse_graph():
    """Norse's Linear + LIFBoxCell on a 1-element input (the graph keeps the batch axis: input shape (1, 1))."""
    nt = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    lin = torch.nn.Linear(1, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[300.0], [150.0], [80.0]]))
        lin.bias.zero_()
    graph = nt.to_nir(nt.SequentialState(lin, nt.LIFBoxCell()), torch.zeros(1, 1))
    tau = float(np.min(np.asarray(graph.nodes["1"].tau)))
    return graph, (1,), tau                          # its LIF's tau as the step: no membrane memory (exact)


def spikingjelly_graph():
    """SpikingJelly's Linear + LIFNode (tau = 2 steps, written as 2e-4 s: a 1e-4 s step)."""
    sj = pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir
    torch.manual_seed(0)
    lin = sj.layer.Linear(4, 3)
    with torch.no_grad():
        lin.weight.mul_(4.0)
    return export_to_nir(torch.nn.Sequential(lin, sj.neuron.LIFNode()), torch.zeros(1, 4)), (4,), 1e-4


PRODUCERS = {"sinabs": sinabs_graph, "norse": norse_graph, "spikingjelly": spikingjelly_graph}


@pytest.mark.ngspice
@pytest.mark.openvaf
@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_a_producers_graph_imports_exports_and_simulates_spike_exact(producer, tmp_path):
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    graph, shape, dt = PRODUCERS[producer]()
    spikes = (np.random.default_rng(1).random((3, 8, *shape)) < 0.4).astype(np.uint8)
    stim = write_stimulus(tmp_path / "in.npz", spikes, labels=np.array([0, 1, 2]))
    rec = import_to_checkpoint(graph, tmp_path / "ck", stimulus=stim, dt_s=dt, samples=3)
    for layer in rec["agreement"]["layers"]:
        assert layer["fire_rate_reference"] > 0.0, (producer, layer)        # the comparison exercises spikes
        if layer["exact_rule"]:
            assert layer["equal_neuron_steps_given_reference_input"] == 1.0, (producer, layer)
    assert all(layer["fold_rel_error"] <= 1e-12 for layer in rec["layers"])
    export_network(tmp_path / "ck", tmp_path / "exp", samples=[0, 1])
    res = simulate_export(tmp_path / "exp", out=tmp_path / "sim", progress=False, workers=2)
    assert res.summary.torch is not None and res.summary.torch.all_spikes_equal, res.summary.layers
    assert res.summary.torch.classes_agree == 2


def sinabs_nmnist_graph():
    """The N-MNIST CNN as Sinabs writes it, at N-MNIST's 2 x 34 x 34: Conv2d -> IAF -> Conv2d -> IAF -> SumPool2d ->
    Conv2d (padding 1) -> IAF -> SumPool2d -> Flatten -> Linear -> IAF -> Linear -> IAF (10 classes)."""
    sl = pytest.importorskip("sinabs.layers")
    from sinabs import to_nir
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, stride=2, bias=False), sl.IAFSqueeze(batch_size=1),            # 16 x 16
        torch.nn.Conv2d(4, 8, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1),
        sl.SumPool2d(2), torch.nn.Conv2d(8, 8, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1),   # 8 x 8
        sl.SumPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 32, bias=False), sl.IAFSqueeze(batch_size=1),
        torch.nn.Linear(32, 10, bias=False), sl.IAFSqueeze(batch_size=1))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(6.0)                     # every layer fires on the stimulus
    return to_nir(net, torch.zeros(1, 2, 34, 34)), (2, 34, 34), 1.0


@pytest.mark.slow
@pytest.mark.openvaf
def test_sinabs_nmnist_cnn_folds_its_padded_convolution_and_runs_on_its_twin(tmp_path):
    """The full-size N-MNIST CNN: every segment imports (the pooling before the padded convolution as one
    convolution, the pooling before the flatten into the dense layer), exports on a stimulus of 2 x 34 x 34 frames and
    runs on its twin; benchmarks/nir_producers.py simulates it in ngspice."""
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    graph, shape, dt = sinabs_nmnist_graph()
    spikes = (np.random.default_rng(1).random((2, 8, *shape)) < 0.3).astype(np.uint8)
    stim = write_stimulus(tmp_path / "in.npz", spikes, labels=np.array([0, 1]))
    rec = import_to_checkpoint(graph, tmp_path / "ck", stimulus=stim, dt_s=dt, samples=2)
    assert [layer["fold"] for layer in rec["layers"]] == ["convolution"] * 3 + ["dense"] * 2
    assert rec["layers"][2]["op"] == {"kind": "conv", "out": 8, "kernel": 6, "stride": 2, "padding": 2}
    export_network(tmp_path / "ck", tmp_path / "exp", samples=[0, 1])
    res = simulate_export(tmp_path / "exp", out=tmp_path / "twin", simulator="twin", progress=False)
    assert res.summary.samples == 2 and all(layer.fire_rate > 0 for layer in res.summary.layers)
