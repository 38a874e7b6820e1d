"""The n-back task on an IP memory population (see :mod:`~ipnet_cosim.models.experiments.working_memory`):
streams of items from a small vocabulary, each repeating the one n back with probability 1/2; one readout per n
decides "match" from the spikes the current item evokes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.experiments import human_reference
from ipnet_cosim.models.experiments.working_memory import (MemoryPopulation, NBackConfig, Progress, QUICK_NBACK,
                                                           SIM_PROVENANCE, KEY_TRIALS, KEY_VOCAB, common_config,
                                                           config_dict, finish_figure, round_figure, rate_with_interval,
                                                           task_rng, say, wrap_lines, write_result, error_bars,
                                                           fit_readout, random_patterns, task_card)

def _nback_streams(rng: np.random.Generator, n: int, cfg: NBackConfig) -> tuple[np.ndarray, np.ndarray]:
    """Item indices [B, T] and match labels [B, T] (False before step n)."""
    b, t, v = cfg.n_streams, cfg.stream_length, cfg.vocab_size
    seq = np.zeros((b, t), dtype=int)
    match = np.zeros((b, t), dtype=bool)
    seq[:, :n] = rng.integers(v, size=(b, n))
    for k in range(n, t):
        m = rng.random(b) < cfg.p_match
        other = (seq[:, k - n] + rng.integers(1, v, size=b)) % v     # uniform over the other items
        seq[:, k] = np.where(m, seq[:, k - n], other)
        match[:, k] = m
    return seq, match


def run_nback(out_dir: Path, *, seed: int = 0, quick: bool = False, card: DeviceCard | None = None,
              progress: Progress = None, config: NBackConfig | None = None) -> dict[str, Any]:
    """n-back on the IP memory population: accuracy vs n (IP and memoryless control)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = config or (QUICK_NBACK if quick else NBackConfig())
    if cfg.stream_length <= max(cfg.n_values) + 1:
        raise ConfigError("n-back: stream_length must exceed the largest n")
    used_card, card_record = task_card(card, cfg.steps_per_tau)
    pop = MemoryPopulation(cfg.population, used_card, seed)
    vocab = random_patterns(task_rng(seed, KEY_VOCAB), cfg.vocab_size, cfg.population.n_bits, cfg.population.k_active)
    item_currents = pop.currents(vocab)                              # [V, N]
    first_decision = max(cfg.n_values)
    n_train = int(round(cfg.train_fraction * cfg.n_streams))

    results: dict[str, list] = {"ip": [], "control": []}
    for n in cfg.n_values:
        seq, match = _nback_streams(task_rng(seed, KEY_TRIALS, n), n, cfg)
        currents = item_currents[seq].transpose(1, 0, 2)              # [T, B, N]
        y = match[:, first_decision:]
        for label, keep in (("ip", True), ("control", False)):
            say(progress, f"n-back: n={n}, {label} population ({cfg.n_streams} streams x {cfg.stream_length} steps)")
            spikes, _ = pop.run(currents, keep_heat=keep)
            x = spikes.transpose(1, 0, 2)[:, first_decision:].astype(float)   # [B, T', N]
            readout, fit_info = fit_readout(x[:n_train].reshape(-1, x.shape[-1]), y[:n_train].reshape(-1),
                                            np.repeat(np.arange(n_train), x.shape[1]), l2_grid=cfg.l2_grid)
            yhat = readout.predict(x[n_train:].reshape(-1, x.shape[-1]))
            yt = y[n_train:].reshape(-1)
            train_acc = float(np.mean(readout.predict(x[:n_train].reshape(-1, x.shape[-1])) == y[:n_train].reshape(-1)))
            results[label].append({
                "n": n,
                "accuracy": rate_with_interval(yhat == yt),
                "hit_rate": rate_with_interval(yhat[yt]),
                "false_alarm_rate": rate_with_interval(yhat[~yt]),
                "train_accuracy": round_figure(train_acc),
                "readout": fit_info,
                "spike_rate": round_figure(float(spikes.mean())),
            })
            say(progress, f"  accuracy {results[label][-1]['accuracy']['value']:.3f}")

    ref = human_reference.get("nback")
    data: dict[str, Any] = {
        "experiment": "nback",
        "description": ("At every step the population receives the current item; the readout decides from the "
                        "spikes of that step whether the item matches the one n steps back."),
        "provenance": {
            "model": SIM_PROVENANCE,
            "human_reference": ref["note"],
            "human_reference_citations": ["reference: " + s["citation"] for s in ref["sources"]],
        },
        "config": {
            **common_config(cfg.population, seed, quick, card_record, used_card),
            "task": {**{k: v for k, v in config_dict(cfg).items() if k != "population"},
                     "decision_steps": f"steps {first_decision}..{cfg.stream_length - 1} of each stream "
                                       f"(same for every n)",
                     "non_match_items": "uniform over the other vocabulary items (lures not controlled)",
                     "split": f"streams 0..{n_train - 1} train the readout, the rest are held out"},
            "vocabulary_patterns": vocab.astype(int).tolist(),
        },
        "units": {"accuracy": "fraction of held-out decisions correct (chance 0.5)",
                  "hit_rate": "fraction of held-out match steps called 'match'",
                  "false_alarm_rate": "fraction of held-out non-match steps called 'match'",
                  "ci95": "Wilson 95 % interval over held-out decisions (decisions within a stream are "
                          "not independent, so the interval is optimistic)",
                  "spike_rate": "spikes per neuron per step",
                  "n": "items back (1 step = t_step_s)"},
        "results": {
            "n": list(cfg.n_values),
            "ip_accuracy": [r["accuracy"]["value"] for r in results["ip"]],
            "control_accuracy": [r["accuracy"]["value"] for r in results["control"]],
            "ip": results["ip"],
            "control": results["control"],
        },
        "human_reference": ref,
        "figure": "nback.png",
    }
    _plot_nback(out_dir / "nback.png", data)
    write_result(out_dir, "nback", data)
    return data


