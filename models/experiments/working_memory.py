"""Working-memory experiments on an IP memory population: n-back, free recall, interference.

The *IP memory population* is ``N`` thermal MTJ neurons (:class:`ThermalMTJNeuron`, deterministic
mode, ``keep_heat=True``). An item is a binary pattern of ``k_active`` ones among ``n_bits``; it
is presented for one network step as one current pulse per neuron through a fixed random input
projection (seeded)::

    z_i(x) = sum_j W_ij x_j / sqrt(k_active),   W_ij ~ N(0, 1)
    I_i(x) = clip(i_center + i_spread * z_i(x), 0, i_max)          (A)

so every neuron is driven around its cold firing threshold (~142 uA), and the currents of two
items are correlated across neurons by their overlap fraction (shared ones / k_active). A
*blank* step is no pulse (0 A).

The memory is only the heat the pulses leave in the junctions: a strongly driven neuron is hot
for a few steps and then fires on a weaker current. The readout is a logistic regression
(L2-regularised, Newton/IRLS; the L2 strength chosen by cross-validation within the training split)
on what a circuit could measure at the decision step: the population's spikes in that step (0/1 per
neuron), in response to the current item or probe. It never sees the temperature. Each readout is
trained on a training split of the trials and scored on the held-out rest. Each experiment is
repeated with a memoryless control population (``keep_heat=False``: every step starts at ambient
temperature), identical otherwise.

Experiments (defaults; ``quick=True`` shrinks them for tests):

* n-back (default card, t_step = tau_th, heat decays by e^-1 per step): streams of items from 8
  patterns, each item repeats the one n back with probability 1/2; one readout per n decides
  "match" from the spikes evoked by the current item.
* free recall (t_step = tau_th / 2 through ``card.replace``; the device is unchanged): lists of 10
  distinct items out of 32, then every vocabulary item is probed on a copy of the end-of-list state;
  the readout says "in the list"; recall probability by serial position and the false-alarm rate.
* interference (t_step = tau_th / 2): a target, ``delay_steps`` fillers (blank / dissimilar = no
  shared active bit / similar = members of the target's family sharing a core of
  ``core_fraction`` of its bits), then a probe (target, related lure or unrelated item); the same
  targets and probes in every condition.

Each ``run_<name>(out_dir, seed=, quick=, card=, progress=)`` writes ``<name>.json`` and
``<name>.png`` into ``out_dir`` and returns the JSON dict. Results depend only on the seed. This module holds what
the tasks share (configurations, the population, the readout, reporting helpers); the tasks are in ``wm_nback``,
``wm_free_recall`` and ``wm_interference`` (their run functions are served from here too).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.statistics import wilson_interval

SIM_PROVENANCE = "simulated: PyTorch twin of the thermal MTJ neuron, deterministic mode"

Progress = Callable[[str], None] | None

# sub-stream keys of the seed (numpy SeedSequence entropy = [seed, key, ...])
KEY_PROJECTION, KEY_VOCAB, KEY_TRIALS = 1, 2, 3


L2_GRID = (0.01, 0.1, 1.0, 10.0)   # readout L2 strengths tried by cross-validation


# -- configuration ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PopulationConfig:
    """The IP memory population and its input projection (currents in A)."""

    n_neurons: int = 256
    n_bits: int = 40            # length of an item pattern
    k_active: int = 10          # ones per item pattern
    i_center_a: float = 135e-6  # current for z = 0, a little below the cold threshold (~142.2 uA)
    i_spread_a: float = 30e-6   # current per unit of z (z ~ N(0, 1) across neurons)
    i_max_a: float = 400e-6     # clip of the drive
    n_sub: int = 16             # Simpson substeps over the pulse (the neuron's default is 64)
    n_sub_idle: int = 4         # ... over the idle interval (default 16)
    dtype: str = "float32"      # torch dtype of the simulation

    def validate(self) -> None:
        if self.n_neurons < 1 or self.n_bits < 2 or not 0 < self.k_active < self.n_bits:
            raise ConfigError(f"population: need n_neurons >= 1 and 0 < k_active < n_bits, got {self}")
        if self.i_spread_a <= 0 or self.i_max_a <= 0:
            raise ConfigError("population: i_spread_a and i_max_a must be positive")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"population: dtype must be float32 or float64, got {self.dtype!r}")


@dataclass(frozen=True)
class NBackConfig:
    population: PopulationConfig = field(default_factory=PopulationConfig)
    n_values: tuple[int, ...] = (1, 2, 3, 4)
    vocab_size: int = 8
    n_streams: int = 192        # independent item streams per n
    stream_length: int = 40     # steps per stream
    p_match: float = 0.5        # probability that an item repeats the one n back
    train_fraction: float = 0.5
    l2_grid: tuple[float, ...] = L2_GRID
    steps_per_tau: float | None = None   # None: the card's own t_step


@dataclass(frozen=True)
class FreeRecallConfig:
    population: PopulationConfig = field(default_factory=PopulationConfig)
    vocab_size: int = 32
    list_length: int = 10
    n_lists: int = 320
    train_fraction: float = 0.5
    l2_grid: tuple[float, ...] = L2_GRID
    steps_per_tau: float | None = 2.0    # t_step = tau_th / 2: heat decays by exp(-1/2) per step


@dataclass(frozen=True)
class InterferenceConfig:
    population: PopulationConfig = field(default_factory=PopulationConfig)
    n_families: int = 8          # vocabulary = families of similar items
    family_size: int = 6
    core_fraction: float = 0.6   # overlap fraction of two members of a family (shared core)
    delay_steps: int = 2         # steps between the target and the probe
    n_trials: int = 2000         # per condition
    p_target_probe: float = 0.5  # else a foil: related lure or unrelated item
    p_related_lure: float = 0.5  # fraction of foils that are related lures (same family)
    train_fraction: float = 0.5
    l2_grid: tuple[float, ...] = L2_GRID
    steps_per_tau: float | None = 2.0


QUICK_POPULATION = PopulationConfig(n_neurons=128)
QUICK_NBACK = NBackConfig(population=QUICK_POPULATION, n_streams=48, stream_length=24)
QUICK_FREE_RECALL = FreeRecallConfig(population=QUICK_POPULATION, vocab_size=24, list_length=8, n_lists=128)
QUICK_INTERFERENCE = InterferenceConfig(population=QUICK_POPULATION, n_trials=800, delay_steps=1)


# -- helpers -------------------------------------------------------------------------------------

def task_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]))


def say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def round_figure(x: float, digits: int = 6) -> float:
    """Round for the JSON (deterministic, readable)."""
    return float(round(float(x), digits))


def rate_with_interval(mask: np.ndarray) -> dict[str, Any]:
    """Proportion of True in ``mask`` with its Wilson 95 % interval."""
    n = int(mask.size)
    k = int(np.count_nonzero(mask))
    lo, hi = wilson_interval(k, n)
    return {"value": round_figure(k / n if n else float("nan")), "ci95": [round_figure(lo), round_figure(hi)], "n": n}


def task_card(card: DeviceCard | None, steps_per_tau: float | None) -> tuple[DeviceCard, dict[str, Any]]:
    """The card an experiment runs on and a record of any override.

    ``steps_per_tau`` sets the network step to tau_th / steps_per_tau (a faster clock; the device
    itself, and so its thresholds and heating, is unchanged).
    """
    base = card if card is not None else DeviceCard()
    record: dict[str, Any] = {"source": "caller-supplied card" if card is not None else "default DeviceCard()",
                              "override": {}}
    used = base
    if steps_per_tau is not None:
        t_step = base.mtj.tau_th_s / steps_per_tau
        try:
            used = base.replace(t_step_s=t_step)
        except ConfigError as exc:
            raise ConfigError(f"this experiment runs the network at t_step = tau_th / {steps_per_tau:g} = "
                              f"{t_step:g} s, which the card's timing does not allow ({exc}); pass a config "
                              f"with steps_per_tau=None to keep the card's t_step") from exc
        record["override"] = {"t_step_s": t_step}
        record["override_reason"] = (
            f"t_step = tau_th / {steps_per_tau:g} so the heat decays by exp(-1/{steps_per_tau:g}) per step "
            f"instead of exp(-tau_ratio); the task needs a memory of several steps. Device parameters "
            f"(and so thresholds and heating) are unchanged; only the network clock is faster.")
    record["tau_th_s"] = used.mtj.tau_th_s
    record["t_step_s"] = used.timing.t_step_s
    record["t_pulse_s"] = used.timing.t_pulse_s
    record["heat_decay_per_step"] = round_figure(math.exp(-used.timing.t_step_s / used.mtj.tau_th_s))
    record["card"] = used.to_dict()
    return used, record


def random_patterns(rng: np.random.Generator, count: int, n_bits: int, k_active: int,
                    distinct: bool = True) -> np.ndarray:
    """``count`` binary patterns [count, n_bits] with ``k_active`` ones each (distinct if asked)."""
    out: list[np.ndarray] = []
    seen: set[bytes] = set()
    while len(out) < count:
        p = np.zeros(n_bits)
        p[rng.choice(n_bits, k_active, replace=False)] = 1.0
        key = p.astype(np.uint8).tobytes()
        if distinct and key in seen:
            continue
        seen.add(key)
        out.append(p)
    return np.stack(out)


def overlap_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Shared ones of two patterns divided by the ones of ``a``."""
    return float(np.dot(a, b) / max(1.0, a.sum()))


