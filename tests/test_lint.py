"""Lint and types: ruff (pyflakes, pycodestyle, bugbear; pyproject's [tool.ruff]) over the whole repository, and
mypy over the package (pyproject's [tool.mypy]; the modules whose typing is not yet clean are listed there, each
an exception to remove once mypy passes on it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", name]


def test_ruff_finds_nothing():
    proc = subprocess.run([*_tool("ruff"), "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _package_tree(dest: Path) -> Path:
    """The installed layout as links (``docs/build.py``'s, the one builder of it): pyproject maps the folders into
    one namespace, which a type checker cannot follow on its own."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "docs" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.package_tree(dest)


def test_mypy_passes_on_the_package(tmp_path):
    tree = _package_tree(tmp_path / "package")
    proc = subprocess.run([*_tool("mypy"), "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
                           str(tmp_path / "cache"), "-p", "ipnet_cosim"],
                          capture_output=True, text=True, cwd=tree, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
