"""Checkpoints: weights + full configuration + device card + metrics, and their validation.

A checkpoint folder holds ``checkpoint.pt`` (``torch.save`` of plain types and tensors, read
back with ``weights_only=True``) and ``checkpoint.json`` (the same minus tensors, for people
and for tools that do not load torch). Files are written to a temporary name and renamed,
so an interrupted save never destroys the previous checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from ipnet_cosim.device.card import DeviceCard, without_legacy_numerics
from ipnet_cosim.device.errors import CheckpointError, ConfigError
from ipnet_cosim.device.fileio import atomic_write_bytes as _atomic_write_bytes, json_default, write_json  # noqa: F401
from ipnet_cosim.models.network_config import NetworkConfig
from ipnet_cosim.models.network import SpikingNet

FORMAT = "ipnet-cosim-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.pt"
SUMMARY_FILE = "checkpoint.json"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model and everything saved with it."""

    model: SpikingNet
    network_config: NetworkConfig
    card: DeviceCard
    data_config: dict[str, Any]
    train_config: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    class_names: list[str]
    epoch: int
    path: Path
    raw: dict[str, Any]


def save_checkpoint(folder: Path, model: SpikingNet, *, data_config: Mapping[str, Any],
                    train_config: Mapping[str, Any], metrics: Mapping[str, Any],
                    history: list[dict[str, Any]], class_names: list[str], epoch: int,
                    optimizer_state: dict | None = None, scheduler_state: dict | None = None,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``checkpoint.pt`` and ``checkpoint.json`` into ``folder`` (atomically). Returns the .pt path."""
    from ipnet_cosim.models import __version__
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "network_config": model.config.to_dict(), "device_card": model.card.to_dict(),
        "data_config": dict(data_config), "train_config": dict(train_config),
        "metrics": dict(metrics), "history": list(history), "class_names": list(class_names),
        "epoch": int(epoch), "parameter_count": model.parameter_count(),
        "layer_kinds": model.layer_kinds(),
    }
    state = {k: v.detach().to(torch.float32).clone() if v.is_floating_point() else v.detach().clone()
             for k, v in model.state_dict().items()}
    payload = dict(summary, state_dict=state)
    if optimizer_state is not None:
        payload["optimizer"] = optimizer_state
    if scheduler_state is not None:
        payload["scheduler"] = scheduler_state
    if extra:
        payload.update(extra)
    pt = folder / CHECKPOINT_FILE
    _atomic_write_bytes(pt, lambda tmp: torch.save(payload, tmp))
    write_json(folder / SUMMARY_FILE, summary)
    return pt


#: the bundled checkpoints (``models/pretrained/<name>``; see its README)
PRETRAINED = ("ipnet_chip", "ipnet_default", "ipnet_median", "ipnet_stochastic")
#: the bundled IPNet of the demo and the default chip: fine-tuned for it under stochastic firing
BUNDLED = "ipnet_chip"


def pretrained_dir(name: str) -> Path:
    """The folder of the bundled checkpoint ``name`` (one of :data:`PRETRAINED`)."""
    if name not in PRETRAINED:
        raise CheckpointError(f"no bundled checkpoint '{name}'; bundled: {', '.join(PRETRAINED)}")
    return Path(__file__).parent / "pretrained" / name


def bundled_checkpoint_dir() -> Path:
    """The folder of the bundled IPNet (:data:`BUNDLED`: the paper's network fine-tuned for the default chip)."""
    return pretrained_dir(BUNDLED)


def resolve_checkpoint_path(path: Path | str) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train one with 'ipnet-cosim train -o DIR' "
                              f"and pass DIR or DIR/{CHECKPOINT_FILE}")
    return path


def load_checkpoint(path: Path | str, *, expected_arch: str | None = None) -> Checkpoint:
    """Load and validate a checkpoint; rebuild the model with its saved configuration and card.

    Raises:
        CheckpointError: unreadable/corrupt file, wrong format or version, a configuration that
            does not parse, weights that do not match the architecture, non-finite weights, or an
            architecture other than ``expected_arch``.
    """
    path = resolve_checkpoint_path(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head == b"\x89HDF\r\n\x1a\n":                 # HDF5: a NIR graph (or another framework's file)
        raise CheckpointError(f"{path} is an HDF5 file (a NIR graph?), not a checkpoint; import a NIR graph first with "
                              f"'ipnet-cosim import-nir {path} -o DIR --data DATASET' and pass DIR")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, not a torch file
        raise CheckpointError(f"checkpoint {path} is not readable (truncated, corrupt or not a torch "
                              f"file: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                              f"re-run training or restore the file") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an ipnet-cosim checkpoint (no '{FORMAT}' format tag); "
                              f"checkpoints come from 'ipnet-cosim train'")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {raw.get('format_version')!r}; this "
                              f"ipnet-cosim reads version {FORMAT_VERSION}; re-export it with a matching version")
    for key in ("network_config", "device_card", "state_dict"):
        if key not in raw:
            raise CheckpointError(f"checkpoint {path} lacks '{key}'; the file is incomplete, re-run training")
    try:
        saved_net = dict(raw["network_config"])
        # checkpoints written before the bounded drive existed were trained with the ideal mirror
        saved_net.setdefault("drive", "ideal")
        config = NetworkConfig.from_dict(saved_net)
        # checkpoints saved before issue 31 carry the simulator numerics of 1 fs edges and an instant switch;
        # the physical edges and switching time of the card replace them
        card = DeviceCard.from_dict(without_legacy_numerics(raw["device_card"]), origin=f"checkpoint {path}")
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path}: its saved configuration is invalid: {exc}") from exc
    if expected_arch is not None and config.arch != expected_arch:
        raise CheckpointError(f"checkpoint {path} holds a '{config.arch}' network, expected '{expected_arch}'")
    state = raw["state_dict"]
    for name, tensor in state.items():
        if not torch.is_tensor(tensor):
            raise CheckpointError(f"checkpoint {path}: weight '{name}' is not a tensor")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(f"checkpoint {path}: weight '{name}' has {bad} NaN/inf value(s); the training "
                                  f"diverged or the file was edited; retrain (lower --lr) or use an earlier checkpoint")
    model = SpikingNet(config, card)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not match its '{config.arch}' architecture: missing "
                              f"{missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected "
                              f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}; it was saved by another "
                              f"network definition")
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(f"checkpoint {path}: weight '{name}' has shape {tuple(state[name].shape)}, the "
                                  f"configured network needs {tuple(tensor.shape)}; the file's configuration and "
                                  f"weights disagree")
    model.load_state_dict(state)
    model.eval()
    return Checkpoint(model=model, network_config=config, card=card,
                      data_config=dict(raw.get("data_config", {})), train_config=dict(raw.get("train_config", {})),
                      metrics=dict(raw.get("metrics", {})), history=list(raw.get("history", [])),
                      class_names=list(raw.get("class_names", [])), epoch=int(raw.get("epoch", 0)),
                      path=path, raw=raw)
