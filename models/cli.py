"""The ``ipnet-cosim`` command line. Heavy modules (torch, ngspice, matplotlib) load inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SPICE-level co-design toolkit for IPNet (thermal MTJ neurons).")


def _card(path: Optional[Path]):
    from ipnet_cosim.device.card import DeviceCard, load_device_card
    return load_device_card(path) if path is not None else DeviceCard()


@app.command()
def characterize(out: Path = typer.Option(Path("results/characterize"), "--out", "-o",
                                          help="output folder for JSON and PNG plots"),
                 card: Optional[Path] = typer.Option(None, help="device card (.toml/.yaml/.json); default card if omitted"),
                 seed: int = typer.Option(1, help="seed of the random draws (ngspice and PyTorch)"),
                 trials: int = typer.Option(500, help="stochastic trials per point")) -> None:
    """Simulate one neuron in ngspice and PyTorch side by side; write plots and a JSON."""
    from rich.console import Console
    from ipnet_cosim.models.characterize import run_characterization
    console = Console(stderr=True)
    device = _card(card)
    with console.status("characterizing") as status:
        result = run_characterization(out, device, seed=seed, trials=trials,
                                      progress=lambda msg: (status.update(msg), console.log(msg)))
    console.print(f"[bold]wrote[/bold] {out.resolve()}")
    summary = result.get("summary")
    if summary:
        for key, value in summary.items():
            console.print(f"  {key}: {value}")


@app.command("compile")
def compile_model(va: Optional[Path] = typer.Option(None, help="Verilog-A file; default: the thermal MTJ neuron"),
                  force: bool = typer.Option(False, help="rebuild even if cached")) -> None:
    """Compile the Verilog-A model to OSDI with openvaf-r (cached by content hash); print the path."""
    from ipnet_cosim.device.compiler import compile_va
    typer.echo(str(compile_va(va, force=force)))


@app.command("card")
def show_card(write: Optional[Path] = typer.Option(None, help="write the default card to this TOML file"),
              check: Optional[Path] = typer.Option(None, help="validate a card file and print it")) -> None:
    """Print the device card (units and sources in comments), write it, or validate a file."""
    from ipnet_cosim.device.card import DeviceCard, format_device_card_toml, load_device_card
    card = load_device_card(check) if check is not None else DeviceCard()
    text = format_device_card_toml(card)
    if write is not None:
        if write.exists():
            raise typer.BadParameter(f"{write} exists; choose another name or delete it first")
        write.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {write}")
    else:
        typer.echo(text)


def _parse_int_list(text: Optional[str]) -> Optional[tuple[int, ...]]:
    if text is None:
        return None
    text = text.strip()
    if text in ("", "none"):
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a comma-separated list of layer indices (e.g. 0 or 0,1)")


def _load_config_file(path: Optional[Path]) -> dict:
    if path is None:
        return {}
    from ipnet_cosim.device.card import read_table_file
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
              arch: Optional[str] = typer.Option(None, help="ipnet | memoryless | rnn | lstm | conv2p1d | conv3d | cnn2d_sum"),
              dataset: Optional[str] = typer.Option(None, help="synthetic-22 (default) | synthetic-11 | dvs128-11 | dvs128-22"),
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
              config: Optional[Path] = typer.Option(None, help="TOML/YAML/JSON with sections network, data, train"),
              card: Optional[Path] = typer.Option(None, help="device card file; default card if omitted"),
              threads: int = typer.Option(0, help="torch CPU threads (0: torch default)"),
              resume: bool = typer.Option(False, help="continue the checkpoint in --out"),
              exact_eval: bool = typer.Option(True, help="final test evaluation in exact (float64) precision too"),
              quiet: bool = typer.Option(False, help="no progress bar")) -> None:
    """Train IPNet or a baseline; writes checkpoint.pt + checkpoint.json (weights, config, card, metrics)."""
    from rich.console import Console
    from ipnet_cosim.models.datasets import DataConfig
    from ipnet_cosim.models.network import NetworkConfig
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
                               (opt, "t_max_penalty", t_max_penalty)):
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
    metrics = train(out, net_cfg, data_cfg, TrainConfig.from_dict(opt), _card(card), resume=resume,
                    progress_bar=not quiet, log=console.log)
    console.print(f"[bold]test accuracy[/bold] {metrics['test_accuracy']:.4f} "
                  f"({metrics['test_accuracy_precision']}), {metrics['parameter_count']} parameters, "
                  f"{metrics['train_seconds']:.0f} s training")
    console.print(f"[bold]wrote[/bold] {(out / 'checkpoint.pt').resolve()}")


@app.command("evaluate")
def evaluate_cmd(checkpoint: Path = typer.Argument(..., help="checkpoint file or its folder"),
                 precision: str = typer.Option("exact", help="exact (float64, 64/16 substeps) | train"),
                 dataset: Optional[str] = typer.Option(None, help="data set (default: the checkpoint's)"),
                 data_root: Optional[Path] = typer.Option(None, help="DVS128 Gesture folder"),
                 out: Optional[Path] = typer.Option(None, "--out", "-o", help="write the metrics JSON here"),
                 threads: int = typer.Option(0, help="torch CPU threads (0: torch default)")) -> None:
    """Evaluate a checkpoint on its test set (or another data set of the same shape)."""
    import torch
    from ipnet_cosim.models.checkpoint import load_checkpoint, write_json
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    from ipnet_cosim.models.train import evaluate
    if threads:
        torch.set_num_threads(threads)
    ck = load_checkpoint(checkpoint)
    dat = dict(ck.data_config)
    if dataset is not None:
        dat["dataset"] = dataset
    if data_root is not None:
        dat["root"] = str(data_root)
    data_cfg = DataConfig.from_dict(dat)
    _, test = load_dataset(data_cfg)
    ck.model.set_precision(precision)
    result = evaluate(ck.model, test.frames, test.labels, batch_size=32)
    result.update({"checkpoint": str(ck.path), "precision": precision, "data_config": data_cfg.to_dict(),
                   "arch": ck.network_config.arch})
    typer.echo(f"{ck.network_config.arch}: accuracy {result['accuracy']:.4f} on {result['n_samples']} "
               f"samples ({data_cfg.dataset}, {precision} precision)")
    if "direction_accuracy" in result:
        typer.echo(f"forward/reversed told apart: {result['direction_accuracy']:.4f} (chance 0.5)")
    if out is not None:
        write_json(out, result)
        typer.echo(f"wrote {out}")


@app.command("experiment")
def experiment_cmd(name: str = typer.Argument(..., help="time-reversed | frontier | nback | free-recall | "
                                                        "interference | steering"),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default results/NAME)"),
                   seed: int = typer.Option(0, help="seed"),
                   quick: bool = typer.Option(False, help="a tiny configuration (minutes -> seconds) for smoke runs"),
                   data_root: Optional[Path] = typer.Option(None, help="steering: a folder of DDD-20 *.hdf5 "
                                                                       "recordings (default: synthetic stream)"),
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
    options = {}
    if data_root is not None:
        if name != "steering":
            raise typer.BadParameter(f"--data-root is an option of the steering experiment, not of '{name}'")
        options["data_root"] = str(data_root)
    folder = out or Path("results") / name
    result = run_experiment(name, folder, seed=seed, quick=quick, progress=console.log, **options)
    console.print(f"[bold]wrote[/bold] {folder.resolve()}")
    for line in result.get("summary_lines", []):
        console.print(f"  {line}")


def _mapping_options(tile_rows, tile_cols, g_min, g_max, levels, variation, variation_kind, variation_seed,
                     r_wire, r_driver, wire_model="reduced"):
    from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    conductance = ConductanceOptions(g_min_s=g_min, g_max_s=g_max, levels=levels or None,
                                     variation_sigma=variation, variation_kind=variation_kind, seed=variation_seed)
    return MappingOptions(tile_rows=tile_rows, tile_cols=tile_cols, conductance=conductance, r_wire_ohm=r_wire,
                          r_driver_ohm=r_driver, wire_model=wire_model)


@app.command("export")
def export_cmd(checkpoint: Path = typer.Argument(..., help="checkpoint folder or .pt file (ipnet-cosim train)"),
               out: Path = typer.Option(..., "--out", "-o", help="new export folder"),
               samples: str = typer.Option("0:10", help="test-set samples whose stimulus is exported, e.g. 0:10 or 3,5"),
               tile_rows: int = typer.Option(128, help="largest crossbar: rows"),
               tile_cols: int = typer.Option(128, help="largest crossbar: physical columns (a weight uses two)"),
               g_min: float = typer.Option(1e-6, help="smallest device conductance, S"),
               g_max: float = typer.Option(1e-3, help="largest device conductance, S"),
               levels: int = typer.Option(0, help="programmable levels per device (0: continuous)"),
               variation: float = typer.Option(0.0, help="device-to-device variation sigma (0.05 = 5 %)"),
               variation_kind: str = typer.Option("lognormal", help="lognormal | normal"),
               variation_seed: int = typer.Option(0, help="seed of the variation draws"),
               r_wire: float = typer.Option(0.0, help="wire resistance per cell segment along rows and columns, ohm"),
               r_driver: float = typer.Option(0.0, help="row driver output resistance, ohm"),
               wire_model: str = typer.Option("reduced", help="with --r-wire: reduced (exact port equivalent of "
                                              "each tile, fast) | ladder (every wire segment, for validation)")
               ) -> None:
    """Export a trained checkpoint to crossbar netlists, stimulus and a manifest."""
    from rich.console import Console
    from ipnet_cosim.netlist_gen.export import export_network, parse_samples
    console = Console(stderr=True)
    options = _mapping_options(tile_rows, tile_cols, g_min, g_max, levels, variation, variation_kind,
                               variation_seed, r_wire, r_driver, wire_model)
    manifest = export_network(checkpoint, out, samples=parse_samples(samples), options=options, progress=console.log)
    console.print(f"[bold]wrote[/bold] {out.resolve()}")
    for layer in manifest["layers"]:
        console.print(f"  {layer['name']}: {layer['type']} -> {layer['units']} netlists, {layer['tiles']} tiles, "
                      f"{layer['devices']} devices ({layer['unit']})")


@app.command("simulate")
def simulate_cmd(folder: Path = typer.Argument(..., help="export folder (ipnet-cosim export)"),
                 samples: Optional[str] = typer.Option(None, help="test-set samples (default: the exported ones)"),
                 out: Optional[Path] = typer.Option(None, "--out", "-o", help="results folder (default FOLDER/sim)"),
                 workers: int = typer.Option(0, help="parallel ngspice processes (0: one per CPU)"),
                 waveforms: list[str] = typer.Option([], "--waveforms", help="keep the waveforms of this unit "
                                                                            "(e.g. L0_p000_c0); repeatable"),
                 compare: bool = typer.Option(True, help="compare with PyTorch on the same samples"),
                 plots: int = typer.Option(3, help="spike-raster plots for the first N samples"),
                 energy: bool = typer.Option(True, help="save source, sense and neuron-input vectors and write "
                                             "per-step energies (energy_sample_*.npz, for ipnet-cosim report)"),
                 scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address (tcp://HOST:8786): run "
                                                         "the units on its workers (shared file system)"),
                 crossbar: str = typer.Option("ports", help="ports: each crossbar as its exact port model (PWL "
                                              "column currents; fast); netlist: every resistor (validation)"),
                 simulator: str = typer.Option("ngspice", help="ngspice or vacask (vacask needs --crossbar ports)"),
                 soa: str = typer.Option("warn", help="safe operating area check against the device card's limits: "
                                         "strict (stop at a violation, named), warn (report it), off (record only)")
                 ) -> None:
    """Simulate an export in ngspice (or VACASK) layer by layer (resumable) and compare with PyTorch."""
    import os
    from rich.console import Console
    from ipnet_cosim.netlist_gen.export import parse_samples
    from ipnet_cosim.netlist_gen.simulate import simulate_export
    console = Console(stderr=True)
    n_workers = workers or max(1, len(os.sched_getaffinity(0)))
    result = simulate_export(folder, samples=parse_samples(samples) if samples else None, out=out,
                             workers=n_workers, waveform_units=waveforms, compare=compare, progress=True,
                             plots=plots, energy=energy, scheduler=scheduler, crossbar=crossbar,
                             simulator=simulator, soa=soa,
                             notify=lambda msg: console.print(f"[yellow]{msg}[/yellow]"))
    s = result["summary"]
    console.print(f"[bold]wrote[/bold] {(out or folder / 'sim').resolve()}")
    console.print(f"  samples: {s['samples']}, circuit accuracy {s['circuit_accuracy']:.3f}, "
                  f"{s['sim_time_per_sample_s']:.1f} s of {simulator} per sample "
                  f"({s['wall_time_s']:.1f} s wall for all, {s['workers']} workers)")
    if compare:
        console.print(f"  PyTorch accuracy {s['torch_accuracy']:.3f}; predicted classes agree on "
                      f"{s['classes_agree']}/{s['samples']}")
        for layer in s["layers"]:
            console.print(f"  {layer['layer']}: {layer['mismatches']} of {layer['neuron_steps']} neuron-steps differ "
                          f"(closest PyTorch margin {layer['closest_margin']:.2e}, {layer['margin']})")
    area = result["soa"]
    verdict = "within the limits" if area["within"] else "[bold red]VIOLATED[/bold red]"
    console.print(f"  safe operating area ({area['drive']} drive): {verdict}")
    lim = area["limits"]
    for c in area["layers"]:
        console.print(f"  {c['layer']}: peak {c['v_peak_v']:.3f} V (compliance {lim['v_compliance_v']['value']:.3g} V, "
                      f"breakdown {lim['v_breakdown_v']['value']:.3g} V), peak {c['t_peak_k']:.1f} K (T_max "
                      f"{lim['t_max_k']['value']:.0f} K, Tc {lim['tc_k']['value']:.0f} K); neuron-steps above: "
                      + ", ".join(f"{k} {v}" for k, v in c["above"].items()))


def _assumptions(v_dd, reset_current, read_v, read_s):
    from ipnet_cosim.energy.accounting import PeripheryAssumptions
    return PeripheryAssumptions(v_dd_v=v_dd, reset_current_a=reset_current or None, spike_read_v=read_v,
                                spike_read_s=read_s)


@app.command("report")
def report_cmd(folder: Path = typer.Argument(..., help="simulated export folder (ipnet-cosim simulate)"),
               out: Optional[Path] = typer.Option(None, "--out", "-o", help="report folder (default FOLDER/report)"),
               sim: Optional[Path] = typer.Option(None, help="simulation folder (default FOLDER/sim)"),
               technology: Optional[str] = typer.Option(None, help="memory technology of the baselines' state "
                                                        "(default: hbm2; see energy/data/memory_technologies.json)"),
               bits: int = typer.Option(32, help="state precision of the baselines, bits per value"),
               technology_table: Optional[Path] = typer.Option(None, help="another technology table (JSON, cited)"),
               v_dd: Optional[float] = typer.Option(None, help="supply of the drive's output stage, V (default: the "
                                                    "device card's drive.v_dd_v)"),
               reset_current: float = typer.Option(0.0, help="reset pulse current, A (0: the card's ic0_a)"),
               read_v: float = typer.Option(0.1, help="per-step state read bias, V"),
               read_s: float = typer.Option(0.5e-9, help="per-step state read time, s")) -> None:
    """Energy, memory-energy and area report of a simulated export (report.json, .md, .html)."""
    from rich.console import Console
    from ipnet_cosim.energy.report import build_report, write_report
    console = Console(stderr=True)
    report, data = build_report(folder, sim=sim, assumptions=_assumptions(v_dd, reset_current, read_v, read_s),
                                technology=technology, bits_per_value=bits, technology_table=technology_table)
    paths = write_report(report, data, out or folder / "report")
    _print_report_summary(console, report, paths)


def _print_report_summary(console, report, paths) -> None:
    from ipnet_cosim.energy.report_text import _ratio, _si
    e, m = report["energy"], report["memory"]
    console.print(f"[bold]wrote[/bold] {paths['html'].resolve()} (and report.json, report.md)")
    soa = report["soa"]
    style = "green" if soa["within"] and soa["checked"] else "bold red"
    console.print(f"  [{style}]safe operating area: {soa['verdict']}[/{style}]")
    console.print(f"  energy per sample {_si(e['total']['value'], 'J')}; per spike "
                  f"{_si(report['per_spike']['mean']['value'], 'J')} (mean)" if "mean" in report["per_spike"]
                  else f"  energy per sample {_si(e['total']['value'], 'J')}; no spikes")
    for c in m["paper_comparison"]:
        console.print(f"  memory energy {c['arch']} / IPNet: {_ratio(c['ours']['value'])} (paper "
                      f"{_ratio(c['paper']['value'])})")
    if "area" in report:
        console.print(f"  {report['area']['note']}")


@app.command("demo")
def demo_cmd(out: Path = typer.Option(Path("results/demo"), "--out", "-o", help="folder of the whole run"),
             samples: int = typer.Option(2, help="test samples simulated at circuit level"),
             workers: int = typer.Option(0, help="parallel ngspice processes (0: one per CPU)"),
             train: bool = typer.Option(False, help="train a fresh IPNet (~6 min on 2 cores) instead of the bundled "
                                        "checkpoint"),
             checkpoint: Optional[Path] = typer.Option(None, help="use this checkpoint folder instead of the bundled "
                                                       "one")) -> None:
    """The whole pipeline on built-in defaults: checkpoint -> export -> ngspice -> energy/area report."""
    import os
    from rich.console import Console
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.energy.report import build_report, write_report
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.contract import ExportFiles, read_export
    from ipnet_cosim.netlist_gen.simulate import simulate_export
    console = Console(stderr=True)
    if samples < 1:
        raise typer.BadParameter("--samples must be >= 1")
    out.mkdir(parents=True, exist_ok=True)
    if checkpoint is not None and train:
        raise typer.BadParameter("--checkpoint and --train exclude each other")
    if checkpoint is not None:
        from ipnet_cosim.models.checkpoint import resolve_checkpoint_path
        ck = resolve_checkpoint_path(checkpoint).parent
        console.log(f"1/4 checkpoint {ck}")
    elif train:
        from ipnet_cosim.models.datasets import DataConfig
        from ipnet_cosim.models.network import NetworkConfig
        from ipnet_cosim.models.train import TrainConfig, train as train_fn
        ck = out / "checkpoint"
        if not (ck / "checkpoint.pt").is_file():
            console.log("1/4 training the default IPNet")
            train_fn(ck, NetworkConfig(n_classes=22), DataConfig(seed=0), TrainConfig(seed=0, threads=2),
                     progress_bar=True, log=console.log)
    else:
        ck = Path(__file__).parent / "pretrained" / "ipnet_default"
        console.log(f"1/4 bundled checkpoint {ck} (see models/pretrained/README.md)")
    export = out / "export"
    ck_file = ck / "checkpoint.pt"
    if (export / ExportFiles.MANIFEST).is_file():
        from ipnet_cosim.device.fileio import sha256_file
        made = read_export(export).manifest.checkpoint.sha256
        if made != sha256_file(ck_file):
            raise ConfigError(f"{export} was exported from another checkpoint; delete {out} or choose another --out")
    if not (export / ExportFiles.MANIFEST).is_file():
        console.log("2/4 export: netlists, stimulus, manifest")
        export_network(ck, export, samples=range(samples), progress=console.log)
    else:
        console.log(f"2/4 export exists: {export}")
    console.log(f"3/4 ngspice, layer by layer, {samples} samples (cached units are reused)")
    n_workers = workers or max(1, len(os.sched_getaffinity(0)))
    manifest_units = {u.name for u in read_export(export).manifest.units}
    result = simulate_export(export, samples=list(range(samples)), workers=n_workers, progress=True, plots=1,
                             waveform_units=[u for u in (DEMO_WAVEFORM_UNIT,) if u in manifest_units],
                             notify=lambda msg: console.print(f"[yellow]{msg}[/yellow]"))
    s = result["summary"]
    console.log(f"   spikes equal to PyTorch in every layer: {s.get('all_spikes_equal')}; classes agree "
                f"{s.get('classes_agree')}/{s['samples']}")
    console.log("4/4 energy and area report")
    report, data = build_report(export)
    paths = write_report(report, data, out / "report")
    _print_report_summary(console, report, paths)


DEMO_WAVEFORM_UNIT = "L0_p044_c0"     # a frontier position in the middle of the frame (heat-memory neurons)


@app.command()
def doctor() -> None:
    """Check that ngspice (with OSDI), openvaf-r and torch are usable."""
    from ipnet_cosim.circuits.runner import libngspice_path, ngspice_version
    from ipnet_cosim.device.compiler import compile_va, openvaf_path, openvaf_version
    typer.echo(f"libngspice: {libngspice_path()} (ngspice {ngspice_version()})")
    typer.echo(f"openvaf-r: {openvaf_path()} ({openvaf_version()})")
    typer.echo(f"neuron model: {compile_va()}")
    import torch
    typer.echo(f"torch: {torch.__version__}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: project errors become one line on stderr and exit code 2."""
    from ipnet_cosim.device.errors import IPNetCosimError
    try:
        app(args=argv, standalone_mode=False)
    except IPNetCosimError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:  # click usage errors (typer >= 0.2x vendors click: match by behaviour)
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
