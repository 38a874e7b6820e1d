"""Device commands: ``characterize`` one neuron, ``compile`` the Verilog-A, show or check the ``card``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ipnet_cosim.cli.app import app, card_option


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
    device = card_option(card)
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
