"""The Python API (``import ipnet_cosim``): the runnable example of the docs, and the API's stages equal to the
command line's (the same export, byte for byte)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    """``import ipnet_cosim`` loads no stage (each function imports its own): no torch, no simulator."""
    code = "import sys, ipnet_cosim; print(sorted(m for m in sys.modules if m.startswith(('torch', 'PySpice', " \
           "'ipnet_cosim.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_every_api_name_is_documented():
    """Every API name is a documented function, also once the stage packages are imported (a function named like a
    subpackage, ``ipnet_cosim.sweep``, would be replaced by the package on its import)."""
    import importlib
    import ipnet_cosim
    from test_layering import ORDER
    for stage in ORDER:
        if stage:
            importlib.import_module(f"ipnet_cosim.{stage}")
    for name in ipnet_cosim.__all__:
        fn = getattr(ipnet_cosim, name)
        assert callable(fn) and fn.__doc__ and len(fn.__doc__.split()) >= 8, name


@pytest.mark.slow
@pytest.mark.openvaf
def test_the_docs_example_runs(tmp_path):
    """docs/examples/pipeline.py: export -> twin -> report through the API, as a user runs it."""
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "pipeline.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "export" / "sim" / "results.json").read_text())
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert results["summary"]["samples"] == 2 and results["provenance"]["simulator"] == "twin"
    assert results["summary"]["accuracy"] == sum(e["predicted_class"] == e["label"] for e in results["per_sample"]) / 2
    assert report["provenance"]["simulator"] == "twin" and (tmp_path / "report" / "report.html").stat().st_size > 1000
    assert f"twin accuracy {results['summary']['accuracy']:.3f} on 2 samples" in proc.stdout


@pytest.mark.slow
@pytest.mark.openvaf
def test_api_export_is_the_cli_export(tmp_path):
    """``ipnet_cosim.export`` with defaults writes what ``ipnet-cosim export`` with default flags writes."""
    import ipnet_cosim as ic
    manifest = ic.export(ic.bundled_checkpoint(), tmp_path / "api", samples=[3])
    proc = subprocess.run([sys.executable, "-m", "ipnet_cosim.cli", "export", str(ic.bundled_checkpoint()), "-o",
                           str(tmp_path / "cli"), "--samples", "3"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = (tmp_path / "api" / "manifest.json").read_bytes()
    assert a == (tmp_path / "cli" / "manifest.json").read_bytes()
    assert manifest.options() == ic.chip_options() and manifest.samples.indices == (3,)


@pytest.mark.slow
@pytest.mark.openvaf
def test_export_does_not_depend_on_the_blas_thread_count(tmp_path):
    """The same export from a process whose BLAS runs 1 thread and from one that runs 2: byte-identical (the tile
    reduction's factorisations run on one thread whatever the machine; a threaded one sums in another order)."""
    import os
    import ipnet_cosim as ic
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        out = tmp_path / f"t{threads}"
        proc = subprocess.run([sys.executable, "-m", "ipnet_cosim.cli", "export", str(ic.bundled_checkpoint()), "-o",
                               str(out), "--samples", "0"], capture_output=True, text=True, timeout=900, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    differ = [str(f) for f in files if (outs[0] / f).read_bytes() != (outs[1] / f).read_bytes()]
    assert not differ, differ
