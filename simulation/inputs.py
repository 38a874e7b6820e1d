"""What ``simulate`` checks before any job runs: the options together (:class:`SimulateRequest`), the samples'
frames (exported, or from the data set), the export's neuron model (its OSDI checked against the recorded hash
and rebuilt from the ``.va`` when damaged) and the simulator (probed once, in a child process)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ipnet_cosim.circuits.soa import SOA_MODES
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.fileio import sha256_file
from ipnet_cosim.netlist_gen.contract import Export, ExportError, ExportFiles
from ipnet_cosim.netlist_gen.export import load_samples
from ipnet_cosim.simulation.jobs import CROSSBAR_MODELS, SIMULATORS


@dataclass(frozen=True)
class SimulateRequest:
    """The options of one ``simulate`` call, checked together before anything runs (see :func:`simulate_export`)."""

    samples: tuple[int, ...] | None = None
    out: Path | None = None
    workers: int = 1
    waveform_units: tuple[str, ...] = ()
    compare: bool = True
    plots: int = 0
    energy: bool = True
    scheduler: str | None = None
    crossbar: str = "ports"
    simulator: str = "ngspice"
    soa: str = "warn"
    draw: int | None = None         # stochastic export: the draw index (None: draw 0); median export: None

    def draw_index(self, export: Export) -> int | None:
        """The draw this run simulates: None in the median mode, ``draw`` (default 0) for a stochastic export."""
        if not export.manifest.firing_mode().stochastic:
            return None
        return 0 if self.draw is None else self.draw

    def default_out(self, export: Export) -> Path:
        """``<export>/sim`` (median mode, or draw 0), ``<export>/sim_draw_<k>`` for another draw."""
        k = self.draw_index(export)
        return export.default_sim() if not k else export.folder / f"{export.default_sim().name}_draw_{k}"

    def check(self, export: Export) -> None:
        def flag(name: str) -> None:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} ({getattr(self, name)!r}) must be true or false")
        for name in ("compare", "energy"):
            flag(name)
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"workers ({self.workers!r}) must be an integer >= 1")
        if isinstance(self.plots, bool) or not isinstance(self.plots, int) or self.plots < 0:
            raise ConfigError(f"plots ({self.plots!r}) must be an integer >= 0")
        if self.crossbar not in CROSSBAR_MODELS:
            raise ConfigError(f"crossbar model {self.crossbar!r} is unknown; use one of {', '.join(CROSSBAR_MODELS)}")
        if self.simulator not in SIMULATORS:
            raise ConfigError(f"simulator {self.simulator!r} is unknown; use one of {', '.join(SIMULATORS)}")
        if self.soa not in SOA_MODES:
            raise ConfigError(f"soa mode {self.soa!r} is unknown; use one of {', '.join(SOA_MODES)}")
        if self.simulator == "vacask" and self.crossbar != "ports":
            raise ConfigError("VACASK runs the units with the crossbar as its port model; use crossbar 'ports' "
                              "(--crossbar ports), or simulator 'ngspice' for the full netlists")
        if self.simulator == "twin" and (self.crossbar != "ports" or self.scheduler or self.waveform_units):
            raise ConfigError("the twin (--simulator twin) computes from the port models in this process: use crossbar "
                              "'ports', no --scheduler and no --waveforms (there are no waveforms), or simulate the "
                              "circuit with 'ngspice' or 'vacask'")
        units = export.manifest.units
        if self.crossbar == "ports" and any(u.ports is None for u in units):
            raise ConfigError(f"{export.folder} has no port models (exported by an older version); export the network "
                              f"again, or simulate the full netlists with crossbar 'netlist' (--crossbar netlist)")
        names = {u.name for u in units}
        for name in self.waveform_units:
            if name not in names:
                raise ConfigError(f"waveform unit '{name}' is not in this export (units look like {units[0].name}; "
                                  f"see manifest.json)")
        firing = export.manifest.firing_mode()
        if self.draw is not None:
            if not firing.stochastic:
                raise ConfigError(f"--draw {self.draw}: {export.folder} fires in the median mode (u = 1/2, no draws); "
                                  f"export it with --firing stochastic to simulate the device's randomness")
            if isinstance(self.draw, bool) or not isinstance(self.draw, int) or self.draw < 0:
                raise ConfigError(f"draw ({self.draw!r}) must be a whole number >= 0 (a draw index of the export's "
                                  f"seed {firing.seed})")
        if self.samples is not None and (not self.samples or any(
                isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.samples)):
            raise ConfigError(f"samples {list(self.samples)!r}: need test-set indices >= 0")


def count_test_samples(export: Export) -> int:
    """Samples in the test set of the export's data configuration (``--samples all``)."""
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    _, test = load_dataset(DataConfig.from_dict(export.manifest.data_config))
    return int(len(test.labels))


