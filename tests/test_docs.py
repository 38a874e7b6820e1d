"""The documentation: a short README, the pages in docs/ built strictly by MkDocs (broken links, missing anchors,
docstrings the API reference cannot read and pages outside the navigation all fail), and the README's table of
pages equal to the pages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README_MAX_WORDS = 1500


def _nav_pages() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return [next(iter(item.values())) for item in config["nav"]]


def test_readme_is_short():
    words = len((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert words <= README_MAX_WORDS, f"README has {words} words; move the detail to docs/ (at most {README_MAX_WORDS})"


def test_every_page_is_in_the_navigation_and_in_the_readme():
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(_nav_pages()) == pages
    listed = re.findall(r"^\| `docs/([\w-]+\.md)` \|", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.M)
    assert sorted(listed) == pages


@pytest.mark.slow
def test_the_docs_build_strictly(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "build.py"), "--site", str(site)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for page in _nav_pages():
        assert (site / (page[:-3] if page != "index.md" else "") / "index.html").is_file(), page
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    import ipnet_cosim
    for name in ipnet_cosim.__all__:                 # the reference is generated from the docstrings
        assert f"id=\"ipnet_cosim.{name}\"" in api, name


# a quoted figure: a decimal number, or a count with a unit of time, energy, power, size or a ratio
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*\.\d+|(?<![\w.])\d[\d,]*(?: ?(?:s|ms|us|min|h|nJ|pJ|fJ|mW|uW|MB|GB|um\^2|x|%))"
                    r"(?![\w^])")


def _benchmark_table() -> dict[str, str | None]:
    """docs/benchmarks.md's table: script -> its committed JSON files as written there (None: it commits none)."""
    out: dict[str, str | None] = {}
    for line in (ROOT / "docs" / "benchmarks.md").read_text().splitlines():
        m = re.match(r"\| `(\w+\.py)` \|.*\| ((?:`[\w.]+\.json`(?:, )?)+|\(none[^|]*\)) \|$", line)
        if m:
            out[m.group(1)] = None if m.group(2).startswith("(none") else m.group(2)
    return out


def test_the_benchmark_table_lists_every_script_and_its_committed_json():
    table = _benchmark_table()
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")}
    assert set(table) == scripts
    for script, names in table.items():
        for name in re.findall(r"`([\w.]+\.json)`", names or ""):
            assert (ROOT / "benchmarks" / "data" / name).is_file(), (script, name)


def test_no_figure_comes_from_a_benchmark_without_committed_json():
    """A paragraph of the README or the docs that names a benchmark whose JSON is not committed (or the ignored
    benchmarks/results/ folder) quotes no figure: nobody could check it."""
    uncommitted = [s for s, name in _benchmark_table().items() if name is None]
    bad = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if page.name == "benchmarks.md":
            continue
        for para in re.split(r"\n\s*\n", page.read_text()):
            named = [s for s in uncommitted if f"benchmarks/{s}" in para]
            if "benchmarks/results/" in para:
                named.append("benchmarks/results/")
            figures = FIGURE.findall(para)
            if named and figures:
                bad.append(f"{page.name}: {named} with {figures[:4]}: {para[:80]!r}")
    assert not bad, "\n".join(bad)
