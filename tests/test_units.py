"""The one number formatter of netlists: round trips exactly, refuses non-finite values."""

import math

import pytest
from hypothesis import given, strategies as st

from ipnet_cosim.device.errors import NetlistError
from ipnet_cosim.device.units import spice_number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_round_trip(x):
    text = spice_number(x)
    assert float(text) == x
    assert not any(c.isalpha() and c not in "e" for c in text.lower()), "no SPICE suffixes"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite(bad):
    with pytest.raises(NetlistError):
        spice_number(bad)
