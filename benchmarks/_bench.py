"""What several benchmark scripts share: the bundled default IPNet exported into a work folder, and the non-ideal
hardware of the hardware-aware benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence


def bundled_export(work: Path, samples: Sequence[int]) -> Path:
    """``work/export``: the bundled default IPNet exported afresh with the default mapping (a folder kept from an
    earlier run would carry the device card and compact model of the code that wrote it)."""
    from ipnet_cosim.models.checkpoint import pretrained_dir
    from ipnet_cosim.netlist_gen.export import export_network
    export = work / "export"
    shutil.rmtree(export, ignore_errors=True)
    export_network(pretrained_dir("ipnet_default"), export, samples=samples)
    return export


def hardware_options(seed: int = 0, r_wire_ohm: float = 1.0):
    """The non-ideal chip of the hardware-aware benchmarks: 4-bit devices (16 levels) in [1 uS, 1 mS], 5 % lognormal
    device-to-device variation (chip ``seed``), ``r_wire_ohm`` wire segments, 128 x 128 tiles."""
    from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    return MappingOptions(conductance=ConductanceOptions(g_min_s=1e-6, g_max_s=1e-3, levels=16, variation_sigma=0.05,
                                                         variation_kind="lognormal", seed=seed),
                          r_wire_ohm=r_wire_ohm)
