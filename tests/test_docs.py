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
