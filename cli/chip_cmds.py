"""Chip commands: ``finetune`` a checkpoint for a chip (hardware-aware training through its crossbars) and
``calibrate`` one chip's mirror-gain trims."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ipnet_cosim.cli.app import app
from ipnet_cosim.cli.chip_opts import (Copies, GMax, GMin, Levels, RDriver, RWire, Slices, Synapse, TileCols, TileRows,
                                       Variation, VariationKind, VariationS, VariationSeed, chip_mapping_options)
from ipnet_cosim.device.synapse import DEFAULT_SYNAPSE


@app.command("finetune")
def finetune_cmd(checkpoint: Path = typer.Argument(..., help="checkpoint folder or .pt file (ipnet-cosim train)"),
                 out: Path = typer.Option(..., "--out", "-o", help="new checkpoint folder"),
                 epochs: int = typer.Option(3, help="fine-tuning epochs through the crossbars"),
                 lr: float = typer.Option(2e-3, help="Adam learning rate"),
                 batch_size: int = typer.Option(32, help="samples per step"),
                 chips: str = typer.Option("per_batch", help="device variation during training: per_batch (a new "
                                           "chip every mini-batch) | fixed (the exported chip)"),
                 seed: int = typer.Option(0, help="seed of shuffling and of the per-batch chips"),
                 t_max_penalty: float = typer.Option(0.0, help="weight of the junction-temperature penalty (0: off; "
                                                     "e.g. 10 keeps every MTJ below the card's t_max where it can)"),
                 firing: str = typer.Option("median", help="neuron firing while fine-tuning: median (u = 1/2, an "
                                            "idealisation) | stochastic (a fresh draw per neuron and step)"),
                 grad_clip: float = typer.Option(1.0, help="gradient-norm clip of every step (as train)"),
                 coin_flip_penalty: float = typer.Option(0.0, help="weight of the penalty on neuron-steps whose "
                                                         "firing is a coin flip (mean p(1-p); as train)"),
                 schedule: str = typer.Option("constant", help="learning rate: constant | cosine (annealed step by "
                                              "step to lr x 0.05)"),
                 gain_sigma: float = typer.Option(0.0, help="training only: lognormal gain jitter (sigma) on every "
                                                  "crossbar layer's outputs, one draw per sample and layer, so that "
                                                  "the network holds up under gain errors (0: off)"),
                 synapse: Synapse = DEFAULT_SYNAPSE, tile_rows: TileRows = 128, tile_cols: TileCols = 128,
                 g_min: GMin = None, g_max: GMax = None, levels: Levels = None, variation: Variation = None,
                 variation_s: VariationS = None, variation_kind: VariationKind = "lognormal", slices: Slices = None,
                 copies: Copies = None, variation_seed: VariationSeed = 0, r_wire: RWire = None,
                 r_driver: RDriver = 0.0) -> None:
    """Fine-tune a checkpoint through its mapped crossbars (quantization, variation, exact IR drop); the new
    checkpoint records the hardware, and export warns when mapped with other options."""
    from rich.console import Console
    from ipnet_cosim.chip.finetune import finetune_hardware
    console = Console(stderr=True)
    options = chip_mapping_options(synapse, tile_rows, tile_cols, g_min, g_max, levels, variation, variation_s,
                                   variation_kind, variation_seed, r_wire, r_driver, slices=slices, copies=copies)
    metrics = finetune_hardware(checkpoint, out, options, epochs=epochs, lr=lr, batch_size=batch_size,
                                variation=chips, seed=seed, t_max_penalty=t_max_penalty, log=console.log,
                                progress_bar=True, firing=firing, grad_clip=grad_clip,
                                coin_flip_penalty=coin_flip_penalty, schedule=schedule, gain_sigma=gain_sigma)
    console.print(f"[bold]wrote[/bold] {out.resolve()}: test accuracy through the crossbars (PyTorch hardware "
                  f"model, exported chip) {metrics['hardware_test_accuracy']:.3f}, plain "
                  f"{metrics['test_accuracy']:.3f}; "
                  f"junction excess over t_max {metrics['junction_excess_before']:.3g} -> "
                  f"{metrics['junction_excess_after']:.3g} (0: every MTJ below the card's t_max)")
    if "hardware_test_stochastic" in metrics:
        acc = metrics["hardware_test_stochastic"]["accuracy"]
        console.print(f"  under stochastic firing (hardware model): {acc['mean']:.3f} +- {acc['std_over_draws']:.3f} "
                      f"over {acc['draws']} draws (train precision)")


@app.command("calibrate")
def calibrate_cmd(checkpoint: Path = typer.Argument(..., help="checkpoint folder or .pt file (the network the chip "
                                                        "runs)"),
                  out: Path = typer.Option(..., "--out", "-o", help="calibration file to write (.json); export reads "
                                           "it with --gain-trims"),
                  samples: int = typer.Option(352, help="training samples scored per trim code (never the test set)"),
                  layers: str = typer.Option("0", help="hidden layers to trim, in order: e.g. 0 or 0,1,2 or all"),
                  firing: str = typer.Option("stochastic", help="how the neurons fire while scoring: stochastic (as "
                                             "on chip; one recorded draw per sample) | median"),
                  draw_seed: int = typer.Option(1, help="stochastic: seed of the scoring draws"),
                  draws: int = typer.Option(1, help="stochastic: recorded draws per sample scored (the score is the "
                                            "mean over them)"),
                  objective: str = typer.Option("accuracy", help="accuracy (ties by cross-entropy) | cross_entropy "
                                                "(smoother: the draw moves a code's accuracy by points)"),
                  synapse: Synapse = DEFAULT_SYNAPSE, tile_rows: TileRows = 128, tile_cols: TileCols = 128,
                  g_min: GMin = None, g_max: GMax = None, levels: Levels = None, variation: Variation = None,
                  variation_s: VariationS = None, variation_kind: VariationKind = "lognormal", slices: Slices = None,
                  copies: Copies = None, variation_seed: VariationSeed = 0, r_wire: RWire = None,
                  r_driver: RDriver = 0.0) -> None:
    """Calibrate one chip's mirror-gain trims (a 6-bit trim of each hidden layer's mirrors, 0.25 % steps) on labelled
    training samples: the chip is the hardware flags and --variation-seed, as export builds it."""
    from rich.console import Console
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.device.fileio import write_json
    from ipnet_cosim.chip.calibrate import calibrate_checkpoint
    console = Console(stderr=True)
    if out.exists():
        raise ConfigError(f"{out} exists; calibration never overwrites a file: choose another --out or remove it")
    options = chip_mapping_options(synapse, tile_rows, tile_cols, g_min, g_max, levels, variation, variation_s,
                                   variation_kind, variation_seed, r_wire, r_driver, slices=slices, copies=copies)
    chosen: Optional[tuple[int, ...]] = None
    if layers.strip() != "all":
        try:
            chosen = tuple(int(v) for v in layers.split(","))
        except ValueError:
            raise ConfigError(f"--layers {layers!r}: give hidden-layer indices, e.g. 0 or 0,1,2, or all") from None
    cal = calibrate_checkpoint(checkpoint, options, samples=samples, firing=firing, draw_seed=draw_seed, draws=draws,
                               layers=chosen, objective=objective, progress=console.log)
    record = {**cal.to_dict(), "checkpoint": str(checkpoint.resolve()),
              "mapping_options": json.loads(json.dumps(options.to_dict()))}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    console.print(f"[bold]wrote[/bold] {out.resolve()}: trims {', '.join(f'{t:.4f}' for t in cal.gain_trims)} "
                  f"(codes {list(cal.codes)}); accuracy on {cal.samples} training samples {cal.accuracy_untrimmed:.3f} "
                  f"untrimmed -> {cal.accuracy_trimmed:.3f} (computed, PyTorch hardware model); export with "
                  f"--gain-trims {out}")
