"""The records of a sweep: one :class:`SweepPoint` per design point (``points/<id>/point.json``), the
:class:`PointCheck` of a Pareto point simulated at circuit level (``verify.json``) and the :class:`Sweep` itself
(``sweep.json``). ``to_dict`` writes each file, ``from_dict`` reads it back and names the field at fault; every
figure is SI with its unit in the name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.contract.files import read_field, read_numbers, read_optional

SWEEP_FORMAT = "ipnet-cosim sweep"
SWEEP_VERSION = 2

def _get(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str, default: Any = ...) -> Any:
    """``data[key]`` of one of ``kinds`` (:func:`~ipnet_cosim.netlist_gen.contract.files.read_field`); with
    ``default`` None, also None when the value is null."""
    if default is None:
        return read_optional(data, key, kinds, where, error=ConfigError)
    return read_field(data, key, kinds, where, default, error=ConfigError)


@dataclass(frozen=True)
class PointCheck:
    """Chip 0 of a Pareto point simulated at circuit level on the first samples of the point, against the twin."""

    samples_requested: int
    simulator: str
    samples: tuple[int, ...]
    circuit_accuracy: float                     #: simulated
    twin_accuracy_same_samples: float           #: computed, the twin's run of the same samples
    classes_agree_with_twin: int
    all_spikes_equal_pytorch: bool
    soa_within: bool
    provenance: str

    def to_dict(self) -> dict[str, Any]:
        return {"samples_requested": self.samples_requested, "simulator": self.simulator,
                "samples": list(self.samples), "circuit_accuracy": self.circuit_accuracy,
                "twin_accuracy_same_samples": self.twin_accuracy_same_samples,
                "classes_agree_with_twin": self.classes_agree_with_twin,
                "all_spikes_equal_pytorch": self.all_spikes_equal_pytorch, "soa_within": self.soa_within,
                "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "PointCheck":
        samples = _get(data, "samples", (list,), where)
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in samples):
            raise ConfigError(f"{where}.samples must be a list of test-set indices")
        return cls(_get(data, "samples_requested", (int,), where), _get(data, "simulator", (str,), where),
                   tuple(samples), _get(data, "circuit_accuracy", (float,), where),
                   _get(data, "twin_accuracy_same_samples", (float,), where),
                   _get(data, "classes_agree_with_twin", (int,), where),
                   _get(data, "all_spikes_equal_pytorch", (bool,), where), _get(data, "soa_within", (bool,), where),
                   _get(data, "provenance", (str,), where))


@dataclass(frozen=True)
class SweepPoint:
    """One design point's figures (all computed from the PyTorch twin of its exports; energy, area and the safe
    operating area from chip 0's report): accuracy per chip and draw, energy, area, latency, throughput, synaptic
    operations, the margins below the card's limits, and what was done to its checkpoint."""

    id: str
    parameters: dict[str, Any]                  #: the point's mapping options and card fields, as configured
    chips: int
    samples: int
    accuracy_chip_draws: tuple[tuple[float, ...], ...]   #: [chip][draw]
    accuracy_mean: float                        #: over chips and draws
    accuracy_std_over_draws: float              #: per chip over its draws, mean over chips (0 with one draw)
    firing: dict[str, Any]
    firing_note: str
    energy_per_inference_j: float
    energy_per_spike_j: float | None
    area_m2: float
    latency_s: float
    throughput_inferences_per_s: float
    sops_per_inference: float
    sops_per_j: float | None
    soa_within: bool
    soa_margin_v: float                         #: smallest compliance - peak MTJ voltage over the layers
    soa_margin_k: float                         #: smallest T_max - peak junction temperature over the layers
    coin_flip_fraction: dict[str, float]        #: per MTJ layer, mean over chips and draws
    checkpoint: str
    provenance: str
    folder: str
    energy_per_inference_draws_j: tuple[float, ...] | None = None   #: chip 0 per draw (stochastic)
    energy_per_inference_std_over_draws_j: float | None = None
    device_card_changes: dict[str, float] | None = None
    finetune: dict[str, Any] | None = None
    verified: PointCheck | None = None

    @property
    def accuracy_chips(self) -> tuple[float, ...]:
        """Each chip's accuracy, mean over its draws."""
        return tuple(sum(d) / len(d) for d in self.accuracy_chip_draws)

    def with_check(self, check: PointCheck) -> "SweepPoint":
        return replace(self, verified=check)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "parameters": self.parameters, "chips": self.chips, "samples": self.samples,
            "accuracy_chips": list(self.accuracy_chips), "accuracy_mean": self.accuracy_mean,
            "accuracy_chip_draws": [list(d) for d in self.accuracy_chip_draws],
            "accuracy_std_over_draws": self.accuracy_std_over_draws, "firing": self.firing,
            "firing_note": self.firing_note, "energy_per_inference_j": self.energy_per_inference_j,
            "coin_flip_fraction": self.coin_flip_fraction, "energy_per_spike_j": self.energy_per_spike_j,
            "area_m2": self.area_m2, "latency_s": self.latency_s,
            "throughput_inferences_per_s": self.throughput_inferences_per_s,
            "sops_per_inference": self.sops_per_inference, "sops_per_j": self.sops_per_j,
            "soa_within": self.soa_within, "soa_margin_v": self.soa_margin_v, "soa_margin_k": self.soa_margin_k,
            "checkpoint": self.checkpoint, "provenance": self.provenance, "folder": self.folder}
        if self.energy_per_inference_draws_j is not None:
            out["energy_per_inference_draws_j"] = list(self.energy_per_inference_draws_j)
            out["energy_per_inference_std_over_draws_j"] = self.energy_per_inference_std_over_draws_j
        for key in ("device_card_changes", "finetune"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.verified is not None:
            out["verified"] = self.verified.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "SweepPoint":
        draws = _get(data, "accuracy_chip_draws", (list,), where)
        if not draws or not all(isinstance(d, list) and d and all(isinstance(v, (int, float))
                                                                   and not isinstance(v, bool) for v in d)
                                for d in draws):
            raise ConfigError(f"{where}.accuracy_chip_draws must be a list (chips) of lists (draws) of numbers")
        flips = _get(data, "coin_flip_fraction", (dict,), where)
        verified = _get(data, "verified", (dict,), where, None)
        return cls(
            _get(data, "id", (str,), where), dict(_get(data, "parameters", (dict,), where)),
            _get(data, "chips", (int,), where), _get(data, "samples", (int,), where),
            tuple(tuple(float(v) for v in d) for d in draws), _get(data, "accuracy_mean", (float,), where),
            _get(data, "accuracy_std_over_draws", (float,), where), dict(_get(data, "firing", (dict,), where)),
            _get(data, "firing_note", (str,), where), _get(data, "energy_per_inference_j", (float,), where),
            _get(data, "energy_per_spike_j", (float,), where, None), _get(data, "area_m2", (float,), where),
            _get(data, "latency_s", (float,), where), _get(data, "throughput_inferences_per_s", (float,), where),
            _get(data, "sops_per_inference", (float,), where), _get(data, "sops_per_j", (float,), where, None),
            _get(data, "soa_within", (bool,), where), _get(data, "soa_margin_v", (float,), where),
            _get(data, "soa_margin_k", (float,), where),
            {str(k): float(v) for k, v in flips.items()}, _get(data, "checkpoint", (str,), where),
            _get(data, "provenance", (str,), where), _get(data, "folder", (str,), where),
            (None if data.get("energy_per_inference_draws_j") is None else
             read_numbers(data, "energy_per_inference_draws_j", where, error=ConfigError)),
            _get(data, "energy_per_inference_std_over_draws_j", (float,), where, None),
            _get(data, "device_card_changes", (dict,), where, None), _get(data, "finetune", (dict,), where, None),
            None if verified is None else PointCheck.from_dict(verified, f"{where}.verified"))


def read_point(path: Path) -> SweepPoint:
    """A finished point's ``point.json``.

    Raises:
        ConfigError: not JSON or a field of the wrong kind (with the fix: delete the point's folder to recompute).
    """
    fix = f"delete {path.parent} to compute the point again"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); {fix}") from None
    try:
        return SweepPoint.from_dict(data, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{exc}; the point is damaged or from another version: {fix}") from None


@dataclass(frozen=True)
class Sweep:
    """``sweep.json``: the configuration's essentials, every point in configuration order, the Pareto front (ids)
    among the points inside the card's limits (all points when none is), and the points outside them."""

    checkpoint: str
    mode: str
    finetune: dict[str, Any] | None
    firing: dict[str, Any]
    firing_note: str
    points: tuple[SweepPoint, ...]
    pareto_ids: tuple[str, ...]
    pareto_among: str
    provenance: str = ("computed from the PyTorch twin of each point's export (no circuit simulation); 'verified' "
                       "entries simulated")
    format: str = field(default=SWEEP_FORMAT)
    format_version: int = field(default=SWEEP_VERSION)

    @property
    def outside_soa_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.points if not p.soa_within)

    def point(self, pid: str) -> SweepPoint:
        for p in self.points:
            if p.id == pid:
                return p
        raise KeyError(f"no point {pid} in the sweep")

    @property
    def pareto(self) -> tuple[SweepPoint, ...]:
        return tuple(self.point(pid) for pid in self.pareto_ids)

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "format_version": self.format_version, "checkpoint": self.checkpoint,
                "mode": self.mode, "finetune": self.finetune, "firing": self.firing, "firing_note": self.firing_note,
                "points": [p.to_dict() for p in self.points], "pareto_ids": list(self.pareto_ids),
                "pareto_among": self.pareto_among, "outside_soa_ids": list(self.outside_soa_ids),
                "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: Any, where: str = "sweep.json") -> "Sweep":
        if _get(data, "format", (str,), where) != SWEEP_FORMAT or \
                _get(data, "format_version", (int,), where) != SWEEP_VERSION:
            raise ConfigError(f"{where} is not a sweep of this version ({SWEEP_FORMAT} {SWEEP_VERSION}); run the "
                              f"sweep again into a new folder")
        points = tuple(SweepPoint.from_dict(p, f"{where} points[{i}]")
                       for i, p in enumerate(_get(data, "points", (list,), where)))
        return cls(_get(data, "checkpoint", (str,), where), _get(data, "mode", (str,), where),
                   _get(data, "finetune", (dict,), where, None), dict(_get(data, "firing", (dict,), where)),
                   _get(data, "firing_note", (str,), where), points,
                   tuple(_get(data, "pareto_ids", (list,), where)), _get(data, "pareto_among", (str,), where),
                   _get(data, "provenance", (str,), where))
