"""What several benchmark scripts share: the bundled default IPNet exported once into a work folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence


def bundled_export(work: Path, samples: Sequence[int]) -> Path:
    """``work/export``: the bundled default IPNet exported with the default mapping (kept between runs; a
    half-written folder is exported again)."""
    from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir
    from ipnet_cosim.netlist_gen.export import export_network
    export = work / "export"
    if not (export / "manifest.json").is_file():
        shutil.rmtree(export, ignore_errors=True)
        export_network(bundled_checkpoint_dir(), export, samples=samples)
    return export
