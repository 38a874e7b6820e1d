"""The hardware flags shared by ``export``, ``finetune`` and ``calibrate`` (one declaration, one help text) and the
:class:`~ipnet_cosim.netlist_gen.mapping.MappingOptions` they make."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

TileRows = Annotated[int, typer.Option(help="largest crossbar: rows")]
TileCols = Annotated[int, typer.Option(help="largest crossbar: physical columns (a weight uses two)")]
Synapse = Annotated[str, typer.Option(help="synapse technology of the chip: a preset (ideal | rram_1t1r | pcm | "
                                           "stt_mram; list them with 'ipnet-cosim synapse') or a card file "
                                           "(.toml/.yaml/.json); it sets the conductance range, levels, variation, "
                                           "bit slices and wire resistance unless overridden below")]
GMin = Annotated[Optional[float], typer.Option(help="override: smallest device conductance, S (default: the card's)")]
GMax = Annotated[Optional[float], typer.Option(help="override: largest device conductance, S (default: the card's)")]
Levels = Annotated[Optional[int], typer.Option(help="override: programmable levels per device, 0 = continuous "
                                                    "(default: the card's)")]
Variation = Annotated[Optional[float], typer.Option(help="override: relative device-to-device variation sigma "
                                                         "(0.05 = 5 %; default: the card's)")]
VariationS = Annotated[Optional[float], typer.Option(help="override: additive device-to-device variation sigma, S "
                                                          "(default: the card's)")]
VariationKind = Annotated[str, typer.Option(help="lognormal | normal (of the relative variation)")]
Slices = Annotated[Optional[int], typer.Option(help="bit slicing: cells per weight sign, each a base-levels digit "
                                                    "combined by mirrors of gain levels^s (e.g. 4 binary STT-MRAM "
                                                    "cells: 15 magnitude levels); default: the chip's (4 for a "
                                                    "binary cell, else 1)")]
Copies = Annotated[Optional[int], typer.Option(help="devices in parallel per crossbar cell, programmed to the same "
                                                    "target (multi-memristive synapse: programming errors average "
                                                    "as 1/sqrt(copies); cell currents and wire segment grow with "
                                                    "them); default: the chip's (4 for an analog device, else 1)")]
VariationSeed = Annotated[int, typer.Option(help="seed of the exported chip's variation draws")]
RWire = Annotated[Optional[float], typer.Option(help="wire resistance per cell segment along rows and columns, ohm "
                                                    "(default: the chip's, from the card's cell at 28 nm; 0 for the "
                                                    "ideal card)")]
RDriver = Annotated[float, typer.Option(help="row driver output resistance, ohm")]
GainTrims = Annotated[Optional[str], typer.Option(help="the chip's mirror-gain trims: a calibration file of "
                                                        "'ipnet-cosim calibrate' (the same chip: hardware flags and "
                                                        "--variation-seed) or one factor per hidden layer, e.g. "
                                                        "1.005,1,1 (default: untrimmed)")]


def chip_mapping_options(synapse, tile_rows, tile_cols, g_min, g_max, levels, variation, variation_s, variation_kind,
                         variation_seed, r_wire, r_driver, wire_model="reduced", slices=None, copies=None,
                         gain_trims=None):
    """The MappingOptions of the hardware flags (None: the chip's default); ``gain_trims`` as :func:`gain_trims_of`."""
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    overrides = {name: value for name, value in (("g_min_s", g_min), ("g_max_s", g_max),
                                                 ("variation_sigma", variation), ("variation_sigma_s", variation_s))
                 if value is not None}
    if levels is not None:
        overrides["levels"] = levels or None
    if variation_kind != "lognormal":
        overrides["variation_kind"] = variation_kind
    wires = {} if r_wire is None else {"r_wire_ohm": r_wire}
    options = MappingOptions.for_chip(synapse_card(synapse), slices=slices, copies=copies, seed=variation_seed,
                                      conductance_overrides=overrides, tile_rows=tile_rows, tile_cols=tile_cols,
                                      r_driver_ohm=r_driver, wire_model=wire_model, **wires)
    return gain_trims_of(gain_trims, options)


def gain_trims_of(text: str | None, options):
    """``options`` with the trims of ``--gain-trims``: None (untrimmed), factors "1.005,1,1" (one per hidden layer)
    or a calibration file of ``ipnet-cosim calibrate``, which must be of this chip (same mapping and variation seed)."""
    import dataclasses
    import json
    from ipnet_cosim.device.errors import ConfigError
    if text is None:
        return options
    path = Path(text)
    if path.suffix == ".json" or path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            trims, chip = tuple(float(t) for t in record["gain_trims"]), record["mapping_options"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"--gain-trims {text}: not a calibration file of 'ipnet-cosim calibrate' ({err}); "
                              f"calibrate the chip or give the factors, e.g. 1.005,1,1") from None
        mine = {k: v for k, v in json.loads(json.dumps(options.to_dict())).items() if k != "gain_trims"}
        theirs = {k: v for k, v in chip.items() if k != "gain_trims"}
        if mine != theirs:
            differs = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise ConfigError(f"--gain-trims {text} calibrated another chip (differs in {', '.join(differs)}); "
                              f"calibrate this chip with the same hardware flags and --variation-seed")
        return dataclasses.replace(options, gain_trims=trims)
    try:
        trims = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise ConfigError(f"--gain-trims {text!r}: give a calibration file (.json) or one factor per hidden layer, "
                          f"e.g. 1.005,1,1") from None
    return dataclasses.replace(options, gain_trims=trims)
