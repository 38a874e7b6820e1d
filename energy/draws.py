"""Accuracy and energy per inference as distributions over a stochastic export's draws.

A stochastic export (``export --firing stochastic``) is simulated once per draw: ``simulate --draw K`` (or
``simulate --draws N`` for draws ``0 .. N-1``) writes draw 0 to ``<export>/sim`` and draw ``K`` to
``<export>/sim_draw_K``. Each run has the same samples, chip and stimulus; only the neurons' recorded ``u`` differ,
so the spread between the runs is what the devices' own randomness does to the figures.

:func:`draw_runs` finds the runs of one simulation folder (``X`` and its siblings ``X_draw_<k>``) that belong to
the same export, simulator and samples; :func:`over_draws` gives, over them, the accuracy
(:func:`~ipnet_cosim.device.statistics.accuracy_distribution`: mean, spread over draws, interval over samples and
draws) and the energy per inference (each draw's mean over the samples, from
:func:`~ipnet_cosim.energy.accounting.energy_breakdown`, as for the report's headline; then mean, spread over
draws, range), with the spikes per inference beside it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ipnet_cosim.device.statistics import accuracy_distribution
from ipnet_cosim.energy.accounting import PeripheryAssumptions, SimulationData, energy_breakdown, load_simulation
from ipnet_cosim.netlist_gen.contract import ExportError, SimFiles, SimulationResults, read_results


def _draw_of(results: SimulationResults) -> int | None:
    firing = results.summary.firing
    return firing.draw if firing.stochastic else None


def draw_runs(data: SimulationData) -> list[tuple[int, Path]]:
    """(draw, folder) of every run of ``data``'s export that pairs with it: ``data``'s own folder and its siblings
    named ``<base>_draw_<k>`` (``<base>`` is the folder's name without a ``_draw_<k>`` ending), each a stochastic
    run of the same export, simulator and samples, one per draw, in draw order. Empty in the median mode."""
    me = _draw_of(data.results)
    if me is None:
        return []
    base = re.sub(r"_draw_\d+$", "", data.sim.name)
    candidates = [data.sim.parent / base] + sorted(data.sim.parent.glob(f"{base}_draw_*"))
    runs: dict[int, Path] = {me: data.sim}
    for folder in candidates:
        if folder.resolve() == data.sim.resolve() or not (folder / SimFiles.RESULTS).is_file():
            continue
        try:
            other = read_results(folder, data.export)
        except ExportError:
            continue                        # a damaged or foreign run is not one of the draws
        d = _draw_of(other)
        if d is not None and other.simulator == data.results.simulator and other.samples == tuple(data.samples) \
                and d not in runs:
            runs[d] = folder
    return sorted(runs.items())


def _stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std_over_draws": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "per_draw": [float(x) for x in v]}


def over_draws(data: SimulationData, assumptions: PeripheryAssumptions = PeripheryAssumptions(),
               breakdown: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The accuracy and energy per inference over every draw of ``data``'s export found beside it
    (:func:`draw_runs`); None in the median mode, when only one draw was run, or when the samples have no labels
    (the section pairs accuracy with energy). ``breakdown``: ``data``'s own
    :func:`~ipnet_cosim.energy.accounting.energy_breakdown` under ``assumptions`` when the caller has it."""
    runs = draw_runs(data) if data.results.summary.accuracy is not None else []
    if len(runs) < 2:
        return None
    correct, energy, spikes = [], [], []
    for _, folder in runs:
        own = folder == data.sim
        run = data if own else load_simulation(data.folder, folder)
        correct.append([e.correct for e in run.results.per_sample])
        breakdown_run = breakdown if (own and breakdown is not None) else energy_breakdown(run, assumptions)
        energy.append(breakdown_run["total"]["value"])
        spikes.append(sum(layer["spikes"]["value"] for layer in breakdown_run["layers"]))
    return {"draws": [d for d, _ in runs], "folders": [str(f) for _, f in runs], "samples": len(data.samples),
            "accuracy": accuracy_distribution(np.asarray(correct, dtype=bool).T),
            "energy_per_inference_j": _stats(energy), "spikes_per_inference": _stats(spikes)}
