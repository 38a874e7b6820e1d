"""Probe the simulator once, in a child process, before any job is dispatched.

A damaged shared library or OSDI file can kill the process that loads it with a signal (SIGBUS,
SIGSEGV) before Python can say anything. The probe loads libngspice, loads the OSDI library and runs
a one-resistor operating point in a child; the parent reads how far the child got and turns a
failure into one line naming the file and the fix.

Run as ``python -m ipnet_cosim.circuits.probe ngspice [OSDI]`` (what the parent does).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from ipnet_cosim.device.errors import OsdiLoadError, SimulatorNotFoundError

PROBE_TIMEOUT_S = 120.0
_STAGES = ("library", "osdi", "run")


def _child(osdi: str | None) -> int:
    from ipnet_cosim.circuits.runner import libngspice_path, load_osdi, ngspice_version, run_netlist
    from ipnet_cosim.device.errors import IPNetCosimError
    try:
        print(f"at library {libngspice_path()}", flush=True)
        print(f"ok library ngspice {ngspice_version()}", flush=True)
        if osdi:
            print(f"at osdi {osdi}", flush=True)
            load_osdi(osdi)
            print("ok osdi", flush=True)
        print("at run", flush=True)
        waves = run_netlist("probe\nV1 1 0 1\nR1 1 0 1k\n.op\n.end\n")
        v1 = float(waves["v(1)"][0])
        if abs(v1 - 1.0) > 1e-9:
            raise SimulatorNotFoundError(f"a 1 V source across 1 kOhm gave v(1) = {v1} V")
        print("ok run", flush=True)
    except IPNetCosimError as exc:
        print(f"error {type(exc).__name__}: {exc}".splitlines()[0], flush=True)
        return 3
    return 0


def _reason(rc: int, lines: list[str]) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"the process loading it died with {name}: the file is truncated, damaged or not built for this machine"
    return f"the probe exited with code {rc}"


@lru_cache(maxsize=8)
def _probe_cached(osdi: str | None, lib_env: str | None, stamp: tuple) -> str:
    cmd = [sys.executable, "-m", "ipnet_cosim.circuits.probe", "ngspice"] + ([osdi] if osdi else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SimulatorNotFoundError(f"ngspice did not answer a one-resistor probe within {PROBE_TIMEOUT_S:g} s; "
                                     f"check the ngspice installation ('ipnet-cosim doctor')") from None
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    reached = [ln.split(" ", 2) for ln in lines if ln.startswith(("at ", "ok "))]
    if proc.returncode == 0 and lines and lines[-1] == "ok run":
        return next((ln[len("ok library "):] for ln in lines if ln.startswith("ok library ")), "ngspice")
    stage = reached[-1][1] if reached else "library"
    done = reached[-1][0] == "ok" if reached else False
    errors = [ln[6:] for ln in lines if ln.startswith("error ")]
    if errors:                  # the child named the problem and its fix: pass it on as it is
        kind, _, message = errors[-1].partition(": ")
        raise {"OsdiLoadError": OsdiLoadError}.get(kind, SimulatorNotFoundError)(message)
    reason = _reason(proc.returncode, lines)
    from ipnet_cosim.circuits.runner import INSTALL_HINT
    if stage == "library" and not done:
        where = next((ln[len("at library "):] for ln in lines if ln.startswith("at library ")), None)
        raise SimulatorNotFoundError(f"the ngspice shared library {where or ''} cannot be used ({reason}); "
                                     f"{INSTALL_HINT}".replace("library  cannot", "library cannot"))
    if stage == "osdi":
        raise OsdiLoadError(f"ngspice cannot load the OSDI library {osdi} ({reason}); rebuild it with "
                            f"'ipnet-cosim compile --force' or export again")
    raise SimulatorNotFoundError(f"ngspice loads but cannot run a one-resistor circuit ({reason}); {INSTALL_HINT}")


def probe_ngspice(osdi: str | Path | None = None) -> str:
    """Check in a child process that ngspice (and ``osdi``) load and run; returns "ngspice <version>".

    Raises:
        SimulatorNotFoundError: the library is missing, damaged or cannot run a circuit.
        OsdiLoadError: ngspice cannot load ``osdi``.
    """
    import os
    from ipnet_cosim.circuits.runner import libngspice_path
    lib = libngspice_path()              # missing: named at once, without a child
    paths = [Path(lib)] + ([Path(osdi)] if osdi else [])
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (str(p),) for p in paths)
    return _probe_cached(str(Path(osdi).resolve()) if osdi else None, os.environ.get("NGSPICE_LIBRARY_PATH"), stamp)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "ngspice":
        print("usage: python -m ipnet_cosim.circuits.probe ngspice [OSDI]", file=sys.stderr)
        sys.exit(2)
    sys.exit(_child(sys.argv[2] if len(sys.argv) > 2 else None))
