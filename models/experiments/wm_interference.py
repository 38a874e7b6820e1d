"""Interference on an IP memory population (see :mod:`~ipnet_cosim.models.experiments.working_memory`): a
target, fillers (blank / dissimilar / similar), then a probe (target, related lure or unrelated item)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.experiments import human_reference
from ipnet_cosim.models.experiments.working_memory import (InterferenceConfig, MemoryPopulation, Progress,
                                                           QUICK_INTERFERENCE, SIM_PROVENANCE, KEY_TRIALS, KEY_VOCAB,
                                                           common_config, config_dict, finish_figure, round_figure,
                                                           rate_with_interval, task_rng, say, wrap_lines, write_result,
                                                           error_bars, fit_readout, overlap_fraction, task_card)

CONDITIONS = ("blank", "dissimilar", "similar")


def _families(rng: np.random.Generator, cfg: InterferenceConfig) -> np.ndarray:
    """Vocabulary [F, M, n_bits]: members of a family share a core of round(core_fraction k) ones."""
    p = cfg.population
    n_core = int(round(cfg.core_fraction * p.k_active))
    fam = np.zeros((cfg.n_families, cfg.family_size, p.n_bits))
    for f in range(cfg.n_families):
        core = rng.choice(p.n_bits, n_core, replace=False)
        rest = np.setdiff1d(np.arange(p.n_bits), core)
        seen: set[bytes] = set()
        m = 0
        while m < cfg.family_size:
            pat = np.zeros(p.n_bits)
            pat[core] = 1
            pat[rng.choice(rest, p.k_active - n_core, replace=False)] = 1
            key = pat.astype(np.uint8).tobytes()
            if key in seen:
                continue
            seen.add(key)
            fam[f, m] = pat
            m += 1
    return fam


def _interference_plan(rng: np.random.Generator, cfg: InterferenceConfig) -> dict[str, np.ndarray]:
    """Targets and probes, shared by all conditions (a paired design: only the fillers differ)."""
    b = cfg.n_trials
    family = rng.integers(cfg.n_families, size=b)
    members = np.stack([rng.permutation(cfg.family_size) for _ in range(b)])
    u = rng.random(b)
    v = rng.random(b)
    kind = np.where(u < cfg.p_target_probe, "target", np.where(v < cfg.p_related_lure, "related_lure", "unrelated"))
    other_family = (family + rng.integers(1, cfg.n_families, size=b)) % cfg.n_families
    other_member = rng.integers(cfg.family_size, size=b)
    return {"family": family, "members": members, "probe_kind": kind,
            "other_family": other_family, "other_member": other_member}


def _interference_trials(rng: np.random.Generator, fam: np.ndarray, plan: dict[str, np.ndarray], condition: str,
                         cfg: InterferenceConfig) -> dict[str, np.ndarray]:
    """Patterns [D + 2, B, n_bits] (target, D fillers, probe) for one condition."""
    p = cfg.population
    d = cfg.delay_steps
    b = cfg.n_trials
    pats = np.zeros((d + 2, b, p.n_bits))
    filler_overlap = []
    for t in range(b):
        f, members = plan["family"][t], plan["members"][t]
        target = fam[f, members[0]]
        pats[0, t] = target
        if condition == "similar":
            for j in range(d):
                pats[1 + j, t] = fam[f, members[1 + j]]          # other members of the target's family
        elif condition == "dissimilar":
            off = np.flatnonzero(target == 0)
            for j in range(d):
                pats[1 + j, t, rng.choice(off, p.k_active, replace=False)] = 1.0
        for j in range(d):
            if pats[1 + j, t].any():
                filler_overlap.append(overlap_fraction(target, pats[1 + j, t]))
        kind = plan["probe_kind"][t]
        if kind == "target":
            pats[d + 1, t] = target
        elif kind == "related_lure":
            pats[d + 1, t] = fam[f, members[d + 1]]              # a family member not shown in this trial
        else:
            pats[d + 1, t] = fam[plan["other_family"][t], plan["other_member"][t]]
    return {"patterns": pats, "probe_kind": plan["probe_kind"],
            "filler_overlap": np.array(filler_overlap) if filler_overlap else np.zeros(0)}


def run_interference(out_dir: Path, *, seed: int = 0, quick: bool = False, card: DeviceCard | None = None,
                     progress: Progress = None, config: InterferenceConfig | None = None) -> dict[str, Any]:
    """Recognition of a target after a delay filled with blanks, dissimilar or similar items."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = config or (QUICK_INTERFERENCE if quick else InterferenceConfig())
    if cfg.family_size < cfg.delay_steps + 2:
        raise ConfigError("interference: family_size must be at least delay_steps + 2 "
                          "(target, similar fillers and a related lure)")
    used_card, card_record = task_card(card, cfg.steps_per_tau)
    pop = MemoryPopulation(cfg.population, used_card, seed)
    fam = _families(task_rng(seed, KEY_VOCAB), cfg)
    n_train = int(round(cfg.train_fraction * cfg.n_trials))
    plan = _interference_plan(task_rng(seed, KEY_TRIALS, 0), cfg)
    trials = {c: _interference_trials(task_rng(seed, KEY_TRIALS, 1 + i), fam, plan, c, cfg)
              for i, c in enumerate(CONDITIONS)}

    feats: dict[str, dict[str, np.ndarray]] = {"ip": {}, "control": {}}
    for label, keep in (("ip", True), ("control", False)):
        for c in CONDITIONS:
            say(progress, f"interference: {c}, {label} population ({cfg.n_trials} trials)")
            spikes, _ = pop.run(pop.currents(trials[c]["patterns"]), keep_heat=keep)
            feats[label][c] = spikes[-1].astype(float)                  # probe step [B, N]

    def score(yhat: np.ndarray, kind: np.ndarray) -> dict[str, Any]:
        is_t = kind == "target"
        return {"accuracy": rate_with_interval(yhat == is_t),
                "hit_rate": rate_with_interval(yhat[is_t]),
                "false_alarm_rate": rate_with_interval(yhat[~is_t]),
                "false_alarm_rate_related_lure": rate_with_interval(yhat[kind == "related_lure"]),
                "false_alarm_rate_unrelated": rate_with_interval(yhat[kind == "unrelated"])}

    results: dict[str, Any] = {}
    for label in ("ip", "control"):
        x_tr = np.vstack([feats[label][c][:n_train] for c in CONDITIONS])
        y_tr = np.concatenate([trials[c]["probe_kind"][:n_train] == "target" for c in CONDITIONS])
        pooled, pooled_info = fit_readout(x_tr, y_tr, np.tile(np.arange(n_train), len(CONDITIONS)),
                                          l2_grid=cfg.l2_grid, balanced=True)
        per: dict[str, Any] = {}
        for c in CONDITIONS:
            x, kind = feats[label][c], trials[c]["probe_kind"]
            own, own_info = fit_readout(x[:n_train], kind[:n_train] == "target", np.arange(n_train),
                                        l2_grid=cfg.l2_grid, balanced=True)
            per[c] = {"pooled_readout": score(pooled.predict(x[n_train:]), kind[n_train:]),
                      "per_condition_readout": score(own.predict(x[n_train:]), kind[n_train:]),
                      "per_condition_readout_fit": own_info}
        per["pooled_readout_fit"] = pooled_info
        results[label] = per
        say(progress, f"  {label}: " + ", ".join(
            f"{c} {per[c]['pooled_readout']['accuracy']['value']:.3f}" for c in CONDITIONS))

    def table(label: str, which: str) -> list[dict[str, Any]]:
        return [{"condition": c,
                 "accuracy": results[label][c][which]["accuracy"]["value"],
                 "hit_rate": results[label][c][which]["hit_rate"]["value"],
                 "false_alarm_rate": results[label][c][which]["false_alarm_rate"]["value"],
                 "false_alarm_rate_related_lure": results[label][c][which]["false_alarm_rate_related_lure"]["value"],
                 "false_alarm_rate_unrelated": results[label][c][which]["false_alarm_rate_unrelated"]["value"]}
                for c in CONDITIONS]

    primary = "per_condition_readout"
    acc = {c: results["ip"][c][primary]["accuracy"]["value"] for c in CONDITIONS}
    order = sorted(CONDITIONS, key=lambda c: acc[c], reverse=True)
    filler_overlaps = {c: (round_figure(float(trials[c]["filler_overlap"].mean()))
                           if trials[c]["filler_overlap"].size else None)
                       for c in CONDITIONS}
    confusion = {c: round_figure(results["ip"][c][primary]["false_alarm_rate_related_lure"]["value"]
                       - results["ip"][c][primary]["false_alarm_rate_unrelated"]["value"]) for c in CONDITIONS}
    most_conf = max(CONDITIONS, key=lambda c: confusion[c])
    verdict = (("similar fillers interfere most (lowest accuracy)" if order[-1] == "similar" else
                f"similar fillers do NOT interfere most: accuracy ranks {' > '.join(order)}")
               + f"; lure confusion (false alarms to related lures minus to unrelated items) is largest after "
                 f"{most_conf} fillers ({confusion[most_conf]:+.2f})")
    ref = human_reference.get("interference")
    data: dict[str, Any] = {
        "experiment": "interference",
        "description": ("A target item, then delay_steps filler steps (blank = no pulse; dissimilar = items sharing "
                        "no active bit with the target; similar = other members of the target's family, overlap "
                        "= core_fraction), then a probe: the target, a related lure (an unseen member of the "
                        "target's family) or an unrelated item. The readout of the probe step's spikes says "
                        "'target' or not."),
        "provenance": {"model": SIM_PROVENANCE, "human_reference": ref["note"]},
        "config": {
            **common_config(cfg.population, seed, quick, card_record, used_card),
            "task": {**{k: v for k, v in config_dict(cfg).items() if k != "population"},
                     "mean_filler_overlap_with_target": filler_overlaps,
                     "readouts": ("per_condition_readout (primary): one readout per condition, as in a blocked "
                                  "design where the criterion can adapt to the condition; pooled_readout: one "
                                  "readout trained on all three conditions (a fixed circuit that does not know "
                                  "the condition)"),
                     "paired_design": "the same targets and probes in every condition; only the fillers differ",
                     "split": f"trials 0..{n_train - 1} of each condition train, the rest are held out"},
        },
        "units": {"accuracy": "fraction of held-out probes answered correctly (chance 0.5 with balanced weights)",
                  "hit_rate": "fraction of held-out target probes called 'target'",
                  "false_alarm_rate": "fraction of held-out foil probes called 'target' (related + unrelated)",
                  "false_alarm_rate_related_lure": "same, related lures only",
                  "false_alarm_rate_unrelated": "same, unrelated items only",
                  "ci95": "Wilson 95 % interval over held-out probes (treated as independent, but probes share "
                          "vocabulary items, so the interval is optimistic)",
                  "delay_steps": "network steps between target and probe (1 step = t_step_s)"},
        "results": {
            "conditions": list(CONDITIONS),
            "primary_readout": primary,
            "ip_accuracy": [acc[c] for c in CONDITIONS],
            "control_accuracy": [results["control"][c][primary]["accuracy"]["value"] for c in CONDITIONS],
            "ip_false_alarm_rate": [results["ip"][c][primary]["false_alarm_rate"]["value"] for c in CONDITIONS],
            "table_ip": table("ip", primary),
            "table_control": table("control", primary),
            "table_ip_pooled_readout": table("ip", "pooled_readout"),
            "table_control_pooled_readout": table("control", "pooled_readout"),
            "ip": results["ip"],
            "control": results["control"],
            "ranking_ip": order,
            "lure_confusion_ip": confusion,
            "lure_confusion_definition": ("false-alarm rate to related lures minus false-alarm rate to unrelated "
                                          "items (per-condition readout, IP population)"),
            "verdict": verdict,
        },
        "human_reference": ref,
        "figure": "interference.png",
    }
    _plot_interference(out_dir / "interference.png", data)
    write_result(out_dir, "interference", data)
    return data


