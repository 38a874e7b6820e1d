"""The records of a simulation's ``results.json`` (one writer: ``to_dict``; one reader: ``from_dict``, through
:func:`~ipnet_cosim.netlist_gen.contract.binding.read_results`).

A run is a circuit simulation (ngspice, VACASK) or the PyTorch twin; the figures of either are the *run's*
(``accuracy``, ``predicted_class``, ``scores``, ``fire_rate``) and ``provenance.simulator`` says which made
them. The comparison with the PyTorch reference, when the run made one, is held apart (``torch_*`` fields,
:class:`LayerComparison`, :class:`TorchComparison`).

* :class:`SimulationResults`: the whole file (:func:`read_results` reads and checks it): export identity,
  provenance, :class:`SimulationSummary`, one :class:`SampleResult` per sample, :class:`ResultWarning` s and the
  safe-operating-area verdict.
* :class:`LayerResult`: one hidden layer of one sample, or of all samples (the summary's rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.netlist_gen.contract.binding import Export, ExportIdentity
from ipnet_cosim.netlist_gen.contract.files import (RESULTS_FORMAT, RESULTS_VERSION, ExportError, ForeignResultsError,
                                                    SimFiles, read_field, read_number, read_numbers, read_optional)


def _rows(data: Mapping[str, Any], key: str, where: str, default: Any = ...) -> list[Any]:
    rows = read_field(data, key, (list,), where, default)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ExportError(f"{where}.{key}[{i}] must be a table")
    return rows


def _class(data: Mapping[str, Any], key: str, where: str) -> int | None:
    """A predicted class: an integer, or null for no decision (tied top scores)."""
    value = data.get(key, ...)
    if value is ...:
        raise ExportError(f"{where} lacks '{key}'")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ExportError(f"{where}.{key} must be an integer class or null (no decision), got {value!r}")
    return value


@dataclass(frozen=True)
class Mismatch:
    """One neuron-step whose spike in the run differs from PyTorch's."""

    step: int
    neuron: int
    run_spike: bool
    torch_spike: bool
    torch_margin: float        #: PyTorch's margin from its threshold (the kind is the layer's ``margin``)
    downstream: bool           #: a consequence of an earlier difference, not one of its own

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "neuron": self.neuron, "run_spike": self.run_spike,
                "torch_spike": self.torch_spike, "torch_margin": self.torch_margin, "downstream": self.downstream}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Mismatch":
        return cls(read_field(data, "step", (int,), where), read_field(data, "neuron", (int,), where),
                   read_field(data, "run_spike", (bool,), where), read_field(data, "torch_spike", (bool,), where),
                   read_number(data, "torch_margin", where), read_field(data, "downstream", (bool,), where))


