"""The bounded neuron drive in PyTorch and numpy: the same function, its inverse, a gradient that survives
saturation and rectification, its use in the network, and the junction-temperature penalty."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.drive import drive_current_a, drive_input_for_a
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.drive import NeuronDriveStage, drive_current
from ipnet_cosim.models.network_config import NetworkConfig
from ipnet_cosim.models.network import build_network, cold_threshold

CARD = DeviceCard()
I_MAX = CARD.drive_i_max_a


@settings(max_examples=200, deadline=None)
@given(st.floats(-5e-3, 5e-3, allow_nan=False), st.floats(1.0, 20.0))
def test_numpy_and_torch_are_the_same_function(i_in, knee):
    a = float(drive_current_a(i_in, I_MAX, knee))
    b = float(drive_current(torch.tensor(i_in, dtype=torch.float64), I_MAX, knee))
    assert a == pytest.approx(b, rel=1e-15, abs=1e-30)
    assert 0.0 <= a <= I_MAX * (1 + 1e-15)     # reaches i_max (to rounding) only where x^n swamps 1
    if i_in <= 0:
        assert a == 0.0
    else:
        assert a <= i_in
        if a < 0.99 * I_MAX:          # deeper in saturation the inverse is ill-conditioned (1 - y^n cancels)
            assert float(drive_input_for_a(a, I_MAX, knee)) == pytest.approx(i_in, rel=1e-9, abs=0)


def test_limits_of_the_curve():
    x = np.array([0.1, 0.5, 1.0, 4.0, 100.0]) * I_MAX
    y = drive_current_a(x, I_MAX, 4.0) / I_MAX
    np.testing.assert_allclose(y, x / I_MAX / (1 + (x / I_MAX) ** 4) ** 0.25)
    assert abs(y[0] - 0.1) < 1e-4 and abs(y[1] / 0.5 - 1) < 0.016 and y[2] == pytest.approx(2 ** -0.25)
    assert y[-1] > 0.999999 and np.all(np.diff(y) > 0)
    with pytest.raises(ValueError):
        drive_input_for_a(I_MAX, I_MAX, 4.0)


def test_gradient_floor_keeps_rectified_and_saturated_inputs_trainable():
    i_in = torch.tensor([-1e-4, 0.5 * I_MAX, 20 * I_MAX], dtype=torch.float64, requires_grad=True)
    NeuronDriveStage(CARD, grad_floor=0.1)(i_in).sum().backward()
    g = i_in.grad.numpy()
    exact = (1 + 0.5 ** 4) ** (-1.25)
    assert g[0] == pytest.approx(0.1) and g[1] == pytest.approx(exact) and g[2] == pytest.approx(0.1)
    i2 = i_in.detach().clone().requires_grad_(True)
    NeuronDriveStage(CARD, grad_floor=0.0)(i2).sum().backward()
    assert i2.grad[0] == 0.0 and i2.grad[2] < 1e-5        # the exact derivative vanishes there
    with torch.no_grad():                                  # the forward pass is the exact drive either way
        assert torch.equal(NeuronDriveStage(CARD, 0.1)(i_in), drive_current(i_in, I_MAX, CARD.drive.knee))


def test_network_feeds_every_mtj_layer_through_the_drive():
    net = build_network(NetworkConfig(n_classes=22), seed=0).set_precision("exact")
    frames = torch.bernoulli(torch.full((2, 4, 2, 32, 32), 0.3), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, trace = net(frames, return_trace=True)
    for i_a in trace["currents_a"]:
        assert float(i_a.min()) >= 0.0 and float(i_a.max()) < I_MAX
    ideal = build_network(NetworkConfig(n_classes=22, drive="ideal"), seed=0).set_precision("exact")
    with torch.no_grad():
        _, trace_ideal = ideal(frames, return_trace=True)
    assert float(trace_ideal["currents_a"][0].min()) < 0.0, "the ideal mirror passes negative currents"
    # the same weights: the bounded currents are the drive of the ideal ones
    torch.testing.assert_close(trace["currents_a"][0], drive_current(trace_ideal["currents_a"][0], I_MAX,
                                                                     CARD.drive.knee), rtol=1e-12, atol=0)


def test_calibration_targets_the_threshold_through_the_drive():
    net = build_network(NetworkConfig(n_classes=22), seed=0)
    frames = torch.bernoulli(torch.full((16, 6, 2, 32, 32), 0.2), generator=torch.Generator().manual_seed(2))
    net.calibrate(frames, fire_fraction=0.15)
    with torch.no_grad():
        _, trace = net(frames, return_trace=True)
    i_th = cold_threshold(net.fast_card)[0]
    frac = float((trace["currents_a"][1] >= i_th).double().mean())
    assert 0.08 < frac < 0.25, frac


def test_junction_penalty_is_zero_inside_and_pushes_back_outside():
    net = build_network(NetworkConfig(n_classes=22), seed=0)
    frames = torch.bernoulli(torch.full((4, 4, 2, 32, 32), 0.3), generator=torch.Generator().manual_seed(3))
    _, trace = net(frames, return_trace=True)
    assert float(net.junction_excess(trace).detach()) == 0.0, "the default drive keeps every junction below t_max"
    hot = DeviceCard().replace(t_max_k=330.0)
    net = build_network(NetworkConfig(n_classes=22), hot, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    before = None
    for _ in range(3):
        _, trace = net(frames, return_trace=True)
        penalty = net.junction_excess(trace)
        before = float(penalty.detach()) if before is None else before
        opt.zero_grad()
        penalty.backward()
        opt.step()
    _, trace = net(frames, return_trace=True)
    assert before > 0 and float(net.junction_excess(trace).detach()) < before


def test_bad_drive_settings_are_named():
    with pytest.raises(ConfigError, match="drive 'push-pull' is unknown"):
        NetworkConfig(drive="push-pull")
    with pytest.raises(ConfigError, match="drive_grad_floor"):
        NetworkConfig(drive_grad_floor=-0.5)
    assert math.isclose(NeuronDriveStage(CARD).input_for(0.5 * I_MAX), 0.5 * I_MAX / (1 - 0.5 ** 4) ** 0.25)
