"""Training and evaluation of IPNet and its baselines (CPU-friendly), with checkpoints and resume.

``train`` runs Adam with a cosine learning-rate schedule on cross-entropy of the integrated
readout. With a validation set (synthetic data: an independent stream), the weights of the epoch
with the best validation accuracy (latest on ties) are the ones kept; the test set is used only
for reporting. Mini-batches are shuffled by a generator seeded with ``(seed, epoch)``, so a run
resumed from its checkpoint continues exactly as an uninterrupted run would. After each epoch
the checkpoint (weights, optimizer, full configuration, device card, metrics) is written
atomically. The final evaluation runs the network in "exact" precision (float64, the
foundation's 64/16 quadrature; the setting that matches ngspice spike for spike) and in the
training precision; both are recorded.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.draws import FIRING_MODES, Firing
from ipnet_cosim.device.errors import CheckpointError, ConfigError
from ipnet_cosim.device.fileio import sha256_file
from ipnet_cosim.models.config import check_field_types, check_known_keys
from ipnet_cosim.models.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from ipnet_cosim.models.datasets import DataConfig, load_dataset, load_validation
from ipnet_cosim.models.firing import SampledDraws
from ipnet_cosim.models.network_config import NetworkConfig
from ipnet_cosim.models.network import SpikingNet, build_network
from ipnet_cosim.models.stochastic import evaluate_firing
from ipnet_cosim.models.units import PRECISION_NOTE

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Args:
        epochs: passes over the training set.
        batch_size: samples per step.
        lr: Adam learning rate (cosine-annealed to ``lr * 0.05``).
        weight_decay: Adam weight decay.
        grad_clip: gradient-norm clip.
        seed: seed of initial weights, calibration batch and shuffling.
        calibrate_samples: samples used for the data-dependent initialisation (0: none).
        threads: torch CPU threads (0: leave torch's default).
        eval_exact: run the final test evaluation also in exact precision.
        t_max_penalty: weight of the junction-temperature penalty (0: off): the loss gains
            ``t_max_penalty * SpikingNet.junction_excess(trace)``, which is zero while every MTJ's
            steady-state temperature at its largest current stays below the card's ``limits.t_max_k``.
        firing: how the neurons fire in training: "median" (u = 1/2, the idealisation) or "stochastic" (a fresh
            uniform draw per neuron and step, seeded by (seed, epoch); spikes are sampled, and the surrogate
            gradient is centred on each draw's threshold ``-ln u``: a straight-through estimator). With
            "stochastic", the best epoch is chosen by the validation accuracy under ``eval_draws`` seeded draws per
            sample (the per-epoch test figure uses one draw).
        coin_flip_penalty: weight of the coin-flip penalty (0: off): the loss gains
            ``coin_flip_penalty * SpikingNet.coin_flip_variance(trace)``, the mean Bernoulli variance
            ``p (1 - p)`` of the MTJ neuron-steps (``p = 1 - exp(-H)``), which pushes hazards out of the band where
            firing is a coin flip.
        eval_draws: draws per sample of the final stochastic test evaluation (train precision) and, when training
            stochastically, of the per-epoch validation.
        init_checkpoint: start from this checkpoint's weights (a fine-tune: no calibration; its network
            configuration and card must be the run's) instead of a seeded initialisation; its sha256 is recorded
            in the metrics.
    """

    epochs: int = 12
    batch_size: int = 32
    lr: float = 1e-2
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    calibrate_samples: int = 128
    threads: int = 0
    eval_exact: bool = True
    t_max_penalty: float = 0.0
    firing: str = "median"
    coin_flip_penalty: float = 0.0
    eval_draws: int = 4
    init_checkpoint: str | None = None

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"train: epochs ({self.epochs}) and batch_size ({self.batch_size}) must be >= 1")
        for name in ("lr", "grad_clip"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"train: {name} ({value}) must be a positive number")
        if self.weight_decay < 0 or self.calibrate_samples < 0 or self.threads < 0:
            raise ConfigError("train: weight_decay, calibrate_samples and threads must be >= 0")
        for name in ("t_max_penalty", "coin_flip_penalty"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"train: {name} ({value}) must be a number >= 0")
        if self.firing not in FIRING_MODES:
            raise ConfigError(f"train: firing '{self.firing}' is unknown; use one of {', '.join(FIRING_MODES)}")
        if self.eval_draws < 1:
            raise ConfigError(f"train: eval_draws ({self.eval_draws}) must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        check_known_keys(cls, data, "train config")
        return cls(**dict(data))


def _frames_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames))


