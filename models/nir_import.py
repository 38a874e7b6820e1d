"""A NIR graph onto MTJ crossbars: each segment of :mod:`~ipnet_cosim.models.nir_graph` (its linear nodes composed
into one conv or dense op, then a neuron node) becomes one IPNet layer (a crossbar, then MTJ neurons), the graph's
end the integrating readout; the result is an ordinary checkpoint (``export``, ``simulate``, ``report`` and
``sweep`` take it as they take a trained IPNet).

The neuron rule (forward Euler with the time step ``dt_s``, which NIR does not store; snnTorch's exporter assumes
1e-4 s). A node's segment output ``x`` drives it; at rest (v = 0) it fires at the first step where ``g x > theta'``:

=========== ================================================ =============================================
NIR node    per-step update                                  gain ``g``, memory
=========== ================================================ =============================================
Threshold   z = x > threshold                                g = 1, none
LIF         v += dt/tau (v_leak - v + r x)                   g = r dt / tau, leak beta = 1 - dt/tau
IF          v += dt r x                                      g = r dt, beta = 1 (no leak)
CubaLIF     i += dt/tau_syn (w_in x - i); v += dt/tau_mem    g = w_in r dt^2 / (tau_syn tau_mem),
            (v_leak - v + r i)                               alpha = 1 - dt/tau_syn, beta = 1 - dt/tau_mem
=========== ================================================ =============================================

with ``theta' = v_threshold - (dt/tau) v_leak`` (LIF, CubaLIF without memory) or ``v_threshold``. An MTJ neuron at
ambient fires iff its op output ``a`` reaches ``a_th`` (the cold threshold current through the drive stage, over
``current_scale_a``), so the op of each layer is scaled per neuron by ``a_th g / theta'``: **a neuron without memory
(Threshold; LIF/CubaLIF with tau = dt, so beta = alpha = 0) is reproduced exactly** by a memoryless MTJ neuron (up to
the tie ``x = theta``). A neuron with memory (beta or alpha > 0, IF) becomes a heat-memory MTJ neuron:
**approximately**: its threshold at rest is exact, its memory is heat, which leaks with the junction's thermal time
constant; with ``match_leak`` the card's C_th is set so that the heat left after one step, exp(-t_step/tau_th),
equals the LIF's beta (the median over the memory layers' neurons; IF has no leak to match). The reset (to
``v_reset``) is the MTJ's magnetic reset; the heat stays, which NIR's reset does not do. Refused by name: thresholds
<= 0 or gains <= 0 (an MTJ needs current to fire), tau < dt (forward Euler oscillates), a non-zero v_leak with
memory, per-position parameters on a convolution's feature map. The graph's end: linear nodes to Output (exact:
scores are the mean over steps of the outputs), an LI/I readout (approximate: its membrane's mean over steps is
taken as the score), or a spiking layer (exact: an identity readout counts its spikes).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.nir_graph import ConvOp, DenseOp, Segment, conv_out_shape, read_nir, segments, unroll

DEFAULT_DT_S = 1e-4
TOL = 1e-6                 # parameters written in float32 (snnTorch) carry ~1e-7 relative rounding


@dataclass
class NeuronRule:
    """How one NIR neuron node maps onto MTJ neurons."""

    node: str
    kind: str
    gain: np.ndarray            # per neuron (natural output shape)
    theta: np.ndarray           # per neuron: fires at rest when gain * x > theta
    memory: bool
    beta: np.ndarray | None     # per-step leak of the membrane (None: no membrane memory)
    exact: bool
    note: str


def _param(node, name: str, shape: tuple[int, ...], node_name: str) -> np.ndarray:
    value = getattr(node, name)
    arr = np.asarray(value if value is not None else 0.0, dtype=np.float64)
    try:
        if arr.size == int(np.prod(shape)) and arr.shape != shape:
            arr = arr.reshape(shape)
        return np.broadcast_to(arr, shape).copy()
    except ValueError:
        raise ConfigError(f"NIR node '{node_name}' ({type(node).__name__}): parameter {name} of shape {arr.shape} does "
                          f"not fit the layer's {shape} neurons") from None


def neuron_rule(name: str, node, shape: tuple[int, ...], dt_s: float) -> NeuronRule:
    """The rule of the module docstring for one neuron node whose neurons have ``shape``."""
    kind = type(node).__name__
    p = lambda field: _param(node, field, shape, name)          # noqa: E731
    if kind == "Threshold":
        return NeuronRule(name, kind, np.ones(shape), p("threshold"), False, None, True,
                          "exact: a memoryless MTJ neuron fires iff its current reaches the threshold")
    if kind == "IF":
        gain, theta = p("r") * dt_s, p("v_threshold")
        beta = np.ones(shape)
        alpha = None
    elif kind == "LIF":
        tau = p("tau")
        _check_tau(name, kind, "tau", tau, dt_s)
        gain, beta, alpha = p("r") * dt_s / tau, 1.0 - dt_s / tau, None
        theta = p("v_threshold") - (dt_s / tau) * p("v_leak")
    elif kind == "CubaLIF":
        tau_syn, tau_mem = p("tau_syn"), p("tau_mem")
        _check_tau(name, kind, "tau_syn", tau_syn, dt_s)
        _check_tau(name, kind, "tau_mem", tau_mem, dt_s)
        gain = p("w_in") * p("r") * dt_s * dt_s / (tau_syn * tau_mem)
        alpha, beta = 1.0 - dt_s / tau_syn, 1.0 - dt_s / tau_mem
        theta = p("v_threshold") - (dt_s / tau_mem) * p("v_leak")
    else:
        raise ConfigError(f"NIR node '{name}' ({kind}) is not a spiking neuron")
    memory = bool(np.any(np.abs(beta) > TOL) or (alpha is not None and np.any(np.abs(alpha) > TOL)))
    if memory and kind != "IF" and np.any(p("v_leak") != 0):
        raise ConfigError(f"NIR node '{name}' ({kind}): v_leak != 0 with memory (tau > dt) has no MTJ analogue (the "
                          f"heat relaxes to ambient, i.e. to 0); set v_leak = 0")
    if memory:
        note = ("approximate: a heat-memory MTJ neuron; its threshold at rest is exact, its memory is heat "
                f"(membrane leak per step beta = {float(np.median(beta)):.4g}"
                + (f", synaptic alpha = {float(np.median(alpha)):.4g}" if alpha is not None else "") + ")")
    else:
        note = f"exact: tau = dt leaves nothing between steps, so {kind} is a threshold; a memoryless MTJ neuron"
    return NeuronRule(name, kind, gain, theta, memory, beta, not memory, note)


def _check_tau(name: str, kind: str, field: str, tau: np.ndarray, dt_s: float) -> None:
    if np.any(tau <= 0):
        raise ConfigError(f"NIR node '{name}' ({kind}): {field} must be > 0")
    if np.any(tau < dt_s * (1 - TOL)):
        raise ConfigError(f"NIR node '{name}' ({kind}): {field} = {float(tau.min()):g} s < dt = {dt_s:g} s, where "
                          f"forward Euler oscillates; pass the time step the exporter assumed (--dt; NIR does not "
                          f"store it; snnTorch's exporter assumes 1e-4)")


def frame_shape(in_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """A graph input as event frames (C, H, W): (C, H, W) as is, (H, W) one channel, (N,) N channels of one pixel."""
    if len(in_shape) == 3:
        return int(in_shape[0]), int(in_shape[1]), int(in_shape[2])
    if len(in_shape) == 2:
        return 1, int(in_shape[0]), int(in_shape[1])
    if len(in_shape) == 1:
        return int(in_shape[0]), 1, 1
    raise ConfigError(f"NIR graph input of shape {in_shape}: give a flat (N,), an (H, W) or a (C, H, W) input")


def _natural_shape(seg: Segment) -> tuple[int, ...]:
    """The neurons' shape of a segment: its conv output (C, H, W) or its dense output (N,)."""
    if isinstance(seg.op, ConvOp):
        return conv_out_shape(seg.op, seg.in_shape, seg.neuron or "readout")
    return seg.out_shape


