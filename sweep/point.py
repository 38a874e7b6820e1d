"""One design point of a sweep (run in a worker process or on a Dask worker): its network (the checkpoint, on the
point's device card, optionally fine-tuned for the point's card and crossbars), an export per chip, the PyTorch
twin on the sweep's samples, the report of chip 0, and the figures of ``point.json``.

Figures (all computed from the twin and the export; units in the names): accuracy per chip and mean (under a
stochastic firing table: per chip and draw, the mean over both, and the spread over draws), each MTJ layer's
coin-flip fraction (neuron-steps with 0.05 < p < 0.95, mean over chips and draws), energy per inference (and,
stochastic, chip 0's per draw and its spread) and per spike, area, latency (steps x step period), throughput
(one inference per latency), synaptic operations per joule (cell reads of active rows per inference over the
energy), and the margins of the layers' peak MTJ voltage and junction temperature below the card's compliance
and T_max.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.sweep.config import card_changes, point_options
from ipnet_cosim.sweep.records import SweepPoint

CARD_CHECKPOINT = "checkpoint_card"
FINETUNED_CHECKPOINT = "checkpoint_finetuned"


def point_id(point: Mapping[str, Any]) -> str:
    """A short, stable name for a point (its parameters' hash)."""
    return hashlib.sha256(json.dumps(dict(point), sort_keys=True).encode()).hexdigest()[:12]


def resolve_samples(samples: Sequence[int] | str, export_dir: Path) -> list[int]:
    """The test-set indices of ``samples``: a tuple as given, "all", or "spread:N" (N indices spread evenly over the
    test set, first and last included, so that every class is represented: the synthetic test sets are ordered by
    class; :func:`~ipnet_cosim.models.datasets.spread_indices`)."""
    if not isinstance(samples, str):
        return list(samples)
    from ipnet_cosim.models.datasets import spread_indices
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.simulation.inputs import count_test_samples
    size = count_test_samples(read_export(export_dir, need_checkpoint=False))
    if samples == "all":
        return list(range(size))
    return spread_indices(size, int(samples.split(":")[1]))


def write_card_checkpoint(checkpoint: str | Path, changes: Mapping[str, float], out: Path) -> None:
    """The checkpoint's weights on its device card with ``changes`` (validated), saved to ``out``: what the trained
    network does on a device that differs from the one it was trained for."""
    from ipnet_cosim.models.checkpoint import load_checkpoint, save_checkpoint
    from ipnet_cosim.models.network import SpikingNet
    from ipnet_cosim.netlist_gen.recorded_hardware import HARDWARE_KEY, hardware_of
    ck = load_checkpoint(checkpoint)
    model = SpikingNet(ck.network_config, ck.card.replace(**changes))
    model.load_state_dict(ck.model.state_dict())
    metrics = {"base_checkpoint": str(ck.path), "device_card_changes": dict(changes),
               "base_metrics": ck.metrics,
               "note": "weights of the base checkpoint, unchanged; its metrics were measured on its own device card"}
    hw = hardware_of(ck.raw)
    save_checkpoint(out, model, data_config=ck.data_config, train_config=ck.train_config, metrics=metrics,
                    history=ck.history, class_names=ck.class_names, epoch=ck.epoch,
                    extra={HARDWARE_KEY: hw} if hw else None)


def point_checkpoint(checkpoint: str, point: Mapping[str, Any], finetune: Mapping[str, Any],
                     folder: Path, firing: str = "median") -> tuple[str, dict[str, Any]]:
    """The checkpoint a point exports (the sweep's, on the point's card, fine-tuned when ``finetune`` is given, with
    the sweep's ``firing`` mode) and what was done to it. Each step is kept in ``folder`` (a resumed point does not
    redo it)."""
    from ipnet_cosim.models.checkpoint import SUMMARY_FILE
    info: dict[str, Any] = {}
    path = checkpoint
    changes = card_changes(point)
    if changes:
        card_dir = folder / CARD_CHECKPOINT
        if not (card_dir / SUMMARY_FILE).is_file():        # written after the weights: complete when present
            shutil.rmtree(card_dir, ignore_errors=True)
            write_card_checkpoint(checkpoint, changes, card_dir)
        path = str(card_dir)
        info["device_card_changes"] = changes
    if finetune:
        from ipnet_cosim.chip.finetune import finetune_hardware
        ft_dir = folder / FINETUNED_CHECKPOINT
        if not (ft_dir / SUMMARY_FILE).is_file():
            shutil.rmtree(ft_dir, ignore_errors=True)
            finetune_hardware(path, ft_dir, point_options(point, seed=0), **dict(finetune), firing=firing)
        metrics = json.loads((ft_dir / SUMMARY_FILE).read_text())["metrics"]
        info["finetune"] = {**dict(finetune), "hardware_test_accuracy": metrics.get("hardware_test_accuracy"),
                            "plain_test_accuracy": metrics.get("test_accuracy"),
                            "seconds": metrics.get("finetune_seconds"),
                            "junction_excess_before": metrics.get("junction_excess_before"),
                            "junction_excess_after": metrics.get("junction_excess_after"),
                            "provenance": "computed: hardware-aware fine-tuning (ipnet-cosim finetune) through the "
                                          "point's mapped crossbars on its device card; accuracy on the whole test "
                                          "set, exported chip"}
        path = str(ft_dir)
    return path, info


def evaluate_point(checkpoint: str, point: dict[str, Any], samples: Sequence[int] | str, chips: int,
                   folder: str, finetune: Mapping[str, Any] | None = None, firing: Mapping[str, Any] | None = None,
                   torch_threads: int | None = None) -> SweepPoint:
    """One design point: its checkpoint, export per chip, the twin on ``samples`` (under every draw of a stochastic
    ``firing`` table), the report of chip 0 (torch on ``torch_threads`` threads while it runs, when given)."""
    import torch
    from ipnet_cosim.device.draws import Firing
    threads = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)       # points side by side: one core each
    try:
        return _evaluate(checkpoint, point, samples, chips, Path(folder), finetune or {}, Firing.from_dict(firing))
    finally:
        torch.set_num_threads(threads)


