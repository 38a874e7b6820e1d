"""``ipnet-cosim report``: energy, memory-energy and area figures of a simulated export.

Writes ``report.json`` (every figure with its unit and provenance; validated against
``data/report.schema.json``), ``report.md`` and a self-contained ``report.html`` (plots embedded as
PNG; :mod:`~ipnet_cosim.energy.report_text`): a one-screen summary, the safe operating area of the run
(peak MTJ voltage and junction temperature per layer against the device card's limits, from
``simulate``), energy breakdown per layer, per-spike energy beside cited neuron figures, memory-energy
ratios on a log scale beside the paper's, area breakdown, and a neuron waveform with its spikes marked
(when the simulation kept one: ``ipnet-cosim simulate --waveforms UNIT``).

A run with a safe-operating-area violation still gets its report, but the summary says so first and
every energy figure carries a ``note`` that it comes from an operating point outside the card's limits.

Rules of the JSON (checked by :func:`check_figures`): outside ``inputs`` (the configuration as given,
units in key names) and ``plot_data`` (arrays for the plots, units in key names), every number is the
``value`` of a figure ``{value, unit, provenance, source}`` with provenance simulated, computed or
assumed. The output is deterministic: same simulation, same options -> byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy import memory as mem
from ipnet_cosim.energy.accounting import PeripheryAssumptions, SimulationData, energy_breakdown, load_simulation
from ipnet_cosim.energy.draws import over_draws
from ipnet_cosim.energy.quantity import PROVENANCES, Quantity, figure
from ipnet_cosim.netlist_gen.contract import read_results

SCHEMA_PATH = Path(__file__).parent / "data" / "report.schema.json"
REPORT_FORMAT = "ipnet-cosim-report"
REPORT_VERSION = 2
EXEMPT_SECTIONS = ("inputs", "plot_data")
REFERENCES_PATH = Path(__file__).parent / "data" / "neuron_references.json"
OUTSIDE_SOA_NOTE = ("from an operating point OUTSIDE the device card's safe operating area (see soa): no chip "
                    "reaches it; treat as a bound, not a design figure")


# -- building ----------------------------------------------------------------------------------------

def build_report(folder: str | Path, *, sim: str | Path | None = None,
                 assumptions: PeripheryAssumptions = PeripheryAssumptions(), technology: str | None = None,
                 bits_per_value: int = mem.DEFAULT_BITS_PER_VALUE, technology_table: str | Path | None = None,
                 area: bool = True, twin: str | Path | None = None,
                 command: str | None = None) -> tuple[dict[str, Any], SimulationData]:
    """The report of a simulated export as a JSON-ready dict (and the loaded simulation).

    Args:
        folder: export folder (``ipnet-cosim export``) that has been simulated.
        sim: simulation folder (default ``<folder>/sim``).
        assumptions: what the netlist leaves ideal (supply, reset, read).
        technology: memory technology of the baselines' state (default: the table's default, HBM2).
        bits_per_value: state precision of the baselines, bits.
        technology_table: another technology table (JSON, same schema, every figure cited).
        area: include the area model.
        twin: a twin run of the same export over many test samples (``simulate --simulator twin --out``; default
            ``<folder>/sim_twin`` when it exists): its accuracy heads the report beside the circuit's.
        command: the command that produced the run (recorded in the provenance; default: ``ipnet-cosim report``).
    """
    data = load_simulation(folder, sim)
    man = data.manifest
    card = man.card()
    assumptions = dataclasses.replace(assumptions, v_dd_v=assumptions.v_dd_v or card.drive.v_dd_v,
                                      reset_current_a=assumptions.reset_current_a or card.mtj.ic0_a)
    techs = mem.load_technologies(technology_table)
    tech_name = technology or mem.default_technology_name(technology_table)
    if tech_name not in techs:
        raise ConfigError(f"memory technology '{tech_name}' is not in the table; use one of {', '.join(sorted(techs))}")
    energy = energy_breakdown(data, assumptions)
    summary = data.results.summary
    n = len(data.samples)
    sim_prov = data.results.provenance
    kind = sim_kind(sim_prov)
    sim_src = (f"computed: the PyTorch twin (simulate --simulator twin; no circuit), {n} samples of {data.folder.name}"
               if kind == "computed" else f"simulated: {sim_prov.get('simulator', 'ngspice')}, {n} samples of "
                                          f"{data.folder.name}")
    firing = summary.firing.note
    sim_src += f"; neurons: {firing}"
    who = "twin" if kind == "computed" else "circuit"
    accuracy = {"run": figure(summary.accuracy, "1", kind,
                              sim_src + "; predicted class = argmax of the readout column charge; a sample whose "
                              "top scores tie is 'no decision' and counts as wrong")}
    lo, hi = summary.accuracy_ci95
    accuracy["run_ci95_low"] = figure(lo, "1", "computed", f"Wilson 95 % interval of the {who} accuracy on "
                                      f"{n} samples (scipy.stats.binomtest)")
    accuracy["run_ci95_high"] = figure(hi, "1", "computed", f"Wilson 95 % interval of the {who} accuracy on "
                                       f"{n} samples (scipy.stats.binomtest)")
    for layer in summary.layers:
        if layer.coin_flip_fraction is not None:
            accuracy[f"coin_flip_{layer.layer}"] = figure(
                layer.coin_flip_fraction, "1", "computed",
                f"PyTorch twin, same samples{' and draws' if summary.firing.stochastic else ''}: fraction of layer "
                f"{layer.layer}'s neuron-steps whose firing probability 1 - exp(-H) lies in (0.05, 0.95), where a "
                f"device's spike is a coin flip")
    if summary.no_decision:
        accuracy["run_no_decision"] = figure(summary.no_decision, "1", kind,
                                             sim_src + "; samples whose top class scores are equal (no decision)")
    torch = summary.torch
    if torch is not None:
        accuracy["pytorch"] = figure(torch.accuracy, "1", "computed",
                                     f"PyTorch, exact precision, same samples and draws; model: {torch.model}; "
                                     f"neurons: {firing}")
        if torch.network_accuracy is not None:
            accuracy["pytorch_network"] = figure(torch.network_accuracy, "1", "computed",
                                                 "PyTorch, exact precision, same samples; the checkpoint's network "
                                                 "without the crossbars' non-idealities")
            accuracy["classes_agree"] = figure(torch.classes_agree, "1", "computed",
                                               f"samples whose {who} and PyTorch classes agree")
    memory, memory_inputs = _memory_section(man, energy, techs, tech_name, bits_per_value)
    spread = over_draws(data, assumptions, energy)
    report: dict[str, Any] = {
        "format": REPORT_FORMAT, "format_version": REPORT_VERSION,
        "provenance": {
            "export": str(data.folder.resolve()), "simulation": str(data.sim.resolve()),
            "checkpoint_sha256": man.checkpoint.sha256, "osdi_sha256": man.device.osdi_sha256,
            "manifest_sha256": data.export.identity.manifest_sha256,
            "card_sha256": data.export.identity.card_sha256,
            "ngspice": str(sim_prov.get("ngspice")),
            "simulator": str(sim_prov.get("simulator", "ngspice")),
            "crossbar": str(sim_prov.get("crossbar", "netlist")),
            "package_version": man.package_version,
            "samples": ", ".join(str(s) for s in data.samples),
            "stimulus": _stimulus(man),
            "firing": firing,
        },
        "inputs": {"mapping_options": man.mapping_options, "device_card": man.device_card,
                   "timing": man.timing.to_dict(), "assumptions": assumptions.to_dict(), "memory": memory_inputs},
        "accuracy": accuracy,
        "energy": {key: energy[key] for key in ("totals", "total", "layers", "units", "derived")},
        "per_spike": {key: v for key, v in energy["per_spike"].items() if key not in ("values_j",)},
        "attribution": {key: figure(v, "J", "computed", "energy_breakdown check (mean per sample)")
                        for key, v in energy["check"].items() if key.endswith("_j")},
        "memory": memory,
        "plot_data": {"per_spike_energy_j": energy["per_spike"]["values_j"],
                      "per_neuron_energy_j": energy["per_neuron_j"]},
    }
    report["attribution"]["neuron_steps_above_v_dd"] = figure(
        energy["check"]["neuron_steps_above_v_dd"], "1", "computed",
        "neuron-steps whose MTJ took more than v_dd x its charge (no supply could drive them; the mirror-supply "
        "term is negative there and is NOT clipped)")
    if spread is not None:
        report["over_draws"] = _over_draws_section(spread, kind, sim_src)
    report["soa"] = _soa_section(data.results.soa, energy, sim_src)
    # degenerate circuits named by simulate (silent layers, fire rates far from PyTorch's, no decision)
    report["warnings"] = [w.to_dict() for w in data.results.warnings]
    if report["soa"]["checked"] and not report["soa"]["within"]:
        for key in ("energy", "per_spike", "attribution"):
            _mark(report[key], OUTSIDE_SOA_NOTE)
        for key in ("ipnet_per_step", "baselines", "paper_comparison", "sensitivity"):
            if key in report["memory"]:
                _mark(report["memory"][key], OUTSIDE_SOA_NOTE)
    report["references"] = _references(energy)
    if area:
        report["area"] = _area_section(man.to_dict())
    report["synapse"] = _synapse_section(man.options(), report)
    report["headline"] = headline_section(data, twin if twin is not None else _default_twin(data), report)
    report["provenance"].update(_run_provenance(data, command))
    report["summary"] = _summary(report)
    check_figures(report)
    validate_report(report)
    return report, data


def _over_draws_section(spread: Mapping[str, Any], kind: str, sim_src: str) -> dict[str, Any]:
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


def _mark(obj: Any, note: str) -> None:
    """Add ``note`` to every figure under ``obj`` (in place)."""
    if is_figure(obj):
        obj["note"] = (obj["note"] + "; " + note) if obj.get("note") else note
    elif isinstance(obj, Mapping):
        for v in obj.values():
            _mark(v, note)
    elif isinstance(obj, list):
        for v in obj:
            _mark(v, note)


def _soa_section(soa: Mapping[str, Any], energy: Mapping[str, Any], sim_src: str) -> dict[str, Any]:
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


def _references(energy: Mapping[str, Any]) -> dict[str, Any]:
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


def _default_twin(data: SimulationData) -> Path | None:
    folder = data.folder / TWIN_FOLDER
    return folder if (folder / "results.json").is_file() and folder.resolve() != data.sim.resolve() else None


def _run_provenance(data: SimulationData, command: str | None) -> dict[str, str]:
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
    classes = sorted({e.label for e in per})
    disagree = sorted({e.label for e in per if e.classes_agree is False})
    kind = sim_kind(res.provenance)
    who = "twin" if kind == "computed" else "circuit"
    lo, hi = res.summary.accuracy_ci95
    run_src = (f"{kind}: {res.simulator}, {n} samples of {data.folder.name} covering {len(classes)} of "
               f"{len(man.class_names)} classes")
    out: dict[str, Any] = {
        "network": _network_line(man),
        "run": {"accuracy": figure(res.summary.accuracy, "1", kind, run_src),
                "ci95_low": figure(lo, "1", "computed", f"Wilson 95 % interval over {n} samples"),
                "ci95_high": figure(hi, "1", "computed", f"Wilson 95 % interval over {n} samples"),
                "samples": figure(n, "1", "computed", run_src),
                "classes": figure(len(classes), "1", "computed", f"distinct labels among the {who}'s samples")},
    }
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
    if twin is not None:
        t = read_results(Path(twin), data.export)
        tn = len(t.per_sample)
        tlo, thi = t.summary.accuracy_ci95
        src = (f"computed: the PyTorch twin (simulate --simulator twin) of the same export, {tn} test samples "
               f"({Path(twin).name}); neurons: {t.summary.firing.note}")
        out["twin"] = {"accuracy": figure(t.summary.accuracy, "1", "computed", src),
                       "ci95_low": figure(tlo, "1", "computed", f"Wilson 95 % interval over {tn} samples"),
                       "ci95_high": figure(thi, "1", "computed", f"Wilson 95 % interval over {tn} samples"),
                       "samples": figure(tn, "1", "computed", src)}
    latency = man.timing.n_steps * man.timing.t_step_s
    e = report["energy"]["total"]["value"]
    out["latency"] = figure(latency, "s", "computed", f"n_steps x t_step = {man.timing.n_steps} x "
                            f"{man.timing.t_step_s:g} s (the network's time steps, one inference)")
    out["power"] = figure(e / latency, "W", "computed", "energy per inference / latency (mean over the samples)")
    out["paper"] = _paper_flags(report)
    return out


def _network_line(man) -> str:
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


def _paper_flags(report: Mapping[str, Any]) -> list[dict[str, Any]]:
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


def _summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a reviewer reads first (copies of figures found elsewhere in the report)."""
    out: dict[str, Any] = {"accuracy_run": report["accuracy"]["run"],
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


MEMORY_DEFINITION = ("IPNet: Joule heating of the heat-memory neurons per step (simulated; an upper bound on the "
                     "memory's cost). Baselines: access energy of their digital temporal state per step (bits read x "
                     "E_read + bits written x E_write; standby/refresh not counted).")


def _memory_section(man, energy: Mapping[str, Any], techs, tech_name: str, bits: int
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """IPNet's memory energy (simulated) beside the baselines' state traffic (computed) at the layer where
    IPNet keeps its heat memory; for a network without heat memory the ratios are marked not applicable."""
    cfg = man.network_config
    heat = [layer for layer in man.layers if layer.unit == "heat"]
    compared = heat[0] if heat else man.layers[0]
    shapes: dict[str, Any] = {"in_shape": tuple(compared.in_shape), "out_shape": tuple(compared.out_shape)}
    k, window = int(cfg.get("temporal_kernel", mem.DEFAULT_TEMPORAL_KERNEL)), int(cfg.get("window", mem.DEFAULT_WINDOW))
    inputs = {"technology": tech_name, "bits_per_value": bits, "temporal_kernel": k, "window": window,
              "compared_layer": compared.name, "in_shape": list(shapes["in_shape"]),
              "out_shape": list(shapes["out_shape"])}
    where = (f"the baselines keep their temporal state where IPNet keeps its heat: layer {compared.name} "
             f"(input {list(compared.in_shape)}, output {list(compared.out_shape)})")
    if len(heat) > 1:
        where += (f"; IPNet's figure sums the heat of all its heat-memory layers ({', '.join(h.name for h in heat)}), "
                  f"the baselines' is the state of layer {compared.name} only")
    baselines, base_q = {}, {}
    for arch in mem.BASELINE_ARCHS:
        traffic = mem.temporal_state(arch, bits_per_value=bits, temporal_kernel=k, window=window, **shapes)
        e_q = mem.memory_energy_per_step(traffic, techs[tech_name])
        base_q[arch] = e_q
        baselines[arch] = {"description": traffic.description,
                           **{key: q.to_dict() for key, q in traffic.quantities().items()},
                           "energy_per_step": e_q.to_dict(), "ratio_to_ipnet": None}
    section: dict[str, Any] = {"definition": MEMORY_DEFINITION, "applicable": bool(heat),
                               "ipnet_per_step": energy["memory"]["ipnet_j_per_step"],
                               "technology": {"name": tech_name, "citation": techs[tech_name].citation},
                               "baselines": baselines, "paper_comparison": [], "sensitivity": [],
                               "compared_layer": compared.name if heat else None}
    if not heat:
        section["definition"] = (
            "not applicable: this network has no heat-memory layer (every MTJ neuron is memoryless), so it keeps no "
            "short-term memory in heat and there is no IPNet memory energy to compare; the baselines' state "
            f"traffic is shown at layer {compared.name}'s shape for reference, without ratios")
        section["explanations"] = [section["definition"]]
        return section, inputs
    section["definition"] = MEMORY_DEFINITION + " Compared layer: " + where + "."
    ipnet_q = Quantity.from_dict(energy["memory"]["ipnet_j_per_step"])
    ratios = mem.memory_ratios(ipnet_q, base_q)
    for arch, q in ratios.items():
        baselines[arch]["ratio_to_ipnet"] = q.to_dict()
    comparison = [c.to_dict() for c in mem.paper_comparison(ratios)]
    section["paper_comparison"] = comparison
    for row in mem.sensitivity_table(ipnet_q, temporal_kernel=k, window=window, **shapes):
        src = f"{row['arch']} state at {row['bits_per_value']} bit in {row['technology']} (table citation)"
        section["sensitivity"].append({
            "technology": row["technology"], "verified": bool(row["verified"]), "arch": row["arch"],
            "bits_per_value": figure(row["bits_per_value"], "bit", "assumed", "sensitivity grid"),
            "energy_per_step": figure(row["energy_j_per_step"], "J", "computed", src),
            "ratio_to_ipnet": figure(row["ratio_to_ipnet"], "1", "computed", src + " / IPNet simulated memory energy"),
        })
    section["explanations"] = _explanations(comparison, window, bits, tech_name) + [where[0].upper() + where[1:] + "."]
    return section, inputs


def _explanations(comparison: Sequence[Mapping[str, Any]], window: int, bits: int, tech: str) -> list[str]:
    lines = []
    for c in comparison:
        f = c["ours_over_paper"]["value"]
        line = (f"{c['arch']}: ours {c['ours']['value']:,.0f}x vs the paper's {c['paper']['value']:,.0f}x "
                f"(ours / paper = {f:.3g}); each alone would match the paper: {bits / f:.3g}-bit state instead of "
                f"{bits}, or an IPNet memory energy {f:.3g}x ours")
        if c["arch"] == "conv3d":     # E ~ (W - 1) reads + 1 write of a frame = W frames
            line += f", or a window of {window / f:.3g} frames instead of {window}"
        lines.append(line)
    ours = {c["arch"]: c["ours"]["value"] for c in comparison}
    if {"lstm", "conv3d"} <= set(ours):
        lines.append(f"3D CNN / LSTM: ours {ours['conv3d'] / ours['lstm']:.3g}, the paper's 90,920 / 2,874 = 31.6; "
                     f"this "
                     f"ratio does not depend on IPNet or the technology, only on the window ({window} frames; the 3D "
                     f"CNN's energy is proportional to it: W - 1 frames read + 1 written per step) and on the sizes of "
                     f"an input frame and of layer 0's output.")
    lines.append(f"Assumptions that move the ratios: state precision {bits} bit (ratios scale linearly with it), "
                 f"memory technology {tech} (J/bit; see the sensitivity table), the 3D CNN window, and IPNet's memory "
                 f"energy taken as ALL Joule heating of the heat-memory neurons (an upper bound: a smaller definition "
                 f"would raise every ratio).")
    return lines


def _synapse_section(options, report: dict[str, Any]) -> dict[str, Any]:
    """Which device holds the weights: the synapse card of the export's mapping options (its values as assumed
    figures with their sources), the options that overrode it, its effects the simulation does not apply; and
    the card's name on every figure that depends on it (crossbar read energy, input drivers, totals, crossbar
    cell area). ``options``: the export's :class:`~ipnet_cosim.netlist_gen.mapping.MappingOptions`."""
    from ipnet_cosim.device.synapse import value_fields
    card, co = options.synapse, options.conductance
    tag = f"synapse: {card.technology_label} ('{card.name}')"
    for fig in _synapse_dependent(report):
        fig["source"] = f"{fig['source']}; {tag}"
    values = {}
    for f in value_fields():
        v = getattr(card, f.name)
        if v is not None:
            values[f.name] = figure(v, f.metadata["unit"], "assumed", card.sources[f.name])
    mapping = {"cells_per_weight": figure(2 * co.slices, "1", "computed",
                                          f"a differential pair per slice, {co.slices} slice(s) (mapping_options)"),
               "slices": figure(co.slices, "1", "assumed", "mapping_options.conductance.slices (bit slicing)"),
               "devices_per_cell": figure(co.copies, "1", "assumed", "mapping_options.conductance.copies (devices in "
                                          "parallel per cell, multi-memristive synapse)"),
               "devices_per_weight": figure(2 * co.slices * co.copies, "1", "computed",
                                            f"2 x {co.slices} slice(s) x {co.copies} device(s) per cell")}
    if co.weight_levels is not None:
        mapping["weight_levels"] = figure(co.weight_levels, "1", "computed",
                                          f"2 (L^S - 1) + 1 with L = {co.levels} levels per cell, S = {co.slices}")
    return {"name": card.name, "technology": card.technology_label, "is_device": card.is_device,
            "headline": card.headline(),
            "levels": "analog" if card.levels is None else figure(card.levels, "1", "assumed", card.sources["levels"]),
            "overrides": options.synapse_overrides(), "not_simulated": card.not_simulated(), "card": values,
            "verified": list(card.verified), "mapping": mapping}


def _synapse_dependent(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's figures whose value depends on the synapse device."""
    out = [report["energy"]["total"]]
    out += [report["energy"]["totals"][c] for c in ("input_drivers", "crossbar_read")]
    for layer in report["energy"]["layers"]:
        out += [layer["energy"][c] for c in ("input_drivers", "crossbar_read") if c in layer.get("energy", {})]
    out += [u["array_and_drivers"] for u in report["energy"].get("units", []) if "array_and_drivers" in u]
    if "area" in report:
        out += [report["area"]["total"], report["area"]["breakdown"]["crossbar_cells"]]
    return [f for f in out if is_figure(f)]


def _area_section(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Area of the export (:mod:`ipnet_cosim.energy.area`) and the neuron-cell claim check, as figures."""
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.energy.area import compare_neuron_claim, neuron_cell_area
    from ipnet_cosim.energy.area_layers import network_area
    rep = network_area(manifest)
    neuron = neuron_cell_area(DeviceCard.from_dict(manifest["device_card"]))
    claim = compare_neuron_claim(neuron)
    layers = []
    for la in rep.layers:
        d = la.to_dict()
        d.pop("index", None)
        d["counts"] = {k: figure(v, "1", "computed", f"counted from the manifest ({la.name})")
                       for k, v in d["counts"].items()}
        layers.append(d)
    breakdown = {c: figure(v, "m^2", "computed", f"sum over layers of the {c} component")
                 for c, v in rep.breakdown_m2().items()}
    table = {"MTJ neuron cell (ours)": neuron.total.to_dict(),
             "MTJ neuron cell (paper, ~1.5 um^2)": claim.paper.to_dict(),
             "LIF neuron, 28 nm (reference)": claim.lif.to_dict(),
             **{f"{la.name} (all tiles and neurons)": la.total.to_dict() for la in rep.layers},
             "network total": rep.total.to_dict()}
    return {
        "neuron_cell": {"terms": {k: q.to_dict() for k, q in neuron.terms.items()}, "total": neuron.total.to_dict()},
        "claim": {"lif_over_ours": claim.lif_over_ours.to_dict(), "ours_over_paper": claim.ours_over_paper.to_dict(),
                  "claimed_ratio": claim.claimed_ratio.to_dict(), "break_even": claim.break_even.to_dict(),
                  "holds": bool(claim.holds), "dominant_term": claim.dominant_term},
        "layers": layers, "total": rep.total.to_dict(), "breakdown": breakdown, "table": table,
        "note": claim.summary().replace("\n", "; "),
    }


# -- checks ------------------------------------------------------------------------------------------

def is_figure(obj: Any) -> bool:
    return isinstance(obj, Mapping) and {"value", "unit", "provenance", "source"} <= set(obj)


def check_figures(report: Mapping[str, Any]) -> None:
    """Every number outside ``inputs``/``plot_data`` must be a figure's value with a unit and provenance."""
    def walk(obj: Any, path: str) -> None:
        if is_figure(obj):
            if obj["provenance"] not in PROVENANCES or not obj["unit"] or not str(obj["source"]).strip():
                raise ConfigError(f"report figure {path} lacks a unit, provenance or source: {obj}")
            if not isinstance(obj["value"], (int, float)) or not math.isfinite(obj["value"]):
                raise ConfigError(f"report figure {path} has a non-finite value {obj['value']!r}")
            return
        if isinstance(obj, Mapping):
            for key, v in obj.items():
                if path == "" and key in EXEMPT_SECTIONS:
                    continue
                walk(v, f"{path}.{key}" if path else str(key))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]")
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and path not in ("format_version",):
            raise ConfigError(f"report number at {path} ({obj}) is not a figure with unit and provenance")
    walk(report, "")


def validate_report(report: Mapping[str, Any]) -> None:
    """Validate against ``data/report.schema.json`` (JSON Schema draft 2020-12)."""
    import jsonschema
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ConfigError(f"report does not match its schema at '{where}': {exc.message}") from exc


def _stimulus(man) -> str:
    """What the simulated samples are: the data set's test samples, clean or with the export's sensor noise."""
    dataset = man.data_config.get("dataset", "?")
    noise = man.samples.noise
    if noise is None:
        return f"test samples of {dataset} as recorded (no added noise)"
    return (f"test samples of {dataset} with sensor noise added to their event streams: {noise['kind']} = "
            f"{noise['level']:g} ({noise['unit']}), noise seed {noise['seed']} (export --noise)")

