"""Energy from waveforms against analytic circuits (ngspice) and the bookkeeping of a simulated export."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ipnet_cosim.simulation.integrate import cumulative_energy_j, energy_j, energy_per_step_j, source_power_w
from ipnet_cosim.netlist_gen.contract import SimFiles

R_OHM, C_F, V_V = 1e3, 1e-12, 0.8          # tau = 1 ns


def test_integrals_of_known_functions():
    t = np.linspace(0, 2e-9, 2001)
    p = 3e-3 * np.ones_like(t)
    assert energy_j(t, p) == pytest.approx(6e-12, rel=1e-12, abs=0)
    ramp = 1e-3 * t / t[-1]                               # the trapezoid is exact for linear power
    assert energy_j(t, ramp) == pytest.approx(1e-3 * 1e-9, rel=1e-12, abs=0)
    per = energy_per_step_j(t, np.stack([p, ramp]), 0.5e-9, 4)
    assert per.shape == (4, 2)
    np.testing.assert_allclose(per.sum(axis=0), energy_j(t, np.stack([p, ramp])), rtol=1e-12)
    np.testing.assert_allclose(per[:, 0], 1.5e-12, rtol=1e-9)
    assert cumulative_energy_j(t, p)[0] == 0.0
    with pytest.raises(ValueError, match="time axis"):
        energy_j(t, p[:-1])


def _rc_segment(a_v: float, b_v_per_s: float, v0_v: float, duration_s: float) -> tuple[float, float, float]:
    """R C driven by the ramp ``a + b s`` for ``duration`` from ``v_C = v0``: (energy dissipated in R, energy
    delivered by the source, v_C at the end). Exact solution v_C = a + b s - b tau + (v0 - a + b tau) e^(-s/tau);
    the energies by scipy's adaptive quadrature of it (relative error ~1e-13)."""
    from scipy.integrate import quad
    tau = R_OHM * C_F
    k = v0_v - a_v + b_v_per_s * tau

    def i_a(s: float) -> float:
        return C_F * (b_v_per_s - k / tau * math.exp(-s / tau))

    pts = [x * tau for x in (1, 3, 10) if x * tau < duration_s]
    e_r = quad(lambda s: R_OHM * i_a(s) ** 2, 0.0, duration_s, points=pts or None, epsabs=0, epsrel=1e-13,
               limit=200)[0]
    e_src = quad(lambda s: (a_v + b_v_per_s * s) * i_a(s), 0.0, duration_s, points=pts or None, epsabs=0,
                 epsrel=1e-13, limit=200)[0]
    return e_r, e_src, a_v + b_v_per_s * duration_s - b_v_per_s * tau + k * math.exp(-duration_s / tau)


