"""Synapse card: which device holds the weights, with a source for every number.

The neuron card (:mod:`ipnet_cosim.device.card`) describes the thermal MTJ neuron; the synapse card
describes the crossbar device that stores a weight. One :class:`SynapseCard` feeds the mapping
(conductance range, levels and device-to-device variation of
:class:`~ipnet_cosim.netlist_gen.conductance.ConductanceOptions`), the area model (the crossbar cell),
the energy report (its name on every figure that depends on it) and hardware-aware training (recorded
with the mapping options).

Every field carries its SI unit in its name; its metadata give the unit, a description and the range
that validation enforces. Unlike the neuron card, whose defaults are one assumed device, each synapse
card is a different technology, so the source of every value lives in the card itself
(:attr:`SynapseCard.sources`, one entry per value field, refused when missing) together with the list of
values we read in a stored copy of their source (:attr:`SynapseCard.verified`).

Presets (``synapse_cards.json``, :func:`synapse_presets`):

* ``ideal``: not a device. The toolkit's mathematical idealisation: any conductance in [1 uS, 1 mS],
  continuous, no variation. Kept as the default so that earlier results stay reproducible; every report
  says that it is not a device.
* ``rram_1t1r``: multi-level HfO2 RRAM in a 1T1R cell (Milo et al., IRPS 2021; the range and error fit
  as CrossSim implements them).
* ``pcm``: analog phase-change memory programmed by iterative write-verify (Joshi et al., Nat. Commun.
  2020; the programming-error fit of CrossSim, drift and read noise of IBM aihwkit's PCM model).
* ``stt_mram``: binary STT-MRAM, a 1T-1MTJ cell (Intel 22FFL): two states, on/off ~2.8 (TMR 180 %).

Device model used by the mapping (per device, one seeded draw per chip; see
:mod:`~ipnet_cosim.netlist_gen.conductance`)::

    G = clip(G_target exp(d2d_sigma_rel N) + d2d_sigma_s N', g_off_s, g_on_s)

``c2c_sigma_rel`` (read-to-read noise) and ``drift_nu`` (``G(t) = G(t0) (t / t0)^-nu``, PCM) are part of
the card and of every report but are not applied by the deterministic circuit simulation; the report
says so. ``read_energy_j`` is a published per-cell read energy where one exists (None otherwise); the
toolkit's crossbar read energy always comes from the simulated (or twin-computed) waveforms.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.errors import ConfigError

PRESETS_FILE = Path(__file__).with_name("synapse_cards.json")
TECHNOLOGIES = {"ideal": "ideal (not a device)", "rram": "1T1R RRAM", "pcm": "PCM", "stt_mram": "STT-MRAM"}
CELL_KINDS = ("1T1R", "0T1R")
#: the default chip's synapse technology, chosen by the measured comparison of benchmarks/default_chip.py
DEFAULT_SYNAPSE = "pcm"
IDEAL_SYNAPSE = "ideal"


def _value(unit: str, desc: str, lo: float, hi: float, lo_open: bool = False, optional: bool = False) -> Any:
    """A numeric card field: unit, description and the range validation enforces (no default: every card
    states every value)."""
    return field(metadata={"unit": unit, "desc": desc, "lo": lo, "hi": hi, "lo_open": lo_open,
                           "optional": optional, "numeric": True})


@dataclass(frozen=True)
class SynapseCard:
    """One synapse technology (SI units). Build from a preset (:func:`synapse_card`) or a file
    (:func:`load_synapse_card`); every value field needs an entry in ``sources``.

    Args:
        name: the card's key, e.g. ``"rram_1t1r"``.
        technology: one of :data:`TECHNOLOGIES`.
        label: one line naming the device and its source, shown at the top of reports.
        is_device: False only for the ideal card (a mathematical idealisation).
        cell_kind: "1T1R" (access transistor per cell) or "0T1R" (passive cross-point).
        g_on_s, g_off_s: highest and lowest programmable conductance, S.
        levels: programmable levels per cell (2 = binary); None: analog (any target within the range,
            precision set by the programming error).
        d2d_sigma_rel: relative device-to-device variation (lognormal sigma).
        d2d_sigma_s: additive device-to-device variation (programming error after write-verify), S.
        c2c_sigma_rel: relative read-to-read (cycle-to-cycle) noise; recorded, not simulated.
        v_read_max_v: largest read voltage across a cell (read disturb), V.
        read_energy_j: published read energy per cell access, J (None: not published).
        cell_area_m2: area of one cell, m^2, at the node ``cell_node_m``.
        cell_node_m: technology node of ``cell_area_m2``, m.
        drift_nu: conductance drift exponent (0: no drift), ``G(t) = G(t0) (t / t0)^-nu``.
        drift_t0_s: reference time of the drift law (after programming), s.
        sources: the source of every value field (field name -> text with the citation).
        verified: the value fields whose cited figure we read in a stored copy of its source (a value derived
            from such a figure only, e.g. a fit evaluated at mid-range, counts; one that also rests on an
            assumption does not).
    """

    name: str
    technology: str
    label: str
    is_device: bool
    cell_kind: str
    g_on_s: float = _value("S", "highest programmable conductance (on state)", 0.0, 1.0, lo_open=True)
    g_off_s: float = _value("S", "lowest programmable conductance (off state)", 0.0, 1.0, lo_open=True)
    levels: int | None = _value("1", "programmable levels per cell (None: analog)", 2, 2 ** 16, optional=True)
    d2d_sigma_rel: float = _value("1", "relative device-to-device variation (lognormal sigma)", 0.0, 2.0)
    d2d_sigma_s: float = _value("S", "additive device-to-device variation (programming error)", 0.0, 1.0)
    c2c_sigma_rel: float = _value("1", "relative read-to-read noise (recorded, not simulated)", 0.0, 2.0)
    v_read_max_v: float = _value("V", "largest read voltage across a cell", 0.0, 5.0, lo_open=True)
    read_energy_j: float | None = _value("J", "published read energy per cell access", 0.0, 1e-6, lo_open=True,
                                         optional=True)
    cell_area_m2: float = _value("m^2", "area of one crossbar cell", 0.0, 1e-6, lo_open=True)
    cell_node_m: float = _value("m", "technology node of cell_area_m2", 0.0, 1e-5, lo_open=True)
    drift_nu: float = _value("1", "conductance drift exponent", 0.0, 1.0)
    drift_t0_s: float = _value("s", "reference time of the drift law", 0.0, 1e9, lo_open=True)
    sources: Mapping[str, str] = field(default_factory=dict, hash=False)
    verified: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"synapse card '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("synapse card: name must be a non-empty string")
        if self.technology not in TECHNOLOGIES:
            raise ConfigError(f"{where}: technology {self.technology!r} is unknown; use one of "
                              f"{', '.join(TECHNOLOGIES)}")
        if not isinstance(self.is_device, bool) or self.is_device != (self.technology != "ideal"):
            raise ConfigError(f"{where}: is_device must be false for the ideal card and true for a device "
                              f"(technology {self.technology})")
        if self.cell_kind not in CELL_KINDS:
            raise ConfigError(f"{where}: cell_kind {self.cell_kind!r} is unknown; use one of {', '.join(CELL_KINDS)}")
        if not isinstance(self.label, str) or not self.label.strip():
            raise ConfigError(f"{where}: label must name the device and its source in one line")
        for f in value_fields():
            _check_value(where, f, getattr(self, f.name))
        if self.g_off_s >= self.g_on_s:
            raise ConfigError(f"{where}: g_off_s ({self.g_off_s:g} S) must be below g_on_s ({self.g_on_s:g} S): "
                              f"the off state conducts less than the on state")
        if self.levels is not None and self.levels < 2:
            raise ConfigError(f"{where}: levels ({self.levels}) must be at least 2 (or None for an analog device)")
        sources = dict(self.sources) if isinstance(self.sources, Mapping) else None
        if sources is None:
            raise ConfigError(f"{where}: sources must map each value field to its source")
        names = {f.name for f in value_fields()}
        unknown = set(sources) - names
        if unknown:
            raise ConfigError(f"{where}: sources name unknown field(s) {sorted(unknown)}; value fields: "
                              f"{', '.join(sorted(names))}")
        missing = [n for n in (f.name for f in value_fields())
                   if not isinstance(sources.get(n), str) or not sources[n].strip()]
        if missing:
            raise ConfigError(f"{where}: no source for {', '.join(missing)}; every value needs one "
                              f"(give it under [sources], or 'assumed; <reason>')")
        bad = set(self.verified) - names
        if bad:
            raise ConfigError(f"{where}: verified names unknown field(s) {sorted(bad)}")
        object.__setattr__(self, "sources", dict(sorted(sources.items())))
        object.__setattr__(self, "verified", tuple(sorted(set(self.verified))))

    # -- derived ----------------------------------------------------------------
    @property
    def on_off_ratio(self) -> float:
        """``g_on_s / g_off_s``."""
        return self.g_on_s / self.g_off_s

    @property
    def technology_label(self) -> str:
        """Human name of the technology, e.g. "1T1R RRAM"; "ideal (not a device)" for the ideal card."""
        return TECHNOLOGIES[self.technology]

    def headline(self) -> str:
        """One line for the top of a report: technology, card name, range, levels, variation."""
        lv = "analog" if self.levels is None else ("binary" if self.levels == 2 else f"{self.levels} levels")
        var = []
        if self.d2d_sigma_rel:
            var.append(f"{self.d2d_sigma_rel:.3g} relative")
        if self.d2d_sigma_s:
            var.append(f"{self.d2d_sigma_s * 1e6:.3g} uS additive")
        text = (f"{self.technology_label} ('{self.name}'): G {self.g_off_s * 1e6:.4g}-{self.g_on_s * 1e6:.4g} uS "
                f"(on/off {self.on_off_ratio:.3g}), {lv}, device variation "
                f"{' + '.join(var) if var else 'none'}; {self.label}")
        return text if self.is_device else text + " -- NOT A DEVICE: a mathematical idealisation"

    def not_simulated(self) -> list[str]:
        """The card's effects that the deterministic circuit simulation does not apply (for reports)."""
        out = []
        if self.c2c_sigma_rel > 0:
            out.append(f"read-to-read noise ({self.c2c_sigma_rel:.3g} relative)")
        if self.drift_nu > 0:
            out.append(f"conductance drift (nu = {self.drift_nu:g} from t0 = {self.drift_t0_s:g} s; "
                       f"devices are evaluated at t0)")
        return out

    # -- conversion -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict (SI units), the inverse of :meth:`from_dict`."""
        data = dataclasses.asdict(self)
        data["sources"] = dict(self.sources)
        data["verified"] = list(self.verified)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "synapse card") -> "SynapseCard":
        """Build a card from a flat table (value fields in SI units, ``sources`` and optionally ``verified``)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{origin}: expected a table of synapse card fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{origin}: unknown field(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
        missing = [n for n in known - {"sources", "verified"} if n not in data]
        optional = {f.name for f in value_fields() if f.metadata["optional"]}
        required = [n for n in missing if n not in optional]
        if required:
            raise ConfigError(f"{origin}: missing field(s) {', '.join(sorted(required))} (a card states every "
                              f"value; optional: {', '.join(sorted(optional))} may be omitted as not published)")
        values = {k: v for k, v in data.items()}
        for n in missing:
            values[n] = None
        values.setdefault("sources", {})
        verified = values.get("verified", ())
        if not isinstance(verified, (list, tuple)) or not all(isinstance(v, str) for v in verified):
            raise ConfigError(f"{origin}: verified must be a list of field names")
        values["verified"] = tuple(verified)
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None

    def replace(self, sources: Mapping[str, str] | None = None, **changes: Any) -> "SynapseCard":
        """A new card with fields changed; every changed value needs its new source in ``sources`` (field ->
        text), and loses its 'verified' mark.

        Raises:
            ConfigError: a changed value without a new source, or an invalid card.
        """
        sources = dict(sources or {})
        numeric = {f.name for f in value_fields()}
        stale = sorted(k for k in changes if k in numeric and changes[k] != getattr(self, k) and k not in sources)
        if stale:
            raise ConfigError(f"synapse card '{self.name}': give the source of the new {', '.join(stale)} "
                              f"(replace(..., sources={{'{stale[0]}': '...'}}))")
        data = {**self.to_dict(), **changes}
        data["sources"] = {**self.sources, **sources}
        data["verified"] = [v for v in self.verified if v not in changes and v not in sources]
        return SynapseCard.from_dict(data, origin=f"synapse card '{self.name}'")


def value_fields() -> list[dataclasses.Field]:
    """The numeric value fields of :class:`SynapseCard`, in declared order (each needs a source)."""
    return [f for f in fields(SynapseCard) if f.metadata.get("numeric")]


def _check_value(where: str, f: dataclasses.Field, value: Any) -> None:
    meta = f.metadata
    unit = "" if meta["unit"] == "1" else f" {meta['unit']}"
    if value is None:
        if meta["optional"]:
            return
        raise ConfigError(f"{where}: {f.name} is missing ({meta['desc']}, {meta['unit']})")
    if f.name == "levels":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: levels must be an integer >= 2 or None (analog), got {value!r}")
        if value < 2:
            raise ConfigError(f"{where}: levels ({value}) must be at least 2 (or None for an analog device)")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {f.name} must be a number in {meta['unit']}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {f.name} is {value}; give a finite value in {meta['unit']} ({meta['desc']})")
    lo, hi = meta["lo"], meta["hi"]
    below = value <= lo if meta["lo_open"] else value < lo
    if below or value > hi:
        bracket = "(" if meta["lo_open"] else "["
        raise ConfigError(f"{where}: {f.name} = {value:g}{unit} is outside the allowed range {bracket}{lo:g}, {hi:g}] "
                          f"({meta['desc']}); values are SI")


# -- presets and files ---------------------------------------------------------------------------

def _read_presets() -> dict[str, Any]:
    try:
        return json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:        # a damaged installation, not a user error
        raise ConfigError(f"synapse presets {PRESETS_FILE} cannot be read ({exc}); reinstall ipnet-cosim") from None


def preset_entries() -> dict[str, Any]:
    """The raw preset entries of ``synapse_cards.json`` (each value with as_printed, source, citation)."""
    return _read_presets()["cards"]


def citations() -> dict[str, dict[str, str]]:
    """The cited works of the presets, by key."""
    return _read_presets()["citations"]


def _card_from_entry(name: str, entry: Mapping[str, Any], cites: Mapping[str, Mapping[str, str]]) -> SynapseCard:
    values: dict[str, Any] = {k: entry[k] for k in ("technology", "label", "is_device", "cell_kind")}
    sources: dict[str, str] = {}
    verified = []
    for key, item in entry["values"].items():
        values[key] = item["value"]
        text = item["source"]
        if item.get("citation"):
            text = f"{text} [{citation_text(cites[item['citation']])}]"
        sources[key] = text
        if item.get("verified"):
            verified.append(key)
    return SynapseCard.from_dict({"name": name, **values, "sources": sources, "verified": verified},
                                 origin=f"synapse preset '{name}'")


def citation_text(c: Mapping[str, str]) -> str:
    """One-line citation: authors, "title", venue, year, then doi or url."""
    link = f"doi:{c['doi']}" if c.get("doi") else c.get("url", "")
    return f"{c['authors']}, \"{c['title']}\", {c['venue']}, {c['year']}, {link}".rstrip(", ")


@functools.lru_cache(maxsize=1)
def _presets() -> tuple[tuple[str, SynapseCard], ...]:
    data = _read_presets()
    return tuple((name, _card_from_entry(name, entry, data["citations"])) for name, entry in data["cards"].items())


def synapse_presets() -> dict[str, SynapseCard]:
    """Every preset card, by name (read once per process; cards are immutable)."""
    return dict(_presets())


def default_synapse() -> SynapseCard:
    """The card of :data:`DEFAULT_SYNAPSE`, the default chip's synapse technology (a device)."""
    return synapse_presets()[DEFAULT_SYNAPSE]