@dataclass(frozen=True)
class LayerComparison:
    """A hidden layer's spikes in the run against PyTorch's on the same samples (and draws).

    A difference is *downstream* when an earlier difference caused it, a *tie* when PyTorch's hazard lies within
    the agreement margin of its threshold; the rest are *outside tolerance* (they break the agreement contract).
    ``first_mismatch_step``, ``agreement`` and ``details`` are per sample (None and empty in the summary's rows).
    """

    torch_fire_rate: float
    mismatches: int
    mismatches_downstream: int
    mismatches_tie: int
    mismatches_outside_tolerance: int
    margin: str                                     #: what the margins measure ("ln H - ln ln 2", ...)
    closest_margin: float
    largest_mismatch_margin: float | None = None
    largest_own_mismatch_margin: float | None = None
    first_mismatch_step: int | None = None
    agreement: float | None = None
    details: tuple[Mismatch, ...] = ()              #: the first 20 differences of a sample

    _COUNTS = ("mismatches", "mismatches_downstream", "mismatches_tie", "mismatches_outside_tolerance")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"torch_fire_rate": self.torch_fire_rate, "margin": self.margin,
                               "closest_margin": self.closest_margin,
                               **{k: getattr(self, k) for k in self._COUNTS}}
        for key in ("largest_mismatch_margin", "largest_own_mismatch_margin", "first_mismatch_step", "agreement"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.agreement is not None:
            out["mismatch_details"] = [d.to_dict() for d in self.details]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "LayerComparison":
        def count(key: str) -> int:
            return read_field(data, key, (int,), where)
        return cls(read_number(data, "torch_fire_rate", where), count("mismatches"), count("mismatches_downstream"),
                   count("mismatches_tie"), count("mismatches_outside_tolerance"),
                   read_field(data, "margin", (str,), where), read_number(data, "closest_margin", where),
                   read_optional(data, "largest_mismatch_margin", (float,), where),
                   read_optional(data, "largest_own_mismatch_margin", (float,), where),
                   read_optional(data, "first_mismatch_step", (int,), where),
                   read_optional(data, "agreement", (float,), where),
                   tuple(Mismatch.from_dict(d, f"{where}.mismatch_details[{i}]")
                         for i, d in enumerate(_rows(data, "mismatch_details", where, []))))


@dataclass(frozen=True)
class LayerResult:
    """One hidden layer of one sample (``SampleResult.layers``) or of all samples (``SimulationSummary.layers``)."""

    layer: str
    neuron_steps: int
    fire_rate: float                                #: spikes per neuron-step in the run
    compared: LayerComparison | None = None         #: against PyTorch (None: the run made no comparison)
    coin_flip_fraction: float | None = None         #: summary rows: neuron-steps with 0.05 < p < 0.95

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": self.layer, "neuron_steps": self.neuron_steps, "fire_rate": self.fire_rate}
        if self.compared is not None:
            out.update(self.compared.to_dict())
        if self.coin_flip_fraction is not None:
            out["coin_flip_fraction"] = self.coin_flip_fraction
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "LayerResult":
        compared = LayerComparison.from_dict(data, where) if "torch_fire_rate" in data else None
        return cls(read_field(data, "layer", (str,), where), read_field(data, "neuron_steps", (int,), where),
                   read_number(data, "fire_rate", where), compared,
                   read_optional(data, "coin_flip_fraction", (float,), where))


@dataclass(frozen=True)
class SampleResult:
    """One sample of the run: its label (None: an unlabelled stimulus), the run's class and class scores, PyTorch's
    when compared, and every hidden layer (:class:`LayerResult`)."""

    sample: int
    label: int | None
    predicted_class: int | None                     #: None: the top scores tie (no decision, counted as wrong)
    scores: tuple[float, ...]                       #: readout gain x charge / (k v_read t_pulse T), one per class
    sim_time_s: float
    layers: tuple[LayerResult, ...]
    torch_scores: tuple[float, ...] | None = None   #: None: the run made no comparison
    torch_class: int | None = None

    @property
    def correct(self) -> bool:
        return self.label is not None and self.predicted_class == self.label

    @property
    def compared(self) -> bool:
        return self.torch_scores is not None

    @property
    def classes_agree(self) -> bool | None:
        return None if self.torch_scores is None else self.torch_class == self.predicted_class

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sample": self.sample, "label": self.label, "predicted_class": self.predicted_class,
                               "scores": list(self.scores), "sim_time_s": self.sim_time_s,
                               "layers": [layer.to_dict() for layer in self.layers]}
        if self.torch_scores is not None:
            out.update({"torch_class": self.torch_class, "torch_scores": list(self.torch_scores),
                        "classes_agree": self.classes_agree})
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "SampleResult":
        compared = data.get("torch_scores") is not None if isinstance(data, Mapping) else False
        return cls(read_field(data, "sample", (int,), where), read_field(data, "label", (int, type(None)), where),
                   _class(data, "predicted_class", where), read_numbers(data, "scores", where),
                   read_number(data, "sim_time_s", where),
                   tuple(LayerResult.from_dict(r, f"{where}.layers[{i}]") for i, r in enumerate(_rows(data, "layers",
                                                                                                     where))),
                   read_numbers(data, "torch_scores", where) if compared else None,
                   _class(data, "torch_class", where) if compared else None)


