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
``<name>.png`` into ``out_dir`` and returns the JSON dict. Results depend only on the seed.
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
from ipnet_cosim.models.experiments import human_reference

SIM_PROVENANCE = "simulated: PyTorch twin of the thermal MTJ neuron, deterministic mode"

Progress = Callable[[str], None] | None

# sub-stream keys of the seed (numpy SeedSequence entropy = [seed, key, ...])
_KEY_PROJECTION, _KEY_VOCAB, _KEY_TRIALS = 1, 2, 3


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

def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]))


def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _r(x: float, digits: int = 6) -> float:
    """Round for the JSON (deterministic, readable)."""
    return float(round(float(x), digits))


def wilson_ci(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _rate(mask: np.ndarray) -> dict[str, Any]:
    """Proportion of True in ``mask`` with its Wilson 95 % interval."""
    n = int(mask.size)
    k = int(np.count_nonzero(mask))
    lo, hi = wilson_ci(k, n)
    return {"value": _r(k / n if n else float("nan")), "ci95": [_r(lo), _r(hi)], "n": n}


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
    record["heat_decay_per_step"] = _r(math.exp(-used.timing.t_step_s / used.mtj.tau_th_s))
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
        self.weights = _rng(seed, _KEY_PROJECTION).standard_normal((config.n_neurons, config.n_bits))

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
    """Smallest pulse current (A) that fires a neuron starting at ambient (deterministic mode, the
    population's quadrature settings), to 0.01 uA."""
    import torch
    from ipnet_cosim.models.neuron import ThermalMTJNeuron

    dtype = torch.float32 if config.dtype == "float32" else torch.float64
    neuron = ThermalMTJNeuron(card, mode="deterministic", n_sub=config.n_sub, n_sub_idle=config.n_sub_idle,
                              dtype=dtype)
    lo, hi = 0.0, 2e-3
    for step in (10e-6, 0.1e-6, 0.01e-6):
        grid = np.arange(lo, hi + step / 2, step)
        with torch.no_grad():
            fired = neuron(torch.as_tensor(grid[None, :], dtype=dtype))[0][0].numpy() > 0.5
        if not fired.any():
            raise ConfigError("cold_threshold_a: the neuron does not fire below 2 mA")
        k = int(np.argmax(fired))
        lo, hi = grid[max(0, k - 1)], grid[k]
    return float(hi)


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
    return readout, {"l2": l2, "l2_grid": list(l2_grid), "cv_score": [_r(v) for v in scores], "cv_folds": folds}


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=bool)
    pos = max(1, int(y.sum()))
    neg = max(1, int((~y).sum()))
    return np.where(y, 0.5 * len(y) / pos, 0.5 * len(y) / neg)


def _write(out_dir: Path, name: str, data: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


def _config_dict(cfg: Any) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    return json.loads(json.dumps(d))   # tuples -> lists


def _common_config(pop: PopulationConfig, seed: int, quick: bool, card_record: dict[str, Any],
                   card: DeviceCard) -> dict[str, Any]:
    threshold = cold_threshold_a(card, pop)
    return {
        "seed": seed,
        "quick": quick,
        "seeds": {"projection": [seed, _KEY_PROJECTION], "vocabulary": [seed, _KEY_VOCAB],
                  "trials": [seed, _KEY_TRIALS, "<n (n-back) or condition index>"],
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
            "cold_threshold_a": _r(threshold, 9),
            "cold_threshold_note": "smallest pulse that fires a neuron at ambient temperature (deterministic, "
                                   "same quadrature), found by a grid search to 0.01 uA",
            "fraction_of_drives_above_cold_threshold": _r(0.5 * math.erfc(
                (threshold - pop.i_center_a) / pop.i_spread_a / math.sqrt(2))),
            "units": "A"},
        "readout": {"kind": "logistic regression with intercept, L2 penalty, Newton/IRLS (torch float64)",
                    "l2_selection": "2-fold cross-validation over whole trials within the training split, "
                                    "grid L2_GRID; refit on the whole training split",
                    "features": "spikes (0/1) of all neurons in the decision step; never the temperature"},
        "device_card": card_record,
    }


def _finish(fig, path: Path, title: str, caption: list[str]) -> None:
    """Title, a caption under the panels (references, notes), layout, save as PNG."""
    fig.suptitle(title, fontsize=9)
    height = 0.035 * (len(caption) + 1)
    fig.text(0.01, 0.01, "\n".join(caption), fontsize=7, va="bottom", ha="left")
    fig.tight_layout(rect=(0, height, 1, 0.95))
    fig.savefig(path, dpi=120)


def _wrap(lines: list[str], width: int = 170) -> list[str]:
    import textwrap
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(line, width) or [""])
    return out


