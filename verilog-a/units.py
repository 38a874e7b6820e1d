"""The one helper that writes numbers into netlists."""

from __future__ import annotations

import math

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
