"""Stochastic circuits, spike-exact: the recorded draws of every neuron and step in the export's netlists, in
ngspice, in VACASK and in the PyTorch twin."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _small_net import make_small_checkpoint
from ipnet_cosim.cli.app import main
from ipnet_cosim.device.card import PulseTiming
from ipnet_cosim.device.draws import Firing, neuron_draws
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.contract import read_export
from ipnet_cosim.netlist_gen.export import export_network
from ipnet_cosim.simulation.simulate import simulate_export

SAMPLES = [0, 3, 5, 8]


@pytest.fixture(scope="module")
def stochastic_export(tmp_path_factory, openvaf_tool):
    root = tmp_path_factory.mktemp("stoch")
    ck = make_small_checkpoint(root / "ck")
    export_network(ck, root / "exp", samples=SAMPLES, firing=Firing("stochastic", seed=11, draws=2))
    export_network(ck, root / "median", samples=SAMPLES[:1])
    return root


def test_draw_pwl_holds_each_draw_through_its_step():
    t = PulseTiming()
    draws = [0.2, 0.9, 0.5]
    pts = np.array(t.draw_pwl(draws))
    probe = np.arange(3) * t.t_step_s + t.t_read_s                   # the read times: each step's own draw
    assert np.interp(probe, pts[:, 0], pts[:, 1]).tolist() == draws
    assert np.interp(probe - t.t_read_s + t.t_pulse_s / 2, pts[:, 0], pts[:, 1]).tolist() == draws   # pulse
    assert np.all(np.diff(pts[:, 0]) > 0)                           # strictly increasing breakpoints
    edges = pts[1::2, 0]
    np.testing.assert_allclose(edges, np.arange(1, 3) * t.t_step_s - t.t_fall_s, rtol=1e-12, atol=0)   # moves while
    # the reset falls


def test_stochastic_export_records_its_firing_and_gives_every_neuron_a_draw_source(stochastic_export):
    exp = read_export(stochastic_export / "exp")
    assert exp.manifest.firing_mode() == Firing("stochastic", seed=11, draws=2)
    deck = (stochastic_export / "exp" / exp.manifest.units_of(0)[0].netlist).read_text()
    n = exp.manifest.units_of(0)[0].n_cols
    assert all(f"Vu{j} u{j} 0 0.5" in deck for j in range(n)) and "Vu u 0" not in deck
    median = read_export(stochastic_export / "median")
    assert median.manifest.firing_mode() == Firing()
    assert "Vu u 0 0.5" in (stochastic_export / "median" / median.manifest.units_of(0)[0].netlist).read_text()


@pytest.mark.ngspice
@pytest.mark.openvaf
@pytest.mark.parametrize("simulator", ["ngspice", "vacask"])
def test_stochastic_circuit_spikes_equal_the_twin_given_the_same_draws(stochastic_export, tmp_path, simulator):
    """Two draws of four samples: every neuron-step equal to PyTorch's under the same recorded draws (the
    agreement contract), and the draws matter: the two draws' spikes differ."""
    runs = {}
    for draw in (0, 1):
        res = simulate_export(stochastic_export / "exp", out=tmp_path / f"d{draw}", workers=2, progress=False,
                              simulator=simulator, draw=draw)
        s = res.summary
        assert (s.firing.mode, s.firing.seed, s.firing.draw) == ("stochastic", 11, draw)
        assert "draw " + str(draw) in s.firing.note
        assert s.torch is not None and s.torch.all_spikes_equal, s.layers
        assert s.torch.classes_agree == len(SAMPLES)
        assert all(layer.compared is not None and layer.compared.margin == "ln H - ln(-ln u)" for layer in s.layers)
        runs[draw] = [np.load(tmp_path / f"d{draw}" / f"spikes_sample_{k:04d}.npz") for k in SAMPLES]
    differ = sum(int((a["spikes_layer0"] != b["spikes_layer0"]).sum()) for a, b in zip(runs[0], runs[1]))
    assert differ > 0


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_the_full_netlist_takes_the_same_draws_as_the_port_model(stochastic_export, tmp_path):
    out = {}
    for cb in ("ports", "netlist"):
        res = simulate_export(stochastic_export / "exp", samples=SAMPLES[:2], out=tmp_path / cb, workers=2,
                              progress=False, crossbar=cb, draw=1, energy=False)
        assert res.summary.torch.all_spikes_equal
        out[cb] = [np.load(tmp_path / cb / f"spikes_sample_{k:04d}.npz") for k in SAMPLES[:2]]
    for a, b in zip(out["ports"], out["netlist"]):
        assert np.array_equal(a["spikes_layer0"], b["spikes_layer0"])
        assert np.array_equal(a["spikes_layer1"], b["spikes_layer1"])


