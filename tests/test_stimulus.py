"""Your own input spikes: the stimulus file formats (.npz and NIR's own spike data), their checks (one line naming the
problem, nothing written), and a NIR network with a 1-element input, as Norse writes its LIF examples, imported with a
stimulus, exported, and simulated at circuit level spike for spike with its twin."""

from __future__ import annotations

import numpy as np
import pytest

from _nir_graphs import chain_graph

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.stimulus import read_stimulus, write_stimulus

nir = pytest.importorskip("nir")


def _spikes(n=6, steps=8, shape=(1,), p=0.5, seed=0):
    return (np.random.default_rng(seed).random((n, steps, *shape)) < p).astype(np.uint8)


def test_a_npz_stimulus_reads_back_what_was_written(tmp_path):
    spikes = _spikes(shape=(2, 3, 3))
    path = write_stimulus(tmp_path / "s.npz", spikes, labels=np.arange(6) % 3, dt_s=1e-3)
    stim = read_stimulus(path, input_shape=(2, 3, 3), n_bins=8)
    assert np.array_equal(stim.spikes, spikes) and list(stim.labels) == [0, 1, 2, 0, 1, 2] and stim.dt_s == 1e-3
    assert stim.as_chw().shape == (6, 8, 2, 3, 3)
    flat = read_stimulus(write_stimulus(tmp_path / "f.npz", _spikes(shape=(5,))))
    assert flat.labels is None and flat.as_chw().shape == (6, 8, 5, 1, 1)
    # a graph whose input shape keeps a leading batch axis (Norse writes (1, N)) takes the same spikes
    batch = read_stimulus(tmp_path / "f.npz", input_shape=(1, 5))
    assert batch.spikes.shape == (6, 8, 1, 5) and np.array_equal(batch.spikes.reshape(6, 8, 5), flat.spikes)


def test_nir_spike_data_reads_as_a_stimulus(tmp_path):
    spikes = _spikes(shape=(4,)).astype(bool)
    data = nir.NIRGraphData(nodes={"input": nir.NIRNodeData(observables={
        "spikes": nir.TimeGriddedData(data=spikes, dt=1e-3)})})
    nir.write_data(tmp_path / "in.h5", data)
    np.savez(tmp_path / "in.h5.labels.npz", labels=np.array([0, 1, 0, 1, 0, 1]))
    stim = read_stimulus(tmp_path / "in.h5", input_shape=(2, 2, 1))
    assert stim.spikes.shape == (6, 8, 2, 2, 1) and stim.dt_s == 1e-3 and list(stim.labels) == [0, 1] * 3
    assert np.array_equal(stim.spikes.reshape(6, 8, 4), spikes)


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_bytes(b"junk"), p)[1], "not a readable .npz"),
    (lambda p: (np.savez(p, other=np.ones(3)), p)[1], "no 'spikes' array"),
    (lambda p: write_stimulus(p, _spikes() * 2), "not binary"),
    (lambda p: (np.savez(p, spikes=-_spikes().astype(float)), p)[1], "negative"),
    (lambda p: (np.savez(p, spikes=np.full((2, 8, 1), np.nan)), p)[1], "NaN"),
    (lambda p: write_stimulus(p, _spikes(shape=(3,))), "network takes (1,)"),
    (lambda p: write_stimulus(p, _spikes(steps=5)), "5 steps per sample, the network runs 8"),
    (lambda p: write_stimulus(p, _spikes(), labels=np.array([0, 1])), "one integer class per sample"),
    (lambda p: write_stimulus(p, _spikes(), labels=-np.ones(6, dtype=int)), "negative"),
    (lambda p: (np.savez(p, spikes=np.ones((0, 8, 1))), p)[1], "at least one sample"),
], ids=["missing", "not-npz", "no-spikes", "counts", "negative", "nan", "shape", "bins", "labels-count",
        "labels-negative", "empty"])
def test_a_bad_stimulus_is_named(tmp_path, make, message):
    path = make(tmp_path / "bad.npz")
    with pytest.raises(ConfigError, match="stimulus") as info:
        read_stimulus(path, input_shape=(1,), n_bins=8)
    assert message in str(info.value)


