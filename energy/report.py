"""``ipnet-cosim report``: energy, memory-energy and area figures of a simulated export.

Writes ``report.json`` (every figure with its unit and provenance; validated against
``data/report.schema.json``), ``report.md`` and a self-contained ``report.html`` (plots embedded as
PNG): energy breakdown per layer, per-spike energy histogram, memory-energy ratios on a log scale,
area breakdown, and a neuron waveform with its spikes marked (when the simulation kept one:
``ipnet-cosim simulate --waveforms UNIT``).

Rules of the JSON (checked by :func:`check_figures`): outside ``inputs`` (the configuration as given,
units in key names) and ``plot_data`` (arrays for the plots, units in key names), every number is the
``value`` of a figure ``{value, unit, provenance, source}`` with provenance simulated, computed or
assumed. The output is deterministic: same simulation, same options -> byte-identical files.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.energy import memory as mem
from ipnet_cosim.energy.accounting import (CATEGORIES, PeripheryAssumptions, SimulationData, energy_breakdown,
                                           load_simulation)
from ipnet_cosim.energy.quantity import PROVENANCES, Quantity, figure

SCHEMA_PATH = Path(__file__).parent / "data" / "report.schema.json"
REPORT_FORMAT = "ipnet-cosim-report"
REPORT_VERSION = 1
EXEMPT_SECTIONS = ("inputs", "plot_data")
CATEGORY_LABELS = {"input_drivers": "input drivers", "crossbar_read": "crossbar read",
                   "neuron_heating": "neuron heating", "mirror_supply": "mirror supply",
                   "spike_read": "spike read", "reset": "reset"}


# -- building ----------------------------------------------------------------------------------------

def build_report(folder: str | Path, *, sim: str | Path | None = None,
                 assumptions: PeripheryAssumptions = PeripheryAssumptions(), technology: str | None = None,
                 bits_per_value: int = mem.DEFAULT_BITS_PER_VALUE, technology_table: str | Path | None = None,
                 area: bool = True) -> tuple[dict[str, Any], SimulationData]:
    """The report of a simulated export as a JSON-ready dict (and the loaded simulation).

    Args:
        folder: export folder (``ipnet-cosim export``) that has been simulated.
        sim: simulation folder (default ``<folder>/sim``).
        assumptions: what the netlist leaves ideal (supply, reset, read).
        technology: memory technology of the baselines' state (default: the table's default, HBM2).
        bits_per_value: state precision of the baselines, bits.
        technology_table: another technology table (JSON, same schema, every figure cited).
        area: include the area model.
    """
    data = load_simulation(folder, sim)
    man = data.manifest
    techs = mem.load_technologies(technology_table)
    tech_name = technology or mem.default_technology_name(technology_table)
    if tech_name not in techs:
        raise ConfigError(f"memory technology '{tech_name}' is not in the table; use one of {', '.join(sorted(techs))}")
    energy = energy_breakdown(data, assumptions)
    summary = data.results.get("summary", {})
    n = len(data.samples)
    sim_prov = data.results.get("provenance", {})
    sim_src = f"simulated: {sim_prov.get('simulator', 'ngspice')}, {n} samples of {data.folder.name}"
    accuracy = {"circuit": figure(summary.get("circuit_accuracy", 0.0), "1", "simulated",
                                sim_src + "; predicted class = argmax of the readout column charge")}
    if "torch_accuracy" in summary:
        accuracy["pytorch"] = figure(summary["torch_accuracy"], "1", "computed",
                                   "PyTorch, exact precision, same samples")
        accuracy["classes_agree"] = figure(summary["classes_agree"], "1", "computed",
                                         "samples whose circuit and PyTorch classes agree")
    # memory energy: IPNet (simulated) vs the baselines (computed from their state traffic)
    cfg = man["network_config"]
    layer0 = man["layers"][0]
    shapes = {"in_shape": tuple(layer0["in_shape"]), "out_shape": tuple(layer0["out_shape"])}
    k, window = int(cfg.get("temporal_kernel", mem.DEFAULT_TEMPORAL_KERNEL)), int(cfg.get("window", mem.DEFAULT_WINDOW))
    ipnet_q = Quantity.from_dict(energy["memory"]["ipnet_j_per_step"])
    baselines, base_q = {}, {}
    for arch in mem.BASELINE_ARCHS:
        traffic = mem.temporal_state(arch, bits_per_value=bits_per_value, temporal_kernel=k, window=window, **shapes)
        e_q = mem.memory_energy_per_step(traffic, techs[tech_name])
        base_q[arch] = e_q
        baselines[arch] = {"description": traffic.description,
                           **{key: q.to_dict() for key, q in traffic.quantities().items()},
                           "energy_per_step": e_q.to_dict()}
    ratios = mem.memory_ratios(ipnet_q, base_q)
    for arch, q in ratios.items():
        baselines[arch]["ratio_to_ipnet"] = q.to_dict()
    comparison = [c.to_dict() for c in mem.paper_comparison(ratios)]
    sensitivity = []
    for row in mem.sensitivity_table(ipnet_q, temporal_kernel=k, window=window, **shapes):
        src = f"{row['arch']} state at {row['bits_per_value']} bit in {row['technology']} (table citation)"
        sensitivity.append({
            "technology": row["technology"], "verified": bool(row["verified"]), "arch": row["arch"],
            "bits_per_value": figure(row["bits_per_value"], "bit", "assumed", "sensitivity grid"),
            "energy_per_step": figure(row["energy_j_per_step"], "J", "computed", src),
            "ratio_to_ipnet": figure(row["ratio_to_ipnet"], "1", "computed", src + " / IPNet simulated memory energy"),
        })
    report: dict[str, Any] = {
        "format": REPORT_FORMAT, "format_version": REPORT_VERSION,
        "provenance": {
            "export": str(data.folder.resolve()), "simulation": str(data.sim.resolve()),
            "checkpoint_sha256": man["checkpoint"]["sha256"], "osdi_sha256": man["device"]["osdi_sha256"],
            "ngspice": str(sim_prov.get("ngspice")),
            "simulator": str(sim_prov.get("simulator", "ngspice")),
            "crossbar": str(sim_prov.get("crossbar", "netlist")),
            "package_version": str(man.get("package_version")),
            "samples": ", ".join(str(s) for s in data.samples),
        },
        "inputs": {"mapping_options": man["mapping_options"], "device_card": man["device_card"],
                   "timing": man["timing"], "assumptions": assumptions.to_dict(),
                   "memory": {"technology": tech_name, "bits_per_value": bits_per_value, "temporal_kernel": k,
                              "window": window, "in_shape": list(shapes["in_shape"]),
                              "out_shape": list(shapes["out_shape"])}},
        "accuracy": accuracy,
        "energy": {key: energy[key] for key in ("totals", "total", "layers", "units", "derived")},
        "per_spike": {key: v for key, v in energy["per_spike"].items() if key not in ("values_j",)},
        "attribution": {key: figure(v, "J", "computed", "energy_breakdown check (mean per sample)")
                        for key, v in energy["check"].items() if key.endswith("_j")},
        "memory": {
            "definition": ("IPNet: Joule heating of the heat-memory neurons per step (simulated; an upper bound on "
                           "the memory's cost). Baselines: access energy of their digital temporal state per step "
                           "(bits read x E_read + bits written x E_write; standby/refresh not counted)."),
            "ipnet_per_step": energy["memory"]["ipnet_j_per_step"],
            "technology": {"name": tech_name, "citation": techs[tech_name].citation},
            "baselines": baselines, "paper_comparison": comparison, "sensitivity": sensitivity,
            "explanations": _explanations(comparison, window, bits_per_value, tech_name),
        },
        "plot_data": {"per_spike_energy_j": energy["per_spike"]["values_j"],
                      "per_neuron_energy_j": energy["per_neuron_j"]},
    }
    report["attribution"]["neuron_steps_above_v_dd"] = figure(
        energy["check"]["neuron_steps_above_v_dd"], "1", "computed",
        "neuron-steps whose MTJ needed more than v_dd (mirror supply headroom; counted as 0 J extra)")
    if area:
        report["area"] = _area_section(man)
    check_figures(report)
    validate_report(report)
    return report, data


def _explanations(comparison: Sequence[Mapping[str, Any]], window: int, bits: int, tech: str) -> list[str]:
    lines = []
    for c in comparison:
        f = c["ours_over_paper"]["value"]
        line = (f"{c['arch']}: ours {c['ours']['value']:.4g}x vs the paper's {c['paper']['value']:.4g}x "
                f"(ours / paper = {f:.3g}); each alone would match the paper: {bits / f:.3g}-bit state instead of "
                f"{bits}, or an IPNet memory energy {f:.3g}x ours")
        if c["arch"] == "conv3d":     # E ~ (W - 1) reads + 1 write of a frame = W frames
            line += f", or a window of {window / f:.3g} frames instead of {window}"
        lines.append(line)
    ours = {c["arch"]: c["ours"]["value"] for c in comparison}
    if {"lstm", "conv3d"} <= set(ours):
        lines.append(f"3D CNN / LSTM: ours {ours['conv3d'] / ours['lstm']:.3g}, the paper's 90,920 / 2,874 = 31.6; this "
                     f"ratio does not depend on IPNet or the technology, only on the window ({window} frames; the 3D "
                     f"CNN's energy is proportional to it: W - 1 frames read + 1 written per step) and on the sizes of "
                     f"an input frame and of layer 0's output.")
    lines.append(f"Assumptions that move the ratios: state precision {bits} bit (ratios scale linearly with it), "
                 f"memory technology {tech} (J/bit; see the sensitivity table), the 3D CNN window, and IPNet's memory "
                 f"energy taken as ALL Joule heating of the heat-memory neurons (an upper bound: a smaller definition "
                 f"would raise every ratio).")
    return lines


def _area_section(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Area of the export (:mod:`ipnet_cosim.energy.area`) and the neuron-cell claim check, as figures."""
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.energy import area as area_mod
    rep = area_mod.network_area(manifest)
    neuron = area_mod.neuron_cell_area(DeviceCard.from_dict(manifest["device_card"]))
    claim = area_mod.compare_neuron_claim(neuron)
    layers = []
    for la in rep.layers:
        d = la.to_dict()
        d.pop("index", None)
        d["counts"] = {k: figure(v, "1", "computed", f"counted from the manifest ({la.name})")
                       for k, v in d["counts"].items()}
        layers.append(d)
    breakdown = {c: figure(v, "m^2", "computed", f"sum over layers of the {c} component")
                 for c, v in rep.breakdown_m2().items()}
    table = {"MTJ neuron cell (ours)": neuron.total.to_dict(), "MTJ neuron cell (paper, ~1.5 um^2)": claim.paper.to_dict(),
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


# -- writing -----------------------------------------------------------------------------------------

def _si(value: float, unit: str) -> str:
    """A value with an SI prefix, e.g. 3.2e-13 J -> '320 fJ'."""
    if unit in ("1", "") or value == 0:
        return f"{value:.4g}" + ("" if unit in ("1", "") else f" {unit}")
    prefixes = [(1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, "")]
    if unit == "m^2":
        return f"{value * 1e12:.4g} um^2"
    scale, p = prefixes[0]
    for s, q in prefixes:
        if abs(value) >= s:
            scale, p = s, q
    return f"{value / scale:.4g} {p}{unit}"


def _tables(report: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) of every table, shared by the Markdown and HTML writers."""
    e = report["energy"]
    tables = []
    head = ["layer", *[CATEGORY_LABELS[c] for c in CATEGORIES], "total", "spikes", "per spike"]
    rows = [[l["name"] + f" ({l['unit']})", *[_si(l["energy"][c]["value"], "J") for c in CATEGORIES],
             _si(l["total"]["value"], "J"), f"{l['spikes']['value']:.1f}",
             _si(l["energy_per_spike"]["value"], "J") if l["energy_per_spike"] else "-"] for l in e["layers"]]
    rows.append(["**all**", *[_si(e["totals"][c]["value"], "J") for c in CATEGORIES], _si(e["total"]["value"], "J"),
                 "", ""])
    tables.append(("Energy per sample (mean over the simulated samples)", head, rows,
                   "simulated: input drivers, crossbar read, neuron heating; computed from simulated charge and "
                   "assumptions: mirror supply, spike read, reset."))
    ps = report["per_spike"]
    if "mean" in ps:
        tables.append(("Energy per spike (attributed, see docs)", ["count", "mean", "median", "p10", "p90", "std"],
                       [[f"{ps['count']['value']:.0f}", *[_si(ps[k]["value"], "J") for k in ("mean", "median", "p10", "p90", "std")]]],
                       "each neuron's own energy plus its share of its tile's array energy, divided by its spikes"))
    m = report["memory"]
    rows = [["IPNet (heat)", "0", _si(m["ipnet_per_step"]["value"], "J"), "1", "simulated"]]
    for arch, b in m["baselines"].items():
        rows.append([arch, f"{b['state_bits']['value']:.0f}", _si(b["energy_per_step"]["value"], "J"),
                     f"{b['ratio_to_ipnet']['value']:.4g}", "computed"])
    tables.append((f"Memory energy per step ({m['technology']['name']})",
                   ["architecture", "state bits", "energy / step", "ratio to IPNet", "provenance"], rows,
                   m["definition"]))
    rows = [[c["arch"], f"{c['ours']['value']:.4g}x", f"{c['paper']['value']:.4g}x",
             f"{c['ours_over_paper']['value']:.3g}"] for c in m["paper_comparison"]]
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
                         *[f"{cells[a]:.3g}" for a in mem.BASELINE_ARCHS]])
    tables.append(("Sensitivity: ratio baseline / IPNet by technology and state precision",
                   ["technology", "bits", *mem.BASELINE_ARCHS], rows, "computed from the cited technology table"))
    if "area" in report:
        a = report["area"]
        rows = [[k, _si(v["value"], "m^2"), v["provenance"]] for k, v in a.get("table", {}).items()]
        tables.append(("Area", ["item", "area", "provenance"], rows, a.get("note", "")))
    return tables


def _plots(report: Mapping[str, Any], data: SimulationData) -> dict[str, bytes]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out: dict[str, bytes] = {}

    def save(fig, name):
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        out[name] = buf.getvalue()

    e = report["energy"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [l["name"] for l in e["layers"]]
    bottom = np.zeros(len(names))
    for c in CATEGORIES:
        vals = np.array([l["energy"][c]["value"] for l in e["layers"]]) * 1e12
        ax.bar(names, vals, bottom=bottom, label=CATEGORY_LABELS[c])
        bottom += vals
    ax.set_ylabel("energy per sample (pJ)")
    ax.set_title("Energy breakdown per layer")
    ax.legend(fontsize=7)
    save(fig, "energy_breakdown.png")
    values = np.asarray(report["plot_data"]["per_spike_energy_j"])
    if values.size:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        ax.hist(values * 1e15, bins=min(50, max(5, values.size // 5)))
        ax.set_xlabel("energy per spike (fJ)")
        ax.set_ylabel("spikes")
        ax.set_title(f"Per-spike energy ({values.size} spikes)")
        save(fig, "per_spike_histogram.png")
    m = report["memory"]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    archs = list(m["baselines"])
    ax.bar(archs, [m["baselines"][a]["ratio_to_ipnet"]["value"] for a in archs], label="ours (computed)")
    for c in m["paper_comparison"]:
        if c["arch"] in archs:
            ax.plot([archs.index(c["arch"])], [c["paper"]["value"]], "r*", ms=12,
                    label="paper" if c is m["paper_comparison"][0] else None)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1.0)
    ax.set_ylabel("memory energy: baseline / IPNet")
    ax.set_title(f"Memory energy ratios ({m['technology']['name']})")
    ax.legend(fontsize=8)
    save(fig, "memory_ratios.png")
    if "area" in report and report["area"].get("breakdown"):
        fig, ax = plt.subplots(figsize=(6, 3.4))
        items = report["area"]["breakdown"]
        ax.bar(list(items), [v["value"] * 1e12 for v in items.values()])
        ax.set_ylabel("area (um^2)")
        ax.set_title("Area breakdown")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        fig.tight_layout()
        save(fig, "area_breakdown.png")
    waves = sorted((data.sim / "waveforms").glob("*.npz")) if (data.sim / "waveforms").is_dir() else []
    if waves:
        with np.load(waves[0]) as w:
            t = w["time_s"] * 1e9
            keys = sorted(k for k in w.files if k.startswith("th"))[:4]
            if keys:
                fig, ax = plt.subplots(figsize=(7, 3.4))
                t_step = data.manifest["timing"]["t_step_s"] * 1e9
                read = data.manifest["timing"]["read_delay_s"] * 1e9
                for key in keys:
                    line, = ax.plot(t, w[key], lw=0.8, label=f"neuron {key[2:]}")
                    st = w["st" + key[2:]] if "st" + key[2:] in w.files else None
                    if st is not None:
                        reads = np.arange(data.manifest["timing"]["n_steps"]) * t_step + read
                        fired = reads[np.interp(reads, t, st) > 0.5]
                        ax.plot(fired, np.interp(fired, t, w[key]), "v", color=line.get_color(), ms=6)
                ax.set_xlabel("time (ns)")
                ax.set_ylabel("temperature rise (K)")
                ax.set_title(f"Neuron temperature, spikes marked ({waves[0].stem})")
                ax.legend(fontsize=7)
                save(fig, "neuron_waveform.png")
    return out


def format_markdown(report: Mapping[str, Any], plots: Iterable[str] = ()) -> str:
    p = report["provenance"]
    lines = ["# ipnet-cosim report", "",
             f"Export `{p['export']}`, samples {p['samples']}; checkpoint sha256 `{p['checkpoint_sha256'][:16]}...`, "
             f"ngspice {p['ngspice']}, ipnet-cosim {p['package_version']}.", "",
             "Every figure in `report.json` carries its unit and whether it was simulated, computed or assumed, "
             "with its source.", ""]
    acc = report["accuracy"]
    lines.append("Accuracy on these samples: circuit " + f"{acc['circuit']['value']:.3f} (simulated)" +
                 (f", PyTorch {acc['pytorch']['value']:.3f} (computed)" if "pytorch" in acc else "") + ".")
    lines.append("")
    lines += ["## Assumptions", ""]
    for k, v in report["inputs"]["assumptions"].items():
        lines.append(f"- `{k}` = {v['value']}: {v['source']}")
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
             ".note{color:#555;font-size:90%}</style></head><body>",
             "<h1>ipnet-cosim report</h1>",
             f"<p>Export <code>{esc(p['export'])}</code>, samples {esc(p['samples'])}; ngspice {esc(p['ngspice'])}, "
             f"ipnet-cosim {esc(p['package_version'])}. Every figure in <code>report.json</code> carries its unit "
             f"and whether it was simulated, computed or assumed, with its source.</p>"]
    parts.append("<h2>Assumptions</h2><ul>" + "".join(
        f"<li><code>{esc(k)}</code> = {esc(str(v['value']))}: {esc(v['source'])}</li>"
        for k, v in report["inputs"]["assumptions"].items()) + "</ul>")
    for title, head, rows, note in _tables(report):
        parts.append(f"<h2>{esc(title)}</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{esc(c.replace('**', ''))}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>" + (f"<p class='note'>{esc(note)}</p>" if note else ""))
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
    plots = _plots(report, data)
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
