"""The helpers that write numbers and long lines into netlists."""

from __future__ import annotations

import math
from typing import Sequence

from ipnet_cosim.device.errors import NetlistError


def spice_number(value: float) -> str:
    """Format a float for a SPICE netlist: shortest round-trip repr, no SI suffix.

    SPICE reads ``1m`` as milli and ``1M`` also as milli, so suffixes are never
    written; ``repr`` gives the shortest string that parses back to the same
    double, which keeps netlists byte-identical across runs.

    Raises:
        NetlistError: the value is NaN or infinite.
    """
    value = float(value)
    if not math.isfinite(value):
        raise NetlistError(f"cannot write {value} into a netlist; a parameter or stimulus is not finite")
    if value == 0.0:
        return "0"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def continuation_lines(head: str, items: Sequence[str], tail: str = "", width: int = 8) -> list[str]:
    """``head`` then ``items`` on SPICE continuation lines (``+ ``), ``width`` per line, then ``tail``."""
    lines = [head]
    for k in range(0, len(items), width):
        lines.append("+ " + " ".join(items[k:k + width]))
    if tail:
        lines.append("+ " + tail)
    return lines