def _norse_like_chain():
    """Input (1,) -> Linear 1 -> 4 -> LIF (no memory: tau = dt) -> Affine 4 -> 2 -> LIF -> Output: the Linear/LIF
    chain of Norse's examples, on a 1-element input."""
    dt = 1e-3
    pairs = [("lin", nir.Linear(weight=np.array([[2.0], [1.5], [0.8], [3.0]]))),
             ("lif1", nir.LIF(tau=np.full(4, dt), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4))),
             ("aff", nir.Affine(weight=np.array([[1.2, -0.4, 0.9, 0.3], [-0.2, 1.1, -0.3, 0.8]]), bias=np.zeros(2))),
             ("lif2", nir.LIF(tau=np.full(2, dt), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)))]
    return chain_graph((1,), pairs, 2), dt


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_a_one_input_lif_chain_imports_exports_and_simulates_with_a_stimulus(tmp_path):
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    graph, dt = _norse_like_chain()
    stim = write_stimulus(tmp_path / "in.npz", _spikes(n=6, steps=8, shape=(1,), p=0.6, seed=2),
                          labels=np.array([0, 1, 0, 1, 0, 1]))
    # without a stimulus: imported (no data set has a 1-element input), its export asks for one, nothing written
    bare = import_to_checkpoint(graph, tmp_path / "bare", dt_s=dt)
    assert "agreement" not in bare and "--stimulus" in bare["agreement_note"]
    with pytest.raises(ConfigError, match="--stimulus"):
        export_network(tmp_path / "bare", tmp_path / "bare_exp", samples=[0])
    assert not (tmp_path / "bare_exp").exists()
    rec = import_to_checkpoint(graph, tmp_path / "ck", dt_s=dt, stimulus=stim, samples=6)
    assert rec["exact"] and [layer["fold"] for layer in rec["layers"]] == ["dense", "dense"]
    ag = rec["agreement"]
    for layer in ag["layers"]:            # exact rules: every neuron-step as the graph's reference, given its input
        assert layer["equal_neuron_steps_given_reference_input"] == 1.0 and layer["fire_rate_reference"] > 0.05
    export_network(tmp_path / "ck", tmp_path / "exp", samples=range(6))
    res = simulate_export(tmp_path / "exp", out=tmp_path / "sim", progress=False, workers=2)
    assert res.summary.torch is not None and res.summary.torch.all_spikes_equal
    assert res.summary.torch.classes_agree == 6 and [e.label for e in res.per_sample] == [0, 1] * 3


@pytest.mark.openvaf
def test_a_trained_network_exports_and_reports_on_your_own_spikes(tmp_path, capsys):
    """A checkpoint trained on a data set, exported with a stimulus file of its input shape: the samples and labels
    are the file's (not the data set's), the twin runs them, the report builds without the data set; a file of
    another shape is named with both shapes and nothing is written."""
    from _small_net import make_small_checkpoint
    from ipnet_cosim.cli.app import main
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.simulation.simulate import simulate_export
    ck = make_small_checkpoint(tmp_path / "ck")
    spikes = _spikes(n=4, steps=8, shape=(2, 16, 16), p=0.1, seed=5)
    stim = write_stimulus(tmp_path / "mine.npz", spikes, labels=np.array([3, 1, 4, 1]))
    assert main(["export", str(ck), "-o", str(tmp_path / "exp"), "--samples", "0,2", "--stimulus", str(stim)]) == 0
    man = read_export(tmp_path / "exp").manifest
    assert man.data_config["dataset"] == "stimulus" and list(man.samples.labels) == [3, 4]
    with np.load(tmp_path / "exp" / man.samples.file) as f:
        frames = f[[k for k in f.files if f[k].ndim == 5][0]]
    assert np.array_equal(frames, spikes[[0, 2]])
    res = simulate_export(tmp_path / "exp", out=tmp_path / "sim", simulator="twin", progress=False)
    assert [e.label for e in res.per_sample] == [3, 4]
    report, _ = build_report(tmp_path / "exp", sim=tmp_path / "sim")
    assert str(stim.resolve()) in report["provenance"]["stimulus"]
    bad = write_stimulus(tmp_path / "bad.npz", _spikes(n=2, shape=(2, 8, 8)), labels=np.array([0, 1]))
    capsys.readouterr()
    assert main(["export", str(ck), "-o", str(tmp_path / "exp2"), "--samples", "0", "--stimulus", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "2 x 8 x 8" in err and "2 x 16 x 16" in err and not (tmp_path / "exp2").exists()


@pytest.mark.openvaf
def test_an_unlabelled_stimulus_gives_spikes_energy_and_soa_without_an_accuracy(tmp_path):
    """No labels: the twin runs, results say no accuracy (null, never 0), the report builds with energy and the safe
    operating area and no accuracy figure; the CLI says so."""
    import json
    from _small_net import make_small_checkpoint
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import format_markdown
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    ck = make_small_checkpoint(tmp_path / "ck")
    stim = write_stimulus(tmp_path / "mine.npz", _spikes(n=3, steps=8, shape=(2, 16, 16), p=0.1, seed=7))
    export_network(ck, tmp_path / "exp", samples=[0, 1, 2], stimulus=stim)
    res = simulate_export(tmp_path / "exp", out=tmp_path / "sim", simulator="twin", progress=False)
    assert res.summary.accuracy is None and res.summary.accuracy_ci95 is None
    assert all(e.label is None and not e.correct for e in res.per_sample)
    raw = json.loads((tmp_path / "sim" / "results.json").read_text())
    assert raw["summary"]["accuracy"] is None and raw["per_sample"][0]["label"] is None
    report, _ = build_report(tmp_path / "exp", sim=tmp_path / "sim")
    assert "run" not in report["accuracy"] and report["energy"]["total"]["value"] > 0 and "verdict" in report["soa"]
    assert "no labels" in format_markdown(report)
