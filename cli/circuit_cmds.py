"""Circuit commands: ``export`` a checkpoint, ``simulate`` an export, ``report`` its energy and area, and
the whole pipeline as ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ipnet_cosim.cli.app import app
from ipnet_cosim.cli.chip_opts import (Copies, GainTrims, GMax, GMin, Levels, RDriver, RWire, Slices, Synapse, TileCols,
                                       TileRows, Variation, VariationKind, VariationS, VariationSeed,
                                       chip_mapping_options)
from ipnet_cosim.device.synapse import DEFAULT_SYNAPSE


@app.command("export")
def export_cmd(checkpoint: Path = typer.Argument(..., help="checkpoint folder or .pt file (ipnet-cosim train)"),
               out: Path = typer.Option(..., "--out", "-o", help="new export folder"),
               samples: str = typer.Option("0:10", help="test-set samples whose stimulus is exported, e.g. 0:10 or "
                                                        "3,5"),
               synapse: Synapse = DEFAULT_SYNAPSE, tile_rows: TileRows = 128, tile_cols: TileCols = 128,
               g_min: GMin = None, g_max: GMax = None, levels: Levels = None, variation: Variation = None,
               variation_s: VariationS = None, variation_kind: VariationKind = "lognormal", slices: Slices = None,
               copies: Copies = None, variation_seed: VariationSeed = 0, r_wire: RWire = None,
               r_driver: RDriver = 0.0, gain_trims: GainTrims = None,
               wire_model: str = typer.Option("reduced", help="with --r-wire: reduced (exact port equivalent of "
                                              "each tile, fast) | ladder (every wire segment, for validation)"),
               noise: Optional[str] = typer.Option(None, help="stimulus with sensor noise, KIND=LEVEL: "
                                                   "background=0.1 (events/pixel/s) | hot_pixels=16 | burst=300 "
                                                   "(synthetic data sets; recorded in the manifest)"),
               stimulus: Optional[Path] = typer.Option(None, help="your own input spikes instead of the "
                                                       "checkpoint's data set: a .npz (spikes [samples, steps, *input "
                                                       "shape], labels) or NIR spike data; --samples index the file"),
               noise_seed: int = typer.Option(0, help="seed of the stimulus noise (--noise)"),
               firing: str = typer.Option("median", help="median (u = 1/2: fire when H >= ln 2, an idealisation) | "
                                          "stochastic (every neuron gets its own draw source; simulate applies the "
                                          "recorded draws of each sample, the same in the circuit and in PyTorch)"),
               draw_seed: int = typer.Option(0, help="stochastic: seed of the neurons' draws"),
               draws: int = typer.Option(3, help="stochastic: draws per sample the export is meant for (simulate "
                                         "--draw K runs draw K)")
               ) -> None:
    """Export a trained checkpoint to crossbar netlists, stimulus and a manifest."""
    from rich.console import Console
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.models.data.noise import NoiseSetting
    from ipnet_cosim.netlist_gen.export import export_network, parse_samples
    console = Console(stderr=True)
    setting = NoiseSetting.parse(noise) if noise is not None else None
    mode = Firing(firing, seed=draw_seed, draws=draws if firing == "stochastic" else 1)
    options = chip_mapping_options(synapse, tile_rows, tile_cols, g_min, g_max, levels, variation, variation_s,
                                   variation_kind, variation_seed, r_wire, r_driver, wire_model, slices, copies,
                                   gain_trims)
    manifest = export_network(checkpoint, out, samples=parse_samples(samples), options=options, progress=console.log,
                              notify=lambda msg: typer.echo(msg, err=True), noise=setting, noise_seed=noise_seed,
                              stimulus=stimulus,
                              firing=mode)
    console.print(f"[bold]wrote[/bold] {out.resolve()} (neurons: {mode.describe()})")
    for layer in manifest["layers"]:
        console.print(f"  {layer['name']}: {layer['type']} -> {layer['units']} netlists, {layer['tiles']} tiles, "
                      f"{layer['devices']} devices ({layer['unit']})")


def size_of_test_set(folder: Path) -> int:
    """Samples in the test set of an export's data configuration (for ``--samples all``)."""
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.simulation.inputs import count_test_samples
    return count_test_samples(read_export(folder))


