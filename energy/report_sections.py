"""The sections of the energy and area report (:func:`~ipnet_cosim.energy.report.build_report` assembles them):
the headline (the network, the twin over the test set beside the circuit, agreement, latency and power, the paper
comparison with its flags), the summary, the draws, the safe operating area and the literature references (the chip's
sections: :mod:`~ipnet_cosim.energy.report_chip`; the checks every report passes:
:mod:`~ipnet_cosim.energy.report_checks`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.energy.accounting import SimulationData
from ipnet_cosim.energy.quantity import figure
from ipnet_cosim.energy.report_checks import is_figure
from ipnet_cosim.netlist_gen.contract import read_results


REFERENCES_PATH = Path(__file__).parent / "data" / "neuron_references.json"
OUTSIDE_SOA_NOTE = ("from an operating point OUTSIDE the device card's safe operating area (see soa): no chip "
                    "reaches it; treat as a bound, not a design figure")


def over_draws_section(spread: Mapping[str, Any], kind: str, sim_src: str) -> dict[str, Any]:
    """Accuracy and energy per inference over the export's draws (:func:`~ipnet_cosim.energy.draws.over_draws`)
    as figures: what the neurons' own randomness does to the headline."""
    draws, n = spread["draws"], spread["samples"]
    src = (f"{sim_src.split(';')[0]} under {len(draws)} draws of the neurons' u ({', '.join(map(str, draws))}; "
           f"folders {', '.join(Path(f).name for f in spread['folders'])}), the same {n} samples each")
    acc, e, sp = spread["accuracy"], spread["energy_per_inference_j"], spread["spikes_per_inference"]
    return {
        "draws": figure(len(draws), "1", "computed", src),
        "accuracy_mean": figure(acc["mean"], "1", kind, src + "; mean over samples and draws"),
        "accuracy_std_over_draws": figure(acc["std_over_draws"], "1", "computed",
                                          src + "; sample standard deviation of the per-draw accuracies"),
        "accuracy_ci95_low": figure(acc["ci95"][0], "1", "computed", src + "; Wilson 95 % interval over samples of "
                                    "the draw-averaged correctness (device.statistics.accuracy_distribution)"),
        "accuracy_ci95_high": figure(acc["ci95"][1], "1", "computed", src + "; Wilson 95 % interval over samples of "
                                     "the draw-averaged correctness (device.statistics.accuracy_distribution)"),
        "energy_per_inference_mean": figure(e["mean"], "J", kind, src + "; each draw's energy per inference (mean "
                                            "over its samples, as the headline), averaged over draws"),
        "energy_per_inference_std_over_draws": figure(e["std_over_draws"], "J", "computed",
                                                      src + "; sample standard deviation over draws"),
        "energy_per_inference_min": figure(e["min"], "J", kind, src + "; the lowest draw"),
        "energy_per_inference_max": figure(e["max"], "J", kind, src + "; the highest draw"),
        "spikes_per_inference_mean": figure(sp["mean"], "1", kind, src + "; hidden-layer spikes, mean over draws"),
        "spikes_per_inference_std_over_draws": figure(sp["std_over_draws"], "1", "computed",
                                                      src + "; sample standard deviation over draws"),
        "per_draw": [{"draw": figure(d, "1", "computed", "draw index"),
                      "accuracy": figure(a, "1", kind, src), "energy_per_inference": figure(x, "J", kind, src)}
                     for d, a, x in zip(draws, acc["per_draw"], e["per_draw"], strict=True)],
    }


def mark_section(obj: Any, note: str) -> None:
    """Add ``note`` to every figure under ``obj`` (in place)."""
    if is_figure(obj):
        obj["note"] = (obj["note"] + "; " + note) if obj.get("note") else note
    elif isinstance(obj, Mapping):
        for v in obj.values():
            mark_section(v, note)
    elif isinstance(obj, list):
        for v in obj:
            mark_section(v, note)