def test_twin_takes_the_recorded_draws(stochastic_export, tmp_path, monkeypatch):
    """The twin's spikes under draw k are the network's spikes under RecordedDraws(seed, samples, k), also when the
    twin runs the samples in several batches (each batch must take its own samples' draws)."""
    import torch
    import ipnet_cosim.simulation.twin_energy as te
    monkeypatch.setattr(te, "TWIN_BATCH", 3)
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.firing import RecordedDraws
    from ipnet_cosim.simulation.inputs import load_frames
    exp = read_export(stochastic_export / "exp")
    res = simulate_export(stochastic_export / "exp", out=tmp_path / "twin", progress=False, simulator="twin", draw=1)
    assert res.summary.firing.draw == 1
    _, frames, _ = load_frames(exp, SAMPLES)
    model = load_checkpoint(exp.path(exp.manifest.checkpoint.file)).model.set_precision("exact")
    with torch.no_grad():
        _, trace = model(torch.as_tensor(frames), return_trace=True, draws=RecordedDraws(11, SAMPLES, [1] * 4))
    for k, s in enumerate(SAMPLES):
        got = np.load(tmp_path / "twin" / f"spikes_sample_{s:04d}.npz")["spikes_layer0"]
        assert np.array_equal(got, trace["outputs"][0][:, k].reshape(got.shape[0], -1).numpy() > 0.5)
    # and the export's draws are the device definition's
    u = trace["draws"][0][:, 2].reshape(frames.shape[1], -1).numpy()
    assert np.array_equal(u, neuron_draws(11, 1, SAMPLES[2], 0, u.shape))


