"""Memory of one simulation worker over many consecutive unit runs (RSS growth).

Builds one unit job of the bundled default IPNet (``--unit``, layer 0 by default: 8 heat-memory neurons
driven by its crossbar's port model, with the energy vectors saved, as ``simulate`` runs it) and runs it
``--runs`` times in this process through the worker's own entry point
(:func:`ipnet_cosim.simulation.worker.run_unit_job`: the shared ngspice instance, result
extraction, energy integrals, the cache file written each time). RSS (``VmRSS`` of
``/proc/self/status``) is read after a warm-up of ``--warmup`` runs and then every ``--every`` runs;
the growth is the last reading minus the one after the warm-up.

    python benchmarks/rss.py [--runs 1000] [--unit L0_p044_c0] [--simulator ngspice]
                             [--out benchmarks/results/rss.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    """VmRSS of this process, MB (the simulator workers' own reader)."""
    from ipnet_cosim.simulation.worker import rss_mb as worker_rss_mb
    value = worker_rss_mb()
    if not np.isfinite(value):
        raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--unit", default="L0_p044_c0")
    parser.add_argument("--simulator", default="ngspice", choices=("ngspice", "vacask"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rss.json"))
    args = parser.parse_args()
    from ipnet_cosim.circuits.runner import ngspice_version
    from ipnet_cosim.models.checkpoint import pretrained_dir
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.jobs import JobContext, port_job
    from ipnet_cosim.simulation.worker import run_unit_job
    from ipnet_cosim.netlist_gen.ports import UnitPorts

    work = Path(tempfile.mkdtemp(prefix="ipnet-rss-"))
    try:
        folder = work / "export"
        export_network(pretrained_dir("ipnet_default"), folder, samples=[0])
        export = read_export(folder)
        man = export.manifest
        u = next((x for x in man.units if x.name == args.unit), None)
        if u is None or u.layer != 0:
            raise SystemExit(f"--unit must name a layer-0 unit of the default IPNet (e.g. L0_p044_c0), not {args.unit}")
        n = man.timing.n_steps
        with np.load(export.path(man.samples.file)) as d:
            spikes = d["frames"][0].reshape(n, -1).astype(np.float64)
        ctx = JobContext(export, work / "sim", man.card(), man.fast(), man.options(), export.path(man.device.osdi),
                         "ports", args.simulator, frozenset(), True)
        job = port_job(ctx, u, UnitPorts.load(export.path(u.ports)), 0, spikes)
        readings = []
        t0 = time.perf_counter()
        for k in range(1, args.runs + 1):
            res = run_unit_job(dataclasses.replace(job, cache=str(work / "sim" / f"run_{k % 2}.npz")))
            if "error" in res:
                raise SystemExit(f"run {k} failed: {res['error']}")
            if k == args.warmup or (k > args.warmup and (k % args.every == 0 or k == args.runs)):
                readings.append({"run": k, "rss_mb": rss_mb(), "elapsed_s": time.perf_counter() - t0})
                print(json.dumps(readings[-1]), flush=True)
        spikes_out = int(res["spikes"].sum())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    growth = readings[-1]["rss_mb"] - readings[0]["rss_mb"]
    result = {"benchmark": "rss", "unit": args.unit, "simulator": args.simulator, "runs": args.runs,
              "warmup_runs": args.warmup, "spikes_per_run": spikes_out,
              "rss_after_warmup_mb": readings[0]["rss_mb"], "rss_final_mb": readings[-1]["rss_mb"],
              "rss_growth_mb": growth, "rss_peak_mb": max(r["rss_mb"] for r in readings),
              "mean_run_s": readings[-1]["elapsed_s"] / args.runs,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "ngspice": ngspice_version()},
              "provenance": "measured: VmRSS of this process during consecutive run_unit_job calls",
              "readings": readings}
    print(f"RSS growth over {args.runs - args.warmup} runs after warm-up: {growth:.2f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