@pytest.mark.ngspice
def test_rc_charged_by_a_pulse_stores_and_dissipates_half_cv2():
    """A pulse of V with 0.1 ps edges through R into C: the source delivers C V^2, half is stored, half is
    dissipated; then the pulse ends and the stored half is dissipated in R as well. Compared with the exact solution
    of the same circuit, edges included (they move the figures by 2-3e-5 from the ideal step's C V^2 / 2)."""
    from ipnet_cosim.circuits.runner import run_netlist
    t_on, t_edge = 20 * R_OHM * C_F, 1e-13                 # 20 tau: charged to 1 - 2e-9
    netlist = "\n".join([
        "rc energy",
        f"V1 in 0 PWL(0 0 {t_edge} {V_V} {t_on} {V_V} {t_on + t_edge} 0)",
        f"R1 in out {R_OHM}",
        f"C1 out 0 {C_F}",
        f".tran 1e-12 {2 * t_on} 0 1e-11",
        ".save v(in) v(out) i(V1)",
        ".end"])
    w = run_netlist(netlist)
    t = w.time_s
    p_src = source_power_w(w["in"], w["v1#branch"])
    i_r = (w["in"] - w["out"]) / R_OHM
    p_r = i_r ** 2 * R_OHM
    # the exact figures, segment by segment: rise, flat top, fall, rest at 0 V
    r1, s1, v1 = _rc_segment(0.0, V_V / t_edge, 0.0, t_edge)
    r2, s2, v2 = _rc_segment(V_V, 0.0, v1, t_on - t_edge)
    r3, s3, v3 = _rc_segment(V_V, -V_V / t_edge, v2, t_edge)
    r4, s4, _ = _rc_segment(0.0, 0.0, v3, t_on - t_edge)
    half = 0.5 * C_F * V_V ** 2
    assert (s1 + s2) / (2 * half) == pytest.approx(1, abs=5e-5) and (r1 + r2) / half == pytest.approx(1, abs=5e-5)
    on = t <= t_on
    # the source's energy integrates v i with both linear between time points (exact then): what remains is
    # ngspice's own truncation error (measured 1.4e-6)
    assert energy_j(t[on], p_src[on]) == pytest.approx(s1 + s2, rel=1e-5, abs=0)
    # the resistor's i^2 R by the trapezoidal rule between points at most tau / 100 apart: its error on the
    # exponential is below (h / tau)^2 / 3 = 3.3e-5 (measured 2.7e-5)
    assert energy_j(t[on], p_r[on]) == pytest.approx(r1 + r2, rel=1e-4, abs=0)
    assert 0.5 * C_F * w["out"][on][-1] ** 2 == pytest.approx(0.5 * C_F * v2 ** 2, rel=1e-9, abs=0)     # measured 7e-13
    # after the pulse R dissipates the stored half; the source, back at 0 V, takes back only what flows during the
    # falling edge (1.5e-5 of C V^2)
    assert energy_j(t, p_r) == pytest.approx(r1 + r2 + r3 + r4, rel=1e-4, abs=0)
    assert energy_j(t, p_src) == pytest.approx(s1 + s2 + s3 + s4, rel=1e-5, abs=0)


def _row_conductances(netlist: str, tiles: list[dict]) -> dict[int, float]:
    """Sum of the cell conductances on every (global) row of an ideal unit netlist."""
    g: dict[int, float] = {}
    current = None
    for line in netlist.splitlines():
        if line.startswith(".subckt"):
            current = next(t for t in tiles if t["subckt"] == line.split()[1])
        elif line.startswith(".ends"):
            current = None
        elif current is not None and line[:2] in ("Rp", "Rm"):
            name, _, _, r_ohm = line.split()
            row = current["rows"][0] + int(name[2:].split("_")[0])
            g[row] = g.get(row, 0.0) + 1.0 / float(r_ohm)
    return g


