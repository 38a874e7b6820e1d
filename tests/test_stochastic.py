"""Stochastic firing at network level: the draws as data, the units under draws, the accuracy as a distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from _small_net import SMALL_DATA, make_small_checkpoint
from ipnet_cosim.cli.app import main
from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.draws import Firing, coin_flip_hazard_band, firing_probability, neuron_draws
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.statistics import accuracy_distribution, wilson_interval
from ipnet_cosim.models.checkpoint import load_checkpoint
from ipnet_cosim.models.datasets import load_dataset
from ipnet_cosim.models.firing import RecordedDraws, SampledDraws
from ipnet_cosim.models.neuron import ThermalMTJNeuron
from ipnet_cosim.models.stochastic import evaluate_firing
from ipnet_cosim.models.train import evaluate
from ipnet_cosim.models.units import HeatMemoryNeurons, ThresholdMTJNeurons, memoryless_card


# -- the draws ------------------------------------------------------------------------------------------------

def test_draws_are_pinned_by_their_definition():
    """The first draws of (seed 0, draw 0, sample 0, layer 0) from the stated definition: a change of NumPy's
    stream, or of the mapping from words to u, would silently change every stochastic circuit."""
    words = np.random.PCG64(np.random.SeedSequence([0, 0, 0, 0])).random_raw(3)
    expected = [((int(w) >> 12) * 2 + 1) / 2.0 ** 53 for w in words]
    assert neuron_draws(0, 0, 0, 0, (3,)).tolist() == expected
    assert neuron_draws(7, 2, 11, 1, (4, 5)).tolist() == neuron_draws(7, 2, 11, 1, (4, 5)).tolist()


def test_draws_lie_strictly_inside_the_unit_interval_as_odd_multiples_of_2_to_minus_53():
    u = neuron_draws(3, 1, 4, 2, (200, 500))
    assert u.dtype == np.float64 and 0.0 < u.min() and u.max() < 1.0
    k = u * 2.0 ** 53
    assert np.array_equal(k, np.round(k)) and np.all(np.mod(k, 2) == 1)


def test_draws_are_uniform():
    u = neuron_draws(0, 0, 0, 0, (100_000,))
    assert stats.kstest(u, "uniform").pvalue > 0.01
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    assert stats.chisquare(counts).pvalue > 0.01


@pytest.mark.parametrize("other", [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)])
def test_draws_are_independent_across_seed_draw_sample_and_layer(other):
    a = neuron_draws(0, 0, 0, 0, (50, 400)).ravel()
    b = neuron_draws(*other, (50, 400)).ravel()
    r = np.corrcoef(a, b)[0, 1]
    assert abs(r) < 4.0 / math.sqrt(a.size)          # 4 standard errors of a zero correlation
    assert not np.array_equal(a, b)


def test_draws_are_independent_across_neurons_and_steps():
    u = neuron_draws(5, 0, 9, 0, (400, 300))          # [steps, neurons]
    n = u.size
    for lagged in ((u[1:], u[:-1]), (u[:, 1:], u[:, :-1])):     # next step, next neuron
        r = np.corrcoef(lagged[0].ravel(), lagged[1].ravel())[0, 1]
        assert abs(r) < 4.0 / math.sqrt(n)


@pytest.mark.parametrize("args", [(-1, 0, 0, 0), (0, -1, 0, 0), (0, 0, 1.5, 0), (0, 0, 0, True)])
def test_bad_draw_indices_are_named(args):
    with pytest.raises(ConfigError, match="neuron draws"):
        neuron_draws(*args, (2,))


def test_firing_record_round_trips_and_refuses_bad_settings():
    f = Firing("stochastic", seed=3, draws=10)
    assert Firing.from_dict(f.to_dict()) == f
    assert Firing.from_dict(None) == Firing()
    assert "idealisation" in Firing().describe() and "10 draw(s)" in f.describe()
    for bad, match in (({"mode": "coin"}, "unknown"), ({"mode": "stochastic", "draws": 0}, "at least 1"),
                       ({"mode": "median", "draws": 3}, "median mode"), ({"seed": -1}, "seed"),
                       ({"mode": "median", "bogus": 1}, "unknown key")):
        with pytest.raises(ConfigError, match=match):
            Firing.from_dict(bad)


def test_coin_flip_band_is_the_probability_band():
    h_lo, h_hi = coin_flip_hazard_band()
    assert firing_probability(np.array([h_lo, h_hi])) == pytest.approx([0.05, 0.95], rel=1e-12, abs=0)


# -- statistics -----------------------------------------------------------------------------------------------

def test_accuracy_distribution_of_a_known_table():
    correct = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=bool)
    d = accuracy_distribution(correct)
    assert d["mean"] == pytest.approx(9 / 16)
    assert d["per_draw"] == pytest.approx([0.75, 0.5, 0.5, 0.5])
    assert d["std_over_draws"] == pytest.approx(np.std([0.75, 0.5, 0.5, 0.5], ddof=1))
    assert (d["min"], d["max"]) == (0.5, 0.75)
    assert (d["always_correct"], d["never_correct"]) == (1, 1)
    ci = stats.binomtest(2, 4).proportion_ci(method="wilson")          # 2.25 draw-averaged successes -> 2
    assert d["ci95"] == pytest.approx([ci.low, ci.high])
    assert math.isnan(wilson_interval(0, 0)[0])


# -- the units under draws ------------------------------------------------------------------------------------

def _currents(t, n, scale, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(t, n, generator=g, dtype=torch.float64) * scale


def test_heat_memory_unit_under_draws_is_the_foundation_neuron_in_stochastic_mode():
    card = DeviceCard()
    unit = HeatMemoryNeurons(card, 2.0, 8, 2)
    unit.precision = "exact"
    i = _currents(10, 400, 300e-6, 1)
    u = torch.from_numpy(neuron_draws(1, 0, 0, 0, (10, 400)))
    ref, _ = ThermalMTJNeuron(card, mode="stochastic", keep_heat=True)(i, u=u)
    out = unit(i, u)
    assert torch.equal(out, ref)
    assert not torch.equal(out, unit(i))                 # the draws change spikes: not the median mode


def test_memoryless_unit_under_draws_is_the_cold_started_neuron():
    card = memoryless_card(DeviceCard(), 1e-10)
    unit = ThresholdMTJNeurons(card, 2.0)
    unit.precision = "exact"
    i = _currents(12, 300, 1.5 * unit.i_th_a, 2)
    u = torch.from_numpy(neuron_draws(2, 0, 0, 1, (12, 300)))
    ref, _ = ThermalMTJNeuron(card, mode="stochastic", keep_heat=False)(i, u=u)
    assert torch.equal(unit(i, u), ref)


def test_draws_of_one_half_are_the_median_mode():
    card = DeviceCard()
    for unit in (HeatMemoryNeurons(card, 2.0, 8, 2), ThresholdMTJNeurons(memoryless_card(card, 1e-10), 2.0)):
        unit.precision = "exact"
        i = _currents(8, 500, 300e-6, 3)
        assert torch.equal(unit(i, torch.full_like(i, 0.5)), unit(i))


def test_memoryless_unit_fires_with_probability_one_minus_exp_minus_hazard():
    card = memoryless_card(DeviceCard(), 1e-10)
    unit = ThresholdMTJNeurons(card, 2.0)
    unit.precision = "exact"
    currents = torch.tensor([0.97, 1.0, 1.02], dtype=torch.float64) * unit.i_th_a
    n = 20_000
    i = currents.to(torch.float64).repeat(n, 1)                              # [n steps, 3 currents]
    u = torch.from_numpy(neuron_draws(4, 0, 0, 0, (n, 3)))
    spikes, info = unit(i, u, details=True)
    p = torch.from_numpy(firing_probability(info.hazard[0].numpy()))
    rate = spikes.mean(dim=0)
    sigma = torch.sqrt(p * (1 - p) / n)
    assert torch.all(torch.abs(rate - p) < 4 * sigma), (rate, p)
    assert 0.1 < float(p[0]) < 0.5 < float(p[2]) < 0.9             # the coin-flip band, resolved
    assert float(p[1]) == pytest.approx(0.5, abs=1e-9)            # I_th is the median mode's threshold


# -- the network and its evaluation ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = make_small_checkpoint(tmp_path_factory.mktemp("small"))
    ck = load_checkpoint(folder)
    _, test = load_dataset(SMALL_DATA)
    return ck, test


def test_median_evaluation_is_the_plain_evaluation(small):
    ck, test = small
    model = ck.model.set_precision("exact")
    res = evaluate_firing(model, test.frames, test.labels, Firing())
    assert res["accuracy"]["mean"] == evaluate(model, test.frames, test.labels)["accuracy"]
    assert [p[0] for p in res["predictions"]] == evaluate(model, test.frames, test.labels)["predictions"]
    assert [layer["kind"] for layer in res["layers"]] == ["heat-memory MTJ", "memoryless MTJ"]


def test_stochastic_evaluation_is_keyed_by_sample_not_by_batch(small):
    """The draws belong to (seed, draw, sample, layer): any batching gives the same outcomes, another seed others."""
    ck, test = small
    model = ck.model.set_precision("train")
    firing = Firing("stochastic", seed=1, draws=3)
    a = evaluate_firing(model, test.frames, test.labels, firing, batch_size=16)
    b = evaluate_firing(model, test.frames, test.labels, firing, batch_size=5)
    assert a["predictions"] == b["predictions"] and a["layers"] == b["layers"]
    c = evaluate_firing(model, test.frames, test.labels, Firing("stochastic", seed=2, draws=3))
    assert c["layers"] != a["layers"]
    # draws of one sample evaluated alone are that sample's draws in the full run
    k = 7
    one = evaluate_firing(model, test.frames[k:k + 1], test.labels[k:k + 1], firing, sample_ids=[k])
    assert one["predictions"][0] == a["predictions"][k]
    layer0 = a["layers"][0]
    assert 0 < layer0["coin_flip_fraction"] == pytest.approx(layer0["coin_flip_below_half"] +
                                                             layer0["coin_flip_above_half"])


def test_recorded_draws_are_the_device_definition_in_the_batch_layout():
    src = RecordedDraws.product(5, [3, 8], 2)
    u = src(1, (4, 4, 2, 3), torch.float64)
    assert torch.equal(u[:, 3].reshape(4, 6), torch.from_numpy(neuron_draws(5, 1, 8, 1, (4, 6))))
    assert torch.equal(u[:, 0].reshape(4, 6), torch.from_numpy(neuron_draws(5, 0, 3, 1, (4, 6))))
    with pytest.raises(ConfigError, match="batch of 3"):
        src(0, (4, 3, 6), torch.float64)


def test_coin_flip_variance_is_the_mean_bernoulli_variance_and_has_a_gradient(small):
    ck, test = small
    model = ck.model.set_precision("train")
    x = torch.as_tensor(test.frames[:4])
    _, trace = model(x, return_trace=True, draws=SampledDraws(torch.Generator().manual_seed(0)), details=True)
    value = model.coin_flip_variance(trace)
    by_hand = sum(float((p * (1 - p)).mean()) for p in
                  (-torch.expm1(-info.hazard.detach()) for info in trace["details"] if info is not None))
    assert float(value.detach()) == pytest.approx(by_hand, rel=1e-6)
    value.backward()
    assert model.ops[0].op.weight.grad is not None and float(model.ops[0].op.weight.grad.abs().sum()) > 0


def test_cli_evaluates_under_draws_and_names_bad_firing(small, capsys, tmp_path):
    ck, _ = small
    out = tmp_path / "eval.json"
    code = main(["evaluate", str(ck.path), "--precision", "train", "--firing", "stochastic", "--draws", "2",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "over 2 draws" in text and "coin-flip" in text
    import json
    data = json.loads(out.read_text())
    assert data["firing"] == {"mode": "stochastic", "seed": 0, "draws": 2}
    assert len(data["accuracy"]["per_draw"]) == 2
    code = main(["evaluate", str(ck.path), "--firing", "lucky"])
    err = capsys.readouterr().err
    assert code == 2 and "firing mode 'lucky' is unknown" in err and "Traceback" not in err


def test_hardware_finetuning_under_stochastic_firing_reports_its_stochastic_accuracy(small, tmp_path):
    from ipnet_cosim.chip.finetune import finetune_hardware
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    ck, _ = small
    metrics = finetune_hardware(ck.path, tmp_path / "ft", MappingOptions(), epochs=1, batch_size=8,
                                firing="stochastic")
    st = metrics["hardware_test_stochastic"]
    assert st["firing"] == {"mode": "stochastic", "seed": 0, "draws": 4} and len(st["accuracy"]["per_draw"]) == 4
    assert load_checkpoint(tmp_path / "ft").raw["hardware"]["firing"] == "stochastic"
    with pytest.raises(ConfigError, match="firing 'sometimes' is unknown"):
        finetune_hardware(ck.path, tmp_path / "never", MappingOptions(), firing="sometimes")
    assert not (tmp_path / "never").exists()


def test_hardware_finetuning_coin_flip_penalty_lowers_the_coin_flips_and_cosine_anneals_the_rate(small, tmp_path):
    """The penalty the hardware fine-tune adds is train's: with a large weight the fine-tuned network's neurons leave
    the coin-flip band (mean p(1-p) through the crossbars falls below the unpenalised run's from the same seed); penalty
    and schedule are recorded with the hardware; bad values are refused before anything is written."""
    from ipnet_cosim.chip.finetune import finetune_hardware
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    ck, test = small
    x = torch.from_numpy(np.ascontiguousarray(test.frames))

    def coin_flips(folder):
        model = load_checkpoint(folder).model.set_precision("exact").eval()
        with torch.no_grad():
            _, trace = HardwareNet(model, MappingOptions())(x, return_trace=True, details=True)
        return float(model.coin_flip_variance(trace))

    for pen in (0.0, 20.0):
        finetune_hardware(ck.path, tmp_path / f"p{pen:g}", MappingOptions(), epochs=2, batch_size=8, lr=5e-3,
                          firing="stochastic", coin_flip_penalty=pen, schedule="cosine")
    assert coin_flips(tmp_path / "p20") < 0.9 * coin_flips(tmp_path / "p0")
    hw = load_checkpoint(tmp_path / "p20").raw["hardware"]
    assert hw["coin_flip_penalty"] == 20.0 and hw["schedule"] == "cosine"
    for bad, match in (({"coin_flip_penalty": -1.0}, "coin_flip_penalty"), ({"coin_flip_penalty": float("nan")},
                       "coin_flip_penalty"), ({"schedule": "step"}, "schedule 'step' is unknown")):
        with pytest.raises(ConfigError, match=match):
            finetune_hardware(ck.path, tmp_path / "never", MappingOptions(), **bad)
    assert not (tmp_path / "never").exists()


def test_hardware_finetuning_gain_jitter_draws_a_gain_per_sample_and_layer_while_training_only(small, tmp_path):
    """``gain_sigma``: while training, every crossbar layer's outputs are multiplied by exp(sigma N), N per sample and
    layer (two copies of one sample differ; a vanishing sigma changes nothing); the hardware model evaluates as mapped
    afterwards, the jitter is recorded with the hardware, and bad values are refused before anything is written."""
    from ipnet_cosim.chip.finetune import finetune_hardware
    from ipnet_cosim.chip.hardware_net import HardwareNet
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    ck, test = small
    model = ck.model.set_precision("exact").eval()
    hw = HardwareNet(model, MappingOptions())
    x = torch.from_numpy(np.ascontiguousarray(test.frames[:1])).repeat(2, 1, 1, 1, 1)
    with torch.no_grad():
        plain = hw(x)
        torch.testing.assert_close(plain[0], plain[1], rtol=1e-12, atol=1e-12)
        hw.gain_jitter = (0.05, torch.Generator().manual_seed(3))
        jittered = hw(x)
        assert (jittered[0] - jittered[1]).abs().max() > 1e-4            # a gain per sample
        assert (jittered[0] - plain[0]).abs().max() > 1e-4
        hw.gain_jitter = (1e-15, torch.Generator().manual_seed(3))       # the multiplicative path is exact
        torch.testing.assert_close(hw(x), plain, rtol=1e-9, atol=1e-12)
    finetune_hardware(ck.path, tmp_path / "g", MappingOptions(), epochs=1, batch_size=8, gain_sigma=0.03)
    assert load_checkpoint(tmp_path / "g").raw["hardware"]["gain_sigma"] == 0.03
    for bad in (-0.1, float("nan"), True):
        with pytest.raises(ConfigError, match="gain_sigma"):
            finetune_hardware(ck.path, tmp_path / "never", MappingOptions(), gain_sigma=bad)
    assert not (tmp_path / "never").exists()
