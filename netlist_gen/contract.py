"""The export/simulation contract: what ``export`` writes and ``simulate``, accounting, area, report and
the CLI read, as typed, versioned records, read and validated in one place.

* :class:`ExportFiles` and :class:`SimFiles` name every file of an export folder and of a simulation
  folder (nowhere else spells them).
* :class:`ExportManifest` (``manifest.json``) with its :class:`LayerRecord`, :class:`UnitRecord`,
  :class:`TileRecord`, :class:`TimingRecord`, :class:`CheckpointRecord`, :class:`DeviceRecord` and
  :class:`SamplesRecord`; ``to_dict`` writes exactly the manifest's JSON, ``from_dict`` checks every
  field's type and names the one at fault.
* :class:`ExportIdentity`: the hashes that tie a result to its export (the manifest's bytes, the
  checkpoint, the device card). Simulation results, the unit cache and the energy files carry it;
  :func:`bind_simulation_folder` refuses a folder that holds another export's results and
  :func:`read_results` refuses a simulation of another export.
* :func:`read_export`: the one reader of an export folder (format, version, types, the checkpoint's
  hash, the stimulus file).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.fileio import format_json, sha256_file, sha256_json, write_json

EXPORT_FORMAT = "ipnet-cosim-export"
EXPORT_VERSION = 1
RESULTS_FORMAT = "ipnet-cosim-simulation"
RESULTS_VERSION = 2
UNIT_KINDS = ("heat", "memoryless", "integrate")     # the one vocabulary of a layer's unit kind


class ExportError(ConfigError):
    """An export folder is missing, damaged, of another version, or does not belong to a result."""


class ForeignResultsError(ExportError):
    """A simulation folder holds results of another export than the one named."""


class ExportFiles:
    """File names inside an export folder (relative paths)."""

    MANIFEST = "manifest.json"
    SAMPLES = "stimulus/samples.npz"
    VA = "device/thermal_mtj_neuron.va"
    OSDI = "device/ipnet_mtj_neuron.osdi"
    CHECKPOINT = "checkpoint/checkpoint.pt"
    CHECKPOINT_SUMMARY = "checkpoint/checkpoint.json"
    DEFAULT_SIM = "sim"

    @staticmethod
    def netlist(unit: str) -> str:
        return f"netlists/{unit}.cir"

    @staticmethod
    def ports(unit: str) -> str:
        return f"ports/{unit}.npz"

    @staticmethod
    def stimulus(sample: int, unit: str) -> str:
        return f"stimulus/sample_{sample:04d}/{unit}.inc"


class SimFiles:
    """File names inside a simulation folder (``simulate -o``; default ``<export>/sim``)."""

    RESULTS = "results.json"
    IDENTITY = "export_identity.json"
    CACHE = "cache"
    WAVEFORMS = "waveforms"

    @staticmethod
    def cache(sample: int, unit: str) -> str:
        return f"cache/sample_{sample:04d}/{unit}.npz"

    @staticmethod
    def spikes(sample: int) -> str:
        return f"spikes_sample_{sample:04d}.npz"

    @staticmethod
    def energy(sample: int) -> str:
        return f"energy_sample_{sample:04d}.npz"

    @staticmethod
    def soa(sample: int) -> str:
        return f"soa_sample_{sample:04d}.npz"

    @staticmethod
    def waveforms(sample: int, unit: str) -> str:
        return f"waveforms/sample_{sample:04d}_{unit}.npz"

    @staticmethod
    def raster(sample: int) -> str:
        return f"raster_sample_{sample:04d}.png"


# -- typed field access ----------------------------------------------------------------------------

_KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "a list",
          dict: "a table", type(None): "null"}


def _field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str, default: Any = ...) -> Any:
    """``data[key]`` checked against ``kinds`` (int also passes as float; bool never as a number)."""
    if not isinstance(data, Mapping):
        raise ExportError(f"{where} must be a table, got {type(data).__name__}")
    if key not in data:
        if default is not ...:
            return default
        raise ExportError(f"{where} lacks '{key}'")
    value = data[key]
    ok = any(isinstance(value, k) and not (isinstance(value, bool) and k in (int, float)) for k in kinds)
    if not ok and float in kinds and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        want = " or ".join(_KINDS.get(k, k.__name__) for k in kinds)
        raise ExportError(f"{where}.{key} must be {want}, got {value!r}")
    return float(value) if kinds == (float,) else value


def _ints(data: Mapping[str, Any], key: str, where: str, n: int | None = None) -> tuple[int, ...]:
    values = _field(data, key, (list,), where)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or (n is not None and len(values) != n):
        raise ExportError(f"{where}.{key} must be a list of {n or ''}{' ' if n else ''}integers, got {values!r}"
                          .replace("  ", " "))
    return tuple(values)


# -- records ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TileRecord:
    """One row tile of a unit: its subcircuit name, weight rows ``[a, b)`` and physical size (rows, columns)."""

    subckt: str
    rows: tuple[int, int]
    size: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"subckt": self.subckt, "rows": list(self.rows), "size": list(self.size)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "TileRecord":
        return cls(_field(data, "subckt", (str,), where), _ints(data, "rows", where, 2), _ints(data, "size", where, 2))


@dataclass(frozen=True)
class UnitRecord:
    """One simulated unit: a layer's position x column block, its row tiles, inputs and output neurons."""

    name: str
    layer: int
    position: int
    col_block: int
    weight_columns: tuple[int, int]
    netlist: str
    ports: str | None
    tiles: tuple[TileRecord, ...]
    rows: tuple[int, ...]
    neurons: tuple[int, ...]
    sha256: str

    @property
    def n_cols(self) -> int:
        return self.weight_columns[1] - self.weight_columns[0]

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "layer": self.layer, "position": self.position, "col_block": self.col_block,
               "weight_columns": list(self.weight_columns), "netlist": self.netlist,
               "tiles": [t.to_dict() for t in self.tiles], "rows": list(self.rows),
               "neurons": list(self.neurons), "sha256": self.sha256}
        if self.ports is not None:
            out["ports"] = self.ports
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "UnitRecord":
        tiles = _field(data, "tiles", (list,), where)
        if not tiles:
            raise ExportError(f"{where}.tiles is empty")
        return cls(_field(data, "name", (str,), where), _field(data, "layer", (int,), where),
                   _field(data, "position", (int,), where), _field(data, "col_block", (int,), where),
                   _ints(data, "weight_columns", where, 2), _field(data, "netlist", (str,), where),
                   _field(data, "ports", (str, type(None)), where, None),
                   tuple(TileRecord.from_dict(t, f"{where}.tiles[{i}]") for i, t in enumerate(tiles)),
                   _ints(data, "rows", where), _ints(data, "neurons", where), _field(data, "sha256", (str,), where))


