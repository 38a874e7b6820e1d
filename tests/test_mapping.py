"""Layer mapping (netlist_gen.mapping): im2col, the registry, tiling and the unit netlists.

Fast tests only (no ngspice run):

* im2col: the crossbar arithmetic ``a[p] = sum_r matrix[r] * value(gather[p, r])`` scattered through
  ``out_index`` reproduces ``conv2d`` / ``linear`` / the network's own forward in float64.
* registry: unmapped layer types raise :class:`UnsupportedLayerError` with a helpful message;
  :func:`register_mapping` adds (and, through the fixture, removes) entries.
* tiling: units cover every (row, weight column) exactly once per position; option validation.
* properties (hypothesis): legal unique names, valid circuits, device resistances in range,
  deterministic text, tile contents equal the conductance map, DC currents of the crossbar.
* golden netlists: ``tests/golden/unit_ideal.cir`` and ``tests/golden/unit_wires.cir``.
  Regenerate them after an intended change of the netlist format with::

      IPNET_REGEN_GOLDEN=1 /tmp/venv/bin/python -m pytest tests/test_mapping.py -k golden

  (the regenerating run skips the comparison), then review ``git diff tests/golden``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError, UnsupportedLayerError
from ipnet_cosim.models.network_config import LayerSpec, NetworkConfig
from ipnet_cosim.models.network import build_network, memoryless_card
from ipnet_cosim.netlist_gen import mapping
from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
from ipnet_cosim.circuits.ir import (Circuit, CurrentMirror, MTJNeuronInstance, ModelCard, PulseSource, Resistor, Save,
                                        SubcircuitInstance, VoltageSource, flatten_circuit, validate_circuit)
from ipnet_cosim.netlist_gen.mapping import (BIAS, LAYER_MAPPINGS, PAD, LayerMatrix, LayerView, MappingOptions,
                                             conductances, layer_units, network_layers, register_mapping)
from ipnet_cosim.netlist_gen.unit_circuits import read_delay_s, unit_circuit
from ipnet_cosim.circuits.ngspice import format_ngspice

GOLDEN = Path(__file__).parent / "golden"
CARD = DeviceCard()
FAST_CARD = memoryless_card(CARD, 1e-10)
SCALE_A = 150e-6


# -- helpers ---------------------------------------------------------------------------------------

def crossbar_outputs(lm: LayerMatrix, x: np.ndarray) -> np.ndarray:
    """What the crossbars compute for the flattened input ``x``: every position's row values
    (input, 0 for padding, 1 for the bias row) times the matrix, scattered to the output indices."""
    g = lm.gather
    vals = np.where(g >= 0, x[np.clip(g, 0, None)], np.where(g == BIAS, 1.0, 0.0))
    assert set(np.unique(g[g < 0])) <= {PAD, BIAS}, "gather holds a negative index other than PAD/BIAS"
    a = vals @ lm.matrix                                            # [positions, cols]
    out = np.full(int(lm.out_index.max()) + 1, np.nan)
    out[lm.out_index.ravel()] = a.ravel()
    return out


def check_out_index(lm: LayerMatrix, n_out: int) -> None:
    idx = np.sort(lm.out_index.ravel())
    assert np.array_equal(idx, np.arange(n_out)), "out_index must hit every output exactly once"


def check_gather_bias(lm: LayerMatrix) -> None:
    rows = lm.matrix.shape[0]
    assert lm.gather.shape[1] == rows and lm.gather.dtype == np.int64 and lm.matrix.dtype == np.float64
    assert np.all(lm.gather[:, -1] == BIAS), "the bias row must be the last row"
    assert not np.any(lm.gather[:, :-1] == BIAS), "only the last row may be the bias row"


def float64_module(module: nn.Module) -> nn.Module:
    import copy
    return copy.deepcopy(module).double()


# -- 1. im2col correctness ---------------------------------------------------------------------------

CONV_CASES = [
    # in_ch, H, W, out_ch, kernel, stride, padding
    (2, 8, 8, 3, 3, 1, 0),
    (3, 7, 9, 5, 3, 2, 1),        # non-square, padding
    (1, 5, 6, 4, 2, 3, 2),        # padding 2, stride 3 (windows that are mostly padding)
    (2, 6, 4, 1, 4, 1, 3),        # padding 3 with kernel 4: corner windows hold a single pixel
    (4, 1, 5, 2, 1, 1, 0),        # 1x1 conv on a 1-row input
    (2, 9, 5, 3, 5, 4, 2),        # kernel 5, stride 4, tall input
]


@pytest.mark.parametrize("in_ch,h,w,out_ch,k,s,p", CONV_CASES)
def test_im2col_conv_linear_and_readout_match_pytorch(in_ch, h, w, out_ch, k, s, p):
    config = NetworkConfig(arch="memoryless", in_channels=in_ch, height=h, width=w, n_classes=3,
                           layers=(LayerSpec("conv", out_ch, kernel=k, stride=s, padding=p), LayerSpec("linear", 7)))
    net = build_network(config, seed=in_ch * 100 + k)
    views = network_layers(net)
    assert [v.type for v in views] == ["Conv2d", "Linear", "Linear"]
    assert [v.unit for v in views] == ["memoryless", "memoryless", "integrate"]
    conv_v, lin_v, ro_v = views
    rng = np.random.default_rng(k * 7 + s)

    # conv: im2col rows (c k + ky) k + kx, bias last, one crossbar per output position
    lm = LAYER_MAPPINGS["Conv2d"](conv_v)
    _, oh, ow = conv_v.out_shape
    assert lm.matrix.shape == (in_ch * k * k + 1, out_ch)
    assert lm.gather.shape == (oh * ow, in_ch * k * k + 1)
    check_gather_bias(lm)
    check_out_index(lm, out_ch * oh * ow)
    m = conv_v.module
    w64, b64 = m.weight.detach().double(), m.bias.detach().double()
    np.testing.assert_array_equal(lm.matrix[:-1], w64.reshape(out_ch, -1).T.numpy())
    np.testing.assert_array_equal(lm.matrix[-1], b64.numpy())
    if p > 0:
        assert np.any(lm.gather == PAD), "a padded conv must have padding rows"
    else:
        assert not np.any(lm.gather == PAD)
    for trial in range(3):
        x = (rng.random((in_ch, h, w)) < (0.5 if trial else 1.0)).astype(np.float64)
        xt = torch.from_numpy(x)[None]
        ref_f = nn.functional.conv2d(xt, w64, b64, stride=s, padding=p)[0].reshape(-1).numpy()
        ref_m = float64_module(m)(xt)[0].detach().reshape(-1).numpy()
        got = crossbar_outputs(lm, x.reshape(-1))
        np.testing.assert_allclose(got, ref_f, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got, ref_m, rtol=0, atol=1e-12)

    # linear after the conv: rows in PyTorch's flatten order (c H + y) W + x of the conv output
    lm = LAYER_MAPPINGS["Linear"](lin_v)
    assert lin_v.in_shape == conv_v.out_shape
    assert lm.matrix.shape == (math.prod(conv_v.out_shape) + 1, 7) and lm.gather.shape[0] == 1
    check_gather_bias(lm)
    check_out_index(lm, 7)
    assert "flatten" in lm.layout
    for _ in range(3):
        spikes = (rng.random(conv_v.out_shape) < 0.5).astype(np.float64)        # [C, OH, OW]
        ref = float64_module(lin_v.module)(torch.from_numpy(spikes).flatten()[None])[0].detach().numpy()
        np.testing.assert_allclose(crossbar_outputs(lm, spikes.reshape(-1)), ref, rtol=0, atol=1e-12)

    # readout
    lm = LAYER_MAPPINGS["Linear"](ro_v)
    assert lm.matrix.shape == (8, 3)
    check_gather_bias(lm)
    for _ in range(3):
        spikes = (rng.random(7) < 0.5).astype(np.float64)
        ref = float64_module(ro_v.module)(torch.from_numpy(spikes)[None])[0].detach().numpy()
        np.testing.assert_allclose(crossbar_outputs(lm, spikes), ref, rtol=0, atol=1e-12)


def test_linear_frontier_and_linear_chain():
    """A linear frontier on the frame (flattened C, H, W) and a linear after a linear."""
    config = NetworkConfig(arch="ipnet", in_channels=2, height=3, width=5, n_classes=4,
                           layers=(LayerSpec("linear", 6), LayerSpec("linear", 5)))
    net = build_network(config, seed=3)
    views = network_layers(net)
    assert [(v.type, v.unit, v.in_shape) for v in views] == [
        ("Linear", "heat", (2, 3, 5)), ("Linear", "memoryless", (6,)), ("Linear", "integrate", (5,))]
    rng = np.random.default_rng(1)
    for view in views:
        lm = LAYER_MAPPINGS[view.type](view)
        check_gather_bias(lm)
        n_in = math.prod(view.in_shape)
        np.testing.assert_array_equal(lm.gather[0], np.r_[np.arange(n_in), BIAS])
        x = (rng.random(view.in_shape) < 0.5).astype(np.float64)
        ref = float64_module(view.module)(torch.from_numpy(x).reshape(1, -1))[0].detach().numpy()
        np.testing.assert_allclose(crossbar_outputs(lm, x.reshape(-1)), ref, rtol=0, atol=1e-12)


def test_crossbars_reproduce_the_network_forward_layer_by_layer():
    """Feed each layer's crossbar the spikes the network itself produced (exact precision) and compare
    with the network's currents and readout: checks the flatten order between layers end to end."""
    config = NetworkConfig(arch="ipnet", in_channels=2, height=7, width=9, n_classes=4,
                           layers=(LayerSpec("conv", 4, kernel=3, stride=2, padding=1),
                                   LayerSpec("conv", 3, kernel=2, stride=1, padding=1), LayerSpec("linear", 6)))
    net = build_network(config, seed=5)
    gen = torch.Generator().manual_seed(0)
    frames = (torch.rand(4, 5, 2, 7, 9, generator=gen) < 0.3).float()
    net.calibrate(frames, fire_fraction=0.3)
    net.set_precision("exact")
    with torch.no_grad():
        _, trace = net(frames[:1].double(), return_trace=True)
    views = network_layers(net)
    assert [v.unit for v in views] == ["heat", "memoryless", "memoryless", "integrate"]
    inputs = [frames[0].double()] + [o[:, 0] for o in trace["outputs"]]   # [T, ...] per layer
    fired = [float(o.mean()) for o in trace["outputs"]]
    assert all(0 < f < 1 for f in fired), f"calibration left a layer silent or saturated: {fired}"
    for view, x in zip(views, inputs):
        lm = LAYER_MAPPINGS[view.type](view)
        ref = (trace["readout"][:, 0] if view.unit == "integrate"
               else trace["input_currents_a"][view.index][:, 0] / config.current_scale_a)
        for t in range(x.shape[0]):
            got = crossbar_outputs(lm, x[t].reshape(-1).numpy())
            np.testing.assert_allclose(got, ref[t].reshape(-1).numpy(), rtol=0, atol=1e-10,
                                       err_msg=f"{view.name} step {t}")


