"""The circuit's decisions and their comparison with PyTorch.

* :func:`decide`: the class a readout's scores pick, or ``None`` ("no decision") when the top score is
  shared (a silent circuit gives equal scores; argmax would quietly call that class 0).
* :func:`torch_reference`: the checkpoint in PyTorch at exact precision (float64, 64/16 substeps) on the
  same frames (and, for a stochastic export, the same recorded draws): spikes, each neuron-step's distance from
  the firing threshold (median mode: ``ln H - ln ln 2``; stochastic: ``ln H - ln(-ln u)``; the reference always runs
  with the units' hazards), logits; a difference whose margin lies inside :data:`AGREEMENT_MARGIN` is a
  numerical tie (the agreement contract). When the export's crossbars are not
  ideal (quantized, varied, wires or driver resistance) the reference is the PyTorch model of the exported
  chip (:class:`~ipnet_cosim.chip.hardware_net.HardwareNet`: the same devices and exact IR drop),
  so that a disagreement means the circuit and its twin differ, not that the mapping is lossy; the
  network's own accuracy on the samples is given beside it.
* :func:`summarise`: per sample and layer, spike agreement and, for every disagreement, PyTorch's margin,
  so numerical ties can be told from mapping errors; and :func:`layer_warnings`: a silent layer, or a
  fire rate that departs from PyTorch's by more than :data:`FIRE_RATE_MARGIN`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from ipnet_cosim.device.statistics import wilson_interval
from ipnet_cosim.netlist_gen.contract import (Export, LayerComparison, LayerResult, Mismatch, ResultWarning, RunFiring,
                                              SampleResult, SimulationSummary, TorchComparison)

# a layer's circuit fire rate departs from PyTorch's when |circuit - torch| > max(ABS, REL x torch)
FIRE_RATE_MARGIN = {"absolute": 0.01, "relative": 0.25}
TIE_RTOL = 1e-12        # scores within this fraction of the largest |score| count as equal
# The agreement contract (docs/simulation.md, "Agreement contract"): a neuron-step may differ between a circuit
# simulator and the twin only if the twin's margin |ln H - ln(-ln u)| lies inside this numerical tolerance of the
# threshold. The simulators' hazard at reltol 1e-4 is within 2.7e-3 of the twin's in ln H over the whole test set
# (benchmarks/test_set_circuit.py: 32 of 4.5 million layer-0 neuron-steps differ, the largest margin 2.7e-3); 5e-3
# leaves room for another CPU's rounding.
AGREEMENT_MARGIN = 5e-3
# The rest of the contract, for runs whose spikes agree: each layer's energy per category within this fraction
# (the neurons' heating from two integrators of the same equations at reltol 1e-4: measured <= 2e-4 between the
# twin, ngspice and VACASK; crossbar and driver energies are one exact computation), and every peak junction
# temperature within this many kelvin (measured <= 0.03 K against the twin, 0.04 K VACASK against ngspice, on rises
# of 40-200 K; benchmarks/time_points.py).
ENERGY_AGREEMENT_REL = 1e-3
PEAK_TEMPERATURE_AGREEMENT_K = 0.1


def decide(scores: Sequence[float] | np.ndarray) -> int | None:
    """The winning class, or None when the top score is shared by two or more classes (no decision)."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0 or not np.all(np.isfinite(s)):
        return None
    top = float(s.max())
    tol = TIE_RTOL * max(float(np.abs(s).max()), 1e-300)
    winners = np.flatnonzero(s >= top - tol)
    return int(winners[0]) if winners.size == 1 else None


def ideal_mapping(options) -> bool:
    """Continuous devices without variation, wires, driver resistance or gain trims: the circuit computes the
    network."""
    co = options.conductance
    return (co.levels is None and not co.varied and options.r_wire_ohm == 0 and options.r_driver_ohm == 0
            and not options.trimmed)


def twin_model(export: Export) -> tuple[Any, Any, bool]:
    """(the checkpoint's network at exact precision, the twin that runs it, hardware): the twin is the network for
    an ideal mapping and its hardware model on the exported chip (HardwareNet) otherwise (``hardware`` True)."""
    from ipnet_cosim.models.checkpoint import load_checkpoint
    ck = load_checkpoint(export.path(export.manifest.checkpoint.file))
    model = ck.model.set_precision("exact").eval()
    options = export.manifest.options()
    hardware = not ideal_mapping(options)
    twin: Any = model
    if hardware:
        from ipnet_cosim.chip.hardware_net import HardwareNet
        twin = HardwareNet(model, options)
    return model, twin, hardware