@dataclass(frozen=True)
class LayerRecord:
    """One mapped layer (``unit`` one of :data:`UNIT_KINDS`; ``integrate`` is the readout)."""

    index: int
    name: str
    type: str
    mapping: str
    unit: str
    model: str | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    matrix_shape: tuple[int, ...]
    positions: int
    layout: str
    units: int
    tiles: int
    max_abs_weight: float
    k_s: float
    mirror_gain: float
    conductance_range_s: tuple[float, float]
    devices: int

    @property
    def is_readout(self) -> bool:
        return self.unit == "integrate"

    @property
    def n_out(self) -> int:
        n = 1
        for v in self.out_shape:
            n *= v
        return n

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("in_shape", "out_shape", "matrix_shape", "conductance_range_s"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "LayerRecord":
        unit = _field(data, "unit", (str,), where)
        if unit not in UNIT_KINDS:
            raise ExportError(f"{where}.unit is {unit!r}; one of {', '.join(UNIT_KINDS)}")
        rng = _field(data, "conductance_range_s", (list,), where)
        if len(rng) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rng):
            raise ExportError(f"{where}.conductance_range_s must be two numbers, got {rng!r}")
        return cls(_field(data, "index", (int,), where), _field(data, "name", (str,), where),
                   _field(data, "type", (str,), where), _field(data, "mapping", (str,), where), unit,
                   _field(data, "model", (str, type(None)), where, None), _ints(data, "in_shape", where),
                   _ints(data, "out_shape", where), _ints(data, "matrix_shape", where),
                   _field(data, "positions", (int,), where), _field(data, "layout", (str,), where),
                   _field(data, "units", (int,), where), _field(data, "tiles", (int,), where),
                   _field(data, "max_abs_weight", (float,), where), _field(data, "k_s", (float,), where),
                   _field(data, "mirror_gain", (float,), where), (float(rng[0]), float(rng[1])),
                   _field(data, "devices", (int,), where))


