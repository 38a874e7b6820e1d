"""The code's shape: one package per stage, imported one way in the order of the data flow, no private name
imported across modules, no lazy module ``__getattr__``, and pyproject's package list equal to the folders.

Every ``import`` counts, function-local ones included (an import inside a function is a dependency all the same)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the stages in the order data flows through them; a package may import only itself and the ones before it
ORDER = ("device", "circuits", "models", "netlist_gen", "chip", "simulation", "energy", "sweep", "cli", "")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> dict[str, Path]:
    """Top-level package name (``device``, ..., ``""`` for ``ipnet_cosim`` itself) -> its folder."""
    mapping = _pyproject()["tool"]["setuptools"]["package-dir"]
    return {name.removeprefix("ipnet_cosim").lstrip("."): ROOT / folder for name, folder in mapping.items()
            if name.count(".") <= 1}


def _modules() -> list[tuple[str, Path]]:
    return [(pkg, path) for pkg, folder in _package_folders().items() for path in sorted(folder.rglob("*.py"))
            if (pkg or path.parent == folder)]


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every absolute import of ``ipnet_cosim`` in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "ipnet_cosim":
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "ipnet_cosim"]
    return out


def _stage(module: str, names: list[str]) -> list[str]:
    """The stages a ``from module import names`` reaches (``from ipnet_cosim import models``: models)."""
    parts = module.split(".")
    if len(parts) > 1:
        return [parts[1]]
    return [n if n in ORDER else "" for n in names] or [""]


def test_every_stage_is_in_the_order_and_every_folder_is_a_stage():
    assert set(_package_folders()) == set(ORDER), (sorted(_package_folders()), ORDER)


def test_packages_import_one_way_in_the_order_of_the_data_flow():
    bad = []
    for pkg, path in _modules():
        own = ORDER.index(pkg)
        for line, module, names in _imports(path):
            for target in _stage(module, names):
                if target not in ORDER or ORDER.index(target) > own:
                    bad.append(f"{path.relative_to(ROOT)}:{line} ({pkg or 'ipnet_cosim'}) imports {module} "
                               f"({target or 'ipnet_cosim'} comes later)")
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def test_no_private_name_is_imported_across_modules():
    files = [p for _, p in _modules()] + sorted((ROOT / "tests").glob("*.py"))
    files += sorted((ROOT / "benchmarks").glob("*.py"))
    bad = [f"{p.relative_to(ROOT)}:{line} {module}.{n}" for p in files for line, module, names in _imports(p)
           for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


def test_no_module_serves_names_lazily():
    """A module-level ``__getattr__`` gives one name two import paths; none is left."""
    bad = [str(p.relative_to(ROOT)) for _, p in _modules()
           if any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__"
                  for n in ast.parse(p.read_text(encoding="utf-8")).body)]
    assert not bad, bad


def test_pyproject_lists_every_package_folder():
    """setuptools gets an explicit package list (the folders are mapped into one namespace); it must name every
    folder holding an ``__init__.py`` under the mapped folders, and nothing else."""
    tool = _pyproject()["tool"]["setuptools"]
    found = set()
    for name, folder in tool["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert set(tool["packages"]) == found, (sorted(set(tool["packages"]) ^ found))