# -- 2. the registry ---------------------------------------------------------------------------------

@pytest.fixture
def clean_registry():
    """Snapshot LAYER_MAPPINGS and restore it after the test (registrations are global)."""
    saved = dict(LAYER_MAPPINGS)
    yield LAYER_MAPPINGS
    LAYER_MAPPINGS.clear()
    LAYER_MAPPINGS.update(saved)


def small_config(arch: str) -> NetworkConfig:
    return NetworkConfig(arch=arch, height=8, width=8, n_classes=3, window=2,
                         layers=(LayerSpec("conv", 2, kernel=3), LayerSpec("linear", 4)))


def test_builtin_registry():
    assert LAYER_MAPPINGS["Conv2d"] is mapping.map_conv2d
    assert LAYER_MAPPINGS["Linear"] is mapping.map_linear


def test_unregistered_op_type_is_refused_with_a_how_to():
    net = build_network(small_config("conv3d"))
    with pytest.raises(UnsupportedLayerError) as err:
        network_layers(net)
    msg = str(err.value)
    assert "layer 0" in msg and "'WindowConv3dOp'" in msg
    assert "register_mapping('WindowConv3dOp')" in msg and "LayerMatrix" in msg
    assert "Conv2d" in msg and "Linear" in msg          # lists what is mapped


