"""Shared validation for the frozen configuration dataclasses of ``models`` (no torch, no numpy).

Every config reports errors as ``ConfigError`` naming the class (or a given label) and the field.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping

from ipnet_cosim.device.errors import ConfigError


def check_field_types(obj: Any) -> None:
    """Every field of a config dataclass must hold a value of its annotated type (int, float, bool, str,
    ``X | None``, tuples/lists, tables); the error names the class, the field and the value.

    Integers pass as floats; a bool never passes as a number; tuple fields take lists too (files hold lists).
    """
    import typing
    cls = type(obj)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:          # an annotation that cannot be resolved here: leave it to the field checks
        return
    for f in dataclasses.fields(obj):
        hint = hints.get(f.name)
        if hint is None:
            continue
        value = getattr(obj, f.name)
        if not _matches(value, hint):
            raise ConfigError(f"{cls.__name__}.{f.name} must be {_describe(hint)}, got {value!r}")


def _matches(value: Any, hint: Any) -> bool:
    import types
    import typing
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (tuple, list) or hint in (tuple, list):
        return isinstance(value, (tuple, list))
    if origin in (dict, Mapping) or hint is dict:
        return isinstance(value, Mapping)
    return True              # other types (dataclasses, enums) are checked by the owner


def _describe(hint: Any) -> str:
    import types
    import typing
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if typing.get_origin(hint) in (tuple, list) or hint in (tuple, list):
        return "a list"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def check_known_keys(klass: type, data: Mapping[str, Any], what: str, word: str = "key") -> None:
    """Raise if ``data`` has keys that are not fields of ``klass``."""
    known = sorted(f.name for f in dataclasses.fields(klass))
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{what}: unknown {word}(s) {unknown}; known: {', '.join(known)}")


def check_positive_ints(obj: Any, names: Iterable[str]) -> None:
    """Each named field must be an integer >= 1 (not a bool)."""
    for name in names:
        v = getattr(obj, name)
        if isinstance(v, bool) or not hasattr(v, "__index__") or v < 1:
            raise ConfigError(f"{type(obj).__name__}.{name} must be a positive integer, got {v!r}")


def check_sensor_window(obj: Any) -> None:
    """height/width >= 8 px and a window that splits into n_bins x sub_steps_per_bin whole us."""
    name = type(obj).__name__
    if obj.height < 8 or obj.width < 8:
        raise ConfigError(f"{name}: height and width must be >= 8 px, got {obj.height}x{obj.width}")
    steps = obj.n_bins * obj.sub_steps_per_bin
    if obj.window_us % steps:
        raise ConfigError(f"{name}.window_us={obj.window_us} must be divisible by n_bins * sub_steps_per_bin = "
                          f"{steps}; e.g. use {(obj.window_us // steps + 1) * steps}")


def normalise_pairs(obj: Any, names: Iterable[str]) -> None:
    """Each named field must be a finite pair 0 < low <= high; stored back as a float tuple."""
    cls = type(obj).__name__
    for name in names:
        v = getattr(obj, name)
        if not (isinstance(v, (tuple, list)) and len(v) == 2) or not all(
                isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
            raise ConfigError(f"{cls}.{name} must be a pair (low, high), got {v!r}")
        if not 0 < v[0] <= v[1]:
            raise ConfigError(f"{cls}.{name} needs 0 < low <= high, got {v!r}")
        object.__setattr__(obj, name, (float(v[0]), float(v[1])))


def check_bounded_numbers(obj: Any, specs: Iterable[tuple[str, float, float | None]]) -> None:
    """Each (name, low, high) field must be a finite number in [low, high] (high None: no upper bound)."""
    for name, lo, hi in specs:
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < lo \
                or (hi is not None and v > hi):
            rng_txt = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ConfigError(f"{type(obj).__name__}.{name} must be a number {rng_txt}, got {v!r}")


def check_bool(obj: Any, name: str) -> None:
    if not isinstance(getattr(obj, name), bool):
        raise ConfigError(f"{type(obj).__name__}.{name} must be True or False, got {getattr(obj, name)!r}")


def to_plain_dict(obj: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(obj).items()}


def from_plain_dict(klass: type, data: Mapping[str, Any], pair_fields: Iterable[str] = ()) -> Any:
    """Inverse of :func:`to_plain_dict` for configs whose ``pair_fields`` are tuples; unknown keys raise."""
    check_known_keys(klass, data, klass.__name__, word="field")
    pairs = set(pair_fields)
    return klass(**{k: (tuple(v) if k in pairs and isinstance(v, list) else v) for k, v in data.items()})
