"""The sweep configuration (TOML), checked before any work: its keys, every parameter's values or range, every
design point's mapping options and device card, and the optional per-point fine-tuning.

Parameters are of two kinds:

* mapping options (:data:`MAPPING_PARAMETERS`, :data:`CONDUCTANCE_PARAMETERS`) and ``synapse`` (a preset synapse
  card name): they change the crossbars the trained network is mapped to;
* device-card fields, named ``section.field`` (``mtj.r_th_k_per_w``, ``timing.t_step_s``, ``drive.v_dd_v``,
  ``limits.t_max_k``; a bare field name is taken as its section's, the card's field names being unique). They
  change the neuron the network runs on: a point's network is the checkpoint's weights on the changed card
  (``points/<id>/checkpoint_card``), which is what a trained network does on a device that differs from the one it
  was trained for. With a ``[finetune]`` table every point is fine-tuned for its card and crossbars first
  (hardware-aware: through the point's mapped crossbars, :func:`~ipnet_cosim.chip.finetune.finetune_hardware`).

Every point's card is built from the checkpoint's and validated (each field's range, the card's cross-checks, a
drive that can fire a cold neuron, a read voltage the synapse card allows) before any work starts, so a value
outside the card's validation is one line naming the field, the point and the allowed range.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ipnet_cosim.device.errors import ConfigError

MAPPING_PARAMETERS = ("tile_rows", "tile_cols", "r_wire_ohm", "r_driver_ohm")
CONDUCTANCE_PARAMETERS = ("g_min_s", "g_max_s", "levels", "variation_sigma", "variation_sigma_s", "slices",
                          "copies")
PARAMETERS = MAPPING_PARAMETERS + CONDUCTANCE_PARAMETERS + ("synapse",)
INTEGER_PARAMETERS = ("tile_rows", "tile_cols", "levels", "slices", "copies")
CONFIG_KEYS = ("checkpoint", "samples", "chips", "mode", "points", "seed", "parameters", "verify", "finetune",
               "firing")
FINETUNE_DEFAULTS = {"epochs": 1, "lr": 2e-3, "batch_size": 32, "variation": "per_batch", "seed": 0,
                     "t_max_penalty": 0.0}


def card_fields() -> dict[str, str]:
    """Every device-card field as ``{field: "section.field"}``."""
    from ipnet_cosim.device.card import SECTIONS
    return {f.name: f"{section}.{f.name}" for section, klass in SECTIONS for f in fields(klass)}


def card_sections() -> tuple[str, ...]:
    from ipnet_cosim.device.card import SECTIONS
    return tuple(name for name, _ in SECTIONS)


def is_card_parameter(name: str) -> bool:
    return "." in name


def card_changes(point: Mapping[str, Any]) -> dict[str, float]:
    """The device-card fields a point changes, as ``{field: value}`` (for :meth:`DeviceCard.replace`)."""
    return {name.split(".", 1)[1]: float(v) for name, v in point.items() if is_card_parameter(name)}


@dataclass(frozen=True)
class SweepConfig:
    """A checked sweep configuration (module docstring of :mod:`~ipnet_cosim.sweep.run`)."""

    checkpoint: str | None
    samples: tuple[int, ...] | str
    chips: int
    mode: str
    n_points: int
    seed: int
    parameters: tuple[tuple[str, Any], ...]        # name -> list of values or a range table
    verify_samples: int = 0                         # Pareto points simulated at circuit level on this many samples
    verify_simulator: str = "ngspice"
    finetune: tuple[tuple[str, Any], ...] = ()      # per-point hardware-aware fine-tuning (empty: none)
    firing: tuple[tuple[str, Any], ...] = ()        # a Firing table (empty: the median mode)

    @property
    def firing_mode(self):
        """How every point's neurons fire (:class:`~ipnet_cosim.device.draws.Firing`; median when not given)."""
        from ipnet_cosim.device.draws import Firing
        return Firing.from_dict(dict(self.firing) or None)

    def points(self) -> list[dict[str, Any]]:
        """Every design point as ``{parameter: value}`` (grid: the product in declared order; random: seeded draws)."""
        names = [n for n, _ in self.parameters]
        if self.mode == "grid":
            axes = [_grid_values(n, spec) for n, spec in self.parameters]
            return [dict(zip(names, combo)) for combo in itertools.product(*axes)]
        rng = np.random.default_rng(self.seed)
        return [{n: _draw(n, spec, rng) for n, spec in self.parameters} for _ in range(self.n_points)]

    def digest(self) -> str:
        """Hash of what determines the points' results (a resumed sweep must have the same)."""
        data: dict[str, Any] = {"checkpoint": self.checkpoint, "samples": self.samples, "chips": self.chips}
        if self.finetune:
            data["finetune"] = dict(self.finetune)
        if self.firing_mode.stochastic:         # the median mode is left out: sweeps made before it keep their digest
            data["firing"] = self.firing_mode.to_dict()
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:16]

    @property
    def has_card_parameters(self) -> bool:
        return any(is_card_parameter(n) for n, _ in self.parameters)


