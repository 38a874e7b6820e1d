"""Run netlists in ngspice through PySpice's shared-library interface.

ngspice is one simulator per process: this module keeps one shared instance
per process, loads each OSDI library once, and after every run destroys the
plots and removes the circuit (``destroy all`` + ``remcirc``) so memory does
not grow over thousands of runs. Parallel simulations need worker processes.

PySpice 1.5 logs every stderr line of ngspice 46 as an error and warns
"Unsupported Ngspice version"; both are harmless. This module silences
PySpice's logger, captures ngspice's output itself and classifies it into the
project's errors (netlist error, OSDI load error, non-convergence).
"""

from __future__ import annotations

import ctypes.util
import dataclasses
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ipnet_cosim.device.errors import (ConvergenceError, NetlistError, OsdiLoadError, SimulationError,
                                       SimulatorNotFoundError)

INSTALL_HINT = ("install ngspice 46 with OSDI and its shared library: on Debian bookworm enable "
                "bookworm-backports and run 'apt-get install -t bookworm-backports ngspice libngspice0 "
                "libngspice0-dev' (or run the README's set-up command); elsewhere build ngspice >= 39 with "
                "--with-ngshared --enable-osdi and set NGSPICE_LIBRARY_PATH to libngspice.so")

# Lines that mean the analysis did not converge.
_CONVERGENCE_PATTERNS = [re.compile(p, re.I) for p in (
    r"timestep too small", r"singular matrix", r"gmin stepping failed", r"source stepping failed",
    r"iteration limit reached", r"no convergence", r"simulation\(s\) aborted", r"transient solution failed")]
# Lines that mean ngspice rejected the netlist.
_NETLIST_PATTERNS = [re.compile(p, re.I) for p in (
    r"^error", r"unknown subckt", r"can't find model", r"unknown model", r"could not find",
    r"syntax error", r"unknown parameter", r"no such", r"is not a valid", r"too few nodes",
    r"undefined", r"there aren't any circuits loaded", r"fatal", r"circuit not parsed")]
# Output that is noise, not an error.
_HARMLESS = [re.compile(p, re.I) for p in (
    r"^note: can't find init file", r"^warning:", r"^using spinit", r"unsupported ngspice version")]


