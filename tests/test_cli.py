"""The ipnet-cosim command line, end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ipnet_cosim.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.mark.ngspice
@pytest.mark.openvaf
def test_characterize_writes_plots_and_json(tmp_path):
    out = tmp_path / "char"
    proc = cli("characterize", "--out", str(out), "--trials", "40", "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    for png in ("thermal_step_response.png", "resistance_vs_voltage.png", "switching_probability.png",
                "intrinsic_plasticity.png"):
        assert (out / png).stat().st_size > 10_000, png
    data = json.loads((out / "characterization.json").read_text())
    s = data["summary"]
    assert s["thermal_max_rel_err_spice_vs_analytic"] < 0.01
    assert s["resistance_max_rel_err"] < 0.005 and s["resistance_states_verified"] is True
    assert abs(s["plasticity_tau_fit_s_spice"] / s["plasticity_tau_th_s"] - 1) < 0.05
    prov = data["provenance"]
    assert prov["device_card"]["mtj"]["tmr0"] == 1.0 and "ngspice_version" in prov and prov["seed"] == 2
    # same inputs, same seed: byte-identical JSON
    again = tmp_path / "again"
    assert cli("characterize", "--out", str(again), "--trials", "40", "--seed", "2").returncode == 0
    assert (again / "characterization.json").read_bytes() == (out / "characterization.json").read_bytes()
    # every ngspice run carries its own seed: in this process instead of worker processes, the same JSON
    single = tmp_path / "single"
    assert cli("characterize", "--out", str(single), "--trials", "40", "--seed", "2", "--workers", "1").returncode == 0
    assert (single / "characterization.json").read_bytes() == (out / "characterization.json").read_bytes()


def test_bad_card_is_one_line_and_exit_2(tmp_path):
    card = tmp_path / "card.toml"
    card.write_text("[mtj]\nr_th_k_per_w = -5\n")
    proc = cli("card", "--check", str(card))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and "r_th_k_per_w" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_card_write_round_trips(tmp_path):
    path = tmp_path / "card.toml"
    assert cli("card", "--write", str(path)).returncode == 0
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.device.card_files import load_device_card
    assert load_device_card(path) == DeviceCard()


def test_cli_runs_as_a_module(tmp_path):
    """``python -m ipnet_cosim.cli`` is the same command line as ``ipnet-cosim``: a bad argument is one line, exit 2."""
    proc = subprocess.run([sys.executable, "-m", "ipnet_cosim.cli", "card", "--check", str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
