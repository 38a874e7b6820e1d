"""``ipnet-cosim sweep CONFIG``: a design-space sweep over mapping options and device-card fields, every point
evaluated through the PyTorch twin (accuracy of the hardware model on several chips, energy, area, latency,
safe-operating-area margins), written as ``sweep.json``, ``sweep.csv`` and ``sweep.html`` (the Pareto plot, every
point linked); the Pareto points optionally simulated at circuit level.

The configuration is a TOML file::

    checkpoint = "models/pretrained/ipnet_chip"      # default: the bundled IPNet (fine-tuned for the default chip)
    samples = 20          # N test samples spread evenly over the test set (or "all", or indices "0:20")
    chips = 2             # variation draws per point (seeds 0..chips-1; one when the point has no variation)
    mode = "grid"         # or "random" (then points = N, seed = S)

    [parameters]          # each a list of values or {min, max, n, scale = "lin" | "log"}
    r_wire_ohm = [0.0, 1.0, 4.0]
    g_max_s = {min = 2e-4, max = 1e-3, n = 4, scale = "log"}
    synapse = ["ideal", "pcm"]
    mtj.r_th_k_per_w = [5e5, 1e6]   # device-card fields as section.field

    [finetune]            # optional: every point fine-tuned for its card and crossbars (hardware-aware)
    epochs = 1

    [firing]              # optional: every point's neurons fire stochastically (default: the median mode,
    mode = "stochastic"   # an idealisation); each chip is evaluated under `draws` recorded draws and the points
    draws = 3             # are ranked by the mean accuracy over chips and draws
    seed = 0

    [verify]              # the Pareto points simulated at circuit level (optional)
    samples = 5
    simulator = "ngspice"

What each parameter means and how it is checked: :mod:`~ipnet_cosim.sweep.config`; what a point
computes: :mod:`~ipnet_cosim.sweep.point`. A finished point's ``point.json`` is kept, so a rerun of the
same configuration resumes. Points run in local worker processes or on the workers of a Dask scheduler (the sweep
folder on a file system every worker sees).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import ConfigError, SimulationError
from ipnet_cosim.sweep.config import SweepConfig
from ipnet_cosim.sweep.point import evaluate_point, point_id
from ipnet_cosim.sweep.records import PointCheck, Sweep, SweepPoint, read_point

CSV_COLUMNS = ("id", "accuracy_mean", "energy_per_inference_j", "energy_per_spike_j", "area_m2", "latency_s",
               "throughput_inferences_per_s", "sops_per_j", "soa_within", "soa_margin_v", "soa_margin_k")


def run_sweep(config: SweepConfig, out: str | Path, *, workers: int = 1, scheduler: str | None = None,
              progress: bool | Callable[[str], None] = True) -> Sweep:
    """Every point of ``config`` into ``out`` (resumable: finished points are read back), then sweep.json/.csv/.html;
    returns the :class:`~ipnet_cosim.sweep.records.Sweep` written to ``sweep.json``.

    Args:
        workers: points computed side by side in local processes (each torch on one thread), and the circuit
            simulator's workers when the Pareto points are verified.
        scheduler: a Dask scheduler address (tcp://HOST:8786): points run on its workers instead (``out`` must be on
            a file system they share).
    """
    from ipnet_cosim.device.fileio import sha256_file
    from ipnet_cosim.models.checkpoint import bundled_checkpoint_dir, resolve_checkpoint_path
    from ipnet_cosim.sweep.config import check_point_cards
    out = Path(out)
    if config.has_card_parameters:
        check_point_cards(config)                       # (again: a SweepConfig may be built in code)
    stamp = out / "sweep_config.json"
    checkpoint = config.checkpoint or str(bundled_checkpoint_dir())
    # the checkpoint's content, not only its path: a retrained or re-bundled network at the same path is another sweep
    weights_sha256 = sha256_file(resolve_checkpoint_path(checkpoint))
    if stamp.is_file():
        earlier = json.loads(stamp.read_text())
        if (earlier.get("digest") != config.digest()
                or earlier.get("checkpoint_sha256", weights_sha256) != weights_sha256):
            raise ConfigError(f"{out} holds a sweep with another checkpoint, samples, chips or fine-tuning; use a new "
                              f"folder (earlier results are never overwritten)")
    executor = _PointExecutor(workers, scheduler)       # a Dask scheduler is reached before anything is written
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"digest": config.digest(), "checkpoint": checkpoint,
                                 "checkpoint_sha256": weights_sha256,
                                 "samples": config.samples if isinstance(config.samples, str) else list(config.samples),
                                 "chips": config.chips, "mode": config.mode, "finetune": dict(config.finetune),
                                 "firing": config.firing_mode.to_dict(),
                                 "parameters": {n: s for n, s in config.parameters}}, indent=2) + "\n")
    points = config.points()
    say = progress if callable(progress) else (lambda msg: None)
    from ipnet_cosim.simulation.executors import ProgressBar
    bar = ProgressBar(progress, total=len(points))
    bar.describe("sweep points")
    results: dict[str, SweepPoint] = {}
    todo = []
    for p in points:
        pid = point_id(p)
        done = out / "points" / pid / "point.json"
        if done.is_file():
            results[pid] = read_point(done)
            bar.advance(1)
        else:
            todo.append((pid, p))
    say(f"{len(points)} points: {len(results)} finished earlier, {len(todo)} to compute")
    try:
        for pid, result in executor.run(checkpoint, todo, config, out):
            _finish(out, pid, result, results)
            bar.advance(1)
    finally:
        bar.close()
        executor.close()
    ordered = [results[point_id(p)] for p in points]
    physical = [p for p in ordered if p.soa_within]
    front = pareto(physical or ordered)               # designs outside the card's limits are not candidates
    if len(physical) < len(ordered):
        say(f"{len(ordered) - len(physical)} of {len(ordered)} points operate outside the device card's limits "
            f"(peak MTJ voltage or junction temperature); " + ("excluded from the Pareto front" if physical else
                                                                 "no point is within them: the front is of all points"))
    if config.verify_samples:
        for pid in front:
            say(f"verifying Pareto point {pid} at circuit level ({config.verify_simulator}, "
                f"{config.verify_samples} samples)")
            results[pid] = results[pid].with_check(verify_point(results[pid], config.verify_samples,
                                                                config.verify_simulator, workers, scheduler))
    for pid in front:                                # the Pareto points' reports, linked from sweep.html
        _write_point_report(Path(results[pid].folder))
    ordered = [results[point_id(p)] for p in points]
    summary = Sweep(checkpoint=checkpoint, mode=config.mode, finetune=dict(config.finetune) or None,
                    firing=config.firing_mode.to_dict(), firing_note=config.firing_mode.describe(),
                    points=tuple(ordered), pareto_ids=tuple(front),
                    pareto_among=("points within the safe operating area" if physical else
                                  "all points (none within the safe operating area)"))
    (out / "sweep.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    _write_csv(out / "sweep.csv", ordered)
    from ipnet_cosim.sweep.page import write_sweep_page
    write_sweep_page(out, summary)
    say(f"wrote {out / 'sweep.json'}, sweep.csv and sweep.html")
    return summary


class _PointExecutor:
    """Where points run: here (one worker), in ``workers`` spawned processes, or on a Dask cluster. Yields
    ``(id, result)`` as points finish."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        self.workers, self.client = workers, None
        if scheduler:
            from ipnet_cosim.simulation.executors import DaskExecutor
            self.client = DaskExecutor(scheduler).client

    def run(self, checkpoint: str, todo: Sequence[tuple[str, dict[str, Any]]], config: SweepConfig,
            out: Path) -> Iterator[tuple[str, SweepPoint]]:
        ft = dict(config.finetune)
        firing = dict(config.firing) or None
        args = {pid: (checkpoint, p, config.samples, config.chips, str(out / "points" / pid), ft, firing)
                for pid, p in todo}
        if self.client is not None:
            yield from self._dask(args)
        elif self.workers > 1 and len(todo) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed
            with ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futs = {pool.submit(evaluate_point, *a, torch_threads=1): pid for pid, a in args.items()}
                for fut in as_completed(futs):
                    yield futs[fut], fut.result()
        else:
            for pid, a in args.items():
                yield pid, evaluate_point(*a)

    def _dask(self, args: Mapping[str, tuple]) -> Iterator[tuple[str, SweepPoint]]:
        from dask.distributed import as_completed
        if self.client is None:
            raise RuntimeError("the sweep's Dask path runs only with a scheduler")
        futs = {self.client.submit(evaluate_point, *a, torch_threads=1, pure=False, key=f"sweep-point-{pid}"): pid
                for pid, a in args.items()}
        try:
            for fut in as_completed(list(futs)):
                try:
                    result = fut.result()
                except (ConfigError, SimulationError):
                    raise
                except Exception as exc:       # a worker died (KilledWorker) or the cluster went away
                    raise SimulationError(f"a Dask worker failed on sweep point {futs[fut]} ({type(exc).__name__}: "
                                          f"{exc}); finished points are kept, rerun to resume") from exc
                yield futs[fut], result
        finally:
            for fut in futs:
                fut.cancel()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def verify_point(point: SweepPoint, n_samples: int, simulator: str, workers: int,
                 scheduler: str | None = None) -> PointCheck:
    """Chip 0 of a point simulated at circuit level on the first ``n_samples`` of its samples, against the twin's
    run of the same samples (kept in ``verify.json``: a resumed sweep does not simulate it again)."""
    folder = Path(point.folder)
    cached = folder / "verify.json"
    if cached.is_file():
        try:
            check = PointCheck.from_dict(json.loads(cached.read_text(encoding="utf-8")), str(cached))
        except (ValueError, ConfigError):
            check = None                                # damaged: simulated again (the unit cache is kept)
        if check is not None and check.samples_requested == n_samples and check.simulator == simulator:
            return check
    from ipnet_cosim.netlist_gen.contract import read_export, read_results
    from ipnet_cosim.simulation.simulate import simulate_export
    exp = folder / "chip0" / "export"
    twin_results = read_results(folder / "chip0" / "twin", read_export(exp, need_checkpoint=False))
    chosen = list(twin_results.samples[:n_samples])
    res = simulate_export(exp, out=folder / "chip0" / f"verify_{simulator}", samples=chosen, workers=workers,
                          progress=False, simulator=simulator, plots=0, scheduler=scheduler)
    agree = sum(e.predicted_class == twin_results.sample(e.sample).predicted_class for e in res.per_sample)
    check = PointCheck(
        samples_requested=n_samples, simulator=simulator, samples=tuple(chosen),
        circuit_accuracy=res.summary.accuracy if res.summary.accuracy is not None else float("nan"),
        twin_accuracy_same_samples=float(np.mean([twin_results.sample(s).correct for s in chosen])),
        classes_agree_with_twin=int(agree),
        all_spikes_equal_pytorch=res.summary.torch is not None and res.summary.torch.all_spikes_equal,
        soa_within=res.soa_within,
        provenance=f"simulated: {simulator} on chip 0's export, port models; compared with the twin's classes")
    cached.write_text(json.dumps(check.to_dict(), indent=2) + "\n", encoding="utf-8")
    return check