@dataclass(frozen=True)
class TimingRecord:
    """The step timing every unit was built for (SI units)."""

    n_steps: int
    t_step_s: float
    t_pulse_s: float
    t_edge_s: float
    read_delay_s: float
    v_read_v: float
    current_scale_a: float
    readout_gain: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "TimingRecord":
        values = {f.name: _field(data, f.name, (int,) if f.name == "n_steps" else (float,), where)
                  for f in fields(cls)}
        if values["n_steps"] < 1 or not all(v > 0 for k, v in values.items() if k not in ("readout_gain",)):
            raise ExportError(f"{where}: n_steps and every time/voltage/current must be positive, got {values}")
        return cls(**values)


@dataclass(frozen=True)
class CheckpointRecord:
    file: str
    sha256: str
    epoch: int
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "epoch": self.epoch, "metrics": self.metrics}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "CheckpointRecord":
        return cls(_field(data, "file", (str,), where), _field(data, "sha256", (str,), where),
                   _field(data, "epoch", (int,), where), _field(data, "metrics", (dict,), where, {}))


@dataclass(frozen=True)
class DeviceRecord:
    """The neuron model shipped with the export: its Verilog-A source, OSDI build and their hashes."""

    va: str
    osdi: str
    osdi_sha256: str
    openvaf: str
    models: dict[str, Any]
    va_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"va": self.va, "osdi": self.osdi, "osdi_sha256": self.osdi_sha256, "openvaf": self.openvaf,
               "models": self.models}
        if self.va_sha256 is not None:
            out["va_sha256"] = self.va_sha256
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "DeviceRecord":
        return cls(_field(data, "va", (str,), where), _field(data, "osdi", (str,), where),
                   _field(data, "osdi_sha256", (str,), where), _field(data, "openvaf", (str,), where),
                   _field(data, "models", (dict,), where), _field(data, "va_sha256", (str, type(None)), where, None))


@dataclass(frozen=True)
class SamplesRecord:
    split: str
    indices: tuple[int, ...]
    labels: tuple[int, ...]
    file: str

    def to_dict(self) -> dict[str, Any]:
        return {"split": self.split, "indices": list(self.indices), "labels": list(self.labels), "file": self.file}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "SamplesRecord":
        rec = cls(_field(data, "split", (str,), where), _ints(data, "indices", where), _ints(data, "labels", where),
                  _field(data, "file", (str,), where))
        if len(rec.indices) != len(rec.labels) or not rec.indices:
            raise ExportError(f"{where}: needs as many labels as indices (and at least one)")
        return rec


