"""The cited memory-technology table (``data/memory_technologies.json``): energy per bit read and written of each
technology with its citation, checked on load (:func:`load_technologies`), for :mod:`~ipnet_cosim.energy.memory`.
Never imports torch or ``ipnet_cosim.models``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy.quantity import Quantity

SCHEMA_VERSION = 1
DEFAULT_TABLE_PATH = Path(__file__).parent / "data" / "memory_technologies.json"

_REQUIRED_CITATION_FIELDS = ("authors", "title", "venue", "year")
_ENTRY_KEYS = {"kind", "read_j_per_bit", "write_j_per_bit", "as_printed", "node", "source_type", "citation",
               "also_reported_in", "verified", "verification", "read_write_note", "note"}
_REQUIRED_ENTRY_KEYS = ("read_j_per_bit", "write_j_per_bit", "citation", "as_printed", "verified")



@dataclass(frozen=True)
class MemoryTechnology:
    """Energy per bit of one memory technology, with its provenance.

    Args:
        name: key in the table, e.g. "hbm2".
        read_j_per_bit: energy to read one bit, J/bit.
        write_j_per_bit: energy to write one bit, J/bit.
        citation: the formatted full citation (authors, title, venue, year, location, DOI/URL).
        as_printed: the original figure and its unit as printed in the source.
        node: technology node / conditions, as stated by the source ("" if not stated).
        kind: what the memory is (on-chip SRAM, HBM2, ...).
        verified: True if the number was read in (a copy of) the source; False if only reproduced.
        verification: how it was checked, or what was found when it could not be.
        source_type: "peer-reviewed" or "vendor".
        note: remarks (scope, comparability, read/write).
    """

    name: str
    read_j_per_bit: float
    write_j_per_bit: float
    citation: str
    as_printed: str
    node: str = ""
    kind: str = ""
    verified: bool = False
    verification: str = ""
    source_type: str = ""
    note: str = ""

    def read_energy(self) -> Quantity:
        """The read energy as an assumed (literature) figure, J/bit."""
        return Quantity(self.read_j_per_bit, "J/bit", "assumed", self.citation,
                        note=self._quantity_note())

    def write_energy(self) -> Quantity:
        """The write energy as an assumed (literature) figure, J/bit."""
        return Quantity(self.write_j_per_bit, "J/bit", "assumed", self.citation,
                        note=self._quantity_note())

    def _quantity_note(self) -> str:
        return f"{self.name}: {self.as_printed}" + ("" if self.verified else " [NOT verified in the source]")


def format_citation(citation: Mapping[str, Any]) -> str:
    """One-line citation: authors, "title", venue, year, pages, location, doi/url."""
    parts = [str(citation["authors"]), f"\"{citation['title']}\"", str(citation["venue"]), str(citation["year"])]
    if citation.get("pages"):
        parts.append(f"pp. {citation['pages']}")
    if citation.get("location"):
        parts.append(str(citation["location"]))
    if citation.get("doi"):
        parts.append(f"doi:{citation['doi']}")
    if citation.get("url"):
        parts.append(str(citation["url"]))
    return ", ".join(parts)


def _check_citation(name: str, field: str, citation: Any) -> str:
    if citation is None or citation == "" or citation == {}:
        raise ConfigError(f"memory technology '{name}': {field} is missing; every figure needs a citation with "
                          f"{', '.join(_REQUIRED_CITATION_FIELDS)} and a doi or url")
    if not isinstance(citation, Mapping):
        raise ConfigError(f"memory technology '{name}': {field} must be an object with "
                          f"{', '.join(_REQUIRED_CITATION_FIELDS)} and a doi or url (got {type(citation).__name__})")
    for key in _REQUIRED_CITATION_FIELDS:
        value = citation.get(key)
        if value is None or not str(value).strip():
            raise ConfigError(f"memory technology '{name}': {field}.{key} is missing; give the source's {key}")
    if not any(str(citation.get(key) or "").strip() for key in ("doi", "url")):
        raise ConfigError(f"memory technology '{name}': {field} has neither doi nor url; add one so the figure "
                          f"can be checked")
    return format_citation(citation)


def _check_energy(name: str, field: str, entry: Mapping[str, Any]) -> float:
    if field not in entry or entry[field] is None:
        raise ConfigError(f"memory technology '{name}': {field} is missing; give the energy per bit in J/bit "
                          f"(e.g. 3.97e-12 for 3.97 pJ/bit)")
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"memory technology '{name}': {field} = {value!r} must be a finite positive number "
                          f"in J/bit")
    return float(value)


def _parse_entry(name: str, entry: Any) -> MemoryTechnology:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"memory technology '{name}': entry must be an object (got {type(entry).__name__})")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"memory technology '{name}': unknown field(s) {', '.join(unknown)}; "
                          f"known fields are {', '.join(sorted(_ENTRY_KEYS))}")
    read_j_per_bit = _check_energy(name, "read_j_per_bit", entry)
    write_j_per_bit = _check_energy(name, "write_j_per_bit", entry)
    citation = _check_citation(name, "citation", entry.get("citation"))
    for i, extra in enumerate(entry.get("also_reported_in") or ()):
        _check_citation(name, f"also_reported_in[{i}]", extra)
    as_printed = entry.get("as_printed")
    if not isinstance(as_printed, str) or not as_printed.strip():
        raise ConfigError(f"memory technology '{name}': as_printed is missing; quote the figure and its unit as "
                          f"printed in the source (e.g. '5 pJ per 32-bit access')")
    verified = entry.get("verified")
    if not isinstance(verified, bool):
        raise ConfigError(f"memory technology '{name}': verified must be true or false (got {verified!r}); "
                          f"say whether the number was read in the source")
    notes = [str(entry[k]) for k in ("read_write_note", "note") if entry.get(k)]
    return MemoryTechnology(name=name, read_j_per_bit=read_j_per_bit, write_j_per_bit=write_j_per_bit,
                            citation=citation, as_printed=as_printed, node=str(entry.get("node") or ""),
                            kind=str(entry.get("kind") or ""), verified=verified,
                            verification=str(entry.get("verification") or ""),
                            source_type=str(entry.get("source_type") or ""), note="; ".join(notes))


def _read_table(path: str | Path | None) -> tuple[dict[str, MemoryTechnology], str]:
    table_path = Path(path) if path is not None else DEFAULT_TABLE_PATH
    try:
        text = table_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"memory technology table {table_path} not found; pass the path of an existing JSON "
                          f"file, or no path for the packaged table") from None
    except OSError as exc:
        raise ConfigError(f"memory technology table {table_path} cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"memory technology table {table_path} is not valid JSON ({exc}); fix the file") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"memory technology table {table_path}: the top level must be an object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"memory technology table {table_path}: schema_version is "
                          f"{data.get('schema_version')!r}; this version of ipnet-cosim reads {SCHEMA_VERSION}")
    entries = data.get("technologies")
    if not isinstance(entries, Mapping) or not entries:
        raise ConfigError(f"memory technology table {table_path}: 'technologies' must be a non-empty object "
                          f"{{name: entry}}")
    technologies = {str(name): _parse_entry(str(name), entry) for name, entry in entries.items()}
    default = data.get("default")
    if default not in technologies:
        raise ConfigError(f"memory technology table {table_path}: default {default!r} is not one of its "
                          f"technologies ({', '.join(technologies)}); name one of them")
    return technologies, default


def load_technologies(path: str | Path | None = None) -> dict[str, MemoryTechnology]:
    """Read and validate a memory technology table.

    Args:
        path: JSON file; None reads the packaged ``data/memory_technologies.json``.

    Returns:
        ``{name: MemoryTechnology}`` in the file's order.

    Raises:
        ConfigError: missing/unreadable file, wrong schema version, or an entry without a positive
            finite energy, a citation (authors, title, venue, year, doi or url), the figure as
            printed, or the ``verified`` flag; the message names the technology and the field.
    """
    return _read_table(path)[0]


def default_technology_name(path: str | Path | None = None) -> str:
    """The table's ``default`` technology (``hbm2`` in the packaged table: GPU memory)."""
    return _read_table(path)[1]
