"""Formats, versions, the one vocabulary of unit kinds, the contract's errors, the file names of export and
simulation folders, and the typed field access every record uses."""

from __future__ import annotations

from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError

EXPORT_FORMAT = "ipnet-cosim-export"
EXPORT_VERSION = 2
RESULTS_FORMAT = "ipnet-cosim-simulation"
RESULTS_VERSION = 3
UNIT_KINDS = ("heat", "memoryless", "integrate")
EXPORT_TAG = "export_manifest_sha256"      # the array in every per-sample npz of a simulation naming its export


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

    #: in a spike file: the readout columns' charge over the run, C (one per class)
    CHARGE = "readout_charge_c"

    @staticmethod
    def spikes(sample: int) -> str:
        """The spike file of a sample: per hidden layer the run's spikes (:meth:`spike_key`) and, when the run was
        compared, PyTorch's (:meth:`torch_spike_key`), each ``[T, neurons]``; the readout's charge (:data:`CHARGE`)."""
        return f"spikes_sample_{sample:04d}.npz"

    @staticmethod
    def spike_key(layer: str) -> str:
        return f"spikes_{layer}"

    @staticmethod
    def torch_spike_key(layer: str) -> str:
        return f"torch_{layer}"

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


def read_field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str, default: Any = ...,
               error: type[ConfigError] = ExportError) -> Any:
    """``data[key]`` checked against ``kinds`` (int also passes as float; bool never as a number; a lone float must
    be finite); ``default`` when absent (else ``error`` names the missing key)."""
    if not isinstance(data, Mapping):
        raise error(f"{where} must be a table, got {type(data).__name__}")
    if key not in data:
        if default is not ...:
            return default
        raise error(f"{where} lacks '{key}'")
    value = data[key]
    ok = any(isinstance(value, k) and not (isinstance(value, bool) and k in (int, float)) for k in kinds)
    if not ok and float in kinds and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        want = " or ".join(_KINDS.get(k, k.__name__) for k in kinds)
        raise error(f"{where}.{key} must be {want}, got {value!r}")
    if kinds == (float,):
        import math
        if not math.isfinite(value):
            raise error(f"{where}.{key} must be a finite number, got {value!r}")
        return float(value)
    return value


def read_optional(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str,
                  error: type[ConfigError] = ExportError) -> Any:
    """``data[key]`` as :func:`read_field` checks it, or None when it is absent or null."""
    if isinstance(data, Mapping) and data.get(key) is None:
        return None
    return read_field(data, key, kinds, where, error=error)


def read_number(data: Mapping[str, Any], key: str, where: str, error: type[ConfigError] = ExportError) -> float:
    """``data[key]``: a finite number, as a float."""
    return float(read_field(data, key, (float,), where, error=error))


def read_numbers(data: Mapping[str, Any], key: str, where: str, error: type[ConfigError] = ExportError
                 ) -> tuple[float, ...]:
    """``data[key]``: a list of numbers (not necessarily finite: a degenerate circuit's scores may not be)."""
    values = read_field(data, key, (list,), where, error=error)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise error(f"{where}.{key} must be a list of numbers")
    return tuple(float(v) for v in values)


def read_pair(data: Mapping[str, Any], key: str, where: str) -> tuple[int, int]:
    """``data[key]``: a list of two integers."""
    a, b = read_ints(data, key, where, 2)
    return a, b


def read_ints(data: Mapping[str, Any], key: str, where: str, n: int | None = None) -> tuple[int, ...]:
    values = read_field(data, key, (list,), where)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or (n is not None and len(values) != n):
        raise ExportError(f"{where}.{key} must be a list of {n or ''}{' ' if n else ''}integers, got {values!r}"
                          .replace("  ", " "))
    return tuple(values)
