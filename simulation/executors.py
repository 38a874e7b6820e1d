"""Where ``simulate``'s unit jobs run: in this process, in a pool of spawned worker processes (one ngspice
each), or on a Dask distributed cluster. Every executor yields results as they finish; order does not
matter downstream. Also the progress bar of a simulation.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ipnet_cosim.device.errors import ConfigError, SimulationError
from ipnet_cosim.simulation.jobs import UnitJob
from ipnet_cosim.simulation.worker import run_unit_job

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DASK_CONNECT_TIMEOUT = "20s"


class InProcessExecutor:
    """Runs the jobs one after the other in this process (the shared ngspice instance)."""

    def run(self, jobs: Iterable[UnitJob], layer: str, cache: Path) -> Iterator[dict[str, Any]]:
        return map(run_unit_job, jobs)

    def close(self) -> None:
        pass


class PoolExecutor:
    """``workers`` spawned processes (ngspice is one simulator per process)."""

    def __init__(self, workers: int) -> None:
        import multiprocessing
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def run(self, jobs: Iterable[UnitJob], layer: str, cache: Path) -> Iterator[dict[str, Any]]:
        try:
            yield from self.pool.map(run_unit_job, jobs)
        except BrokenProcessPool as exc:
            raise SimulationError(
                f"a worker process of the {layer} simulation died ({exc}); finished units are kept in {cache}. "
                f"Rerun to resume, with fewer --workers if memory ran out; a script that calls simulate_export "
                f"with workers > 1 needs an 'if __name__ == \"__main__\":' guard") from None

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def _probe_tcp(address: str, timeout_s: float = 3.0) -> None:
    """Open and close a TCP connection to a ``tcp://host:port`` scheduler address (OSError if nothing listens);
    other schemes are left to Dask."""
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
        return
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s):
        pass


class DaskExecutor:
    """The workers of a Dask distributed scheduler (same jobs, same cache on a shared file system)."""

    def __init__(self, address: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise ConfigError("--scheduler needs dask.distributed: pip install 'distributed'") from exc
        try:
            _probe_tcp(address)                 # a closed port or unknown host fails at once, not after the timeout
            self.client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise SimulationError(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                                  f"'dask scheduler' and workers with 'dask worker {address} --nthreads 1'") from exc

    def run(self, jobs: Iterable[UnitJob], layer: str, cache: Path) -> Iterator[dict[str, Any]]:
        from dask.distributed import as_completed
        futures = self.client.map(run_unit_job, list(jobs), pure=False)
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except Exception as exc:      # a worker died (KilledWorker) or the cluster went away
                    raise SimulationError(f"a Dask worker failed during the {layer} simulation "
                                          f"({type(exc).__name__}: {exc}); finished units are kept in {cache}. "
                                          f"Rerun to resume") from exc
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self.client.close()


def make_executor(workers: int, scheduler: str | None):
    """The executor for ``workers`` local processes, or the Dask cluster at ``scheduler``."""
    if scheduler:
        return DaskExecutor(scheduler)
    return PoolExecutor(workers) if workers > 1 else InProcessExecutor()


class ProgressBar:
    """A rich progress bar (``progress is True``) or nothing."""

    def __init__(self, progress: bool | Callable[[str], None], total: int) -> None:
        self.task: TaskID | None = None
        self.progress: Progress | None = None
        if progress is True:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), transient=False)
            self.progress.start()
            self.task = self.progress.add_task("simulating", total=total)

    def advance(self, n: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, n)

    def describe(self, text: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