def _per_output(name: str, values: np.ndarray, op, what: str) -> np.ndarray:
    """Per-neuron values as one value per op output (channel of a conv, feature of a dense op)."""
    if isinstance(op, ConvOp):
        per_c = values.reshape(values.shape[0], -1)
        if not np.allclose(per_c, per_c[:, :1], rtol=1e-12, atol=0):
            raise ConfigError(f"NIR node '{name}': {what} varies over the feature map; a convolution's crossbar has "
                              f"one column per channel, so give one value per channel")
        return per_c[:, 0]
    return values.reshape(-1)


def import_nir(source, *, data=None, n_bins: int = 16, dt_s: float = DEFAULT_DT_S,
               card=None, match_leak: bool = True, current_scale_a: float = 150e-6, data_root: str | None = None):
    """A :class:`~ipnet_cosim.models.network.SpikingNet` realising the NIR graph ``source`` (a path or a graph) on
    MTJ crossbars, its data configuration and the import record (the rule applied to every node).

    Args:
        data: the data set whose test samples feed the network: a name (binned to the graph's input size, ``n_bins``
            steps per sample) or a :class:`~ipnet_cosim.models.datasets.DataConfig` of that size; default
            synthetic-22 where its event frames fit the graph's input, else none (the network is exported with your
            own input spikes, ``export --stimulus``).
        n_bins: time steps per sample (with a data set name).
        dt_s: the NIR time step, s (module docstring).
        card: the device card (default: the default card); with ``match_leak`` its C_th may be changed.
    """
    import torch
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.models.datasets import DATASETS, DataConfig
    from ipnet_cosim.models.network_config import LayerSpec, NetworkConfig
    from ipnet_cosim.models.network import SpikingNet
    from ipnet_cosim.models.units import cold_threshold
    if not (isinstance(dt_s, (int, float)) and math.isfinite(dt_s) and dt_s > 0):
        raise ConfigError(f"dt ({dt_s!r}) must be a positive time step in seconds")
    if data is not None and not isinstance(data, DataConfig) and data not in DATASETS:
        raise ConfigError(f"data set '{data}' is unknown; use one of {', '.join(DATASETS)}")
    graph = read_nir(source) if isinstance(source, (str, Path)) else source
    from ipnet_cosim.models.nir_export import exported_meta
    meta = exported_meta(graph)                  # a graph written by to-nir: rebuild its card and configuration
    base_config = None
    if meta is not None:
        try:
            card = DeviceCard.from_dict(meta["device_card"], origin="the NIR file's ipnet_cosim metadata")
            base_config = NetworkConfig.from_dict(meta["network_config"])
            data = DataConfig.from_dict(meta["data_config"])
            dt_s = float(meta["dt_s"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the NIR file's ipnet_cosim metadata is incomplete ({exc}); the file is damaged") \
                from None
        match_leak, current_scale_a = False, base_config.current_scale_a
    in_shape, segs = segments(graph)
    chw = frame_shape(in_shape)
    if data is None:                    # the default: the bundled set where it fits, else none (export: --stimulus)
        data = "synthetic-22" if chw[0] == 2 else "none"
    elif not isinstance(data, DataConfig) and chw[0] != 2:
        raise ConfigError(f"NIR graph input of shape {in_shape}: the bundled data sets are event frames of 2 "
                          f"polarities (2, H, W); give your own input spikes of shape {in_shape} with --stimulus FILE")
    hidden = [s for s in segs if s.neuron is not None and type(graph.nodes[s.neuron]).__name__ not in ("LI", "I")]
    tail = [s for s in segs if s not in hidden]
    readout_seg = next((s for s in tail if s.op is not None or s.neuron is not None), tail[0] if tail else None)
    if not hidden:
        raise ConfigError("NIR graph has no spiking neuron layer (Threshold, IF, LIF or CubaLIF); nothing to map onto "
                          "MTJ neurons")
    rules, layers = [], []
    flat_net = False                                # a dense layer flattens: the layers after it are dense too
    for seg in hidden:
        assert seg.neuron is not None and seg.op is not None          # (a hidden segment ends at its neuron)
        node = graph.nodes[seg.neuron]
        shape = _natural_shape(seg)
        rules.append(neuron_rule(seg.neuron, node, shape, dt_s))
        if isinstance(seg.op, ConvOp) and flat_net:
            seg.op = unroll(seg.op, seg.in_shape)     # exact: the convolution as its matrix
            seg.notes.append("convolution unrolled into a dense crossbar (an earlier layer is dense)")
        flat_net = flat_net or isinstance(seg.op, DenseOp)
        if isinstance(seg.op, ConvOp):
            layers.append(LayerSpec("conv", int(seg.op.weight.shape[0]), kernel=int(seg.op.weight.shape[2]),
                                    stride=int(seg.op.stride), padding=int(seg.op.padding)))
        else:
            layers.append(LayerSpec("linear", int(seg.op.weight.shape[0])))
    card = card or DeviceCard()
    heat = tuple(i for i, r in enumerate(rules) if r.memory)
    card_note = None
    betas = [b.ravel() for b in (rules[i].beta for i in heat) if b is not None]
    leaks = np.concatenate(betas) if betas else np.array([])
    leaky = leaks[(leaks > TOL) & (leaks < 1 - TOL)]
    if match_leak and leaky.size:
        beta = float(np.median(leaky))
        tau_th = -card.timing.t_step_s / math.log(beta)
        card = card.replace(c_th_j_per_k=tau_th / card.mtj.r_th_k_per_w)
        card_note = (f"mtj.c_th_j_per_k set to {card.mtj.c_th_j_per_k:.4g} J/K so that tau_th = {tau_th:.4g} s leaves "
                     f"exp(-t_step/tau_th) = {beta:.4g} of the heat after one step, the median leak of the memory "
                     f"layers' neurons" + ("" if np.ptp(leaky) < 1e-9 else
                                            f" (their leaks span {leaky.min():.4g}-{leaky.max():.4g}: approximate)"))
    last_shape = _natural_shape(hidden[-1])
    ro_op = readout_seg.op if readout_seg is not None else None
    if isinstance(ro_op, ConvOp) and readout_seg is not None:
        ro_op = unroll(ro_op, readout_seg.in_shape)
    n_in = int(np.prod(last_shape))
    if ro_op is None:
        ro_op = DenseOp(np.eye(n_in), np.zeros(n_in))
    n_classes = int(ro_op.weight.shape[0])
    if isinstance(data, DataConfig):
        if (data.channels, data.height, data.width) != chw:
            fix = ("give the spikes in the graph's input shape" if data.dataset == "stimulus" else
                   "the bundled data sets are event frames of 2 polarities: bin them to the graph's input size, or "
                   "give your own input spikes with --stimulus FILE")
            raise ConfigError(f"input frames of {data.channels} x {data.height} x {data.width} do not fit the NIR "
                              f"graph's input {in_shape}; {fix}")
        data_config = data
        if data.dataset == "stimulus" and not data.n_classes:
            data_config = dataclasses.replace(data, n_classes=n_classes)
    elif data == "none":
        data_config = DataConfig(dataset="none", channels=chw[0], height=chw[1], width=chw[2], n_bins=n_bins,
                                 n_classes=n_classes, n_val_per_class=0)
    else:
        data_config = DataConfig(dataset=data, height=chw[1], width=chw[2], n_bins=n_bins, root=data_root)
    config = NetworkConfig(arch="ipnet", in_channels=chw[0], height=chw[1], width=chw[2],
                           n_classes=n_classes, layers=tuple(layers), memory_layers=heat,
                           current_scale_a=current_scale_a,
                           readout_gain=1.0)
    if base_config is not None:
        same = (base_config.layers == config.layers and base_config.heat_layers == heat
                and base_config.n_classes == n_classes
                and (base_config.in_channels, base_config.height, base_config.width) == chw)
        if not same:
            raise ConfigError("the NIR graph's nodes do not match its own ipnet_cosim metadata (layers, memory or "
                              "sizes differ): the file was edited after to-nir; remove the metadata to import it as a "
                              "foreign graph")
        config = base_config
    net = SpikingNet(config, card).double()
    table = []
    with torch.no_grad():
        for i, (seg, rule) in enumerate(zip(hidden, rules)):
            assert seg.neuron is not None and seg.op is not None
            unit: Any = net.units[i]
            a_th = net.input_threshold(cold_threshold(unit.card, unit.bounded_drive)[0])
            gain = _per_output(seg.neuron, rule.gain, seg.op, "the gain")
            theta = _per_output(seg.neuron, rule.theta, seg.op, "the threshold")
            if np.any(gain <= 0) or np.any(theta <= 0):
                raise ConfigError(f"NIR node '{seg.neuron}' ({rule.kind}): a threshold or input gain <= 0 would fire "
                                  f"without input or never; an MTJ neuron needs a positive current to fire")
            scale = a_th * gain / theta
            scale = np.where(np.abs(scale - 1.0) < 1e-12, 1.0, scale)
            w = torch.from_numpy(seg.op.weight * scale.reshape(-1, *([1] * (seg.op.weight.ndim - 1))))
            op: Any = net.ops[i].op
            if op.weight.shape != w.shape:
                raise ConfigError(f"NIR segment ending at '{seg.neuron}': composed weight {tuple(w.shape)} does not "
                                  f"fit "
                                  f"layer {i}'s {tuple(op.weight.shape)}")
            op.weight.copy_(w)
            op.bias.copy_(torch.from_numpy(seg.op.bias * scale))
            table.append({"layer": i, "nodes": seg.nodes, "op": layers[i].to_dict(), "neuron": rule.kind,
                          "unit": "heat-memory MTJ" if rule.memory else "memoryless MTJ", "exact": rule.exact,
                          "rule": rule.note, "notes": seg.notes, "a_threshold": float(a_th),
                          "fold": ("convolution" if isinstance(seg.op, ConvOp) else "dense"),
                          "fold_rel_error": seg.fold_error,
                          "scale_min": float(scale.min()), "scale_max": float(scale.max())})
        if ro_op.weight.shape[1] != n_in:
            raise ConfigError(f"NIR readout takes {ro_op.weight.shape[1]} inputs, the last layer has {n_in}")
        net.readout.weight.copy_(torch.from_numpy(ro_op.weight))
        net.readout.bias.copy_(torch.from_numpy(ro_op.bias))
    ro_kind = (type(graph.nodes[readout_seg.neuron]).__name__ if readout_seg is not None and readout_seg.neuron
               else ("Output" if readout_seg is not None and readout_seg.op is not None else "spikes"))
    record = {"format": "ipnet-cosim nir import", "format_version": 1, "dt_s": dt_s, "input_shape": list(in_shape),
              "layers": table, "memory_layers": list(heat), "device_card_change": card_note,
              "readout": {"nodes": readout_seg.nodes if readout_seg is not None else [], "kind": ro_kind,
                          "exact": ro_kind in ("Output", "spikes"), "classes": n_classes,
                          "rule": {"Output": "exact: scores are the mean over steps of the graph's output",
                                   "spikes": "exact: an identity readout counts the last layer's spikes",
                                   "LI": "approximate: the mean over steps of the LI input is the score, not the "
                                         "membrane's",
                                   "I": "approximate: the mean over steps of the integrator's input is the score, "
                                        "not its final value"}[ro_kind]},
              "exact": all(r.exact for r in rules) and ro_kind in ("Output", "spikes"),
              "from_ipnet_cosim": meta is not None,
              "class_names": list(meta["class_names"]) if meta is not None else None}
    return net.float(), data_config, record


def import_to_checkpoint(source, out, *, data=None, n_bins: int = 16, dt_s: float = DEFAULT_DT_S, card=None,
                         match_leak: bool = True, samples: int = 20, data_root: str | None = None,
                         stimulus: str | Path | None = None) -> dict:
    """:func:`import_nir` written as a checkpoint in ``out`` (refused if one is there), with the import record and
    the agreement with the graph's reference on ``samples`` test samples spread over the test set in
    ``out/nir_import.json`` (and in the checkpoint's ``nir_import`` entry). Returns that record. ``stimulus``: your
    own input spikes (:mod:`~ipnet_cosim.models.data.stimulus`, any input shape) instead of the data set ``data``;
    the checkpoint's data is then that file (export and simulate take their samples from it)."""
    import json
    from ipnet_cosim.models.checkpoint import CHECKPOINT_FILE, save_checkpoint
    from ipnet_cosim.models.datasets import load_dataset, spread_indices
    from ipnet_cosim.models.nir_reference import agreement
    out = Path(out)
    if (out / CHECKPOINT_FILE).exists():
        raise ConfigError(f"{out / CHECKPOINT_FILE} exists; choose another output folder (nothing was overwritten)")
    graph = read_nir(source) if isinstance(source, (str, Path)) else source
    if stimulus is not None:
        from ipnet_cosim.models.datasets import stimulus_config
        from ipnet_cosim.models.nir_graph import chain, input_shape
        data = stimulus_config(stimulus, input_shape=input_shape(chain(graph)[0][1]))
    net, data_config, record = import_nir(graph, data=data, n_bins=n_bins, dt_s=dt_s, card=card,
                                          match_leak=match_leak, data_root=data_root)
    idx: list[int] = []
    if data_config.dataset == "none":                  # no data fits the graph's input and no stimulus was given
        record["agreement_note"] = ("no agreement with the graph's reference: no data set fits its input "
                                    f"{record['input_shape']}; import with --stimulus FILE to measure it")
        names = record["class_names"] or [f"class {i}" for i in range(net.config.n_classes)]
    else:
        _, test = load_dataset(data_config)
        names = record["class_names"] or list(test.class_names)
        if len(names) != net.config.n_classes:
            from ipnet_cosim.models.datasets import DATASETS
            sizes = ", ".join(f"{d}: {22 if d.endswith('22') else 11}" for d in DATASETS)
            raise ConfigError(f"the NIR graph has {net.config.n_classes} outputs, data set '{data_config.dataset}' "
                              f"has {len(names)} classes; pass --data with a data set of {net.config.n_classes} "
                              f"classes (classes: {sizes})")
        idx = spread_indices(len(test.labels), samples) if samples > 0 else []
        if idx:
            labels = test.labels[idx]
            record["agreement"] = agreement(graph, net, record, test.frames[idx],
                                            None if (labels < 0).all() else labels)   # < 0: an unlabelled stimulus
            record["agreement"]["sample_indices"] = idx
    if isinstance(source, (str, Path)):
        record["source"] = str(source)
    save_checkpoint(out, net, data_config=data_config.to_dict(),
                    train_config={"source": "ipnet-cosim import-nir", "dt_s": record["dt_s"]},
                    metrics={"nir_import_exact": record["exact"], **({"nir_agreement": record["agreement"]}
                                                                     if idx else {})},
                    history=[], class_names=names, epoch=0, extra={"nir_import": json.loads(json.dumps(record))})
    (out / "nir_import.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
