"""Working-memory experiments (n-back, free recall, interference) on the IP memory population.

Quick configurations, real neuron simulation (PyTorch twin, deterministic mode). Thresholds are
set with margin below what the quick configurations reach over seeds 0-7.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from ipnet_cosim.models.experiments import human_reference
from ipnet_cosim.models.experiments.wm_free_recall import run_free_recall
from ipnet_cosim.models.experiments.wm_interference import run_interference
from ipnet_cosim.models.experiments.wm_nback import run_nback

torch.set_num_threads(1)

TASKS = {"nback": run_nback, "free_recall": run_free_recall, "interference": run_interference}
REQUIRED_KEYS = {"experiment", "description", "provenance", "config", "units", "results", "human_reference",
                 "figure"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("wm")
    messages: list[str] = []
    data = {name: fn(out, seed=0, quick=True, progress=messages.append) for name, fn in TASKS.items()}
    return out, data, messages


def _check_common(out, name, data):
    assert (out / f"{name}.json").is_file()
    png = out / f"{name}.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    on_disk = json.loads((out / f"{name}.json").read_text())
    assert on_disk == json.loads(json.dumps(data))
    assert REQUIRED_KEYS <= set(on_disk)
    assert on_disk["experiment"] == name
    assert on_disk["provenance"]["model"] == "simulated: PyTorch twin of the thermal MTJ neuron, deterministic mode"
    cfg = on_disk["config"]
    assert cfg["seed"] == 0 and cfg["quick"] is True
    assert cfg["neuron"]["mode"] == "deterministic" and cfg["neuron"]["control_keep_heat"] is False
    proj = cfg["input_projection"]
    assert proj["units"] == "A" and proj["n_neurons"] > 0
    # drive centred a little below the cold threshold, which the neuron itself reports (~142.2 uA)
    assert 135e-6 < proj["cold_threshold_a"] < 150e-6
    assert abs(proj["i_center_a"] - proj["cold_threshold_a"]) < 3 * proj["i_spread_a"]
    card = cfg["device_card"]
    assert card["t_step_s"] == card["card"]["timing"]["t_step_s"]
    assert math.isclose(card["heat_decay_per_step"], math.exp(-card["t_step_s"] / card["tau_th_s"]), rel_tol=1e-5)
    return on_disk


def test_nback_quick(runs):
    out, data, messages = runs
    d = _check_common(out, "nback", data["nback"])
    res = d["results"]
    assert res["n"] == [1, 2, 3, 4]
    ip, ctl = res["ip_accuracy"], res["control_accuracy"]
    assert d["config"]["device_card"]["override"] == {}          # default card: tau_th = t_step
    # memory only from heat: the control is at chance, the IP population far above at n = 1
    assert all(0.4 < a < 0.6 for a in ctl), ctl
    assert ip[0] > 0.75 and ip[0] > ctl[0] + 0.2, (ip, ctl)
    # accuracy falls with n (non-increasing within a tolerance), to near chance at n = 4
    for a, b in zip(ip, ip[1:]):
        assert b <= a + 0.05, ip
    assert ip[-1] < ip[0] - 0.2 and ip[-1] < 0.62, ip
    for row in res["ip"]:
        lo, hi = row["accuracy"]["ci95"]
        assert lo <= row["accuracy"]["value"] <= hi
    assert d["human_reference"]["values"] == [] and "qualitative" in d["provenance"]["human_reference"]
    assert any(m.startswith("n-back") for m in messages)


def test_free_recall_quick(runs):
    out, data, _ = runs
    d = _check_common(out, "free_recall", data["free_recall"])
    res = d["results"]
    hits = res["ip_recall_probability"]
    length = len(hits)
    assert res["serial_position"] == list(range(1, length + 1))
    middle = max(hits[length // 2 - 1], hits[length // 2])
    assert hits[-1] > middle + 0.05, hits                          # recency
    assert hits[-1] > res["ip_false_alarm_rate"] + 0.2, (hits, res["ip_false_alarm_rate"])
    assert res["control_recall_probability"][-1] < hits[-1] - 0.15
    assert res["recency_span_positions"] >= 1
    # the primacy statement follows the intervals, the index its definition (recomputed here)
    first_above = res["ip"]["recall_probability"][0]["ci95"][0] > res["ip"]["false_alarm_rate"]["ci95"][1]
    assert res["primacy"].startswith("No primacy") is (not first_above), res["primacy"]
    middle = (hits[length // 2 - 1] + hits[length // 2]) / 2
    assert res["primacy_index"] == pytest.approx(hits[0] - middle, abs=1e-6)
    assert d["config"]["device_card"]["override"]["t_step_s"] == pytest.approx(1.5e-9, abs=0)
    assert "override_reason" in d["config"]["device_card"]


def test_interference_quick(runs):
    out, data, _ = runs
    d = _check_common(out, "interference", data["interference"])
    res = d["results"]
    assert res["conditions"] == ["blank", "dissimilar", "similar"]
    acc = dict(zip(res["conditions"], res["ip_accuracy"]))
    ctl = dict(zip(res["conditions"], res["control_accuracy"]))
    assert acc["similar"] <= acc["blank"], acc
    assert acc["blank"] > ctl["blank"] + 0.15, (acc, ctl)
    assert all(0.35 < v < 0.65 for v in ctl.values()), ctl
    for row in res["table_ip"]:
        # non-targets are related lures and unrelated items: their false-alarm rate is a mixture of the two,
        # and the accuracy a mixture of the hit rate and the correct-rejection rate
        lo, hi = sorted((row["false_alarm_rate_related_lure"], row["false_alarm_rate_unrelated"]))
        assert lo - 1e-12 <= row["false_alarm_rate"] <= hi + 1e-12, row
        lo, hi = sorted((row["hit_rate"], 1.0 - row["false_alarm_rate"]))
        assert lo - 1e-12 <= row["accuracy"] <= hi + 1e-12, row
    overlaps = d["config"]["task"]["mean_filler_overlap_with_target"]
    assert overlaps["blank"] is None and overlaps["dissimilar"] == 0.0
    assert overlaps["similar"] >= d["config"]["task"]["core_fraction"]
    # the verdict states the ranking and the most confusing condition the numbers give (recomputed here)
    ranking = sorted(res["conditions"], key=lambda c: acc[c], reverse=True)
    assert res["ranking_ip"] == ranking
    assert res["verdict"].startswith("similar fillers interfere most") is (ranking[-1] == "similar"), res["verdict"]
    most = max(res["lure_confusion_ip"], key=lambda c: res["lure_confusion_ip"][c])
    assert f"largest after {most} fillers" in res["verdict"], res["verdict"]


def test_same_seed_same_numbers(runs, tmp_path):
    _, data, _ = runs
    again = run_nback(tmp_path, seed=0, quick=True)
    assert json.dumps(again, sort_keys=True) == json.dumps(data["nback"], sort_keys=True)
    other = run_nback(tmp_path / "s1", seed=1, quick=True)
    assert other["results"]["ip_accuracy"] != data["nback"]["results"]["ip_accuracy"]


def test_every_human_number_is_cited(runs):
    _, data, _ = runs
    records = dict(human_reference.all_records())
    records.update({f"{name}.json": d["human_reference"] for name, d in data.items()})
    numbers = 0
    for name, record in records.items():
        assert record["note"], name
        for where, value, owner in human_reference.numeric_entries(record, name):
            numbers += 1
            assert owner.get("citation"), f"{where} = {value} has no citation"
            assert owner.get("read_at", "").startswith("http"), f"{where} = {value} has no source address"
            assert owner.get("where"), f"{where} = {value} does not say where in the source"
        if not record["values"]:
            assert "qualitative" in record["note"] or record["kind"] == "none", name
    assert numbers > 0        # Murdock (1962) Table 1 is stored with numbers
    # the checker itself finds an uncited number
    bad = {"values": [{"value": 0.9, "unit": "fraction"}]}
    assert any(not owner.get("citation") for _, _, owner in human_reference.numeric_entries(bad))