@dataclass(frozen=True)
class TorchComparison:
    """The run against the PyTorch reference on the same samples (and draws); accuracies None without labels."""

    accuracy: float | None
    no_decision: int
    classes_agree: int                              #: samples whose classes agree
    all_spikes_equal: bool
    agreement_margin: float                         #: the contract's margin on ln H (compare.AGREEMENT_MARGIN)
    contract_holds: bool                            #: no difference outside the margin, every class agrees
    model: str                                      #: the network, or the hardware model of the exported chip
    network_accuracy: float | None = None           #: the checkpoint's network (with a hardware model)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"accuracy": self.accuracy, "no_decision": self.no_decision,
                               "classes_agree": self.classes_agree, "all_spikes_equal": self.all_spikes_equal,
                               "agreement_margin": self.agreement_margin,
                               "agreement_contract_holds": self.contract_holds, "model": self.model}
        if self.network_accuracy is not None:
            out["network_accuracy"] = self.network_accuracy
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "TorchComparison":
        return cls(read_optional(data, "accuracy", (float,), where), read_field(data, "no_decision", (int,), where),
                   read_field(data, "classes_agree", (int,), where),
                   read_field(data, "all_spikes_equal", (bool,), where), read_number(data, "agreement_margin", where),
                   read_field(data, "agreement_contract_holds", (bool,), where),
                   read_field(data, "model", (str,), where),
                   read_optional(data, "network_accuracy", (float,), where))


@dataclass(frozen=True)
class RunFiring:
    """How the run's neurons fired: ``median`` (H >= ln 2) or ``stochastic`` with the export's seed and the draw."""

    mode: str
    note: str                                       #: one line for reports (the median mode named an idealisation)
    seed: int | None = None
    draw: int | None = None

    @property
    def stochastic(self) -> bool:
        return self.mode == "stochastic"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "note": self.note}
        if self.stochastic:
            out.update({"seed": self.seed, "draw": self.draw})
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "RunFiring":
        mode = read_field(data, "mode", (str,), where)
        if mode not in ("median", "stochastic"):
            raise ExportError(f"{where}.mode must be 'median' or 'stochastic', got {mode!r}")
        stochastic = mode == "stochastic"
        return cls(mode, read_field(data, "note", (str,), where),
                   read_field(data, "seed", (int,), where) if stochastic else None,
                   read_field(data, "draw", (int,), where) if stochastic else None)


@dataclass(frozen=True)
class LayerTime:
    """Wall and simulator time of one layer's units (circuit runs only)."""

    layer: str
    units: int
    runs: int
    simulated: int                                  #: runs not taken from the cache
    wall_s: float
    sim_time_s: float
    worker_rss_max_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "units": self.units, "runs": self.runs, "simulated": self.simulated,
                "wall_s": self.wall_s, "sim_time_s": self.sim_time_s, "worker_rss_max_mb": self.worker_rss_max_mb}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "LayerTime":
        return cls(read_field(data, "layer", (str,), where), read_field(data, "units", (int,), where),
                   read_field(data, "runs", (int,), where), read_field(data, "simulated", (int,), where),
                   read_number(data, "wall_s", where), read_number(data, "sim_time_s", where),
                   read_optional(data, "worker_rss_max_mb", (float,), where))


