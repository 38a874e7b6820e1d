"""Benchmark: the PyTorch twin over the whole test set (``simulate --simulator twin --samples all``), wall, user and
system time, for the bundled IPNet with the default (ideal) mapping and on the 1T1R RRAM synapse card (the
hardware model of a non-ideal chip), each with the twin's batching (``TWIN_BATCH`` samples per forward pass) and
in one pass over all samples (how it ran before: the quadrature's large tensors were allocated and page-faulted
afresh on every step, so system time exceeded user time). Each run is a fresh process; times from its rusage.

    python benchmarks/twin_speed.py [--modes batched,one-pass] [--work results/bench_twin_speed]
                                    [--out benchmarks/data/twin_speed.json]
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

RUN = """
import sys
import ipnet_cosim.simulation.twin_energy as te
if sys.argv[2] == "one-pass":
    te.TWIN_BATCH = 10 ** 9
from ipnet_cosim.simulation.simulate import simulate_export
from ipnet_cosim.simulation.inputs import count_test_samples
from ipnet_cosim.netlist_gen.contract import read_export
n = count_test_samples(read_export(sys.argv[1], need_checkpoint=False))
res = simulate_export(sys.argv[1], out=sys.argv[3], samples=list(range(n)), progress=False, simulator="twin", plots=0)
print(res.summary.accuracy, n)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("results/bench_twin_speed"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/twin_speed.json"))
    parser.add_argument("--modes", default="batched", help="comma-separated: batched, one-pass (one pass over all "
                        "352 samples needs >20 GB with the edges and reversal of issue 31)")
    args = parser.parse_args()
    from ipnet_cosim.models.checkpoint import pretrained_dir
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    from ipnet_cosim.device.synapse import synapse_card
    from ipnet_cosim.simulation.twin_energy import TWIN_BATCH
    shutil.rmtree(args.work, ignore_errors=True)
    exports = {"ideal": MappingOptions(), "rram_1t1r": MappingOptions.for_synapse(synapse_card("rram_1t1r"))}
    runs = []
    for name, options in exports.items():
        folder = args.work / name
        export_network(pretrained_dir("ipnet_default"), folder, samples=[0], options=options)
        for mode in args.modes.split(","):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", RUN, str(folder), mode, str(folder / f"twin_{mode}")],
                                  capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            acc, n = proc.stdout.split()
            runs.append({"export": name, "mode": mode, "samples": int(n), "twin_accuracy": float(acc),
                         "wall_s": round(wall, 1), "user_s": round(after.ru_utime - before.ru_utime, 1),
                         "sys_s": round(after.ru_stime - before.ru_stime, 1)})
            print(runs[-1])
    result = {"benchmark": "twin_speed", "twin_batch": TWIN_BATCH,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()},
              "provenance": "measured: wall clock and the child process's rusage on this machine (torch's default "
                            "threads); the twin's figures are computed, the neuron mode is the export's (median)",
              "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
