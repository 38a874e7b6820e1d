"""The figures the README and the documentation (``docs/*.md``) quote from the committed benchmark JSON
(``benchmarks/data``) are the JSON's: a re-measured benchmark whose text was not updated (or the reverse) fails here.
A section is found by its heading in the README or in any page of ``docs/``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
# one row of the stochastic-inference sweep table
ROW_FORMAT = "{:.3f} +- {:.3f} | {:.3f} / {:.3f} / {:.3f} | {:.3f} (+- {:.2f} pJ) | {:.1f}"


def _section(title: str) -> str:
    """The text from the heading ``title`` (in the README or a page of docs/; it must be in exactly one) to the next
    heading of the same or a higher level."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        m = re.search(rf"^(#+) {re.escape(title)}\s*$", text, flags=re.M)
        if m:
            level = len(m.group(1))
            nxt = re.search(rf"^#{{1,{level}}} ", text[m.end():], flags=re.M)
            found.append(text[m.end():m.end() + nxt.start()] if nxt else text[m.end():])
    assert len(found) == 1, f"section '{title}' found {len(found)} times in the README and docs/ (want once)"
    return found[0]


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _bundled(d):
    return d["runs"]["bundled"]


def _median_trained(d):
    return d["runs"]["median_trained"]


def _point(delta0: float, v_dd: float) -> Callable[[dict], dict]:
    def get(d):
        return next(p for p in d["points"]
                    if p["parameters"] == {"mtj.delta0": delta0, "drive.v_dd_v": v_dd})
    return get


PRODUCER_NAMES = {"sinabs": "Sinabs {}", "sinabs_nmnist": "Sinabs {}, N-MNIST CNN at 2 x 34 x 34", "norse": "Norse {}",
                  "spikingjelly": "SpikingJelly {}", "snntorch": "snnTorch {}"}


def _producer_rows(d) -> str:
    """docs/nir.md's producer table, one row per imported layer, from nir_producers.json."""
    out = []
    for key, name in PRODUCER_NAMES.items():
        p = d["producers"][key]
        types = dict(p["nodes"])
        for i, layer in enumerate(p["layers"]):
            who = name.format(p["version"]) if i == 0 else ""
            rule = "exact" if layer["exact"] else "approximate"
            out.append(f"| {who} | `{' -> '.join(types[n] for n in layer['nodes'])}` | {layer['fold']} | "
                       f"{layer['neuron']}: {layer['unit']}, {rule} | {layer['equal_given_reference_input']:.3f} |")
    return " ".join(out)


def _sweep_figures() -> list[tuple[str, Callable[[dict], Any], str]]:
    out = []
    for delta0 in (40.0, 50.0, 60.0):
        for v_dd in (0.9, 0.8):
            pt = _point(delta0, v_dd)
            row = (lambda at: lambda d: ROW_FORMAT.format(
                at(d)["accuracy_mean"], at(d)["accuracy_std_over_draws"], *at(d)["coin_flip_fraction"].values(),
                at(d)["energy_per_inference_j"] * 1e9, at(d)["energy_per_inference_std_over_draws_j"] * 1e12,
                at(d)["soa_margin_k"]))(pt)
            out.append((f"delta0 {delta0:g}, v_dd {v_dd:g}: table row", row, "{}"))
    return out


def _temporal_figures() -> list[tuple[str, Callable[[dict], Any], str]]:
    """Every row of the temporal table: median | stochastic +- spread | layer-0 coin flips | before."""
    def cells(r: dict) -> str:
        bold = r.get("memory_at", "layer 0" if r["arch"] == "ipnet" else "") == "layer 0"
        mt = r.get("median_trained")
        parts = ["{:.3f}".format(r["test_accuracy"]),
                 ("**{:.3f}**" if bold else "{:.3f}").format(r["stochastic_accuracy"])
                 + " +- {:.3f}".format(r["stochastic_accuracy_std_over_draws"]),
                 "{:.3f}".format(r["coin_flip_fraction"]["0"]) if "0" in r["coin_flip_fraction"] else "",
                 "{:.3f} / {:.3f}".format(mt["test_accuracy"], mt["stochastic_accuracy"]) if mt else ""]
        return ("| " + " | ".join(parts) + " |").replace("|  |", "| |").replace("|  |", "| |")
    out: list[tuple[str, Callable[[dict], Any], str]] = []
    for part, n in (("frontier", 4), ("time_reversed_22", 7)):
        for k in range(n):
            out.append((f"{part} row {k}", (lambda name, row: lambda d: cells(d[name]["rows"][row]))(part, k), "{}"))
    return out


NOISE_COLUMNS = (("background", 0.0), ("background", 0.1), ("background", 0.5), ("hot_pixels", 16.0),
                 ("hot_pixels", 64.0), ("burst", 300.0), ("burst", 1000.0))


def _noise_figures() -> list[tuple[str, Callable[[dict], Any], str]]:
    def row(arch: str) -> Callable[[dict], str]:
        def get(d):
            acc = d["accuracy"]
            vals = [next(p["accuracy"] for p in acc[kind][arch] if p["level"] == level)
                    for kind, level in NOISE_COLUMNS]
            return f"| `{arch}` | " + " | ".join(f"{v:.3f}" for v in vals) + " |"
        return get
    out = [(f"{arch} row", row(arch), "{}") for arch in ("ipnet", "lstm", "conv2p1d", "conv3d")]
    out.append(("largest ratio", lambda d: "{:.2f}x (`{}`".format(*max(
        ((r["ratio"], r["baseline"]) for r in d["error_ratios"] if r["level"] > 0))), "{}"))
    out.append(("pairs where IPNet errs more", lambda d: "larger error in {} of the {}".format(
        sum(r["ratio"] < 1 for r in d["error_ratios"] if r["level"] > 0),
        sum(r["level"] > 0 for r in d["error_ratios"])), "{}"))
    return out


def _short_e(x: float) -> str:
    """``3.0e-3`` (the README's form of a small figure: one decimal, no zero-padded exponent)."""
    return f"{x:.1e}".replace("e-0", "e-").replace("e+0", "e+")


def _time_points_row(d: dict, variant: str) -> str:
    """A variant's row of the time-points table: points | iterations | ms | spikes | peak K | energy."""
    v = next(v for v in d["variants"] if v["variant"] == variant)
    cells = ["{:.1f}".format(v["timepoints_per_neuron_step"]),
             "{:.2f}".format(v["newton_iterations_per_timepoint"]) if "newton_iterations_per_timepoint" in v else "",
             "{:.3f}".format(v["ms_per_neuron_step"])]
    a = v.get("agreement_with_twin")
    cells += ([str(a["spikes_differ"]), "{:.3f} K".format(a["t_peak_max_abs_diff_k"]),
               "{:.1e}".format(a["energy_total_rel_diff"])] if a else ["", "", ""])
    bold = variant == "as_exported"
    return " | ".join(f"**{c}**" if bold and c else c for c in cells) + " |"


def _chip_row(key: str, label: str) -> Callable[[dict], str]:
    """A row of the default-chip comparison: before | fine-tuned | trimmed | energy | area | read energy per weight."""
    def get(d):
        c = d["configs"][key]
        r = c["report"]
        tuned = ("{:.3f}; **{:.3f}** ({:.3f})".format(c["finetuned_by_chip"]["0"], c["unseen_chips_mean"],
                                                      c["unseen_chips_min"]) if "unseen_chips_mean" in c else None)
        trimmed = ("{:.3f}; **{:.3f}** ({:.3f})".format(c["trimmed_by_chip"]["0"]["accuracy"],
                                                        c["trimmed_unseen_chips_mean"], c["trimmed_unseen_chips_min"])
                   if "trimmed_unseen_chips_mean" in c else None)
        start = "| {} | {:.3f} | {}".format(label, c["before_finetune_chip0"], tuned or "not run")
        return start + (" | {}".format(trimmed or "not run") if tuned else ""), \
            "| {:.2f} nJ | {:,.0f} um^2 | {:.3g} fJ |".format(r["energy_per_inference_j"] * 1e9,
                                                             r["area_total_m2"] * 1e12,
                                                             r["read_energy_per_weight_j"] * 1e15)
    return get


def _sweep_point(g_max_s: float, tile: int) -> Callable[[dict], dict]:
    return lambda d: next(p for p in d["points"] if p["parameters"] == {"g_max_s": g_max_s, "tile_rows": tile,
                                                                        "tile_cols": tile})


# (benchmark JSON, README section, [(what, value getter, format)])
# the demo's headline, quoted in the README and in docs/energy.md
DEMO_FIGURES: list[tuple[str, Callable[[dict], Any], str]] = [
    ("wall", lambda d: d["wall_s"], "**{:.1f} s**"),
    ("twin", lambda d: "{:.3f} (95 % interval {:.3f}-{:.3f})".format(d["twin"]["accuracy"], d["twin"]["ci95_low"],
                                                                     d["twin"]["ci95_high"]), "| {} |"),
    ("twin samples", lambda d: int(d["twin"]["samples"]), "accuracy, twin, {} test samples"),
    ("circuit", lambda d: "{:.3f} (95 % interval {:.3f}-{:.3f}); the twin's class on {} of {} samples; {} "
     "neuron-steps differ".format(d["circuit"]["accuracy"], d["circuit"]["ci95_low"], d["circuit"]["ci95_high"],
                                  int(d["agreement"]["samples_agreeing"]), int(d["circuit"]["samples"]),
                                  int(d["agreement"]["differing_neuron_steps"])), "{}"),
    ("circuit samples", lambda d: "{} samples over {} classes".format(int(d["circuit"]["samples"]),
                                                                     int(d["circuit"]["classes"])), "{}"),
    ("per inference", lambda d: "{:.2f} nJ, latency {:.0f} ns, power {:.1f} mW".format(
        d["energy_per_inference_j"] * 1e9, d["latency_s"] * 1e9, d["power_w"] * 1e3), "{}"),
    ("area", lambda d: d["area_m2"] * 1e12, "| {:,.0f} um^2 |"),
    ("lstm", lambda d: d["paper"][0]["ours"], "{:,.0f}x (paper 2,874x"),
    ("conv3d", lambda d: d["paper"][1]["ours"], "{:,.0f}x (paper 90,920x)"),
]

FIGURES: list[tuple[str, str, list[tuple[str, Callable[[dict], Any], str]]]] = [
    ("default_chip.json", "The default chip", [
        *[(f"{key} row start", (lambda g: lambda d: g(d)[0])(_chip_row(key, label)), "{}")
          for key, label in (("pcm:1x4", "`pcm`, 1 slice, 4 devices per cell"), ("pcm:1", "`pcm`, 1 slice, 1 device"),
                             ("rram_1t1r:1", "`rram_1t1r`, 1 slice"), ("stt_mram:4", "`stt_mram`, 4 slices"),
                             ("stt_mram:4:32", "`stt_mram`, 4 slices, 32 x 32 tiles"))],
        *[(f"{key} row end", (lambda g: lambda d: g(d)[1])(_chip_row(key, key)), "{}")
          for key in ("pcm:1x4", "pcm:1", "rram_1t1r:1", "stt_mram:4", "stt_mram:4:32")],
        ("wire", lambda d: d["configs"]["pcm:1x4"]["r_wire_ohm"], "wires of {:.2f} ohm per cell segment"),
        ("unseen mean", lambda d: d["configs"]["pcm:1x4"]["unseen_chips_mean"], "reaches {:.3f} on average"),
        ("exported chip", lambda d: "it chose {:g}, where the test set gives {:.3f} against {:.3f} untrimmed".format(
            d["configs"]["pcm:1x4"]["trimmed_by_chip"]["0"]["gain_trims"][0],
            d["configs"]["pcm:1x4"]["trimmed_by_chip"]["0"]["accuracy"],
            d["configs"]["pcm:1x4"]["finetuned_by_chip"]["0"]),
         "{}"),
        ("one device unseen", lambda d: d["configs"]["pcm:1"]["unseen_chips_mean"], "with one device per cell {:.3f}"),
        ("trimmed mean", lambda d: "{:.3f} on average (lowest {:.3f}".format(
            d["configs"]["pcm:1x4"]["trimmed_unseen_chips_mean"], d["configs"]["pcm:1x4"]["trimmed_unseen_chips_min"]),
         "the 5 unseen chips reach {}"),
        ("trims", lambda d: ", ".join("{:g}".format(d["configs"]["pcm:1x4"]["trimmed_by_chip"][str(c)]["gain_trims"][0])
                                      for c in range(1, 6)), "with trims {} ("),
        ("calibration minutes", lambda d: "{:.0f} minutes".format(np.mean(
            [v["calibration_seconds"] for v in d["configs"]["pcm:1x4"]["trimmed_by_chip"].values()]) / 60),
         "13 trial codes, about {} on 2 cores"),
        ("four devices' cost", lambda d: "{:.1f}x the area (the cells and the periphery sized for their fourfold "
         "current) for {:.0f} points".format(
             d["configs"]["pcm:1x4"]["report"]["area_total_m2"] / d["configs"]["pcm:1"]["report"]["area_total_m2"],
             100 * (d["configs"]["pcm:1x4"]["unseen_chips_mean"] - d["configs"]["pcm:1"]["unseen_chips_mean"])),
         "per cell cost {}"),
    ]),
    ("sweep_chip.json", "The default chip", [
        ("area at G_max", lambda d: "{:,.0f} to {:,.0f} um^2".format(_sweep_point(2.5e-5, 128)(d)["area_m2"] * 1e12,
                                                                     _sweep_point(1.25e-5, 128)(d)["area_m2"] * 1e12),
         "takes the area from {}"),
        ("energy at G_max", lambda d: "{:.3f} to {:.3f} nJ".format(
            _sweep_point(2.5e-5, 128)(d)["energy_per_inference_j"] * 1e9,
            _sweep_point(1.25e-5, 128)(d)["energy_per_inference_j"] * 1e9), "energy per inference from {}"),
        ("64 tiles", lambda d: "{:,.0f} um^2 and {:.3f} nJ".format(
            _sweep_point(2.5e-5, 64)(d)["area_m2"] * 1e12, _sweep_point(2.5e-5, 64)(d)["energy_per_inference_j"] * 1e9),
         "64 x 64 tiles take {}"),
    ]),
    ("gain_sensitivity.json", "The default chip", [
        ("first-layer gain", lambda d: "{:.3f} to {:.3f} or {:.3f}".format(
            d["accuracy"]["chip 2, gain 1"], d["accuracy"]["chip 2, gain 0.98"], d["accuracy"]["chip 2, gain 1.02"]),
         "takes an unseen chip (2) from {}"),
        ("exported chip gain", lambda d: "{:.3f} to {:.3f} or {:.3f}".format(
            d["accuracy"]["chip 0, gain 1"], d["accuracy"]["chip 0, gain 0.99"], d["accuracy"]["chip 0, gain 1.01"]),
         "and the exported chip at 1 % from {}"),
    ]),
    ("demo_run.json", "Measured: `ipnet-cosim demo` (the README's main command)", DEMO_FIGURES),
    ("demo_run.json", "Headline results", DEMO_FIGURES),
    ("default_chip.json", "Headline results", [
        ("unseen mean", lambda d: d["configs"]["pcm:1x4"]["unseen_chips_mean"], "reaches **{:.3f}** on average"),
        ("unseen lowest", lambda d: d["configs"]["pcm:1x4"]["unseen_chips_min"], "(lowest {:.3f})"),
        ("trimmed mean", lambda d: d["configs"]["pcm:1x4"]["trimmed_unseen_chips_mean"], "**{:.3f}** with each chip"),
    ]),
    ("stochastic_ipnet.json", "Measured: stochastic firing", [
        ("bundled, stochastic mean", lambda d: _bundled(d)["stochastic"]["accuracy"]["mean"], "{:.3f}"),
        ("bundled, spread over draws", lambda d: _bundled(d)["stochastic"]["accuracy"]["std_over_draws"], "{:.3f}"),
        ("bundled, lowest draw", lambda d: _bundled(d)["stochastic"]["accuracy"]["min"], "{:.3f}"),
        ("bundled, highest draw", lambda d: _bundled(d)["stochastic"]["accuracy"]["max"], "{:.3f}"),
        ("bundled, interval low", lambda d: _bundled(d)["stochastic"]["accuracy"]["ci95"][0], "{:.3f}"),
        ("bundled, median mode", lambda d: _bundled(d)["median"]["accuracy"]["mean"], "{:.3f}"),
        ("bundled, layer-0 coin flips", lambda d: _bundled(d)["stochastic"]["layers"][0]["coin_flip_fraction"],
         "{:.3f}"),
        ("median-trained, stochastic mean", lambda d: _median_trained(d)["stochastic"]["accuracy"]["mean"],
         "{:.3f}"),
        ("median-trained, median mode", lambda d: _median_trained(d)["median"]["accuracy"]["mean"], "{:.3f}"),
        ("median-trained, layer-0 coin flips",
         lambda d: _median_trained(d)["stochastic"]["layers"][0]["coin_flip_fraction"], "{:.3f}"),
        ("draws", lambda d: d["draws"], "{}"),
    ]),
    ("stochastic_ipnet_issue31.json", "Measured: stochastic firing", [
        ("bundled under issue 31's model", lambda d: "{:.3f} +- {:.3f} under stochastic firing ({:.3f}-{:.3f} over "
         "the {} draws, 95 % interval {:.3f}-{:.3f}) and {:.3f} in the median mode".format(
             d["runs"]["bundled"]["stochastic"]["accuracy"]["mean"],
             d["runs"]["bundled"]["stochastic"]["accuracy"]["std_over_draws"],
             d["runs"]["bundled"]["stochastic"]["accuracy"]["min"],
             d["runs"]["bundled"]["stochastic"]["accuracy"]["max"],
             d["runs"]["bundled"]["stochastic"]["accuracy"]["draws"],
             *d["runs"]["bundled"]["stochastic"]["accuracy"]["ci95"],
             d["runs"]["bundled"]["median"]["accuracy"]["mean"]),
         "{}"),
    ]),
    ("stochastic_circuit.json", "Measured: stochastic firing", [
        ("neuron-steps compared", lambda d: d["neuron_steps_compared"], "{:,}"),
        ("neuron-steps differing", lambda d: d["neuron_steps_differing"], "{}"),
        ("classes agreeing", lambda d: d["classes_agree"], "{}"),
        ("sample-draws", lambda d: d["sample_draws"], "{}"),
        ("circuit accuracy mean", lambda d: d["circuit_accuracy"]["mean"], "{:.3f}"),
        ("ties", lambda d: sum(la["mismatches_tie"] for e in d["draws"] for la in e["layers"]), "{} numerical ties"),
        ("downstream", lambda d: sum(la["mismatches_downstream"] for e in d["draws"] for la in e["layers"]),
         "{} downstream of one"),
        ("layer-0 margin", lambda d: _short_e(max(e["layers"][0]["largest_mismatch_margin"] for e in d["draws"])),
         "margins up to {} in ln H"),
        ("wall per draw", lambda d: "{:.0f}-{:.0f} s".format(min(e["wall_s"] for e in d["draws"]),
                                                             max(e["wall_s"] for e in d["draws"])),
         "{} of wall time per draw"),
    ]),
    ("sweep_stochastic.json", "Measured: a sweep ranked by stochastic accuracy", _sweep_figures()),
    ("temporal_stochastic.json", "Measured: the temporal benchmarks under stochastic firing", _temporal_figures()),
    ("noise_stochastic.json", "Measured: the noise claim under stochastic firing", _noise_figures()),
    ("twin_speed.json", "Energy and area (`ipnet-cosim report`)", [
        ("ideal, batched", lambda d: "{wall_s:.1f} s wall ({user_s:.1f} s user, {sys_s:.1f} s system)".format(
            **d["runs"][0]), "{}"),
        ("rram, batched", lambda d: d["runs"][1]["wall_s"], "{:.1f} s on the 1T1R RRAM chip"),
        ("batch", lambda d: d["twin_batch"], "runs {} samples per forward pass"),
    ]),
    ("sample_inference.json", "Measured: fast exact crossbar simulation (port model, scale-out, VACASK)", [
        ("one sample, 1 worker", lambda d: d["latency"][0]["simulation_wall_s"], "| {:.2f} s |"),
        ("one sample, 2 workers", lambda d: d["latency"][1]["simulation_wall_s"], "**{:.2f} s**"),
        ("one sample, vacask", lambda d: d["simulator_comparison"]["simulation_wall_s"], "| {:.2f} s |"),
        ("batch, 1 worker", lambda d: d["batch"][0]["wall_per_sample_s"], "| {:.2f} s |"),
        ("batch, 2 workers", lambda d: "**{:.2f} s** ({:.2f}x)".format(d["batch"][1]["wall_per_sample_s"],
                                                                       d["speedup_2_vs_1_workers"]), "{}"),
        ("vacask energy per layer",
         lambda d: _short_e(max(v["total_rel"] for k, v in d["simulator_comparison"]["against_main"].items()
                                if k.endswith("_neuron_j"))), "within {} in total"),
        ("vacask peak temperatures",
         lambda d: _short_e(max(v["max_rel_of_peak"] for k, v in d["simulator_comparison"]["against_main"].items()
                                if k.endswith("_t_peak_k"))), "peak temperatures within {}"),
        ("vacask peak voltages",
         lambda d: _short_e(max(v["max_rel_of_peak"] for k, v in d["simulator_comparison"]["against_main"].items()
                                if k.endswith("_v_peak_v"))), "peak MTJ voltages within {} of peak"),
    ]),
    ("test_set_circuit.json", "Measured: fast exact crossbar simulation (port model, scale-out, VACASK)", [
        ("samples", lambda d: d["samples"], "all {} test samples"),
        ("circuit accuracy and interval", lambda d: "circuit accuracy {:.3f} (95 % interval {:.3f}-{:.3f})".format(
            d["circuit_accuracy"], *d["circuit_accuracy_ci95"]), "{}"),
        ("twin accuracy", lambda d: d["twin_accuracy"], "twin {:.3f}"),
        ("classes agree", lambda d: "{} of {}".format(d["classes_agree"], d["samples"]), "classes agree in {}"),
        ("layer-0 differences", lambda d: "{:,} of {:,} layer-0 neuron-steps differ: {} numerical ties".format(
            d["layers"][0]["mismatches"], d["layers"][0]["neuron_steps"], d["layers"][0]["mismatches_tie"]), "{}"),
        ("largest layer-0 margin", lambda d: _short_e(d["layers"][0]["largest_mismatch_margin"]), "margins up to {}"),
        ("layers 1 and 2", lambda d: "{} and {} differences, {} and {} downstream".format(
            d["layers"][1]["mismatches"], d["layers"][2]["mismatches"], d["layers"][1]["mismatches_downstream"],
            d["layers"][2]["mismatches_downstream"]), "{}"),
        ("simulator time per sample", lambda d: d["simulator_time_per_sample_s"], "{:.2f} s of ngspice per sample"),
        ("wall", lambda d: "{:.1f} min wall end to end ({:.1f} min of simulation, {:.2f} s per sample".format(
            d["wall_s"] / 60, d["simulation_wall_s"] / 60, d["wall_per_sample_s"]), "{}"),
    ]),
    ("test_set_circuit_hardware.json", "Measured: fast exact crossbar simulation (port model, scale-out, VACASK)", [
        ("fine-tuning", lambda d: d["finetune_seconds"], "new chip every mini-batch; {:.1f} s)"),
        ("wall", lambda d: "{:.1f} min wall end to end ({:.1f} min of simulation, {:.2f} s per sample".format(
            d["wall_s"] / 60, d["simulation_wall_s"] / 60, d["wall_per_sample_s"]), "{}"),
        ("circuit accuracy and interval", lambda d: "circuit accuracy {:.3f} (95 % interval {:.3f}-{:.3f})".format(
            d["circuit_accuracy"], *d["circuit_accuracy_ci95"]), "{}"),
        ("hardware model", lambda d: "of that chip {:.3f} (computed; the network without crossbars {:.3f})".format(
            d["twin_accuracy"], d["network_accuracy_without_crossbars"]), "{}"),
        ("classes agree", lambda d: "{} of {}".format(d["classes_agree"], d["samples"]), "classes agree in {}"),
        ("layer-0 differences", lambda d: "{} of {:,} layer-0 neuron-steps differ: {} numerical ties, margins up to "
                                          "{}, "
         "and {} downstream".format(d["layers"][0]["mismatches"], d["layers"][0]["neuron_steps"],
                                    d["layers"][0]["mismatches_tie"],
                                    _short_e(d["layers"][0]["largest_mismatch_margin"]),
                                    d["layers"][0]["mismatches_downstream"]), "{}"),
        ("layers 1 and 2", lambda d: "{} and {} differences, {} and {} downstream".format(
            d["layers"][1]["mismatches"], d["layers"][2]["mismatches"], d["layers"][1]["mismatches_downstream"],
            d["layers"][2]["mismatches_downstream"]), "{}"),
        ("simulator time per sample", lambda d: d["simulator_time_per_sample_s"], "{:.2f} s of ngspice per sample"),
    ]),
    ("time_points.json", "Measured: fast exact crossbar simulation (port model, scale-out, VACASK)",
     [(f"{v['variant']} row", (lambda var: lambda d: _time_points_row(d, var["variant"]))(v), "{}")
      for v in json.loads((DATA / "time_points.json").read_text(encoding="utf-8"))["variants"]] + [
        ("near-threshold steps", lambda d: d["variants"][0]["agreement_with_twin"]["near_threshold_neuron_steps"],
         "the {} unfired neuron-steps"),
        ("hazard error", lambda d: _short_e(d["variants"][0]["agreement_with_twin"]["margin_max_abs_diff"]),
         "within {} in ln H of the twin's"),
        ("hazard error at hazard_scale 1e-13", lambda d: _short_e(next(
            v for v in d["variants"] if v["variant"] == "hazard_scale=1e-13")["agreement_with_twin"]
            ["margin_max_abs_diff"]), "strays up to {} in ln H"),
        ("switch_scale 1e-12 cost", lambda d: 100 * (next(v for v in d["variants"] if v["variant"] ==
                                                           "switch_scale=1e-12")["timepoints_per_neuron_step"]
                                                      / d["variants"][0]["timepoints_per_neuron_step"] - 1),
         "1e-12 costs {:.0f} % more points"),
        ("instant reversal iterations", lambda d: next(
            v for v in d["variants"] if v["variant"].startswith("instant_switch"))["newton_iterations_per_timepoint"]
            / d["variants"][0]["newton_iterations_per_timepoint"], "the instant reversal costs {:.1f}x"),
        ("points per deck-step", lambda d: "~{:.0f} points per 8-neuron deck: {:.0f} in the reset".format(
            sum(d["variants"][0]["timepoints_per_deck_step_by_part"].values()),
            d["variants"][0]["timepoints_per_deck_step_by_part"]["reset"]), "{}")]),
    ("characterize_neuron.json", "Measured", [
        ("cold threshold", lambda d: "**{:.1f} uA** ({:.2f} V across the junction)".format(
            d["cold_threshold_a"] * 1e6, d["cold_threshold_v"]), "{}"),
        ("drive ceiling", lambda d: "**{:.0f} uA** ({:.2f}x that)".format(
            d["drive_i_max_a"] * 1e6, d["drive_i_max_a"] / d["cold_threshold_a"]), "{}"),
        ("plasticity", lambda d: "probability {:.3f} from ambient fires with **{:.3f}** one step".format(
            d["plasticity"]["baseline_p_spice"], d["plasticity"]["p_spice"][0]), "{}"),
        ("pytorch", lambda d: d["plasticity"]["p_torch_expected"][0], "expected mode {:.3f}"),
        ("largest difference", lambda d: max(abs(a - b) for a, b in zip(d["plasticity"]["p_spice"],
                                                                         d["plasticity"]["p_torch_expected"])),
         "at most {:.3f} apart"),
        ("in standard errors", lambda d: max(abs(a - b) / math.sqrt(b * (1 - b) / d["trials"]) for a, b in zip(
            d["plasticity"]["p_spice"], d["plasticity"]["p_torch_expected"])), "within {:.1f} binomial"),
        ("heat left", lambda d: d["plasticity"]["t_rise_k_test_start_spice"][0], "leaves {:.1f} K"),
        ("tau", lambda d: d["plasticity"]["tau_fit_s_spice"] * 1e9, "fitted tau of {:.3f} ns"),
    ]),
    ("characterize_time.json", "Measured", [
        ("wall", lambda d: d["wall_s"], "**{:.1f} s** wall (`python benchmarks/characterize_time.py`"),
    ]),
    ("time_points_before.json", "Measured: fast exact crossbar simulation (port model, scale-out, VACASK)", [
        ("points", lambda d: d["as_simulated"]["timepoints_per_neuron_step"], "{:.1f} time points per neuron-step"),
        ("iterations", lambda d: d["as_simulated"]["iterations_per_timepoint"], "at {:.2f} iterations each"),
        ("ms", lambda d: d["as_simulated"]["ms_per_neuron_step"], "{:.2f} ms per neuron-step"),
    ]),
    ("nir_producers.json", "Measured: what each producer's graph gets", [
        ("table", _producer_rows, "{}"),
        ("fold error", lambda d: max(layer["fold_rel_error"] for p in d["producers"].values() for layer in p["layers"]),
         "largest fold error {:.1e}"),
        ("nir", lambda d: d["nir"], "nir {}"),
        ("sinabs dt", lambda d: d["producers"]["sinabs"]["dt_s"], "Sinabs {:g} (its IAF"),
        ("spikingjelly dt", lambda d: d["producers"]["spikingjelly"]["dt_s"], "SpikingJelly {:g} s"),
        ("snntorch dt", lambda d: d["producers"]["snntorch"]["dt_s"], "snnTorch {:g} s"),
        ("norse dt", lambda d: d["producers"]["norse"]["dt_s"], "own tau ({:.3g} s"),
        ("samples", lambda d: d["producers"]["sinabs"]["circuit"]["samples"], "ngspice, {} samples each"),
        ("nmnist samples", lambda d: d["producers"]["sinabs_nmnist"]["circuit"]["samples"], "the N-MNIST CNN {})"),
    ]),
    ("stochastic_energy.json", "Measured: stochastic firing", [
        ("energy mean, nJ", lambda d: d["stochastic"]["energy_per_inference_mean"] * 1e9, "{:.3f} nJ"),
        ("energy spread, pJ", lambda d: d["stochastic"]["energy_per_inference_std_over_draws"] * 1e12, "{:.2f} pJ"),
        ("energy range", lambda d: "{:.3f}-{:.3f} nJ".format(d["stochastic"]["energy_per_inference_min"] * 1e9,
                                                               d["stochastic"]["energy_per_inference_max"] * 1e9),
         "{}"),
        ("spikes", lambda d: "{:,.0f} +- {:.1f}".format(d["stochastic"]["spikes_per_inference_mean"],
                                                         d["stochastic"]["spikes_per_inference_std_over_draws"]), "{}"),
        ("accuracy", lambda d: "{:.3f} +- {:.3f}".format(d["stochastic"]["accuracy_mean"],
                                                          d["stochastic"]["accuracy_std_over_draws"]), "{}"),
        ("median energy", lambda d: d["median"]["energy_per_inference_j"] * 1e9, "{:.3f} nJ"),
        ("median spikes", lambda d: d["median"]["spikes_per_inference"], "{:,.0f} spikes"),
        ("median accuracy", lambda d: d["median"]["accuracy"], "accuracy {:.3f}"),
        ("draws", lambda d: d["draws"], "under {} recorded draws"),
    ]),
]


@pytest.mark.parametrize("name, section, figures", FIGURES, ids=[f[0] for f in FIGURES])
def test_readme_quotes_the_committed_benchmark_figures(name, section, figures):
    data = _load(name)
    text = " ".join(_section(section).split())          # line breaks are the README's wrapping, not the figure's
    missing = [(what, fmt.format(get(data))) for what, get, fmt in figures
               if " ".join(fmt.format(get(data)).split()) not in text]
    assert not missing, f"README section '{section}' does not quote {name}'s {missing}"


def test_the_stochastic_sweep_is_what_the_readme_says_it_is():
    """Six points (delta0 x v_dd), each fine-tuned under stochastic firing and evaluated on 44 samples x 3 draws."""
    d = _load("sweep_stochastic.json")
    assert d["firing"]["mode"] == "stochastic" and d["firing"]["draws"] == 3 and len(d["points"]) == 6
    for p in d["points"]:
        assert len(p["accuracy_chip_draws"][0]) == 3 and len(p["energy_per_inference_draws_j"]) == 3
        assert p["finetune"]["epochs"] == 1


def test_the_temporal_benchmark_is_what_the_readme_says_it_is():
    d = _load("temporal_stochastic.json")
    assert d["stochastic_draws"] == 10 and d["stochastic_finetune"]["epochs"] == 8
    assert d["frontier"]["checks"]["frontier_is_best"] and d["frontier"]["ranked_by"] == "stochastic_accuracy"
    assert [r["memory_at"] for r in d["frontier"]["rows"]][:3] == ["layer 0", "layer 1", "layer 2"]
    assert [r["arch"] for r in d["time_reversed_22"]["rows"]] == ["ipnet", "memoryless", "rnn", "lstm", "conv2p1d",
                                                                  "conv3d", "cnn2d_sum"]


@pytest.mark.parametrize("name", ["test_set_circuit.json", "test_set_circuit_hardware.json"])
def test_the_whole_test_set_at_circuit_level_keeps_the_contract(name):
    """Issue 31: every test sample at circuit level (the bundled IPNet on the default mapping, and fine-tuned for and
    exported on a non-ideal chip), the agreement contract over all of them, measured end to end in <= 30 min on 2
    workers with every circuit simulated (none from a cache)."""
    d = _load(name)
    assert d["samples"] == 352 and d["simulator"] == "ngspice" and d["agreement_contract_holds"], d
    assert all(layer["mismatches_outside_tolerance"] == 0 for layer in d["layers"])
    assert d["classes_agree"] == 352 and d["circuit_accuracy"] == d["twin_accuracy"], d
    assert d["workers"] == 2 and d["runs_cached"] == 0 and d["wall_s"] <= 30 * 60, d


def test_the_twin_over_the_test_set_meets_its_target():
    """Issue 31: the twin over the whole test set in <= 60 s on 2 cores, its system time far below its user time
    (the recorded measurement, on the default mapping and on a non-ideal chip)."""
    d = _load("twin_speed.json")
    runs = [r for r in d["runs"] if r["mode"] == "batched"]
    assert len(runs) == 2 and d["machine"]["cpus"] == 2, d
    assert all(r["samples"] == 352 and r["wall_s"] <= 60 and r["sys_s"] < 0.1 * r["user_s"] for r in runs), runs


def test_the_stochastic_headline_meets_its_target():
    """The bundled IPNet under its devices' randomness: >= 10 draws, whole test set, mean >= 0.95 (issue 30)."""
    d = _load("stochastic_ipnet.json")
    acc = _bundled(d)["stochastic"]["accuracy"]
    assert acc["draws"] >= 10 and acc["samples"] == 352 and _bundled(d)["precision"] == "exact"
    assert acc["mean"] >= 0.95, acc["mean"]


def test_the_stochastic_circuits_agree_with_the_twin():
    """>= 10 samples x >= 3 draws in ngspice: every neuron-step equal to the twin's under the same draws, except
    numerical ties (|ln H - ln(-ln u)| < the agreement contract's margin), and no class changed."""
    from ipnet_cosim.simulation.compare import AGREEMENT_MARGIN
    d = _load("stochastic_circuit.json")
    assert len(d["samples"]) >= 10 and len(d["draws"]) >= 3 and d["simulator"] == "ngspice"
    for draw in d["draws"]:
        assert draw["agreement_contract_holds"], draw
        for layer in draw["layers"]:
            # ties inside the contract's margin, or downstream of one (the same neuron later, later layers)
            assert layer["mismatches"] == layer["mismatches_tie"] + layer["mismatches_downstream"], layer
            assert layer["layer"] != "layer0" or layer["mismatches"] == 0 or \
                layer["largest_mismatch_margin"] < AGREEMENT_MARGIN, layer
    assert d["classes_agree"] == d["sample_draws"]


def test_the_circuit_referee_meets_its_speed_targets():
    """Issue 31's targets, on the recorded measurements (2 cores): one sample of the bundled IPNet <= 4 s wall on 2
    workers with every spike equal to PyTorch's, <= 15 time points per neuron-step as exported, characterize at its
    defaults <= 30 s."""
    d = _load("sample_inference.json")
    one = next(r for r in d["latency"] if r["samples"] == 1 and r["workers"] == 2)
    assert d["machine"]["cpus"] == 2 and one["simulation_wall_s"] <= 4.0 and one["all_spikes_equal_pytorch"], one
    v = _load("time_points.json")["variants"][0]
    assert v["variant"] == "as_exported" and v["timepoints_per_neuron_step"] <= 15.0, v
    c = _load("characterize_time.json")
    assert c["exit_code"] == 0 and c["wall_s"] <= c["target_s"] == 30.0, c


def test_the_demo_reports_on_a_device_within_five_minutes():
    """The README's main command on the default chip: a device (no 'not a device' in the summary), every class of
    the circuit samples agreeing with the twin within the agreement contract, within 5 minutes on 2 cores."""
    d = _load("demo_run.json")
    assert d["synapse_is_device"] and not d["summary_says_not_a_device"]
    assert d["wall_s"] <= 300 and d["machine"]["cpus"] <= 2
    assert d["circuit"]["classes"] == d["agreement"]["classes_all_agreeing"] >= 20
    assert d["agreement"]["outside_contract"] == 0 and d["twin"]["samples"] == 352


def test_the_sweep_moves_area_and_energy_with_g_max_and_tile_size():
    d = _load("sweep_chip.json")
    areas = {json.dumps(p["parameters"], sort_keys=True): p["area_m2"] for p in d["points"]}
    energies = {json.dumps(p["parameters"], sort_keys=True): p["energy_per_inference_j"] for p in d["points"]}
    assert len(set(areas.values())) > 2 and len(set(energies.values())) > 2
    lo, hi = _sweep_point(1.25e-5, 128)(d), _sweep_point(2.5e-5, 128)(d)
    assert lo["area_breakdown_m2"]["row_drivers"] < hi["area_breakdown_m2"]["row_drivers"]
    assert lo["energy_totals_j"]["periphery_switching"] < hi["energy_totals_j"]["periphery_switching"]
    assert "NeuroSim" in d["sizing_rule"]["j_on_pmos"]


def test_every_producer_graph_ran_at_circuit_level_spike_exact():
    """The producer table's premise: each graph imported, exported and simulated with every spike equal to the twin,
    each fold exact, and the nir writer's verdict recorded."""
    d = _load("nir_producers.json")
    assert set(d["producers"]) == set(PRODUCER_NAMES)
    for name, p in d["producers"].items():
        assert p["circuit"]["all_spikes_equal"] and p["circuit"]["classes_agree"] == p["circuit"]["samples"], name
        assert all(layer["fold_rel_error"] <= 1e-12 and layer["fire_rate_reference"] > 0 for layer in p["layers"]), name
        assert all(layer["equal_given_reference_input"] == 1.0 for layer in p["layers"] if layer["exact"]), name
        assert p["nir_write"] == "yes" or p["nir_write"].startswith("no: "), name
