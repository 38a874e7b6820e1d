"""``sweep``: a design-space sweep of mapping options evaluated through the PyTorch twin
(:mod:`ipnet_cosim.netlist_gen.sweep`)."""

from __future__ import annotations

from pathlib import Path

import typer

from ipnet_cosim.cli.app import app


@app.command("sweep")
def sweep_cmd(config: Path = typer.Argument(..., help="sweep configuration, TOML: checkpoint, samples, chips, mode "
                                            "(grid | random, points, seed) and a [parameters] table of mapping "
                                            "options, each a list of values or {min, max, n, scale}"),
              out: Path = typer.Option(..., "--out", "-o", help="sweep folder; rerunning the same configuration "
                                                                "resumes (finished points are kept)"),
              workers: int = typer.Option(0, help="points computed in parallel (0: one per CPU)")) -> None:
    """Sweep mapping options: per point accuracy on several chips, energy, area, latency and safe-operating-area
    margins from the PyTorch twin; writes sweep.json and sweep.csv with the accuracy-energy Pareto front."""
    import os
    from rich.console import Console
    from ipnet_cosim.netlist_gen.sweep import load_sweep_config, run_sweep
    console = Console(stderr=True)
    cfg = load_sweep_config(config)                 # every point checked before any work
    n = workers or max(1, len(os.sched_getaffinity(0)))
    result = run_sweep(cfg, out, workers=n, progress=True)
    console.print(f"[bold]wrote[/bold] {(Path(out) / 'sweep.json').resolve()} (and sweep.csv): "
                  f"{len(result['points'])} points")
    by_id = {p["id"]: p for p in result["points"]}
    for pid in result["pareto_ids"]:
        p = by_id[pid]
        console.print(f"  Pareto {pid}: accuracy {p['accuracy_mean']:.3f}, {p['energy_per_inference_j'] * 1e9:.3f} nJ "
                      f"per inference, {p['area_m2'] * 1e12:,.0f} um^2; {p['parameters']}")
