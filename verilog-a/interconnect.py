"""Crossbar interconnect and periphery transistors at 28 nm: the cited figures and the two rules built on them.

Wire resistance per cell segment (what ``MappingOptions.r_wire_ohm`` means)::

    w     = p_M / 2                           minimum-pitch wire: half the minimum metal pitch
    R_seg = rho L / (w (AR w))               L = the cell's side, sqrt(A_cell) (a square-ish cell: 216 x 225 nm)

Transistor width for a current (the periphery sizing rule of :mod:`ipnet_cosim.energy.area`)::

    W(I)  = max(W_min, I / J_on)             J_on: saturated on-current per width at v_dd
    m(I)  = W(I) / W_min                     the width multiple a device of the area model is priced with

The figures (each with its source in :data:`SOURCES`):

* ``p_M`` = 90 nm: 28 nm minimum metal pitch (WikiChip's 28 nm table; the same figure as
  ``energy/data/area_28nm.json`` ``min_metal_pitch_tsmc28``, checked by a test).
* ``rho``, ``AR``: effective copper resistivity (size effects included) and aspect ratio of a 40 nm wide wire,
  the row of DNN+NeuroSim V1.3's interconnect table for wires nearest our 45 nm (its 22 nm node row; the next,
  56 nm, has 3.70e-8 ohm m): a narrower wire's higher resistivity, so a slight overestimate of R_seg.
* ``J_on``: PTM 32 nm low-power models at 0.9 V (our drive's supply), as tabulated in DNN+NeuroSim V1.3's
  ``Technology.cpp``: NMOS 600.2 uA/um, PMOS 400.0 uA/um at 300 K (the nearest PTM node to 28 nm at the
  same supply).
* ``W_min`` = 2 F at F = 28 nm: DNN+NeuroSim V1.3's minimum transistor width (``MIN_NMOS_SIZE`` 2, in
  feature sizes).
* gate capacitance and off-current per width (for the periphery's switching and leakage energy): the same
  PTM 32 nm LP rows (ideal gate 8.375e-10 F/m + fringe 6.857e-10 F/m; NMOS off-current 100.1 pA/um).

Never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ipnet_cosim.device.errors import ConfigError

NEUROSIM = ("DNN+NeuroSim V1.3 source code, S. Yu's group (Arizona State University / Georgia Tech), "
            "https://github.com/neurosim/DNN_NeuroSim_V1.3")
SOURCES = {
    "metal_pitch_m": "28 nm minimum metal pitch 90 nm (WikiChip, '28 nm lithography process'; TSMC, Common Platform "
                     "and UMC columns); as energy/data/area_28nm.json min_metal_pitch_tsmc28",
    "resistivity_ohm_m": f"effective Cu resistivity 4.03e-8 ohm m of a 40 nm wide wire, 'case 40: AR = 1.90; Rho = "
                         f"4.03e-8' in Inference_pytorch/NeuroSIM/Param.cpp [{NEUROSIM}]",
    "aspect_ratio": f"wire aspect ratio 1.90 of the same row [{NEUROSIM}]",
    "j_on_nmos_a_per_m": f"PTM 32 nm LP NMOS on-current 600.20 uA/um at vdd 0.9 V, 300 K ('PTM model: 32nm_LP.pm', "
                         f"currentOnNmos[0] in Inference_pytorch/NeuroSIM/Technology.cpp) [{NEUROSIM}]",
    "j_on_pmos_a_per_m": f"PTM 32 nm LP PMOS on-current 400.00 uA/um at vdd 0.9 V, 300 K (currentOnPmos[0], same "
                         f"row) [{NEUROSIM}]",
    "min_width_features": f"minimum transistor width 2 F ('#define MIN_NMOS_SIZE 2' in constant.h) [{NEUROSIM}]",
    "gate_cap_f_per_m": f"PTM 32 nm LP gate capacitance per width: capIdealGate 8.375279e-10 + capFringe 6.856677e-10 "
                        f"F/m (Technology.cpp, 32nm_LP row) [{NEUROSIM}]",
    "i_off_a_per_m": f"PTM 32 nm LP NMOS off-current 100.10 pA/um at 300 K (currentOffNmos[0], 32nm_LP row) "
                     f"[{NEUROSIM}]",
    "feature_m": "28 nm node (the node of the area model's gate density, pitch and LIF reference)",
}


@dataclass(frozen=True)
class Interconnect28:
    """The 28 nm figures the wire resistance and the periphery sizing use (SI units; sources in :data:`SOURCES`)."""

    metal_pitch_m: float = 90e-9
    resistivity_ohm_m: float = 4.03e-8
    aspect_ratio: float = 1.90
    j_on_nmos_a_per_m: float = 600.2e-6 / 1e-6
    j_on_pmos_a_per_m: float = 400.0e-6 / 1e-6
    min_width_features: float = 2.0
    feature_m: float = 28e-9
    gate_cap_f_per_m: float = 8.375279e-10 + 6.856677e-10
    i_off_a_per_m: float = 100.10e-12 / 1e-6

    @property
    def wire_width_m(self) -> float:
        """A minimum-pitch wire's width, ``p_M / 2``."""
        return self.metal_pitch_m / 2.0

    @property
    def min_width_m(self) -> float:
        """The minimum transistor width ``W_min = 2 F``."""
        return self.min_width_features * self.feature_m

    def segment_resistance_ohm(self, cell_area_m2: float) -> float:
        """``R_seg = rho L / (w (AR w))`` with ``L = sqrt(A_cell)``: one wire segment between adjacent cells."""
        if not (isinstance(cell_area_m2, (int, float)) and math.isfinite(cell_area_m2) and cell_area_m2 > 0):
            raise ConfigError(f"cell area {cell_area_m2!r} m^2 must be a positive area")
        w = self.wire_width_m
        return self.resistivity_ohm_m * math.sqrt(cell_area_m2) / (w * self.aspect_ratio * w)

    def width_multiple(self, current_a: float, pmos: bool = False) -> float:
        """``m(I) = max(1, I / (J_on W_min))``: the width, in minimum widths, that carries ``current_a`` at the
        saturated on-current density (PMOS for a device sourcing from the supply, NMOS otherwise)."""
        if not (math.isfinite(current_a) and current_a >= 0):
            raise ConfigError(f"current {current_a!r} A must be finite and >= 0")
        j_on = self.j_on_pmos_a_per_m if pmos else self.j_on_nmos_a_per_m
        return max(1.0, current_a / (j_on * self.min_width_m))

    def segment_source(self, cell_area_m2: float) -> str:
        """The derivation of :meth:`segment_resistance_ohm` in one line (for a card or a report)."""
        return (f"derived: R_seg = rho sqrt(A_cell) / (w AR w) = {self.resistivity_ohm_m:g} ohm m x "
                f"{math.sqrt(cell_area_m2) * 1e9:.1f} nm / ({self.wire_width_m * 1e9:g} nm x {self.aspect_ratio:g} x "
                f"{self.wire_width_m * 1e9:g} nm) = {self.segment_resistance_ohm(cell_area_m2):.3g} ohm; w = half the "
                f"28 nm minimum metal pitch; {SOURCES['metal_pitch_m']}; {SOURCES['resistivity_ohm_m']}")


INTERCONNECT_28NM = Interconnect28()
