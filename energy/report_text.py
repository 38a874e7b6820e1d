"""Writers of an ``ipnet-cosim report``: Markdown and self-contained HTML (the plots of
:mod:`~ipnet_cosim.energy.report_plots` embedded).

The report itself (:func:`ipnet_cosim.energy.report.build_report`) is plain data; these functions turn
it into text a reviewer reads in one screen: a summary first (accuracy, energy per inference and per
spike, memory ratios beside the paper's, area, the safe-operating-area verdict), then the safe operating
area per layer, then the assumptions and the detailed tables. Numbers are written for people
(``36,020x``, ``2.86 nJ``), never ``3.602e+04``.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from ipnet_cosim.device.draws import MEDIAN_NOTE
from ipnet_cosim.energy import memory as mem
from ipnet_cosim.energy.accounting import CATEGORIES, SimulationData
from ipnet_cosim.energy.report_plots import CATEGORY_LABELS, report_plots


# -- writing -----------------------------------------------------------------------------------------

def _si(value: float, unit: str) -> str:
    """A value with an SI prefix and three significant digits, e.g. 2.864e-9 J -> '2.86 nJ'."""
    if unit in ("1", ""):
        return _plain(value)
    if value == 0:
        return f"0 {unit}"
    if unit == "m^2":
        return f"{_plain(value * 1e12)} um^2"
    if unit == "K":
        return f"{value:,.1f} K"
    prefixes = [(1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, "")]
    scale, p = prefixes[0]
    for s, q in prefixes:
        if abs(value) >= s:
            scale, p = s, q
    return f"{_plain(value / scale)} {p}{unit}"


def _plain(value: float) -> str:
    """Three significant digits without exponent notation, thousands separated: 36020.4 -> '36,020'."""
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100 or a == 0:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    if a >= 1e-3:
        return f"{value:.3g}"
    return f"{value:.2e}"


def _ratio(value: float) -> str:
    """A ratio for people: 36020.4 -> '36,020x', 34.71 -> '34.7x'."""
    return _plain(value) + "x"


UNIT_SUFFIXES = (("_v", "V"), ("_a", "A"), ("_s", "s"), ("_j", "J"), ("_k", "K"), ("_ohm", "ohm"))


def _assumption(key: str, value: Any) -> str:
    """An assumption's value with the unit its name carries (``spike_read_s`` = 5e-10 -> '500 ps')."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    unit = next((u for suffix, u in UNIT_SUFFIXES if key.endswith(suffix)), "1")
    return _si(float(value), unit)


def _count(value: float) -> str:
    return f"{int(round(value)):,}"


def _synapse_lines(report: Mapping[str, Any]) -> list[str]:
    """The synapse card at the top of a report: which device holds the weights, what overrode it, and its effects
    that the simulation does not apply."""
    syn = report.get("synapse")
    if syn is None:
        return ["Synapse technology: not recorded (an export made before synapse cards: the ideal card, not a device)"]
    out = [f"Synapse technology: {syn['headline']}"]
    mp = syn.get("mapping", {})
    slices = int(mp["slices"]["value"]) if "slices" in mp else 1
    if slices > 1:
        out.append(f"Bit slicing: {slices} cells per weight sign ({int(mp['cells_per_weight']['value'])} cells "
                   f"per weight, {int(mp['weight_levels']['value'])} weight levels), partial sums combined by "
                   f"mirrors of gain L^s")
    if syn["overrides"]:
        out.append(f"Synapse card overridden by the export options: {', '.join(syn['overrides'])} (mapping_options)")
    if syn["not_simulated"]:
        out.append("Not simulated (part of the card, not of the deterministic circuit): "
                   + "; ".join(syn["not_simulated"]))
    return out


def _interval(fig: Mapping[str, Any]) -> str:
    return f"{fig['ci95_low']['value']:.2f}-{fig['ci95_high']['value']:.2f}"