@app.command("simulate")
def simulate_cmd(folder: Path = typer.Argument(..., help="export folder (ipnet-cosim export)"),
                 samples: Optional[str] = typer.Option(None, help="test-set samples, e.g. 0:50 or 3,5, or 'all' (the "
                                                                  "whole test "
                                                       "set; resumable, accuracy with its 95 % interval); default: "
                                                       "the exported ones"),
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
                 simulator: str = typer.Option("ngspice", help="ngspice, vacask (needs --crossbar ports) or twin (no "
                                               "circuit: spikes, scores, energies and peaks computed from the "
                                               "PyTorch twin, labelled computed)"),
                 soa: str = typer.Option("warn", help="safe operating area check against the device card's limits: "
                                         "strict (stop at a violation, named), warn (report it), off (record only)"),
                 draw: Optional[int] = typer.Option(None, help="stochastic export: the draw index to simulate (default "
                                                    "0; results in FOLDER/sim, or FOLDER/sim_draw_K for K > 0)"),
                 draws: Optional[int] = typer.Option(None, help="stochastic export: simulate draws 0 .. N-1, one after "
                                                     "another (FOLDER/sim, FOLDER/sim_draw_K; with --out: OUT, "
                                                     "OUT_draw_K); `report` then gives accuracy and energy per "
                                                     "inference over them")
                 ) -> None:
    """Simulate an export in ngspice (or VACASK) layer by layer (resumable) and compare with PyTorch."""
    import os
    from rich.console import Console
    from ipnet_cosim.netlist_gen.export import parse_samples
    console = Console(stderr=True)
    n_workers = workers or max(1, len(os.sched_getaffinity(0)))
    if samples is not None and samples.strip().lower() == "all":
        chosen: list[int] | None = list(range(size_of_test_set(folder)))
    else:
        chosen = parse_samples(samples) if samples else None
    if draws is not None and (draw is not None or draws < 1):
        raise typer.BadParameter(f"--draws {draws}: give a number of draws >= 1, and not with --draw (one draw)")
    if draws is not None:
        from ipnet_cosim.netlist_gen.contract import read_export
        if not read_export(folder, need_checkpoint=False).manifest.firing_mode().stochastic:
            raise typer.BadParameter(f"--draws: {folder} fires in the median mode (u = 1/2, no draws); export it "
                                     f"with --firing stochastic")
    for k in ([draw] if draws is None else list(range(draws))):
        where = out if (out is None or not k) else out.parent / f"{out.name}_draw_{k}"
        _simulate_one(console, folder, chosen, where, n_workers, waveforms, compare, plots, energy, scheduler,
                      crossbar, simulator, soa, k)


def _simulate_one(console, folder: Path, chosen, out: Optional[Path], n_workers: int, waveforms, compare: bool,
                  plots: int, energy: bool, scheduler, crossbar: str, simulator: str, soa: str,
                  draw: Optional[int]) -> None:
    """One ``simulate`` run (one draw of a stochastic export) and its console summary."""
    from ipnet_cosim.simulation.simulate import simulate_export
    result = simulate_export(folder, samples=chosen, out=out,
                             workers=n_workers, waveform_units=waveforms, compare=compare, progress=True,
                             plots=plots, energy=energy, scheduler=scheduler, crossbar=crossbar,
                             simulator=simulator, soa=soa,
                             notify=lambda msg: console.print(f"[yellow]{msg}[/yellow]"), draw=draw)
    s = result.summary
    if out is None:
        from ipnet_cosim.netlist_gen.contract import read_export
        from ipnet_cosim.simulation.inputs import SimulateRequest
        out = SimulateRequest(draw=draw).default_out(read_export(folder, need_checkpoint=False))
    console.print(f"[bold]wrote[/bold] {out.resolve()}")
    console.print(f"  neurons: {s.firing.note}")
    undecided = f" ({s.no_decision} without a decision: tied top scores)" if s.no_decision else ""
    what = "twin (PyTorch, no circuit)" if simulator == "twin" else "circuit"
    accuracy = (f"{what} accuracy {s.accuracy:.3f} (95 % interval {s.accuracy_ci95[0]:.3f}-{s.accuracy_ci95[1]:.3f})"
                if s.accuracy is not None and s.accuracy_ci95 is not None
                else "no accuracy (the samples have no labels)")
    console.print(f"  samples: {s.samples}, {accuracy}{undecided}, "
                  f"{s.sim_time_per_sample_s:.1f} s of {simulator} per sample "
                  f"({s.wall_time_s:.1f} s wall for all, {s.workers} workers)")
    if s.torch is not None and simulator != "twin":
        t = s.torch
        twin = "PyTorch hardware model (exported chip)" if t.network_accuracy is not None else "PyTorch"
        plain = (f" (network without the crossbars: {t.network_accuracy:.3f})" if t.network_accuracy is not None
                 else "")
        mine = f"{twin} accuracy {t.accuracy:.3f}{plain}; " if t.accuracy is not None else ""
        console.print(f"  {mine}predicted classes agree on {t.classes_agree}/{s.samples}")
        for layer in s.layers:
            c = layer.compared
            if c is None:
                continue
            inside = (f" ({c.mismatches_tie} numerical ties, {c.mismatches_downstream} downstream of an earlier "
                      f"difference)" if c.mismatches_tie or c.mismatches_downstream else "")
            console.print(f"  {layer.layer}: {c.mismatches} of {layer.neuron_steps} neuron-steps differ"
                          f"{inside} (closest PyTorch margin {c.closest_margin:.2e}, {c.margin})")
        verdict = "holds" if t.contract_holds else "VIOLATED"
        console.print(f"  agreement contract ({t.agreement_margin:g} in ln H, classes agree): {verdict}")
    area = result.soa
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
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    console = Console(stderr=True)
    report, data = build_report(folder, sim=sim, assumptions=_assumptions(v_dd, reset_current, read_v, read_s),
                                technology=technology, bits_per_value=bits, technology_table=technology_table)
    paths = write_report(report, data, out or folder / "report")
    _print_report_summary(console, report, paths)