def coin_flip_fractions(trace: dict[str, Any]) -> list[float | None]:
    """Per hidden layer of a twin's trace run with details, the fraction of neuron-steps whose firing probability
    ``1 - exp(-H)`` lies inside the coin-flip band (0.05, 0.95) (None for a layer without MTJ neurons)."""
    from ipnet_cosim.models.stochastic import coin_flips
    out: list[float | None] = []
    for info in trace["details"]:
        if info is None:
            out.append(None)
            continue
        low, high = coin_flips(info.hazard)
        out.append(float((low | high).double().mean()))
    return out


def run_draws(export: Export, samples: Sequence[int], draw: int | None) -> Any:
    """The draw source of a run of ``samples`` (:class:`~ipnet_cosim.models.firing.RecordedDraws` of the export's
    seed at draw index ``draw``), or None in the median mode."""
    if draw is None:
        return None
    from ipnet_cosim.models.firing import RecordedDraws
    return RecordedDraws(export.manifest.firing_mode().seed, list(samples), [draw] * len(samples))


REFERENCE_BATCH = 4   # samples per forward pass of the reference: its memory stays that of a few samples


def torch_reference(export: Export, frames: np.ndarray, samples: Sequence[int] | None = None,
                    draw: int | None = None) -> dict[str, Any]:
    """PyTorch at exact precision on ``frames``: spikes, margins per layer, logits (the module docstring says
    which model: the network, or its hardware model on the exported chip); ``samples`` and ``draw``: the
    recorded draws of a stochastic export (margins then ``ln H - ln(-ln u)``). Runs :data:`REFERENCE_BATCH`
    samples at a time (each sample's figures do not depend on the others')."""
    import torch
    sample_list = list(samples) if samples is not None else list(range(len(frames)))
    model, twin, hardware = twin_model(export)
    spikes: list[list[np.ndarray]] = []
    margins: list[list[np.ndarray]] = []
    kinds: list[str] = []
    logits_all: list[np.ndarray] = []
    network_predicted: list[int | None] = []
    flips: list[tuple[int, list[float | None]]] = []
    for start in range(0, len(frames), REFERENCE_BATCH):
        chunk = torch.as_tensor(frames[start:start + REFERENCE_BATCH])
        draws = run_draws(export, sample_list[start:start + REFERENCE_BATCH], draw)
        with torch.no_grad():
            logits, trace = twin(chunk, return_trace=True, draws=draws, details=True)
            if hardware:
                network_predicted += [decide(row) for row in model(chunk).numpy()]
        flips.append((len(chunk), coin_flip_fractions(trace)))
        logits_all.append(logits.numpy())
        kinds = []
        for li, (out, info, u, unit) in enumerate(zip(trace["outputs"], trace["details"], trace["draws"],
                                                      model.units)):
            t_steps, batch = out.shape[:2]
            if li >= len(spikes):
                spikes.append([])
                margins.append([])
            spikes[li].append(out.reshape(t_steps, batch, -1).transpose(0, 1).numpy() > 0.5)
            if u is not None:
                threshold = (-torch.log(u)).clamp_min(unit.params.min_threshold)   # as the neuron clamps its draw
                margin = torch.log(info.hazard.clamp_min(1e-300)) - torch.log(threshold)
                kinds.append("ln H - ln(-ln u)")
            else:
                margin = torch.log(info.hazard.clamp_min(1e-300)) - math.log(math.log(2.0))
                kinds.append("ln H - ln ln 2")
            margins[li].append(margin.reshape(t_steps, batch, -1).transpose(0, 1).numpy())
    logits_np = np.concatenate(logits_all)
    total = sum(n for n, _ in flips)
    coin = [None if f is None else sum(n * (fr[li] or 0.0) for n, fr in flips) / total
            for li, f in enumerate(flips[0][1])]
    return {"spikes": [np.concatenate(x) for x in spikes], "margins": [np.concatenate(x) for x in margins],
            "margin_kinds": kinds, "logits": logits_np, "coin_flip": coin,
            "predicted": [decide(row) for row in logits_np], "hardware_model": hardware,
            "network_predicted": network_predicted if hardware else None}


