"""Hardware-aware fine-tuning: continue training a checkpoint through its mapped crossbars
(:class:`~ipnet_cosim.chip.hardware_net.HardwareNet`: the exported conductances with quantization,
device variation and the exact IR drop of every tile), and record the hardware it was trained for.

Variation during training is either the exported chip's (``variation="fixed"``: the devices export will
write) or a fresh chip per mini-batch (``"per_batch"``, the default: the network learns to work on any chip
of the same statistics; their variation seeds are all >= :data:`TRAINING_CHIP_SEED_MIN`, so chips with smaller
seeds are unseen in training). The result is a normal checkpoint whose ``hardware`` entry holds the mapping options;
``export`` compares them with its own and warns when they differ
(:func:`~ipnet_cosim.netlist_gen.recorded_hardware.hardware_mismatch`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ipnet_cosim.device.errors import CheckpointError, ConfigError
from ipnet_cosim.netlist_gen.mapping import MappingOptions
from ipnet_cosim.netlist_gen.recorded_hardware import HARDWARE_KEY

VARIATION_MODES = ("per_batch", "fixed")
SCHEDULES = ("constant", "cosine")
# the per-mini-batch training chips have variation seeds >= this; chips drawn with smaller seeds (the exported
# chip's default 0, evaluation chips) are never seen in training
TRAINING_CHIP_SEED_MIN = 2 ** 20


def finetune_hardware(checkpoint: str | Path, out_dir: str | Path, options: MappingOptions, *, epochs: int = 3,
                      lr: float = 2e-3, batch_size: int = 32, variation: str = "per_batch", seed: int = 0,
                      t_max_penalty: float = 0.0, log: Callable[[str], None] | None = None,
                      progress_bar: bool = False, firing: str = "median", grad_clip: float = 1.0,
                      coin_flip_penalty: float = 0.0, schedule: str = "constant",
                      gain_sigma: float = 0.0) -> dict[str, Any]:
    """Fine-tune ``checkpoint`` through the crossbars of ``options``; write the result to ``out_dir``.

    ``firing`` "stochastic" trains with a fresh draw per neuron and step (seeded by ``seed``; sampled spikes with the
    straight-through surrogate, as ``train --firing stochastic``) and also reports the hardware model's accuracy
    under 4 recorded draws per test sample (``hardware_test_stochastic``); "median" (default) trains in the median
    mode.

    ``t_max_penalty`` (>= 0) adds ``t_max_penalty * SpikingNet.junction_excess`` of the hardware model's currents
    to the loss (as ``train --t-max-penalty`` does): zero while every MTJ's temperature bound stays below the
    card's ``limits.t_max_k``, so that fine-tuning can bring a design back inside its safe operating area.

    ``coin_flip_penalty`` (>= 0) adds ``coin_flip_penalty * SpikingNet.coin_flip_variance`` of the hardware model's
    trace (the mean Bernoulli variance p (1 - p) of its neuron-steps, as ``train --coin-flip-penalty``): it pushes the
    neurons away from the currents where their firing is a coin flip, so that a network holds up under its devices'
    randomness.

    ``gain_sigma`` (>= 0) multiplies, while training only, every crossbar layer's outputs (the readout's too) by a
    lognormal gain ``exp(gain_sigma N)``, one draw per sample and layer: IPNet's heat-memory neurons fire by thermal
    activation, steeply in their current, so that a trained network can lose most of its accuracy to a 2 % gain
    error of its first layer (IR drop, the read voltage, the mirrors' reference, PCM's drift); the jitter asks it to
    hold up under such errors. The hardware model and every evaluation stay as mapped.

    ``schedule`` "constant" keeps ``lr``; "cosine" anneals it step by step to ``lr * 0.05`` at the last step (as
    ``train`` anneals it epoch by epoch).

    ``grad_clip`` (> 0) clips the gradient norm of every step, as ``train`` does (its default 1.0): without it the
    surrogate gradients of a few steps near the neurons' thresholds can throw a trained network off its optimum.

    Returns the metrics (also in the new checkpoint): test accuracy of the PyTorch hardware model on the
    exported chip and, for reference, of the plain network; the junction excess on the test set before and after
    (``junction_excess_before`` / ``_after``, 0 = every neuron's bound below t_max).
    """
    import torch
    from torch import nn
    from ipnet_cosim.models.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.device.draws import FIRING_MODES, Firing
    from ipnet_cosim.models.firing import SampledDraws
    from ipnet_cosim.models.stochastic import evaluate_firing
    from ipnet_cosim.models.train import ProgressBar, evaluate
    from ipnet_cosim.models.units import PRECISION_NOTE
    from ipnet_cosim.chip.hardware_net import HardwareNet

    say = log or (lambda msg: None)
    if variation not in VARIATION_MODES:
        raise ConfigError(f"variation mode {variation!r} is unknown; use one of {', '.join(VARIATION_MODES)}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} ({value!r}) must be an integer >= 1")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ConfigError(f"lr ({lr!r}) must be a positive number")
    if isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or not grad_clip > 0:
        raise ConfigError(f"grad_clip ({grad_clip!r}) must be a positive gradient norm")
    for name, amount in (("t_max_penalty", t_max_penalty), ("coin_flip_penalty", coin_flip_penalty),
                         ("gain_sigma", gain_sigma)):
        if (isinstance(amount, bool) or not isinstance(amount, (int, float))
                or not (math.isfinite(amount) and amount >= 0)):
            raise ConfigError(f"{name} ({amount!r}) must be a number >= 0 (0: off)")
    if schedule not in SCHEDULES:
        raise ConfigError(f"learning-rate schedule {schedule!r} is unknown; use one of {', '.join(SCHEDULES)}")
    if firing not in FIRING_MODES:
        raise ConfigError(f"firing '{firing}' is unknown; use one of {', '.join(FIRING_MODES)}")
    out = Path(out_dir)
    if (out / CHECKPOINT_FILE).exists():
        raise CheckpointError(f"{out / CHECKPOINT_FILE} exists; choose another output folder (nothing was overwritten)")
    ck = load_checkpoint(checkpoint)
    model = ck.model.set_precision("train").train()
    hw = HardwareNet(model, options)                   # refuses networks without a circuit (RNN, LSTM, ...)
    train_set, test_set = load_dataset(DataConfig.from_dict(ck.data_config))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = -(-len(train_set.labels) // batch_size)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps, eta_min=lr * 0.05)
                 if schedule == "cosine" else None)
    rng = np.random.default_rng(seed)
    draws = (SampledDraws(torch.Generator().manual_seed(seed + 70_001)) if firing == "stochastic" else None)
    gains = (float(gain_sigma), torch.Generator().manual_seed(seed + 90_001)) if gain_sigma > 0 else None
    history = []
    t0 = time.perf_counter()
    model.set_precision("exact")             # the figures before and after: at the precision the chip is simulated
    excess_before, _ = _hardware_pass(hw, test_set.frames)
    model.set_precision("train")
    with ProgressBar(progress_bar) as bar:
        task = bar.task("fine-tuning through the crossbars", epochs * steps)
        for epoch in range(epochs):
            model.train()
            order = rng.permutation(len(train_set.labels))
            total, n = 0.0, 0
            for start in range(0, len(order), batch_size):
                idx = np.sort(order[start:start + batch_size])
                x = torch.from_numpy(np.ascontiguousarray(train_set.frames[idx]))
                y = torch.from_numpy(train_set.labels[idx]).long()
                hw.chip_seed = (TRAINING_CHIP_SEED_MIN + int(rng.integers(2 ** 31)) if variation == "per_batch"
                                else None)
                hw.gain_jitter = gains
                try:
                    logits, trace = hw(x, return_trace=True, draws=draws, details=coin_flip_penalty > 0)
                finally:
                    hw.gain_jitter = None
                loss = nn.functional.cross_entropy(logits.float(), y)
                if t_max_penalty > 0:
                    loss = loss + t_max_penalty * model.junction_excess(trace).float()
                if coin_flip_penalty > 0:
                    loss = loss + coin_flip_penalty * model.coin_flip_variance(trace).float()
                if not torch.isfinite(loss.detach()):
                    raise ConfigError(f"fine-tuning diverged at epoch {epoch + 1} (loss {float(loss.detach())}); "
                                      f"lower lr")
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total += float(loss.detach()) * len(idx)
                n += len(idx)
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{epochs}, loss {total / n:.4f}")
            history.append({"epoch": ck.epoch + epoch + 1, "train_loss": total / n, "hardware": True,
                            "seconds": time.perf_counter() - t0})
            say(f"hardware fine-tuning epoch {epoch + 1}/{epochs}: loss {total / n:.4f}")
    hw.chip_seed = None                                  # the exported chip
    model.set_precision("exact")           # as simulate's twin and the circuit run it (at train precision a few
    excess_after, hw_pred = _hardware_pass(hw, test_set.frames)     # percent of the samples get another class)
    with torch.no_grad():
        plain_eval = evaluate(model, test_set.frames, test_set.labels, batch_size=32)
    model.set_precision("train")
    if firing == "stochastic":
        stochastic = evaluate_firing(hw, test_set.frames, test_set.labels, Firing("stochastic", seed=seed, draws=4))
        stochastic.pop("predictions")
    else:
        stochastic = None
    metrics = {**ck.metrics, "test_accuracy": plain_eval["accuracy"],
               **({"hardware_test_stochastic": stochastic} if stochastic is not None else {}),
               "hardware_test_accuracy": float((hw_pred == test_set.labels).mean()),
               "finetune_seconds": time.perf_counter() - t0,
               "junction_excess_before": excess_before, "junction_excess_after": excess_after,
               "hardware_test_accuracy_source": "computed: PyTorch hardware model (HardwareNet) on the exported chip",
               "test_accuracy_precision": PRECISION_NOTE["exact"],
               "hardware_test_accuracy_precision": PRECISION_NOTE["exact"],
               **({"hardware_test_stochastic_precision": PRECISION_NOTE["train"]}
                  if stochastic is not None else {})}
    hardware = {"mapping_options": options.to_dict(), "variation": variation, "epochs": epochs, "lr": lr,
                "batch_size": batch_size, "seed": seed, "t_max_penalty": float(t_max_penalty), "firing": firing,
                "grad_clip": float(grad_clip), "coin_flip_penalty": float(coin_flip_penalty), "schedule": schedule,
                "gain_sigma": float(gain_sigma),
                "finetuned_from_epoch": ck.epoch,
                "training_chips": (f"a new chip per mini-batch, variation seeds >= {TRAINING_CHIP_SEED_MIN}"
                                   if variation == "per_batch" else "the exported chip (variation seed "
                                   f"{options.conductance.seed})")}
    save_checkpoint(out, model, data_config=ck.data_config, train_config=ck.train_config, metrics=metrics,
                    history=list(ck.history) + history, class_names=ck.class_names, epoch=ck.epoch + epochs,
                    extra={HARDWARE_KEY: hardware})
    return metrics


def _hardware_pass(hw, frames, batch_size: int = 64) -> tuple[float, np.ndarray]:
    """The hardware model (the exported chip) over the test set, in one pass: its
    :meth:`SpikingNet.junction_excess` (every neuron's temperature bound at its largest current over all test
    samples; 0: all below t_max) and its predicted classes (as ``evaluate`` takes them: argmax of the logits)."""
    import torch
    net = hw.net
    hw.chip_seed = None
    hw.eval()
    peaks: list = []
    preds = []
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(frames[start:start + batch_size]))
            logits, trace = hw(x, return_trace=True)
            preds.append(logits.argmax(dim=1).numpy())
            cur = [None if i is None else i.abs().amax(dim=(0, 1)) for i in trace["currents_a"]]
            peaks = cur if not peaks else [None if a is None or b is None else torch.maximum(a, b)
                                           for a, b in zip(peaks, cur)]
        # one "step" holding every neuron's largest current: the bound junction_excess takes
        excess = float(net.junction_excess({"currents_a": [None if p is None else p[None] for p in peaks]}))
    return excess, np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