def _print_report_summary(console, report, paths) -> None:
    from ipnet_cosim.energy.report_text import headline_rows
    console.print(f"[bold]wrote[/bold] {paths['html'].resolve()} (and report.json, report.md)")
    soa = report["soa"]
    for name, value, _ in headline_rows(report):
        style = "bold red" if name == "safe operating area" and not (soa["within"] and soa["checked"]) else ""
        console.print(f"  [{style or 'default'}]{name}: {value}[/{style or 'default'}]", highlight=False)
    od = report.get("over_draws")
    if od is not None:
        console.print(f"  over {int(od['draws']['value'])} draws: accuracy {od['accuracy_mean']['value']:.3f} +- "
                      f"{od['accuracy_std_over_draws']['value']:.3f}")
    if "area" in report:
        console.print(f"  area {report['area']['total']['value'] * 1e12:,.0f} um^2; {report['area']['note']}",
                      highlight=False)


@app.command("demo")
def demo_cmd(ctx: typer.Context,
             out: Path = typer.Option(Path("results/demo"), "--out", "-o", help="folder of the whole run"),
             samples: int = typer.Option(0, help="test samples simulated at circuit level, spread over the classes "
                                         "(0: one per class)"),
             twin_samples: int = typer.Option(-1, help="test samples run by the PyTorch twin (-1: the whole test set; "
                                              "0: none)"),
             workers: int = typer.Option(0, help="parallel ngspice processes (0: one per CPU)"),
             train: bool = typer.Option(False, help="train a fresh IPNet (~6 min on 2 cores) instead of the bundled "
                                        "checkpoint"),
             checkpoint: Optional[Path] = typer.Option(None, help="use this checkpoint folder instead of the bundled "
                                                       "one"),
             synapse: Synapse = DEFAULT_SYNAPSE,
             firing: str = typer.Option("stochastic", help="stochastic (the device: every neuron fires when H >= "
                                        "-ln u, recorded draws, seed 0, draw 0) | median (u = 1/2, an idealisation)")
             ) -> None:
    """The whole pipeline on built-in defaults: the bundled checkpoint on the default chip -> export -> the PyTorch
    twin over the whole test set and ngspice on one sample per class -> energy/area report."""
    import os
    from rich.console import Console
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.device.errors import ConfigError
    from ipnet_cosim.energy.report_sections import TWIN_FOLDER
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    from ipnet_cosim.models.datasets import DataConfig, class_spread, load_dataset
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.contract import ExportFiles, read_export
    from ipnet_cosim.simulation.simulate import simulate_export
    console = Console(stderr=True)
    if samples < 0:
        raise typer.BadParameter("--samples must be >= 0 (0: one per class)")
    mode = Firing(firing, seed=0, draws=1)
    out.mkdir(parents=True, exist_ok=True)
    if checkpoint is not None and train:
        raise typer.BadParameter("--checkpoint and --train exclude each other")
    if checkpoint is not None:
        from ipnet_cosim.models.checkpoint import resolve_checkpoint_path
        ck = resolve_checkpoint_path(checkpoint).parent
        console.log(f"1/5 checkpoint {ck}")
    elif train:
        from ipnet_cosim.models.network_config import NetworkConfig
        from ipnet_cosim.models.train import TrainConfig, train as train_fn
        ck = out / "checkpoint"
        if not (ck / "checkpoint.pt").is_file():
            console.log("1/5 training the default IPNet")
            train_fn(ck, NetworkConfig(n_classes=22), DataConfig(seed=0), TrainConfig(seed=0, threads=2),
                     progress_bar=True, log=console.log)
    else:
        from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir
        ck = bundled_checkpoint_dir()
        console.log(f"1/5 bundled checkpoint {ck} (see models/pretrained/README.md)")
    export = out / "export"
    ck_file = ck / "checkpoint.pt"
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    options = MappingOptions.for_chip(synapse_card(synapse))
    loaded = load_checkpoint(ck_file)
    _, test = load_dataset(DataConfig.from_dict(loaded.data_config))
    n_classes = len(set(int(c) for c in test.labels))
    circuit_samples = class_spread(test.labels, samples or n_classes)
    if (export / ExportFiles.MANIFEST).is_file():
        from ipnet_cosim.device.fileio import sha256_file
        made = read_export(export).manifest
        if made.checkpoint.sha256 != sha256_file(ck_file):
            raise ConfigError(f"{export} was exported from another checkpoint; delete {out} or choose another --out")
        if made.options() != options:
            raise ConfigError(f"{export} was exported with other mapping options (synapse card "
                              f"'{made.options().synapse.name}'); delete {out} or choose another --out")
        if made.firing_mode() != mode:
            raise ConfigError(f"{export} was exported with {made.firing_mode().mode} firing; delete {out} or choose "
                              f"another --out")
    _print_checkpoint_accuracy(console, ck_file)
    if not (export / ExportFiles.MANIFEST).is_file():
        console.log(f"2/5 export: netlists, stimulus, manifest; chip: {options.synapse.headline()}; "
                    f"{options.conductance.slices} slice(s), {options.conductance.copies} device(s) per cell, "
                    f"wires {options.r_wire_ohm:.3g} ohm per cell segment; "
                    f"neurons: {mode.describe()}")
        export_network(ck, export, samples=circuit_samples, options=options, progress=console.log,
                       notify=lambda msg: console.print(f"[yellow]{msg}[/yellow]"), firing=mode)
    else:
        console.log(f"2/5 export exists: {export}")
    n_twin = len(test.labels) if twin_samples < 0 else min(twin_samples, len(test.labels))
    if n_twin:
        console.log(f"3/5 the PyTorch twin over {n_twin} test samples (computed, no circuit)")
        twin = simulate_export(export, samples=list(range(n_twin)), out=export / TWIN_FOLDER, simulator="twin",
                               compare=False, energy=False, progress=True,
                               notify=lambda msg: console.print(f"[yellow]{msg}[/yellow]"))
        ts = twin.summary
        assert ts.accuracy is not None and ts.accuracy_ci95 is not None     # (the demo's data set is labelled)
        console.log(f"   twin accuracy {ts.accuracy:.3f} (95 % interval {ts.accuracy_ci95[0]:.2f}-"
                    f"{ts.accuracy_ci95[1]:.2f}) over {ts.samples} samples")
    console.log(f"4/5 ngspice, layer by layer, {len(circuit_samples)} samples over "
                f"{len({int(test.labels[i]) for i in circuit_samples})} classes (cached units are reused)")
    n_workers = workers or max(1, len(os.sched_getaffinity(0)))
    manifest_units = {u.name for u in read_export(export).manifest.units}
    result = simulate_export(export, samples=circuit_samples, workers=n_workers, progress=True, plots=1,
                             waveform_units=[u for u in (DEMO_WAVEFORM_UNIT,) if u in manifest_units],
                             notify=lambda msg: console.print(f"[yellow]{msg}[/yellow]"))
    s = result.summary
    if s.torch is not None:
        console.log(f"   spikes equal to the twin in every layer: {s.torch.all_spikes_equal}; classes agree "
                    f"{s.torch.classes_agree}/{s.samples} (neurons: {s.firing.note})")
    console.log("5/5 energy and area report")
    report, data = build_report(export, command=_command_line(ctx))
    paths = write_report(report, data, out / "report")
    _print_report_summary(console, report, paths)