@dataclass(frozen=True)
class ExportIdentity:
    """What ties a result to its export: hashes of the manifest's bytes, the checkpoint and the device card."""

    manifest_sha256: str
    checkpoint_sha256: str
    card_sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"manifest_sha256": self.manifest_sha256, "checkpoint_sha256": self.checkpoint_sha256,
                "card_sha256": self.card_sha256}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ExportIdentity":
        return cls(*(_field(data, k, (str,), where) for k in ("manifest_sha256", "checkpoint_sha256", "card_sha256")))

    def short(self) -> str:
        return f"manifest {self.manifest_sha256[:12]}, checkpoint {self.checkpoint_sha256[:12]}"


@dataclass(frozen=True)
class ExportManifest:
    """``manifest.json`` of an export (see :mod:`ipnet_cosim.netlist_gen.export` for the folder layout).

    The network, data, card and mapping sections stay tables here: their own typed readers
    (``NetworkConfig``, ``DataConfig``, :class:`~ipnet_cosim.device.card.DeviceCard`,
    :class:`~ipnet_cosim.netlist_gen.mapping.MappingOptions`) validate them where they are used.
    """

    package_version: str
    checkpoint: CheckpointRecord
    network_config: dict[str, Any]
    data_config: dict[str, Any]
    class_names: tuple[str, ...]
    device_card: dict[str, Any]
    fast_card: dict[str, Any]
    mapping_options: dict[str, Any]
    interface: dict[str, Any]
    timing: TimingRecord
    drive: dict[str, Any]
    device: DeviceRecord
    samples: SamplesRecord
    gather_codes: dict[str, Any]
    layers: tuple[LayerRecord, ...]
    units: tuple[UnitRecord, ...]
    torch_version: str
    format: str = EXPORT_FORMAT
    format_version: int = EXPORT_VERSION

    # derived views ----------------------------------------------------------------------------
    def card(self):
        from ipnet_cosim.device.card import DeviceCard
        return DeviceCard.from_dict(self.device_card, origin="manifest.json device_card")

    def fast(self):
        from ipnet_cosim.device.card import DeviceCard
        return DeviceCard.from_dict(self.fast_card, origin="manifest.json fast_card")

    def options(self):
        from ipnet_cosim.netlist_gen.mapping import MappingOptions
        try:
            return MappingOptions.from_dict(self.mapping_options)
        except (TypeError, ValueError) as exc:
            raise ExportError(f"manifest.json mapping_options: {exc}") from exc

    @property
    def bounded(self) -> bool:
        """The neurons sit behind the card's bounded drive stage."""
        return self.network_config.get("drive", "ideal") == "bounded"

    @property
    def hidden_layers(self) -> tuple[LayerRecord, ...]:
        return tuple(layer for layer in self.layers if not layer.is_readout)

    @property
    def readout(self) -> LayerRecord:
        return self.layers[-1]

    def units_of(self, layer: int) -> tuple[UnitRecord, ...]:
        return tuple(u for u in self.units if u.layer == layer)

    def unit(self, name: str) -> UnitRecord:
        for u in self.units:
            if u.name == name:
                return u
        raise ConfigError(f"unit '{name}' is not in this export (units look like {self.units[0].name}; see "
                          f"{ExportFiles.MANIFEST})")

    # serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "format_version": self.format_version, "package_version": self.package_version,
                "checkpoint": self.checkpoint.to_dict(), "network_config": self.network_config,
                "data_config": self.data_config, "class_names": list(self.class_names),
                "device_card": self.device_card, "fast_card": self.fast_card, "mapping_options": self.mapping_options,
                "interface": self.interface, "timing": self.timing.to_dict(), "drive": self.drive,
                "device": self.device.to_dict(), "samples": self.samples.to_dict(), "gather_codes": self.gather_codes,
                "layers": [layer.to_dict() for layer in self.layers], "units": [u.to_dict() for u in self.units],
                "torch_version": self.torch_version}

    @classmethod
    def from_dict(cls, data: Any, where: str = ExportFiles.MANIFEST) -> "ExportManifest":
        if not isinstance(data, Mapping):
            raise ExportError(f"{where} must hold a table, got {type(data).__name__}")
        if data.get("format") != EXPORT_FORMAT:
            raise ExportError(f"{where} is not an ipnet-cosim export manifest (format {data.get('format')!r})")
        if data.get("format_version") != EXPORT_VERSION:
            raise ExportError(f"{where} has export format version {data.get('format_version')!r}; this ipnet-cosim "
                              f"reads version {EXPORT_VERSION}")
        layers = tuple(LayerRecord.from_dict(d, f"{where} layers[{i}]")
                       for i, d in enumerate(_field(data, "layers", (list,), where)))
        units = tuple(UnitRecord.from_dict(d, f"{where} units[{i}]")
                      for i, d in enumerate(_field(data, "units", (list,), where)))
        names = _field(data, "class_names", (list,), where)
        man = cls(package_version=_field(data, "package_version", (str,), where),
                  checkpoint=CheckpointRecord.from_dict(_field(data, "checkpoint", (dict,), where), f"{where} checkpoint"),
                  network_config=_field(data, "network_config", (dict,), where),
                  data_config=_field(data, "data_config", (dict,), where),
                  class_names=tuple(str(v) for v in names),
                  device_card=_field(data, "device_card", (dict,), where),
                  fast_card=_field(data, "fast_card", (dict,), where),
                  mapping_options=_field(data, "mapping_options", (dict,), where),
                  interface=_field(data, "interface", (dict,), where, {}),
                  timing=TimingRecord.from_dict(_field(data, "timing", (dict,), where), f"{where} timing"),
                  drive=_field(data, "drive", (dict,), where, {"kind": "ideal"}),
                  device=DeviceRecord.from_dict(_field(data, "device", (dict,), where), f"{where} device"),
                  samples=SamplesRecord.from_dict(_field(data, "samples", (dict,), where), f"{where} samples"),
                  gather_codes=_field(data, "gather_codes", (dict,), where),
                  layers=layers, units=units, torch_version=_field(data, "torch_version", (str,), where, ""))
        man._check(where)
        return man

    def _check(self, where: str) -> None:
        if len(self.layers) < 1 or not self.layers[-1].is_readout:
            raise ExportError(f"{where}: the last layer must be the readout (unit 'integrate')")
        if any(layer.is_readout for layer in self.layers[:-1]):
            raise ExportError(f"{where}: only the last layer may be a readout")
        if [layer.index for layer in self.layers] != list(range(len(self.layers))):
            raise ExportError(f"{where}: layer indices must be 0..{len(self.layers) - 1} in order")
        for layer in self.layers:
            if not self.units_of(layer.index):
                raise ExportError(f"{where}: layer {layer.name} has no units")
        for u in self.units:
            if not 0 <= u.layer < len(self.layers):
                raise ExportError(f"{where}: unit {u.name} belongs to layer {u.layer}, which does not exist")
            if len(u.neurons) != u.n_cols:
                raise ExportError(f"{where}: unit {u.name} has {u.n_cols} weight columns but {len(u.neurons)} neurons")
            n_out = self.layers[u.layer].n_out
            if any(not 0 <= n < n_out for n in u.neurons):
                raise ExportError(f"{where}: unit {u.name} names a neuron outside layer {u.layer}'s {n_out} outputs")
        if len({u.name for u in self.units}) != len(self.units):
            raise ExportError(f"{where}: unit names are not unique")