def _plot_interference(path: Path, data: dict[str, Any]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    conds = res["conditions"]
    x = np.arange(len(conds))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    for off, label, color, hatch, ls in ((-0.2, "ip", "C0", None, "-"), (0.2, "control", "C3", "//", "--")):
        rates = [res[label][c][res["primary_readout"]]["accuracy"] for c in conds]
        ax.bar(x + off, [r["value"] for r in rates], width=0.38, yerr=error_bars(rates), capsize=3,
               color=color if label == "ip" else "none", edgecolor=color, hatch=hatch, linestyle=ls,
               label="IP population" if label == "ip" else "memoryless control")
    pooled = [res["ip"][c]["pooled_readout"]["accuracy"]["value"] for c in conds]
    ax.plot(x - 0.2, pooled, "kx", ms=8, label="IP, one pooled readout")
    ax.axhline(0.5, color="0.5", lw=0.8, ls=":", label="chance")
    ax.set_xticks(x)
    ax.set_xticklabels(conds)
    ax.set_xlabel(f"filler condition ({data['config']['task']['delay_steps']} filler step(s) of "
                  f"{data['config']['device_card']['t_step_s'] * 1e9:g} ns)")
    ax.set_ylabel("recognition accuracy (fraction correct, held-out)")
    ax.set_ylim(0, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title("target recognition after a filled delay")
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    ax = axes[1]
    w = 0.25
    for off, key, color, name in ((-w, "hit_rate", "C2", "hits"),
                                  (0.0, "false_alarm_rate_related_lure", "C1", "false alarms, related lures"),
                                  (w, "false_alarm_rate_unrelated", "C4", "false alarms, unrelated items")):
        rates = [res["ip"][c][res["primary_readout"]][key] for c in conds]
        ax.bar(x + off, [r["value"] for r in rates], width=w * 0.95, yerr=error_bars(rates), capsize=3,
               color=color, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(conds)
    ax.set_xlabel("filler condition")
    ax.set_ylabel("rate (fraction of held-out probes)")
    ax.set_ylim(0, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title("IP population: hits and false alarms")
    ax.legend(fontsize=7, loc="upper center", ncol=3)
    caption = ["Bars: per-condition readouts (primary); crosses: one readout pooled over conditions. "
               "Error bars: Wilson 95 %. No human reference is drawn.",
               "Result: " + res["verdict"] + "."]
    finish_figure(fig, path, "Interference on a thermal-MTJ IP memory population (" + SIM_PROVENANCE + ")",
                  wrap_lines(caption))
    plt.close(fig)
