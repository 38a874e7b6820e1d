"""``ipnet-cosim sweep CONFIG``: a design-space sweep over mapping options, every point evaluated through the
PyTorch twin (accuracy of the hardware model on several chips, energy, area, latency, safe-operating-area
margins), written as ``sweep.json``, ``sweep.csv`` and ``sweep.html`` (the Pareto plot, every point linked).

The configuration is a TOML file::

    checkpoint = "models/pretrained/ipnet_default"   # default: the bundled default IPNet
    samples = 20          # N test samples spread evenly over the test set (or "all", or indices "0:20")
    chips = 2             # variation draws per point (seeds 0..chips-1; one when the point has no variation)
    mode = "grid"         # or "random" (then points = N, seed = S)

    [parameters]          # mapping options; each a list of values or {min, max, n, scale = "lin" | "log"}
    r_wire_ohm = [0.0, 1.0, 4.0]
    g_max_s = {min = 2e-4, max = 1e-3, n = 4, scale = "log"}
    synapse = ["ideal", "pcm"]

    [verify]              # the Pareto points simulated at circuit level (optional)
    samples = 5
    simulator = "ngspice"

Parameters are the fields of :class:`~ipnet_cosim.netlist_gen.mapping.MappingOptions` and
:class:`~ipnet_cosim.netlist_gen.conductance.ConductanceOptions` a designer chooses (:data:`PARAMETERS`) and
``synapse`` (a preset card name); every point is built and validated before any work starts, so an unknown
name, a range with min > max or a value the options refuse is named at once. Each point is exported per chip
(``points/<id>/chip<k>/export``), computed with ``simulate --simulator twin`` on the samples, and reported
(``report``); a finished point's ``point.json`` is kept, so a rerun of the same configuration resumes. Figures
(all computed from the twin and the export; units in the names): accuracy per chip and mean, energy per
inference and per spike, area, latency (steps x step period), throughput (one inference per latency),
synaptic operations per joule (cell reads of active rows per inference over the energy), and the margins of
the layers' peak MTJ voltage and junction temperature below the card's compliance and T_max.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import ConfigError

MAPPING_PARAMETERS = ("tile_rows", "tile_cols", "r_wire_ohm", "r_driver_ohm")
CONDUCTANCE_PARAMETERS = ("g_min_s", "g_max_s", "levels", "variation_sigma", "variation_sigma_s", "slices")
PARAMETERS = MAPPING_PARAMETERS + CONDUCTANCE_PARAMETERS + ("synapse",)
INTEGER_PARAMETERS = ("tile_rows", "tile_cols", "levels", "slices")
CONFIG_KEYS = ("checkpoint", "samples", "chips", "mode", "points", "seed", "parameters", "verify")
CSV_COLUMNS = ("id", "accuracy_mean", "energy_per_inference_j", "energy_per_spike_j", "area_m2", "latency_s",
               "throughput_inferences_per_s", "sops_per_j", "soa_within", "soa_margin_v", "soa_margin_k")


@dataclass(frozen=True)
class SweepConfig:
    """A checked sweep configuration (module docstring)."""

    checkpoint: str | None
    samples: tuple[int, ...] | str
    chips: int
    mode: str
    n_points: int
    seed: int
    parameters: tuple[tuple[str, Any], ...]        # name -> list of values or a range table
    verify_samples: int = 0                         # Pareto points simulated at circuit level on this many samples
    verify_simulator: str = "ngspice"

    def points(self) -> list[dict[str, Any]]:
        """Every design point as ``{parameter: value}`` (grid: the product in declared order; random: seeded draws)."""
        names = [n for n, _ in self.parameters]
        if self.mode == "grid":
            axes = [_grid_values(n, spec) for n, spec in self.parameters]
            return [dict(zip(names, combo)) for combo in itertools.product(*axes)]
        rng = np.random.default_rng(self.seed)
        return [{n: _draw(n, spec, rng) for n, spec in self.parameters} for _ in range(self.n_points)]

    def digest(self) -> str:
        """Hash of what determines the points' results (a resumed sweep must have the same)."""
        data = {"checkpoint": self.checkpoint, "samples": self.samples, "chips": self.chips}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:16]


