"""``sweep``: a design-space sweep of mapping options and device-card fields evaluated through the PyTorch twin
(:mod:`ipnet_cosim.sweep.run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ipnet_cosim.cli.app import app


@app.command("sweep")
def sweep_cmd(config: Path = typer.Argument(..., help="sweep configuration, TOML: checkpoint, samples, chips, mode "
                                            "(grid | random, points, seed), a [parameters] table of mapping "
                                            "options and device-card fields (section.field), each a list of values "
                                            "or {min, max, n, scale}; optional [finetune] and [verify] tables"),
              out: Path = typer.Option(..., "--out", "-o", help="sweep folder; rerunning the same configuration "
                                                                "resumes (finished points are kept)"),
              workers: int = typer.Option(0, help="points computed in parallel (0: one per CPU)"),
              scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address (tcp://HOST:8786): points run "
                                                      "on its workers (the output folder on a shared file system)")
              ) -> None:
    """Sweep mapping options and device-card fields: per point accuracy on several chips, energy, area, latency and
    safe-operating-area margins from the PyTorch twin (optionally after hardware-aware fine-tuning per point);
    writes sweep.json, sweep.csv and sweep.html with the accuracy-energy Pareto front."""
    import os
    from rich.console import Console
    from ipnet_cosim.sweep.run import run_sweep
    from ipnet_cosim.sweep.config import load_sweep_config
    console = Console(stderr=True)
    cfg = load_sweep_config(config)                 # every point checked before any work
    n = workers or max(1, len(os.sched_getaffinity(0)))
    result = run_sweep(cfg, out, workers=n, scheduler=scheduler, progress=True)
    console.print(f"[bold]wrote[/bold] {(Path(out) / 'sweep.json').resolve()} (and sweep.csv): "
                  f"{len(result.points)} points")
    if result.outside_soa_ids:
        console.print(f"[bold red]{len(result.outside_soa_ids)} of {len(result.points)} points operate outside "
                      f"the device card's limits[/bold red] (peak MTJ voltage or junction temperature); the Pareto "
                      f"front is of {result.pareto_among}")
    console.print(f"  neurons: {result.firing_note}")
    for p in result.pareto:
        console.print(f"  Pareto {p.id}: accuracy {p.accuracy_mean:.3f}, {p.energy_per_inference_j * 1e9:.3f} nJ "
                      f"per inference, {p.area_m2 * 1e12:,.0f} um^2; {p.parameters}")
