"""The checks every report passes before it is written: each number a figure with its unit, provenance and source
(outside ``inputs`` and ``plot_data``), and the JSON schema (``data/report.schema.json``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy.quantity import PROVENANCES

SCHEMA_PATH = Path(__file__).parent / "data" / "report.schema.json"
EXEMPT_SECTIONS = ("inputs", "plot_data")


def is_figure(obj: Any) -> bool:
    return isinstance(obj, Mapping) and {"value", "unit", "provenance", "source"} <= set(obj)


def check_figures(report: Mapping[str, Any]) -> None:
    """Every number outside ``inputs``/``plot_data`` must be a figure's value with a unit and provenance."""
    def walk(obj: Any, path: str) -> None:
        if is_figure(obj):
            if obj["provenance"] not in PROVENANCES or not obj["unit"] or not str(obj["source"]).strip():
                raise ConfigError(f"report figure {path} lacks a unit, provenance or source: {obj}")
            if not isinstance(obj["value"], (int, float)) or not math.isfinite(obj["value"]):
                raise ConfigError(f"report figure {path} has a non-finite value {obj['value']!r}")
            return
        if isinstance(obj, Mapping):
            for key, v in obj.items():
                if path == "" and key in EXEMPT_SECTIONS:
                    continue
                walk(v, f"{path}.{key}" if path else str(key))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]")
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and path not in ("format_version",):
            raise ConfigError(f"report number at {path} ({obj}) is not a figure with unit and provenance")
    walk(report, "")


def validate_report(report: Mapping[str, Any]) -> None:
    """Validate against ``data/report.schema.json`` (JSON Schema draft 2020-12)."""
    import jsonschema
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ConfigError(f"report does not match its schema at '{where}': {exc.message}") from exc