def _spike_agreement(report: Mapping[str, Any]) -> str:
    """Spike agreement of the circuit with the twin in the words of the agreement contract."""
    ag = report["headline"]["agreement"]
    if ag["all_spikes_equal"]:
        return "every neuron-step's spike equal"
    out = ag.get("outside_contract")
    inside = ag.get("differing_neuron_steps")
    if out is None or inside is None:
        return "some spikes differ (see the agreement contract)"
    if out["value"] == 0:
        return (f"{_count(inside['value'])} neuron-steps differ, each within the contract's margin of a threshold "
                f"(agreement contract holds)")
    return f"{_count(out['value'])} neuron-steps differ beyond the contract's margin (agreement contract VIOLATED)"


def headline_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """The first screen: technology, network, accuracy of the twin over the test set and of the circuit with their
    agreement, energy, latency and power per inference, the safe operating area, the paper's figures (flagged
    where ours differ by more than 2x) and the provenance."""
    h = report.get("headline")
    if h is None:
        return []
    syn = report.get("synapse")
    rows = []
    if syn is not None:
        mo = report["inputs"]["mapping_options"]
        slices = int(mo.get("conductance", {}).get("slices", 1))
        chip = (f"; chip: {mo.get('tile_rows')} x {mo.get('tile_cols')} tiles, {slices} "
                f"slice{'s' if slices > 1 else ''} "
                f"per weight sign, wires {float(mo.get('r_wire_ohm', 0.0)):.3g} ohm per cell segment")
        rows.append(["technology", syn["headline"] + chip + (f"; overridden: {', '.join(syn['overrides'])}"
                                                             if syn["overrides"] else ""), "assumed (card sources)"])
    rows.append(["network", h["network"], "export"])
    if "twin" in h:
        t = h["twin"]
        rows.append(["accuracy, PyTorch twin", f"{t['accuracy']['value']:.3f} (95 % interval {_interval(t)}) over "
                     f"{_count(t['samples']['value'])} test samples", "computed"])
    c = h["run"]
    line = (f"{c['accuracy']['value']:.3f} (95 % interval {_interval(c)}) on {_count(c['samples']['value'])} samples "
            f"over {_count(c['classes']['value'])} classes" if "accuracy" in c else
            f"no accuracy: the {_count(c['samples']['value'])} samples have no labels")
    ag = h.get("agreement")
    if ag is not None:
        line += (f"; class equal to the twin's on {_count(ag['samples_agreeing']['value'])}/"
                 f"{_count(c['samples']['value'])} samples, every sample of "
                 f"{_count(ag['classes_all_agreeing']['value'])}"
                 f"/{_count(c['classes']['value'])} classes; "
                 + _spike_agreement(report))
    twin_run = report["provenance"].get("simulator") == "twin"
    rows.append(["accuracy, PyTorch twin (no circuit)" if twin_run else "accuracy, circuit", line,
                 "computed" if twin_run else "simulated"])
    n = _count(c["samples"]["value"])
    rows.append(["per inference", f"energy {_si(report['energy']['total']['value'], 'J')} (mean of {n} samples), "
                 f"latency {_si(h['latency']['value'], 's')}, power {_si(h['power']['value'], 'W')}",
                 "computed from the twin" if twin_run else "simulated and computed"])
    if "area" in report:
        b = {k: v["value"] for k, v in report["area"]["breakdown"].items()}
        periphery = b.get("row_drivers", 0.0) + b.get("column_sense", 0.0) + b.get("mirror_outputs", 0.0)
        rows.append(["area (28 nm)", f"{_si(report['area']['total']['value'], 'm^2')}: crossbar cells "
                     f"{_si(b.get('crossbar_cells', 0.0), 'm^2')}, periphery sized from the currents "
                     f"{_si(periphery, 'm^2')}, neurons {_si(b.get('neurons', 0.0), 'm^2')}", "computed"])
    rows.append(["safe operating area", report["soa"]["verdict"], "simulated against the card's limits"])
    for f in h["paper"]:
        mark = "DIFFERS > 2x: " + f["reason"] if f["flag"] else "within 2x"
        ideal = "; the synapse is the ideal card (not a device)" if f["idealised"] else ""
        rows.append([f"{f['what']} (paper {_ratio(f['paper']['value'])})", f"{_ratio(f['ours']['value'])}; "
                                                                           f"{mark}{ideal}",
                     "computed"])
    p = report["provenance"]
    rows.append(["provenance", f"checkpoint sha256 {p['checkpoint_sha256'][:12]}, device card sha256 "
                 f"{str(p.get('card_sha256', ''))[:12]}; {p.get('command', '')}; simulated {p.get('date_utc', '')}",
                 "recorded"])
    return rows


