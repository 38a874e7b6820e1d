"""The noise experiment's circuit check (``experiment noise``, :mod:`ipnet_cosim.models.experiments.noise`): the
clean-trained IPNet exported with a noisy stimulus and simulated in ngspice, its spikes compared with PyTorch's.
Lives here, after the models, because it exports and simulates; the experiment receives it as its
``circuit_checker``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ipnet_cosim.models.datasets import DataConfig, spread_indices
from ipnet_cosim.models.experiments.temporal import report_progress
from ipnet_cosim.netlist_gen.export import export_once
from ipnet_cosim.simulation.simulate import simulate_export


def noise_circuit_check(folder: Path, checkpoint: Path, data: DataConfig, setting, *, noise_seed: int, n_samples: int,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The IPNet in ``checkpoint`` exported with the noisy stimulus ``setting`` (test samples spread over the
    classes) and simulated in ngspice (port models of the crossbars); spikes compared with PyTorch's (exact
    precision). Export and simulation resume from ``folder``."""
    n_test = 22 * data.n_test_per_class
    samples = spread_indices(n_test, max(1, int(n_samples)))
    t0 = time.perf_counter()
    report_progress(progress, f"circuit check: exporting the IPNet with {setting.kind} = {setting.level:g} on "
                              f"samples {samples}")
    export_once(checkpoint, folder / "export", samples=samples, noise=setting, noise_seed=noise_seed)
    report_progress(progress, f"circuit check: ngspice on {len(samples)} samples")
    res = simulate_export(folder / "export", out=folder / "ngspice", samples=samples, workers=2, progress=False,
                          simulator="ngspice", plots=0, energy=False)
    summ = res.summary
    torch = summ.torch
    assert torch is not None                        # simulated with the comparison (the default)
    equal = torch.all_spikes_equal
    out: dict[str, Any] = {"noise": {**setting.to_dict(), "seed": noise_seed}, "checkpoint": str(checkpoint),
           "samples": samples, "simulator": "ngspice", "crossbar": "ports",
           "all_spikes_equal_pytorch": equal, "classes_agree": torch.classes_agree,
           "circuit_accuracy": summ.accuracy, "torch_accuracy": torch.accuracy,
           "mismatches_per_layer": {t.layer: t.compared.mismatches for t in summ.layers if t.compared is not None},
           "soa_within": res.soa_within, "export": str(folder / "export"),
           "results": str(folder / "ngspice" / "results.json"), "wall_s": round(time.perf_counter() - t0, 1),
           "provenance": "simulated: ngspice on the export (port models); PyTorch exact precision on the same frames"}
    out["summary_line"] = (f"circuit check ({setting.kind} = {setting.level:g}, {len(samples)} "
                           f"sample{'s' if len(samples) != 1 else ''}, ngspice): "
                           f"spikes {'equal to' if equal else 'DIFFER from'} PyTorch's in every layer"
                           f"{'' if equal else ' (see ' + out['results'] + ')'}; classes agree on "
                           f"{out['classes_agree']}/{len(samples)}; operating point "
                           f"{'within' if out['soa_within'] else 'OUTSIDE'} the card's limits")
    return out
