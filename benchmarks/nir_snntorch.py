"""The README's NIR worked example: a convolutional SNN trained in snnTorch, exported with snnTorch's NIR exporter,
imported onto MTJ crossbars (``ipnet-cosim import-nir``), exported to netlists, simulated in ngspice and reported.

snnTorch network (16x16 event frames of synthetic-11, 16 steps): Conv2d(2->8, k3, s2, p1) -> Leaky(beta 0.5: memory)
-> AvgPool2d(2) -> Conv2d(8->16, k3) -> Leaky(beta 0) -> Flatten -> Linear(64->11) -> Leaky(beta 0), every Leaky with
zero reset and no reset delay (NIR's semantics), per-neuron beta and threshold tensors (what snnTorch's exporter
needs for convolutional layers), the thresholds set at the 85th percentile of each layer's input on training frames;
trained ``--epochs`` epochs (Adam, BPTT, cross-entropy on output spike counts).
Writes ``benchmarks/results/nir_snntorch.json``: snnTorch's test accuracy (its own forward), the import record and
the agreement with the NIR reference per layer, the circuit check (ngspice vs the PyTorch twin on ``--circuit``
samples), the report's energy per inference, and the wall times.

    python benchmarks/nir_snntorch.py [--epochs 4] [--circuit 2] [--work /tmp/ipnet-nir]
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

import numpy as np

DATA = "synthetic-11"
SIZE = 16
STEPS = 16


def build(snn, torch, thr: float = 1.0):
    def leaky(beta, shape, **kw):
        return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.full(shape, thr), reset_mechanism="zero",
                         reset_delay=False, init_hidden=True, learn_beta=False, learn_threshold=False, **kw)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 8, 3, stride=2, padding=1), leaky(0.5, (8, 8, 8)),
        torch.nn.AvgPool2d((2, 2), stride=(2, 2)),
        torch.nn.Conv2d(8, 16, 3), leaky(0.0, (16, 2, 2)),
        torch.nn.Flatten(), torch.nn.Linear(64, 11), leaky(0.0, (11,), output=True))


def calibrate(net, frames, torch) -> list[float]:
    """Each Leaky's threshold at the 85th percentile of its input on ``frames`` (so that ~15 % of the neurons fire
    at the start and the surrogate gradients are alive); returns the thresholds."""
    conv1, leak1, pool, conv2, leak2, flat, fc, leak3 = net
    n, t = frames.shape[:2]
    q = lambda a: float(torch.quantile(a.flatten()[::3].double(), 0.85))      # noqa: E731
    with torch.no_grad():
        a1 = conv1(frames.flatten(0, 1)).reshape(n, t, *conv1(frames[:1, 0]).shape[1:])
        thr1 = q(a1)
        v, s1 = torch.zeros_like(a1[:, 0]), []
        for k in range(t):
            v = 0.5 * v + a1[:, k]
            z = (v > thr1).float()
            v = v * (1 - z)
            s1.append(z)
        a2 = conv2(pool(torch.stack(s1, 1).flatten(0, 1)))
        thr2 = q(a2)
        thr3 = q(fc(flat((a2 > thr2).float())))
        for leak, thr in ((leak1, thr1), (leak2, thr2), (leak3, thr3)):
            leak.threshold.fill_(thr)
    return [thr1, thr2, thr3]


def run(net, frames, torch, utils):
    """Output spike counts [B, 11] (snnTorch's own forward, step by step)."""
    utils.reset(net)
    counts = 0
    for t in range(frames.shape[1]):
        spk, _ = net(frames[:, t])
        counts = counts + spk
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--circuit", type=int, default=2, help="test samples simulated in ngspice")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ipnet-nir"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/nir_snntorch.json"))
    args = parser.parse_args()
    import nir
    import snntorch as snn
    import torch
    from snntorch import utils
    from snntorch.export_nir import export_to_nir
    from ipnet_cosim.models.datasets import DataConfig, load_dataset
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    torch.manual_seed(0)
    train, test = load_dataset(DataConfig(dataset=DATA, height=SIZE, width=SIZE, n_bins=STEPS))
    net = build(snn, torch)
    thresholds = calibrate(net, torch.as_tensor(train.frames[::4], dtype=torch.float32), torch)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    x_train = torch.as_tensor(train.frames, dtype=torch.float32)
    y_train = torch.as_tensor(train.labels).long()
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        order = torch.randperm(len(y_train), generator=gen)
        for start in range(0, len(order), 32):
            idx = order[start:start + 32]
            loss = torch.nn.functional.cross_entropy(run(net, x_train[idx], torch, utils), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {float(loss.detach()):.3f}", flush=True)
    t_train = time.perf_counter() - t0
    with torch.no_grad():
        pred = run(net, torch.as_tensor(test.frames, dtype=torch.float32), torch, utils).argmax(1).numpy()
    snn_acc = float((pred == test.labels).mean())
    graph = export_to_nir(net, torch.zeros(1, 2, SIZE, SIZE), ignore_dims=[0])
    nir_path = args.work / "snntorch_cnn.nir"
    nir.write(nir_path, graph)
    cli = [sys.executable, "-m", "ipnet_cosim.cli"]
    t1 = time.perf_counter()
    subprocess.run(cli + ["import-nir", str(nir_path), "-o", str(args.work / "ck"), "--data", DATA, "--steps",
                          str(STEPS), "--samples", "88"], check=True)
    t_import = time.perf_counter() - t1
    record = json.loads((args.work / "ck" / "nir_import.json").read_text())
    samples = ",".join(str(i) for i in range(0, 176, 176 // max(1, args.circuit))[:args.circuit])
    t2 = time.perf_counter()
    subprocess.run(cli + ["export", str(args.work / "ck"), "-o", str(args.work / "export"), "--samples", samples],
                   check=True)
    subprocess.run(cli + ["simulate", str(args.work / "export"), "-o", str(args.work / "sim"), "--workers", "2"],
                   check=True)
    t_sim = time.perf_counter() - t2
    subprocess.run(cli + ["report", str(args.work / "export"), "--sim", str(args.work / "sim"), "-o",
                          str(args.work / "report")], check=True)
    sim = json.loads((args.work / "sim" / "results.json").read_text())
    report = json.loads((args.work / "report" / "report.json").read_text())
    result = {"benchmark": "nir_snntorch", "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "provenance": "measured: wall times on this machine; accuracies and agreement computed (snnTorch's "
                            "forward, the NIR reference, the PyTorch twin); circuit figures simulated in ngspice",
              "snntorch_test_accuracy": snn_acc, "snntorch_thresholds": thresholds,
              "test_samples": int(len(test.labels)), "train_s": t_train,
              "epochs": args.epochs, "import": {k: record[k] for k in ("layers", "readout", "memory_layers",
                                                                      "device_card_change", "exact")},
              "agreement": record["agreement"], "import_s": t_import,
              "circuit": {"samples": sim.summary.samples,
                          "all_spikes_equal": sim.summary.torch is not None and sim.summary.torch.all_spikes_equal,
                          "classes_agree": sim.summary.torch.classes_agree if sim.summary.torch else None,
                          "wall_s": t_sim, "layers": [layer.to_dict() for layer in sim.summary.layers]},
              "energy_per_inference_j": report["energy"]["total"]["value"],
              "soa_within": report["soa"]["within"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("snntorch_test_accuracy", "energy_per_inference_j")}), flush=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