def soa_section(soa: Mapping[str, Any], energy: Mapping[str, Any], sim_src: str) -> dict[str, Any]:
    """The safe operating area of the run (``simulate``'s measurement) as figures, with the verdict."""
    check = energy["check"]
    mirror = {"neuron_steps_above_v_dd": figure(check["neuron_steps_above_v_dd"], "1", "computed",
                                                "neuron-steps whose MTJ took more energy than v_dd x its charge"),
              "energy_above_supply": figure(check["energy_above_supply_j"], "J", "computed",
                                            "per sample: the part of the MTJs' energy a v_dd supply could not "
                                            "give (counted, unclipped, in mirror supply as a negative term)"),
              "v_dd": figure(check["v_dd_v"], "V", "assumed", "device card drive.v_dd_v unless --v-dd is given")}
    if not soa:
        return {"checked": False, "within": True, "mode": "none", "drive": "unknown", "limits": {}, "layers": [],
                "mirror": mirror, "verdict": "NOT MEASURED: this simulation predates the safe-operating-area check; "
                                             "rerun 'ipnet-cosim simulate' (finished units are re-used)"}
    limits = {k: figure(v["value"], v["unit"], "assumed", f"device card {v['card_field']}")
              for k, v in soa["limits"].items()}
    kind = "computed" if sim_src.startswith("computed") else "simulated"
    src = f"{sim_src}; per neuron and step, peak over the step"
    layers = []
    for c in soa["layers"]:
        layers.append({"layer": c["layer"],
                       "neuron_steps": figure(c["neuron_steps"], "1", kind, src),
                       "v_peak": figure(c["v_peak_v"], "V", kind, src + " of |v(a)| across the MTJ"),
                       "t_peak": figure(c["t_peak_k"], "K", kind, src + " of T_amb + v(th)"),
                       "above": {k: figure(n, "1", kind, f"{src}; neuron-steps above {k}")
                                 for k, n in c["above"].items()},
                       "within": bool(c["within"])})
    within = bool(soa["within"]) and check["neuron_steps_above_v_dd"] == 0
    if not soa["checked"]:
        verdict = "NOT CHECKED (simulate --soa off); the measured peaks are listed"
    elif within:
        verdict = ("within the device card's limits: every MTJ stays at or below the drive's compliance and the "
                   "breakdown voltage, every junction at or below t_max and Tc")
    else:
        bad = [c["layer"] for c in soa["layers"] if not c["within"]]
        verdict = (f"VIOLATED in {', '.join(bad) or 'the mirror supply'}: "
                   f"{sum(sum(c['above'].values()) for c in soa['layers'])} limit crossings; every energy figure "
                   f"of this report comes from an operating point no chip reaches")
    return {"checked": bool(soa["checked"]), "within": within, "mode": str(soa["mode"]), "drive": str(soa["drive"]),
            "limits": limits, "layers": layers, "mirror": mirror, "verdict": verdict}


def references_section(energy: Mapping[str, Any]) -> dict[str, Any]:
    """Our energy per spike beside cited neuron figures, and what dominates ours."""
    refs = json.loads(REFERENCES_PATH.read_text(encoding="utf-8"))["neurons"]
    out: dict[str, Any] = {"neurons": [], "dominant_category": "", "dominant_share": None}
    mean = energy["per_spike"].get("mean")
    for r in refs:
        entry = {"name": r["name"], "energy_per_spike": figure(r["energy_per_spike_j"], "J", "assumed", r["source"])}
        if mean:
            entry["ours_over_reference"] = figure(mean["value"] / r["energy_per_spike_j"], "1", "computed",
                                                  "our mean attributed energy per spike / the reference's")
        out["neurons"].append(entry)
    totals = {c: v["value"] for c, v in energy["totals"].items()}
    total = sum(totals.values())
    if total > 0:
        top = max(totals, key=lambda c: totals[c])
        out["dominant_category"] = top
        out["dominant_share"] = figure(totals[top] / total, "1", "computed", "largest category / total energy")
    return out


TWIN_FOLDER = "sim_twin"
PAPER_FLAG_FACTOR = 2.0


def default_twin(data: SimulationData) -> Path | None:
    folder = data.folder / TWIN_FOLDER
    return folder if (folder / "results.json").is_file() and folder.resolve() != data.sim.resolve() else None


def run_provenance(data: SimulationData, command: str | None) -> dict[str, str]:
    """The command, the simulation's date (from its results, so that the report stays a function of the run) and the
    hashes a reader needs to name the run."""
    prov = data.results.provenance
    return {"command": command or f"ipnet-cosim report {data.folder}",
            "date_utc": str(prov.get("date_utc", "not recorded (simulated before dates were recorded)"))}


