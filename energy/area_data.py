"""The cited area figures of ``data/area_28nm.json`` (:class:`AreaFigure`, :class:`AreaData`): loaded and checked
(SI unit, positive finite value, a full citation) for :mod:`~ipnet_cosim.energy.area`. Every figure becomes an
"assumed" :class:`~ipnet_cosim.energy.quantity.Quantity` whose source is its citation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy.quantity import Quantity

DEFAULT_AREA_DATA = Path(__file__).with_name("data") / "area_28nm.json"
DATA_UNITS = ("m", "m^2", "1/m^2", "J", "1")
CITATION_KEYS = ("authors", "title", "venue", "year", "location")


@dataclass(frozen=True)
class AreaFigure:
    """One cited figure of ``area_28nm.json`` (SI units).

    Args:
        name: the entry's key, e.g. ``"emram_1t1r_cell_intel22ffl"``.
        value: the figure in SI units (``unit``).
        unit: "m", "m^2", "1/m^2", "J" or "1".
        as_printed: the figure exactly as the source prints it.
        kind: what the figure is.
        citation: authors, title, venue, year, location and a url or doi.
        verified: whether the number was read in (a stored copy of) the source.
        verification: what was checked, and where.
        note: how the model uses it, caveats.
    """

    name: str
    value: float
    unit: str
    as_printed: str
    kind: str
    citation: Mapping[str, str]
    verified: bool
    verification: str
    note: str = ""

    def citation_text(self) -> str:
        """One-line citation: authors, "title", venue, year, location, url/doi."""
        c = self.citation
        link = f"doi:{c['doi']}" if c.get("doi") else c.get("url", "")
        return f"{c['authors']}, \"{c['title']}\", {c['venue']}, {c['year']}, {c['location']}, {link}"

    def quantity(self) -> Quantity:
        """The figure as an "assumed" :class:`Quantity` whose source is the citation."""
        note = self.note
        if not self.verified:
            note = f"UNVERIFIED figure ({self.verification}) {note}".strip()
        return Quantity(float(self.value), self.unit, "assumed",
                        f"{self.name}: {self.as_printed} -- {self.citation_text()}", note)


@dataclass(frozen=True)
class AreaData:
    """The cited figures of a data file, by entry name."""

    origin: str
    figures: Mapping[str, AreaFigure]
    unverified: tuple[Mapping[str, Any], ...] = ()

    def figure(self, name: str, unit: str) -> AreaFigure:
        """The entry ``name``, checked to be in ``unit``.

        Raises:
            ConfigError: no such entry, or it has another unit.
        """
        fig = self.figures.get(name)
        if fig is None:
            raise ConfigError(f"area data {self.origin} has no entry '{name}' (entries: "
                              f"{', '.join(sorted(self.figures))}); add it with a citation or choose another "
                              f"entry in the model's *_entry fields")
        if fig.unit != unit:
            raise ConfigError(f"area data {self.origin}: entry '{name}' is in {fig.unit}, the model needs {unit}; "
                              f"choose an entry of the right kind")
        return fig

    def quantity(self, name: str, unit: str) -> Quantity:
        """``figure(name, unit)`` as an "assumed" Quantity with its citation."""
        return self.figure(name, unit).quantity()


def load_area_data(path: str | Path | None = None) -> AreaData:
    """Load and validate a cited area data file (default: the package's ``data/area_28nm.json``).

    Args:
        path: JSON file with ``{"schema_version": 1, "entries": {name: entry}, "unverified": [...]}``;
            see the package file for the entry fields.

    Raises:
        ConfigError: the file is missing or not JSON, or an entry lacks a citation field, has a
            non-positive or non-finite value, an unknown unit or no ``as_printed`` text (the message
            names the entry).
    """
    path = Path(path) if path is not None else DEFAULT_AREA_DATA
    if not path.is_file():
        raise ConfigError(f"area data file {path} does not exist; pass the path of a JSON file like "
                          f"{DEFAULT_AREA_DATA.name} shipped in {DEFAULT_AREA_DATA.parent}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"area data file {path} is not valid JSON: {exc}") from exc
    return parse_area_data(raw, origin=str(path))


def parse_area_data(raw: Mapping[str, Any], origin: str = "area data") -> AreaData:
    """Validate the parsed content of an area data file (see :func:`load_area_data`)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("entries"), Mapping) or not raw["entries"]:
        raise ConfigError(f"{origin}: expected an object with a non-empty 'entries' table {{name: entry}}")
    if raw.get("schema_version", 1) != 1:
        raise ConfigError(f"{origin}: schema_version {raw.get('schema_version')!r} is not supported (expected 1)")
    figures = {}
    for name, entry in raw["entries"].items():
        where = f"{origin}: entry '{name}'"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where} must be an object with value, unit, as_printed, citation, verified")
        value = entry.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{where} has value {value!r}; give a positive finite number in SI units "
                              f"(the printed figure goes into 'as_printed')")
        unit = entry.get("unit")
        if unit not in DATA_UNITS:
            raise ConfigError(f"{where} has unit {unit!r}; use one of {', '.join(DATA_UNITS)} (SI)")
        for key in ("as_printed", "kind"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConfigError(f"{where} lacks '{key}' (text); say "
                                  + ("the figure exactly as the source prints it" if key == "as_printed"
                                     else "what the figure is"))
        citation = entry.get("citation")
        if not isinstance(citation, Mapping):
            raise ConfigError(f"{where} has no citation; add 'citation' with {', '.join(CITATION_KEYS)} and a url "
                              f"or doi, or remove the entry")
        missing = [k for k in CITATION_KEYS if not str(citation.get(k) or "").strip()]
        if not (str(citation.get("url") or "").strip() or str(citation.get("doi") or "").strip()):
            missing.append("url or doi")
        if missing:
            raise ConfigError(f"{where}: citation lacks {', '.join(missing)}; complete it from the source or "
                              f"remove the entry (never guess a citation)")
        verified = entry.get("verified")
        if not isinstance(verified, bool):
            raise ConfigError(f"{where}: 'verified' must be true or false (was the number read in the source?)")
        if not isinstance(entry.get("verification"), str) or not entry["verification"].strip():
            raise ConfigError(f"{where} lacks 'verification': say what was checked, and where")
        figures[name] = AreaFigure(name, float(value), unit, entry["as_printed"], entry["kind"],
                                   {k: str(v) for k, v in citation.items() if v is not None}, verified,
                                   entry["verification"], str(entry.get("note", "")))
    unverified = tuple(raw.get("unverified", ()))
    return AreaData(origin, figures, unverified)


def resolve_area_data(data: AreaData | None) -> AreaData:
    return data if data is not None else load_area_data()
