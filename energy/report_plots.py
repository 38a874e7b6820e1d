"""The plots of an ``ipnet-cosim report`` (PNG bytes, matplotlib with the Agg backend; no timestamp in the files, so
that a rerun writes the same bytes): energy per category and layer, per-spike and per-neuron energies, the safe
operating area's peaks, the memory-energy ratios beside the paper's, and the draws."""

from __future__ import annotations

import io
from typing import Any, Mapping

import numpy as np

from ipnet_cosim.energy.accounting import CATEGORIES, SimulationData

CATEGORY_LABELS = {"input_drivers": "input drivers", "crossbar_read": "crossbar read",
                   "neuron_heating": "neuron heating", "mirror_supply": "mirror supply",
                   "spike_read": "spike read", "reset": "reset", "periphery_switching": "periphery switching",
                   "periphery_leakage": "periphery leakage"}


def report_plots(report: Mapping[str, Any], data: SimulationData) -> dict[str, bytes]:
    """The report's plots as PNG bytes by file name (matplotlib, Agg; no timestamp in the files)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out: dict[str, bytes] = {}

    def save(fig, name):
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        out[name] = buf.getvalue()

    from ipnet_cosim.netlist_gen.contract import SimFiles
    soa_files = [f for f in (data.sim / SimFiles.soa(s) for s in data.samples) if f.is_file()]
    if soa_files and report["soa"]["layers"]:
        lim = report["soa"]["limits"]
        fig, (av, at) = plt.subplots(1, 2, figsize=(9, 3.4))
        for c in report["soa"]["layers"]:
            v, t = [], []
            for f in soa_files:
                with np.load(f) as z:
                    if f"{c['layer']}_v_peak_v" in z.files:
                        v.append(z[f"{c['layer']}_v_peak_v"].ravel())
                        t.append(z[f"{c['layer']}_t_peak_k"].ravel())
            if v:
                av.hist(np.concatenate(v), bins=60, histtype="step", label=c["layer"])
                at.hist(np.concatenate(t), bins=60, histtype="step", label=c["layer"])
        for ax, keys, xlabel in ((av, ("v_compliance_v", "v_breakdown_v"), "peak |V| across the MTJ per neuron-step "
                                                                           "(V)"),
                                 (at, ("t_max_k", "tc_k"), "peak junction temperature per neuron-step (K)")):
            for k, style in zip(keys, ("--", ":")):
                ax.axvline(lim[k]["value"], color="r", ls=style, label=f"{k} = {lim[k]['value']:g}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("neuron-steps")
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        fig.suptitle(f"Safe operating area: {'within limits' if report['soa']['within'] else 'VIOLATED'}", fontsize=10)
        save(fig, "safe_operating_area.png")
    e = report["energy"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [l["name"] for l in e["layers"]]
    bottom = np.zeros(len(names))
    for c in CATEGORIES:
        vals = np.array([l["energy"][c]["value"] for l in e["layers"]]) * 1e12
        ax.bar(names, vals, bottom=bottom, label=CATEGORY_LABELS[c])
        bottom += vals
    ax.set_ylabel("energy per sample (pJ)")
    ax.set_title("Energy breakdown per layer")
    ax.legend(fontsize=7)
    save(fig, "energy_breakdown.png")
    values = np.asarray(report["plot_data"]["per_spike_energy_j"])
    if values.size:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        ax.hist(values * 1e15, bins=min(50, max(5, values.size // 5)))
        ax.set_xlabel("energy per spike (fJ)")
        ax.set_ylabel("spikes")
        ax.set_title(f"Per-spike energy ({values.size} spikes)")
        save(fig, "per_spike_histogram.png")
    m = report["memory"]
    archs = list(m["baselines"]) if m.get("applicable", True) else []
    if archs:
        plot_memory_ratios(plt, save, m, archs)
    if "area" in report and report["area"].get("breakdown"):
        fig, ax = plt.subplots(figsize=(6, 3.4))
        items = report["area"]["breakdown"]
        ax.bar(list(items), [v["value"] * 1e12 for v in items.values()])
        ax.set_ylabel("area (um^2)")
        ax.set_title("Area breakdown")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        fig.tight_layout()
        save(fig, "area_breakdown.png")
    waves = sorted((data.sim / "waveforms").glob("*.npz")) if (data.sim / "waveforms").is_dir() else []
    if waves:
        with np.load(waves[0]) as w:
            t = w["time_s"] * 1e9
            th_keys = sorted(k for k in w.files if k.startswith("th"))[:4]
            if th_keys:
                fig, ax = plt.subplots(figsize=(7, 3.4))
                t_step = data.manifest.timing.t_step_s * 1e9
                read = data.manifest.timing.read_delay_s * 1e9
                for key in th_keys:
                    line, = ax.plot(t, w[key], lw=0.8, label=f"neuron {key[2:]}")
                    st = w["st" + key[2:]] if "st" + key[2:] in w.files else None
                    if st is not None:
                        reads = np.arange(data.manifest.timing.n_steps) * t_step + read
                        fired = reads[np.interp(reads, t, st) > 0.5]
                        ax.plot(fired, np.interp(fired, t, w[key]), "v", color=line.get_color(), ms=6)
                ax.set_xlabel("time (ns)")
                ax.set_ylabel("temperature rise (K)")
                ax.set_title(f"Neuron temperature, spikes marked ({waves[0].stem})")
                ax.legend(fontsize=7)
                save(fig, "neuron_waveform.png")
    return out


def plot_memory_ratios(plt, save, m, archs) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(archs, [m["baselines"][a]["ratio_to_ipnet"]["value"] for a in archs], label="ours (computed)")
    for c in m["paper_comparison"]:
        if c["arch"] in archs:
            ax.plot([archs.index(c["arch"])], [c["paper"]["value"]], "r*", ms=12,
                    label="paper" if c is m["paper_comparison"][0] else None)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1.0)
    ax.set_ylabel("memory energy: baseline / IPNet")
    ax.set_title(f"Memory energy ratios ({m['technology']['name']})")
    ax.legend(fontsize=8)
    save(fig, "memory_ratios.png")
