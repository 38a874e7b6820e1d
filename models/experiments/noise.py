"""``experiment noise``: the paper's noise claim. IPNet and every baseline of the same backbone, trained on the clean
22-class time-reversed set (one run per architecture and seed, as ``time-reversed`` trains them), evaluated on the
same test samples with increasing sensor noise and a distractor (:mod:`~ipnet_cosim.models.data.noise`): background
activity (events per pixel per second), hot pixels (count, 50 Hz each) and an early burst of events (count) that a
memory must forget.

The paper (arXiv 2512.15829, v3 abstract) argues that digital memory "accumulates historical noise" while heat that
dissipates filters it, and reports an "18x error reduction compared to spatiotemporal convolutional models". Here the
figure of merit is the error ratio baseline / IPNet at each level (error = 1 - accuracy, pooled over seeds), printed
beside the 18x with a verdict in words: where it holds, or that it does not. Accuracies carry 95 % Wilson intervals
on the pooled test samples (scipy). Spiking networks are evaluated in exact precision (the setting that matches
ngspice spike for spike), the RNN/LSTM in float32.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.models.checkpoint import write_json
from ipnet_cosim.models.datasets import DataConfig
from ipnet_cosim.models.experiments.temporal import ARCH_ORDER, _log, default_settings, train_or_reuse
from ipnet_cosim.models.network import NetworkConfig
from ipnet_cosim.models.train import TrainConfig

PAPER_ERROR_RATIO = 18.0
PAPER_SOURCE = ("arXiv 2512.15829 v3, abstract: '18x error reduction compared to spatiotemporal convolutional models "
                "in dynamic vision tasks'")
LEVELS = {"background": (0.0, 1.0, 3.0, 10.0), "hot_pixels": (0, 4, 16, 64), "burst": (0, 100, 300, 1000)}
SPATIOTEMPORAL = ("conv2p1d", "conv3d")        # the paper's comparison class


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a proportion (scipy)."""
    from scipy.stats import binomtest
    if n == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _accuracy(folder: Path, frames: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    import torch
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.train import evaluate
    model = load_checkpoint(folder).model
    if model.config.arch not in ("rnn", "lstm"):
        model = model.set_precision("exact")
    with torch.no_grad():
        pred = np.asarray(evaluate(model, frames, labels)["predictions"])
    return int((pred == labels).sum()), int(len(labels))


def run_noise(out_dir: Path, *, seed: int = 0, quick: bool = False, progress: Callable[[str], None] | None = None,
              seeds: int = 2, archs: tuple[str, ...] = ARCH_ORDER,
              levels: dict[str, tuple[float, ...]] | None = None) -> dict[str, Any]:
    """Accuracy vs noise level of every architecture (module docstring); writes noise.json and noise.png."""
    from ipnet_cosim.models.data.noise import LEVEL_UNITS, NoiseSetting
    from ipnet_cosim.models.datasets import load_noisy_test
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    levels = levels or LEVELS
    for kind, values in levels.items():                 # every setting checked before any training
        for v in values:
            NoiseSetting(kind, v)
    card = DeviceCard()
    t0 = time.perf_counter()
    counts: dict[tuple[str, str, float], list[tuple[int, int]]] = {}
    runs = []
    for s in range(seed, seed + seeds):
        net_over, data_kw, train_kw = default_settings(quick, s)
        data = DataConfig(dataset="synthetic-22", **data_kw)
        options = TrainConfig(**train_kw)
        folders = {}
        for arch in archs:
            _log(progress, f"seed {s}: training {arch} (clean data)")
            network = NetworkConfig(arch=arch, n_classes=22, **net_over)
            folders[arch] = out_dir / "runs" / f"seed{s}" / arch
            metrics = train_or_reuse(folders[arch], network, data, options, card, progress)
            runs.append({"seed": s, "arch": arch, "folder": str(folders[arch]),
                         "clean_test_accuracy": metrics["test_accuracy"]})
        for kind, values in levels.items():
            for level in values:
                test = load_noisy_test(data, NoiseSetting(kind, level), noise_seed=s)
                for arch in archs:
                    _log(progress, f"seed {s}: {arch} on {kind} = {level:g} ({LEVEL_UNITS[kind]})")
                    counts.setdefault((arch, kind, float(level)), []).append(
                        _accuracy(folders[arch], test.frames, test.labels))
    curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for (arch, kind, level), per_seed in counts.items():
        k, n = sum(c for c, _ in per_seed), sum(m for _, m in per_seed)
        lo, hi = wilson(k, n)
        curves.setdefault(kind, {}).setdefault(arch, []).append(
            {"level": level, "accuracy": k / n, "ci95": [lo, hi], "error": 1 - k / n, "correct": k, "samples": n,
             "accuracy_per_seed": [c / m for c, m in per_seed]})
    ratios, lines = _ratios(curves, archs)
    result = {"experiment": "noise", "seeds": list(range(seed, seed + seeds)), "quick": quick,
              "provenance": ("simulated: PyTorch twin of the thermal MTJ neuron (deterministic mode), exact precision "
                             "for spiking networks; synthetic DVS gestures with noise added to their event streams "
                             "(seeded per sample); intervals: 95 % Wilson on the samples pooled over seeds"),
              "training": "every network trained once per seed on the clean 22-class set (no noise in training)",
              "levels": {k: list(v) for k, v in levels.items()}, "level_units": {k: LEVEL_UNITS[k] for k in levels},
              "device_card": card.to_dict(), "runs": runs, "curves": curves, "error_ratios": ratios,
              "paper": {"error_ratio": PAPER_ERROR_RATIO, "source": PAPER_SOURCE,
                        "compared_with": list(SPATIOTEMPORAL)},
              "wall_seconds": round(time.perf_counter() - t0, 1), "summary_lines": lines}
    write_json(out_dir / "noise.json", result)
    _plot(result, out_dir / "noise.png")
    return result


def _ratios(curves: dict, archs: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[str]]:
    """Error ratio baseline / IPNet per kind and level, and the verdict on the paper's 18x."""
    rows = []
    if "ipnet" not in archs:
        return rows, ["IPNet not in the run: no error ratio"]
    for kind, by_arch in curves.items():
        ip = {p["level"]: p for p in by_arch["ipnet"]}
        for arch, points in by_arch.items():
            if arch == "ipnet":
                continue
            for p in points:
                e_ip = ip[p["level"]]["error"]
                ratio = p["error"] / e_ip if e_ip > 0 else (float("inf") if p["error"] > 0 else 1.0)
                rows.append({"kind": kind, "level": p["level"], "baseline": arch, "baseline_error": p["error"],
                             "ipnet_error": e_ip, "ratio": ratio,
                             "spatiotemporal": arch in SPATIOTEMPORAL})
    st = [r for r in rows if r["spatiotemporal"]]
    lines = []
    if st:
        best = max(st, key=lambda r: r["ratio"])
        holds = [r for r in st if r["ratio"] >= PAPER_ERROR_RATIO]
        if holds:
            where = "; ".join(f"{r['baseline']} at {r['kind']} = {r['level']:g}" for r in holds)
            lines.append(f"the paper's 18x error reduction vs spatiotemporal CNNs holds at: {where}")
        else:
            lines.append(f"the paper's 18x error reduction vs spatiotemporal CNNs holds at no tested level; the "
                         f"largest ratio is {best['ratio']:.2f}x ({best['baseline']}, {best['kind']} = "
                         f"{best['level']:g})")
        worse = [r for r in st if r["ratio"] < 1]
        if worse:
            lines.append(f"IPNet has the larger error in {len(worse)} of {len(st)} (spatiotemporal baseline, level) "
                         f"pairs")
    return rows, lines


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kinds = list(result["curves"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.6 * len(kinds), 4.0), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        for arch, points in result["curves"][kind].items():
            x = np.arange(len(points))
            acc = np.array([p["accuracy"] for p in points])
            lo = acc - np.array([p["ci95"][0] for p in points])
            hi = np.array([p["ci95"][1] for p in points]) - acc
            style = dict(lw=2.2, color="k") if arch == "ipnet" else dict(lw=1.0)
            ax.errorbar(x, acc, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=arch, **style)
            ax.set_xticks(x, [f"{p['level']:g}" for p in points])
        ax.set_xlabel(f"{kind} ({result['level_units'][kind]})", fontsize=8)
        ax.set_ylabel("test accuracy (22 classes)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"accuracy under sensor noise and distractors, seeds {result['seeds']} (simulated, PyTorch twin; "
                 f"95 % Wilson intervals)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