def _yerr(rates: list[dict[str, Any]]) -> np.ndarray:
    vals = np.array([r["value"] for r in rates])
    lo = np.array([r["ci95"][0] for r in rates])
    hi = np.array([r["ci95"][1] for r in rates])
    return np.vstack([vals - lo, hi - vals])


# -- 1. n-back ---------------------------------------------------------------------------------------

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
    vocab = random_patterns(_rng(seed, _KEY_VOCAB), cfg.vocab_size, cfg.population.n_bits, cfg.population.k_active)
    item_currents = pop.currents(vocab)                              # [V, N]
    first_decision = max(cfg.n_values)
    n_train = int(round(cfg.train_fraction * cfg.n_streams))

    results: dict[str, list] = {"ip": [], "control": []}
    for n in cfg.n_values:
        seq, match = _nback_streams(_rng(seed, _KEY_TRIALS, n), n, cfg)
        currents = item_currents[seq].transpose(1, 0, 2)              # [T, B, N]
        y = match[:, first_decision:]
        for label, keep in (("ip", True), ("control", False)):
            _say(progress, f"n-back: n={n}, {label} population ({cfg.n_streams} streams x {cfg.stream_length} steps)")
            spikes, _ = pop.run(currents, keep_heat=keep)
            x = spikes.transpose(1, 0, 2)[:, first_decision:].astype(float)   # [B, T', N]
            readout, fit_info = fit_readout(x[:n_train].reshape(-1, x.shape[-1]), y[:n_train].reshape(-1),
                                            np.repeat(np.arange(n_train), x.shape[1]), l2_grid=cfg.l2_grid)
            yhat = readout.predict(x[n_train:].reshape(-1, x.shape[-1]))
            yt = y[n_train:].reshape(-1)
            train_acc = float(np.mean(readout.predict(x[:n_train].reshape(-1, x.shape[-1])) == y[:n_train].reshape(-1)))
            results[label].append({
                "n": n,
                "accuracy": _rate(yhat == yt),
                "hit_rate": _rate(yhat[yt]),
                "false_alarm_rate": _rate(yhat[~yt]),
                "train_accuracy": _r(train_acc),
                "readout": fit_info,
                "spike_rate": _r(float(spikes.mean())),
            })
            _say(progress, f"  accuracy {results[label][-1]['accuracy']['value']:.3f}")

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
            **_common_config(cfg.population, seed, quick, card_record, used_card),
            "task": {**{k: v for k, v in _config_dict(cfg).items() if k != "population"},
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
    _write(out_dir, "nback", data)
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
    ax.errorbar(n, [r["value"] for r in ip], yerr=_yerr(ip), fmt="o-", color="C0", capsize=3,
                label="IP population (heat kept)")
    ax.errorbar(n, [r["value"] for r in ctl], yerr=_yerr(ctl), fmt="s--", color="C3", capsize=3,
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
    ax.errorbar(n, [r["value"] for r in hit], yerr=_yerr(hit), fmt="o-", color="C2", capsize=3, label="hit rate (IP)")
    ax.errorbar(n, [r["value"] for r in fa], yerr=_yerr(fa), fmt="v-", color="C1", capsize=3,
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
    _finish(fig, path, "n-back on a thermal-MTJ IP memory population (" + SIM_PROVENANCE + ")", _wrap(caption))
    plt.close(fig)


# -- 2. free recall ----------------------------------------------------------------------------------

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
    vocab = random_patterns(_rng(seed, _KEY_VOCAB), cfg.vocab_size, p.n_bits, p.k_active)
    item_currents = pop.currents(vocab)                              # [V, N]
    rng = _rng(seed, _KEY_TRIALS, 0)
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
        _say(progress, f"free recall: {label} population, {cfg.n_lists} lists of {cfg.list_length}, "
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
        spc = [_rate(said_yes[pos_te == k]) for k in range(cfg.list_length)]
        fa = _rate(said_yes[~in_te])
        curves[label] = {"recall_probability": spc, "false_alarm_rate": fa,
                         "spike_rate_probe": _r(float(spikes.mean())), "readout": fit_info}
        _say(progress, "  recall by position " + " ".join(f"{r['value']:.2f}" for r in spc) + f"; FA {fa['value']:.2f}")

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
            **_common_config(p, seed, quick, card_record, used_card),
            "task": {**{k: v for k, v in _config_dict(cfg).items() if k != "population"},
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
            "primacy_index": _r(primacy),
            "primacy_index_definition": "recall(position 1) - mean recall(middle two positions), IP population",
            "primacy": primacy_text,
        },
        "human_reference": ref,
        "figure": "free_recall.png",
    }
    _plot_free_recall(out_dir / "free_recall.png", data)
    _write(out_dir, "free_recall", data)
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
    ax.errorbar(pos, [r["value"] for r in ip], yerr=_yerr(ip), fmt="o-", color="C0", capsize=3,
                label="IP population (heat kept)")
    ax.errorbar(pos, [r["value"] for r in ctl], yerr=_yerr(ctl), fmt="s--", color="C3", capsize=3,
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
    _finish(fig, path, "Free recall on a thermal-MTJ IP memory population (" + SIM_PROVENANCE + ")", _wrap(caption))
    plt.close(fig)


# -- 3. interference ---------------------------------------------------------------------------------

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
    fam = _families(_rng(seed, _KEY_VOCAB), cfg)
    n_train = int(round(cfg.train_fraction * cfg.n_trials))
    plan = _interference_plan(_rng(seed, _KEY_TRIALS, 0), cfg)
    trials = {c: _interference_trials(_rng(seed, _KEY_TRIALS, 1 + i), fam, plan, c, cfg)
              for i, c in enumerate(CONDITIONS)}

    feats: dict[str, dict[str, np.ndarray]] = {"ip": {}, "control": {}}
    for label, keep in (("ip", True), ("control", False)):
        for c in CONDITIONS:
            _say(progress, f"interference: {c}, {label} population ({cfg.n_trials} trials)")
            spikes, _ = pop.run(pop.currents(trials[c]["patterns"]), keep_heat=keep)
            feats[label][c] = spikes[-1].astype(float)                  # probe step [B, N]

    def score(yhat: np.ndarray, kind: np.ndarray) -> dict[str, Any]:
        is_t = kind == "target"
        return {"accuracy": _rate(yhat == is_t),
                "hit_rate": _rate(yhat[is_t]),
                "false_alarm_rate": _rate(yhat[~is_t]),
                "false_alarm_rate_related_lure": _rate(yhat[kind == "related_lure"]),
                "false_alarm_rate_unrelated": _rate(yhat[kind == "unrelated"])}

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
        _say(progress, f"  {label}: " + ", ".join(
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
    filler_overlaps = {c: (_r(float(trials[c]["filler_overlap"].mean())) if trials[c]["filler_overlap"].size else None)
                       for c in CONDITIONS}
    confusion = {c: _r(results["ip"][c][primary]["false_alarm_rate_related_lure"]["value"]
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
            **_common_config(cfg.population, seed, quick, card_record, used_card),
            "task": {**{k: v for k, v in _config_dict(cfg).items() if k != "population"},
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
    _write(out_dir, "interference", data)
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
        ax.bar(x + off, [r["value"] for r in rates], width=0.38, yerr=_yerr(rates), capsize=3,
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
        ax.bar(x + off, [r["value"] for r in rates], width=w * 0.95, yerr=_yerr(rates), capsize=3,
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
    _finish(fig, path, "Interference on a thermal-MTJ IP memory population (" + SIM_PROVENANCE + ")", _wrap(caption))
    plt.close(fig)


EXPERIMENTS = {"nback": run_nback, "free_recall": run_free_recall, "interference": run_interference}
