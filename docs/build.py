"""Build the documentation strictly: ``python docs/build.py [--site DIR]``.

The package's folders are mapped into one namespace by pyproject (``verilog-a/`` is ``ipnet_cosim.device``, ...),
which the API reference's collector cannot follow; this writes the installed layout as symbolic links under
``build/package/ipnet_cosim`` first, then runs ``mkdocs build --strict``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_tree(dest: Path) -> Path:
    """``dest/ipnet_cosim``: the package as installed, as links to the repository's folders."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    base = dest / "ipnet_cosim"
    if dest.exists():
        shutil.rmtree(dest)
    base.mkdir(parents=True)
    for f in (ROOT / mapping["ipnet_cosim"]).glob("*.py"):
        (base / f.name).symlink_to(f)
    for name, folder in mapping.items():
        if name.count(".") == 1:
            (base / name.split(".")[1]).symlink_to(ROOT / folder, target_is_directory=True)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site", help="output folder")
    args = parser.parse_args()
    package_tree(ROOT / "build" / "package")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(args.site)],
                          cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
