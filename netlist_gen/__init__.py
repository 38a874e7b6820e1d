"""From a trained checkpoint to circuits: layer mapping to crossbars (conductances, tiles, wires), the port model
of a tile, and the export folder with its typed contract (``contract``). Importing it loads neither torch nor a
simulator."""