@dataclass(frozen=True)
class Export:
    """An export folder read and checked by :func:`read_export`."""

    folder: Path
    manifest: ExportManifest
    identity: ExportIdentity
    raw: dict[str, Any] = field(repr=False, compare=False)

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def default_sim(self) -> Path:
        return self.folder / ExportFiles.DEFAULT_SIM


def identity_of(manifest_bytes: bytes, manifest: Mapping[str, Any]) -> ExportIdentity:
    ck = manifest.get("checkpoint", {}) if isinstance(manifest, Mapping) else {}
    return ExportIdentity(hashlib.sha256(manifest_bytes).hexdigest(), str(ck.get("sha256", "")),
                          sha256_json(manifest.get("device_card", {})))


def read_export(folder: str | Path, *, need_checkpoint: bool = True) -> Export:
    """Read and validate an export folder (the only reader of ``manifest.json``).

    Raises:
        ExportError: the folder or its manifest is missing, not JSON, of another format or version,
            has a field of the wrong type, its stimulus file is missing, its checkpoint was altered or (with
            ``need_checkpoint``: the PyTorch comparison needs it) is missing.
    """
    folder = Path(folder)
    hint = f"create it with 'ipnet-cosim export CHECKPOINT -o {folder}'"
    if not folder.is_dir():
        raise ExportError(f"export folder {folder} does not exist; {hint}")
    path = folder / ExportFiles.MANIFEST
    if not path.is_file():
        raise ExportError(f"{folder} is not an export (no {ExportFiles.MANIFEST}); {hint}")
    data_bytes = path.read_bytes()
    try:
        raw = json.loads(data_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path} is not valid JSON ({exc}); the export is damaged: export again") from exc
    try:
        manifest = ExportManifest.from_dict(raw, str(path))
    except ExportError as exc:
        raise ExportError(f"{exc}; the export is damaged or from another version: export again") from None
    ck = folder / manifest.checkpoint.file
    if need_checkpoint and not ck.is_file():
        raise ExportError(f"{ck} is missing (the PyTorch comparison needs it); export again, or simulate without "
                          f"the comparison (--no-compare)")
    if ck.is_file():
        if sha256_file(ck) != manifest.checkpoint.sha256:
            raise ExportError(f"{ck} does not match the checkpoint sha256 recorded in {path} (the file was "
                              f"replaced or damaged); export again from the original checkpoint")
    samples = folder / manifest.samples.file
    if not samples.is_file():
        raise ExportError(f"{samples} is missing (the exported input frames); export again")
    return Export(folder, manifest, identity_of(data_bytes, raw), raw)


