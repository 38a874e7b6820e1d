"""A small calibrated (untrained) IPNet checkpoint for netlist tests: fast to simulate in full."""

from __future__ import annotations

from pathlib import Path

import torch

from ipnet_cosim.models.checkpoint import save_checkpoint
from ipnet_cosim.models.datasets import DataConfig, load_dataset
from ipnet_cosim.models.network_config import LayerSpec, NetworkConfig
from ipnet_cosim.models.network import build_network

SMALL_DATA = DataConfig(dataset="synthetic-11", n_train_per_class=3, n_test_per_class=2, n_val_per_class=0,
                        n_bins=8, height=16, width=16, seed=0)
SMALL_LAYERS = (LayerSpec("conv", 3, kernel=4, stride=4), LayerSpec("linear", 10))


def make_small_checkpoint(folder: Path, *, arch: str = "ipnet", seed: int = 0, layers=SMALL_LAYERS,
                          memory_layers=None, card=None, drive: str = "bounded", trained_steps: int = 0) -> Path:
    """conv 2->3 k4 s4 on 16x16 (16 positions) -> linear 48->10 -> readout 11; calibrated on the train split, then
    ``trained_steps`` full-batch Adam steps on it (30: test accuracy ~0.36 of 22 samples against 1/11 by chance, and
    accuracies that differ between chips and draws, so that averages over them can be checked)."""
    config = NetworkConfig(arch=arch, height=16, width=16, n_classes=11, layers=layers,
                           memory_layers=memory_layers, drive=drive)
    net = build_network(config, card, seed=seed)
    train, _ = load_dataset(SMALL_DATA)
    net.calibrate(torch.as_tensor(train.frames), fire_fraction=0.2)
    # calibration puts the current of blank inputs (bias only) exactly on the threshold quantile, a
    # numerical tie that no two integrators resolve alike; move every bias off it by ~1-3 % of I_th
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for op in net.ops:
            b = op.op.bias
            b.add_(0.02 * b.abs().mean() * (torch.rand(b.shape, generator=gen) + 0.5) *
                   torch.where(torch.rand(b.shape, generator=gen) < 0.5, -1.0, 1.0))
    if trained_steps:
        x, y = torch.as_tensor(train.frames), torch.as_tensor(train.labels).long()
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(trained_steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    return save_checkpoint(folder, net, data_config=SMALL_DATA.to_dict(), train_config={}, metrics={},
                           history=[], class_names=list(train.class_names), epoch=0)


def chip_scores(model, options, frames, draws=None) -> torch.Tensor:
    """Class scores of ``frames`` from the PyTorch hardware model (HardwareNet: quantized, varied devices, exact IR
    drop) of ``model`` at exact precision on the chip ``options`` describes: a path independent of an export and its
    twin; ``draws``: the recorded draws of stochastic firing."""
    from ipnet_cosim.chip.hardware_net import HardwareNet
    with torch.no_grad():
        return HardwareNet(model.set_precision("exact").eval(), options)(torch.as_tensor(frames), draws=draws)