@dataclass(frozen=True)
class Waveforms:
    """Vectors of one analysis, as float64 numpy arrays, with their units.

    Attributes:
        analysis: ngspice plot type, e.g. ``"tran"`` or ``"op"``.
        vectors: name (lower case, as ngspice names it) -> values.
        units: name -> unit string ("s", "V", "A" or "").
        log: ngspice's output for the run (for diagnostics).
        stats: the simulator's own counts and times when asked for (``run_netlist(..., stats=True)``):
            ``accepted_timepoints``, ``rejected_timepoints``, ``iterations``, ``analysis_time_s``,
            ``load_time_s`` (device evaluation), ``factor_time_s``, ``solve_time_s``, ``equations``.
    """

    analysis: str
    vectors: Mapping[str, np.ndarray]
    units: Mapping[str, str]
    log: tuple[str, ...] = field(default=(), repr=False)
    stats: Mapping[str, float] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> np.ndarray:
        key = name.lower()
        if key not in self.vectors:
            raise KeyError(f"no vector '{name}' in the {self.analysis} results; "
                           f"have: {', '.join(sorted(self.vectors))}")
        return self.vectors[key]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.vectors

    @property
    def time_s(self) -> np.ndarray:
        """The time axis of a transient analysis in seconds."""
        return self["time"]

    def at(self, name: str, t_s: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """A vector linearly interpolated at the given times (seconds)."""
        return np.interp(np.asarray(t_s, dtype=float), self.time_s, self[name])


def libngspice_path() -> str:
    """Locate libngspice: ``$NGSPICE_LIBRARY_PATH`` or the system linker path.

    Raises:
        SimulatorNotFoundError: the library is not installed.
    """
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        if not Path(env).is_file():
            raise SimulatorNotFoundError(f"NGSPICE_LIBRARY_PATH={env} does not exist; {INSTALL_HINT}")
        return env
    found = ctypes.util.find_library("ngspice")
    if not found:
        raise SimulatorNotFoundError(f"the ngspice shared library (libngspice) is not installed; {INSTALL_HINT}")
    return found


def available() -> bool:
    """True when the ngspice shared library can be found (does not start it)."""
    try:
        libngspice_path()
    except SimulatorNotFoundError:
        return False
    return True


class _Session:
    """The process's ngspice shared instance, its loaded OSDI libraries and its output capture."""

    def __init__(self) -> None:
        os.environ.setdefault("LC_NUMERIC", "C")
        lib = libngspice_path()
        logging.getLogger("PySpice").setLevel(logging.CRITICAL + 1)
        try:
            from PySpice.Spice.NgSpice.Shared import NgSpiceShared
        except ImportError as exc:
            raise SimulatorNotFoundError(f"PySpice is not installed ({exc}); 'pip install PySpice==1.5'") from exc
        session = self

        class _CapturingNgSpice(NgSpiceShared):
            LIBRARY_PATH = lib

            def send_char(self, message: str, ngspice_id: int) -> int:
                prefix, _, content = message.partition(" ")
                session.lines.append(content if prefix in ("stdout", "stderr") else message)
                return 0

        self.lines: list[str] = []
        try:
            self.ng = _CapturingNgSpice(ngspice_id=0, send_data=False)
        except OSError as exc:
            reason = str(exc).split(".  Additionally")[0]        # ctypes appends a find_library remark
            raise SimulatorNotFoundError(f"cannot load the ngspice library {lib} ({reason}); {INSTALL_HINT}") from exc
        version = getattr(self.ng, "ngspice_version", None)
        if version is not None and version < 39:
            raise SimulatorNotFoundError(f"ngspice {version} has no OSDI support (needs >= 39); {INSTALL_HINT}")
        self.osdi_loaded: set[str] = set()
        self.lock = threading.Lock()
        # ngspice evaluates OSDI devices in OpenMP threads; on small circuits the threads
        # synchronise at every time point and a run is ~20x slower than with one thread
        # (measured: 100-step neuron bench 4.5 s -> 0.22 s). Parallelism comes from processes.
        threads = os.environ.get("IPNET_COSIM_NGSPICE_THREADS", "1")
        if not threads.isdigit() or int(threads) < 1:
            raise SimulationError(f"IPNET_COSIM_NGSPICE_THREADS={threads!r} must be a positive integer")
        self.command(f"set num_threads={int(threads)}")
        # ngspice 46 re-reads /proc/meminfo at every output time point to check that the vectors fit in memory
        # (OUTpD_memory in frontend/outitf.c, unless 'no_mem_check' is set): one open/read/close per point, most
        # of a neuron bench's system time (strace of a 500-trial bench: 30,622 opens for 30,622 points). Vectors
        # are saved sparingly here (.save), so the check is skipped.
        self.command("set no_mem_check")

    def command(self, cmd: str) -> list[str]:
        """Run an ngspice command; return the lines it printed (errors are classified by the caller)."""
        from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError
        start = len(self.lines)
        try:
            self.ng.exec_command(cmd)
        except NgSpiceCommandError:
            pass  # PySpice flags any stderr output; the caller classifies the captured lines
        return self.lines[start:]


_SESSION: _Session | None = None
_SESSION_LOCK = threading.Lock()


def _session() -> _Session:
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = _Session()
        return _SESSION


def ngspice_version() -> int | None:
    """The version of the loaded ngspice shared library (starts the simulator)."""
    return _session().ng.ngspice_version


def _significant(lines: Iterable[str]) -> list[str]:
    return [ln.strip() for ln in lines if ln.strip() and not any(p.search(ln.strip()) for p in _HARMLESS)]


def _first_match(lines: Sequence[str], patterns: Sequence[re.Pattern]) -> list[str]:
    return [ln for ln in lines if any(p.search(ln) for p in patterns)]


def load_osdi(path: str | Path) -> None:
    """Load a compiled OSDI library into this process's ngspice (once per path).

    Raises:
        OsdiLoadError: the file is missing, empty, or ngspice cannot load it.
    """
    session = _session()
    p = Path(path).resolve()
    key = str(p)
    if key in session.osdi_loaded:
        return
    if not p.is_file():
        raise OsdiLoadError(f"OSDI library {p} does not exist; compile the model with "
                            f"ipnet_cosim.device.compiler.compile_va() or 'ipnet-cosim compile'")
    if p.stat().st_size == 0:
        raise OsdiLoadError(f"OSDI library {p} is empty; delete it and recompile (compile_va(force=True))")
    if any(c.isspace() for c in key):
        raise OsdiLoadError(f"OSDI path {p} contains white space, which ngspice's 'osdi' command cannot "
                            f"take; set IPNET_COSIM_CACHE to a path without spaces")
    with session.lock:
        out = _significant(session.command(f"osdi {key}"))
    bad = [ln for ln in out if re.search(r"error|could not|cannot|failed|invalid|undefined symbol", ln, re.I)]
    if bad:
        raise OsdiLoadError(f"ngspice could not load the OSDI library {p}: {' | '.join(bad)}; the file may be "
                            f"corrupt or built for another OSDI version: delete it and recompile with "
                            f"compile_va(force=True)")
    session.osdi_loaded.add(key)


def run_netlist(netlist: str, osdi: Sequence[str | Path] = (), seed: int | None = None,
                stats: bool = False) -> Waveforms:
    """Simulate a netlist in ngspice and return the vectors of its last analysis.

    Args:
        netlist: complete SPICE netlist text (title line first, analysis card, ``.end``).
        osdi: compiled Verilog-A libraries the netlist's ``N`` instances need.
        seed: seed for ngspice's random sources (``trrandom``/``trnoise``); set with
            ``setseed`` before the run so the same seed gives the same draws.
        stats: also read ngspice's statistics of the run (``rusage all``) into ``Waveforms.stats``.

    Returns:
        The waveforms, float64 arrays named as ngspice names them (lower case).

    Raises:
        SimulatorNotFoundError, OsdiLoadError, NetlistError, ConvergenceError, SimulationError.
    """
    session = _session()
    for lib in osdi:
        load_osdi(lib)
    with session.lock:
        start = len(session.lines)
        try:
            waves = _run_locked(session, netlist, seed)
            if stats:
                waves = dataclasses.replace(waves, stats=_run_statistics(session.command("rusage all")))
            return waves
        finally:
            session.command("destroy all")
            session.command("remcirc")
            del session.lines[start:]  # keep the capture buffer from growing


def _run_locked(session: _Session, netlist: str, seed: int | None) -> Waveforms:
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError
    plots_before = set(session.ng.plot_names)
    start = len(session.lines)
    if seed is not None:
        session.command(f"setseed {int(seed)}")
    try:
        session.ng.load_circuit(netlist)
    except NgSpiceCircuitError:
        pass
    load_lines = _significant(session.lines[start:])
    errors = _first_match(load_lines, _NETLIST_PATTERNS)
    if errors:
        raise NetlistError("ngspice rejected the netlist: " + " | ".join(errors[:6]) +
                           "; fix the named element or model (is the OSDI model loaded and its name right?)")
    run_start = len(session.lines)
    session.command("run")
    run_lines = _significant(session.lines[run_start:])
    conv = _first_match(run_lines, _CONVERGENCE_PATTERNS)
    if conv:
        raise ConvergenceError("ngspice did not converge: " + " | ".join(conv[:6]) +
                               "; check the circuit for a node without a DC path or an impossible "
                               "operating point, lengthen very steep source edges, or relax .options reltol/abstol")
    errors = _first_match(run_lines, _NETLIST_PATTERNS)
    new_plots = [p for p in session.ng.plot_names if p not in plots_before and p != "const"]
    if errors or not new_plots:
        detail = " | ".join((errors or run_lines)[-6:]) or "no analysis card in the netlist?"
        raise SimulationError(f"ngspice produced no results: {detail}")
    plot_name = session.ng.last_plot
    plot = session.ng.plot(None, plot_name)
    vectors: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for name, vec in plot.items():
        data = np.array(vec._data, copy=True)
        if np.iscomplexobj(data):
            data = data.real if not np.any(data.imag) else data
        vectors[name.lower()] = data
        units[name.lower()] = _unit(name.lower(), vec)
    analysis = re.sub(r"\d+$", "", plot_name)
    return Waveforms(analysis=analysis, vectors=vectors, units=units,
                     log=tuple(session.lines[start:]))


# ngspice's 'rusage all' lines -> Waveforms.stats keys (the transient analysis' figures)
_STAT_LINES = {"Accepted timepoints": "accepted_timepoints", "Rejected timepoints": "rejected_timepoints",
               "Transient iterations": "iterations", "Transient analysis time": "analysis_time_s",
               "Transient load time": "load_time_s", "Transient factor time": "factor_time_s",
               "Transient solve time": "solve_time_s", "Circuit Equations": "equations"}


def _run_statistics(lines: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for ln in lines:
        name, sep, value = ln.partition("=")
        key = _STAT_LINES.get(name.strip())
        if sep and key is not None:
            try:
                out[key] = float(value.split()[0])
            except (ValueError, IndexError):
                pass
    return out


def _unit(name: str, vec: object) -> str:
    if name == "time":
        return "s"
    if (getattr(vec, "is_branch_current", False) or name.startswith("@") or name.endswith("#branch")
            or "#flow(" in name):
        return "A"
    if getattr(vec, "is_voltage_node", False):
        return "V"
    return ""