@dataclass(frozen=True)
class SimulationResults:
    """``results.json`` of a simulation folder: the export it belongs to, provenance, the summary, one entry
    per sample (classes, scores, per-layer spike agreement), degenerate-circuit warnings and the safe
    operating area. The inner tables are written by :mod:`~ipnet_cosim.netlist_gen.simulate`; this record
    checks the parts every reader relies on."""

    export: ExportIdentity
    what: str
    provenance: dict[str, Any]
    summary: dict[str, Any]
    per_sample: tuple[dict[str, Any], ...]
    soa: dict[str, Any]
    warnings: tuple[dict[str, Any], ...] = ()
    format: str = RESULTS_FORMAT
    format_version: int = RESULTS_VERSION

    @property
    def samples(self) -> tuple[int, ...]:
        return tuple(int(e["sample"]) for e in self.per_sample)

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "format_version": self.format_version, "export": self.export.to_dict(),
                "what": self.what, "provenance": self.provenance, "summary": self.summary,
                "per_sample": list(self.per_sample), "warnings": list(self.warnings), "soa": self.soa}

    @classmethod
    def from_dict(cls, data: Any, where: str = SimFiles.RESULTS) -> "SimulationResults":
        if not isinstance(data, Mapping):
            raise ExportError(f"{where} must hold a table")
        per_sample = _field(data, "per_sample", (list,), where)
        if not per_sample:
            raise ExportError(f"{where} lists no samples")
        for i, entry in enumerate(per_sample):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("sample"), int) \
                    or not isinstance(entry.get("circuit_logits"), list):
                raise ExportError(f"{where} per_sample[{i}] lacks an integer 'sample' or its 'circuit_logits'")
        warnings = _field(data, "warnings", (list,), where, [])
        return cls(ExportIdentity.from_dict(_field(data, "export", (dict,), where), f"{where} export"),
                   _field(data, "what", (str,), where, ""), _field(data, "provenance", (dict,), where),
                   _field(data, "summary", (dict,), where), tuple(per_sample),
                   _field(data, "soa", (dict,), where), tuple(w for w in warnings if isinstance(w, Mapping)),
                   _field(data, "format", (str,), where), _field(data, "format_version", (int,), where))


