"""The records of ``manifest.json``: tiles, units, layers, timing, checkpoint, device, samples and the manifest
itself (``to_dict`` writes exactly the manifest's JSON; ``from_dict`` checks every field's type)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.contract.files import (EXPORT_FORMAT, EXPORT_VERSION, UNIT_KINDS, ExportError,
                                                    ExportFiles, read_field, read_ints, read_pair)

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
        return cls(read_field(data, "subckt", (str,), where), read_pair(data, "rows", where),
                   read_pair(data, "size", where))


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
        tiles = read_field(data, "tiles", (list,), where)
        if not tiles:
            raise ExportError(f"{where}.tiles is empty")
        return cls(read_field(data, "name", (str,), where), read_field(data, "layer", (int,), where),
                   read_field(data, "position", (int,), where), read_field(data, "col_block", (int,), where),
                   read_pair(data, "weight_columns", where), read_field(data, "netlist", (str,), where),
                   read_field(data, "ports", (str, type(None)), where, None),
                   tuple(TileRecord.from_dict(t, f"{where}.tiles[{i}]") for i, t in enumerate(tiles)),
                   read_ints(data, "rows", where), read_ints(data, "neurons", where),
                   read_field(data, "sha256", (str,), where))


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
    slice_gains: tuple[float, ...] = (1.0,)      # bit slicing: the mirror weight L^s of each slice (written if S > 1)

    @property
    def slices(self) -> int:
        return len(self.slice_gains)

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
        for key in ("in_shape", "out_shape", "matrix_shape", "conductance_range_s", "slice_gains"):
            out[key] = list(out[key])
        if self.slice_gains == (1.0,):         # no slicing: the manifest of exports before bit slicing existed
            del out["slice_gains"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "LayerRecord":
        unit = read_field(data, "unit", (str,), where)
        if unit not in UNIT_KINDS:
            raise ExportError(f"{where}.unit is {unit!r}; one of {', '.join(UNIT_KINDS)}")
        rng = read_field(data, "conductance_range_s", (list,), where)
        if len(rng) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rng):
            raise ExportError(f"{where}.conductance_range_s must be two numbers, got {rng!r}")
        return cls(read_field(data, "index", (int,), where), read_field(data, "name", (str,), where),
                   read_field(data, "type", (str,), where), read_field(data, "mapping", (str,), where), unit,
                   read_field(data, "model", (str, type(None)), where, None), read_ints(data, "in_shape", where),
                   read_ints(data, "out_shape", where), read_ints(data, "matrix_shape", where),
                   read_field(data, "positions", (int,), where), read_field(data, "layout", (str,), where),
                   read_field(data, "units", (int,), where), read_field(data, "tiles", (int,), where),
                   read_field(data, "max_abs_weight", (float,), where), read_field(data, "k_s", (float,), where),
                   read_field(data, "mirror_gain", (float,), where), (float(rng[0]), float(rng[1])),
                   read_field(data, "devices", (int,), where), _slice_gains(data, where))


def _slice_gains(data: Mapping[str, Any], where: str) -> tuple[float, ...]:
    gains = data.get("slice_gains", [1.0])
    if not isinstance(gains, list) or not gains or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in gains):
        raise ExportError(f"{where}.slice_gains must be a non-empty list of positive numbers, got {gains!r}")
    return tuple(float(v) for v in gains)


@dataclass(frozen=True)
class TimingRecord:
    """The step timing every unit was built for (SI units)."""

    n_steps: int
    t_step_s: float
    t_pulse_s: float
    t_rise_s: float
    t_fall_s: float
    read_delay_s: float
    v_read_v: float
    current_scale_a: float
    readout_gain: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "TimingRecord":
        values = {f.name: read_field(data, f.name, (int,) if f.name == "n_steps" else (float,), where)
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
        return cls(read_field(data, "file", (str,), where), read_field(data, "sha256", (str,), where),
                   read_field(data, "epoch", (int,), where), read_field(data, "metrics", (dict,), where, {}))


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
        return cls(read_field(data, "va", (str,), where), read_field(data, "osdi", (str,), where),
                   read_field(data, "osdi_sha256", (str,), where), read_field(data, "openvaf", (str,), where),
                   read_field(data, "models", (dict,), where),
                   read_field(data, "va_sha256", (str, type(None)), where, None))


@dataclass(frozen=True)
class SamplesRecord:
    """The exported samples: test-set indices and labels, the frames' file, and the sensor noise added to their event
    streams when the stimulus is a noisy test set (``noise``: a
    :class:`~ipnet_cosim.models.data.noise.NoiseSetting` table plus its ``seed``; absent for clean samples)."""

    split: str
    indices: tuple[int, ...]
    labels: tuple[int, ...]
    file: str
    noise: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split, "indices": list(self.indices), "labels": list(self.labels),
                               "file": self.file}
        if self.noise is not None:
            out["noise"] = dict(self.noise)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> "SamplesRecord":
        noise = data.get("noise")
        if noise is not None:
            noise = _noise_table(noise, f"{where} noise")
        rec = cls(read_field(data, "split", (str,), where), read_ints(data, "indices", where),
                  read_ints(data, "labels", where),
                  read_field(data, "file", (str,), where), noise)
        if len(rec.indices) != len(rec.labels) or not rec.indices:
            raise ExportError(f"{where}: needs as many labels as indices (and at least one)")
        return rec


def _firing_table(firing: Any, where: str) -> dict[str, Any] | None:
    from ipnet_cosim.device.draws import Firing
    if firing is None:
        return None
    try:
        return Firing.from_dict(firing).to_dict()
    except (ConfigError, TypeError) as exc:
        raise ExportError(f"{where}: {exc}") from None


def _noise_table(noise: Any, where: str) -> dict[str, Any]:
    from ipnet_cosim.models.data.noise import NoiseSetting
    try:
        NoiseSetting.from_record(noise)
    except ConfigError as exc:
        raise ExportError(f"{where}: {exc}") from None
    return dict(noise)


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
    firing: dict[str, Any] | None = None      # Firing table; absent (median mode) in exports before stochastic firing
    format: str = EXPORT_FORMAT
    format_version: int = EXPORT_VERSION

    def firing_mode(self):
        """How the exported neurons fire (:class:`~ipnet_cosim.device.draws.Firing`): median unless recorded."""
        from ipnet_cosim.device.draws import Firing
        return Firing.from_dict(self.firing)

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
                "torch_version": self.torch_version, **({"firing": dict(self.firing)} if self.firing else {})}

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
                       for i, d in enumerate(read_field(data, "layers", (list,), where)))
        units = tuple(UnitRecord.from_dict(d, f"{where} units[{i}]")
                      for i, d in enumerate(read_field(data, "units", (list,), where)))
        names = read_field(data, "class_names", (list,), where)
        man = cls(package_version=read_field(data, "package_version", (str,), where),
                  checkpoint=CheckpointRecord.from_dict(read_field(data, "checkpoint", (dict,), where), f"{where} "
                                                                                                        f"checkpoint"),
                  network_config=read_field(data, "network_config", (dict,), where),
                  data_config=read_field(data, "data_config", (dict,), where),
                  class_names=tuple(str(v) for v in names),
                  device_card=read_field(data, "device_card", (dict,), where),
                  fast_card=read_field(data, "fast_card", (dict,), where),
                  mapping_options=read_field(data, "mapping_options", (dict,), where),
                  interface=read_field(data, "interface", (dict,), where, {}),
                  timing=TimingRecord.from_dict(read_field(data, "timing", (dict,), where), f"{where} timing"),
                  drive=read_field(data, "drive", (dict,), where, {"kind": "ideal"}),
                  device=DeviceRecord.from_dict(read_field(data, "device", (dict,), where), f"{where} device"),
                  samples=SamplesRecord.from_dict(read_field(data, "samples", (dict,), where), f"{where} samples"),
                  gather_codes=read_field(data, "gather_codes", (dict,), where),
                  layers=layers, units=units, torch_version=read_field(data, "torch_version", (str,), where, ""),
                  firing=_firing_table(data.get("firing"), f"{where} firing"))
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