def _plot_nback(path: Path, data: dict[str, Any]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    n = np.array(res["n"])
    t_step_ns = data["config"]["device_card"]["t_step_s"] * 1e9
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    ax = axes[0]
    ip = [r["accuracy"] for r in res["ip"]]
    ctl = [r["accuracy"] for r in res["control"]]
    ax.errorbar(n, [r["value"] for r in ip], yerr=error_bars(ip), fmt="o-", color="C0", capsize=3,
                label="IP population (heat kept)")
    ax.errorbar(n, [r["value"] for r in ctl], yerr=error_bars(ctl), fmt="s--", color="C3", capsize=3,
                label="memoryless control (keep_heat=False)")
    ax.axhline(0.5, color="0.5", lw=0.8, ls=":", label="chance")
    ax.set_xticks(n)
    ax.set_xlabel(f"n (items back; 1 step = {t_step_ns:g} ns)")
    ax.set_ylabel("accuracy (fraction correct, held-out)")
    ax.set_ylim(0.3, 1.02)
    ax.set_title("n-back: model")
    ax.legend(fontsize=8, loc="upper right")
    ax = axes[1]
    hit = [r["hit_rate"] for r in res["ip"]]
    fa = [r["false_alarm_rate"] for r in res["ip"]]
    ax.errorbar(n, [r["value"] for r in hit], yerr=error_bars(hit), fmt="o-", color="C2", capsize=3, label="hit rate "
                                                                                                           "(IP)")
    ax.errorbar(n, [r["value"] for r in fa], yerr=error_bars(fa), fmt="v-", color="C1", capsize=3,
                label="false-alarm rate (IP)")
    ax.set_xticks(n)
    ax.set_xlabel(f"n (items back; 1 step = {t_step_ns:g} ns)")
    ax.set_ylabel("rate (fraction of held-out trials)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("n-back: hits and false alarms")
    ax.legend(fontsize=8, loc="upper right")
    ref = data["human_reference"]
    caption = [f"{ref['note'][0].upper()}{ref['note'][1:]}: {ref['trend']}. No human values are drawn.",
               "Sources: " + "; ".join(src["citation"] for src in ref["sources"]) + ".",
               "Error bars: Wilson 95 % intervals over held-out decisions. Control: the same population with "
               "keep_heat=False (each step starts at ambient temperature)."]
    finish_figure(fig, path, "n-back on a thermal-MTJ IP memory population (" + SIM_PROVENANCE + ")",
                  wrap_lines(caption))
    plt.close(fig)