def _layer_result(name: str, spikes: np.ndarray, ref: dict[str, Any] | None, li: int, k: int,
                  upstream_step: float = math.inf) -> LayerResult:
    """One layer of one sample against the reference. A difference is *downstream* (a consequence, not a
    disagreement of its own) when an earlier layer already differed at or before its step (``upstream_step``),
    or when the same neuron differed at an earlier step (its heat differs from then on); of the others, those
    inside :data:`AGREEMENT_MARGIN` of the threshold are numerical ties and the rest break the contract."""
    own = LayerResult(name, int(spikes.size), float(spikes.mean()))
    if ref is None:
        return own
    ts = ref["spikes"][li][k]
    margin = ref["margins"][li][k]
    diff = np.argwhere(spikes != ts)
    first: dict[int, int] = {}
    for a, b in diff:                               # argwhere is in step order
        first.setdefault(int(b), int(a))
    downstream = np.array([a >= upstream_step or first[int(b)] < a for a, b in diff], dtype=bool)
    tie = np.abs(margin[tuple(diff.T)]) < AGREEMENT_MARGIN if len(diff) else np.zeros(0, dtype=bool)
    largest = float(np.abs(margin[tuple(diff.T)]).max()) if len(diff) else None
    largest_own = float(np.abs(margin[tuple(diff[~downstream].T)]).max()) if (~downstream).any() else None
    compared = LayerComparison(
        torch_fire_rate=float(ts.mean()), mismatches=int(len(diff)), mismatches_downstream=int(downstream.sum()),
        mismatches_tie=int((~downstream & tie).sum()), mismatches_outside_tolerance=int((~downstream & ~tie).sum()),
        margin=ref["margin_kinds"][li], closest_margin=float(np.abs(margin).min()),
        largest_mismatch_margin=largest, largest_own_mismatch_margin=largest_own,
        first_mismatch_step=int(diff[:, 0].min()) if len(diff) else None,
        agreement=float((spikes == ts).mean()),
        details=tuple(Mismatch(int(a), int(b), bool(spikes[a, b]), bool(ts[a, b]), float(margin[a, b]), bool(d))
                      for (a, b), d in list(zip(diff, downstream))[:20]))
    return replace(own, compared=compared)


def _sample_layers(hidden, outputs: list[np.ndarray], ref: dict[str, Any] | None, k: int) -> tuple[LayerResult, ...]:
    """Every hidden layer of sample ``k``; a layer's differences after an earlier layer's first are downstream."""
    rows, upstream = [], math.inf
    for li, sp in enumerate(outputs):
        row = _layer_result(hidden[li].name, sp, ref, li, k, upstream)
        if row.compared is not None and row.compared.first_mismatch_step is not None:
            upstream = min(upstream, row.compared.first_mismatch_step)
        rows.append(row)
    return tuple(rows)


def _layer_total(name: str, rows: Sequence[LayerResult], coin_flip: float | None) -> LayerResult:
    """One hidden layer over all samples (the summary's row)."""
    fire_rate = float(np.mean([r.fire_rate for r in rows]))
    compared = None
    runs = [r.compared for r in rows if r.compared is not None]
    if runs:
        worst = [c.largest_mismatch_margin for c in runs if c.largest_mismatch_margin is not None]
        compared = LayerComparison(
            torch_fire_rate=float(np.mean([c.torch_fire_rate for c in runs])),
            mismatches=sum(c.mismatches for c in runs),
            mismatches_downstream=sum(c.mismatches_downstream for c in runs),
            mismatches_tie=sum(c.mismatches_tie for c in runs),
            mismatches_outside_tolerance=sum(c.mismatches_outside_tolerance for c in runs),
            margin=runs[0].margin, closest_margin=min(c.closest_margin for c in runs),
            largest_mismatch_margin=max(worst) if worst else None)
    return LayerResult(name, sum(r.neuron_steps for r in rows), fire_rate, compared, coin_flip)


