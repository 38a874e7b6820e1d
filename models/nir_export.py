"""An IPNet checkpoint as a NIR graph (``ipnet-cosim to-nir``), readable by ``nir.read`` and by other frameworks'
NIR importers (snnTorch's ``import_from_nir`` is checked in the tests).

Layout: ``input`` (2, H, W) -> per layer ``layer<i>_op`` (Conv2d, or Flatten + Affine) -> ``layer<i>_neurons`` (LIF)
-> ... -> ``readout`` (Flatten + Affine) -> ``output``. The ops carry the checkpoint's weights and biases as they are
(the op output ``a`` is dimensionless; the MTJ current is ``current_scale_a`` times it, through the drive stage).
Neurons, in NIR's forward-Euler semantics with the time step ``dt_s`` (1e-4 s by default, snnTorch's convention):

* a **memoryless MTJ neuron** is an LIF with ``tau = dt``, ``r = 1``, ``v_leak = v_reset = 0`` and ``v_threshold =
  a_th`` (its cold threshold as an op output): the membrane keeps nothing between steps, so it fires iff ``a > a_th``:
  the MTJ neuron exactly (up to the tie);
* a **heat-memory MTJ neuron** is an LIF with ``r = tau/dt`` (unit input gain), ``v_threshold = a_th`` and the leak
  ``beta = 1 - dt/tau = exp(-t_step/tau_th)``, the fraction of heat a junction keeps over one step: a leaky trace in
  place of the heat. Its threshold at rest is exact; the MTJ's switching rate rises with temperature, which an LIF's
  linear membrane only approximates.

The readout is ``Affine`` (scores = ``readout_gain`` x the mean over steps of its output; the gain does not change the
class). Every neuron node's metadata says which MTJ unit it stands for; the graph's metadata ``ipnet_cosim`` holds
the network configuration, the complete device card, the data configuration and the class names (JSON), so that
``import-nir`` rebuilds the same network from the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError

META_KEY = "ipnet_cosim"


def to_nir(checkpoint, dt_s: float = 1e-4):
    """The NIR graph of an IPNet checkpoint (a path or a loaded :class:`~ipnet_cosim.models.checkpoint.Checkpoint`)."""
    import nir
    from ipnet_cosim.models.checkpoint import load_checkpoint
    from ipnet_cosim.models.network_config import layer_shapes
    from ipnet_cosim.models.units import HeatMemoryNeurons, ThresholdMTJNeurons, cold_threshold
    if not (isinstance(dt_s, (int, float)) and math.isfinite(dt_s) and dt_s > 0):
        raise ConfigError(f"dt ({dt_s!r}) must be a positive time step in seconds")
    ck = checkpoint if hasattr(checkpoint, "model") else load_checkpoint(checkpoint)
    net, cfg = ck.model, ck.network_config
    if cfg.arch not in ("ipnet", "memoryless"):
        raise ConfigError(f"checkpoint holds a '{cfg.arch}' network; only IPNet and its memoryless control are MTJ "
                          f"networks NIR can describe (the baselines keep their memory in RNN/LSTM state)")
    shapes = layer_shapes(cfg)
    shape: tuple[int, ...] = (cfg.in_channels, cfg.height, cfg.width)
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(shape)})}
    order = ["input"]
    t_step = net.card.timing.t_step_s
    for i, (spec, op, unit) in enumerate(zip(cfg.layers, net.ops, net.units)):
        w = op.op.weight.detach().double().numpy()
        b = op.op.bias.detach().double().numpy()
        if spec.kind == "conv":
            nodes[f"layer{i}_op"] = nir.Conv2d(input_shape=tuple(int(s) for s in shape[1:]), weight=w, bias=b,
                                               stride=spec.stride, padding=spec.padding, dilation=1, groups=1)
            order.append(f"layer{i}_op")
        else:
            if len(shape) > 1:
                nodes[f"layer{i}_flatten"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0,
                                                         end_dim=-1)
                order.append(f"layer{i}_flatten")
            nodes[f"layer{i}_op"] = nir.Affine(weight=w, bias=b)
            order.append(f"layer{i}_op")
        out = tuple(int(s) for s in shapes[i])
        if isinstance(unit, HeatMemoryNeurons):
            kind, beta = "heat-memory MTJ", math.exp(-t_step / unit.card.mtj.tau_th_s)
        elif isinstance(unit, ThresholdMTJNeurons):
            kind, beta = "memoryless MTJ", 0.0
        else:
            raise ConfigError(f"layer {i} of the checkpoint has no MTJ neurons ({type(unit).__name__})")
        a_th = net.input_threshold(cold_threshold(unit.card, unit.bounded_drive)[0])
        tau = dt_s / (1.0 - beta)
        nodes[f"layer{i}_neurons"] = nir.LIF(
            tau=np.full(out, tau), r=np.full(out, tau / dt_s), v_leak=np.zeros(out), v_threshold=np.full(out, a_th),
            v_reset=np.zeros(out),
            metadata={"ipnet_cosim_unit": kind,
                      "ipnet_cosim_rule": ("LIF with tau = dt: a threshold at a_th, exact" if beta == 0.0 else
                                           f"leaky trace, beta = exp(-t_step/tau_th) = {beta:.6g}: approximate"),
                      "ipnet_cosim_tau_th_s": float(unit.card.mtj.tau_th_s), "ipnet_cosim_a_threshold": float(a_th)})
        order.append(f"layer{i}_neurons")
        shape = out
    if len(shape) > 1:
        nodes["readout_flatten"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
        order.append("readout_flatten")
    nodes["readout"] = nir.Affine(weight=net.readout.weight.detach().double().numpy(),
                                  bias=net.readout.bias.detach().double().numpy())
    nodes["output"] = nir.Output(output_type={"output": np.array([cfg.n_classes])})
    order += ["readout", "output"]
    meta = {"format": "ipnet-cosim nir export", "format_version": 1, "dt_s": dt_s,
            "network_config": cfg.to_dict(), "device_card": ck.card.to_dict(), "data_config": ck.data_config,
            "class_names": ck.class_names, "epoch": ck.epoch}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])),
                        metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def write_nir(checkpoint, out: str | Path, dt_s: float = 1e-4) -> Path:
    """``to_nir`` written with ``nir.write``; refuses to overwrite an existing file."""
    import nir
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} exists; choose another file name (nothing was overwritten)")
    graph = to_nir(checkpoint, dt_s)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    nir.write(tmp, graph)
    tmp.replace(out)
    return out


def exported_meta(graph) -> dict[str, Any] | None:
    """The ``ipnet_cosim`` metadata of a graph written by :func:`to_nir`, or None."""
    raw = (getattr(graph, "metadata", None) or {}).get(META_KEY)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError:
        raise ConfigError(f"the NIR graph's '{META_KEY}' metadata is not valid JSON; the file is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != "ipnet-cosim nir export":
        raise ConfigError(f"the NIR graph's '{META_KEY}' metadata is not an ipnet-cosim export record")
    return meta
