"""A figure with its unit and its provenance: what every number in an energy/area report is.

``provenance`` is one of

* ``simulated``: taken from a transient simulation (ngspice waveforms of an export);
* ``computed``: derived by a formula from other figures (``source`` names the formula / inputs);
* ``assumed``: an input we chose or took from the literature (``source`` cites it).

Values are SI (``unit`` says which: "J", "W", "m^2", "bit", "1" for ratios, ...). Reports may show
them scaled (fJ, um^2) but store SI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError

PROVENANCES = ("simulated", "computed", "assumed")


@dataclass(frozen=True)
class Quantity:
    """One reported figure.

    Args:
        value: the number in SI units (``unit``).
        unit: SI unit, e.g. "J", "J/bit", "m^2", "bit", "1" (dimensionless).
        provenance: "simulated", "computed" or "assumed".
        source: where it comes from: a citation for assumed figures, the formula and inputs for
            computed ones, the simulation (export folder, units, samples) for simulated ones.
        note: optional remark (e.g. the assumption that explains a difference).
    """

    value: float
    unit: str
    provenance: str
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.provenance not in PROVENANCES:
            raise ConfigError(f"provenance '{self.provenance}' is unknown; use one of {', '.join(PROVENANCES)}")
        if not isinstance(self.unit, str) or not self.unit:
            raise ConfigError(f"a figure needs a unit (got {self.unit!r}); use '1' for dimensionless numbers")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError(f"a {self.provenance} figure ({self.value} {self.unit}) needs a source")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ConfigError(f"figure value {self.value!r} ({self.unit}, {self.source}) must be a finite number")

    def to_dict(self) -> dict[str, Any]:
        out = {"value": float(self.value), "unit": self.unit, "provenance": self.provenance, "source": self.source}
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Quantity":
        missing = [k for k in ("value", "unit", "provenance", "source") if k not in data]
        if missing:
            raise ConfigError(f"figure {dict(data)!r} lacks {', '.join(missing)}")
        return cls(data["value"], data["unit"], data["provenance"], data["source"], data.get("note", ""))


def figure(value: float, unit: str, provenance: str, source: str, note: str = "") -> dict[str, Any]:
    """A validated figure as the plain dict reports store (:meth:`Quantity.to_dict`)."""
    return Quantity(float(value), unit, provenance, source, note).to_dict()
