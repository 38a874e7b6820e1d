"""Benchmark: ``ipnet-cosim characterize`` at its defaults (thermal step, R(V), firing probabilities, the twins over
random and saturating drives), wall and CPU time of the command in a fresh process.

    python benchmarks/characterize_time.py [--work /tmp/ipnet-bench-characterize]
        [--out benchmarks/data/characterize_time.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-bench-characterize"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/characterize_time.json"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ipnet_cosim.cli", "characterize", "--out", str(args.work)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {"benchmark": "characterize_time", "exit_code": proc.returncode,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "provenance": "measured: wall clock and the child's rusage on this machine; the command at its defaults",
              "wall_s": round(wall, 1), "user_s": round(after.ru_utime - before.ru_utime, 1),
              "sys_s": round(after.ru_stime - before.ru_stime, 1), "target_s": 30.0}
    print(json.dumps(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
