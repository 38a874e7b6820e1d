"""``simulate --simulator twin``: an export's spikes, class scores, energies and safe-operating-area peaks computed
from its PyTorch twin instead of a circuit simulator, written as the same files as a simulation
(``results.json``, ``energy_sample_<i>.npz``, ``spikes_sample_<i>.npz``, ``soa_sample_<i>.npz``) so that
``report`` builds from either. Every figure is labelled computed (``provenance.simulator`` is "twin"); the
numbers come from :func:`~ipnet_cosim.simulation.twin_energy.twin_outputs`. A design point then costs a
PyTorch evaluation; a circuit simulation of the same export is the referee
(``benchmarks/twin_energy.py`` compares the two).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from ipnet_cosim.device.fileio import write_json
from ipnet_cosim.netlist_gen.contract import Export, SimFiles, SimulationResults, bind_simulation_folder
from ipnet_cosim.simulation.compare import layer_warnings, summarise
from ipnet_cosim.simulation.inputs import SimulateRequest, load_frames


def simulate_twin(export: Export, req: SimulateRequest, say: Callable[[str], None],
                  warn: Callable[[str], None]) -> SimulationResults:
    """The twin's run of ``req`` (already checked); returns the results it writes to ``<out>/results.json``."""
    from ipnet_cosim.circuits.soa import SOALimits
    from ipnet_cosim.simulation.simulate import check_soa, LayerOutputs, write_outputs, run_firing
    from ipnet_cosim.simulation.twin_energy import twin_outputs
    sample_list, frames, labels = load_frames(export, req.samples)
    out_dir = req.out or req.default_out(export)
    draw = req.draw_index(export)
    bind_simulation_folder(out_dir, export)         # refuses another export's results before anything is written
    man = export.manifest
    say(f"computing {len(sample_list)} samples with the PyTorch twin")
    t0 = time.perf_counter()
    tw = twin_outputs(export, frames, sample_list, draw)
    wall = time.perf_counter() - t0
    outputs = LayerOutputs(sample_list, req.energy)
    for s in sample_list:
        outputs.spikes[s] = tw["spikes"][s]
        outputs.charges[s] = tw["charges"][s]
        outputs.soa[s] = tw["soa"][s]
        outputs.energies[s] = tw["energies"][s] if req.energy else {}
        outputs.elapsed[s] = wall / len(sample_list)
    limits = SOALimits.from_card(man.card())
    soa_checks = [check_soa(layer, outputs, sample_list, limits, req.soa, out_dir, warn) for layer in man.hidden_layers]
    summary, per_sample = summarise(export, sample_list, labels, outputs.spikes, outputs.charges, outputs.elapsed, None,
                                    run_firing(export, draw), tw["coin_flip"])
    summary = replace(summary, wall_time_s=wall)
    warnings = layer_warnings(summary)
    for w in warnings:
        warn(f"warning: {w.message}")
    record = SimulationResults(
        export=export.identity,
        what="spikes, class scores, energies and safe-operating-area peaks of an exported network computed from its "
             "PyTorch twin (no circuit simulator)",
        provenance={"export": str(export.folder.resolve()), "checkpoint_sha256": man.checkpoint.sha256,
                    "osdi_sha256": man.device.osdi_sha256, "simulator": "twin", "simulator_version": None,
                    "ngspice": None, "crossbar": "ports",
                    "crossbar_energy": "computed (exact: row levels x port conductances x integral of the pulse shape "
                                       "squared; netlist_gen.ports)",
                    "mapping_options": man.mapping_options,
                    "run_values": f"computed (PyTorch twin at exact precision, float64, 64/16 substeps: "
                                      f"{tw['model']}; "
                                      f"every neuron's Joule energy, charge and peaks from its own step integration, "
                                      f"simulation.twin_energy)",
                    "torch_values": None,
                    "sim_time": "measured wall time of the twin's evaluation, divided evenly over the samples"},
        summary=summary, per_sample=per_sample, warnings=warnings,
        soa={"mode": req.soa, "checked": req.soa != "off", "drive": "bounded" if man.bounded else "ideal",
             "limits": limits.to_dict(), "within": all(c["within"] for c in soa_checks), "layers": soa_checks,
             "source": "computed: peak |V| across each MTJ and peak junction temperature per neuron and step from the "
                       "PyTorch twin (simulation.twin_energy); limits from the device card"})
    write_outputs(out_dir, export, sample_list, outputs, None, req.energy)
    write_json(out_dir / SimFiles.RESULTS, record.to_dict())
    if req.plots:
        from ipnet_cosim.simulation.plots import plot_rasters
        plot_rasters(out_dir, record, outputs.spikes, None, man.hidden_layers, req.plots)
    say(f"wrote {out_dir / SimFiles.RESULTS}")
    return record