def test_draw_options_are_refused_where_they_do_not_apply(stochastic_export, tmp_path, capsys):
    with pytest.raises(ConfigError, match="median mode"):
        simulate_export(stochastic_export / "median", out=tmp_path / "m", progress=False, simulator="twin", draw=1)
    with pytest.raises(ConfigError, match="draw"):
        simulate_export(stochastic_export / "exp", out=tmp_path / "n", progress=False, simulator="twin", draw=-1)
    assert not (tmp_path / "m").exists() and not (tmp_path / "n").exists()
    code = main(["export", str(stochastic_export / "ck"), "-o", str(tmp_path / "bad"), "--firing", "stochastic",
                 "--draws", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "draws (0) must be at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_a_damaged_firing_record_is_named(stochastic_export, tmp_path, capsys):
    import shutil
    bad = tmp_path / "exp"
    shutil.copytree(stochastic_export / "exp", bad)
    man = json.loads((bad / "manifest.json").read_text())
    man["firing"] = {"mode": "stochastic", "seed": "eleven", "draws": 2}
    (bad / "manifest.json").write_text(json.dumps(man))
    code = main(["simulate", str(bad), "--simulator", "twin"])
    err = capsys.readouterr().err
    assert code == 2 and "firing" in err and "Traceback" not in err


def test_report_names_the_firing_mode_and_the_coin_flips(stochastic_export, tmp_path):
    """The report of a stochastic run says so next to its accuracy and gives each layer's coin-flip fraction, the
    one the twin's hazards give (recomputed here from the network under the same draws)."""
    import torch
    from ipnet_cosim.device.draws import coin_flip_hazard_band
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import format_markdown
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.firing import RecordedDraws
    from ipnet_cosim.simulation.inputs import load_frames
    sim = tmp_path / "twin"
    simulate_export(stochastic_export / "exp", out=sim, progress=False, simulator="twin", draw=1)
    report, _ = build_report(stochastic_export / "exp", sim=sim)
    assert "stochastic" in report["provenance"]["firing"] and "draw 1" in report["provenance"]["firing"]
    assert "stochastic" in report["accuracy"]["run"]["source"]
    exp = read_export(stochastic_export / "exp")
    _, frames, _ = load_frames(exp, SAMPLES)
    model = load_checkpoint(exp.path(exp.manifest.checkpoint.file)).model.set_precision("exact")
    with torch.no_grad():
        _, trace = model(torch.as_tensor(frames), return_trace=True, draws=RecordedDraws(11, SAMPLES, [1] * 4),
                         details=True)
    h_lo, h_hi = coin_flip_hazard_band()
    for li, layer in enumerate(exp.manifest.hidden_layers):
        h = trace["details"][li].hazard
        expected = float(((h > h_lo) & (h < h_hi)).double().mean())
        assert report["accuracy"][f"coin_flip_{layer.name}"]["value"] == pytest.approx(expected, rel=1e-12, abs=0)
    md = format_markdown(report)
    assert "Neurons: stochastic" in md and "coin flips" in md


def test_cli_simulates_a_draw_into_its_own_folder(stochastic_export, tmp_path, capsys):
    import shutil
    exp = tmp_path / "exp"
    shutil.copytree(stochastic_export / "exp", exp)
    assert main(["simulate", str(exp), "--simulator", "twin", "--draw", "1", "--plots", "0"]) == 0
    err = capsys.readouterr().err
    assert "draw 1" in err and str((exp / "sim_draw_1").resolve()) in err.replace("\n", "")
    assert json.loads((exp / "sim_draw_1" / "results.json").read_text())["summary"]["firing"]["draw"] == 1
    assert not (exp / "sim").exists()


def test_simulate_draws_and_the_report_over_them(stochastic_export, tmp_path, capsys):
    """``simulate --draws 3`` runs draws 0, 1, 2 into sim, sim_draw_1, sim_draw_2; the report of any of them gives
    the accuracy and energy per inference over the three, equal to each run's own report figures recombined."""
    import shutil
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import format_markdown
    exp = tmp_path / "exp"
    shutil.copytree(stochastic_export / "exp", exp)
    assert main(["simulate", str(exp), "--simulator", "twin", "--draws", "3", "--plots", "0"]) == 0
    folders = [exp / "sim", exp / "sim_draw_1", exp / "sim_draw_2"]
    assert [json.loads((f / "results.json").read_text())["summary"]["firing"]["draw"] for f in folders] == [0, 1, 2]
    singles = []
    for f in folders:           # each run alone, its draws hidden from it
        alone = tmp_path / "alone" / f.name / "run"
        shutil.copytree(f, alone)
        singles.append(build_report(exp, sim=alone)[0])
        assert "over_draws" not in singles[-1]
    energies = np.array([r["energy"]["total"]["value"] for r in singles])
    accuracies = np.array([r["accuracy"]["run"]["value"] for r in singles])
    report, _ = build_report(exp, sim=exp / "sim_draw_1")
    od = report["over_draws"]
    assert od["draws"]["value"] == 3 and [d["draw"]["value"] for d in od["per_draw"]] == [0, 1, 2]
    assert od["energy_per_inference_mean"]["value"] == pytest.approx(energies.mean(), rel=1e-12, abs=0)
    assert od["energy_per_inference_std_over_draws"]["value"] == pytest.approx(energies.std(ddof=1), rel=1e-9, abs=0)
    assert od["energy_per_inference_min"]["value"] == energies.min()
    assert od["accuracy_mean"]["value"] == pytest.approx(accuracies.mean(), rel=1e-12)
    assert od["accuracy_mean"]["provenance"] == "computed"          # a twin run: computed, not simulated
    assert report["summary"]["energy_per_inference_over_draws"] == od["energy_per_inference_mean"]
    assert "over 3 draws" in format_markdown(report)
    # a run of another sample set is not one of the draws
    assert main(["simulate", str(exp), "--simulator", "twin", "--draw", "3", "--samples", "0,3", "--plots", "0"]) == 0
    assert build_report(exp, sim=exp / "sim")[0]["over_draws"]["draws"]["value"] == 3
    capsys.readouterr()
    # --draws on a median export, or with --draw, is one line naming the problem
    code = main(["simulate", str(stochastic_export / "median"), "--simulator", "twin", "--draws", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "median mode" in err and "Traceback" not in err
    code = main(["simulate", str(exp), "--simulator", "twin", "--draws", "2", "--draw", "1"])
    assert code == 2 and "--draws" in capsys.readouterr().err
