"""The figures of the neuron characterization (:mod:`~ipnet_cosim.models.characterize`): one PNG per part
(matplotlib, imported only here)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

# -- plots ---------------------------------------------------------------------------------------------

def _figure(ncols: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.0 * ncols, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]
    return fig, axes


def _save(fig, path: Path) -> None:
    fig.savefig(path, metadata={"Software": None})


def plot_thermal(d: dict[str, Any], path: Path) -> None:
    fig, (ax, ax_err) = _figure(2)
    pl = d["_plot"]
    ax.plot(pl["t_spice_s"] * 1e9, pl["rise_spice_k"], "-", lw=2.2, color="C0", label="ngspice (th0)")
    ax.plot(np.asarray(d["time_s"]) * 1e9, d["t_rise_k_analytic"], "--", color="k", lw=1.2,
            label=r"analytic $P R_{th}(1-e^{-t/\tau_{th}})$")
    ax.plot(np.asarray(d["time_s_torch"]) * 1e9, d["t_rise_k_torch"], "o", ms=3.5, mfc="none", color="C1",
            label="PyTorch neuron")
    ax.axvline(d["t_on_s"] * 1e9, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("time (ns)")
    ax.set_ylabel("temperature rise above ambient (K)")
    ax.set_title(f"Thermal step response: {d['current_a'] * 1e6:.0f} µA step, "
                 f"τ_th = {d['tau_th_s'] * 1e9:.2f} ns")
    ax.legend(loc="lower center", fontsize=8)
    ax.grid(alpha=0.3)
    ax_err.semilogy(pl["t_spice_s"] * 1e9, np.clip(pl["rel_err_spice"], 1e-12, None), color="C0",
                    label="|ngspice - analytic| (every time point)")
    t_pt = np.asarray(d["time_s_torch"])
    err_sp_pt = np.abs(np.interp(t_pt, pl["t_spice_s"], pl["rise_spice_k"]) - np.asarray(d["t_rise_k_torch"]))
    ax_err.semilogy(t_pt * 1e9, np.clip(err_sp_pt / d["t_rise_peak_analytic_k"], 1e-12, None), "o", ms=3,
                    mfc="none", color="C1", label="|ngspice - PyTorch|")
    ax_err.set_xlabel("time (ns)")
    ax_err.set_ylabel("|difference| / analytic peak rise (1)")
    ax_err.set_title(f"ngspice vs analytic: max {d['max_rel_err_spice_vs_analytic']:.1e}; "
                     f"PyTorch vs analytic: {d['max_rel_err_torch_vs_analytic']:.0e}", fontsize=10)
    ax_err.axvline(d["t_on_s"] * 1e9, color="0.6", lw=0.8, ls=":")
    ax_err.legend(loc="lower center", fontsize=8)
    ax_err.grid(alpha=0.3, which="both")
    _save(fig, path)


def plot_resistance(d: dict[str, Any], path: Path) -> None:
    fig, (ax, ax_err) = _figure(2)
    for name, color, label in (("p", "C0", "P (rest)"), ("ap", "C3", "AP (fired)")):
        e = d[name]
        v = np.asarray(e["voltage_v"])
        ax.plot(v, np.asarray(e["resistance_ohm_spice"]) / 1e3, "o", ms=3.5, color=color,
                label=f"{label}: ngspice")
        ax.plot(v, np.asarray(e["resistance_ohm_formula"]) / 1e3, "-", color="k", lw=0.9,
                label=f"{label}: formula" if name == "p" else None)
        ax.plot(v, np.asarray(e["resistance_ohm_torch"]) / 1e3, "--", color=color, lw=1.2,
                label=f"{label}: PyTorch")
        err = np.abs(np.asarray(e["resistance_ohm_spice"]) / np.asarray(e["resistance_ohm_formula"]) - 1)
        ax_err.semilogy(v, np.clip(err, 1e-17, None), "o-", ms=3, color=color, label=f"{label}: ngspice vs formula")
    ax.set_xlabel("MTJ voltage V (V)")
    ax.set_ylabel("resistance R (kΩ)")
    ax.set_title("R(V): P = R_P, AP = R_P(1 + TMR0/(1 + V²/Vh²))")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax_err.set_xlabel("MTJ voltage V (V)")
    ax_err.set_ylabel("relative error |R_spice/R_formula - 1| (1)")
    ax_err.set_title(f"R(V) relative error: max {d['max_rel_err']:.1e} (zeros drawn at 1e-17)")
    ax_err.legend(fontsize=8)
    ax_err.grid(alpha=0.3, which="both")
    _save(fig, path)


def plot_switching(d: dict[str, Any], path: Path) -> None:
    from matplotlib.lines import Line2D
    fig, (ax,) = _figure(1)
    fig.set_size_inches(8.6, 5.2)
    handles = []
    for k, c in enumerate(d["curves"]):
        color = f"C{k}"
        i_ua = np.asarray(c["current_a"]) * 1e6
        p = np.asarray(c["p_spice"])
        yerr = np.vstack([p - np.asarray(c["p_spice_ci95_low"]), np.asarray(c["p_spice_ci95_high"]) - p])
        ax.plot(np.asarray(c["current_a_fine"]) * 1e6, c["p_torch_expected_fine"], "-", color=color, lw=1.4)
        ax.plot(i_ua, c["p_torch_stochastic"], "x", color=color, ms=6)
        ax.errorbar(i_ua, p, yerr=yerr, fmt="o", ms=5, mfc="none", color=color, capsize=2.5)
        handles.append(Line2D([], [], color=color, lw=3, label=f"T_amb = {c['t_amb_k']:.0f} K"))
    handles += [Line2D([], [], color="k", lw=1.4, label="PyTorch expected\n1 - exp(-H), cold start"),
                Line2D([], [], color="k", marker="x", ls="none", label="PyTorch stochastic"),
                Line2D([], [], color="k", marker="o", mfc="none", ls="none",
                       label="ngspice stochastic\n(95 % Wilson CI)")]
    ax.set_xlabel("pulse current (µA)")
    ax.set_ylabel("switching probability per pulse (1)")
    ax.set_title(f"Switching probability: {d['t_pulse_s'] * 1e9:g} ns pulse, step "
                 f"{d['t_step_s'] * 1e9:g} ns, {d['trials_per_point']} trials per point")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def plot_plasticity(d: dict[str, Any], path: Path) -> None:
    fig, (ax, ax_t) = _figure(2)
    x = np.asarray(d["delay_s"]) * 1e9
    p = np.asarray(d["p_spice"])
    yerr = np.vstack([p - np.asarray(d["p_spice_ci95_low"]), np.asarray(d["p_spice_ci95_high"]) - p])
    ax.errorbar(x, p, yerr=yerr, fmt="o", color="C0", capsize=3, label="ngspice (95 % CI)")
    ax.plot(x, d["p_torch_expected"], "-", color="C1", label="PyTorch expected")
    ax.plot(x, d["p_torch_stochastic"], "x", color="C2", ms=7, label="PyTorch stochastic")
    ax.axhline(d["baseline_p_spice"], color="C0", ls=":", lw=1.2,
               label=f"no conditioning: ngspice {d['baseline_p_spice']:.3f}")
    ax.axhline(d["baseline_p_torch_expected"], color="C1", ls="--", lw=1.0,
               label=f"no conditioning: PyTorch {d['baseline_p_torch_expected']:.3f}")
    ax.set_xlabel(f"delay from conditioning to test pulse (ns; step = {d['t_step_s'] * 1e9:g} ns)")
    ax.set_ylabel("test-pulse firing probability (1)")
    ax.set_title(f"Intrinsic plasticity through the bounded drive: test {d['current_a_test'] * 1e6:.1f} µA "
                 f"after {d['current_a_conditioning'] * 1e6:.1f} µA (ceiling {d['drive']['i_max_a'] * 1e6:.0f} µA)",
                 fontsize=9)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    rise = np.asarray(d["t_rise_k_test_start_spice"])
    ax_t.semilogy(x, np.clip(rise, 1e-6, None), "o", color="C0", label="ngspice (mean over trials)")
    ax_t.semilogy(x, d["t_rise_k_test_start_torch"], "x", color="C1", ms=7, label="PyTorch")
    xx = np.linspace(x[0], x[-1], 100)
    if d["tau_fit_s_spice"] is not None:
        ax_t.semilogy(xx, d["amplitude_fit_k_spice"] * np.exp(-xx * 1e-9 / d["tau_fit_s_spice"]), "-", color="C0",
                      lw=1, label=f"fit: τ = {d['tau_fit_s_spice'] * 1e9:.3f} ns")
        ref0 = rise[0] * math.exp(x[0] * 1e-9 / d["tau_th_s"])
        ax_t.semilogy(xx, ref0 * np.exp(-xx * 1e-9 / d["tau_th_s"]), "--", color="k", lw=1,
                      label=f"card τ_th = R_th C_th = {d['tau_th_s'] * 1e9:.3f} ns")
    ax_t.set_xlabel(f"delay from conditioning to test pulse (ns; step = {d['t_step_s'] * 1e9:g} ns)")
    ax_t.set_ylabel("temperature rise at test-pulse start (K)")
    ax_t.set_title("Heat left at the test pulse (the neuron's memory)")
    ax_t.grid(alpha=0.3, which="both")
    ax_t.legend(fontsize=8)
    _save(fig, path)
