"""The report's sections on the chip: the memory energy of IPNet against the digital baselines (per step, the paper's
ratios with their explanations, the sensitivity to the memory technology), the synapse technology and what depends on
it, the area (cells, periphery sized from the currents, neurons), and the one-line description of the stimulus."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ipnet_cosim.energy import memory as mem
from ipnet_cosim.energy.quantity import Quantity, figure
from ipnet_cosim.energy.report_checks import is_figure


MEMORY_DEFINITION = ("IPNet: Joule heating of the heat-memory neurons per step (simulated; an upper bound on the "
                     "memory's cost). Baselines: access energy of their digital temporal state per step (bits read x "
                     "E_read + bits written x E_write; standby/refresh not counted).")


def memory_section(man, energy: Mapping[str, Any], techs, tech_name: str, bits: int
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
    section["explanations"] = (memory_explanations(comparison, window, bits, tech_name)
                               + [where[0].upper() + where[1:] + "."])
    return section, inputs


def memory_explanations(comparison: Sequence[Mapping[str, Any]], window: int, bits: int, tech: str) -> list[str]:
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


def synapse_section(options, report: dict[str, Any]) -> dict[str, Any]:
    """Which device holds the weights: the synapse card of the export's mapping options (its values as assumed
    figures with their sources), the options that overrode it, its effects the simulation does not apply; and
    the card's name on every figure that depends on it (crossbar read energy, input drivers, totals, crossbar
    cell area). ``options``: the export's :class:`~ipnet_cosim.netlist_gen.mapping.MappingOptions`."""
    from ipnet_cosim.device.synapse import value_fields
    card, co = options.synapse, options.conductance
    tag = f"synapse: {card.technology_label} ('{card.name}')"
    for fig in synapse_dependent(report):
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


def synapse_dependent(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's figures whose value depends on the synapse device."""
    out = [report["energy"]["total"]]
    out += [report["energy"]["totals"][c] for c in ("input_drivers", "crossbar_read")]
    for layer in report["energy"]["layers"]:
        out += [layer["energy"][c] for c in ("input_drivers", "crossbar_read") if c in layer.get("energy", {})]
    out += [u["array_and_drivers"] for u in report["energy"].get("units", []) if "array_and_drivers" in u]
    if "area" in report:
        out += [report["area"]["total"], report["area"]["breakdown"]["crossbar_cells"]]
    return [f for f in out if is_figure(f)]


def area_section(manifest: Mapping[str, Any]) -> dict[str, Any]:
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


def stimulus_line(man) -> str:
    """What the simulated samples are: the data set's test samples, clean or with the export's sensor noise, or the
    samples of the user's stimulus file."""
    dataset = man.data_config.get("dataset", "?")
    if dataset == "stimulus":
        return (f"your own input spikes: samples of the stimulus file {man.data_config.get('root')} (sha256 "
                f"{str(man.data_config.get('stimulus_sha256'))[:12]}; export --stimulus)")
    noise = man.samples.noise
    if noise is None:
        return f"test samples of {dataset} as recorded (no added noise)"
    return (f"test samples of {dataset} with sensor noise added to their event streams: {noise['kind']} = "
            f"{noise['level']:g} ({noise['unit']}), noise seed {noise['seed']} (export --noise)")

