"""A NIR graph run as its own discrete-time reference in PyTorch (float64, forward Euler with the time step
``dt_s``: the semantics the neuron rule of :mod:`~ipnet_cosim.models.nir_import` is stated in), and the agreement of
an imported network with it: per layer the fraction of equal neuron-steps (end to end, and with the layer fed the
reference's input spikes, which isolates the layer's own rule: 1 for an exact rule up to ties) and both fire rates,
the predicted classes, and the accuracy of each where labels exist.

Per step ``t`` every node maps its input to its output; neurons start at v = 0 (i = 0):
``Threshold``: z = x > threshold; ``LIF``: v += dt/tau (v_leak - v + r x), z = v > v_threshold, v = v_reset where z;
``IF``: v += dt r x; ``CubaLIF``: i += dt/tau_syn (w_in x - i), then v += dt/tau_mem (v_leak - v + r i); ``LI``:
v += dt/tau (v_leak - v + r x), output v; ``I``: v += dt r x. Pooling counts padded zeros; Flatten is C-order over a
sample's axes. The reference's class is the argmax of the mean over steps of the Output's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ipnet_cosim.models.nir_graph import LINEAR_TYPES, as_float64, chain, linear_forward


def run_reference(graph, frames, dt_s: float) -> dict[str, Any]:
    """``frames [B, T, C, H, W]`` through the graph: ``{"spikes": {node: [T, B, ...]}, "output": [T, B, n]}``."""
    import torch
    x = torch.as_tensor(np.asarray(frames), dtype=torch.float64).transpose(0, 1)       # [T, B, ...]
    n_t, n_b = x.shape[:2]
    spikes: dict[str, Any] = {}
    for name, node in chain(graph)[1:]:
        kind = type(node).__name__
        feat = tuple(x.shape[2:])
        flat = x.reshape(n_t * n_b, *feat)
        if kind in LINEAR_TYPES:
            y = linear_forward(name, node, flat)
        elif kind == "Output":
            break
        else:
            y = None
        if y is not None:
            x = y.reshape(n_t, n_b, *y.shape[1:])
            continue
        x = _neuron(kind, node, x, dt_s)
        if kind not in ("LI", "I"):
            spikes[name] = x
    return {"spikes": spikes, "output": x}


def _neuron(kind: str, node, x, dt_s: float):
    import torch
    feat = tuple(x.shape[2:])
    p = lambda field: as_float64(getattr(node, field), feat)        # noqa: E731
    v = torch.zeros_like(x[0])
    cur = torch.zeros_like(x[0])
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        xt = x[t]
        if kind == "Threshold":
            out[t] = (xt > p("threshold")).to(x.dtype)
            continue
        if kind == "IF":
            v = v + dt_s * p("r") * xt
        elif kind in ("LIF", "LI"):
            v = v + dt_s / p("tau") * (p("v_leak") - v + p("r") * xt)
        elif kind == "CubaLIF":
            cur = cur + dt_s / p("tau_syn") * (p("w_in") * xt - cur)
            v = v + dt_s / p("tau_mem") * (p("v_leak") - v + p("r") * cur)
        elif kind == "I":
            v = v + dt_s * p("r") * xt
        if kind in ("LI", "I"):
            out[t] = v
            continue
        z = v > p("v_threshold")
        out[t] = z.to(x.dtype)
        v = torch.where(z, p("v_reset").expand_as(v), v)
    return out


def agreement(graph, net, record: dict[str, Any], frames, labels=None) -> dict[str, Any]:
    """How far the MTJ realisation ``net`` (exact precision) departs from the graph's reference on ``frames``."""
    import torch
    ref = run_reference(graph, frames, record["dt_s"])
    model = net.set_precision("exact").eval()
    with torch.no_grad():
        logits, trace = model(torch.as_tensor(np.asarray(frames)), return_trace=True)
    layers = []
    x_in = model.prepare_frames(torch.as_tensor(np.asarray(frames)))
    with torch.no_grad():
        for entry, ours, op, memory, unit in zip(record["layers"], trace["outputs"], model.ops, model.memories,
                                                 model.units):
            theirs = ref["spikes"][entry["nodes"][-1]]
            forced = unit(model.neuron_current_a(memory(op(x_in))))    # this layer on the reference's input
            x_in = theirs.reshape(ours.shape).to(x_in.dtype)
            a, b, f = (v.reshape(v.shape[0], v.shape[1], -1).numpy() > 0.5 for v in (ours, theirs, forced))
            layers.append({"layer": entry["layer"], "node": entry["nodes"][-1], "exact_rule": entry["exact"],
                           "equal_neuron_steps": float((a == b).mean()),
                           "equal_neuron_steps_given_reference_input": float((f == b).mean()),
                           "fire_rate_mtj": float(a.mean()), "fire_rate_reference": float(b.mean())})
    ref_scores = ref["output"].mean(dim=0).reshape(len(frames), -1).numpy()
    ours_cls = logits.argmax(dim=1).numpy()
    ref_cls = ref_scores.argmax(axis=1)
    out = {"samples": int(len(frames)), "dt_s": record["dt_s"], "layers": layers,
           "classes_agree": int((ours_cls == ref_cls).sum()),
           "provenance": "computed: the imported network (PyTorch twin, exact precision) and the NIR graph's own "
                         "forward-Euler reference on the same test frames"}
    if labels is not None:
        labels = np.asarray(labels)
        out["accuracy_mtj"] = float((ours_cls == labels).mean())
        out["accuracy_reference"] = float((ref_cls == labels).mean())
    net.set_precision("train")
    return out
