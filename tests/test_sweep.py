"""``ipnet-cosim sweep``: configurations checked before any work (every bad input named), points expanded
deterministically, a real sweep of a small network through the twin, resumed without recomputation."""

from __future__ import annotations

import csv
import json
import shutil
import os
from pathlib import Path

import numpy as np
import pytest

from _small_net import SMALL_DATA, chip_scores, make_small_checkpoint
from ipnet_cosim.cli.app import main
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.sweep.run import pareto, run_sweep
from ipnet_cosim.sweep.config import load_sweep_config


def _config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sweep.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, message", [
    ("[parameters]\nfoo = [1]\n", "'foo' is unknown"),
    ("speed = 3\n[parameters]\nr_wire_ohm = [1.0]\n", "unknown key"),
    ("[parameters]\nr_wire_ohm = {min = 2.0, max = 1.0}\n", "min (2.0) > max (1.0)"),
    ("[parameters]\nr_wire_ohm = []\n", "empty"),
    ("[parameters]\ng_max_s = {min = 0.0, max = 1e-3, scale = 'log'}\n", "log range needs min > 0"),
    ("[parameters]\ng_max_s = {min = 1e-4, max = 1e-3, scale = 'cubic'}\n", "scale 'cubic'"),
    ("[parameters]\ng_min_s = [1e-3]\ng_max_s = [1e-4]\n", "G_min"),
    ("[parameters]\nlevels = [1]\n", "levels"),
    ("[parameters]\nsynapse = ['unobtainium']\n", "unobtainium"),
    ("[parameters]\nr_wire_ohm = [-1.0]\n", "r_wire_ohm"),
    ("mode = 'random'\npoints = 0\n[parameters]\nr_wire_ohm = [1.0]\n", "points"),
    ("samples = 0\n[parameters]\nr_wire_ohm = [1.0]\n", "samples"),
    ("chips = 0\n[parameters]\nr_wire_ohm = [1.0]\n", "chips"),
    ("samples = 3\n", "[parameters]"),
    ("[parameters]\nr_wire_ohm = [1.0]\n[verify]\nsimulator = 'spectre'\n", "spectre"),
    ("[parameters\nr_wire_ohm = [1.0]\n", "not valid TOML"),
    ("[firing]\nmode = 'lucky'\n[parameters]\nr_wire_ohm = [1.0]\n", "firing mode 'lucky' is unknown"),
    ("[firing]\nmode = 'stochastic'\ndraws = 0\n[parameters]\nr_wire_ohm = [1.0]\n", "draws (0) must be at least 1"),
])
def test_bad_configurations_are_named_before_any_work(tmp_path, capsys, text, message):
    refused_before_work(tmp_path, capsys, text, message)