def summarise(export: Export, samples: Sequence[int], labels: Sequence[int], outputs: dict[int, list[np.ndarray]],
              charges: dict[int, np.ndarray], elapsed: dict[int, float], ref: dict[str, Any] | None,
              firing: RunFiring, coin_flip: Sequence[float | None] | None = None
              ) -> tuple[SimulationSummary, tuple[SampleResult, ...]]:
    """The summary and the per-sample results of a run (class scores = readout gain x charge / (k v_read t_pulse T));
    each layer's coin-flip fraction from the PyTorch twin's hazards (``coin_flip``, or the reference's). The run's
    timing fields are left at their defaults for the caller to set."""
    man = export.manifest
    t = man.timing
    scale = t.readout_gain / (man.readout.k_s * t.v_read_v * t.t_pulse_s * t.n_steps)
    hidden = man.hidden_layers
    per_sample = []
    for k, s in enumerate(samples):
        scores = charges[s] * scale
        per_sample.append(SampleResult(
            sample=s, label=int(labels[k]) if int(labels[k]) >= 0 else None,          # < 0: an unlabelled stimulus
            predicted_class=decide(scores), scores=tuple(float(v) for v in scores),
            sim_time_s=elapsed[s], layers=_sample_layers(hidden, outputs[s], ref, k),
            torch_scores=None if ref is None else tuple(float(v) for v in ref["logits"][k]),
            torch_class=None if ref is None else ref["predicted"][k]))
    flips = coin_flip if coin_flip is not None else (ref["coin_flip"] if ref is not None else None)
    totals = tuple(_layer_total(layer.name, [e.layers[li] for e in per_sample], None if flips is None else flips[li])
                   for li, layer in enumerate(hidden))
    n = len(samples)
    labelled = all(e.label is not None for e in per_sample)

    def fraction(hits: int) -> float | None:
        return hits / n if labelled else None

    correct = sum(e.correct for e in per_sample)
    torch = None
    if ref is not None:
        agree = sum(bool(e.classes_agree) for e in per_sample)
        torch = TorchComparison(
            accuracy=fraction(sum(e.torch_class == e.label for e in per_sample)),
            no_decision=sum(e.torch_class is None for e in per_sample), classes_agree=agree,
            all_spikes_equal=all(r.compared is not None and r.compared.mismatches == 0 for r in totals),
            agreement_margin=AGREEMENT_MARGIN,
            contract_holds=(all(r.compared is not None and r.compared.mismatches_outside_tolerance == 0
                                for r in totals) and agree == n),
            model=("hardware: PyTorch model of the exported chip (HardwareNet: its quantized, varied devices and the "
                   "exact IR drop of every tile)" if ref["hardware_model"] else
                   "network: the checkpoint's network (the mapping is ideal)"),
            network_accuracy=(None if ref["network_predicted"] is None else
                              fraction(sum(p == e.label for p, e in zip(ref["network_predicted"], per_sample)))))
    low, high = wilson_interval(correct, n)
    summary = SimulationSummary(
        samples=n, accuracy=fraction(correct), accuracy_ci95=(low, high) if labelled else None,
        no_decision=sum(e.predicted_class is None for e in per_sample),
        sim_time_per_sample_s=sum(elapsed[s] for s in samples) / n, layers=totals, firing=firing, torch=torch)
    return summary, tuple(per_sample)


def layer_warnings(summary: SimulationSummary) -> tuple[ResultWarning, ...]:
    """Warnings about degenerate circuits: no decision, a silent layer, a fire rate far from PyTorch's."""
    out = []
    for tot in summary.layers:
        rate, name = tot.fire_rate, tot.layer
        if rate == 0.0:
            out.append(ResultWarning("silent_layer", name,
                                     f"layer {name} is silent in the run (no spike in {tot.neuron_steps} "
                                     f"neuron-steps): later layers and the class scores carry no input; check the "
                                     f"conductance levels (--levels), the wire resistance or the current scale"))
        elif tot.compared is not None:
            ref = tot.compared.torch_fire_rate
            limit = max(FIRE_RATE_MARGIN["absolute"], FIRE_RATE_MARGIN["relative"] * ref)
            if abs(rate - ref) > limit:
                out.append(ResultWarning(
                    "fire_rate", name,
                    f"layer {name} fires at {rate:.4f} of its neuron-steps in the circuit but {ref:.4f} in PyTorch "
                    f"(more than max({FIRE_RATE_MARGIN['absolute']}, {FIRE_RATE_MARGIN['relative']:g} x PyTorch's "
                    f"rate) apart): the circuit does not compute the trained network"))
    if summary.no_decision:
        out.append(ResultWarning("no_decision", "readout",
                                 f"{summary.no_decision} of {summary.samples} sample(s) have equal top class scores "
                                 f"in the run: no decision (counted as wrong, not as class 0)"))
    return tuple(out)