def _command_line(ctx: typer.Context) -> str:
    """The command as a user would type it: the command path and every option that differs from its default."""
    parts = [ctx.command_path]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value == param.default or not param.opts:
            continue
        flag = max(param.opts, key=len)
        parts += [flag] if value is True else [flag, str(value)]
    return " ".join(parts)


def _print_checkpoint_accuracy(console, ck_file: Path) -> None:
    """The checkpoint's own test accuracy in both firing modes, as its training measured them."""
    from ipnet_cosim.models.checkpoint import load_checkpoint
    m = load_checkpoint(ck_file).metrics
    if "test_accuracy" in m:
        console.log(f"   checkpoint test accuracy (PyTorch, whole test set): median mode {m['test_accuracy']:.3f} "
                    f"(u = 1/2, an idealisation)")
    if "test_stochastic" in m:
        acc = m["test_stochastic"]["accuracy"]
        console.log(f"   under stochastic firing (the device): {acc['mean']:.3f} +- {acc['std_over_draws']:.3f} over "
                    f"{acc['draws']} draws ({m.get('test_stochastic_precision', 'train precision')})")
    else:
        console.log("   not evaluated under stochastic firing; run 'ipnet-cosim evaluate CHECKPOINT --firing "
                    "stochastic'")


DEMO_WAVEFORM_UNIT = "L0_p044_c0"     # a frontier position in the middle of the frame (heat-memory neurons)
