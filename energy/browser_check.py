"""Render a report in a real headless browser (Debian's ``chromium``) and measure what the first screen shows.

:func:`check_in_browser` copies ``report.html`` with a small script appended that, after layout, records
the vertical position of every heading, the bottom of the summary and safe-operating-area tables, and
whether every image decoded, into ``<body data-layout=...>``; ``chromium --headless --dump-dom`` prints
the laid-out DOM, from which the measurement is read back. A screenshot of the first screen is written
beside it. Nothing is sent anywhere: the page is a local file and embeds its images.

    python -m ipnet_cosim.energy.browser_check results/demo/report/report.html [--png first_screen.png]
"""

from __future__ import annotations

import html as html_mod
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ipnet_cosim.device.errors import ConfigError

SCREEN_W, SCREEN_H = 1280, 1600
_PROBE = """
<script>
window.addEventListener('load', function () {
  var out = {headings: [], images: [], tables: {}};
  document.querySelectorAll('h1, h2').forEach(function (h) {
    out.headings.push({text: h.textContent, top: h.getBoundingClientRect().top + window.scrollY});
  });
  document.querySelectorAll('img').forEach(function (im) {
    out.images.push({alt: im.alt, ok: im.complete && im.naturalWidth > 0, width: im.naturalWidth});
  });
  document.querySelectorAll('h2').forEach(function (h) {
    var t = h.nextElementSibling;
    if (t && t.tagName === 'TABLE') {
      out.tables[h.textContent] = t.getBoundingClientRect().bottom + window.scrollY;
    }
  });
  out.width = document.documentElement.scrollWidth;
  document.body.setAttribute('data-layout', JSON.stringify(out));
});
</script>
"""


def chromium_path() -> str | None:
    """The headless browser if installed (Debian: ``apt-get install chromium``)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str]) -> str:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"chromium did not run ({exc}); check 'chromium --version'") from exc
    if proc.returncode != 0:
        raise ConfigError(f"chromium failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def check_in_browser(report_html: str | Path, png: str | Path | None = None) -> dict[str, Any]:
    """Lay out ``report_html`` in headless chromium at 1280 px; return the measured layout.

    Returns:
        ``{"headings": [{text, top}], "images": [{alt, ok, width}], "tables": {heading: bottom_px},
        "width": px, "screen": [w, h], "summary_and_soa_in_first_screen": bool}``.

    Raises:
        ConfigError: chromium is missing (with the install command) or fails, or the file is missing.
    """
    exe = chromium_path()
    if exe is None:
        raise ConfigError("chromium is not installed; on Debian: apt-get install chromium")
    report_html = Path(report_html)
    if not report_html.is_file():
        raise ConfigError(f"{report_html} does not exist; write a report with 'ipnet-cosim report EXPORT'")
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--window-size={SCREEN_W},{SCREEN_H}"]
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(report_html.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
                         encoding="utf-8")
        dom = _run(base + ["--virtual-time-budget=5000", f"--user-data-dir={tmp}/profile", "--dump-dom",
                           probe.as_uri()])
        if png is not None:
            _run(base + [f"--user-data-dir={tmp}/profile2", f"--screenshot={Path(png).resolve()}",
                         report_html.resolve().as_uri()])
    m = re.search(r'data-layout="([^"]*)"', dom)
    if m is None:
        raise ConfigError("chromium laid out the report but the layout probe did not run; is it a report.html?")
    layout = json.loads(html_mod.unescape(m.group(1)))
    layout["screen"] = [SCREEN_W, SCREEN_H]
    soa_bottom = next((v for k, v in layout["tables"].items() if k.startswith("Safe operating area")), None)
    first = layout["tables"].get("At a glance", layout["tables"].get("Summary"))
    layout["summary_and_soa_in_first_screen"] = bool(first is not None and first <= SCREEN_H and soa_bottom is not None
                                                      and soa_bottom <= SCREEN_H)
    return layout


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(description="lay out a report in headless chromium and measure it")
    parser.add_argument("report_html", type=Path)
    parser.add_argument("--png", type=Path, default=None, help="also write a screenshot of the first screen")
    args = parser.parse_args(argv)
    try:
        layout = check_in_browser(args.report_html, args.png)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: layout[k] for k in ("summary_and_soa_in_first_screen", "tables", "width", "screen")},
                     indent=2))
    bad = [im["alt"] for im in layout["images"] if not im["ok"]]
    if bad:
        print(f"images that did not decode: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