def load_sweep_config(path: str | Path) -> SweepConfig:
    """Read and check a sweep TOML file; every point's options (and card, :func:`check_point_cards`) are built
    here, so a bad value stops the sweep before any work. Raises :class:`ConfigError` naming the key and the fix."""
    import tomllib
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sweep configuration {p} cannot be read ({exc}); pass a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sweep configuration {p} is not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"sweep configuration: unknown key(s) {unknown}; known: {', '.join(CONFIG_KEYS)}")
    params = raw.get("parameters")
    if not isinstance(params, Mapping) or not params:
        raise ConfigError("sweep configuration: a [parameters] table with at least one parameter is needed, e.g. "
                          "r_wire_ohm = [0.0, 1.0]")
    params = _flatten_parameters(params)
    for name, spec in params.items():
        _check_spec(name, spec)
    mode = raw.get("mode", "grid")
    if mode not in ("grid", "random"):
        raise ConfigError(f"sweep mode '{mode}' is unknown; use 'grid' or 'random'")
    chips, n_points, seed = raw.get("chips", 1), raw.get("points", 0), raw.get("seed", 0)
    for key, value, low in (("chips", chips, 1), ("points", n_points, 1 if mode == "random" else 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"sweep configuration: {key} ({value!r}) must be an integer >= {low}")
    samples = _samples(raw.get("samples", 20))
    checkpoint = raw.get("checkpoint")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise ConfigError("sweep configuration: checkpoint must be a path (a string)")
    v_samples, v_sim = _verify(raw.get("verify", {}))
    finetune = _finetune(raw["finetune"]) if "finetune" in raw else ()
    config = SweepConfig(checkpoint, samples, chips, mode, n_points, seed, tuple(params.items()), v_samples, v_sim,
                         finetune, _firing(raw.get("firing")))
    for point in config.points():
        point_options(point, seed=0)                 # raises ConfigError naming the field and the value
    if config.has_card_parameters:
        check_point_cards(config)
    return config


def _flatten_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: spec}`` with card fields as ``section.field``, whether written ``mtj.x = ..`` (a TOML sub-table),
    ``"mtj.x" = ..`` or ``x = ..``; unknown names refused with the sweepable ones."""
    sections, by_field = card_sections(), card_fields()
    out: dict[str, Any] = {}

    def add(name: str, spec: Any) -> None:
        if name in out:
            raise ConfigError(f"sweep parameter '{name}' is given twice")
        out[name] = spec

    for name, spec in params.items():
        if name in PARAMETERS:
            add(name, spec)
        elif name in sections and isinstance(spec, Mapping) and not {"min", "max"} & set(spec):
            for field_name, sub in spec.items():
                full = f"{name}.{field_name}"
                if by_field.get(field_name) != full:
                    raise ConfigError(f"sweep parameter '{full}': the device card's section '{name}' has no field "
                                      f"'{field_name}'; see 'ipnet-cosim card' for the fields")
                add(full, sub)
        elif "." in name:
            section, field_name = name.split(".", 1)
            if by_field.get(field_name) != name:
                raise ConfigError(f"sweep parameter '{name}' is not a device-card field (section.field, e.g. "
                                  f"mtj.r_th_k_per_w); see 'ipnet-cosim card' for the fields")
            add(name, spec)
        elif name in by_field:
            add(by_field[name], spec)
        elif name in CONFIG_KEYS:
            raise ConfigError(f"sweep configuration: '{name}' is a top-level key: write it before [parameters] (in "
                              f"TOML every key after a [table] header belongs to that table)")
        else:
            raise ConfigError(f"sweep parameter '{name}' is unknown; sweepable: {', '.join(PARAMETERS)} and the "
                              f"device-card fields as section.field (e.g. mtj.r_th_k_per_w, timing.t_step_s)")
    return out


def _samples(samples: Any) -> tuple[int, ...] | str:
    if isinstance(samples, int) and not isinstance(samples, bool):
        if samples < 1:
            raise ConfigError(f"sweep configuration: samples ({samples}) must be >= 1")
        return f"spread:{samples}"
    if isinstance(samples, str) and samples.strip().lower() == "all":
        return "all"
    if isinstance(samples, str):
        from ipnet_cosim.netlist_gen.export import parse_samples
        return tuple(parse_samples(samples))
    raise ConfigError(f"sweep configuration: samples ({samples!r}) must be a count, 'all' or a range like '0:20'")


def _verify(verify: Any) -> tuple[int, str]:
    if not isinstance(verify, Mapping) or sorted(set(verify) - {"samples", "simulator"}):
        raise ConfigError("sweep configuration: [verify] takes samples (Pareto points simulated on that many of the "
                          "sweep's samples) and simulator (ngspice | vacask)")
    v_samples, v_sim = verify.get("samples", 0), verify.get("simulator", "ngspice")
    if isinstance(v_samples, bool) or not isinstance(v_samples, int) or v_samples < 0:
        raise ConfigError(f"sweep configuration: verify.samples ({v_samples!r}) must be an integer >= 0")
    if v_sim not in ("ngspice", "vacask"):
        raise ConfigError(f"sweep configuration: verify.simulator '{v_sim}' is unknown; use ngspice or vacask")
    return v_samples, v_sim


def _firing(table: Any) -> tuple[tuple[str, Any], ...]:
    """The ``[firing]`` table (mode, seed, draws) checked; empty for the median mode."""
    from ipnet_cosim.device.draws import Firing
    if table is None:
        return ()
    try:
        firing = Firing.from_dict(table)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"sweep configuration: [firing] {exc} (e.g. mode = \"stochastic\", draws = 3, "
                          f"seed = 0)") from None
    return tuple(firing.to_dict().items()) if firing.stochastic else ()


def _finetune(table: Any) -> tuple[tuple[str, Any], ...]:
    """The ``[finetune]`` table with defaults filled in, checked."""
    from ipnet_cosim.chip.finetune import VARIATION_MODES
    if not isinstance(table, Mapping):
        raise ConfigError("sweep configuration: finetune must be a table ([finetune] with epochs, lr, batch_size, "
                          "variation, seed, t_max_penalty)")
    bad = sorted(set(table) - set(FINETUNE_DEFAULTS))
    if bad:
        raise ConfigError(f"sweep configuration: [finetune] has unknown key(s) {bad}; known: "
                          f"{', '.join(FINETUNE_DEFAULTS)}")
    values = {**FINETUNE_DEFAULTS, **table}
    for key in ("epochs", "batch_size"):
        v = values[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"sweep configuration: finetune.{key} ({v!r}) must be an integer >= 1")
    if isinstance(values["seed"], bool) or not isinstance(values["seed"], int) or values["seed"] < 0:
        raise ConfigError(f"sweep configuration: finetune.seed ({values['seed']!r}) must be an integer >= 0")
    lr = values["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"sweep configuration: finetune.lr ({lr!r}) must be a positive number")
    if values["variation"] not in VARIATION_MODES:
        raise ConfigError(f"sweep configuration: finetune.variation '{values['variation']}' is unknown; use "
                          f"{' or '.join(VARIATION_MODES)}")
    pen = values["t_max_penalty"]
    if isinstance(pen, bool) or not isinstance(pen, (int, float)) or not (math.isfinite(pen) and pen >= 0):
        raise ConfigError(f"sweep configuration: finetune.t_max_penalty ({pen!r}) must be a number >= 0 (0: off)")
    values["lr"] = float(lr)
    values["t_max_penalty"] = float(pen)
    # t_max_penalty 0 (off) is left out, so that sweeps made before it existed keep their digest and resume
    return tuple((k, values[k]) for k in FINETUNE_DEFAULTS if not (k == "t_max_penalty" and pen == 0))


def _check_spec(name: str, spec: Any) -> None:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"sweep parameter '{name}': the list of values is empty")
        if is_card_parameter(name) and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in spec):
            raise ConfigError(f"sweep parameter '{name}': device-card values must be numbers in SI units")
        return
    if not isinstance(spec, Mapping):
        raise ConfigError(f"sweep parameter '{name}': give a list of values or {{min, max, n, scale}}, got {spec!r}")
    if name == "synapse":
        raise ConfigError("sweep parameter 'synapse': give a list of card names, e.g. [\"ideal\", \"pcm\"]")
    bad = sorted(set(spec) - {"min", "max", "n", "scale"})
    if bad or "min" not in spec or "max" not in spec:
        raise ConfigError(f"sweep parameter '{name}': a range needs min and max (and n for a grid, scale 'lin' or "
                          f"'log'); unknown key(s) {bad}")
    lo, hi = spec["min"], spec["max"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lo, hi)):
        raise ConfigError(f"sweep parameter '{name}': min and max must be finite numbers")
    if lo > hi:
        raise ConfigError(f"sweep parameter '{name}': min ({lo}) > max ({hi})")
    scale = spec.get("scale", "lin")
    if scale not in ("lin", "log"):
        raise ConfigError(f"sweep parameter '{name}': scale '{scale}' is unknown; use 'lin' or 'log'")
    if scale == "log" and lo <= 0:
        raise ConfigError(f"sweep parameter '{name}': a log range needs min > 0 (got {lo})")
    n = spec.get("n", 2)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"sweep parameter '{name}': n ({n!r}) must be an integer >= 1")


def _cast(name: str, value: float) -> Any:
    return int(round(value)) if name in INTEGER_PARAMETERS else float(value)


def _grid_values(name: str, spec: Any) -> list[Any]:
    if isinstance(spec, list):
        return list(spec)
    lo, hi, n = spec["min"], spec["max"], spec.get("n", 2)
    if spec.get("scale", "lin") == "log":
        vals = np.geomspace(lo, hi, n) if n > 1 else np.array([lo])
    else:
        vals = np.linspace(lo, hi, n) if n > 1 else np.array([lo])
    return [_cast(name, v) for v in vals]


def _draw(name: str, spec: Any, rng: np.random.Generator) -> Any:
    if isinstance(spec, list):
        return spec[int(rng.integers(len(spec)))]
    lo, hi = spec["min"], spec["max"]
    if spec.get("scale", "lin") == "log":
        return _cast(name, math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return _cast(name, rng.uniform(lo, hi))


def point_options(point: Mapping[str, Any], seed: int):
    """The mapping options of one design point (chip ``seed``): the chip of its ``synapse`` card (default: the default
    chip's, :data:`~ipnet_cosim.device.synapse.DEFAULT_SYNAPSE`; :meth:`MappingOptions.for_chip`: the card's slices,
    parallel devices and wires) with the point's parameters over it; raises ConfigError naming a refused value."""
    from ipnet_cosim.device.synapse import DEFAULT_SYNAPSE, synapse_presets
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    mapping = {k: point[k] for k in MAPPING_PARAMETERS if k in point}
    conductance = {k: point[k] for k in CONDUCTANCE_PARAMETERS if k in point}
    try:
        presets = synapse_presets()
        name = point.get("synapse", DEFAULT_SYNAPSE)
        if name not in presets:
            raise ConfigError(f"synapse card '{name}' is unknown; presets: {', '.join(presets)}")
        slices = conductance.pop("slices", None)
        copies = conductance.pop("copies", None)
        return MappingOptions.for_chip(presets[name], slices=slices, copies=copies, seed=seed,
                                       conductance_overrides=conductance, **mapping)
    except ConfigError as exc:
        raise ConfigError(f"sweep point {dict(point)}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sweep point {dict(point)}: {exc}") from None


def check_point_cards(config: SweepConfig) -> None:
    """Build every point's device card from the checkpoint's and the network on it; raises ConfigError naming the
    point and the field (a value outside its range, a drive that cannot fire, a read voltage the synapse refuses)."""
    from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir, load_checkpoint
    from ipnet_cosim.models.network import SpikingNet
    from ipnet_cosim.netlist_gen.export import check_read_voltage
    ck = load_checkpoint(config.checkpoint or bundled_checkpoint_dir())
    seen: set[str] = set()
    for point in config.points():
        changes = card_changes(point)
        options = point_options(point, seed=0)
        key = json.dumps([changes, options.synapse.name])
        if key in seen:
            continue
        seen.add(key)
        try:
            card = ck.card.replace(**changes)
            SpikingNet(ck.network_config, card)          # the drive must fire a cold neuron of either kind
            check_read_voltage(card, options.synapse)
        except ConfigError as exc:
            raise ConfigError(f"sweep point {dict(point)}: {exc}") from None
