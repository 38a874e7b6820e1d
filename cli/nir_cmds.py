"""``import-nir`` and ``to-nir``: spiking networks in and out through NIR (:mod:`ipnet_cosim.models.nir_import`,
:mod:`ipnet_cosim.models.nir_export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ipnet_cosim.cli.app import app


@app.command("import-nir")
def import_nir_cmd(model: Path = typer.Argument(..., help="a NIR graph (.nir, HDF5) from snnTorch, Norse, Sinabs, "
                                                         "SpikingJelly, Rockpool, nir itself or to-nir"),
                   out: Path = typer.Option(..., "--out", "-o", help="folder of the new checkpoint"),
                   data: Optional[str] = typer.Option(None, help="data set whose test frames feed the network "
                                                  "(binned to the graph's input size); default: synthetic-22 where "
                                                  "its 2-polarity frames fit the graph's input, else none (then "
                                                  "export takes --stimulus)"),
                   data_root: Optional[Path] = typer.Option(None, help="dvs128-*: the DVS128 Gesture folder"),
                   stimulus: Optional[Path] = typer.Option(None, help="your own input spikes instead of a data set: "
                                                           "a .npz (spikes [samples, steps, *input shape], labels) "
                                                           "or NIR spike data (nir.write_data); any input shape"),
                   steps: int = typer.Option(16, help="time steps per sample"),
                   dt: float = typer.Option(1e-4, help="the NIR time step, s (NIR does not store it; snnTorch "
                                                       "and SpikingJelly assume 1e-4, Sinabs a unit step: 1; "
                                                       "docs/nir.md)"),
                   card: Optional[Path] = typer.Option(None, help="device card file (default: the default card)"),
                   match_leak: bool = typer.Option(True, help="set the card's C_th so that the heat kept over a "
                                                              "step equals the LIF layers' leak"),
                   samples: int = typer.Option(20, help="test samples for the agreement with the graph's own "
                                                        "reference (0: none)")) -> None:
    """Map a NIR graph onto MTJ crossbars and neurons; write a checkpoint (for export, simulate, report, sweep) and
    nir_import.json: the rule applied to every node (exact or approximate) and the agreement with the graph's
    reference, per layer."""
    from rich.console import Console
    from ipnet_cosim.device.card_files import load_device_card
    from ipnet_cosim.models.nir_import import import_to_checkpoint
    console = Console(stderr=True)
    rec = import_to_checkpoint(model, out, data=data, n_bins=steps, dt_s=dt,
                               card=load_device_card(card) if card else None, match_leak=match_leak, samples=samples,
                               data_root=str(data_root) if data_root else None, stimulus=stimulus)
    console.print(f"[bold]wrote[/bold] {out.resolve()} (checkpoint, nir_import.json): "
                  f"{len(rec['layers'])} MTJ layer(s), {'exact' if rec['exact'] else 'approximate'} realisation")
    for layer in rec["layers"]:
        console.print(f"  layer {layer['layer']}: {' -> '.join(layer['nodes'])} as {layer['op']['kind']} "
                      f"({layer['unit']}); {layer['rule']}")
    console.print(f"  readout: {' -> '.join(rec['readout']['nodes']) or 'identity'}; {rec['readout']['rule']}")
    if rec.get("device_card_change"):
        console.print(f"  card: {rec['device_card_change']}")
    ag = rec.get("agreement")
    if ag:
        for layer in ag["layers"]:
            console.print(f"  agreement layer {layer['layer']} ({layer['node']}): equal neuron-steps "
                          f"{layer['equal_neuron_steps']:.4f} end to end, "
                          f"{layer['equal_neuron_steps_given_reference_input']:.4f} given the reference's input; "
                          f"fire rate {layer['fire_rate_mtj']:.3f} (MTJ) vs {layer['fire_rate_reference']:.3f}")
        acc = (f"; accuracy {ag['accuracy_mtj']:.3f} (MTJ) vs {ag['accuracy_reference']:.3f} (reference)"
               if "accuracy_mtj" in ag else "")
        console.print(f"  classes agree on {ag['classes_agree']}/{ag['samples']} test samples{acc} (computed)")


@app.command("to-nir")
def to_nir_cmd(checkpoint: Path = typer.Argument(..., help="an IPNet checkpoint folder or file"),
               out: Path = typer.Option(..., "--out", "-o", help="the .nir file to write (never overwritten)"),
               dt: float = typer.Option(1e-4, help="the NIR time step the LIF time constants are expressed in, s")
               ) -> None:
    """Write an IPNet as a NIR graph: weights as Conv2d/Affine, MTJ neurons as LIF (memoryless: tau = dt, exact;
    heat memory: a leaky trace with the junction's per-step heat decay), the exact card in the metadata."""
    from rich.console import Console
    from ipnet_cosim.models.nir_export import write_nir
    path = write_nir(checkpoint, out, dt_s=dt)
    Console(stderr=True).print(f"[bold]wrote[/bold] {path.resolve()}")
