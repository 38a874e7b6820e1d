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
from pathlib import Path
from typing import Any

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy import memory as mem
from ipnet_cosim.energy.accounting import PeripheryAssumptions, SimulationData, energy_breakdown, load_simulation
from ipnet_cosim.energy.draws import over_draws
from ipnet_cosim.energy.quantity import figure
from ipnet_cosim.energy.report_checks import check_figures, validate_report
from ipnet_cosim.energy.report_sections import (OUTSIDE_SOA_NOTE, default_twin, headline_section, mark_section,
                                                over_draws_section, references_section, run_provenance, sim_kind,
                                                soa_section, summary_section)
from ipnet_cosim.energy.report_chip import area_section, memory_section, stimulus_line, synapse_section

REPORT_FORMAT = "ipnet-cosim-report"
REPORT_VERSION = 2


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
    accuracy: dict[str, Any] = {}
    if summary.accuracy is not None and summary.accuracy_ci95 is not None:      # None: the samples have no labels
        accuracy["run"] = figure(summary.accuracy, "1", kind,
                                 sim_src + "; predicted class = argmax of the readout column charge; a sample whose "
                                 "top scores tie is 'no decision' and counts as wrong")
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
    if torch is not None and torch.accuracy is not None:
        accuracy["pytorch"] = figure(torch.accuracy, "1", "computed",
                                     f"PyTorch, exact precision, same samples and draws; model: {torch.model}; "
                                     f"neurons: {firing}")
        if torch.network_accuracy is not None:
            accuracy["pytorch_network"] = figure(torch.network_accuracy, "1", "computed",
                                                 "PyTorch, exact precision, same samples; the checkpoint's network "
                                                 "without the crossbars' non-idealities")
            accuracy["classes_agree"] = figure(torch.classes_agree, "1", "computed",
                                               f"samples whose {who} and PyTorch classes agree")
    memory, memory_inputs = memory_section(man, energy, techs, tech_name, bits_per_value)
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
            "stimulus": stimulus_line(man),
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
        report["over_draws"] = over_draws_section(spread, kind, sim_src)
    report["soa"] = soa_section(data.results.soa, energy, sim_src)
    # degenerate circuits named by simulate (silent layers, fire rates far from PyTorch's, no decision)
    report["warnings"] = [w.to_dict() for w in data.results.warnings]
    if report["soa"]["checked"] and not report["soa"]["within"]:
        for key in ("energy", "per_spike", "attribution"):
            mark_section(report[key], OUTSIDE_SOA_NOTE)
        for key in ("ipnet_per_step", "baselines", "paper_comparison", "sensitivity"):
            if key in report["memory"]:
                mark_section(report["memory"][key], OUTSIDE_SOA_NOTE)
    report["references"] = references_section(energy)
    if area:
        report["area"] = area_section(man.to_dict())
    report["synapse"] = synapse_section(man.options(), report)
    report["headline"] = headline_section(data, twin if twin is not None else default_twin(data), report)
    report["provenance"].update(run_provenance(data, command))
    report["summary"] = summary_section(report)
    check_figures(report)
    validate_report(report)
    return report, data
