"""ipnet-cosim's Python API: every stage of the command line as a function.

The stages, in the order data flows through them (each a package of its own, importing only the ones before it)::

    device < circuits < models < netlist_gen < chip < simulation < energy < sweep < cli

and the functions here compose them (they import their stage when called, so ``import ipnet_cosim`` stays light)::

    import ipnet_cosim as ic
    options = ic.chip_options()                                   # the default chip (a real synapse technology)
    manifest = ic.export(ic.bundled_checkpoint(), "out/export", samples=[0, 16], options=options)
    results = ic.simulate("out/export", simulator="twin")          # or "ngspice" / "vacask"
    report, paths = ic.report("out/export", sim="out/export/sim", out="out/report")

``docs/examples/pipeline.py`` is that example, run by the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from ipnet_cosim.chip.calibrate import Calibration
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.netlist_gen.contract import ExportManifest, SimulationResults
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.sweep.records import Sweep

__all__ = ["bundled_checkpoint", "calibrate", "chip_options", "export", "finetune", "import_nir", "report",
           "run_experiment", "run_sweep", "simulate", "to_nir"]


def bundled_checkpoint(name: str | None = None) -> Path:
    """The folder of a bundled checkpoint (``models/pretrained/<name>``; default: the one fine-tuned for the
    default chip)."""
    from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir, pretrained_dir
    return bundled_checkpoint_dir() if name is None else pretrained_dir(name)


def chip_options(synapse: str | None = None, **overrides: Any) -> "MappingOptions":
    """The mapping of a chip built from a synapse card (default: the default technology), as ``export`` builds it
    with default flags: its conductances, variation, devices per cell, slices and 28 nm wires.
    ``overrides`` replace fields of :class:`~ipnet_cosim.netlist_gen.mapping.MappingOptions` (for example
    ``tile_rows=64``)."""
    import dataclasses
    from ipnet_cosim.device.synapse import DEFAULT_SYNAPSE, synapse_card
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    options = MappingOptions.for_chip(synapse_card(synapse or DEFAULT_SYNAPSE))
    return dataclasses.replace(options, **overrides) if overrides else options


def export(checkpoint: str | Path, out: str | Path, *, samples: Sequence[int] = tuple(range(10)),
           options: "MappingOptions | None" = None, firing: "Firing | None" = None,
           progress: Callable[[str], None] | None = None, stimulus: str | Path | None = None) -> "ExportManifest":
    """Map a trained checkpoint onto crossbars and write the export folder (netlists, port models, stimulus of the
    test ``samples``, manifest); returns its manifest. ``options``: the chip (default :func:`chip_options`);
    ``firing``: how the neurons fire (default as ``ipnet-cosim export``: the median mode, an idealisation;
    ``Firing("stochastic", seed=0)`` for the devices' randomness); ``stimulus``: your own input spikes (a .npz or
    NIR spike data file; ``samples`` index it) instead of the checkpoint's data set. Refuses to overwrite a
    different export."""
    from ipnet_cosim.device.draws import Firing
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_once
    export_once(checkpoint, out, samples=list(samples), options=options if options is not None else chip_options(),
                firing=firing if firing is not None else Firing(), progress=progress, stimulus=stimulus)
    return read_export(out).manifest


def simulate(export_folder: str | Path, *, samples: Sequence[int] | None = None, out: str | Path | None = None,
             simulator: str = "ngspice", workers: int = 1, progress: bool | Callable[[str], None] = False,
             **options: Any) -> "SimulationResults":
    """Simulate an export layer by layer (resumable) with ``simulator`` "ngspice", "vacask" or "twin" (the PyTorch
    hardware model, computed) and compare with PyTorch; returns the typed results
    (:class:`~ipnet_cosim.netlist_gen.contract.SimulationResults`: ``.summary.accuracy``, ``.per_sample``, ...; also
    written to ``<out>/results.json``; ``out`` defaults to ``<export>/sim``). ``options`` go to
    :func:`~ipnet_cosim.simulation.simulate.simulate_export`."""
    from ipnet_cosim.simulation.simulate import simulate_export
    return simulate_export(export_folder, samples=samples, out=out, simulator=simulator, workers=workers,
                           progress=progress, **options)


def report(export_folder: str | Path, *, sim: str | Path | None = None, out: str | Path | None = None,
           **options: Any) -> tuple[dict[str, Any], dict[str, Path]]:
    """The energy, memory-energy and area report of a simulated export: the report (a JSON-ready dict, checked
    against ``energy/data/report.schema.json``) and the files written to ``out`` (report.json, .md, .html and
    plots; default ``<export>/report``). ``options`` go to :func:`~ipnet_cosim.energy.report.build_report`."""
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    rep, data = build_report(export_folder, sim=sim, **options)
    paths = write_report(rep, data, Path(out) if out is not None else Path(export_folder) / "report")
    return rep, paths


def finetune(checkpoint: str | Path, out: str | Path, options: "MappingOptions | None" = None,
             **kwargs: Any) -> dict[str, Any]:
    """Hardware-aware fine-tuning through the mapped crossbars of ``options`` (default :func:`chip_options`): a new
    checkpoint in ``out`` that records the hardware it was trained for; returns its metrics. ``kwargs`` go to
    :func:`~ipnet_cosim.chip.finetune.finetune_hardware` (epochs, lr, firing, schedule, ...)."""
    from ipnet_cosim.chip.finetune import finetune_hardware
    return finetune_hardware(checkpoint, out, options if options is not None else chip_options(), **kwargs)


def calibrate(checkpoint: str | Path, options: "MappingOptions | None" = None, **kwargs: Any) -> "Calibration":
    """One chip's mirror-gain trims, calibrated on labelled training samples (a chip: ``options`` and its variation
    seed, default :func:`chip_options`); :meth:`Calibration.apply` gives the trimmed options for :func:`export`.
    ``kwargs`` go to :func:`~ipnet_cosim.chip.calibrate.calibrate_checkpoint`."""
    from ipnet_cosim.chip.calibrate import calibrate_checkpoint
    return calibrate_checkpoint(checkpoint, options if options is not None else chip_options(), **kwargs)


def run_sweep(config: str | Path, out: str | Path, *, workers: int = 1, scheduler: str | None = None,
          progress: bool | Callable[[str], None] = False) -> "Sweep":
    """A design-space sweep from its TOML/YAML file into ``out`` (resumable); returns the typed sweep
    (:class:`~ipnet_cosim.sweep.records.Sweep`: ``.points``, ``.pareto``, ...; also written to ``sweep.json``)."""
    from ipnet_cosim.sweep.config import load_sweep_config
    from ipnet_cosim.sweep.run import run_sweep as run
    return run(load_sweep_config(config), out, workers=workers, scheduler=scheduler, progress=progress)


def import_nir(source: str | Path, out: str | Path, **kwargs: Any) -> dict[str, Any]:
    """A NIR graph mapped onto MTJ crossbars and neurons, written as a checkpoint in ``out`` (for :func:`export`);
    returns the import record (the rule applied to every node and the agreement with the graph's reference).
    ``kwargs`` go to :func:`~ipnet_cosim.models.nir_import.import_to_checkpoint`."""
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    return import_to_checkpoint(source, out, **kwargs)


def to_nir(checkpoint: str | Path, out: str | Path, dt_s: float = 1e-4) -> Path:
    """An IPNet checkpoint written as a NIR graph (HDF5); returns the file."""
    from ipnet_cosim.models.nir_export import write_nir
    return write_nir(checkpoint, out, dt_s=dt_s)


def run_experiment(name: str, out: str | Path, **kwargs: Any) -> dict[str, Any]:
    """A paper experiment (``time-reversed``, ``frontier``, ``noise``, ...) into ``out``; returns its result.
    The noise experiment's circuit check is wired in here (it exports and simulates, stages after the models)."""
    from ipnet_cosim.models.experiments import run_experiment as run
    if name == "noise" and kwargs.get("circuit", ()) is not None:
        from ipnet_cosim.simulation.noise_check import noise_circuit_check
        kwargs.setdefault("circuit_checker", noise_circuit_check)
    return run(name, out, **kwargs)
