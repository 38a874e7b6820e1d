"""Lint and types: ruff (pyflakes, pycodestyle, bugbear; pyproject's [tool.ruff]) over the whole repository, and
mypy over the package (pyproject's [tool.mypy]; the modules whose typing is not yet clean are listed there, each
an exception to remove once mypy passes on it)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", name]


def test_ruff_finds_nothing():
    proc = subprocess.run([*_tool("ruff"), "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _package_tree(tmp: Path) -> Path:
    """The installed layout (``ipnet_cosim/<stage>``) as symbolic links to the repository's folders: the folders
    are mapped into one namespace by pyproject, which a type checker cannot follow on its own."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    base = tmp / "ipnet_cosim"
    base.mkdir()
    root_folder = mapping.get("ipnet_cosim")
    if root_folder is not None:
        for f in (ROOT / root_folder).glob("*.py"):
            (base / f.name).symlink_to(f)
    else:
        (base / "__init__.py").write_text("")
    for name, folder in mapping.items():
        if name.count(".") == 1:
            (base / name.split(".")[1]).symlink_to(ROOT / folder, target_is_directory=True)
    return tmp


def test_mypy_passes_on_the_package(tmp_path):
    tree = _package_tree(tmp_path)
    proc = subprocess.run([*_tool("mypy"), "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
                           str(tmp_path / "cache"), "-p", "ipnet_cosim"],
                          capture_output=True, text=True, cwd=tree, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
