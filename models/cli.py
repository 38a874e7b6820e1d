"""The ``ipnet-cosim`` command line. Heavy modules (torch, ngspice, matplotlib) load inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SPICE-level co-design toolkit for IPNet (thermal MTJ neurons).")


def _card(path: Optional[Path]):
    from ipnet_cosim.device.card import DeviceCard, load_device_card
    return load_device_card(path) if path is not None else DeviceCard()


@app.command()
def characterize(out: Path = typer.Option(Path("results/characterize"), "--out", "-o",
                                          help="output folder for JSON and PNG plots"),
                 card: Optional[Path] = typer.Option(None, help="device card (.toml/.yaml/.json); default card if omitted"),
                 seed: int = typer.Option(1, help="seed of the random draws (ngspice and PyTorch)"),
                 trials: int = typer.Option(500, help="stochastic trials per point")) -> None:
    """Simulate one neuron in ngspice and PyTorch side by side; write plots and a JSON."""
    from rich.console import Console
    from ipnet_cosim.models.characterize import run_characterization
    console = Console(stderr=True)
    device = _card(card)
    with console.status("characterizing") as status:
        result = run_characterization(out, device, seed=seed, trials=trials,
                                      progress=lambda msg: (status.update(msg), console.log(msg)))
    console.print(f"[bold]wrote[/bold] {out.resolve()}")
    summary = result.get("summary")
    if summary:
        for key, value in summary.items():
            console.print(f"  {key}: {value}")


@app.command("compile")
def compile_model(va: Optional[Path] = typer.Option(None, help="Verilog-A file; default: the thermal MTJ neuron"),
                  force: bool = typer.Option(False, help="rebuild even if cached")) -> None:
    """Compile the Verilog-A model to OSDI with openvaf-r (cached by content hash); print the path."""
    from ipnet_cosim.device.compiler import compile_va
    typer.echo(str(compile_va(va, force=force)))


@app.command("card")
def show_card(write: Optional[Path] = typer.Option(None, help="write the default card to this TOML file"),
              check: Optional[Path] = typer.Option(None, help="validate a card file and print it")) -> None:
    """Print the device card (units and sources in comments), write it, or validate a file."""
    from ipnet_cosim.device.card import DeviceCard, format_device_card_toml, load_device_card
    card = load_device_card(check) if check is not None else DeviceCard()
    text = format_device_card_toml(card)
    if write is not None:
        if write.exists():
            raise typer.BadParameter(f"{write} exists; choose another name or delete it first")
        write.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {write}")
    else:
        typer.echo(text)


@app.command()
def doctor() -> None:
    """Check that ngspice (with OSDI), openvaf-r and torch are usable."""
    from ipnet_cosim.circuits.runner import libngspice_path, ngspice_version
    from ipnet_cosim.device.compiler import compile_va, openvaf_path, openvaf_version
    typer.echo(f"libngspice: {libngspice_path()} (ngspice {ngspice_version()})")
    typer.echo(f"openvaf-r: {openvaf_path()} ({openvaf_version()})")
    typer.echo(f"neuron model: {compile_va()}")
    import torch
    typer.echo(f"torch: {torch.__version__}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: project errors become one line on stderr and exit code 2."""
    from ipnet_cosim.device.errors import IPNetCosimError
    try:
        app(args=argv, standalone_mode=False)
    except IPNetCosimError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:  # click usage errors
        import click
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
