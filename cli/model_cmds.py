"""Model commands: ``train``, ``evaluate`` and the paper's ``experiment``s (PyTorch; torch loads inside them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ipnet_cosim.cli.app import app, card_option


def _parse_int_list(text: Optional[str]) -> Optional[tuple[int, ...]]:
    if text is None:
        return None
    text = text.strip()
    if text in ("", "none"):
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a comma-separated list of layer indices (e.g. 0 or 0,1)") from None


def _load_config_file(path: Optional[Path]) -> dict:
    if path is None:
        return {}
    from ipnet_cosim.device.card_files import read_table_file
    from ipnet_cosim.device.errors import ConfigError
    data = read_table_file(path, "config file")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table with sections network, data, train")
    bad = set(data) - {"network", "data", "train"}
    if bad:
        raise ConfigError(f"config file {path}: unknown section(s) {sorted(bad)}; use network, data, train")
    return data


@app.command("train")
def train_cmd(out: Path = typer.Option(Path("results/train/ipnet"), "--out", "-o", help="checkpoint folder"),
              arch: Optional[str] = typer.Option(None, help="ipnet | memoryless | rnn | lstm | conv2p1d | conv3d | "
                                                            "cnn2d_sum"),
              dataset: Optional[str] = typer.Option(None, help="synthetic-22 (default) | synthetic-11 | dvs128-11 | "
                                                               "dvs128-22"),
              data_root: Optional[Path] = typer.Option(None, help="DVS128 Gesture folder (dvs128-* data sets)"),
              epochs: Optional[int] = typer.Option(None, help="training epochs"),
              batch_size: Optional[int] = typer.Option(None, help="samples per step"),
              lr: Optional[float] = typer.Option(None, help="Adam learning rate"),
              seed: Optional[int] = typer.Option(None, help="seed of weights, shuffling and synthetic data"),
              train_per_class: Optional[int] = typer.Option(None, help="synthetic training samples per gesture"),
              test_per_class: Optional[int] = typer.Option(None, help="synthetic test samples per gesture"),
              memory_layers: Optional[str] = typer.Option(None, help="IPNet: layers keeping heat, e.g. 0 or 0,1"),
              drive: Optional[str] = typer.Option(None, help="neuron drive: bounded (the card's drive stage, "
                                                  "default) or ideal (unbounded mirror; not realisable)"),
              t_max_penalty: Optional[float] = typer.Option(None, help="weight of the junction-temperature "
                                                            "penalty (keeps every MTJ below the card's t_max)"),
              firing: Optional[str] = typer.Option(None, help="neuron firing in training: median (u = 1/2, an "
                                                   "idealisation; default) | stochastic (a seeded draw per neuron "
                                                   "and step, as the device fires)"),
              coin_flip_penalty: Optional[float] = typer.Option(None, help="weight of the penalty on neuron-steps "
                                                                "whose firing is a coin flip (mean p(1-p))"),
              train_noise: Optional[str] = typer.Option(None, help="synthetic data: none (default) | mixed (sensor "
                                                        "noise and bursts added to the training and validation "
                                                        "streams; the test set stays clean)"),
              init: Optional[Path] = typer.Option(None, help="start from this checkpoint's weights (a fine-tune, "
                                                  "e.g. for --firing stochastic); same network and card"),
              config: Optional[Path] = typer.Option(None, help="TOML/YAML/JSON with sections network, data, train"),
              card: Optional[Path] = typer.Option(None, help="device card file; default card if omitted"),
              threads: int = typer.Option(0, help="torch CPU threads (0: torch default)"),
              resume: bool = typer.Option(False, help="continue the checkpoint in --out"),
              exact_eval: bool = typer.Option(True, help="final test evaluation in exact (float64) precision too"),
              quiet: bool = typer.Option(False, help="no progress bar")) -> None:
    """Train IPNet or a baseline; writes checkpoint.pt + checkpoint.json (weights, config, card, metrics)."""
    from rich.console import Console
    from ipnet_cosim.models.datasets import DataConfig
    from ipnet_cosim.models.network_config import NetworkConfig
    from ipnet_cosim.models.train import TrainConfig, train
    console = Console(stderr=True)
    file_cfg = _load_config_file(config)
    net = dict(file_cfg.get("network", {}))
    dat = dict(file_cfg.get("data", {}))
    opt = dict(file_cfg.get("train", {}))
    for target, key, value in ((net, "arch", arch), (dat, "dataset", dataset),
                               (dat, "root", None if data_root is None else str(data_root)),
                               (opt, "epochs", epochs), (opt, "batch_size", batch_size), (opt, "lr", lr),
                               (opt, "seed", seed), (dat, "seed", seed),
                               (dat, "n_train_per_class", train_per_class),
                               (dat, "n_test_per_class", test_per_class),
                               (net, "memory_layers", _parse_int_list(memory_layers)), (net, "drive", drive),
                               (opt, "t_max_penalty", t_max_penalty), (dat, "train_noise", train_noise),
                               (opt, "firing", firing), (opt, "coin_flip_penalty", coin_flip_penalty),
                               (opt, "init_checkpoint", None if init is None else str(init))):
        if value is not None:
            target[key] = value
    opt["threads"] = threads or opt.get("threads", 0)
    opt["eval_exact"] = exact_eval
    data_cfg = DataConfig.from_dict(dat)
    n_classes = 22 if data_cfg.time_reversed else 11
    net.setdefault("n_classes", n_classes)
    net.setdefault("height", data_cfg.height)
    net.setdefault("width", data_cfg.width)
    net_cfg = NetworkConfig.from_dict(net)
    metrics = train(out, net_cfg, data_cfg, TrainConfig.from_dict(opt), card_option(card), resume=resume,
                    progress_bar=not quiet, log=console.log)
    console.print(f"[bold]test accuracy[/bold] {metrics['test_accuracy']:.4f} "
                  f"({metrics['test_accuracy_precision']}; median mode, an idealisation), "
                  f"{metrics['parameter_count']} parameters, {metrics['train_seconds']:.0f} s training")
    if "test_stochastic" in metrics:
        acc = metrics["test_stochastic"]["accuracy"]
        console.print(f"[bold]stochastic firing[/bold] {acc['mean']:.4f} +- {acc['std_over_draws']:.4f} over "
                      f"{acc['draws']} draws (95 % interval {acc['ci95'][0]:.3f}-{acc['ci95'][1]:.3f}; "
                      f"{metrics['test_stochastic_precision']})")
    console.print(f"[bold]wrote[/bold] {(out / 'checkpoint.pt').resolve()}")


@app.command("evaluate")
def evaluate_cmd(checkpoint: Path = typer.Argument(..., help="checkpoint file or its folder"),
                 precision: str = typer.Option("exact", help="exact (float64, 64/16 substeps) | train"),
                 dataset: Optional[str] = typer.Option(None, help="data set (default: the checkpoint's)"),
                 data_root: Optional[Path] = typer.Option(None, help="DVS128 Gesture folder"),
                 out: Optional[Path] = typer.Option(None, "--out", "-o", help="write the metrics JSON here"),
                 firing: str = typer.Option("median", help="median (u = 1/2: fire when H >= ln 2, an idealisation) | "
                                            "stochastic (each neuron fires when H >= -ln u, u drawn per neuron "
                                            "and step, as the device does)"),
                 draws: int = typer.Option(10, help="stochastic: draws per sample"),
                 draw_seed: int = typer.Option(0, help="stochastic: seed of the draws"),
                 threads: int = typer.Option(0, help="torch CPU threads (0: torch default)")) -> None:
    """Evaluate a checkpoint on its test set (or another data set of the same shape); under stochastic firing the
    accuracy is a distribution over the draws, with each MTJ layer's coin-flip fraction."""
    import torch
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.models.checkpoint import load_checkpoint, write_json
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.train import evaluate
    if threads:
        torch.set_num_threads(threads)
    mode = Firing(firing, seed=draw_seed, draws=draws if firing == "stochastic" else 1)
    ck = load_checkpoint(checkpoint)
    dat = dict(ck.data_config)
    if dataset is not None:
        dat["dataset"] = dataset
    if data_root is not None:
        dat["root"] = str(data_root)
    data_cfg = DataConfig.from_dict(dat)
    _, test = load_dataset(data_cfg)
    if precision not in ("exact", "train"):
        raise typer.BadParameter(f"--precision {precision!r}: use exact or train")
    ck.model.set_precision("exact" if precision == "exact" else "train")
    arch = ck.network_config.arch
    if mode.stochastic:
        from ipnet_cosim.models.train import ProgressBar
        from ipnet_cosim.models.stochastic import evaluate_firing
        with ProgressBar(True) as bar:
            task = bar.task(f"{draws} draws per sample", len(test.labels))
            result = evaluate_firing(ck.model, test.frames, test.labels, mode,
                                     progress=lambda done, n: bar.update(task, completed=done))
        acc = result["accuracy"]
        typer.echo(f"{arch}: accuracy {acc['mean']:.4f} +- {acc['std_over_draws']:.4f} over {acc['draws']} draws "
                   f"(per draw {acc['min']:.4f}-{acc['max']:.4f}; 95 % interval {acc['ci95'][0]:.4f}-"
                   f"{acc['ci95'][1]:.4f}) on {result['n_samples']} samples ({data_cfg.dataset}, {precision} "
                   f"precision, {mode.describe()})")
        for layer in result["layers"]:
            typer.echo(f"  layer {layer['layer']} ({layer['kind']}): fire rate {layer['fire_rate']:.4f}, coin-flip "
                       f"neuron-steps (0.05 < p < 0.95) {layer['coin_flip_fraction']:.4f}")
    else:
        result = evaluate(ck.model, test.frames, test.labels, batch_size=32)
        typer.echo(f"{arch}: accuracy {result['accuracy']:.4f} on {result['n_samples']} "
                   f"samples ({data_cfg.dataset}, {precision} precision, {mode.describe()})")
        if "direction_accuracy" in result:
            typer.echo(f"forward/reversed told apart: {result['direction_accuracy']:.4f} (chance 0.5)")
    result.update({"checkpoint": str(ck.path), "precision": precision, "data_config": data_cfg.to_dict(),
                   "arch": arch, "firing": mode.to_dict(), "firing_note": mode.describe()})
    if out is not None:
        write_json(out, result)
        typer.echo(f"wrote {out}")