@pytest.mark.parametrize("arch,kind", [("lstm", "LSTMMemory"), ("rnn", "RNNMemory"), ("conv2p1d", "TemporalConv")])
def test_conventional_memory_is_refused_with_a_how_to(arch, kind):
    net = build_network(small_config(arch))
    with pytest.raises(UnsupportedLayerError) as err:
        network_layers(net)
    msg = str(err.value)
    assert f"'{kind}'" in msg and f"{arch} network" in msg and "IPNet" in msg
    assert isinstance(err.value, TypeError)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "conv2p1d"])
def test_temporal_memories_are_refused_without_false_advice(arch):
    with pytest.raises(UnsupportedLayerError, match="digital state") as info:
        network_layers(build_network(small_config(arch)))
    assert "register_mapping" not in str(info.value)      # a memory is not a weight op: no mapping to add


def test_register_mapping_adds_a_type_and_is_used(clean_registry):
    assert "WindowConv3dOp" not in LAYER_MAPPINGS and "MyLayer" not in LAYER_MAPPINGS

    def fake(view: LayerView) -> LayerMatrix:
        raise AssertionError("not called by network_layers")

    assert register_mapping("MyLayer")(fake) is fake                 # the decorator returns the function
    assert LAYER_MAPPINGS["MyLayer"] is fake
    assert register_mapping("WindowConv3dOp")(fake) is fake
    views = network_layers(build_network(small_config("conv3d")))
    assert views[0].type == "WindowConv3dOp" and LAYER_MAPPINGS[views[0].type] is fake
    assert [v.type for v in views[1:]] == ["Linear", "Linear"]
    # the new type is listed among the mapped ones in later errors
    from ipnet_cosim.netlist_gen.mapping import mapping_for
    with pytest.raises(UnsupportedLayerError, match="MyLayer"):
        mapping_for("Unheard", "layer 9")


def test_registry_is_clean_after_registration_tests():
    assert "MyLayer" not in LAYER_MAPPINGS and "WindowConv3dOp" not in LAYER_MAPPINGS
    assert "LSTMMemory" not in LAYER_MAPPINGS


@pytest.mark.parametrize("kwargs", [dict(out_channels=4, groups=2), dict(out_channels=2, dilation=2),
                                    dict(out_channels=2, padding=1, padding_mode="reflect")])
def test_unsupported_conv_features_are_refused(kwargs):
    conv = nn.Conv2d(2, kernel_size=3, **kwargs)
    view = LayerView(0, "layer0", "Conv2d", conv, (2, 8, 8), tuple(conv(torch.zeros(1, 2, 8, 8)).shape[1:]), "heat")
    with pytest.raises(UnsupportedLayerError, match="layer0"):
        mapping.map_conv2d(view)


def test_conv_without_bias_has_a_zero_bias_row():
    conv = nn.Conv2d(1, 2, 2, bias=False)
    view = LayerView(0, "layer0", "Conv2d", conv, (1, 3, 3), (2, 2, 2), "heat")
    lm = mapping.map_conv2d(view)
    check_gather_bias(lm)
    assert np.all(lm.matrix[-1] == 0)


@pytest.mark.parametrize("param", ["weight", "bias"])
def test_non_finite_weights_are_refused(param):
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        getattr(lin, param)[1] = float("nan")
    view = LayerView(1, "layer1", "Linear", lin, (3,), (2,), "memoryless")
    with pytest.raises(ConfigError, match=f"layer1: .* {param} value"):
        mapping.map_linear(view)


# -- 3. tiling ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rows,cols,positions,tile_rows,tile_cols", [
    (7, 5, 3, 3, 4), (7, 5, 1, 1, 2), (1, 1, 2, 1, 2), (4, 6, 2, 128, 128), (10, 3, 2, 4, 5),
    (9, 4, 1, 9, 8), (9, 4, 1, 8, 7), (3, 2, 4, 1, 3),
])
def test_units_cover_every_row_and_weight_column_once(rows, cols, positions, tile_rows, tile_cols):
    lm = LayerMatrix(np.zeros((rows, cols)), np.zeros((positions, rows), dtype=np.int64),
                     np.zeros((positions, cols), dtype=np.int64), "test")
    opts = MappingOptions(tile_rows=tile_rows, tile_cols=tile_cols)
    units = layer_units(4, lm, opts)
    per_block = tile_cols // 2
    assert len(units) == positions * math.ceil(cols / per_block)
    assert len({u.name for u in units}) == len(units)
    for p in range(positions):
        cover = np.zeros((rows, cols), dtype=int)
        mine = [u for u in units if u.position == p]
        assert [u.col_block for u in mine] == list(range(len(mine)))
        for u in mine:
            assert u.layer == 4 and u.name.startswith(f"L4_p{p:03d}_c{u.col_block}")
            c0, c1 = u.cols
            assert 0 < c1 - c0 <= per_block
            assert all(0 < r1 - r0 <= tile_rows for r0, r1 in u.row_blocks)
            assert len(u.tile_names()) == len(u.row_blocks)
            for r0, r1 in u.row_blocks:
                cover[r0:r1, c0:c1] += 1
        assert np.all(cover == 1), f"position {p}: coverage\n{cover}"
    if tile_rows == 1:
        assert all(r1 - r0 == 1 for u in units for r0, r1 in u.row_blocks)
    if tile_cols in (2, 3):
        assert all(u.cols[1] - u.cols[0] == 1 for u in units)


