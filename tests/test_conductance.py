"""Weight -> conductance mapping: exactness, range, quantization, variation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.netlist_gen.conductance import ConductanceOptions, map_weights

V_READ, SCALE = 0.2, 150e-6


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)),
              elements=st.floats(-5, 5, allow_nan=False)),
       st.sampled_from([None, 2, 16]), st.floats(0, 0.3))
def test_conductances_stay_in_range(w, levels, sigma):
    o = ConductanceOptions(levels=levels, variation_sigma=sigma, seed=3)
    m = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=o)
    for g in (m.g_plus_s, m.g_minus_s):
        assert g.shape == w.shape
        assert np.all(g >= o.g_min_s) and np.all(g <= o.g_max_s)


def test_ideal_mapping_reproduces_the_weights_exactly_in_current():
    w = np.random.default_rng(0).normal(0, 1, (20, 7))
    m = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE)
    np.testing.assert_allclose(m.effective_weights(V_READ, SCALE), w, rtol=1e-12, atol=1e-12)
    assert np.isclose(m.g_plus_s.max(), 1e-3, rtol=1e-12, atol=0) or np.isclose(m.g_minus_s.max(), 1e-3, rtol=1e-12,
                                                                            atol=0)   # full range used
    x = (np.random.default_rng(1).random(20) < 0.5).astype(float)
    i_column = V_READ * x @ (m.g_plus_s - m.g_minus_s) * m.mirror_gain
    np.testing.assert_allclose(i_column, SCALE * x @ w, rtol=1e-12)


def test_quantization_uses_the_level_grid():
    w = np.linspace(-1, 1, 21).reshape(3, 7)
    o = ConductanceOptions(levels=4)
    m = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=o)
    grid = o.g_min_s + np.arange(4) * (o.g_max_s - o.g_min_s) / 3
    for g in (m.g_plus_s, m.g_minus_s):
        assert np.all(np.min(np.abs(g[..., None] - grid), axis=-1) < 1e-15)


def test_variation_is_seeded_and_of_the_requested_size():
    w = np.full((200, 50), 0.5)
    w[0, 0] = 1.0                       # the largest weight sets the range: 0.5 maps to mid-range
    a = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=ConductanceOptions(variation_sigma=0.05, seed=1))
    b = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=ConductanceOptions(variation_sigma=0.05, seed=1))
    c = map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, options=ConductanceOptions(variation_sigma=0.05, seed=2))
    assert np.array_equal(a.g_plus_s, b.g_plus_s) and not np.array_equal(a.g_plus_s, c.g_plus_s)
    rel = np.log(a.g_plus_s[1:] / (1e-6 + 0.5 * a.k_s))
    assert 0.04 < rel.std() < 0.06


@pytest.mark.parametrize("kw, match", [
    (dict(g_min_s=1e-3, g_max_s=1e-3), "below G_max"),
    (dict(g_min_s=-1.0), "positive"),
    (dict(levels=1), "at least 2"),
    (dict(variation_sigma=-0.1), ">= 0"),
    (dict(variation_kind="uniform"), "unknown"),
])
def test_bad_options(kw, match):
    with pytest.raises(ConfigError, match=match):
        ConductanceOptions(**kw)


def test_nan_weight_is_located():
    w = np.zeros((3, 3))
    w[1, 2] = np.nan
    with pytest.raises(ConfigError, match=r"conv1: weight \[1, 2\] is nan"):
        map_weights(w, v_read_v=V_READ, current_scale_a=SCALE, name="conv1")