def _summary_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """(figure, value, provenance) rows of the summary below the first screen."""
    sm = report["summary"]
    rows = []
    twin = report["provenance"].get("simulator") == "twin"
    acc = (f"{'twin' if twin else 'circuit'} {sm['accuracy_run']['value']:.3f} (95 % interval "
           f"{report['accuracy']['run_ci95_low']['value']:.2f}-{report['accuracy']['run_ci95_high']['value']:.2f})"
           if "accuracy_run" in sm else "none: the samples have no labels")
    if "accuracy_pytorch" in sm:
        network = report["accuracy"].get("pytorch_network")
        if network is not None:       # a non-ideal mapping: the reference is the hardware model of this chip
            acc += (f" vs PyTorch hardware model {sm['accuracy_pytorch']['value']:.3f} (network without the "
                    f"crossbars {network['value']:.3f})")
        else:
            acc += f" vs PyTorch {sm['accuracy_pytorch']['value']:.3f}"
    if "classes_agree" in report["accuracy"]:
        acc += f" (classes agree on {_count(report['accuracy']['classes_agree']['value'])} samples)"
    rows.append(["accuracy on the samples (PyTorch twin, no circuit)" if twin
                 else "accuracy on the simulated samples", acc,
                 "computed" if twin else "simulated / computed"])
    flips = [(k[len("coin_flip_"):], v["value"]) for k, v in report["accuracy"].items() if k.startswith("coin_flip_")]
    if flips:
        rows.append(["neuron-steps that are coin flips (0.05 < p < 0.95)",
                     ", ".join(f"{layer} {value:.3f}" for layer, value in flips), "computed (PyTorch twin)"])
    e = report["energy"]["total"]
    n = len(str(report["provenance"]["samples"]).split(","))
    rows.append([f"energy per inference (mean of {n} sample{'s' if n > 1 else ''})", _si(e["value"], "J"),
                 "computed from the PyTorch twin" if twin else "simulated and computed"])
    od = report.get("over_draws")
    if od is not None:
        rows.append([f"over {_count(od['draws']['value'])} draws of the neurons' randomness",
                     f"accuracy {od['accuracy_mean']['value']:.3f} +- {od['accuracy_std_over_draws']['value']:.3f} "
                     f"(95 % interval {od['accuracy_ci95_low']['value']:.2f}-{od['accuracy_ci95_high']['value']:.2f}); "
                     f"energy per inference {_si(od['energy_per_inference_mean']['value'], 'J')} +- "
                     f"{_si(od['energy_per_inference_std_over_draws']['value'], 'J')} "
                     f"(range {_si(od['energy_per_inference_min']['value'], 'J')}-"
                     f"{_si(od['energy_per_inference_max']['value'], 'J')})",
                     "computed from the PyTorch twin" if twin else "simulated and computed"])
    if "energy_per_spike_mean" in sm:
        ps = report["per_spike"]
        line = f"mean {_si(ps['mean']['value'], 'J')}, median {_si(ps['median']['value'], 'J')}"
        for r in report["references"]["neurons"][:1]:
            if "ours_over_reference" in r:
                line += (f"; {_ratio(r['ours_over_reference']['value'])} that of the {r['name']} "
                         f"({_si(r['energy_per_spike']['value'], 'J')})")
        rows.append(["energy per spike (attributed)", line, "computed from simulated"])
    if not report["memory"].get("applicable", True):
        rows.append(["memory energy ratios", "not applicable: no heat-memory layer (the network keeps no memory "
                     "in heat)", "-"])
    elif report["memory"].get("compared_layer") not in (None, report["energy"]["layers"][0]["name"]):
        rows.append(["memory compared at", f"layer {report['memory']['compared_layer']} (where IPNet keeps its heat)",
                     "export"])
    for m in sm["memory_ratios"]:
        rows.append([f"memory energy {m['arch']} / IPNet", f"{_ratio(m['ours']['value'])} (paper "
                     f"{_ratio(m['paper']['value'])})", "computed"])
    if "neuron_cell_area" in sm:
        rows.append(["MTJ neuron cell, 28 nm", f"{_si(sm['neuron_cell_area']['value'], 'm^2')}; LIF 34 um^2 / ours = "
                     f"{_ratio(sm['lif_over_ours_area']['value'])}", "computed"])
    if not report.get("headline"):
        rows.append(["safe operating area", report["soa"]["verdict"], "simulated against the card's limits"])
    return rows