@pytest.mark.parametrize("kwargs,name", [
    (dict(tile_rows=0), "tile_rows"), (dict(tile_rows=-3), "tile_rows"), (dict(tile_rows=2.0), "tile_rows"),
    (dict(tile_rows=True), "tile_rows"), (dict(tile_cols=1), "tile_cols"), (dict(tile_cols=0), "tile_cols"),
    (dict(r_wire_ohm=-1.0), "r_wire_ohm"), (dict(r_wire_ohm=float("nan")), "r_wire_ohm"),
    (dict(r_wire_ohm=float("inf")), "r_wire_ohm"), (dict(r_driver_ohm=-0.5), "r_driver_ohm"),
    (dict(wire_model="mesh"), "wire_model"),
    (dict(max_step_s=0.0), "max_step_s"), (dict(reltol=0.5), "reltol"),
])
def test_mapping_options_are_validated(kwargs, name):
    with pytest.raises(ConfigError, match=rf"mapping option {name} = "):
        MappingOptions(**kwargs)


def test_tile_cols_message_explains_the_differential_pair():
    with pytest.raises(ConfigError, match="differential pair"):
        MappingOptions(tile_cols=1)


def test_edge_tile_sizes_are_accepted_and_round_trip():
    opts = MappingOptions(tile_rows=1, tile_cols=2, r_wire_ohm=0, r_driver_ohm=5)
    assert MappingOptions.from_dict(opts.to_dict()) == opts
    assert MappingOptions(tile_rows=np.int64(3)).tile_rows == 3


# -- 4. properties of the unit netlists ----------------------------------------------------------------

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
LETTER = {Resistor: "R", VoltageSource: "V", PulseSource: "V", CurrentMirror: "F", MTJNeuronInstance: "N",
          SubcircuitInstance: "X"}
DEVICE = re.compile(r"^R([pm])(\d+)_(\d+)$")


def check_names(elements, where: str) -> None:
    seen: set[str] = set()
    for e in elements:
        assert NAME.match(e.name), f"{where}: illegal element name {e.name!r}"
        assert e.name[0].upper() == LETTER[type(e)], f"{where}: {e.name} is a {type(e).__name__}"
        assert e.name.lower() not in seen, f"{where}: {e.name} is used twice (case-insensitive)"
        seen.add(e.name.lower())
        for n in e.nodes():
            assert n == "0" or NAME.match(n), f"{where}: illegal node {n!r} at {e.name}"


def check_no_floating_nets(circuit: Circuit) -> None:
    flat = flatten_circuit(circuit)
    touches: dict[str, int] = {}
    for e in flat:
        for n in e.nodes():
            touches[n] = touches.get(n, 0) + 1
    outputs = {n for e in flat if isinstance(e, MTJNeuronInstance) for n in (e.th, e.st)}
    floating = [n for n, c in touches.items() if n != "0" and c < 2 and n not in outputs]
    assert not floating, f"floating nets: {floating}"


def build_units(lm: LayerMatrix, options: MappingOptions, unit_kind: str, layer: int = 2, positions=None):
    """(unit, gmap, circuit, text) for the units of the chosen positions."""
    out = []
    units = layer_units(layer, lm, options)
    for p in sorted(set(u.position for u in units) if positions is None else positions):
        gmap = conductances(lm, layer, p, v_read_v=CARD.timing.v_read_v, current_scale_a=SCALE_A,
                            options=options, name=f"layer{layer}")
        for unit in (u for u in units if u.position == p):
            circuit = unit_circuit(unit, lm, gmap, unit_kind=unit_kind, card=CARD, fast_card=FAST_CARD,
                                   n_steps=3, options=options, title=f"unit {unit.name}")
            out.append((unit, gmap, circuit, format_ngspice(circuit)))
    return out


@st.composite
def layer_matrices(draw) -> LayerMatrix:
    if draw(st.booleans()):
        # a real conv layer through map_conv2d
        c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 4))
        k, s, p = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
        h, w = draw(st.integers(k, 4)), draw(st.integers(k, 4))
        with torch.random.fork_rng(devices=[]):           # leave the global torch RNG alone
            torch.manual_seed(draw(st.integers(0, 2 ** 16)))
            conv = nn.Conv2d(c_in, c_out, k, s, p)
        out_shape = tuple(conv(torch.zeros(1, c_in, h, w)).shape[1:])
        return mapping.map_conv2d(LayerView(0, "layer0", "Conv2d", conv, (c_in, h, w), out_shape, "heat"))
    rows, cols, positions = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 2))
    elements = st.one_of(st.just(0.0), st.floats(-3, 3, allow_nan=False, allow_subnormal=False))
    matrix = draw(arrays(np.float64, (rows, cols), elements=elements))
    gather = draw(arrays(np.int64, (positions, rows - 1), elements=st.integers(PAD, 20)))
    gather = np.concatenate([gather, np.full((positions, 1), BIAS)], axis=1)
    out_index = np.arange(positions * cols, dtype=np.int64).reshape(cols, positions).T.copy()
    return LayerMatrix(matrix, gather, out_index, "hypothesis")