def load_frames(export: Export, samples: Sequence[int] | None) -> tuple[list[int], np.ndarray, list[int]]:
    """The samples' frames ``[n, T, ...]`` and labels: the exported ones, others from the data set (with the
    export's sensor noise, when its samples carry one)."""
    path = export.path(export.manifest.samples.file)
    try:
        with np.load(path) as data:
            frames, labels, idx = data["frames"], data["labels"], [int(v) for v in data["indices"]]
    except Exception as exc:
        raise ExportError(f"{path} is damaged ({type(exc).__name__}); export again") from None
    if len(idx) != len(frames) or len(idx) != len(labels):
        raise ExportError(f"{path} holds {len(frames)} frames, {len(labels)} labels and {len(idx)} indices; export "
                          f"again")
    samples = list(idx if samples is None else samples)
    missing = [s for s in samples if s not in idx]
    extra_f, extra_l = (load_samples(export.manifest.data_config, missing, export.manifest.samples.noise)
                        if missing else (np.zeros(0), np.zeros(0, dtype=np.int64)))
    out_f, out_l = [], []
    for s in samples:
        if s in idx:
            out_f.append(frames[idx.index(s)])
            out_l.append(int(labels[idx.index(s)]))
        else:
            out_f.append(extra_f[missing.index(s)])
            out_l.append(int(extra_l[missing.index(s)]))
    arr = np.stack(out_f)
    n_steps = export.manifest.timing.n_steps
    if arr.ndim < 2 or arr.shape[1] != n_steps:
        raise ExportError(f"samples have {arr.shape[1] if arr.ndim > 1 else 0} steps but the netlists simulate "
                          f"{n_steps}; export again")
    return samples, arr, out_l


def neuron_model(export: Export, notify: Callable[[str], None]) -> Path:
    """The export's OSDI library, checked against its recorded hash; rebuilt from its ``.va`` when damaged
    (the export itself is left as it is)."""
    from ipnet_cosim.device.compiler import compile_va
    dev = export.manifest.device
    osdi, va = export.path(dev.osdi), export.path(dev.va)
    if osdi.is_file() and sha256_file(osdi) == dev.osdi_sha256:
        return osdi
    state = "missing" if not osdi.is_file() else "damaged (its sha256 differs from the manifest's)"
    if not va.is_file():
        raise ExportError(f"{osdi} is {state} and its source {va} is missing; export again")
    if dev.va_sha256 is not None and sha256_file(va) != dev.va_sha256:
        raise ExportError(f"{osdi} is {state} and {va} differs from the exported source; export again")
    rebuilt = compile_va(va)
    notify(f"note: {osdi} is {state}; simulating with a fresh build of {va} ({rebuilt}); the export is unchanged")
    return rebuilt


def probe_simulator(simulator: str, osdi: Path) -> str:
    """Check the simulator once before any job (a child process for ngspice); returns its name and version."""
    if simulator == "vacask":
        from ipnet_cosim.circuits.vacask_runner import vacask_path
        return f"vacask ({vacask_path()})"
    from ipnet_cosim.circuits.probe import probe_ngspice
    return probe_ngspice(osdi)


def load_crossbars(export: Export, crossbar: str) -> dict:
    """Every unit's port model (``crossbar="ports"``), or a check that every netlist is there ("netlist"):
    a damaged or missing file is named before any job runs or anything is written."""
    from ipnet_cosim.netlist_gen.ports import UnitPorts
    if crossbar == "ports":
        return {u.name: UnitPorts.load(export.path(u.ports or ExportFiles.ports(u.name)))
                for u in export.manifest.units}
    for u in export.manifest.units:
        if not export.path(u.netlist).is_file():
            raise ExportError(f"netlist {export.path(u.netlist)} of unit {u.name} is missing; export again, or "
                              f"simulate the port models (--crossbar ports)")
    return {}
