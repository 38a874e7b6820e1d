"""Why the non-ideal circuit loses accuracy: column-current error of each layer's crossbar, computed.

For the default IPNet (or ``--checkpoint``), position 0 of every layer, random input patterns with
``--active`` of the rows driven (plus the bias row): the differential column currents
``x (G+ - G-)`` with the ideal map, with 4-bit levels + 5 % lognormal variation, and with that plus
1 ohm wire segments (exact: the tiles' port reduction, :mod:`ipnet_cosim.netlist_gen.reduction`).
Prints/writes, per layer, the mean over patterns of ``max_c |dI_c| / max_c |I_c|`` (computed, no
simulator; the circuit computes exactly these currents, columns being held at 0 V).

    python benchmarks/ir_drop.py [--checkpoint DIR] [--g-max 1e-3] [--out benchmarks/results/ir_drop.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the bundled default IPNet")
    parser.add_argument("--g-max", type=float, default=1e-3, help="largest device conductance, S")
    parser.add_argument("--r-wire", type=float, default=1.0, help="ohm per wire segment")
    parser.add_argument("--active", type=float, default=0.15, help="fraction of rows driven")
    parser.add_argument("--patterns", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ir_drop.json"))
    args = parser.parse_args()

    from ipnet_cosim.models.checkpoint import load_checkpoint, resolve_checkpoint_path
    from ipnet_cosim.netlist_gen.conductance import ConductanceOptions
    from ipnet_cosim.netlist_gen.mapping import LAYER_MAPPINGS, MappingOptions, blocks, conductances, network_layers
    from ipnet_cosim.netlist_gen.reduction import reduce_tile

    ck_dir = args.checkpoint or Path(__file__).resolve().parents[1] / "models" / "pretrained" / "ipnet_default"
    ck = load_checkpoint(resolve_checkpoint_path(ck_dir))
    model = ck.model.eval()
    v, scale = model.card.timing.v_read_v, ck.network_config.current_scale_a
    ideal = MappingOptions(conductance=ConductanceOptions(g_max_s=args.g_max))
    nonideal = MappingOptions(conductance=ConductanceOptions(g_max_s=args.g_max, levels=16, variation_sigma=0.05,
                                                             variation_kind="lognormal", seed=0),
                              r_wire_ohm=args.r_wire)
    rng = np.random.default_rng(0)
    result = {"checkpoint": str(ck_dir), "g_max_s": args.g_max, "r_wire_ohm": args.r_wire, "active": args.active,
              "provenance": "computed (conductance maps and exact tile reduction; no simulator)", "layers": []}
    for view in network_layers(model):
        lm = LAYER_MAPPINGS[view.type](view)
        gi = conductances(lm, view.index, 0, v_read_v=v, current_scale_a=scale, options=ideal, name=view.name)
        g = conductances(lm, view.index, 0, v_read_v=v, current_scale_a=scale, options=nonideal, name=view.name)
        rows = lm.matrix.shape[0]
        reduced = [(r0, r1, reduce_tile(g.g_plus_s[r0:r1], g.g_minus_s[r0:r1], args.r_wire))
                   for r0, r1 in blocks(rows, nonideal.tile_rows)]
        err_q, err_w = [], []
        for _ in range(args.patterns):
            x = (rng.random(rows) < args.active).astype(float)
            x[-1] = 1.0                                   # the bias row is pulsed every step
            d_ideal = x @ (gi.g_plus_s - gi.g_minus_s)
            d_q = x @ (g.g_plus_s - g.g_minus_s)
            d_w = sum(x[r0:r1] @ (red.row_col[:, 0::2] - red.row_col[:, 1::2]) for r0, r1, red in reduced)
            peak = np.abs(d_ideal).max()
            err_q.append(float(np.abs(d_q - d_ideal).max() / peak))
            err_w.append(float(np.abs(d_w - d_ideal).max() / peak))
        entry = {"layer": view.name, "rows": rows, "row_tiles": len(reduced),
                 "column_error_levels_variation": float(np.mean(err_q)),
                 "column_error_levels_variation_wires": float(np.mean(err_w))}
        result["layers"].append(entry)
        print(json.dumps(entry), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