R_DRIVER_OHM = 100.0


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, openvaf_tool, ngspice_tool):
    """A small export with a driver resistance, simulated on 2 samples with energy vectors."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _small_net import make_small_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.simulation.simulate import simulate_export
    base = tmp_path_factory.mktemp("energy")
    ck = make_small_checkpoint(base / "ck")
    out = base / "exp"
    export_network(ck, out, samples=[0, 1], options=MappingOptions(r_driver_ohm=R_DRIVER_OHM))
    res = simulate_export(out, workers=1, progress=False, compare=False)
    return out, res


@pytest.mark.ngspice
def test_simulated_export_energies_add_up(simulated):
    """Per-step, per-unit energies of a small export with a driver resistance R_d: every row's loss in R_d
    is the share R_d G / (1 + R_d G) of what its source delivers (G = the row's cell conductances to the
    0 V columns), the neurons' Joule energy is larger in the steps they fire, shapes follow the manifest."""
    out, res = simulated
    r_d = R_DRIVER_OHM
    manifest = json.loads((out / "manifest.json").read_text())
    n_steps = manifest["timing"]["n_steps"]
    fired_e, quiet_e = [], []
    for s in (0, 1):
        e = np.load(out / "sim" / f"energy_sample_{s:04d}.npz")
        spikes = np.load(out / "sim" / f"spikes_sample_{s:04d}.npz")
        for layer in manifest["layers"]:
            units = [u for u in manifest["units"] if u["layer"] == layer["index"]]
            src, rd = e[f"{layer['name']}_source_j"], e[f"{layer['name']}_rdriver_j"]
            assert src.shape == rd.shape == (len(units), n_steps)
            assert np.all(src >= -1e-21) and np.all(rd >= 0) and src.sum() > 0
            for u in units[:3]:
                folder = out / "sim" / "cache" / f"sample_{s:04d}"
                # a neuron unit runs in parts of neurons; its first part carries the unit's row energies
                part = folder / f"{u['name']}.n0.npz"
                cached = np.load(part if part.exists() else folder / f"{u['name']}.npz")
                g = _row_conductances((out / u["netlist"]).read_text(), u["tiles"])
                e_src, e_rd = cached["e_source_j"], cached["e_rdriver_j"]     # [T, rows]
                for row, g_row in g.items():
                    active = e_src[:, row] > 1e-6 * e_src.max()
                    np.testing.assert_allclose(e_rd[active, row] / e_src[active, row],
                                               r_d * g_row / (1 + r_d * g_row), rtol=1e-3)
            if layer["unit"] != "integrate":
                e_n = e[f"{layer['name']}_neuron_j"]
                assert e_n.shape == (n_steps, math.prod(layer["out_shape"])) and np.all(e_n >= 0)
                fired = spikes[SimFiles.spike_key(layer['name'])]
                fired_e += list(e_n[fired])
                quiet_e += list(e_n[~fired])
    assert len(fired_e) > 10 and np.mean(fired_e) > np.mean(quiet_e)
    assert res.summary.samples == 2