def refused_before_work(tmp_path: Path, capsys, text: str, message: str) -> str:
    """``text`` as a sweep configuration: refused by load_sweep_config and by the CLI (exit 2, no traceback, no
    output folder), the message named in both; returns the CLI's stderr."""
    cfg = _config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_sweep_config(cfg)
    assert message in str(info.value)
    assert main(["sweep", str(cfg), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    return err


def test_points_are_expanded_deterministically(tmp_path):
    grid = load_sweep_config(_config(tmp_path, "[parameters]\nr_wire_ohm = [0.0, 1.0, 4.0]\n"
                                               "g_max_s = {min = 1e-4, max = 1e-3, n = 3, scale = 'log'}\n"
                                               "levels = {min = 4, max = 64, n = 2}\n"))
    pts = grid.points()
    assert len(pts) == 3 * 3 * 2
    assert sorted({p["g_max_s"] for p in pts}) == pytest.approx([1e-4, 10 ** -3.5, 1e-3])
    assert {p["levels"] for p in pts} == {4, 64} and all(isinstance(p["levels"], int) for p in pts)
    rnd = ("mode = 'random'\npoints = 7\nseed = 5\n[parameters]\nr_wire_ohm = {min = 0.5, max = 5.0}\n"
           "synapse = ['ideal', 'pcm']\n")
    a = load_sweep_config(_config(tmp_path, rnd)).points()
    b = load_sweep_config(_config(tmp_path, rnd)).points()
    assert a == b and len(a) == 7 and all(0.5 <= p["r_wire_ohm"] <= 5.0 for p in a)


def _point(pid: str, accuracy: float, energy_j: float):
    """A sweep point with the given accuracy and energy; every other figure a placeholder."""
    from ipnet_cosim.sweep.records import SweepPoint
    return SweepPoint(id=pid, parameters={}, chips=1, samples=1, accuracy_chip_draws=((accuracy,),),
                      accuracy_mean=accuracy, accuracy_std_over_draws=0.0, firing={"mode": "median"},
                      firing_note="median", energy_per_inference_j=energy_j, energy_per_spike_j=None, area_m2=1.0,
                      latency_s=1.0, throughput_inferences_per_s=1.0, sops_per_inference=1.0, sops_per_j=None,
                      soa_within=True, soa_margin_v=0.0, soa_margin_k=0.0, coin_flip_fraction={}, checkpoint="ck",
                      provenance="test", folder="f")


def test_pareto_front_keeps_only_undominated_points():
    pts = [_point("a", 0.9, 2.0), _point("b", 0.8, 1.0),
           _point("c", 0.8, 1.5),                                  # dominated by b
           _point("d", 0.95, 3.0)]
    assert pareto(pts) == ["a", "b", "d"]


def test_a_point_record_reads_back_what_it_wrote_and_names_damage(tmp_path):
    import json
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.sweep.records import SweepPoint, read_point
    point = _point("a", 0.9, 2.0)
    path = tmp_path / "point.json"
    path.write_text(json.dumps(point.to_dict()))
    assert read_point(path) == point
    data = point.to_dict()
    data["accuracy_mean"] = "high"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="accuracy_mean must be a number.*delete"):
        read_point(path)
    path.write_text("{")
    with pytest.raises(ConfigError, match="damaged.*delete"):
        read_point(path)
    assert SweepPoint.from_dict(json.loads(json.dumps(point.to_dict())), "p").accuracy_chips == (0.9,)


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_a_sweep_of_a_small_network_runs_and_resumes(tmp_path, capsys):
    ck = make_small_checkpoint(tmp_path / "ck", trained_steps=30)
    cfg = _config(tmp_path, f"checkpoint = '{ck}'\nsamples = 12\nchips = 2\n[parameters]\n"
                            f"r_wire_ohm = [0.0, 2.0]\nvariation_sigma = [0.0, 0.05]\nsynapse = ['ideal']\n"
                            f"[verify]\nsamples = 2\n")
    out = tmp_path / "sweep"
    assert main(["sweep", str(cfg), "-o", str(out), "--workers", "1"]) == 0
    result = json.loads((out / "sweep.json").read_text())
    pts = result["points"]
    assert len(pts) == 4 and result["pareto_ids"]
    for pid in result["pareto_ids"]:                 # circuit-verified in ngspice on 2 samples each
        v = next(p for p in pts if p["id"] == pid)["verified"]
        assert v["simulator"] == "ngspice" and len(v["samples"]) == 2 and v["all_spikes_equal_pytorch"]
        assert v["classes_agree_with_twin"] == 2 and v["circuit_accuracy"] == v["twin_accuracy_same_samples"]
    expected = _hardware_model_accuracies(ck, pts)
    for p in pts:
        assert p["chips"] == (2 if p["parameters"]["variation_sigma"] > 0 else 1) == len(p["accuracy_chips"])
        assert p["samples"] == 12
        # each chip's accuracy is its own exported chip's, computed here by the PyTorch hardware model (HardwareNet:
        # the chip's quantized, varied devices and exact IR drop) on the same samples; the point's is their mean
        assert p["accuracy_chips"] == pytest.approx(expected[p["id"]], abs=1e-12)
        assert p["accuracy_mean"] == pytest.approx(np.mean(expected[p["id"]]), abs=1e-12)
        assert p["energy_per_inference_j"] > 0 and p["area_m2"] > 0 and p["sops_per_j"] > 0
        timing = json.loads((Path(p["folder"]) / "chip0" / "export" / "manifest.json").read_text())["timing"]
        assert p["latency_s"] == pytest.approx(timing["n_steps"] * timing["t_step_s"], abs=0)
        assert (Path(p["folder"]) / "chip0" / "twin" / "results.json").is_file()
    page = (out / "sweep.html").read_text()
    assert "data:image/png;base64," in page and page.count("<tr>") == 5
    for pid in result["pareto_ids"]:               # Pareto points link to their report
        assert f"points/{pid}/report/report.html" in page
        assert (out / "points" / pid / "report" / "report.html").is_file()
    from ipnet_cosim.energy.browser_check import check_in_browser, chromium_path
    if chromium_path() is not None or os.environ.get("IPNET_COSIM_REQUIRE_SIMULATORS"):
        layout = check_in_browser(out / "sweep.html")      # a real headless Chromium lays the page out
        assert [im["ok"] for im in layout["images"]] == [True] and layout["images"][0]["width"] > 500
        assert [h["text"] for h in layout["headings"]][1:] == ["Pareto front", "Points"]
    with (out / "sweep.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["id", "r_wire_ohm", "synapse", "variation_sigma"] and len(rows) == 5
    stamps = {p["id"]: (out / "points" / p["id"] / "point.json").stat().st_mtime_ns for p in pts}
    messages: list[str] = []
    first = load_sweep_config(cfg)
    again = run_sweep(first, out, workers=1, progress=messages.append)
    assert "4 finished earlier, 0 to compute" in messages[0]
    assert {p["id"]: (out / "points" / p["id"] / "point.json").stat().st_mtime_ns for p in pts} == stamps
    assert json.loads(json.dumps(again.to_dict()))["points"] == pts      # verification read back from verify.json
    # another checkpoint or sample set in the same folder is refused, nothing overwritten
    other = _config(tmp_path, f"checkpoint = '{ck}'\nsamples = 4\n[parameters]\nr_wire_ohm = [0.0]\n")
    with pytest.raises(ConfigError, match="another checkpoint, samples, chips or fine-tuning"):
        run_sweep(load_sweep_config(other), out, workers=1, progress=False)
    # so is another network saved at the same path (a retrained or re-bundled checkpoint): not a resume
    pt = Path(ck) if Path(ck).is_file() else Path(ck) / "checkpoint.pt"
    pt.write_bytes(pt.read_bytes() + b"\0")          # other bytes at the same path
    with pytest.raises(ConfigError, match="another checkpoint, samples, chips or fine-tuning"):
        run_sweep(first, out, workers=1, progress=False)
    assert {p["id"]: (out / "points" / p["id"] / "point.json").stat().st_mtime_ns for p in pts} == stamps


def _hardware_model_accuracies(ck: Path, pts: list[dict]) -> dict[str, list[float]]:
    """Per point, the accuracy of each of its chips on the samples the sweep chose, from the hardware model
    (HardwareNet) of the checkpoint on the point's mapping with that chip's variation seed: a path independent of the
    sweep's export, twin and averaging. The predicted classes and class scores must also equal the twin's, sample by
    sample."""
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import load_dataset
    from ipnet_cosim.sweep.config import point_options
    model = load_checkpoint(ck).model
    _, test = load_dataset(SMALL_DATA)
    out: dict[str, list[float]] = {}
    for p in pts:
        accuracies = []
        for k in range(p["chips"]):
            res = json.loads((Path(p["folder"]) / f"chip{k}" / "twin" / "results.json").read_text())
            samples = [e["sample"] for e in res["per_sample"]]
            logits = chip_scores(model, point_options(p["parameters"], seed=k), test.frames[samples])
            predicted = logits.argmax(dim=1).numpy()
            assert [e["predicted_class"] for e in res["per_sample"]] == predicted.tolist()
            # the class scores too (chip-specific: another chip's variation changes them by ~1e-2 relative); the
            # scores are O(1) and the two paths sum in float64 in other orders and batches (measured <= 3e-12)
            np.testing.assert_allclose([e["scores"] for e in res["per_sample"]], logits.double().numpy(),
                                       rtol=1e-9, atol=1e-9)
            accuracies.append(float((predicted == test.labels[samples]).mean()))
        out[p["id"]] = accuracies
    return out


@pytest.mark.openvaf
def test_a_stochastic_sweep_ranks_points_by_their_accuracy_over_draws(tmp_path):
    """[firing] stochastic: every chip under every draw; each draw's accuracy is the exported chip's under the same
    recorded draws (computed here independently: the hardware model of the point's mapping on the default chip), the
    point's accuracy their mean."""
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.datasets import load_dataset
    from ipnet_cosim.models.firing import RecordedDraws
    from ipnet_cosim.sweep.config import point_options
    ck = make_small_checkpoint(tmp_path / "ck", trained_steps=30)    # accuracies that differ between draws
    cfg = _config(tmp_path, f"checkpoint = '{ck}'\nsamples = '0:8'\n[firing]\nmode = 'stochastic'\ndraws = 3\n"
                            f"seed = 4\n[parameters]\ntile_rows = [16, 64]\n")
    result = run_sweep(load_sweep_config(cfg), tmp_path / "sweep", workers=1, progress=False)
    assert result.firing == {"mode": "stochastic", "seed": 4, "draws": 3}
    model = load_checkpoint(ck).model
    _, test = load_dataset(SMALL_DATA)
    for p in result.points:
        expected = []
        for d in range(3):
            pred = chip_scores(model, point_options(p.parameters, seed=0), test.frames[:8],
                               draws=RecordedDraws(4, list(range(8)), [d] * 8)).argmax(dim=1).numpy()
            expected.append(float((pred == test.labels[:8]).mean()))
        assert len(set(expected)) > 1, "the draws must differ in accuracy for the mean to be checked"
        assert p.accuracy_chip_draws == (pytest.approx(expected, abs=1e-12),)
        assert p.accuracy_mean == pytest.approx(np.mean(expected))
        for d in (1, 2):
            res = json.loads((Path(p.folder) / "chip0" / f"twin_draw_{d}" / "results.json").read_text())
            assert {k: res["summary"]["firing"][k] for k in ("mode", "seed", "draw")} == \
                {"mode": "stochastic", "seed": 4, "draw": d}
        # energy per inference per draw: each draw's own report, its spread over the draws
        from ipnet_cosim.energy.report import build_report
        chip = Path(p.folder) / "chip0"
        own = []
        for d in range(3):
            alone = tmp_path / "alone" / p.id / str(d) / "run"
            shutil.copytree(chip / ("twin" if d == 0 else f"twin_draw_{d}"), alone)
            own.append(build_report(chip / "export", sim=alone)[0]["energy"]["total"]["value"])
        assert p.energy_per_inference_draws_j == pytest.approx(own, rel=1e-12, abs=0)
        assert p.energy_per_inference_std_over_draws_j == pytest.approx(np.std(own, ddof=1), rel=1e-9, abs=0)
    assert "stochastic" in (tmp_path / "sweep" / "sweep.html").read_text()
