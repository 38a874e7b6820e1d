"""The hardware a checkpoint was fine-tuned for: its ``hardware`` entry (written by
:func:`~ipnet_cosim.chip.finetune.finetune_hardware`), read here so that ``export`` can compare it with the
mapping it is asked for and warn when they differ."""

from __future__ import annotations

from typing import Any

from ipnet_cosim.device.synapse import ideal_synapse
from ipnet_cosim.netlist_gen.mapping import MappingOptions

HARDWARE_KEY = "hardware"
# the mapping options that define the hardware (the others choose how it is simulated, not what it is)
HARDWARE_FIELDS = ("tile_rows", "tile_cols", "conductance", "r_wire_ohm", "r_driver_ohm", "synapse")


def hardware_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The hardware a checkpoint was fine-tuned for (its ``hardware`` entry), or None."""
    hw = raw.get(HARDWARE_KEY)
    return dict(hw) if isinstance(hw, dict) else None


def hardware_mismatch(raw: dict[str, Any], options: MappingOptions) -> str | None:
    """A one-line warning when ``options`` differ from the mapping the checkpoint was fine-tuned for."""
    hw = hardware_of(raw)
    if hw is None:
        return None
    trained = dict(hw.get("mapping_options", {}))
    if "synapse" not in trained:                 # fine-tuned before synapse cards: the ideal card's values
        trained["synapse"] = ideal_synapse().to_dict()
    now = options.to_dict()
    keys = [k for k in HARDWARE_FIELDS if trained.get(k) != now.get(k)]
    if not keys:
        return None
    return (f"warning: this checkpoint was fine-tuned for other hardware (differs in {', '.join(keys)}); the circuit "
            f"may not reach the accuracy it was trained for. Export with the same options, or fine-tune again")