@app.command("experiment")
def experiment_cmd(name: str = typer.Argument(..., help="time-reversed | frontier | nback | free-recall | "
                                                        "interference | steering | noise"),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default results/NAME)"),
                   seed: int = typer.Option(0, help="seed"),
                   quick: bool = typer.Option(False, help="a tiny configuration (minutes -> seconds) for smoke runs"),
                   data_root: Optional[Path] = typer.Option(None, help="steering: a folder of DDD-20 *.hdf5 "
                                                                       "recordings (default: synthetic stream)"),
                   seeds: int = typer.Option(2, help="noise: training seeds (seed, seed+1, ...)"),
                   training: str = typer.Option("clean,noise", help="noise: training regimes, clean and/or noise "
                                                "(sensor noise in the training streams)"),
                   circuit_check: bool = typer.Option(True, help="noise: simulate the IPNet at one noise level in "
                                                      "ngspice (spikes vs PyTorch)"),
                   firing: str = typer.Option("median", help="time-reversed, frontier, noise: median (train in the "
                                              "median mode, u = 1/2, an idealisation) or stochastic (then fine-tune "
                                              "each network 8 epochs under stochastic firing unless it already holds "
                                              "up; time-reversed and frontier evaluate both modes either way, noise "
                                              "evaluates under 2 draws)"),
                   threads: int = typer.Option(0, help="torch CPU threads (0: torch default)")) -> None:
    """Run an experiment; writes NAME.json and NAME.png."""
    import torch
    from rich.console import Console
    from ipnet_cosim.models.experiments import EXPERIMENTS, run_experiment
    if name not in EXPERIMENTS:
        raise typer.BadParameter(f"unknown experiment '{name}'; choose one of {', '.join(EXPERIMENTS)}")
    if threads:
        torch.set_num_threads(threads)
    console = Console(stderr=True)
    options: dict[str, Any] = {}
    if data_root is not None:
        if name != "steering":
            raise typer.BadParameter(f"--data-root is an option of the steering experiment, not of '{name}'")
        options["data_root"] = str(data_root)
    if firing != "median":
        if name not in ("time-reversed", "frontier", "noise"):
            raise typer.BadParameter(f"--firing is an option of time-reversed, frontier and noise, not of '{name}'")
        options["firing"] = firing
    if name == "noise":
        if seeds < 1:
            raise typer.BadParameter(f"--seeds ({seeds}) must be at least 1")
        options["seeds"] = seeds
        options["training"] = tuple(t.strip() for t in training.split(",") if t.strip())
        if not circuit_check:
            options["circuit"] = None
        else:
            from ipnet_cosim.simulation.noise_check import noise_circuit_check
            options["circuit_checker"] = noise_circuit_check
    folder = out or Path("results") / name
    result = run_experiment(name, folder, seed=seed, quick=quick, progress=console.log, **options)
    console.print(f"[bold]wrote[/bold] {folder.resolve()}")
    for line in result.get("summary_lines", []):
        console.print(f"  {line}")
