"""``pytest.approx`` that refuses to compare nothing. Its default absolute tolerance, 1e-12, is larger than a
relative tolerance of most quantities this suite compares in SI units (energies of pJ and fJ, charges, areas in
m^2, times in s): ``approx(6e-13, rel=1e-5)`` accepts anything within 1e-12, i.e. 160 %. Installed by conftest.py:
every call without an explicit ``abs`` whose expected values are that small raises, naming the value and the fix."""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import pytest

PYTEST_DEFAULT_ABS = 1e-12
PYTEST_DEFAULT_REL = 1e-6
_pytest_approx = pytest.approx


def _numbers(expected: Any) -> Iterator[float]:
    if isinstance(expected, dict):
        for v in expected.values():
            yield from _numbers(v)
    elif isinstance(expected, (list, tuple, np.ndarray)):
        for v in np.asarray(expected, dtype=object).ravel():
            yield from _numbers(v)
    elif isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        yield float(expected)


def checked_approx(expected: Any, rel: float | None = None, abs: float | None = None, nan_ok: bool = False):
    """pytest.approx, refusing an implicit absolute tolerance that would dominate the relative one."""
    if abs is None:
        rel_eff = PYTEST_DEFAULT_REL if rel is None else rel
        for v in _numbers(expected):
            if v != 0 and math.isfinite(v) and rel_eff * math.fabs(v) < PYTEST_DEFAULT_ABS:
                raise AssertionError(
                    f"pytest.approx({v!r}, rel={rel}) would use pytest's default absolute tolerance "
                    f"{PYTEST_DEFAULT_ABS:g}, which accepts {PYTEST_DEFAULT_ABS / math.fabs(v):.0%} of the value: "
                    f"give abs= explicitly (abs=0 for a purely relative comparison)")
    return _pytest_approx(expected, rel=rel, abs=abs, nan_ok=nan_ok)


def install() -> None:
    pytest.approx = checked_approx          # type: ignore[assignment]
