"""Former location of the command line, kept so that ``python -m ipnet_cosim.models.cli`` and scripts importing
``main`` from here keep working; the CLI lives in :mod:`ipnet_cosim.cli` (``cli/``)."""

from __future__ import annotations

import sys

from ipnet_cosim.cli.app import app, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
