"""Benchmark: the README's main command (``ipnet-cosim demo`` on built-in defaults, as ``bash .ci/main.sh`` runs it)
from scratch, timed, and its headline figures.

Runs ``ipnet-cosim demo --out WORK`` in a fresh folder (nothing cached) and records the wall time and, from
``WORK/report/report.json``: the chip, the network, the twin's accuracy over the test set with its interval, the
circuit's accuracy on one sample per class with its interval, the agreement of circuit and twin, energy per
inference, latency, power and area. Writes ``benchmarks/data/demo_run.json``.

    python benchmarks/demo_run.py [--work /tmp/ipnet-demo-run] [--out benchmarks/data/demo_run.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-demo-run"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/demo_run.json"))
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    cli = Path(sys.executable).with_name("ipnet-cosim")
    t0 = time.perf_counter()
    subprocess.run([str(cli), "demo", "--out", str(args.work)], check=True)
    wall = time.perf_counter() - t0
    report = json.loads((args.work / "report" / "report.json").read_text(encoding="utf-8"))
    h, s = report["headline"], report["summary"]
    value = {k: h["twin"][k]["value"] for k in ("accuracy", "ci95_low", "ci95_high", "samples")}
    circuit = {k: h["run"][k]["value"] for k in ("accuracy", "ci95_low", "ci95_high", "samples", "classes")}
    agreement = {k: (v["value"] if isinstance(v, dict) else v) for k, v in h["agreement"].items()}
    result = {
        "benchmark": "demo_run", "command": "ipnet-cosim demo --out WORK (bash .ci/main.sh without the set-up)",
        "wall_s": round(wall, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "synapse": report["synapse"]["name"], "synapse_is_device": report["synapse"]["is_device"],
        "summary_says_not_a_device": "not a device" in json.dumps(s).lower(),
        "network": h["network"],
        "twin": value, "circuit": circuit, "agreement": agreement,
        "energy_per_inference_j": report["energy"]["total"]["value"],
        "energy_totals_j": {k: v["value"] for k, v in report["energy"]["totals"].items()},
        "latency_s": h["latency"]["value"], "power_w": h["power"]["value"],
        "area_m2": report["area"]["total"]["value"],
        "area_breakdown_m2": {k: v["value"] for k, v in report["area"]["breakdown"].items()},
        "paper": [{"what": f["what"], "ours": f["ours"]["value"], "paper": f["paper"]["value"], "flag": f["flag"]}
                  for f in h["paper"]],
        "sources": {"twin": h["twin"]["accuracy"]["source"], "circuit": h["run"]["accuracy"]["source"],
                    "energy": report["energy"]["total"]["source"], "area": report["area"]["total"]["source"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("wall_s", "synapse", "twin", "circuit", "agreement")}, indent=1))


if __name__ == "__main__":
    main()