@st.composite
def mapping_options(draw) -> MappingOptions:
    g_min = draw(st.floats(1e-7, 1e-4))
    g_max = g_min * draw(st.floats(1.5, 1e3))
    sigma = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3, 1.0]))
    co = ConductanceOptions(g_min_s=g_min, g_max_s=g_max, levels=draw(st.one_of(st.none(), st.integers(2, 16))),
                            variation_sigma=sigma, variation_kind=draw(st.sampled_from(["lognormal", "normal"])),
                            seed=draw(st.integers(0, 1000)))
    return MappingOptions(tile_rows=draw(st.integers(1, 7)), tile_cols=draw(st.integers(2, 7)), conductance=co,
                          r_wire_ohm=draw(st.one_of(st.just(0.0), st.floats(1e-3, 50.0))),
                          r_driver_ohm=draw(st.one_of(st.just(0.0), st.floats(1e-3, 1e3))),
                          wire_model=draw(st.sampled_from(["reduced", "ladder"])),
                          max_step_s=draw(st.one_of(st.none(), st.just(5e-12))))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lm=layer_matrices(), options=mapping_options(), unit_kind=st.sampled_from(["heat", "memoryless", "integrate"]))
def test_unit_netlists_are_valid_bounded_and_deterministic(lm, options, unit_kind):
    g_lo, g_hi = options.conductance.g_min_s, options.conductance.g_max_s
    n_pos = lm.gather.shape[0]
    positions = sorted({0, n_pos - 1})
    built = build_units(lm, options, unit_kind, positions=positions)
    again = build_units(lm, options, unit_kind, positions=positions)
    for (unit, gmap, circuit, text), (_, _, _, text2) in zip(built, again):
        where = unit.name
        assert text == text2, f"{where}: netlist text differs between two builds"
        check_names(circuit.elements, where)
        for sub in circuit.subcircuits:
            check_names(sub.elements, f"{where}/{sub.name}")
        assert len({s.name.lower() for s in circuit.subcircuits}) == len(circuit.subcircuits)
        validate_circuit(circuit)
        check_no_floating_nets(circuit)
        c0, c1 = unit.cols
        n_cols = c1 - c0
        assert len(circuit.subcircuits) == len(unit.row_blocks)
        for r, ((r0, r1), sub) in enumerate(zip(unit.row_blocks, circuit.subcircuits)):
            assert sub.name == f"xb_{unit.name}_r{r}".lower()
            assert sub.ports == tuple(f"r{i}" for i in range(r1 - r0)) + tuple(
                x for j in range(n_cols) for x in (f"p{j}", f"m{j}"))
            if options.reduced:
                # the exact port equivalent: one resistor per row/physical column and per coupled row pair
                n_r = r1 - r0
                cells = [e for e in sub.elements if e.name.startswith(("Rep", "Rem"))]
                pairs = [e for e in sub.elements if e.name.startswith("Rrr")]
                assert len(cells) == 2 * n_r * n_cols and len(cells) + len(pairs) == len(sub.elements)
                assert len(pairs) <= n_r * (n_r - 1) // 2
                assert all(0 < e.r_ohm < math.inf for e in sub.elements)
                assert not any(n.startswith(("w", "q")) for e in sub.elements for n in e.nodes())
                continue
            devices = {}
            for e in sub.elements:
                assert isinstance(e, Resistor)
                m = DEVICE.match(e.name)
                if m is None:
                    assert e.name.startswith(("Rwr", "Rwc")) and options.r_wire_ohm > 0
                    assert e.r_ohm == options.r_wire_ohm
                    continue
                assert 1 / g_hi <= e.r_ohm <= 1 / g_lo, f"{where}/{e.name}: {e.r_ohm} ohm out of range"
                devices[(m[1], int(m[2]), int(m[3]))] = e.r_ohm
            # the tile holds exactly this block of the conductance map
            assert len(devices) == 2 * (r1 - r0) * n_cols
            for (sign, i, j), r_ohm in devices.items():
                g = (gmap.g_plus_s if sign == "p" else gmap.g_minus_s)[r0 + i, c0 + j]
                assert r_ohm == 1.0 / g
            n_wires = len(sub.elements) - len(devices)
            assert n_wires == (0 if options.r_wire_ohm == 0 else 2 * (r1 - r0) * 2 * n_cols)
        # top level: drivers, sense sources, mirrors and neurons
        names = {e.name: e for e in circuit.elements}
        n_rows = unit.row_blocks[-1][1]
        assert all(f"Vx{i}" in names for i in range(n_rows))
        assert sum(isinstance(e, Resistor) for e in circuit.elements) == (
            n_rows if options.r_driver_ohm > 0 and not options.reduced else 0)
        mirrors = [e for e in circuit.elements if isinstance(e, CurrentMirror)]
        neurons = [e for e in circuit.elements if isinstance(e, MTJNeuronInstance)]
        if unit_kind == "integrate":
            assert not mirrors and not neurons and not circuit.models
            assert len(circuit.saves) == 2 * n_cols * len(unit.row_blocks)
        else:
            assert len(neurons) == n_cols and len(mirrors) == 2 * n_cols * len(unit.row_blocks)
            model = "mtjn" if unit_kind == "heat" else "mtjf"
            assert all(n.model == model for n in neurons)
            assert len(circuit.models) == 1 and circuit.models[0].name == model
            assert circuit.models[0].params == (CARD if unit_kind == "heat" else FAST_CARD).mtj.model_params()
            for f in mirrors:
                assert f.gain == (gmap.mirror_gain if f.name.startswith("Fp") else -gmap.mirror_gain)
                assert f.n_from == "0" and f.n_to == f"a{f.name.split('_')[1]}" and f.control == "Vs" + f.name[1:]
            assert circuit.saves == tuple(Save.v(f"st{j}") for j in range(n_cols))
        assert circuit.tran.stop_s == 3 * CARD.timing.t_step_s
        layer_card = FAST_CARD if unit_kind == "memoryless" else CARD
        assert circuit.tran.max_step_s == (options.max_step_s or max(layer_card.mtj.tau_th_s,
                                                                     layer_card.timing.t_pulse_s) / 16)