def _soa_table(report: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]], str]:
    soa = report["soa"]
    lim = soa["limits"]
    if not soa["layers"]:
        return ("Safe operating area", ["verdict"], [[soa["verdict"]]], "")
    head = ["layer", "peak MTJ voltage", "peak junction T", "neuron-steps",
            "above compliance", "above breakdown", "above T_max", "above Tc"]
    rows = [[c["layer"], _si(c["v_peak"]["value"], "V"), _si(c["t_peak"]["value"], "K"),
             _count(c["neuron_steps"]["value"]),
             *[_count(c["above"][k]["value"]) for k in ("v_compliance_v", "v_breakdown_v", "t_max_k", "tc_k")]]
            for c in soa["layers"]]
    mirror = soa["mirror"]
    note = (f"Limits (device card): drive compliance v_dd - v_headroom = {_si(lim['v_compliance_v']['value'], 'V')}, "
            f"barrier breakdown {_si(lim['v_breakdown_v']['value'], 'V')}, t_max {_si(lim['t_max_k']['value'], 'K')}, "
            f"Tc {_si(lim['tc_k']['value'], 'K')}; {soa['drive']} drive; check mode {soa['mode']}. Mirror supply: "
            f"{_count(mirror['neuron_steps_above_v_dd']['value'])} neuron-steps took more than "
            f"v_dd = {_si(mirror['v_dd']['value'], 'V')} could give "
            f"({_si(mirror['energy_above_supply']['value'], 'J')} "
            f"per sample, not clipped). Verdict: {soa['verdict']}.")
    return ("Safe operating area (simulated peaks per layer)", head, rows, note)


def _references_table(report: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]], str] | None:
    ps, refs = report["per_spike"], report["references"]
    if "mean" not in ps:
        return None
    rows = [["ours (mean, attributed)", _si(ps["mean"]["value"], "J"), "1x", "computed from simulated"]]
    for r in refs["neurons"]:
        rows.append([r["name"], _si(r["energy_per_spike"]["value"], "J"),
                     _ratio(r["ours_over_reference"]["value"]) if "ours_over_reference" in r else "-",
                     r["energy_per_spike"]["source"]])
    dom = refs["dominant_category"]
    note = (f"Ours is dominated by {CATEGORY_LABELS.get(dom, dom)} ({refs['dominant_share']['value']:.0%} of the "
            f"energy per inference)." if refs["dominant_share"] else "")
    if dom in ("neuron_heating", "mirror_supply"):
        note += (" The MTJ is switched by spin-transfer torque at ~0.1 mA for a nanosecond (heating it is the "
                 "memory), where a CMOS LIF neuron charges a femtofarad capacitor: per spike the MTJ neuron costs "
                 "more; its case rests on memory and area.")
    return ("Energy per spike beside published neurons", ["neuron", "energy per spike", "ours / it", "source"],
            rows, note)


