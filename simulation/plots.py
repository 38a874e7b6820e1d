"""Plots of a simulation: spike rasters with PyTorch's disagreements and the class scores per sample, and
the temperature/state waveforms of kept units (PNG, matplotlib with the Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ipnet_cosim.netlist_gen.contract import SimFiles, SimulationResults


def plot_rasters(out: Path, results: SimulationResults, outputs, ref, hidden, count: int) -> None:
    """One PNG for each of the first ``count`` samples: every hidden layer's spike raster (disagreements with PyTorch
    circled) and the class scores."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    who = "twin" if results.simulator == "twin" else results.simulator
    for k, e in enumerate(results.per_sample[:count]):
        s = e.sample
        fig, axes = plt.subplots(1, len(hidden) + 1, figsize=(4 * (len(hidden) + 1), 3.6), squeeze=False)
        axes = axes[0]
        for li, ax in enumerate(axes[:-1]):
            spikes = outputs[s][li]
            t, n = np.nonzero(spikes)
            ax.scatter(t, n, s=2, c="k", marker="|", label=f"{who} spike")
            if ref is not None:
                diff = np.argwhere(spikes != ref["spikes"][li][k])
                if len(diff):
                    ax.scatter(diff[:, 0], diff[:, 1], s=18, facecolors="none", edgecolors="r",
                               label=f"differs from PyTorch ({len(diff)})")
            ax.set_title(f"{hidden[li].name} ({hidden[li].unit})", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("neuron (flattened output index)")
            ax.legend(fontsize=7, loc="upper right")
        ax = axes[-1]
        x = np.arange(len(e.scores))
        ax.bar(x - 0.2, e.scores, width=0.4, label=f"{who} (readout charge)")
        if e.torch_scores is not None:
            ax.bar(x + 0.2, e.torch_scores, width=0.4, label="PyTorch")
        if e.label is not None:
            ax.axvline(e.label, color="g", ls=":", label=f"label {e.label}")
        ax.set_title("readout class scores", fontsize=9)
        ax.set_xlabel("class")
        ax.legend(fontsize=7)
        def name(c):
            return "no decision" if c is None else f"class {c}"
        fig.suptitle(f"sample {s}: {who} {name(e.predicted_class)}"
                     + (f", PyTorch {name(e.torch_class)}" if e.compared else ""), fontsize=10)
        fig.tight_layout()
        fig.savefig(out / SimFiles.raster(s), dpi=110)
        plt.close(fig)


def plot_waveforms(path: Path) -> None:
    """Temperature rise and magnetic state of up to four neurons of a kept waveform file, as PNG beside it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with np.load(path) as data:
        t = data["time_s"] * 1e9
        names = sorted(k for k in data.files if k.startswith("th"))[:4]
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        for name in names:
            a1.plot(t, data[name], lw=0.8, label=f"v({name}): temperature rise")
            st = "st" + name[2:]
            if st in data.files:
                a2.plot(t, data[st], lw=0.8, label=f"v({st})")
        a1.set_ylabel("K")
        a2.set_ylabel("state m")
        a2.set_xlabel("time (ns)")
        a1.legend(fontsize=7)
        a2.legend(fontsize=7)
        fig.suptitle(path.stem, fontsize=10)
        fig.tight_layout()
        fig.savefig(path.with_suffix(".png"), dpi=110)
        plt.close(fig)