def headline_section(data: SimulationData, twin: str | Path | None, report: Mapping[str, Any]) -> dict[str, Any]:
    """The first screen: the network in one line, accuracy of the twin over the test set beside the circuit on its
    samples (count, interval, classes covered, agreement), latency and power per inference, and the paper
    comparison with every figure more than :data:`PAPER_FLAG_FACTOR` from the paper's flagged with its reason."""
    man = data.manifest
    res = data.results
    per = res.per_sample
    n = len(per)
    classes = sorted({e.label for e in per if e.label is not None})
    disagree = sorted({e.label for e in per if e.classes_agree is False and e.label is not None})
    kind = sim_kind(res.provenance)
    who = "twin" if kind == "computed" else "circuit"
    run_src = (f"{kind}: {res.simulator}, {n} samples of {data.folder.name} covering {len(classes)} of "
               f"{len(man.class_names)} classes" if classes else
               f"{kind}: {res.simulator}, {n} unlabelled samples of {data.folder.name}")
    run: dict[str, Any] = {"samples": figure(n, "1", "computed", run_src),
                           "classes": figure(len(classes), "1", "computed",
                                             f"distinct labels among the {who}'s samples")}
    if res.summary.accuracy is not None and res.summary.accuracy_ci95 is not None:
        lo, hi = res.summary.accuracy_ci95
        run.update({"accuracy": figure(res.summary.accuracy, "1", kind, run_src),
                    "ci95_low": figure(lo, "1", "computed", f"Wilson 95 % interval over {n} samples"),
                    "ci95_high": figure(hi, "1", "computed", f"Wilson 95 % interval over {n} samples")})
    out: dict[str, Any] = {"network": network_line(man), "run": run}
    torch = res.summary.torch
    if torch is not None:
        out["agreement"] = {
            "samples_agreeing": figure(torch.classes_agree, "1", "computed",
                                       f"samples whose {who} class equals the PyTorch twin's (same draws)"),
            "classes_all_agreeing": figure(len(classes) - len(disagree), "1", "computed",
                                           f"classes whose every {who} sample agrees with the twin"),
            "all_spikes_equal": torch.all_spikes_equal}
        compared = [layer.compared for layer in res.summary.layers if layer.compared is not None]
        if compared:
            out["agreement"]["differing_neuron_steps"] = figure(
                sum(c.mismatches for c in compared), "1", "computed",
                f"neuron-steps whose {who} spike differs from the twin's, all layers and samples")
            out["agreement"]["outside_contract"] = figure(
                sum(c.mismatches_outside_tolerance for c in compared), "1", "computed",
                "of them, neuron-steps whose hazard lies beyond the agreement contract's margin from the threshold")
    twin_results = read_results(Path(twin), data.export) if twin is not None else None
    twin_acc = twin_results.summary.accuracy if twin_results is not None else None
    twin_ci = twin_results.summary.accuracy_ci95 if twin_results is not None else None
    if twin is not None and twin_results is not None and twin_acc is not None and twin_ci is not None:
        t = twin_results
        tn = len(t.per_sample)
        tlo, thi = twin_ci
        src = (f"computed: the PyTorch twin (simulate --simulator twin) of the same export, {tn} test samples "
               f"({Path(twin).name}); neurons: {t.summary.firing.note}")
        out["twin"] = {"accuracy": figure(twin_acc, "1", "computed", src),
                       "ci95_low": figure(tlo, "1", "computed", f"Wilson 95 % interval over {tn} samples"),
                       "ci95_high": figure(thi, "1", "computed", f"Wilson 95 % interval over {tn} samples"),
                       "samples": figure(tn, "1", "computed", src)}
    latency = man.timing.n_steps * man.timing.t_step_s
    e = report["energy"]["total"]["value"]
    out["latency"] = figure(latency, "s", "computed", f"n_steps x t_step = {man.timing.n_steps} x "
                            f"{man.timing.t_step_s:g} s (the network's time steps, one inference)")
    out["power"] = figure(e / latency, "W", "computed", "energy per inference / latency (mean over the samples)")
    out["paper"] = paper_flags(report)
    return out