def _tables(report: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) of every table, shared by the Markdown and HTML writers."""
    e = report["energy"]
    tables = []
    head = ["layer", *[CATEGORY_LABELS[c] for c in CATEGORIES], "total", "spikes", "per spike"]
    rows = [[l["name"] + f" ({l['unit']})", *[_si(l["energy"][c]["value"], "J") for c in CATEGORIES],
             _si(l["total"]["value"], "J"), f"{l['spikes']['value']:,.1f}",
             _si(l["energy_per_spike"]["value"], "J") if l["energy_per_spike"] else "-"] for l in e["layers"]]
    rows.append(["**all**", *[_si(e["totals"][c]["value"], "J") for c in CATEGORIES], _si(e["total"]["value"], "J"),
                 "", ""])
    tables.append(("Energy per sample (mean over the simulated samples)", head, rows,
                   "simulated: input drivers, crossbar read, neuron heating; computed from simulated charge and "
                   "assumptions: mirror supply, spike read, reset; computed from the sized periphery and the "
                   "simulated input spikes: periphery switching and leakage."))
    ps = report["per_spike"]
    refs = _references_table(report)
    if refs is not None:
        tables.append(refs)
    if "mean" in ps:
        tables.append(("Energy per spike (attributed, see docs)", ["count", "mean", "median", "p10", "p90", "std"],
                       [[_count(ps['count']['value']),
                         *[_si(ps[k]["value"], "J") for k in ("mean", "median", "p10", "p90", "std")]]],
                       "each neuron's own energy plus its share of its tile's array energy, divided by its spikes"))
    m = report["memory"]
    rows = [["IPNet (heat)", "0", _si(m["ipnet_per_step"]["value"], "J"), "1", "simulated"]]
    for arch, b in m["baselines"].items():
        rows.append([arch, _count(b['state_bits']['value']), _si(b["energy_per_step"]["value"], "J"),
                     _ratio(b['ratio_to_ipnet']['value']) if b['ratio_to_ipnet'] else "n/a", "computed"])
    tables.append((f"Memory energy per step ({m['technology']['name']})",
                   ["architecture", "state bits", "energy / step", "ratio to IPNet", "provenance"], rows,
                   m["definition"]))
    if m["paper_comparison"]:          # a network with heat memory: ratios, the paper's, the sensitivity
        rows = [[c["arch"], _ratio(c['ours']['value']), _ratio(c['paper']['value']),
                 _plain(c['ours_over_paper']['value'])] for c in m["paper_comparison"]]
        tables.append(("Ours vs the paper", ["baseline", "ours", "paper (arXiv 2512.15829)", "ours / paper"], rows,
                       " ".join(m["explanations"][-1:])))
        sens = m["sensitivity"]
        techs = sorted({r["technology"] for r in sens})
        bits = sorted({int(r["bits_per_value"]["value"]) for r in sens})
        rows = []
        for t in techs:
            for b in bits:
                cells = {r["arch"]: r["ratio_to_ipnet"]["value"] for r in sens
                         if r["technology"] == t and int(r["bits_per_value"]["value"]) == b}
                verified = all(r["verified"] for r in sens if r["technology"] == t)
                rows.append([t + ("" if verified else " (unverified)"), str(b),
                             *[_ratio(cells[a]) for a in mem.BASELINE_ARCHS]])
        tables.append(("Sensitivity: ratio baseline / IPNet by technology and state precision",
                       ["technology", "bits", *mem.BASELINE_ARCHS], rows, "computed from the cited technology table"))
    if "area" in report:
        a = report["area"]
        rows = [[k, _si(v["value"], "m^2"), v["provenance"]] for k, v in a.get("table", {}).items()]
        tables.append(("Area", ["item", "area", "provenance"], rows, a.get("note", "")))
    return tables


def format_markdown(report: Mapping[str, Any], plots: Iterable[str] = ()) -> str:
    p = report["provenance"]
    lines = ["# ipnet-cosim report", "",
             f"Export `{p['export']}`, samples {p['samples']} ({p.get('stimulus', 'test samples')}); checkpoint "
             f"sha256 `{p['checkpoint_sha256'][:16]}...`, "
             f"ngspice {p['ngspice']}, ipnet-cosim {p['package_version']}.", "",
             f"Neurons: {p.get('firing', MEDIAN_NOTE)}.", "",
             "Every figure in `report.json` carries its unit and whether it was simulated, computed or assumed, "
             "with its source.", ""]
    soa = report["soa"]
    if not soa["within"] or not soa["checked"]:
        lines += [f"> **Safe operating area: {soa['verdict']}**", ""]
    for w in report.get("warnings", []):
        lines += [f"> **Warning ({w['kind'].replace('_', ' ')}):** {w['message']}", ""]
    first = headline_rows(report)

    def soa_lines() -> list[str]:
        title, head, rows, note = _soa_table(report)
        out = [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return out + (["", note, ""] if note else [""])
    if first:
        lines += ["## At a glance", "", "| what | value | provenance |", "|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in first]
        lines.append("")
        lines += soa_lines()
    for line in _synapse_lines(report)[0 if not first else 1:]:
        lines += [f"> {line}", ""]
    lines += ["## Summary", "", "| figure | value | provenance |", "|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in _summary_rows(report)]
    lines.append("")
    if not first:
        lines += soa_lines()
    lines += ["## Assumptions", ""]
    for k, v in report["inputs"]["assumptions"].items():
        lines.append(f"- `{k}` = {_assumption(k, v['value'])}: {v['source']}")
    lines.append("")
    for title, head, rows, note in _tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines += ["", note, ""] if note else [""]
    lines += ["## Ours vs the paper, explained", ""] + [f"- {x}" for x in report["memory"]["explanations"]] + [""]
    for name in plots:
        lines.append(f"![{name}]({name})")
    return "\n".join(lines).rstrip() + "\n"


def format_html(report: Mapping[str, Any], plots: Mapping[str, bytes]) -> str:
    p = report["provenance"]
    esc = html.escape
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'><title>ipnet-cosim report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:90%}th{background:#eee}"
             ".note{color:#555;font-size:90%}.bad{background:#fdd;border:2px solid #c00;padding:.5em}"
             ".ok{color:#060}</style></head><body>",
             "<h1>ipnet-cosim report</h1>",
             f"<p>Export <code>{esc(p['export'])}</code>, samples {esc(p['samples'])} "
             f"({esc(p.get('stimulus', 'test samples'))}); ngspice {esc(p['ngspice'])}, "
             f"ipnet-cosim {esc(p['package_version'])}. Every figure in <code>report.json</code> carries its unit "
             f"and whether it was simulated, computed or assumed, with its source.</p>",
             f"<p><b>Neurons:</b> {esc(p.get('firing', MEDIAN_NOTE))}.</p>"]
    soa = report["soa"]
    if not soa["within"] or not soa["checked"]:
        parts.append(f"<p class='bad'><b>Safe operating area: {esc(soa['verdict'])}</b></p>")
    for w in report.get("warnings", []):
        parts.append(f"<p class='bad'><b>Warning ({esc(w['kind'].replace('_', ' '))}):</b> {esc(w['message'])}</p>")

    def table(title, head, rows, note):
        parts.append(f"<h2>{esc(title)}</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>")
        parts.extend("<tr>" + "".join(f"<td>{esc(c.replace('**', ''))}</td>" for c in r) + "</tr>" for r in rows)
        parts.append("</table>" + (f"<p class='note'>{esc(note)}</p>" if note else ""))

    first = headline_rows(report)
    if first:
        table("At a glance", ["what", "value", "provenance"], first, "")
        table(*_soa_table(report))
    for line in _synapse_lines(report)[0 if not first else 1:]:
        parts.append(f"<p class='note'>{esc(line)}</p>")

    table("Summary", ["figure", "value", "provenance"], _summary_rows(report), "")
    if not first:
        table(*_soa_table(report))
    parts.append("<h2>Assumptions</h2><ul>" + "".join(
        f"<li><code>{esc(k)}</code> = {esc(_assumption(k, v['value']))}: {esc(v['source'])}</li>"
        for k, v in report["inputs"]["assumptions"].items()) + "</ul>")
    for t in _tables(report):
        table(*t)
    parts.append("<h2>Ours vs the paper, explained</h2><ul>" +
                 "".join(f"<li>{esc(x)}</li>" for x in report["memory"]["explanations"]) + "</ul>")
    for name, png in plots.items():
        parts.append(f"<h2>{esc(name[:-4].replace('_', ' '))}</h2><img alt='{esc(name)}' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(report: Mapping[str, Any], data: SimulationData, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md (+ PNGs beside it) and the self-contained report.html."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = report_plots(report, data)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    for name, png in plots.items():
        (out_dir / name).write_bytes(png)
    texts = {"json": json.dumps(report, indent=2, sort_keys=True) + "\n",
             "md": format_markdown(report, plots), "html": format_html(report, plots)}
    for key, text in texts.items():
        tmp = paths[key].with_name(paths[key].name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(paths[key])
    return paths