class MemoryPopulation:
    """N thermal MTJ neurons driven through a fixed random projection (see the module docstring)."""

    def __init__(self, config: PopulationConfig, card: DeviceCard, seed: int, max_elements: int = 1 << 18) -> None:
        config.validate()
        self.config = config
        self.card = card
        self.max_elements = max_elements
        self.weights = task_rng(seed, KEY_PROJECTION).standard_normal((config.n_neurons, config.n_bits))

    def currents(self, patterns: np.ndarray) -> np.ndarray:
        """Pulse currents (A) for patterns [..., n_bits] -> [..., n_neurons]; all-zero pattern = no pulse."""
        c = self.config
        z = patterns @ self.weights.T / math.sqrt(c.k_active)
        i_a = np.clip(c.i_center_a + c.i_spread_a * z, 0.0, c.i_max_a)
        blank = ~np.any(patterns != 0, axis=-1)
        i_a[blank] = 0.0
        return i_a

    def run(self, currents_a: np.ndarray, *, keep_heat: bool,
            state_k: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Simulate [T, *batch, N] currents (A); returns spikes (bool, same shape) and the final
        temperature rise (K) [*batch, N] (an internal state, never given to a readout)."""
        import torch
        from ipnet_cosim.models.neuron import NeuronState, ThermalMTJNeuron

        c = self.config
        dtype = torch.float32 if c.dtype == "float32" else torch.float64
        steps, n = currents_a.shape[0], currents_a.shape[-1]
        batch_shape = currents_a.shape[1:-1]
        flat = currents_a.reshape(steps, -1, n)
        rows = flat.shape[1]
        state_flat = None if state_k is None else np.broadcast_to(state_k, (*batch_shape, n)).reshape(-1, n)
        neuron = ThermalMTJNeuron(self.card, mode="deterministic", keep_heat=keep_heat,
                                  n_sub=c.n_sub, n_sub_idle=c.n_sub_idle, dtype=dtype)
        chunk = max(1, self.max_elements // n)
        spikes = np.empty(flat.shape, dtype=bool)
        final = np.empty((rows, n))
        with torch.no_grad():
            for start in range(0, rows, chunk):
                sl = slice(start, min(rows, start + chunk))
                i_t = torch.as_tensor(np.ascontiguousarray(flat[:, sl]), dtype=dtype)
                st = None if state_flat is None else NeuronState(
                    torch.as_tensor(np.ascontiguousarray(state_flat[sl]), dtype=dtype))
                s, st_out = neuron(i_t, state=st)
                spikes[:, sl] = s.numpy() > 0.5
                final[sl] = st_out.t_rise_k.double().numpy()
        return spikes.reshape(currents_a.shape), final.reshape(*batch_shape, n)


def cold_threshold_a(card: DeviceCard, config: PopulationConfig) -> float:
    """Smallest pulse current (A) that fires a neuron starting at ambient (deterministic mode: hazard ln 2, with the
    population's quadrature settings and dtype; :func:`~ipnet_cosim.models.units.current_for_hazard`)."""
    import torch
    from ipnet_cosim.models.units import current_for_hazard
    dtype = torch.float32 if config.dtype == "float32" else torch.float64
    return current_for_hazard(card, math.log(2.0), n_sub=config.n_sub, n_sub_idle=config.n_sub_idle, dtype=dtype,
                              rel_tol=1e-9)


class LogisticReadout:
    """L2-regularised logistic regression fitted by Newton's method (IRLS); intercept not penalised."""

    def __init__(self, l2: float = 1.0, max_iter: int = 50, tol: float = 1e-7) -> None:
        self.l2, self.max_iter, self.tol = l2, max_iter, tol
        self.w: np.ndarray | None = None

    @staticmethod
    def _design(x: np.ndarray) -> np.ndarray:
        return np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "LogisticReadout":
        # torch (float64) rather than numpy: it honours torch.set_num_threads, and a threaded BLAS on a
        # shared machine makes these small solves many times slower
        import torch

        xb = torch.as_tensor(self._design(x), dtype=torch.float64)
        yt = torch.as_tensor(np.asarray(y, dtype=float), dtype=torch.float64)
        sw = torch.ones_like(yt) if sample_weight is None else torch.as_tensor(
            np.asarray(sample_weight, dtype=float), dtype=torch.float64)
        reg = torch.full((xb.shape[1],), float(self.l2), dtype=torch.float64)
        reg[-1] = 0.0
        eye = 1e-9 * torch.eye(xb.shape[1], dtype=torch.float64)
        w = torch.zeros(xb.shape[1], dtype=torch.float64)
        for _ in range(self.max_iter):
            p = torch.sigmoid(torch.clamp(xb @ w, -50, 50))
            grad = xb.T @ (sw * (p - yt)) + reg * w
            hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + torch.diag(reg) + eye
            step = torch.linalg.solve(hess, grad)
            w = w - step
            if float(step.abs().max()) < self.tol:
                break
        self.w = w.numpy()
        return self

    def decision(self, x: np.ndarray) -> np.ndarray:
        if self.w is None:
            raise RuntimeError("LogisticReadout: fit() first")
        return self._design(x) @ self.w

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.decision(x) > 0


def fit_readout(x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, l2_grid: tuple[float, ...] = L2_GRID,
                balanced: bool = False, folds: int = 2) -> tuple[LogisticReadout, dict[str, Any]]:
    """Fit a readout on the training split, choosing the L2 strength by ``folds``-fold cross-validation
    over trial groups (a trial/stream/list never straddles folds); ties go to the stronger penalty."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=bool)
    fold = np.asarray(groups) % folds
    scores = []
    for l2 in l2_grid:
        correct = []
        for k in range(folds):
            tr, va = fold != k, fold == k
            if not va.any() or not tr.any():
                continue
            w = _balanced_weights(y[tr]) if balanced else None
            r = LogisticReadout(l2).fit(x[tr], y[tr], sample_weight=w)
            hit = r.predict(x[va]) == y[va]
            # balanced accuracy when asked, else plain accuracy
            correct.append(0.5 * (hit[y[va]].mean() + hit[~y[va]].mean()) if balanced else hit.mean())
        scores.append(float(np.mean(correct)))
    best = max(range(len(l2_grid)), key=lambda i: (round(scores[i], 9), l2_grid[i]))
    l2 = l2_grid[best]
    readout = LogisticReadout(l2).fit(x, y, sample_weight=_balanced_weights(y) if balanced else None)
    return readout, {"l2": l2, "l2_grid": list(l2_grid), "cv_score": [round_figure(v) for v in scores],
                     "cv_folds": folds}


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=bool)
    pos = max(1, int(y.sum()))
    neg = max(1, int((~y).sum()))
    return np.where(y, 0.5 * len(y) / pos, 0.5 * len(y) / neg)


def write_result(out_dir: Path, name: str, data: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


def config_dict(cfg: Any) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    return json.loads(json.dumps(d))   # tuples -> lists


def common_config(pop: PopulationConfig, seed: int, quick: bool, card_record: dict[str, Any],
                   card: DeviceCard) -> dict[str, Any]:
    threshold = cold_threshold_a(card, pop)
    return {
        "seed": seed,
        "quick": quick,
        "seeds": {"projection": [seed, KEY_PROJECTION], "vocabulary": [seed, KEY_VOCAB],
                  "trials": [seed, KEY_TRIALS, "<n (n-back) or condition index>"],
                  "note": "numpy SeedSequence entropy lists"},
        "neuron": {"model": "ThermalMTJNeuron", "mode": "deterministic", "keep_heat": True,
                   "control_keep_heat": False, "n_sub": pop.n_sub, "n_sub_idle": pop.n_sub_idle,
                   "dtype": pop.dtype,
                   "note": "quadrature reduced from the neuron's defaults (64/16, float64) for speed"},
        "input_projection": {
            "formula": "I_i = clip(i_center + i_spread * sum_j W_ij x_j / sqrt(k_active), 0, i_max); "
                       "blank step = 0 A; W_ij ~ N(0,1)",
            "n_neurons": pop.n_neurons, "n_bits": pop.n_bits, "k_active": pop.k_active,
            "i_center_a": pop.i_center_a, "i_spread_a": pop.i_spread_a, "i_max_a": pop.i_max_a,
            "cold_threshold_a": round_figure(threshold, 9),
            "cold_threshold_note": "smallest pulse that fires a neuron at ambient temperature (deterministic, "
                                   "same quadrature), found by a grid search to 0.01 uA",
            "fraction_of_drives_above_cold_threshold": round_figure(0.5 * math.erfc(
                (threshold - pop.i_center_a) / pop.i_spread_a / math.sqrt(2))),
            "units": "A"},
        "readout": {"kind": "logistic regression with intercept, L2 penalty, Newton/IRLS (torch float64)",
                    "l2_selection": "2-fold cross-validation over whole trials within the training split, "
                                    "grid L2_GRID; refit on the whole training split",
                    "features": "spikes (0/1) of all neurons in the decision step; never the temperature"},
        "device_card": card_record,
    }


def finish_figure(fig, path: Path, title: str, caption: list[str]) -> None:
    """Title, a caption under the panels (references, notes), layout, save as PNG."""
    fig.suptitle(title, fontsize=9)
    height = 0.035 * (len(caption) + 1)
    fig.text(0.01, 0.01, "\n".join(caption), fontsize=7, va="bottom", ha="left")
    fig.tight_layout(rect=(0, height, 1, 0.95))
    fig.savefig(path, dpi=120)


def wrap_lines(lines: list[str], width: int = 170) -> list[str]:
    import textwrap
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(line, width) or [""])
    return out


def error_bars(rates: list[dict[str, Any]]) -> np.ndarray:
    vals = np.array([r["value"] for r in rates])
    lo = np.array([r["ci95"][0] for r in rates])
    hi = np.array([r["ci95"][1] for r in rates])
    return np.vstack([vals - lo, hi - vals])