def direction_metrics(pred: np.ndarray, labels: np.ndarray, n_forward: int) -> dict[str, Any]:
    """For 22-class sets: how well forward vs time-reversed is told apart, per gesture.

    ``direction_accuracy``: predicted direction (class // n_forward) right, whatever the gesture;
    ``pair_accuracy``: per gesture, accuracy of the direction among its samples (chance = 0.5).
    """
    direction_ok = (pred // n_forward) == (labels // n_forward)
    per_gesture = {}
    for g in range(n_forward):
        mask = (labels % n_forward) == g
        if mask.any():
            per_gesture[str(g)] = float(direction_ok[mask].mean())
    return {"direction_accuracy": float(direction_ok.mean()), "pair_accuracy": per_gesture}


@torch.no_grad()
def evaluate(model: SpikingNet, frames: np.ndarray, labels: np.ndarray, *, batch_size: int = 64,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Accuracy, mean loss, predictions and confusion matrix of ``model`` on frames [N, T, C, H, W]."""
    model.eval()
    n = len(labels)
    losses, preds = [], []
    for start in range(0, n, batch_size):
        x = _frames_tensor(frames[start:start + batch_size])
        y = torch.from_numpy(labels[start:start + batch_size]).long()
        logits = model(x)
        losses.append(float(nn.functional.cross_entropy(logits.float(), y, reduction="sum")))
        preds.append(logits.argmax(dim=1).numpy())
        if progress:
            progress(min(start + batch_size, n), n)
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    k = model.config.n_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    out = {"accuracy": float((pred == labels).mean()) if n else float("nan"),
           "loss": float(sum(losses) / max(n, 1)), "n_samples": int(n),
           "predictions": pred.tolist(), "confusion": confusion.tolist()}
    if k % 2 == 0 and k >= 2:
        out.update(direction_metrics(pred, labels, k // 2))
    return out


def _epoch_evaluation(model: SpikingNet, frames: np.ndarray, labels: np.ndarray, options: TrainConfig,
                      draws: int = 1) -> dict[str, Any]:
    """The per-epoch test/validation figure in the training's firing mode: median (:func:`evaluate`), or the mean
    accuracy under ``draws`` seeded draws per sample (``loss`` is then not computed: None)."""
    if options.firing == "median":
        return evaluate(model, frames, labels)
    res = evaluate_firing(model, frames, labels, Firing("stochastic", seed=options.seed, draws=draws))
    return {"accuracy": res["accuracy"]["mean"], "loss": None}


class ProgressBar:
    """A rich progress bar that degrades to nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from rich.console import Console
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     transient=False, console=Console(stderr=True))
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def task(self, description: str, total: int) -> Any:
        return self.progress.add_task(description, total=total, info="") if self.progress else None

    def update(self, task: Any, completed: int | None = None, advance: int = 0, info: str = "") -> None:
        if self.progress is not None and task is not None:
            if completed is not None:
                self.progress.update(task, completed=completed, info=info)
            else:
                self.progress.update(task, advance=advance, info=info)


def _best_payload(best: dict[str, Any]) -> dict[str, Any]:
    if best["state"] is None:
        return {}
    return {"best_epoch": best["epoch"], "best_val_accuracy": best["val_accuracy"],
            "best_state_dict": {k: v.detach().to(torch.float32).clone() if v.is_floating_point() else v
                                for k, v in best["state"].items()}}


def train(out_dir: Path | str, network: NetworkConfig, data: DataConfig, options: TrainConfig | None = None,
          card: DeviceCard | None = None, *, resume: bool = False, progress_bar: bool = True,
          log: Progress | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Train a network and write ``checkpoint.pt``/``checkpoint.json`` (+ ``metrics.json``) to ``out_dir``.

    Args:
        out_dir: output folder; if it already holds a checkpoint, ``resume`` must be set (earlier
            results are never overwritten by a fresh run).
        network, data, options, card: the configuration (saved in the checkpoint).
        resume: continue from the checkpoint in ``out_dir``; its configuration must match.
        progress_bar: show a rich progress bar on stderr.
        log: optional callable receiving one status line per epoch.
        stop_after: stop after this many epochs in this call (a time box; the checkpoint is
            complete and ``resume`` continues it exactly as an uninterrupted run).

    Returns:
        The metrics dict (also in ``checkpoint.json``).
    """
    options = options or TrainConfig()
    card = card or DeviceCard()
    out = Path(out_dir)
    log = log or (lambda msg: None)
    if options.threads:
        torch.set_num_threads(options.threads)
    existing = out / CHECKPOINT_FILE
    if existing.exists() and not resume:
        raise CheckpointError(f"{existing} exists; pass --resume to continue it, or choose another output folder "
                              f"(nothing was overwritten)")
    train_set, test_set = load_dataset(data)
    val_set = load_validation(data)
    n_classes = len(train_set.class_names)
    if network.n_classes != n_classes:
        raise ConfigError(f"network has {network.n_classes} outputs but data set '{data.dataset}' has "
                          f"{n_classes} classes; set n_classes={n_classes}")
    shape = tuple(train_set.frames.shape[2:])
    if shape != (network.in_channels, network.height, network.width):
        raise ConfigError(f"data frames are {shape}, the network expects "
                          f"({network.in_channels}, {network.height}, {network.width})")

    history: list[dict[str, Any]] = []
    start_epoch = 0
    model = build_network(network, card, seed=options.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.epochs,
                                                           eta_min=options.lr * 0.05)
    calibration: dict = {}
    best: dict[str, Any] = {"epoch": 0, "val_accuracy": -1.0, "state": None}
    if resume and existing.exists():
        ck = load_checkpoint(existing)
        saved = (ck.network_config.to_dict(), ck.card.to_dict(), DataConfig.from_dict(ck.data_config).to_dict(),
                 {k: v for k, v in TrainConfig.from_dict(ck.train_config).to_dict().items()
                  if k not in ("threads", "eval_exact")})
        wanted = (network.to_dict(), card.to_dict(), data.to_dict(),
                  {k: v for k, v in options.to_dict().items() if k not in ("threads", "eval_exact")})
        names = ("network", "device card", "data", "training")
        for name, a, b in zip(names, saved, wanted):
            if a != b:
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                raise CheckpointError(f"cannot resume {existing}: its {name} configuration differs in {diff}; "
                                      f"use the same settings or a new output folder")
        model.load_state_dict(ck.model.state_dict())
        if "optimizer" in ck.raw:
            optimizer.load_state_dict(ck.raw["optimizer"])
        if "scheduler" in ck.raw:
            scheduler.load_state_dict(ck.raw["scheduler"])
        history = list(ck.history)
        start_epoch = ck.epoch
        if "best_state_dict" in ck.raw:
            best = {"epoch": int(ck.raw["best_epoch"]), "val_accuracy": float(ck.raw["best_val_accuracy"]),
                    "state": ck.raw["best_state_dict"]}
        calibration = ck.metrics.get("calibration", {})
        log(f"resumed {existing} at epoch {start_epoch}")
    elif options.init_checkpoint is not None:
        init = load_checkpoint(options.init_checkpoint)
        for name, mine, theirs in (("network", network.to_dict(), init.network_config.to_dict()),
                                   ("device card", card.to_dict(), init.card.to_dict())):
            if mine != theirs:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise ConfigError(f"init checkpoint {init.path}: its {name} differs in {diff}; start from a checkpoint "
                                  f"of the same network and card")
        model.load_state_dict(init.model.state_dict())
        calibration = {"init_checkpoint": str(init.path), "init_sha256": sha256_file(init.path)}
        log(f"starting from the weights of {init.path}")
    elif options.calibrate_samples:
        gen = np.random.default_rng(options.seed)
        idx = np.sort(gen.choice(len(train_set.labels), size=min(options.calibrate_samples,
                                                                  len(train_set.labels)), replace=False))
        calibration = model.calibrate(_frames_tensor(train_set.frames[idx]))
    model.set_precision("train")

    metrics: dict[str, Any] = {"parameter_count": model.parameter_count(), "layer_kinds": model.layer_kinds(),
                               "calibration": calibration}
    n = len(train_set.labels)
    steps = math.ceil(n / options.batch_size)
    train_time = sum(h.get("seconds", 0.0) for h in history)
    with ProgressBar(progress_bar) as bar:
        last_epoch = options.epochs if stop_after is None else min(options.epochs, start_epoch + stop_after)
        for epoch in range(start_epoch, last_epoch):
            model.train()
            te = time.perf_counter()
            order = torch.randperm(n, generator=torch.Generator().manual_seed(options.seed * 100_003 + epoch)).numpy()
            draws = (SampledDraws(torch.Generator().manual_seed(options.seed * 100_003 + epoch + 50_000_017))
                     if options.firing == "stochastic" else None)
            task = bar.task(f"epoch {epoch + 1}/{options.epochs}", steps)
            loss_sum, correct = 0.0, 0
            for k in range(steps):
                idx = np.sort(order[k * options.batch_size:(k + 1) * options.batch_size])
                x = _frames_tensor(train_set.frames[idx])
                y = torch.from_numpy(train_set.labels[idx]).long()
                logits, trace = model(x, return_trace=True, draws=draws, details=options.coin_flip_penalty > 0)
                loss = nn.functional.cross_entropy(logits, y)
                if options.t_max_penalty > 0:
                    loss = loss + options.t_max_penalty * model.junction_excess(trace)
                if options.coin_flip_penalty > 0:
                    loss = loss + options.coin_flip_penalty * model.coin_flip_variance(trace)
                if not torch.isfinite(loss):
                    raise ConfigError(f"training diverged at epoch {epoch + 1} (loss {float(loss.detach())}); lower "
                                      f"--lr; "
                                      f"the last good checkpoint in {out} is kept")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
                optimizer.step()
                loss_sum += float(loss.detach()) * len(idx)
                correct += int((logits.argmax(1) == y).sum())
                bar.update(task, advance=1, info=f"loss {loss_sum / ((k * options.batch_size) + len(idx)):.3f}")
            scheduler.step()
            test = _epoch_evaluation(model, test_set.frames, test_set.labels, options)
            # the epoch is chosen on the validation set: under stochastic firing with eval_draws draws per sample,
            # since one draw's accuracy scatters by ~0.01 on a few hundred samples
            val = (_epoch_evaluation(model, val_set.frames, val_set.labels, options, options.eval_draws)
                   if val_set is not None else None)
            if val is not None and val["accuracy"] >= best["val_accuracy"]:
                best = {"epoch": epoch + 1, "val_accuracy": val["accuracy"],
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
            seconds = time.perf_counter() - te
            train_time += seconds
            record = {"epoch": epoch + 1, "train_loss": loss_sum / n, "train_accuracy": correct / n,
                      "test_loss": test["loss"], "test_accuracy": test["accuracy"], "seconds": seconds,
                      "lr": optimizer.param_groups[0]["lr"]}
            if "direction_accuracy" in test:
                record["test_direction_accuracy"] = test["direction_accuracy"]
            if val is not None:
                record["val_accuracy"] = val["accuracy"]
            history.append(record)
            bar.update(task, completed=steps, info=f"loss {record['train_loss']:.3f} "
                                                   f"test acc {test['accuracy']:.3f}")
            log(f"epoch {epoch + 1}: train loss {record['train_loss']:.4f}, train acc "
                f"{record['train_accuracy']:.4f}, test acc {test['accuracy']:.4f} ({seconds:.1f} s)")
            metrics.update({"epochs_done": epoch + 1, "train_seconds": train_time,
                            "test_accuracy_train_precision": test["accuracy"]})
            save_checkpoint(out, model, data_config=data.to_dict(), train_config=options.to_dict(),
                            metrics=metrics, history=history, class_names=list(train_set.class_names),
                            epoch=epoch + 1, optimizer_state=optimizer.state_dict(),
                            scheduler_state=scheduler.state_dict(), extra=_best_payload(best))

    if last_epoch < options.epochs:
        metrics["complete"] = False
        log(f"stopped after epoch {last_epoch} of {options.epochs}; continue with resume")
        return metrics
    if best["state"] is not None:
        model.load_state_dict(best["state"])
        metrics.update({"selected_epoch": best["epoch"], "val_accuracy": best["val_accuracy"],
                        "selection": "best validation accuracy (train precision), latest on ties"})
        log(f"keeping the weights of epoch {best['epoch']} (validation accuracy {best['val_accuracy']:.4f})")
    else:
        metrics.update({"selected_epoch": options.epochs, "selection": "last epoch (no validation set)"})
    final = evaluate(model, test_set.frames, test_set.labels)
    metrics.update({"test_accuracy_train_precision": final["accuracy"], "test_train_precision": final,
                    "train_seconds": train_time, "epochs_done": options.epochs, "complete": True,
                    "firing": options.firing, "test_accuracy_firing": Firing().describe()})
    te = time.perf_counter()
    stochastic = evaluate_firing(model, test_set.frames, test_set.labels,
                                 Firing("stochastic", seed=options.seed, draws=options.eval_draws))
    stochastic.pop("predictions")
    metrics.update({"test_stochastic": stochastic, "test_accuracy_stochastic": stochastic["accuracy"]["mean"],
                    "stochastic_eval_seconds": time.perf_counter() - te,
                    "test_stochastic_precision": PRECISION_NOTE["train"]})
    flips = ", ".join(f"{layer['coin_flip_fraction']:.3f}" for layer in stochastic["layers"])
    log(f"stochastic firing: accuracy {stochastic['accuracy']['mean']:.4f} (+- "
        f"{stochastic['accuracy']['std_over_draws']:.4f} over {options.eval_draws} draws); coin-flip fraction per "
        f"layer {flips}")
    if options.eval_exact:
        te = time.perf_counter()
        model.set_precision("exact")
        exact = evaluate(model, test_set.frames, test_set.labels, batch_size=32)
        model.set_precision("train")
        metrics.update({"test_accuracy": exact["accuracy"], "test_exact": exact,
                        "exact_eval_seconds": time.perf_counter() - te,
                        "test_accuracy_precision": PRECISION_NOTE["exact"]})
    else:
        metrics.update({"test_accuracy": final["accuracy"],
                        "test_accuracy_precision": PRECISION_NOTE["train"]})
    save_checkpoint(out, model, data_config=data.to_dict(), train_config=options.to_dict(), metrics=metrics,
                    history=history, class_names=list(train_set.class_names), epoch=options.epochs,
                    optimizer_state=optimizer.state_dict(), scheduler_state=scheduler.state_dict(),
                    extra=_best_payload(best))
    log(f"test accuracy {metrics['test_accuracy']:.4f} ({metrics['test_accuracy_precision']}); "
        f"{train_time:.0f} s of training; wrote {out / CHECKPOINT_FILE}")
    return metrics