def test_memoryless_units_use_the_fast_card():
    lm = LayerMatrix(np.array([[1.0], [-0.5]]), np.array([[0, BIAS]]), np.array([[0]]), "t")
    (_, _, heat, _), = build_units(lm, MappingOptions(), "heat")
    (_, _, fast, _), = build_units(lm, MappingOptions(), "memoryless")
    assert heat.models[0] == ModelCard("mtjn", "ipnet_mtj_neuron", CARD.mtj.model_params())
    assert fast.models[0] == ModelCard("mtjf", "ipnet_mtj_neuron", FAST_CARD.mtj.model_params())
    assert heat.models[0].params != fast.models[0].params


# -- DC currents of a unit: a small nodal solver over the crossbar part ----------------------------------

def dc_sense_currents(circuit: Circuit, drive: dict[int, float], prefixes=("Vs",)) -> dict[str, float]:
    """Solve the resistive crossbar (resistors and voltage sources; ``Vx<r>`` set to ``drive[r]``)
    by modified nodal analysis; return the current through every sense source (n+ -> n-), or through
    every source whose name starts with one of ``prefixes``."""
    flat = [e for e in flatten_circuit(circuit) if isinstance(e, (Resistor, VoltageSource))
            and e.name not in ("Vu",)]
    nodes = sorted({n for e in flat for n in e.nodes()} - {"0"})
    idx = {n: i for i, n in enumerate(nodes)}
    sources = [e for e in flat if isinstance(e, VoltageSource)]
    n = len(nodes) + len(sources)
    a = np.zeros((n, n))
    b = np.zeros(n)
    for e in flat:
        if isinstance(e, Resistor):
            g = 1.0 / e.r_ohm
            for p, q in ((e.n1, e.n2), (e.n2, e.n1)):
                if p != "0":
                    a[idx[p], idx[p]] += g
                    if q != "0":
                        a[idx[p], idx[q]] -= g
    for k, e in enumerate(sources):
        row = len(nodes) + k
        for node, sign in ((e.n_plus, 1), (e.n_minus, -1)):
            if node != "0":
                a[idx[node], row] += sign
                a[row, idx[node]] += sign
        b[row] = drive.get(int(e.name[2:]), 0.0) if e.name.startswith("Vx") else e.dc_v
    sol = np.linalg.solve(a, b)
    return {e.name: float(sol[len(nodes) + k]) for k, e in enumerate(sources) if e.name.startswith(prefixes)}


def neuron_currents(circuit: Circuit, unit, gain: float, drive: dict[int, float]) -> np.ndarray:
    """Current the mirrors inject into each neuron input a<j> (sum over row tiles)."""
    i_sense = dc_sense_currents(circuit, drive)
    n_cols = unit.cols[1] - unit.cols[0]
    return np.array([sum(gain * (i_sense[f"Vsp{r}_{j}"] - i_sense[f"Vsm{r}_{j}"])
                         for r in range(len(unit.row_blocks))) for j in range(n_cols)])


@pytest.mark.parametrize("tile_rows,tile_cols", [(128, 128), (2, 2), (1, 4), (3, 5)])
def test_ideal_crossbar_dc_currents_equal_current_scale_times_weights(tile_rows, tile_cols):
    """With no wire/driver resistance the mirrored currents are current_scale * (W x + b), per unit,
    with the row tiles' partial sums adding up at the neuron."""
    rng = np.random.default_rng(3)
    w = rng.normal(0, 1, (7, 5))
    lm = LayerMatrix(w, np.array([[0, 1, 2, 3, 4, PAD, BIAS]]), np.array([np.arange(5)]), "t")
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    v = CARD.timing.v_read_v
    opts = MappingOptions(tile_rows=tile_rows, tile_cols=tile_cols, r_driver_ohm=0.0)
    vals = np.r_[x, 0.0, 1.0]
    drive = {r: v * vals[r] for r in range(7)}
    expect = SCALE_A * (vals @ w)
    for unit, gmap, circuit, _ in build_units(lm, opts, "heat"):
        got = neuron_currents(circuit, unit, gmap.mirror_gain, drive)
        np.testing.assert_allclose(got, expect[unit.cols[0]:unit.cols[1]], rtol=1e-9, atol=1e-15)


def test_wire_topology_one_cell_matches_hand_analysis():
    """One row, one weight column: driver R_d, then R_w to the G+ cell, R_w more to the G- cell;
    each column has one segment R_w to its sense source at the bottom."""
    lm = LayerMatrix(np.array([[0.7]]), np.array([[BIAS]]), np.array([[0]]), "t")
    rw, rd = 3.0, 20.0
    opts = MappingOptions(r_wire_ohm=rw, r_driver_ohm=rd)
    (unit, gmap, circuit, _), = build_units(lm, opts, "integrate")
    v = CARD.timing.v_read_v
    rp, rm = 1 / gmap.g_plus_s[0, 0], 1 / gmap.g_minus_s[0, 0]
    z_p, z_m = rp + rw, rw + rm + rw
    i_total = v / (rd + rw + z_p * z_m / (z_p + z_m))
    sense = dc_sense_currents(circuit, {0: v})
    assert sense["Vsp0_0"] == pytest.approx(i_total * z_m / (z_p + z_m), rel=1e-12, abs=0)
    assert sense["Vsm0_0"] == pytest.approx(i_total * z_p / (z_p + z_m), rel=1e-12, abs=0)