def _evaluate(checkpoint: str, point: dict[str, Any], samples: Sequence[int] | str, chips: int, out: Path,
              finetune: Mapping[str, Any], firing) -> SweepPoint:
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    out.mkdir(parents=True, exist_ok=True)
    ck_path, ck_info = point_checkpoint(checkpoint, point, finetune, out, firing.mode)
    base = point_options(point, seed=0)
    n_chips = chips if (base.conductance.variation_sigma > 0 or base.conductance.variation_sigma_s > 0) else 1
    accuracies: list[list[float]] = []
    report: dict[str, Any] | None = None
    chosen: list[int] | None = None
    sops = 0.0
    flips: dict[str, list[float]] = {}               # per layer: coin-flip fraction of every chip and draw
    draws = list(range(firing.draws)) if firing.stochastic else [None]
    for k in range(n_chips):
        chip = out / f"chip{k}"
        exp = chip / "export"
        if not (exp / "manifest.json").is_file():
            shutil.rmtree(exp, ignore_errors=True)
            export_network(ck_path, exp, samples=[0], options=point_options(point, seed=k), firing=firing)
        if chosen is None:                            # the same samples for every chip
            chosen = resolve_samples(samples, exp)
        per_draw = []
        for d in draws:
            twin = chip / ("twin" if not d else f"twin_draw_{d}")
            res = simulate_export(exp, out=twin, samples=chosen, progress=False, simulator="twin", plots=0, draw=d)
            if res.summary.accuracy is None:
                raise ConfigError("the sweep's samples have no labels (an unlabelled stimulus): a sweep ranks its "
                                  "points by accuracy; give the stimulus labels")
            per_draw.append(res.summary.accuracy)
            for layer in res.summary.layers:
                if layer.coin_flip_fraction is not None:
                    flips.setdefault(layer.layer, []).append(layer.coin_flip_fraction)
        accuracies.append(per_draw)
        if k == 0:
            report, _ = build_report(exp, sim=chip / "twin", area=True)
            sops = synaptic_ops(read_export(exp, need_checkpoint=False), chip / "twin", chosen)
    assert report is not None and chosen is not None        # (chip 0 always runs)
    man = read_export(out / "chip0" / "export", need_checkpoint=False).manifest
    latency = man.timing.n_steps * man.timing.t_step_s
    energy = report["energy"]["total"]["value"]
    limits = report["soa"]["limits"]
    layers = report["soa"]["layers"]
    acc = np.asarray(accuracies)                      # [chips, draws]
    od = report.get("over_draws")                     # chip 0 under each draw of a stochastic sweep
    return SweepPoint(
        id=point_id(point), parameters=dict(point), chips=n_chips, samples=len(chosen),
        accuracy_chip_draws=tuple(tuple(float(v) for v in row) for row in acc), accuracy_mean=float(acc.mean()),
        accuracy_std_over_draws=float(acc.std(axis=1, ddof=1).mean()) if acc.shape[1] > 1 else 0.0,
        firing=firing.to_dict(), firing_note=firing.describe(), energy_per_inference_j=energy,
        energy_per_spike_j=report["per_spike"]["mean"]["value"] if "mean" in report["per_spike"] else None,
        area_m2=report["area"]["total"]["value"], latency_s=latency, throughput_inferences_per_s=1.0 / latency,
        sops_per_inference=sops, sops_per_j=sops / energy if energy > 0 else None,
        soa_within=bool(report["soa"]["within"]),
        soa_margin_v=float(min(limits["v_compliance_v"]["value"] - l["v_peak"]["value"] for l in layers)),
        soa_margin_k=float(min(limits["t_max_k"]["value"] - l["t_peak"]["value"] for l in layers)),
        coin_flip_fraction={name: float(np.mean(v)) for name, v in flips.items()}, checkpoint=ck_path,
        provenance="computed: PyTorch twin (simulate --simulator twin) of each chip's export; energy, area and SOA "
                   "from the report of chip 0; latency from the export's timing",
        folder=str(out),
        energy_per_inference_draws_j=(None if od is None else
                                      tuple(d["energy_per_inference"]["value"] for d in od["per_draw"])),
        energy_per_inference_std_over_draws_j=(None if od is None else
                                               od["energy_per_inference_std_over_draws"]["value"]),
        device_card_changes=ck_info.get("device_card_changes"), finetune=ck_info.get("finetune"))


def synaptic_ops(export, sim: Path, samples: Sequence[int]) -> float:
    """Mean cell reads per inference: every active row of a unit reads its cells of every weight column (x2: the
    differential pair, x slices), over the unit's steps."""
    from ipnet_cosim.netlist_gen.contract import SimFiles
    from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v
    from ipnet_cosim.simulation.inputs import load_frames
    man = export.manifest
    total = 0.0
    all_frames = load_frames(export, tuple(samples))[1]          # the data set is read once
    for k, s in enumerate(samples):
        with np.load(sim / SimFiles.spikes(s)) as d:
            spikes = {name: d[name] for name in d.files}
        for layer in man.layers:
            if layer.index == 0:
                inp = all_frames[k].reshape(man.timing.n_steps, -1)
            else:
                inp = spikes[SimFiles.spike_key(man.layers[layer.index - 1].name)]
            cells = 2 * len(layer.slice_gains)
            for u in man.units_of(layer.index):
                active = int((row_levels_v(np.asarray(u.rows), inp, 1.0) != 0).sum())    # the bias row reads always
                total += float(active) * u.n_cols * cells
    return total / max(1, len(samples))