@pytest.mark.ngspice
def test_breakdown_attributes_every_joule(simulated):
    """Categories: the simulated ones are the sums of the simulated arrays; the computed ones follow their
    formulas; spikes + silent neurons + readout = total."""
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.energy.accounting import PeripheryAssumptions, energy_breakdown, load_simulation
    out, _ = simulated
    data = load_simulation(out)
    a = PeripheryAssumptions(v_dd_v=1.2)
    b = energy_breakdown(data, a)
    n = len(data.samples)
    man = data.manifest
    heat = sum(data.energy[s][f"{l.name}_neuron_j"].sum() for s in data.samples for l in man.hidden_layers)
    src = sum(data.energy[s][f"{l.name}_source_j"].sum() for s in data.samples for l in man.layers)
    rd = sum(data.energy[s][f"{l.name}_rdriver_j"].sum() for s in data.samples for l in man.layers)
    spikes = sum(data.spikes[s][SimFiles.spike_key(l.name)].sum() for s in data.samples for l in man.hidden_layers)
    tot = {k: v["value"] for k, v in b["totals"].items()}
    assert tot["neuron_heating"] == pytest.approx(heat / n, rel=1e-12, abs=0)
    assert tot["crossbar_read"] + tot["input_drivers"] == pytest.approx(src / n, rel=1e-12, abs=0)
    assert tot["input_drivers"] == pytest.approx(rd / n, rel=1e-12, abs=0) and rd > 0
    mtj = DeviceCard.from_dict(man.device_card).mtj
    r_ap = mtj.r_p_ohm * (1 + mtj.tmr0)
    mand = man.to_dict()
    t_reset = mand["device_card"]["timing"]["t_reset_s"]
    assert tot["reset"] == pytest.approx(spikes / n * mtj.ic0_a ** 2 * r_ap * t_reset, rel=1e-12, abs=0)
    n_steps_neurons = sum(data.spikes[s][SimFiles.spike_key(l["name"])].size
                          for s in data.samples for l in mand["layers"]
                          if l["unit"] != "integrate")
    e_p, e_ap = 0.1 ** 2 / mtj.r_p_ohm * 0.5e-9, 0.1 ** 2 / r_ap * 0.5e-9      # default read: 0.1 V, 0.5 ns
    assert tot["spike_read"] == pytest.approx((spikes * e_ap + (n_steps_neurons - spikes) * e_p) / n, rel=1e-12, abs=0)
    charge = sum(data.energy[s][f"{l['name']}_neuron_charge_c"].sum() for s in data.samples for l in mand["layers"]
                 if l["unit"] != "integrate")
    assert tot["mirror_supply"] == pytest.approx((1.2 * charge - heat) / n, rel=1e-9, abs=0)
    assert b["total"]["value"] == pytest.approx(sum(tot.values()), rel=1e-12, abs=0)
    c = b["check"]
    assert c["attributed_to_spikes_j"] + c["silent_neurons_j"] + c["readout_j"] == pytest.approx(c["total_j"],
                                                                                               rel=1e-9, abs=0)
    assert b["per_spike"]["count"]["value"] == spikes and c["attributed_to_spikes_j"] > 0
    assert sum(b["per_spike"]["values_j"]) == pytest.approx(c["attributed_to_spikes_j"] * n, rel=1e-9, abs=0)
    per_neuron = sum(sum(v) for v in b["per_neuron_j"].values())
    assert per_neuron == pytest.approx(c["attributed_to_spikes_j"] + c["silent_neurons_j"], rel=1e-9, abs=0)
    assert set(b["per_neuron_j"]) == {l["name"] for l in mand["layers"] if l["unit"] != "integrate"}
    layer_sum = sum(l["total"]["value"] for l in b["layers"])
    assert layer_sum == pytest.approx(b["total"]["value"], rel=1e-12, abs=0)
    for q in [*b["totals"].values(), b["total"], b["memory"]["ipnet_j_per_step"]]:
        assert q["unit"] == "J" and q["provenance"] in ("simulated", "computed") and q["source"]
    # the heat-memory layer's heating per step is IPNet's memory energy
    heat0 = sum(data.energy[s][f"{l['name']}_neuron_j"].sum() for s in data.samples for l in mand["layers"]
                if l["unit"] == "heat")
    assert b["memory"]["ipnet_j_per_step"]["value"] == pytest.approx(heat0 / n / mand["timing"]["n_steps"], abs=0)


@pytest.mark.ngspice
def test_breakdown_refuses_missing_or_partial_simulations(simulated, tmp_path):
    import shutil
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.energy.accounting import PeripheryAssumptions, load_simulation
    out, _ = simulated
    with pytest.raises(ConfigError, match="not an export"):
        load_simulation(tmp_path)
    copy = tmp_path / "exp"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("cache", "checkpoint", "netlists"))
    (copy / "sim" / "energy_sample_0001.npz").unlink()
    with pytest.raises(ConfigError, match="without current vectors"):
        load_simulation(copy)
    e = dict(np.load(out / "sim" / "energy_sample_0001.npz"))
    e.pop("layer0_neuron_charge_c")
    np.savez(copy / "sim" / "energy_sample_0001.npz", **e)
    with pytest.raises(ConfigError, match="layer0_neuron_charge_c"):
        load_simulation(copy)
    (copy / "sim" / "spikes_sample_0000.npz").unlink()
    with pytest.raises(ConfigError, match="partial"):
        load_simulation(copy)
    shutil.rmtree(copy / "sim")
    with pytest.raises(ConfigError, match="ipnet-cosim simulate"):
        load_simulation(copy)
    with pytest.raises(ConfigError, match="v_dd_v"):
        PeripheryAssumptions(v_dd_v=-1.0)


def test_energy_modules_do_not_import_torch():
    code = ("import sys, ipnet_cosim.simulation.integrate, ipnet_cosim.energy.quantity, ipnet_cosim.energy.accounting; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