def load_sweep_config(path: str | Path) -> SweepConfig:
    """Read and check a sweep TOML file; every point's options are built here, so a bad value stops the sweep
    before any work. Raises :class:`ConfigError` naming the key and the fix."""
    import tomllib
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sweep configuration {p} cannot be read ({exc}); pass a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sweep configuration {p} is not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"sweep configuration: unknown key(s) {unknown}; known: {', '.join(CONFIG_KEYS)}")
    params = raw.get("parameters")
    if not isinstance(params, Mapping) or not params:
        raise ConfigError("sweep configuration: a [parameters] table with at least one parameter is needed, e.g. "
                          "r_wire_ohm = [0.0, 1.0]")
    for name, spec in params.items():
        if name not in PARAMETERS:
            raise ConfigError(f"sweep parameter '{name}' is unknown; sweepable: {', '.join(PARAMETERS)} (device-card "
                              f"fields need a network trained for that card: not swept)")
        _check_spec(name, spec)
    mode = raw.get("mode", "grid")
    if mode not in ("grid", "random"):
        raise ConfigError(f"sweep mode '{mode}' is unknown; use 'grid' or 'random'")
    chips, n_points, seed = raw.get("chips", 1), raw.get("points", 0), raw.get("seed", 0)
    for key, value, low in (("chips", chips, 1), ("points", n_points, 1 if mode == "random" else 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"sweep configuration: {key} ({value!r}) must be an integer >= {low}")
    samples = raw.get("samples", 20)
    if isinstance(samples, int) and not isinstance(samples, bool):
        if samples < 1:
            raise ConfigError(f"sweep configuration: samples ({samples}) must be >= 1")
        samples = f"spread:{samples}"
    elif isinstance(samples, str) and samples.strip().lower() == "all":
        samples = "all"
    elif isinstance(samples, str):
        from ipnet_cosim.netlist_gen.export import parse_samples
        samples = tuple(parse_samples(samples))
    else:
        raise ConfigError(f"sweep configuration: samples ({samples!r}) must be a count, 'all' or a range like '0:20'")
    checkpoint = raw.get("checkpoint")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise ConfigError("sweep configuration: checkpoint must be a path (a string)")
    verify = raw.get("verify", {})
    if not isinstance(verify, Mapping) or sorted(set(verify) - {"samples", "simulator"}):
        raise ConfigError("sweep configuration: [verify] takes samples (Pareto points simulated on that many of the "
                          "sweep's samples) and simulator (ngspice | vacask)")
    v_samples, v_sim = verify.get("samples", 0), verify.get("simulator", "ngspice")
    if isinstance(v_samples, bool) or not isinstance(v_samples, int) or v_samples < 0:
        raise ConfigError(f"sweep configuration: verify.samples ({v_samples!r}) must be an integer >= 0")
    if v_sim not in ("ngspice", "vacask"):
        raise ConfigError(f"sweep configuration: verify.simulator '{v_sim}' is unknown; use ngspice or vacask")
    config = SweepConfig(checkpoint, samples, chips, mode, n_points, seed,
                         tuple((n, params[n]) for n in params), v_samples, v_sim)
    for point in config.points():
        point_options(point, seed=0)                 # raises ConfigError naming the field and the value
    return config


def _check_spec(name: str, spec: Any) -> None:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"sweep parameter '{name}': the list of values is empty")
        return
    if not isinstance(spec, Mapping):
        raise ConfigError(f"sweep parameter '{name}': give a list of values or {{min, max, n, scale}}, got {spec!r}")
    if name == "synapse":
        raise ConfigError("sweep parameter 'synapse': give a list of card names, e.g. [\"ideal\", \"pcm\"]")
    bad = sorted(set(spec) - {"min", "max", "n", "scale"})
    if bad or "min" not in spec or "max" not in spec:
        raise ConfigError(f"sweep parameter '{name}': a range needs min and max (and n for a grid, scale 'lin' or "
                          f"'log'); unknown key(s) {bad}")
    lo, hi = spec["min"], spec["max"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lo, hi)):
        raise ConfigError(f"sweep parameter '{name}': min and max must be finite numbers")
    if lo > hi:
        raise ConfigError(f"sweep parameter '{name}': min ({lo}) > max ({hi})")
    scale = spec.get("scale", "lin")
    if scale not in ("lin", "log"):
        raise ConfigError(f"sweep parameter '{name}': scale '{scale}' is unknown; use 'lin' or 'log'")
    if scale == "log" and lo <= 0:
        raise ConfigError(f"sweep parameter '{name}': a log range needs min > 0 (got {lo})")
    n = spec.get("n", 2)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"sweep parameter '{name}': n ({n!r}) must be an integer >= 1")


