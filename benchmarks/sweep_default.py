"""A design-space sweep of the default IPNet: 27 points over 3 parameters on 2 cores, interrupted and resumed,
its Pareto points verified at circuit level.

Grid: wire segment resistance 0 / 1 / 4 ohm x largest conductance 0.25 / 0.5 / 1 mS x device variation
0 / 5 / 10 % (two chips per point with variation), accuracy on 20 test samples spread over the test set
through the twin, the Pareto points (accuracy vs energy per inference) simulated in ``--simulator`` on 5
samples each. The sweep runs as ``ipnet-cosim sweep`` in a subprocess that is killed (SIGKILL) after
``--kill-after`` seconds and then run again to the end: the JSON records how many points were finished before
the kill, how many the rerun computed, and the wall time of both runs together. Writes
``benchmarks/results/sweep_default.json`` (and keeps the sweep folder in ``--work``).

    python benchmarks/sweep_default.py [--kill-after 120] [--simulator vacask] [--work /tmp/ipnet-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CONFIG = """samples = 20
chips = 2
[parameters]
r_wire_ohm = [0.0, 1.0, 4.0]
g_max_s = {{min = 2.5e-4, max = 1e-3, n = 3, scale = "log"}}
variation_sigma = [0.0, 0.05, 0.1]
[verify]
samples = 5
simulator = "{simulator}"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-after", type=float, default=120.0)
    parser.add_argument("--simulator", default="vacask", choices=("ngspice", "vacask"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-sweep"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sweep_default.json"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    cfg = args.work / "sweep.toml"
    cfg.write_text(CONFIG.format(simulator=args.simulator))
    folder = args.work / "sweep"
    cmd = [sys.executable, "-m", "ipnet_cosim.cli", "sweep", str(cfg), "-o", str(folder), "--workers", "2"]
    t0 = time.perf_counter()
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        first.wait(timeout=args.kill_after)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(first.pid, signal.SIGKILL)          # the sweep and its worker processes, no clean-up
        first.wait()
        killed = True
    t_first = time.perf_counter() - t0
    finished_before = sorted(p.parent.name for p in (folder / "points").glob("*/point.json"))
    stamps = {pid: (folder / "points" / pid / "point.json").stat().st_mtime_ns for pid in finished_before}
    t1 = time.perf_counter()
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    t_second = time.perf_counter() - t1
    if rerun.returncode != 0:
        raise SystemExit(f"the resumed sweep failed: {rerun.stderr[-2000:]}")
    untouched = all((folder / "points" / pid / "point.json").stat().st_mtime_ns == t for pid, t in stamps.items())
    sweep = json.loads((folder / "sweep.json").read_text())
    pts = sweep["points"]
    by_id = {p["id"]: p for p in pts}
    result = {"benchmark": "sweep_default", "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "provenance": "measured: wall times of the two CLI runs on this machine; figures computed by the twin, "
                            "the Pareto points' circuit figures simulated",
              "config": CONFIG.format(simulator=args.simulator), "points": len(pts),
              "parameters": 3, "killed_after_s": t_first if killed else None,
              "finished_before_kill": len(finished_before), "finished_points_untouched_by_rerun": untouched,
              "computed_by_rerun": len(pts) - len(finished_before), "wall_s_total": t_first + t_second,
              "wall_s_first_run": t_first, "wall_s_rerun": t_second,
              "pareto": [{"id": pid, "parameters": by_id[pid]["parameters"],
                          "accuracy_mean": by_id[pid]["accuracy_mean"],
                          "energy_per_inference_j": by_id[pid]["energy_per_inference_j"],
                          "area_m2": by_id[pid]["area_m2"], "verified": by_id[pid].get("verified")}
                         for pid in sweep["pareto_ids"]],
              "accuracy_range": [min(p["accuracy_mean"] for p in pts), max(p["accuracy_mean"] for p in pts)],
              "energy_range_j": [min(p["energy_per_inference_j"] for p in pts),
                                 max(p["energy_per_inference_j"] for p in pts)]}
    print(json.dumps({k: result[k] for k in ("points", "finished_before_kill", "computed_by_rerun",
                                             "finished_points_untouched_by_rerun", "wall_s_total")}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
