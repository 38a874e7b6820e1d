"""The wheel holds the package as the repository lays it out: every module of every mapped folder under its
``ipnet_cosim`` name, and the data the code reads at run time (the Verilog-A source, device and synapse cards, the
cited area and memory tables, the bundled checkpoints). A folder or data file missing from pyproject's lists fails
here, not on a user's machine."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_its_data(tmp_path):
    # a clean copy of the sources: setuptools reuses a build/ folder, whose stale files would hide a missing package
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "results", "*.egg-info",
                                                              "__pycache__", ".mypy_cache", ".ruff_cache"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                           str(tmp_path), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = tmp_path.glob("ipnet_cosim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    want = set()
    for name, folder in mapping.items():
        base = ROOT / folder
        for f in base.rglob("*.py"):
            rel = f.relative_to(base)
            if name != "ipnet_cosim" or len(rel.parts) == 1:
                want.add("/".join([*name.split("."), *rel.parts]))
    assert not want - names, sorted(want - names)
    data = {"ipnet_cosim/device/thermal_mtj_neuron.va", "ipnet_cosim/device/synapse_cards.json"}
    data |= {f"ipnet_cosim/energy/data/{p.name}" for p in (ROOT / "energy" / "data").glob("*.json")}
    data |= {f"ipnet_cosim/models/pretrained/{p.parent.name}/{p.name}"
             for p in (ROOT / "models" / "pretrained").glob("*/checkpoint.*")}
    assert len(data) > 10 and not data - names, sorted(data - names)
