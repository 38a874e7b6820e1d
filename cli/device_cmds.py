"""Device commands: ``characterize`` one neuron, ``compile`` the Verilog-A, show or check the ``card``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ipnet_cosim.cli.app import app, card_option


@app.command()
def characterize(out: Path = typer.Option(Path("results/characterize"), "--out", "-o",
                                          help="output folder for JSON and PNG plots"),
                 card: Optional[Path] = typer.Option(None, help="device card (.toml/.yaml/.json); default card if "
                                                                "omitted"),
                 seed: int = typer.Option(1, help="seed of the random draws (ngspice and PyTorch)"),
                 trials: int = typer.Option(500, help="stochastic trials per point"),
                 workers: int = typer.Option(0, help="ngspice processes for the stochastic parts (0: one per CPU, "
                                             "at most 4)")) -> None:
    """Simulate one neuron in ngspice and PyTorch side by side; write plots and a JSON."""
    from rich.console import Console
    from ipnet_cosim.models.characterize import run_characterization
    console = Console(stderr=True)
    device = card_option(card)
    with console.status("characterizing") as status:
        def progress(msg: str) -> None:
            status.update(msg)
            console.log(msg)
        result = run_characterization(out, device, seed=seed, trials=trials, workers=workers, progress=progress)
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


def _write_or_print(text: str, write: Optional[Path]) -> None:
    """Write ``text`` to a new file ``write`` (never over an existing one), or print it."""
    if write is None:
        typer.echo(text)
        return
    if write.exists():
        raise typer.BadParameter(f"{write} exists; choose another name or delete it first")
    write.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {write}")


@app.command("card")
def show_card(write: Optional[Path] = typer.Option(None, help="write the default card to this TOML file"),
              check: Optional[Path] = typer.Option(None, help="validate a card file and print it")) -> None:
    """Print the device card (units and sources in comments), write it, or validate a file."""
    from ipnet_cosim.device.card import DeviceCard
    from ipnet_cosim.device.card_files import format_device_card_toml, load_device_card
    card = load_device_card(check) if check is not None else DeviceCard()
    text = format_device_card_toml(card)
    _write_or_print(text, write)


@app.command("synapse")
def show_synapse(name: Optional[str] = typer.Argument(None, help="a preset name or a card file: print it in full "
                                                     "(values, units, sources)"),
                 write: Optional[Path] = typer.Option(None, help="write the card (preset or file) to this TOML file "
                                                      "as a starting point for your own device")) -> None:
    """List the synapse technology cards (which device holds the weights), print one with its sources, or write
    one to edit."""
    from ipnet_cosim.device.synapse import DEFAULT_SYNAPSE, format_synapse_card_toml, synapse_card, synapse_presets
    if name is None and write is None:
        from rich.console import Console
        from rich.table import Table
        table = Table(title="synapse cards (ipnet-cosim synapse NAME prints one with its sources)")
        table.add_column("name", no_wrap=True)
        for col in ("technology", "G range, uS", "on/off", "levels", "variation", "cell, um^2", "verified values"):
            table.add_column(col)
        for card in synapse_presets().values():
            var = " + ".join(x for x in (f"{card.d2d_sigma_rel:.3g} rel" if card.d2d_sigma_rel else "",
                                         f"{card.d2d_sigma_s * 1e6:.3g} uS" if card.d2d_sigma_s else "") if x) or "none"
            label = card.name + (" (default chip)" if card.name == DEFAULT_SYNAPSE else "")
            table.add_row(label, card.technology_label, f"{card.g_off_s * 1e6:.4g}-{card.g_on_s * 1e6:.4g}",
                          f"{card.on_off_ratio:.3g}", "analog" if card.levels is None else str(card.levels), var,
                          f"{card.cell_area_m2 * 1e12:.4g}", f"{len(card.verified)} of {len(card.sources)}")
        Console().print(table)
        return
    card = synapse_card(name)
    text = format_synapse_card_toml(card)
    _write_or_print(text, write)