def test_wire_resistance_only_lowers_the_currents_and_vanishes_when_small():
    rng = np.random.default_rng(4)
    w = np.abs(rng.normal(0, 1, (6, 3)))            # all positive: the G+ column carries the signal
    lm = LayerMatrix(w, np.array([[0, 1, 2, 3, 4, BIAS]]), np.array([np.arange(3)]), "t")
    v = CARD.timing.v_read_v
    drive = {r: v for r in range(6)}
    expect = SCALE_A * w.sum(axis=0)
    previous = expect
    for rw in (1e-9, 10.0, 100.0):
        (unit, gmap, circuit, _), = build_units(lm, MappingOptions(r_wire_ohm=rw), "heat")
        got = neuron_currents(circuit, unit, gmap.mirror_gain, drive)
        if rw < 1e-6:
            np.testing.assert_allclose(got, expect, rtol=1e-6)
        else:
            assert np.all(got < previous), f"r_wire {rw}: {got} not below {previous}"
        previous = got


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lm=layer_matrices(), options=mapping_options(), r_wire=st.floats(1e-3, 50.0), data=st.data())
def test_reduced_tiles_have_the_ladders_port_currents(lm, options, r_wire, data):
    """The port reduction is exact: with any drive, every sense current (what the neurons see) and every
    driver current (what the drivers deliver) of the reduced unit equal the full ladder's."""
    ladder = dataclasses.replace(options, r_wire_ohm=r_wire, wire_model="ladder")
    reduced = dataclasses.replace(ladder, wire_model="reduced")
    n_rows = lm.matrix.shape[0]
    volts = data.draw(st.lists(st.floats(-0.3, 0.3), min_size=n_rows, max_size=n_rows))
    drive = dict(enumerate(volts))
    for (u, _, c_lad, _), (_, _, c_red, _) in zip(build_units(lm, ladder, "integrate", positions=[0]),
                                                  build_units(lm, reduced, "integrate", positions=[0])):
        want = dc_sense_currents(c_lad, drive, prefixes=("Vs", "Vx"))
        got = dc_sense_currents(c_red, drive, prefixes=("Vs", "Vx"))
        assert want.keys() == got.keys()
        scale = max(1e-18, max(abs(v) for v in want.values()))
        # tolerance: the dense ladder solve itself carries an error ~1e-16 x its condition (wire / cell conductance)
        # (and of a driver much stronger than the cells: its conductance 1/r_driver enters squared)
        rel = max(1e-9, 1e-14 / (r_wire * options.conductance.g_min_s),
                  1e-14 / (options.r_driver_ohm * options.conductance.g_min_s) if options.r_driver_ohm > 0 else 0.0)
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=rel, abs=1e-9 * scale), f"{u.name}/{name}"


# -- 5. golden netlists ---------------------------------------------------------------------------------

GOLDEN_W = np.array([[0.5, -1.0],
                     [0.25, 0.75],
                     [-0.5, 0.125]])      # rows: input 0, input 1, bias


def golden_text(options: MappingOptions) -> str:
    lm = LayerMatrix(GOLDEN_W, np.array([[0, 1, BIAS]]), np.array([[0, 1]]), "golden")
    units = layer_units(0, lm, options)
    assert len(units) == 1
    unit = units[0]
    gmap = conductances(lm, 0, 0, v_read_v=CARD.timing.v_read_v, current_scale_a=SCALE_A, options=options,
                        name="golden")
    circuit = unit_circuit(unit, lm, gmap, unit_kind="heat", card=CARD, fast_card=FAST_CARD, n_steps=2,
                           options=options, title=f"golden unit {unit.name}")
    return format_ngspice(circuit)


