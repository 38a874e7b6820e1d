"""``steering``: DDD-20-style steering regression, IPNet against a CNN-LSTM of the same backbone.

Each network step predicts the steering wheel angle from the readout current at that step,
``y_t = W_r s_t + b_r`` (degrees after de-normalisation), trained with the mean squared error
over steps ``t >= 1`` (at ``t = 0`` no model has seen motion yet). The synthetic stream
(:func:`~ipnet_cosim.models.data.ddd20.make_steering_dataset`) encodes the angle in the sideways
drift of roadside texture between consecutive frames, so it cannot be read from one frame; with
DDD-20 recordings (``data_root``: a folder of ``*.hdf5``) the same code runs on real drives.

Error metric: root-mean-square error of the angle in degrees over test steps ``t >= 1``
(also mean absolute error, and the RMSE of always predicting the training mean).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.checkpoint import write_json
from ipnet_cosim.models.experiments.temporal import QUICK_LAYERS
from ipnet_cosim.models.network_config import ARCH_DESCRIPTIONS, NetworkConfig
from ipnet_cosim.models.network import build_network
from ipnet_cosim.models.units import PRECISION_NOTE

MODELS = ("ipnet", "lstm", "memoryless")
#: every test window's target and each model's prediction per step (degrees), beside steering.json
PREDICTIONS_FILE = "steering_predictions.npz"


def _load_data(data_root: str | None, n_train: int, n_test: int, seed: int):
    if data_root:
        from ipnet_cosim.models.data.ddd20 import load_ddd20
        files = sorted(Path(data_root).glob("*.hdf5"))
        if not files:
            raise ConfigError(f"no DDD-20 recordings (*.hdf5) in {data_root}")
        parts = [load_ddd20(f) for f in files]
        frames = np.concatenate([p.frames for p in parts])
        target = np.concatenate([p.steering_deg for p in parts])
        split = int(0.8 * len(frames))   # the last 20 % of windows (in file order) are the test set
        return (frames[:split], target[:split]), (frames[split:], target[split:]), \
            {"source": "DDD-20", "files": [str(f) for f in files]}
    from ipnet_cosim.models.data.synthetic_steering import SyntheticSteeringConfig, make_steering_dataset
    cfg = SyntheticSteeringConfig()
    train = make_steering_dataset(n_train, config=cfg, seed=seed, split="train")
    test = make_steering_dataset(n_test, config=cfg, seed=seed, split="test")
    return (train.frames, train.steering_deg), (test.frames, test.steering_deg), \
        {"source": "synthetic steering stream", "config": train.meta.get("config", {}), "seed": seed}


def _predict(model, frames: np.ndarray, batch: int = 32) -> np.ndarray:
    out = []
    with torch.no_grad():
        for s in range(0, len(frames), batch):
            _, trace = model(torch.from_numpy(frames[s:s + batch]), return_trace=True)
            out.append(trace["readout"][..., 0].transpose(0, 1).double().numpy())
    return np.concatenate(out)


def run_steering(out_dir: Path, *, seed: int = 0, quick: bool = False,
                 progress: Callable[[str], None] | None = None, data_root: str | None = None,
                 models: tuple[str, ...] = MODELS) -> dict[str, Any]:
    """Train each model to regress the steering angle per step; write steering.json/.png and every test window's
    targets and predictions (:data:`PREDICTIONS_FILE`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = progress or (lambda m: None)
    n_train, n_test, epochs = (24, 8, 1) if quick else (400, 100, 8)
    (xtr, ytr), (xte, yte), source = _load_data(data_root, n_train, n_test, seed)
    mean, std = float(ytr[:, 1:].mean()), float(ytr[:, 1:].std() or 1.0)
    card = DeviceCard()
    rows: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    t0 = time.perf_counter()
    for arch in models:
        cfg = NetworkConfig(arch=arch, n_classes=1, height=xtr.shape[-2], width=xtr.shape[-1])
        if quick:
            cfg = dataclasses.replace(cfg, layers=QUICK_LAYERS)
        model = build_network(cfg, card, seed=seed)
        gen = np.random.default_rng(seed)
        model.calibrate(torch.from_numpy(xtr[np.sort(gen.choice(len(xtr), min(64, len(xtr)), replace=False))]))
        model.set_precision("train")
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=1.5e-4)
        te = time.perf_counter()
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(seed * 1009 + epoch)).numpy()
            total = 0.0
            for s in range(0, len(xtr), 32):
                idx = np.sort(order[s:s + 32])
                _, trace = model(torch.from_numpy(xtr[idx]), return_trace=True)
                pred = trace["readout"][1:, :, 0].transpose(0, 1)
                target = (torch.from_numpy(ytr[idx, 1:]).to(pred.dtype) - mean) / std
                loss = nn.functional.mse_loss(pred, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * len(idx)
            sched.step()
            log(f"steering {arch}: epoch {epoch + 1}/{epochs} normalised MSE {total / len(xtr):.4f}")
        seconds = time.perf_counter() - te
        model.eval()
        if not quick:
            model.set_precision("exact")
        pred = _predict(model, xte) * std + mean
        err = pred[:, 1:] - yte[:, 1:]
        rmse = float(np.sqrt(np.mean(err ** 2)))
        rows.append({"arch": arch, "description": ARCH_DESCRIPTIONS[arch], "rmse_deg": rmse,
                     "mae_deg": float(np.mean(np.abs(err))), "parameter_count": model.parameter_count(),
                     "train_seconds": round(seconds, 1),
                     "precision": PRECISION_NOTE["train" if quick else "exact"]})
        curves[arch] = pred
        log(f"steering {arch}: test RMSE {rmse:.3f} deg")
    baseline_rmse = float(np.sqrt(np.mean((yte[:, 1:] - mean) ** 2)))
    by = {r["arch"]: r for r in rows}
    lines = [f"{r['arch']}: RMSE {r['rmse_deg']:.2f} deg" for r in rows]
    lines.append(f"predicting the training mean: RMSE {baseline_rmse:.2f} deg")
    checks = {}
    if "ipnet" in by and "lstm" in by:
        rel = (by["ipnet"]["rmse_deg"] - by["lstm"]["rmse_deg"]) / by["lstm"]["rmse_deg"]
        checks["ipnet_vs_cnn_lstm_relative_rmse"] = rel
        lines.append(f"IPNet vs CNN-LSTM: {100 * rel:+.1f} % RMSE (paper reports -14.4 %/-12.4 % on DDD-20)")
    result = {"experiment": "steering", "seed": seed, "quick": quick,
              "data": {**source, "windows": {"train": len(xtr), "test": len(xte)}},
              "provenance": "simulated: PyTorch twin (deterministic MTJ neurons); error computed on held-out "
                            "windows",
              "metric": "RMSE of the steering wheel angle over test steps t >= 1, degrees",
              "rows": rows, "mean_predictor_rmse_deg": baseline_rmse, "checks": checks,
              "example": {"target_deg": yte[0].tolist(),
                          "predictions_deg": {arch: pred[0].tolist() for arch, pred in curves.items()}},
              "predictions_file": PREDICTIONS_FILE,
              "units": {"rmse_deg": "deg", "mae_deg": "deg", "train_seconds": "s"},
              "device_card": card.to_dict(), "wall_seconds": round(time.perf_counter() - t0, 1),
              "summary_lines": lines}
    np.savez_compressed(out_dir / PREDICTIONS_FILE, target_deg=yte,
                        **{f"predicted_deg_{arch}": pred for arch, pred in curves.items()})
    write_json(out_dir / "steering.json", result)
    _plot(result, out_dir / "steering.png")
    return result


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rows = result["rows"]
    axes[0].bar([r["arch"] for r in rows], [r["rmse_deg"] for r in rows], color="#4c72b0")
    axes[0].axhline(result["mean_predictor_rmse_deg"], color="k", ls="--", lw=0.8, label="predict the mean")
    axes[0].set_ylabel("test RMSE (deg)")
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"steering regression ({result['data']['source']})", fontsize=10)
    ex = result["example"]
    axes[1].plot(ex["target_deg"], "k-", lw=2, label="target")
    for arch, pred in ex["predictions_deg"].items():
        axes[1].plot(pred, "o-", ms=3, label=arch)
    axes[1].set_xlabel("network step")
    axes[1].set_ylabel("steering angle (deg)")
    axes[1].legend(fontsize=8)
    axes[1].set_title("one test window", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
