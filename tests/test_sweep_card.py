"""Sweeps over device-card fields and with per-point fine-tuning: every card of every point validated before any
work (the field, the point and the allowed range named), the card-swapped network equal to the checkpoint where the
card is unchanged, the changed card in the exported netlist, fine-tuning per point for its crossbars, and points
on a Dask cluster giving the local run's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _small_net import SMALL_DATA, chip_scores, make_small_checkpoint
from test_sweep import _config, refused_before_work
from ipnet_cosim.sweep.run import run_sweep
from ipnet_cosim.sweep.config import load_sweep_config


@pytest.mark.parametrize("text, message", [
    ("[parameters]\nmtj.r_th_k_per_w = [-1.0]\n", "r_th_k_per_w = -1 K/W is outside the allowed range"),
    ("[parameters]\nmtj.r_th_k_per_w = {min = 1e5, max = 2e9}\n", "outside the allowed range (1000, 1e+09]"),
    ("[parameters]\nmtj.nonsense = [1.0]\n", "section 'mtj' has no field 'nonsense'"),
    ("[parameters]\n\"drive.r_th_k_per_w\" = [1.0]\n", "'drive.r_th_k_per_w' is not a device-card field"),
    ("[parameters]\nr_th_k_per_w = [1e6]\nmtj.r_th_k_per_w = [2e6]\n", "given twice"),
    ("[parameters]\nmtj.r_th_k_per_w = ['hot']\n", "must be numbers in SI units"),
    ("[parameters]\nmtj.ic0_a = [150e-6, 5e-3]\n", "does not reach the cold firing threshold"),
    ("[parameters]\ndrive.v_dd_v = [3.0]\n", "limits.v_breakdown_v"),
    ("[parameters]\nlimits.t_max_k = [200.0]\n", "t_max_k (200 K)"),
    ("[parameters]\ntiming.v_read_v = [0.6]\nsynapse = ['ideal', 'pcm']\n", "v_read_max_v = 0.3 V"),
    ("[parameters]\nr_wire_ohm = [1.0]\n[finetune]\nepochs = 0\n", "finetune.epochs"),
    ("[parameters]\nr_wire_ohm = [1.0]\n[finetune]\nspeed = 2\n", "[finetune] has unknown key"),
    ("[parameters]\nr_wire_ohm = [1.0]\n[finetune]\nvariation = 'always'\n", "'always' is unknown"),
    ("[parameters]\nr_wire_ohm = [1.0]\n[finetune]\nlr = -1.0\n", "finetune.lr"),
    ("[parameters]\nr_wire_ohm = [1.0]\n[finetune]\nt_max_penalty = -2\n", "finetune.t_max_penalty"),
    ("finetune = 3\n[parameters]\nr_wire_ohm = [1.0]\n", "finetune must be a table"),
    ("[parameters]\nr_wire_ohm = [1.0]\nchips = 3\n", "'chips' is a top-level key: write it before [parameters]"),
])
def test_bad_card_and_finetune_settings_are_named_before_any_work(tmp_path, capsys, text, message):
    err = refused_before_work(tmp_path, capsys, text, message)
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("spelling", ["mtj.r_th_k_per_w = [1e6]", "\"mtj.r_th_k_per_w\" = [1e6]",
                                      "r_th_k_per_w = [1e6]", "[parameters.mtj]\nr_th_k_per_w = [1e6]"])
def test_card_fields_have_one_name_whatever_the_spelling(tmp_path, spelling):
    text = "[parameters]\nr_wire_ohm = [0.0]\n" + spelling + "\n"
    cfg = load_sweep_config(_config(tmp_path, text))
    assert cfg.points() == [{"r_wire_ohm": 0.0, "mtj.r_th_k_per_w": 1e6}]


@pytest.mark.openvaf
def test_a_card_sweep_runs_the_trained_weights_on_each_card(tmp_path):
    """The point whose card equals the checkpoint's gives the checkpoint's own figures exactly; the other point's
    card is in its exported netlist; a junction with twice the thermal resistance runs hotter."""
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    ck = make_small_checkpoint(tmp_path / "ck")
    r_th = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["device_card"]["mtj"]["r_th_k_per_w"]
    cfg = _config(tmp_path, f"checkpoint = '{ck}'\nsamples = 4\n[parameters]\nr_wire_ohm = [1.0]\n"
                            f"mtj.r_th_k_per_w = [{r_th}, {2 * r_th}]\n")
    result = run_sweep(load_sweep_config(cfg), tmp_path / "sweep", workers=1, progress=False)
    same, hot = result.points
    assert same.device_card_changes == {"r_th_k_per_w": r_th}
    assert hot.device_card_changes is not None and hot.device_card_changes["r_th_k_per_w"] == 2 * r_th
    # the checkpoint exported and run directly, with the same mapping and samples
    from ipnet_cosim.sweep.config import point_options
    export_network(ck, tmp_path / "direct", samples=[0], options=point_options({"r_wire_ohm": 1.0}, seed=0))
    chosen = json.loads((Path(same.folder) / "chip0" / "twin" / "results.json").read_text())["per_sample"]
    direct = simulate_export(tmp_path / "direct", out=tmp_path / "direct_twin", samples=[e["sample"] for e in chosen],
                             progress=False, simulator="twin", plots=0)
    report, _ = build_report(tmp_path / "direct", sim=tmp_path / "direct_twin")
    assert same.accuracy_mean == direct.summary.accuracy
    assert same.energy_per_inference_j == pytest.approx(report["energy"]["total"]["value"], rel=1e-12, abs=0)
    netlists = sorted((Path(hot.folder) / "chip0" / "export" / "netlists").glob("*.cir"))
    models = [line for n in netlists for line in n.read_text().splitlines() if line.startswith(".model mtjn ")]
    assert models and all(float(dict(kv.split("=") for kv in line.split()[3:])["r_th_k_per_w"]) == 2 * r_th
                          for line in models)
    card = json.loads((Path(hot.folder) / "checkpoint_card" / "checkpoint.json").read_text())["device_card"]
    assert card["mtj"]["r_th_k_per_w"] == 2 * r_th
    assert hot.soa_margin_k < same.soa_margin_k          # the same currents heat a worse-cooled junction more


@pytest.mark.slow
@pytest.mark.openvaf
def test_per_point_finetuning_and_dask_points_match_a_local_run(tmp_path):
    """Each point fine-tuned for its own crossbars (the fine-tuned checkpoint records the point's mapping); the
    same sweep with its points on a Dask LocalCluster gives the local run's figures, and an unreachable scheduler
    is named before anything is written."""
    from dask.distributed import LocalCluster
    from ipnet_cosim.device.errors import SimulationError
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import load_dataset
    from ipnet_cosim.sweep.config import point_options
    ck = make_small_checkpoint(tmp_path / "ck", trained_steps=30)       # an accuracy well above chance
    _, test = load_dataset(SMALL_DATA)
    cfg = load_sweep_config(_config(tmp_path, f"checkpoint = '{ck}'\nsamples = 3\n[parameters]\n"
                                              f"r_wire_ohm = [0.0, 3.0]\n[finetune]\nepochs = 1\nbatch_size = 8\n"))
    local = run_sweep(cfg, tmp_path / "local", workers=2, progress=False)
    for p in local.points:
        ft = json.loads((Path(p.folder) / "checkpoint_finetuned" / "checkpoint.json").read_text())
        assert p.checkpoint.endswith("checkpoint_finetuned") and p.finetune is not None and p.finetune["epochs"] == 1
        # the fine-tuned network's accuracy on the point's exported chip over the whole test set, recomputed here
        # from the saved checkpoint by the hardware model of the point's mapping (chip seed 0: the exported chip)
        import torch
        predicted = chip_scores(load_checkpoint(p.checkpoint).model, point_options(p.parameters, seed=0),
                                test.frames).argmax(dim=1).numpy()
        assert p.finetune["hardware_test_accuracy"] == pytest.approx(float((predicted == test.labels).mean()),
                                                                     abs=1e-12)
        raw = torch.load(Path(p.checkpoint) / "checkpoint.pt", map_location="cpu", weights_only=True)
        assert raw["hardware"]["mapping_options"]["r_wire_ohm"] == p.parameters["r_wire_ohm"]
        assert ft["epoch"] == 1
        manifest = json.loads((Path(p.folder) / "chip0" / "export" / "manifest.json").read_text())
        assert manifest["checkpoint"]["epoch"] == 1            # exported from the fine-tuned network
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dist = run_sweep(cfg, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    for a, b in zip(local.points, dist.points):
        assert a.id == b.id and a.accuracy_mean == b.accuracy_mean
        assert b.energy_per_inference_j == pytest.approx(a.energy_per_inference_j, rel=1e-9, abs=0)
    with pytest.raises(SimulationError, match="tcp://127.0.0.1:9"):
        run_sweep(cfg, tmp_path / "nowhere", scheduler="tcp://127.0.0.1:9", progress=False)
    assert not (tmp_path / "nowhere").exists()