def compare_golden(text: str, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("IPNET_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        pytest.skip(f"regenerated {path}; review the diff and rerun without IPNET_REGEN_GOLDEN")
    assert path.exists(), f"{path} is missing; create it with IPNET_REGEN_GOLDEN=1 (see the module docstring)"
    want = path.read_text().splitlines()
    got = text.splitlines()
    for k, (a, b) in enumerate(zip(want, got), start=1):
        if a != b:
            pytest.fail(f"{name} differs at line {k}:\n  golden: {a}\n  now:    {b}\n"
                        f"(if the change is intended, regenerate with IPNET_REGEN_GOLDEN=1)", pytrace=False)
    if len(want) != len(got):
        k = min(len(want), len(got)) + 1
        pytest.fail(f"{name}: golden has {len(want)} lines, now {len(got)}; first extra line {k}: "
                    f"{(want if len(want) > len(got) else got)[k - 1]!r} (regenerate with IPNET_REGEN_GOLDEN=1 "
                    f"if intended)", pytrace=False)


def test_golden_unit_ideal():
    compare_golden(golden_text(MappingOptions()), "unit_ideal.cir")


def test_golden_unit_wires():
    opts = MappingOptions(tile_rows=2, r_wire_ohm=1.0, r_driver_ohm=10.0, wire_model="ladder")
    assert len(layer_units(0, LayerMatrix(GOLDEN_W, np.zeros((1, 3), np.int64), np.zeros((1, 2), np.int64), ""),
                           opts)[0].row_blocks) == 2
    compare_golden(golden_text(opts), "unit_wires.cir")


def test_golden_unit_reduced():
    """The same unit with each tile reduced to its port equivalent (the default with wires): no wire nodes,
    no separate driver resistors."""
    opts = MappingOptions(tile_rows=2, r_wire_ohm=1.0, r_driver_ohm=10.0)
    assert opts.reduced
    compare_golden(golden_text(opts), "unit_reduced.cir")


def test_golden_reset_pulse_and_read_delay():
    """The reset PULSE of the golden unit follows the card's timing (what the golden file pins)."""
    t = CARD.timing
    line = next(l for l in golden_text(MappingOptions()).splitlines() if l.startswith("Vrst "))
    values = [float(v) for v in line[line.index("(") + 1:-1].split()]
    assert values == pytest.approx([0.0, t.v_reset_v, read_delay_s(CARD), t.t_rise_s, t.t_fall_s,
                                    t.t_reset_s - t.t_rise_s, t.t_step_s], rel=1e-15, abs=0)
    # the pulse rises from the read time, is high until t_step - t_fall and has fallen by the step's end
    assert read_delay_s(CARD) + t.t_rise_s + values[5] == pytest.approx(t.t_step_s - t.t_fall_s, abs=0)


def golden_port_text(options: MappingOptions, spikes: np.ndarray, drive: bool = False) -> str:
    from ipnet_cosim.netlist_gen.unit_circuits import port_unit_circuit, row_levels_v, tile_ports
    from ipnet_cosim.netlist_gen.ports import UnitPorts, column_currents_pwl
    lm = LayerMatrix(GOLDEN_W, np.array([[0, 1, BIAS]]), np.array([[0, 1]]), "golden")
    unit, = layer_units(0, lm, options)
    gmap = conductances(lm, 0, 0, v_read_v=CARD.timing.v_read_v, current_scale_a=SCALE_A, options=options,
                        name="golden")
    ports = UnitPorts.from_tiles(tuple(tile_ports(gmap.g_plus_s[a:b], gmap.g_minus_s[a:b], options)
                                       for a, b in unit.row_blocks), unit.row_blocks)
    levels = row_levels_v(lm.gather[0], spikes, CARD.timing.v_read_v)
    circuit = port_unit_circuit(unit.name, n_tiles=len(unit.row_blocks), n_cols=2, unit_kind="heat",
                                mirror_gain=gmap.mirror_gain, card=CARD, fast_card=FAST_CARD, n_steps=spikes.shape[0],
                                options=options, currents=column_currents_pwl(ports, levels, CARD.timing),
                                drive=drive)
    return format_ngspice(circuit)


def test_golden_unit_ports():
    """The reduced golden unit as the port model simulate runs by default, for input spikes
    [[1, 0], [1, 1]]: PWL column currents into the sense sources, no crossbar, no row drivers; the mirrors
    feed each neuron through the bounded drive stage (the default network drive)."""
    opts = MappingOptions(tile_rows=2, r_wire_ohm=1.0, r_driver_ohm=10.0)
    text = golden_port_text(opts, np.array([[1.0, 0.0], [1.0, 1.0]]), drive=True)
    assert ".subckt" not in text and "\nVx" not in text and "\nR" not in text
    assert "\nND0 b0 a0 drv\n" in text and "\n.model drv ipnet_neuron_drive i_max_a=" in text
    assert "\nFp0_0 0 b0 Vsp0_0 " in text and "\nN0 a0 0 u rst th0 st0 mtjn\n" in text
    compare_golden(text, "unit_ports.cir")


def test_port_model_is_the_linear_map_of_the_crossbar():
    """Without wires the port conductances are G / (1 + R_d sum G_row); the column-current levels are
    sum_i A_ic V_i; the computed row-source energy equals the trapezoid integral of v i over the PWL; the
    driver share is R_d I^2 K."""
    from ipnet_cosim.netlist_gen.unit_circuits import row_levels_v, tile_ports
    from ipnet_cosim.netlist_gen.ports import UnitPorts, column_currents_pwl, column_levels_a, row_energy_j
    rng = np.random.default_rng(4)
    gp, gm = rng.uniform(1e-6, 1e-3, (5, 3)), rng.uniform(1e-6, 1e-3, (5, 3))
    opts = MappingOptions(r_driver_ohm=25.0)
    tile = tile_ports(gp, gm, opts)
    g = np.empty((5, 6))
    g[:, 0::2], g[:, 1::2] = gp, gm
    np.testing.assert_allclose(tile.row_col, g / (1 + 25.0 * g.sum(axis=1, keepdims=True)), rtol=1e-15)
    assert tile.row_row == ()
    ports = UnitPorts.from_tiles((tile,), ((0, 5),))
    spikes = (rng.random((3, 4)) < 0.5).astype(float)
    levels = row_levels_v(np.array([0, 1, PAD, 3, BIAS]), spikes, 0.2)
    assert np.all(levels[:, 2] == 0) and np.all(levels[:, 4] == 0.2)
    np.testing.assert_allclose(column_levels_a(ports, levels)[0], levels @ tile.row_col, rtol=1e-15)
    pwl = column_currents_pwl(ports, levels, CARD.timing)
    t_fine = np.sort(np.concatenate([np.array(p)[:, 0] for p in pwl.values()]))
    for name, points in pwl.items():
        c = 2 * int(name.split("_")[1]) + (name[1] == "m")
        want = sum(np.interp(t_fine, *np.array(CARD.timing.pulse_pwl(levels[:, i])).T, right=0.0) * tile.row_col[i, c]
                   for i in range(5))
        np.testing.assert_allclose(np.interp(t_fine, *np.array(points).T, right=0.0), want, rtol=1e-12, atol=1e-18)
    e_src, e_rd = row_energy_j(ports, levels, CARD.timing, 25.0)
    i_row = levels * tile.row_col.sum(axis=1)
    for i in range(5):
        v = np.array(CARD.timing.pulse_pwl(levels[:, i]))
        # v i = v^2 Y_ii is quadratic on each PWL segment: Simpson's rule is exact per segment
        t0, t1, v0, v1 = v[:-1, 0], v[1:, 0], v[:-1, 1], v[1:, 1]
        seg = (t1 - t0) / 6 * (v0 ** 2 + 4 * ((v0 + v1) / 2) ** 2 + v1 ** 2) * tile.row_col[i].sum()
        np.testing.assert_allclose(e_src[:, i].sum(), seg.sum(), rtol=1e-9)
    unit = np.array(CARD.timing.pulse_pwl([1.0]))          # integral of the unit pulse's square, Simpson per segment
    t0, t1, v0, v1 = unit[:-1, 0], unit[1:, 0], unit[:-1, 1], unit[1:, 1]
    k_ref = float(np.sum((t1 - t0) / 6 * (v0 ** 2 + 4 * ((v0 + v1) / 2) ** 2 + v1 ** 2)))
    np.testing.assert_allclose(e_rd, 25.0 * i_row ** 2 * k_ref, rtol=1e-12)