# -- binding results to their export ---------------------------------------------------------------

def _stored_identity(sim: Path) -> tuple[ExportIdentity | None, str]:
    """The export identity a simulation folder records (identity file, else results.json)."""
    for rel in (SimFiles.IDENTITY, SimFiles.RESULTS):
        path = sim / rel
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
            raise ExportError(f"{path} is damaged ({exc}); move the folder away and simulate again") from exc
        where = str(path)
        if rel == SimFiles.RESULTS:
            if not isinstance(data, Mapping) or "export" not in data:
                raise ForeignResultsError(
                    f"{sim} holds results without an export identity (an older ipnet-cosim, or not a simulation "
                    f"folder); simulate into a new folder with -o, or delete {path} if it may go")
            data, where = data["export"], f"{path} export"
        return ExportIdentity.from_dict(data, where), where
    return None, ""


def bind_simulation_folder(sim: str | Path, export: Export) -> None:
    """Claim ``sim`` for ``export``'s results, or refuse when it holds another export's results.

    Writes ``export_identity.json`` (before any simulation runs, so the cache is bound too).

    Raises:
        ForeignResultsError: ``sim`` holds results or a cache of another export.
    """
    sim = Path(sim)
    if sim.exists() and not sim.is_dir():
        raise ExportError(f"simulation folder {sim} is a file; choose a folder with -o")
    stored, where = _stored_identity(sim) if sim.is_dir() else (None, "")
    if stored is not None and stored != export.identity:
        raise ForeignResultsError(
            f"{sim} holds the results of another export ({stored.short()}; this export: "
            f"{export.identity.short()}); simulate into a new folder with -o (results are never overwritten)")
    if stored is None and sim.is_dir() and (sim / SimFiles.CACHE).is_dir():
        raise ForeignResultsError(f"{sim} holds a unit cache of unknown origin (no {SimFiles.IDENTITY}); simulate "
                                  f"into a new folder with -o, or delete {sim / SimFiles.CACHE}")
    sim.mkdir(parents=True, exist_ok=True)
    path = sim / SimFiles.IDENTITY
    if not path.is_file():
        write_json(path, export.identity.to_dict())


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
                          f"reads version {RESULTS_VERSION}: simulate again")
    stored = ExportIdentity.from_dict(data.get("export"), f"{path} export")
    if stored != export.identity:
        raise ForeignResultsError(f"{sim} holds a simulation of another export ({stored.short()}), not of "
                                  f"{export.folder} ({export.identity.short()}); pass that export's folder, or "
                                  f"simulate this one with 'ipnet-cosim simulate {export.folder} -o NEW_FOLDER'")
    try:
        return SimulationResults.from_dict(data, str(path))
    except ExportError as exc:
        raise ExportError(f"{exc}; the file is damaged: simulate again") from None


def check_checkpoint_summary(summary: Mapping[str, Any], raw: Mapping[str, Any], where: str) -> None:
    """A ``checkpoint.json`` must repeat its ``checkpoint.pt``'s configuration (it is shipped with the export).

    Raises:
        ExportError: a field that both hold differs.
    """
    for key in ("format", "format_version", "network_config", "device_card", "data_config", "epoch", "class_names"):
        if key in summary and key in raw and format_json(summary[key]) != format_json(raw[key]):
            raise ExportError(f"{where} contradicts its checkpoint.pt ('{key}' differs); it was edited or belongs "
                              f"to another checkpoint: delete it or save the checkpoint again")