@dataclass(frozen=True)
class SimulationSummary:
    """What the run measured over its samples (the accuracy is never defaulted: a file without it is damaged; it is
    None, with its interval, only when the samples have no labels)."""

    samples: int
    accuracy: float | None
    accuracy_ci95: tuple[float, float] | None       #: Wilson 95 % interval (device.statistics)
    no_decision: int
    sim_time_per_sample_s: float
    layers: tuple[LayerResult, ...]
    firing: RunFiring
    wall_time_s: float = 0.0
    workers: int = 1
    runs_simulated: int = 0
    runs_cached: int = 0
    layer_times: tuple[LayerTime, ...] = ()
    torch: TorchComparison | None = None            #: None: the run made no comparison

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "samples": self.samples, "accuracy": self.accuracy,
            "accuracy_ci95": None if self.accuracy_ci95 is None else list(self.accuracy_ci95),
            "no_decision": self.no_decision, "sim_time_per_sample_s": self.sim_time_per_sample_s,
            "layers": [layer.to_dict() for layer in self.layers], "firing": self.firing.to_dict(),
            "wall_time_s": self.wall_time_s, "workers": self.workers, "runs_simulated": self.runs_simulated,
            "runs_cached": self.runs_cached, "layer_times": [t.to_dict() for t in self.layer_times]}
        if self.torch is not None:
            out["torch"] = self.torch.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "SimulationSummary":
        interval = read_field(data, "accuracy_ci95", (list, type(None)), where)
        if interval is not None and (len(interval) != 2 or not all(isinstance(v, (int, float))
                                                                    and not isinstance(v, bool) for v in interval)):
            raise ExportError(f"{where}.accuracy_ci95 must be two numbers [low, high]")
        accuracy = read_field(data, "accuracy", (float, type(None)), where)
        if (accuracy is None) != (interval is None):
            raise ExportError(f"{where}: accuracy and accuracy_ci95 must both be numbers, or both null (no labels)")
        torch = read_field(data, "torch", (dict,), where, None)
        return cls(read_field(data, "samples", (int,), where), None if accuracy is None else float(accuracy),
                   None if interval is None else (float(interval[0]), float(interval[1])),
                   read_field(data, "no_decision", (int,), where),
                   read_number(data, "sim_time_per_sample_s", where),
                   tuple(LayerResult.from_dict(r, f"{where}.layers[{i}]")
                         for i, r in enumerate(_rows(data, "layers", where))),
                   RunFiring.from_dict(read_field(data, "firing", (dict,), where), f"{where}.firing"),
                   read_number(data, "wall_time_s", where), read_field(data, "workers", (int,), where),
                   read_field(data, "runs_simulated", (int,), where), read_field(data, "runs_cached", (int,), where),
                   tuple(LayerTime.from_dict(r, f"{where}.layer_times[{i}]")
                         for i, r in enumerate(_rows(data, "layer_times", where))),
                   None if torch is None else TorchComparison.from_dict(torch, f"{where}.torch"))


@dataclass(frozen=True)
class ResultWarning:
    """A degenerate circuit: no decision, a silent layer, a fire rate far from PyTorch's."""

    kind: str
    layer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "layer": self.layer, "message": self.message}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ResultWarning":
        return cls(*(read_field(data, k, (str,), where) for k in ("kind", "layer", "message")))


