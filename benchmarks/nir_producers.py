"""Benchmark: what each producer's NIR graph gets, node by node. The graphs of tests/test_nir_producers.py (Sinabs,
its N-MNIST CNN at 2 x 34 x 34, Norse, SpikingJelly, as their own exporters return them) and tests/test_nir.py
(snnTorch, written to a file by
snnTorch's exporter and nir.write) are imported with a stimulus of their input shape, their agreement with the graph's
own reference measured on it, exported and simulated in ngspice against the twin. Writes
benchmarks/data/nir_producers.json (docs/nir.md's producer table is checked against it)."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def graphs(work: Path):
    """(producer, package, graph, input shape, dt_s) of every producer."""
    from test_nir import snntorch_conv_snn
    from test_nir_producers import PRODUCERS, sinabs_nmnist_graph
    import nir
    for name in sorted(PRODUCERS):
        graph, shape, dt = PRODUCERS[name]()
        yield name, name, graph, shape, dt
    graph, shape, dt = sinabs_nmnist_graph()
    yield "sinabs_nmnist", "sinabs", graph, shape, dt
    path = snntorch_conv_snn(work / "snntorch.nir")
    graph = nir.read(path)
    shape = tuple(int(v) for v in np.asarray(graph.nodes["input"].input_type["input"]))
    yield "snntorch", "snntorch", graph, shape, 1e-4


def writes(graph, path: Path) -> str:
    """Whether nir's own writer takes the graph as the exporter returned it ("yes", or the error)."""
    import nir
    try:
        nir.write(path, graph)
        return "yes"
    except Exception as exc:                            # the writer's own limits (nir 1.0.8)
        return f"no: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-nir-producers"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "nir_producers.json")
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    from ipnet_cosim.models.data.stimulus import write_stimulus
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.simulation.simulate import simulate_export
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    out = {"benchmark": "nir_producers", "nir": importlib.metadata.version("nir"),
           "machine": {"platform": platform.platform(), "python": platform.python_version()},
           "provenance": "computed (import, agreement with the graph's forward-Euler reference, PyTorch exact) and "
                         "simulated (ngspice, port models, 2 workers) on a seeded random stimulus of the graph's "
                         "input shape; seeded random weights of each producer's example network",
           "producers": {}}
    for name, package, graph, shape, dt in graphs(args.work):
        folder = args.work / name
        folder.mkdir()
        t0 = time.perf_counter()
        spikes = (np.random.default_rng(1).random((args.samples, 8, *shape)) < 0.4).astype(np.uint8)
        stim = write_stimulus(folder / "in.npz", spikes, labels=np.arange(args.samples) % 2)
        rec = import_to_checkpoint(graph, folder / "ck", stimulus=stim, dt_s=dt, samples=args.samples)
        n_circuit = 1 if name == "sinabs_nmnist" else min(2, args.samples)    # the full-size CNN: one sample
        export_network(folder / "ck", folder / "exp", samples=range(n_circuit))
        res = simulate_export(folder / "exp", out=folder / "sim", progress=False, workers=2)
        torch_cmp = res.summary.torch
        agree = {layer["node"]: layer for layer in rec["agreement"]["layers"]}
        out["producers"][name] = {
            "version": importlib.metadata.version(package), "dt_s": dt, "input_shape": list(shape),
            "nir_write": writes(graph, folder / "graph.nir"),
            "nodes": [[n, type(v).__name__] for n, v in graph.nodes.items()],
            "layers": [{"nodes": layer["nodes"], "fold": layer["fold"], "neuron": layer["neuron"],
                        "unit": layer["unit"], "exact": layer["exact"], "fold_rel_error": layer["fold_rel_error"],
                        "equal_given_reference_input":
                            agree[layer["nodes"][-1]]["equal_neuron_steps_given_reference_input"],
                        "fire_rate_reference": agree[layer["nodes"][-1]]["fire_rate_reference"]}
                       for layer in rec["layers"]],
            "readout": {"kind": rec["readout"]["kind"], "exact": rec["readout"]["exact"]},
            "circuit": {"samples": res.summary.samples,
                        "all_spikes_equal": bool(torch_cmp is not None and torch_cmp.all_spikes_equal),
                        "classes_agree": torch_cmp.classes_agree if torch_cmp is not None else None},
            "wall_s": round(time.perf_counter() - t0, 1)}
        print(name, json.dumps(out["producers"][name]["circuit"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