def _cast(name: str, value: float) -> Any:
    return int(round(value)) if name in INTEGER_PARAMETERS else float(value)


def _grid_values(name: str, spec: Any) -> list[Any]:
    if isinstance(spec, list):
        return list(spec)
    lo, hi, n = spec["min"], spec["max"], spec.get("n", 2)
    if spec.get("scale", "lin") == "log":
        vals = np.geomspace(lo, hi, n) if n > 1 else np.array([lo])
    else:
        vals = np.linspace(lo, hi, n) if n > 1 else np.array([lo])
    return [_cast(name, v) for v in vals]


def _draw(name: str, spec: Any, rng: np.random.Generator) -> Any:
    if isinstance(spec, list):
        return spec[int(rng.integers(len(spec)))]
    lo, hi = spec["min"], spec["max"]
    if spec.get("scale", "lin") == "log":
        return _cast(name, math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return _cast(name, rng.uniform(lo, hi))


def point_options(point: Mapping[str, Any], seed: int):
    """The mapping options of one design point (chip ``seed``); raises ConfigError naming a refused value."""
    from ipnet_cosim.device.synapse import synapse_presets
    from ipnet_cosim.netlist_gen.mapping import MappingOptions
    mapping = {k: point[k] for k in MAPPING_PARAMETERS if k in point}
    conductance = {k: point[k] for k in CONDUCTANCE_PARAMETERS if k in point}
    try:
        if "synapse" in point:
            presets = synapse_presets()
            if point["synapse"] not in presets:
                raise ConfigError(f"synapse card '{point['synapse']}' is unknown; presets: {', '.join(presets)}")
            return MappingOptions.for_synapse(presets[point["synapse"]], seed=seed, conductance_overrides=conductance,
                                              **mapping)
        from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
        return MappingOptions(conductance=ConductanceOptions(seed=seed, **conductance), **mapping)
    except ConfigError as exc:
        raise ConfigError(f"sweep point {dict(point)}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sweep point {dict(point)}: {exc}") from None


def resolve_samples(samples: Sequence[int] | str, export_dir: Path) -> list[int]:
    """The test-set indices of ``samples``: a tuple as given, "all", or "spread:N" (N indices evenly over the
    test set, so that every class is represented: the synthetic test sets are ordered by class)."""
    if not isinstance(samples, str):
        return list(samples)
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.sim_inputs import count_test_samples
    size = count_test_samples(read_export(export_dir, need_checkpoint=False))
    if samples == "all":
        return list(range(size))
    n = min(size, int(samples.split(":")[1]))
    return sorted({int(i * size // n) for i in range(n)})


def point_id(point: Mapping[str, Any]) -> str:
    """A short, stable name for a point (its parameters' hash)."""
    return hashlib.sha256(json.dumps(dict(point), sort_keys=True).encode()).hexdigest()[:12]


def evaluate_point(checkpoint: str, point: dict[str, Any], samples: Sequence[int] | str, chips: int,
                   folder: str) -> dict[str, Any]:
    """One design point (in a worker process): export per chip, the twin on ``samples``, the report of chip 0."""
    import shutil
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.netlist_gen.contract import read_export
    from ipnet_cosim.netlist_gen.export import export_network
    from ipnet_cosim.netlist_gen.simulate import simulate_export
    out = Path(folder)
    base = point_options(point, seed=0)
    n_chips = chips if (base.conductance.variation_sigma > 0 or base.conductance.variation_sigma_s > 0) else 1
    accuracies, report, sops, chosen = [], None, 0.0, None
    for k in range(n_chips):
        chip = out / f"chip{k}"
        exp = chip / "export"
        if not (exp / "manifest.json").is_file():
            shutil.rmtree(exp, ignore_errors=True)
            export_network(checkpoint, exp, samples=[0], options=point_options(point, seed=k))
        if chosen is None:                            # the same samples for every chip
            chosen = resolve_samples(samples, exp)
        res = simulate_export(exp, out=chip / "twin", samples=chosen, progress=False, simulator="twin", plots=0)
        accuracies.append(res["summary"]["circuit_accuracy"])
        if k == 0:
            report, _ = build_report(exp, sim=chip / "twin", area=True)
            sops = _synaptic_ops(read_export(exp, need_checkpoint=False), chip / "twin", chosen)
    man = read_export(out / "chip0" / "export", need_checkpoint=False).manifest
    latency = man.timing.n_steps * man.timing.t_step_s
    energy = report["energy"]["total"]["value"]
    limits = report["soa"]["limits"]
    layers = report["soa"]["layers"]
    return {"id": point_id(point), "parameters": point, "chips": n_chips, "samples": len(chosen),
            "accuracy_chips": accuracies, "accuracy_mean": float(np.mean(accuracies)),
            "energy_per_inference_j": energy,
            "energy_per_spike_j": report["per_spike"]["mean"]["value"] if "mean" in report["per_spike"] else None,
            "area_m2": report["area"]["total"]["value"], "latency_s": latency,
            "throughput_inferences_per_s": 1.0 / latency, "sops_per_inference": sops,
            "sops_per_j": sops / energy if energy > 0 else None,
            "soa_within": bool(report["soa"]["within"]),
            "soa_margin_v": float(min(limits["v_compliance_v"]["value"] - l["v_peak"]["value"] for l in layers)),
            "soa_margin_k": float(min(limits["t_max_k"]["value"] - l["t_peak"]["value"] for l in layers)),
            "provenance": "computed: PyTorch twin (simulate --simulator twin) of each chip's export; energy, area and "
                          "SOA from the report of chip 0; latency from the export's timing",
            "folder": str(out)}


def _synaptic_ops(export, sim: Path, samples: Sequence[int]) -> float:
    """Mean cell reads per inference: every active row of a unit reads its cells of every weight column (x2: the
    differential pair, x slices), over the unit's steps."""
    from ipnet_cosim.netlist_gen.contract import SimFiles
    from ipnet_cosim.netlist_gen.mapping import row_levels_v
    from ipnet_cosim.netlist_gen.sim_inputs import load_frames
    man = export.manifest
    total = 0.0
    all_frames = load_frames(export, tuple(samples))[1]          # the data set is read once
    for k, s in enumerate(samples):
        with np.load(sim / SimFiles.spikes(s)) as d:
            spikes = {name: d[name] for name in d.files}
        for layer in man.layers:
            if layer.index == 0:
                inp = all_frames[k].reshape(man.timing.n_steps, -1)
            else:
                inp = spikes[f"circuit_{man.layers[layer.index - 1].name}"]
            cells = 2 * len(layer.slice_gains)
            for u in man.units_of(layer.index):
                active = int((row_levels_v(np.asarray(u.rows), inp, 1.0) != 0).sum())    # the bias row reads always
                total += float(active) * u.n_cols * cells
    return total / max(1, len(samples))


def run_sweep(config: SweepConfig, out: str | Path, *, workers: int = 1,
              progress: bool | Callable[[str], None] = True) -> dict[str, Any]:
    """Every point of ``config`` into ``out`` (resumable: finished points are read back), then sweep.json/.csv."""
    from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = config.checkpoint or str(bundled_checkpoint_dir())
    stamp = out / "sweep_config.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("digest") != config.digest():
        raise ConfigError(f"{out} holds a sweep with another checkpoint, samples or chips; use a new folder (earlier "
                          f"results are never overwritten)")
    stamp.write_text(json.dumps({"digest": config.digest(), "checkpoint": checkpoint,
                                 "samples": config.samples if isinstance(config.samples, str) else list(config.samples),
                                 "chips": config.chips, "mode": config.mode,
                                 "parameters": {n: s for n, s in config.parameters}}, indent=2) + "\n")
    points = config.points()
    say = progress if callable(progress) else (lambda msg: None)
    from ipnet_cosim.netlist_gen.sim_executors import ProgressBar
    bar = ProgressBar(progress, total=len(points))
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for p in points:
        pid = point_id(p)
        done = out / "points" / pid / "point.json"
        if done.is_file():
            results[pid] = json.loads(done.read_text())
            bar.advance(1)
        else:
            todo.append((pid, p))
    say(f"{len(points)} points: {len(results)} finished earlier, {len(todo)} to compute")
    try:
        if workers > 1 and len(todo) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futs = {pool.submit(evaluate_point, checkpoint, p, config.samples, config.chips,
                                    str(out / "points" / pid)): pid for pid, p in todo}
                for fut in as_completed(futs):
                    _finish(out, futs[fut], fut.result(), results)
                    bar.advance(1)
        else:
            for pid, p in todo:
                _finish(out, pid, evaluate_point(checkpoint, p, config.samples, config.chips,
                                                 str(out / "points" / pid)), results)
                bar.advance(1)
    finally:
        bar.close()
    ordered = [results[point_id(p)] for p in points]
    front = pareto(ordered)
    if config.verify_samples:
        for pid in front:
            say(f"verifying Pareto point {pid} at circuit level ({config.verify_simulator}, "
                f"{config.verify_samples} samples)")
            results[pid]["verified"] = verify_point(results[pid], config.verify_samples, config.verify_simulator,
                                                    workers)
    for pid in front:                                # the Pareto points' reports, linked from sweep.html
        _write_point_report(Path(results[pid]["folder"]))
    summary = {"format": "ipnet-cosim sweep", "format_version": 1, "checkpoint": checkpoint,
               "mode": config.mode, "points": ordered,
               "pareto_ids": front,
               "provenance": "computed from the PyTorch twin of each point's export (no circuit simulation)"}
    (out / "sweep.json").write_text(json.dumps(summary, indent=2, default=float) + "\n", encoding="utf-8")
    _write_csv(out / "sweep.csv", ordered)
    from ipnet_cosim.netlist_gen.sweep_page import write_sweep_page
    write_sweep_page(out, summary)
    say(f"wrote {out / 'sweep.json'}, sweep.csv and sweep.html")
    return summary


def verify_point(point: Mapping[str, Any], n_samples: int, simulator: str, workers: int) -> dict[str, Any]:
    """Chip 0 of a point simulated at circuit level on the first ``n_samples`` of its samples, against the twin's
    run of the same samples (kept in ``verify.json``: a resumed sweep does not simulate it again)."""
    folder = Path(point["folder"])
    cached = folder / "verify.json"
    if cached.is_file():
        data = json.loads(cached.read_text())
        if data.get("samples_requested") == n_samples and data.get("simulator") == simulator:
            return data
    from ipnet_cosim.netlist_gen.simulate import simulate_export
    exp = folder / "chip0" / "export"
    twin_results = json.loads((folder / "chip0" / "twin" / "results.json").read_text())
    chosen = [e["sample"] for e in twin_results["per_sample"]][:n_samples]
    res = simulate_export(exp, out=folder / "chip0" / f"verify_{simulator}", samples=chosen, workers=workers,
                          progress=False, simulator=simulator, plots=0)
    twin_by = {e["sample"]: e for e in twin_results["per_sample"]}
    agree = sum(e["circuit_class"] == twin_by[e["sample"]]["circuit_class"] for e in res["per_sample"])
    data = {"samples_requested": n_samples, "simulator": simulator, "samples": chosen,
            "circuit_accuracy": res["summary"]["circuit_accuracy"],
            "twin_accuracy_same_samples": float(np.mean([twin_by[s]["circuit_class"] == twin_by[s]["label"]
                                                         for s in chosen])),
            "classes_agree_with_twin": int(agree), "all_spikes_equal_pytorch": bool(res["summary"]["all_spikes_equal"]),
            "soa_within": bool(res["soa"]["within"]),
            "provenance": f"simulated: {simulator} on chip 0's export, port models; compared with the twin's classes"}
    cached.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data


def _write_point_report(folder: Path) -> None:
    """Chip 0's energy and area report in ``folder/report`` (once)."""
    if (folder / "report" / "report.html").is_file():
        return
    from ipnet_cosim.energy.report import build_report, write_report
    report, data = build_report(folder / "chip0" / "export", sim=folder / "chip0" / "twin")
    write_report(report, data, folder / "report")


def _finish(out: Path, pid: str, result: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    path = out / "points" / pid / "point.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    tmp.replace(path)                                   # a point is finished only when its file is complete
    results[pid] = result


def pareto(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ids of the points no other point beats in both accuracy (higher) and energy per inference (lower)."""
    front = []
    for p in points:
        dominated = any(q is not p and q["accuracy_mean"] >= p["accuracy_mean"]
                        and q["energy_per_inference_j"] <= p["energy_per_inference_j"]
                        and (q["accuracy_mean"] > p["accuracy_mean"]
                             or q["energy_per_inference_j"] < p["energy_per_inference_j"]) for q in points)
        if not dominated:
            front.append(p["id"])
    return front


def _write_csv(path: Path, points: Sequence[Mapping[str, Any]]) -> None:
    names = sorted({n for p in points for n in p["parameters"]})
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*CSV_COLUMNS[:1], *names, *CSV_COLUMNS[1:]])
        for p in points:
            w.writerow([p["id"], *(p["parameters"].get(n, "") for n in names), *(p[c] for c in CSV_COLUMNS[1:])])