def _write_point_report(folder: Path) -> None:
    """Chip 0's energy and area report in ``folder/report`` (once)."""
    if (folder / "report" / "report.html").is_file():
        return
    from ipnet_cosim.energy.report import build_report
    from ipnet_cosim.energy.report_text import write_report
    report, data = build_report(folder / "chip0" / "export", sim=folder / "chip0" / "twin")
    write_report(report, data, folder / "report")


def _finish(out: Path, pid: str, result: SweepPoint, results: dict[str, SweepPoint]) -> None:
    path = out / "points" / pid / "point.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)                                   # a point is finished only when its file is complete
    results[pid] = result


def pareto(points: Sequence[SweepPoint]) -> list[str]:
    """Ids of the points no other point beats in both accuracy (higher) and energy per inference (lower)."""
    front = []
    for p in points:
        dominated = any(q is not p and q.accuracy_mean >= p.accuracy_mean
                        and q.energy_per_inference_j <= p.energy_per_inference_j
                        and (q.accuracy_mean > p.accuracy_mean
                             or q.energy_per_inference_j < p.energy_per_inference_j) for q in points)
        if not dominated:
            front.append(p.id)
    return front


def _write_csv(path: Path, points: Sequence[SweepPoint]) -> None:
    names = sorted({n for p in points for n in p.parameters})
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*CSV_COLUMNS[:1], *names, *CSV_COLUMNS[1:]])
        for p in points:
            w.writerow([p.id, *(p.parameters.get(n, "") for n in names), *(getattr(p, c) for c in CSV_COLUMNS[1:])])
