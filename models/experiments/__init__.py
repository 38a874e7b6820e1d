"""Experiments: ``ipnet-cosim experiment NAME`` writes ``NAME.json`` and ``NAME.png`` for each.

The registry maps a name to ``module:function``; every function has the signature
``run(out_dir, *, seed=0, quick=False, progress=None) -> dict`` and is imported only when run.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

EXPERIMENTS: dict[str, str] = {
    "time-reversed": "ipnet_cosim.models.experiments.temporal:run_time_reversed",
    "frontier": "ipnet_cosim.models.experiments.temporal:run_frontier",
    "nback": "ipnet_cosim.models.experiments.wm_nback:run_nback",
    "free-recall": "ipnet_cosim.models.experiments.wm_free_recall:run_free_recall",
    "interference": "ipnet_cosim.models.experiments.wm_interference:run_interference",
    "steering": "ipnet_cosim.models.experiments.steering:run_steering",
    "noise": "ipnet_cosim.models.experiments.noise:run_noise",
}


def get_experiment(name: str) -> Callable[..., dict[str, Any]]:
    """The run function of a registered experiment."""
    from ipnet_cosim.device.errors import ConfigError
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment '{name}' is unknown; choose one of {', '.join(EXPERIMENTS)}")
    module, func = EXPERIMENTS[name].split(":")
    return getattr(importlib.import_module(module), func)


def run_experiment(name: str, out_dir: Path | str, *, seed: int = 0, quick: bool = False,
                   progress: Callable[[str], None] | None = None, **options: Any) -> dict[str, Any]:
    """Run a registered experiment into ``out_dir`` and return its result dict.

    ``options`` go to the experiment (e.g. ``data_root`` for ``steering``: a folder of DDD-20 files).
    """
    return get_experiment(name)(Path(out_dir), seed=seed, quick=quick, progress=progress, **options)