def ideal_synapse() -> SynapseCard:
    """The ideal card (:data:`IDEAL_SYNAPSE`: not a device): ``MappingOptions()``'s, and the card of exports and
    checkpoints recorded before synapse cards existed."""
    return synapse_presets()[IDEAL_SYNAPSE]


def synapse_card(name_or_path: str | Path | None = None) -> SynapseCard:
    """A preset by name (None: :data:`DEFAULT_SYNAPSE`) or a card file (TOML, YAML or JSON).

    Raises:
        ConfigError: unknown name, missing or unparsable file, or an invalid card (naming the field).
    """
    if name_or_path is None:
        name_or_path = DEFAULT_SYNAPSE
    presets = synapse_presets()
    if isinstance(name_or_path, str) and name_or_path in presets:
        return presets[name_or_path]
    path = Path(name_or_path)
    if path.suffix.lower() in (".toml", ".yaml", ".yml", ".json") or path.exists():
        return load_synapse_card(path)
    raise ConfigError(f"synapse card '{name_or_path}' is neither a preset ({', '.join(presets)}) nor a card file "
                      f"(.toml/.yaml/.json); list the presets with 'ipnet-cosim synapse'")


def load_synapse_card(path: str | Path) -> SynapseCard:
    """Load a card file: a flat table of the fields of :class:`SynapseCard` and a ``sources`` table.

    Raises:
        ConfigError: the file is missing, unparsable, or holds an invalid card.
    """
    from ipnet_cosim.device.card_files import read_table_file
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"synapse card file {path} does not exist; write one from a preset with "
                          f"'ipnet-cosim synapse --write {path.name} --preset rram_1t1r'")
    data = read_table_file(path, "synapse card")
    if isinstance(data, Mapping):
        data = {k: (None if v == "none" and k in ("levels", "read_energy_j") else v) for k, v in data.items()}
    return SynapseCard.from_dict(data, origin=f"synapse card {path}")


def format_synapse_card_toml(card: SynapseCard) -> str:
    """The card as a TOML document (SI units; units and descriptions in comments, sources in [sources];
    ``levels``/``read_energy_j`` = "none" for analog / not published)."""
    def value(v: Any) -> str:
        if v is None:
            return '"none"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        return repr(v)
    lines = [f"# ipnet-cosim synapse card '{card.name}': SI units; every value has its source under [sources]", ""]
    for key in ("name", "technology", "label", "is_device", "cell_kind"):
        lines.append(f"{key} = {value(getattr(card, key))}")
    for f in value_fields():
        lines.append(f"# {f.metadata['desc']} [{f.metadata['unit']}]")
        lines.append(f"{f.name} = {value(getattr(card, f.name))}")
    lines.append(f"verified = {json.dumps(list(card.verified))}")
    lines += ["", "[sources]"]
    for key, text in card.sources.items():
        lines.append(f"{key} = {json.dumps(text)}")
    return "\n".join(lines) + "\n"