def network_line(man) -> str:
    layers = man.layers
    hidden = {layer.index for layer in man.hidden_layers}
    neurons = sum(len(u.neurons) for u in man.units if u.layer in hidden)
    cells = sum(int(layer.devices) for layer in layers)
    options = man.options()
    copies = options.conductance.copies
    tiles = sum(int(layer.tiles) for layer in layers)
    kinds = ", ".join(f"{layer.name} {layer.type}" for layer in layers)
    crossbar = (f"{cells:,} crossbar devices" if copies == 1 else
                f"{cells * copies:,} crossbar devices ({cells:,} cells of {copies} in parallel)")
    trims = ("" if not options.trimmed else
             f"; hidden layers' mirror gains trimmed x {', '.join(f'{t:g}' for t in options.gain_trims)} (this chip's "
             f"calibration; the trim DAC is assumed, not priced)")
    return (f"{len(layers)} layers ({kinds}); {neurons:,} MTJ neurons; {crossbar} in {tiles:,} tiles; "
            f"{man.timing.n_steps} time steps{trims}")


def paper_flags(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Ours beside the paper's figures; ``flag`` when they differ by more than :data:`PAPER_FLAG_FACTOR`, with the
    reason (the memory-ratio explanations of the memory section); ``idealised`` when the synapse is not a device."""
    syn = report.get("synapse", {})
    out = []
    for c in report["memory"].get("paper_comparison", []):
        ratio = c["ours"]["value"] / c["paper"]["value"]
        flag = ratio > PAPER_FLAG_FACTOR or ratio < 1 / PAPER_FLAG_FACTOR
        notes = report["memory"].get("explanations", [])
        own = [x for x in notes if x.startswith(f"{c['arch']}:")]
        cross = [x for x in notes if x.startswith("3D CNN / LSTM")] if c["arch"] in ("lstm", "conv3d") else []
        out.append({"what": f"memory energy {c['arch']} / IPNet", "ours": c["ours"], "paper": c["paper"],
                    "flag": bool(flag), "idealised": not syn.get("is_device", True),
                    "reason": " ".join(cross + own) if flag else ""})
    return out


def summary_section(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a reviewer reads first (copies of figures found elsewhere in the report)."""
    out: dict[str, Any] = {**({"accuracy_run": report["accuracy"]["run"]} if "run" in report["accuracy"] else {}),
                           "energy_per_inference": report["energy"]["total"],
                           "soa_verdict": report["soa"]["verdict"], "soa_within": bool(report["soa"]["within"])}
    if "pytorch" in report["accuracy"]:
        out["accuracy_pytorch"] = report["accuracy"]["pytorch"]
    if "over_draws" in report:
        od = report["over_draws"]
        out.update({"accuracy_over_draws": od["accuracy_mean"],
                    "accuracy_std_over_draws": od["accuracy_std_over_draws"],
                    "energy_per_inference_over_draws": od["energy_per_inference_mean"],
                    "energy_per_inference_std_over_draws": od["energy_per_inference_std_over_draws"]})
    if "mean" in report["per_spike"]:
        out["energy_per_spike_mean"] = report["per_spike"]["mean"]
    out["memory_ratios"] = [{"arch": c["arch"], "ours": c["ours"], "paper": c["paper"]}
                            for c in report["memory"]["paper_comparison"]]
    out["synapse"] = report["synapse"]["headline"]
    h = report["headline"]
    out["network"] = h["network"]
    if "twin" in h:
        out["accuracy_twin"] = h["twin"]["accuracy"]
        out["accuracy_twin_samples"] = h["twin"]["samples"]
    out["latency"] = h["latency"]
    out["power"] = h["power"]
    if "area" in report:
        out["neuron_cell_area"] = report["area"]["neuron_cell"]["total"]
        out["lif_over_ours_area"] = report["area"]["claim"]["lif_over_ours"]
    return out


def sim_kind(sim_prov) -> str:
    """How the results' circuit figures were obtained: "computed" from the PyTorch twin (``simulate --simulator
    twin``) or "simulated" by a circuit simulator."""
    return "computed" if sim_prov.get("simulator") == "twin" else "simulated"
