"""Device cards in files: a card read from TOML, YAML or JSON (checked field by field, with the file named in every
error), any table file of the project read the same way, and a card written back as TOML with every field's unit,
range and source as comments."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.card import DeviceCard, SECTIONS


def load_device_card(path: str | Path) -> DeviceCard:
    """Load a device card from a TOML, YAML or JSON file (SI units, sections ``mtj``, ``timing``,
    ``drive``, ``limits``).

    Raises:
        ConfigError: the file is missing, unparsable, or holds an invalid value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"device card file {path} does not exist; write one with "
                          f"'ipnet-cosim card --write {path.name}'")
    return DeviceCard.from_dict(read_table_file(path, "device card"), origin=f"device card {path}")


def read_table_file(path: str | Path, what: str) -> Any:
    """Parse a TOML, YAML or JSON file (chosen by suffix); an empty YAML file gives ``{}``.

    Raises:
        ConfigError: the file is missing, has another suffix, or does not parse (``what`` names it).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{what} {path}: unknown file type '{suffix}'; use .toml, .yaml or .json")
    except ConfigError:
        raise
    except Exception as exc:  # parser errors of three libraries
        raise ConfigError(f"{what} {path} is not valid {suffix[1:].upper()}: {exc}") from exc
    return data if data is not None else {}


def format_device_card_toml(card: DeviceCard) -> str:
    """The card as a commented TOML document (units and sources in comments)."""
    lines = ["# ipnet-cosim device card: SI units; every value is assumed unless its comment says otherwise", ""]
    for section_name, _ in SECTIONS:
        section = getattr(card, section_name)
        lines.append(f"[{section_name}]")
        for f in fields(section):
            lines.append(f"# {f.metadata['desc']} [{f.metadata['unit']}]; {f.metadata['source']}")
            lines.append(f"{f.name} = {getattr(section, f.name)!r}")
        lines.append("")
    return "\n".join(lines)
