"""The ``ipnet-cosim`` command line. Heavy modules (torch, ngspice, matplotlib) load inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SPICE-level co-design toolkit for IPNet (thermal MTJ neurons).")
DEBUG_ENV = "IPNET_COSIM_DEBUG"     # set to 1: unexpected errors show their traceback


def card_option(path: Optional[Path]):
    """The device card of a ``--card`` option (the default card when None)."""
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.device.card_files import load_device_card
    return load_device_card(path) if path is not None else DeviceCard()


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors become one line on stderr and exit code 2 (project errors name the cause and the
    fix; anything else is named by its type, with ``IPNET_COSIM_DEBUG=1`` to see the traceback)."""
    import os
    from ipnet_cosim.device.errors import IPNetCosimError
    try:
        app(args=argv, standalone_mode=False)
    except IPNetCosimError as exc:
        typer.echo(f"error: {_one_line(exc)}", err=True)
        return 2
    except OSError as exc:          # a file that cannot be read or written, a full disk, a permission
        if os.environ.get(DEBUG_ENV):
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        typer.echo(f"error: {exc.strerror or type(exc).__name__}{where}: check the path and its permissions "
                   f"(set {DEBUG_ENV}=1 for the traceback)", err=True)
        return 2
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:  # click usage errors (typer >= 0.2x vendors click: match by behaviour)
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        if os.environ.get(DEBUG_ENV):
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {_one_line(exc)[:300]}; the input is probably damaged "
                   f"or of an unsupported kind (set {DEBUG_ENV}=1 for the traceback and report it if the input is "
                   f"intact)", err=True)
        return 2
    return 0


# the commands register themselves on ``app`` in pipeline order (they import nothing heavy at module level)
from ipnet_cosim.cli import device_cmds, model_cmds, nir_cmds, circuit_cmds, chip_cmds, sweep_cmds  # noqa: E402,F401,I001


@app.command()
def doctor() -> None:
    """Check that ngspice (with OSDI), openvaf-r and torch are usable (the simulator is probed in a child
    process, so a damaged library is named instead of crashing this one)."""
    from ipnet_cosim.circuits.probe import probe_ngspice
    from ipnet_cosim.circuits.runner import libngspice_path
    from ipnet_cosim.device.compiler import compile_va, openvaf_path, openvaf_version
    typer.echo(f"openvaf-r: {openvaf_path()} ({openvaf_version()})")
    osdi = compile_va()
    typer.echo(f"neuron model: {osdi}")
    typer.echo(f"libngspice: {libngspice_path()} ({probe_ngspice(osdi)}, OSDI model loads, a test circuit runs)")
    import torch
    typer.echo(f"torch: {torch.__version__}")

if __name__ == "__main__":
    sys.exit(main())
