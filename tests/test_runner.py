"""The ngspice runner and the Verilog-A model against analytic solutions, plus every failure path."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ipnet_cosim.circuits.runner import run_netlist
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConvergenceError, NetlistError, OsdiLoadError

pytestmark = pytest.mark.ngspice
CARD = DeviceCard()


def test_thermal_step_matches_rc_solution(osdi_path):
    """A constant sub-threshold current: T rise = P R_th (1 - exp(-t/tau)), P = I^2 R_P."""
    m = CARD.mtj
    i_a = 115e-6
    t_stop = 5 * m.tau_th_s
    net = textwrap.dedent(f"""\
        * thermal step
        {m.model_card()}
        N0 a 0 u rst th st mtjn
        I0 0 a PWL(0 0 1e-15 {i_a} 1 {i_a})
        Vu u 0 0.5
        Vrst rst 0 0
        .options reltol=1e-5
        .tran 1e-12 {t_stop} 0 5e-12
        .end
        """)
    w = run_netlist(net, [osdi_path])
    t = w.time_s
    assert np.max(w["st"]) < 0.5, "the step must stay sub-threshold"
    p_w = i_a ** 2 * m.r_p_ohm
    analytic = p_w * m.r_th_k_per_w * (1 - np.exp(-t / m.tau_th_s))
    peak = analytic.max()
    err = np.max(np.abs(w["th"] - analytic)) / peak
    assert err < 0.01, f"max error {err:.2%} of the peak rise"
    # and the run really heated the device by tens of kelvin
    assert peak > 30


def rv_rest_state(osdi_path):
    """DC sweep of V across the MTJ held in the rest (P) state: reset high, draw 1e-300.

    With the reset high the DC hazard is at most G_max tau_reset (~220), below the
    threshold -ln(1e-300) = 690, so the device cannot fire at any bias."""
    m = CARD.mtj
    net = textwrap.dedent(f"""\
        * R(V), rest state
        {m.model_card()}
        N0 a 0 u rst th st mtjn
        Vs a 0 0
        Vu u 0 1e-300
        Vrst rst 0 1
        .dc Vs -0.8 0.8 0.01
        .end
        """)
    w = run_netlist(net, [osdi_path])
    return w["v-sweep"], -w["vs#branch"], w["st"]


def rv_fired_state(osdi_path):
    """Fire with a 0.8 V pulse (the AP current stays supra-threshold, so the switch completes), then sweep V from
    -0.8 V to 0.8 V: the hazard only grows until a reset, so the device stays antiparallel over the whole sweep."""
    m = CARD.mtj
    net = textwrap.dedent(f"""\
        * R(V), fired state
        {m.model_card()}
        N0 a 0 u rst th st mtjn
        Vs a 0 PWL(0 0 10e-12 0.8 1e-9 0.8 2e-9 -0.8 20e-9 0.8)
        Vu u 0 0.5
        Vrst rst 0 0
        .tran 10e-12 20e-9 0 50e-12
        .end
        """)
    w = run_netlist(net, [osdi_path])
    keep = w.time_s >= 2e-9
    return w["a"][keep], -w["vs#branch"][keep], w["st"][keep]


@pytest.mark.parametrize("fired", [False, True])
def test_resistance_vs_bias(osdi_path, fired):
    m = CARD.mtj
    v, i, st = rv_fired_state(osdi_path) if fired else rv_rest_state(osdi_path)
    assert (np.all(st > 0.999) if fired else np.all(st < 1e-3)), "the device must be in the intended state"
    assert v.min() < -0.79 and v.max() > 0.79, "the sweep covers -0.8 V .. 0.8 V"
    keep = np.abs(v) > 1e-3
    v, r = v[keep], v[keep] / i[keep]
    expected = m.r_p_ohm * (1 + (m.tmr0 / (1 + v ** 2 / m.vh_v ** 2) if fired else 0.0))
    err = np.max(np.abs(r - expected) / expected)
    assert err < 0.005, f"max error {err:.3%}"
    if fired:  # the bias dependence is really there: R at 0.8 V well below R near 0 V
        assert r[np.argmax(np.abs(v))] < 0.8 * r[np.argmin(np.abs(v))]


def test_netlist_error_names_the_element():
    with pytest.raises(NetlistError, match="nosub"):
        run_netlist("* bad\nR1 a 0 1k\nXq a b c nosub\n.tran 1n 2n\n.end\n")


def test_unknown_model_is_a_netlist_error(osdi_path):
    with pytest.raises(NetlistError, match="nosuchmodel"):
        run_netlist("* bad\nN1 a 0 u r th st nosuchmodel\nR1 a 0 1k\n.tran 1n 2n\n.end\n", [osdi_path])


def test_non_convergence_is_reported():
    # KCL at a: -1 A = V^2 + 1 has no real solution
    with pytest.raises(ConvergenceError, match="did not converge"):
        run_netlist("* impossible\nI1 0 a -1\nB1 a 0 I=V(a)*V(a)+1\n.tran 1n 2n\n.end\n")


def test_runner_recovers_after_errors(osdi_path):
    with pytest.raises(NetlistError):
        run_netlist("* bad\nXq a b nosub\n.tran 1n 2n\n.end\n")
    w = run_netlist("* ok\nV1 a 0 1\nR1 a 0 2\n.op\n.end\n")
    assert w.analysis == "op" and math.isclose(float(w["v1#branch"][0]), -0.5)


def test_simulator_statistics_count_the_run(osdi_path):
    """``stats=True`` reads ngspice's own counts: one accepted time point per output point, at least one
    Newton iteration per time point, device evaluation within the analysis time."""
    w = run_netlist("* rc\nV1 a 0 PULSE(0 1 1n 1n 1n 5n 20n)\nR1 a b 1k\nC1 b 0 1p\n.tran 0.1n 30n\n.end\n",
                    stats=True)
    st = w.stats
    assert st["accepted_timepoints"] == w.time_s.size
    assert st["iterations"] >= st["accepted_timepoints"] and st["equations"] >= 2
    assert 0 < st["load_time_s"] <= st["analysis_time_s"]
    assert run_netlist("* rc\nV1 a 0 1\nR1 a 0 2\n.op\n.end\n").stats == {}


def test_cleanup_between_runs():
    """Every run destroys its plots and removes its circuit, so nothing accumulates."""
    from ipnet_cosim.circuits import runner
    for _ in range(3):
        run_netlist("* ok\nV1 a 0 1\nR1 a 0 2\n.op\n.end\n")
    session = runner._session()
    assert [p for p in session.ng.plot_names if p != "const"] == []
    before = len(session.lines)
    run_netlist("* ok\nV1 a 0 1\nR1 a 0 2\n.op\n.end\n")
    assert len(session.lines) == before, "the output capture does not grow"


def test_missing_osdi(tmp_path):
    with pytest.raises(OsdiLoadError, match="does not exist"):
        run_netlist("* x\nR1 a 0 1\n.op\n.end\n", [tmp_path / "missing.osdi"])


def test_corrupt_osdi(tmp_path):
    bad = tmp_path / "corrupt.osdi"
    bad.write_bytes(b"\x7fELF this is not a shared library" * 10)
    with pytest.raises(OsdiLoadError, match="recompile"):
        run_netlist("* x\nR1 a 0 1\n.op\n.end\n", [bad])


def _run_isolated(code: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_missing_ngspice_library_is_a_clear_error():
    code = textwrap.dedent("""\
        import ctypes.util
        ctypes.util.find_library = lambda name: None   # a machine without libngspice
        import os; os.environ.pop("NGSPICE_LIBRARY_PATH", None)
        from ipnet_cosim.circuits.runner import run_netlist, available
        from ipnet_cosim.device.errors import SimulatorNotFoundError
        assert not available()
        try:
            run_netlist("* x\\nR1 a 0 1\\n.op\\n.end\\n")
        except SimulatorNotFoundError as e:
            print("OK", e)
        """)
    out = _run_isolated(code, {})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK") and "apt-get install" in out.stdout


def test_bad_library_path_is_a_clear_error(tmp_path):
    code = textwrap.dedent("""\
        from ipnet_cosim.circuits.runner import run_netlist
        from ipnet_cosim.device.errors import SimulatorNotFoundError
        try:
            run_netlist("* x\\nR1 a 0 1\\n.op\\n.end\\n")
        except SimulatorNotFoundError as e:
            print("OK", e)
        """)
    out = _run_isolated(code, {"NGSPICE_LIBRARY_PATH": str(tmp_path / "libngspice.so")})
    assert out.returncode == 0, out.stderr
    assert "NGSPICE_LIBRARY_PATH" in out.stdout


def test_importing_the_package_starts_nothing_heavy():
    code = ("import sys, ipnet_cosim.device, ipnet_cosim.circuits.runner, ipnet_cosim.circuits.neuron_bench, "
            "ipnet_cosim.models, ipnet_cosim.cli.app, ipnet_cosim.netlist_gen.contract, "
            "ipnet_cosim.simulation.simulate, ipnet_cosim.energy.report\n"
            "heavy = [m for m in ('torch', 'matplotlib', 'PySpice') if m in sys.modules]\nprint(heavy)")
    out = _run_isolated(code, {})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_waveform_error_with_a_time_tolerance():
    """A step shifted by 5 fs: pointwise the whole jump is the error, within a 0.1 ps tolerance none is;
    a 1 % level difference stays 1 % at any tolerance; crossing times are linear between points."""
    from ipnet_cosim.circuits.compare import crossing_times_s, waveform_error
    t = np.array([0.0, 1e-9, 1e-9 + 1e-15, 2e-9])
    step = np.array([0.0, 0.0, 1.0, 1.0])
    shifted = t + 5e-15
    assert waveform_error(t, step, shifted, step) > 0.5
    assert waveform_error(t, step, shifted, step, time_tol_s=1e-13) < 1e-12
    assert abs(waveform_error(t, step, t, 1.01 * step, time_tol_s=1e-13) - 0.01) < 1e-12
    np.testing.assert_allclose(crossing_times_s(t, step), [1e-9 + 0.5e-15], rtol=1e-12)
