"""Free recall on an IP memory population (see :mod:`~ipnet_cosim.models.experiments.working_memory`): lists
of distinct items, then every vocabulary item probed on a copy of the end-of-list state; recall probability by
serial position and the false-alarm rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.experiments import human_reference
from ipnet_cosim.models.experiments.working_memory import (FreeRecallConfig, MemoryPopulation, Progress,
                                                           QUICK_FREE_RECALL, SIM_PROVENANCE, KEY_TRIALS, KEY_VOCAB,
                                                           common_config, config_dict, finish_figure, round_figure,
                                                           rate_with_interval, task_rng, say, wrap_lines, write_result,
                                                           error_bars, fit_readout, random_patterns, task_card)

def run_free_recall(out_dir: Path, *, seed: int = 0, quick: bool = False, card: DeviceCard | None = None,
                    progress: Progress = None, config: FreeRecallConfig | None = None) -> dict[str, Any]:
    """Free recall: serial-position curve of 'was it in the list?' probes after the list."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = config or (QUICK_FREE_RECALL if quick else FreeRecallConfig())
    if cfg.list_length >= cfg.vocab_size:
        raise ConfigError("free recall: list_length must be smaller than vocab_size")
    used_card, card_record = task_card(card, cfg.steps_per_tau)
    pop = MemoryPopulation(cfg.population, used_card, seed)
    p = cfg.population
    vocab = random_patterns(task_rng(seed, KEY_VOCAB), cfg.vocab_size, p.n_bits, p.k_active)
    item_currents = pop.currents(vocab)                              # [V, N]
    rng = task_rng(seed, KEY_TRIALS, 0)
    lists = np.stack([rng.permutation(cfg.vocab_size)[:cfg.list_length] for _ in range(cfg.n_lists)])
    in_list = np.zeros((cfg.n_lists, cfg.vocab_size), dtype=bool)
    position = np.full((cfg.n_lists, cfg.vocab_size), -1)
    for b in range(cfg.n_lists):
        in_list[b, lists[b]] = True
        position[b, lists[b]] = np.arange(cfg.list_length)
    n_train = int(round(cfg.train_fraction * cfg.n_lists))
    list_currents = item_currents[lists].transpose(1, 0, 2)          # [L, B, N]
    probe_currents = np.broadcast_to(item_currents, (1, cfg.n_lists, cfg.vocab_size, p.n_neurons))

    curves: dict[str, Any] = {}
    for label, keep in (("ip", True), ("control", False)):
        say(progress, f"free recall: {label} population, {cfg.n_lists} lists of {cfg.list_length}, "
                       f"{cfg.vocab_size} probes each")
        _, heat = pop.run(list_currents, keep_heat=keep)              # end-of-list state [B, N]
        spikes, _ = pop.run(probe_currents, keep_heat=keep, state_k=heat[:, None, :])
        x = spikes[0].astype(float)                                    # [B, V, N]
        ytr = in_list[:n_train].reshape(-1)
        readout, fit_info = fit_readout(x[:n_train].reshape(-1, p.n_neurons), ytr,
                                        np.repeat(np.arange(n_train), cfg.vocab_size), l2_grid=cfg.l2_grid,
                                        balanced=True)
        said_yes = readout.predict(x[n_train:].reshape(-1, p.n_neurons)).reshape(-1, cfg.vocab_size)
        pos_te, in_te = position[n_train:], in_list[n_train:]
        spc = [rate_with_interval(said_yes[pos_te == k]) for k in range(cfg.list_length)]
        fa = rate_with_interval(said_yes[~in_te])
        curves[label] = {"recall_probability": spc, "false_alarm_rate": fa,
                         "spike_rate_probe": round_figure(float(spikes.mean())), "readout": fit_info}
        say(progress, "  recall by position " + " ".join(f"{r['value']:.2f}" for r in spc) + f"; FA {fa['value']:.2f}")

    ip = curves["ip"]
    hits = [r["value"] for r in ip["recall_probability"]]
    fa_ip = ip["false_alarm_rate"]
    middle = list(range(cfg.list_length // 2 - 1, cfg.list_length // 2 + 1))
    # recency span: trailing positions whose recall interval lies above the false-alarm interval
    span = 0
    for r in reversed(ip["recall_probability"]):
        if r["ci95"][0] > fa_ip["ci95"][1]:
            span += 1
        else:
            break
    primacy = hits[0] - float(np.mean([hits[k] for k in middle]))
    first_above_fa = ip["recall_probability"][0]["ci95"][0] > fa_ip["ci95"][1]
    primacy_text = (
        f"No primacy: recall of the first item ({hits[0]:.2f}) is at the false-alarm level "
        f"({fa_ip['value']:.2f}) and not above the middle positions ({np.mean([hits[k] for k in middle]):.2f}); "
        "the heat trace of the first item has decayed by the end of the list and nothing rehearses it."
        if not first_above_fa else
        f"Recall of the first item ({hits[0]:.2f}) is above the false-alarm level ({fa_ip['value']:.2f}); "
        f"primacy index {primacy:+.2f} vs the middle positions.")
    ref = human_reference.get("free_recall")
    data: dict[str, Any] = {
        "experiment": "free_recall",
        "description": ("A list of distinct items is presented, one per step; right after the last item every "
                        "vocabulary item is probed (one probe pulse on a copy of the end-of-list state, i.e. "
                        "the list is notionally repeated once per probe, so probes do not disturb one another) "
                        "and the readout of the probe step's spikes says 'in the list' or not."),
        "provenance": {
            "model": SIM_PROVENANCE,
            "human_reference": ref["note"],
            "human_reference_citations": ["reference: " + human_reference.MURDOCK_1962],
        },
        "config": {
            **common_config(p, seed, quick, card_record, used_card),
            "task": {**{k: v for k, v in config_dict(cfg).items() if k != "population"},
                     "probe": "each vocabulary item once, immediately after the list (no delay)",
                     "readout_training": "class-balanced weights ('in list' vs 'not in list')",
                     "split": f"lists 0..{n_train - 1} train the readout, the rest are held out"},
        },
        "units": {"serial_position": "1 = first item of the list",
                  "recall_probability": "fraction of held-out lists whose item at that position was called "
                                        "'in the list' when probed",
                  "false_alarm_rate": "fraction of held-out probes of items not in the list called 'in the list'",
                  "ci95": "Wilson 95 % interval over held-out probes (treated as independent; optimistic)",
                  "spike_rate_probe": "spikes per neuron in the probe step"},
        "results": {
            "serial_position": list(range(1, cfg.list_length + 1)),
            "ip_recall_probability": hits,
            "ip_false_alarm_rate": fa_ip["value"],
            "control_recall_probability": [r["value"] for r in curves["control"]["recall_probability"]],
            "control_false_alarm_rate": curves["control"]["false_alarm_rate"]["value"],
            "ip": curves["ip"],
            "control": curves["control"],
            "recency_span_positions": span,
            "recency_span_definition": ("number of final positions whose recall 95 % interval lies above the "
                                        "false-alarm 95 % interval (IP population)"),
            "primacy_index": round_figure(primacy),
            "primacy_index_definition": "recall(position 1) - mean recall(middle two positions), IP population",
            "primacy": primacy_text,
        },
        "human_reference": ref,
        "figure": "free_recall.png",
    }
    _plot_free_recall(out_dir / "free_recall.png", data)
    write_result(out_dir, "free_recall", data)
    return data


def _plot_free_recall(path: Path, data: dict[str, Any]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    pos = np.array(res["serial_position"])
    t_step_ns = data["config"]["device_card"]["t_step_s"] * 1e9
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    ax = axes[0]
    ip, ctl = res["ip"]["recall_probability"], res["control"]["recall_probability"]
    ax.errorbar(pos, [r["value"] for r in ip], yerr=error_bars(ip), fmt="o-", color="C0", capsize=3,
                label="IP population (heat kept)")
    ax.errorbar(pos, [r["value"] for r in ctl], yerr=error_bars(ctl), fmt="s--", color="C3", capsize=3,
                label="memoryless control")
    ax.axhline(res["ip_false_alarm_rate"], color="C0", lw=0.8, ls=":", label="false-alarm rate, IP")
    ax.axhline(res["control_false_alarm_rate"], color="C3", lw=0.8, ls=":", label="false-alarm rate, control")
    ax.set_xticks(pos)
    ax.set_xlabel(f"serial position (1 = first; 1 step = {t_step_ns:g} ns)")
    ax.set_ylabel("recall probability (fraction of held-out lists)")
    ax.set_ylim(-0.02, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title("free recall: model serial-position curve")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax = axes[1]
    ref = data["human_reference"]
    length = len(pos)
    match = [v for v in ref["values"] if v["list_length"] == length]
    if not match:
        match = [v for v in ref["values"] if v["group"] == "10-2"]
    v = match[0]
    mean_p = v["value"] / v["list_length"]
    ax.hlines(mean_p, 1, v["list_length"], color="k", lw=2,
              label=f"Murdock (1962) Table 1, group {v['group']}: mean\nrecall over all positions = "
                    f"{v['value']:.2f}/{v['list_length']} words")
    ax.set_xlim(0.5, v["list_length"] + 0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("serial position (human lists: 1 word per 2 s)")
    ax.set_ylabel("recall probability")
    ax.set_title("human reference: Murdock (1962)")
    ax.legend(fontsize=7, loc="upper left")
    ax.text(0.5, 0.25, "serial-position shape (qualitative, values not\navailable offline): recency for the "
                      "last items,\nprimacy for the first few, flat middle", transform=ax.transAxes,
            fontsize=7, ha="center", va="center", color="0.3")
    caption = [f"Human reference: {ref['citation_short']}. Only the mean number of words recalled per list "
               f"(Table 1) was readable offline; the per-position curve is not drawn.",
               "Model: recall probability = fraction of held-out lists whose item at that position was judged "
               "'in the list'; dotted: false-alarm rate for items not in the list. Error bars: Wilson 95 %.",
               data["results"]["primacy"]]
    finish_figure(fig, path, "Free recall on a thermal-MTJ IP memory population (" + SIM_PROVENANCE + ")",
                  wrap_lines(caption))
    plt.close(fig)