@dataclass(frozen=True)
class SimulationResults:
    """``results.json`` of a simulation folder: the export it belongs to, what the run was, provenance (one text per
    kind of figure, ``simulator``, ``date_utc``), the :class:`SimulationSummary`, one :class:`SampleResult` per
    sample, the :class:`ResultWarning` s and the safe operating area (the verdict and its per-layer checks)."""

    export: ExportIdentity
    what: str
    provenance: dict[str, Any]
    summary: SimulationSummary
    per_sample: tuple[SampleResult, ...]
    soa: dict[str, Any]
    warnings: tuple[ResultWarning, ...] = ()
    format: str = field(default=RESULTS_FORMAT)
    format_version: int = field(default=RESULTS_VERSION)

    @property
    def samples(self) -> tuple[int, ...]:
        return tuple(e.sample for e in self.per_sample)

    @property
    def simulator(self) -> str:
        """"ngspice", "vacask" or "twin" (results of the PyTorch twin: every figure computed, none simulated)."""
        return str(self.provenance.get("simulator") or "ngspice")

    @property
    def soa_within(self) -> bool:
        return bool(self.soa.get("within", False))

    def sample(self, index: int) -> SampleResult:
        """The result of test-set sample ``index``."""
        for e in self.per_sample:
            if e.sample == index:
                return e
        raise KeyError(f"sample {index} was not run (samples: {list(self.samples)})")

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "format_version": self.format_version, "export": self.export.to_dict(),
                "what": self.what, "provenance": self.provenance, "summary": self.summary.to_dict(),
                "per_sample": [e.to_dict() for e in self.per_sample], "warnings": [w.to_dict() for w in self.warnings],
                "soa": self.soa}

    @classmethod
    def from_dict(cls, data: Any, identity: ExportIdentity, where: str = SimFiles.RESULTS) -> "SimulationResults":
        """``data`` of ``results.json`` whose export identity (already read and checked) is ``identity``."""
        if not isinstance(data, Mapping):
            raise ExportError(f"{where} must hold a table")
        rows = _rows(data, "per_sample", where)
        if not rows:
            raise ExportError(f"{where} lists no samples")
        per_sample = tuple(SampleResult.from_dict(r, f"{where} per_sample[{i}]") for i, r in enumerate(rows))
        summary = SimulationSummary.from_dict(read_field(data, "summary", (dict,), where), f"{where} summary")
        if summary.samples != len(per_sample):
            raise ExportError(f"{where} summary counts {summary.samples} samples but per_sample lists "
                              f"{len(per_sample)}")
        return cls(identity, read_field(data, "what", (str,), where, ""),
                   read_field(data, "provenance", (dict,), where),
                   summary, per_sample, read_field(data, "soa", (dict,), where),
                   tuple(ResultWarning.from_dict(w, f"{where} warnings[{i}]")
                         for i, w in enumerate(_rows(data, "warnings", where, []))),
                   read_field(data, "format", (str,), where), read_field(data, "format_version", (int,), where))


def read_results(sim: str | Path, export: Export) -> SimulationResults:
    """Read ``results.json`` of ``sim`` and check it belongs to ``export``.

    Raises:
        ExportError: missing, damaged or of another version; ForeignResultsError: simulated from another export.
    """
    sim = Path(sim)
    path = sim / SimFiles.RESULTS
    if not path.is_file():
        again = "" if sim == export.default_sim() else f" -o {sim}"
        raise ExportError(f"{export.folder} has not been simulated into {sim} ({path} is missing); run "
                          f"'ipnet-cosim simulate {export.folder}{again}' first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path} is not valid JSON ({exc}); simulate again") from exc
    if not isinstance(data, Mapping) or data.get("format") != RESULTS_FORMAT:
        if isinstance(data, Mapping) and "per_sample" in data:
            raise ForeignResultsError(f"{path} was written by an older ipnet-cosim without an export identity, so "
                                      f"it cannot be tied to {export.folder}; simulate again")
        raise ExportError(f"{path} is not an ipnet-cosim simulation result; simulate again")
    if data.get("format_version") != RESULTS_VERSION:
        raise ExportError(f"{path} has results format version {data.get('format_version')!r}; this ipnet-cosim "
                          f"reads version {RESULTS_VERSION}: simulate again (the unit cache in {sim / SimFiles.CACHE} "
                          f"is reused, so only the comparison is recomputed)")
    stored = ExportIdentity.from_dict(data.get("export"), f"{path} export")
    if stored != export.identity:
        raise ForeignResultsError(f"{sim} holds a simulation of another export ({stored.short()}), not of "
                                  f"{export.folder} ({export.identity.short()}); pass that export's folder, or "
                                  f"simulate this one with 'ipnet-cosim simulate {export.folder} -o NEW_FOLDER'")
    try:
        return SimulationResults.from_dict(data, stored, str(path))
    except ExportError as exc:
        raise ExportError(f"{exc}; the file is damaged: simulate again") from None
