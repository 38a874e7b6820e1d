"""A unit's crossbar as its exact port model: PWL column currents and the row sources' energy.

Every column end sits at 0 V (its sense source) and every row is an ideal source (behind
``r_driver_ohm``), so the crossbar is a linear map from row voltages to column currents,
``I_c(t) = sum_i A_ic V_i(t)``, with ``A`` the port conductances of
:func:`~ipnet_cosim.netlist_gen.unit_circuits.tile_ports` (exact: the cells, or the Schur complement of
the wire mesh). A row source delivers ``I_i = sum_k Y_ik V_k`` with
``Y_ii = sum_c A_ic + sum_b g_ib`` and ``Y_ib = -g_ib`` (``g_ib`` the row-to-row couplings of the
reduced mesh, zero without wires).

Every row is driven by the same pulse shape (:meth:`PulseTiming.pulse_pwl`: trapezoids of level
``V_is`` in step ``s``), so each column current is the PWL of that shape with levels
``sum_i A_ic V_is`` (:func:`column_currents_pwl`), and the energy a row source delivers in step ``s``
is ``V_is (Y V_s)_i K`` with ``K = integral of shape^2`` (:attr:`PulseTiming.pulse_square_integral_s`); the part
dissipated in the driver resistance is ``r_driver (Y V_s)_i^2 K`` (:func:`row_energy_j`). Both are exact, not
integrated from simulator time points.

Stored per unit in the export as ``ports/<unit>.npz`` (:meth:`UnitPorts.to_bytes`).

Scope: the crossbar is modelled as purely resistive (cells, wire segments, driver resistance); no wire
or cell capacitance is modelled, in the netlists or here. With capacitive parasitics the port model
would become a dynamic (frequency-dependent) one and this static reduction would no longer be exact.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ipnet_cosim.device.errors import ConfigError

if TYPE_CHECKING:
    from ipnet_cosim.device.card import PulseTiming
    from ipnet_cosim.netlist_gen.reduction import ReducedTile

PORTS_FORMAT = 1


@dataclass(frozen=True)
class UnitPorts:
    """Port conductances of a unit's row tiles (S).

    Attributes:
        row_col_s: ``[rows, 2 cols]``: row ``i`` (unit row order, all tiles) to physical column ``c``
            (``2 j`` G+, ``2 j + 1`` G-) of the row's tile.
        tile_rows: ``[start, stop)`` rows of each row tile.
        coupling_rows: ``[K, 2]`` row pairs (unit rows, same tile) coupled through the wire mesh.
        coupling_s: ``[K]`` their conductances.
    """

    row_col_s: np.ndarray
    tile_rows: tuple[tuple[int, int], ...]
    coupling_rows: np.ndarray
    coupling_s: np.ndarray

    @classmethod
    def from_tiles(cls, tiles: "tuple[ReducedTile, ...]", tile_rows: tuple[tuple[int, int], ...]) -> "UnitPorts":
        pairs = [(a0 + a, a0 + b, g) for (a0, _), t in zip(tile_rows, tiles) for a, b, g in t.row_row]
        return cls(np.concatenate([t.row_col for t in tiles]), tuple(tile_rows),
                   np.asarray([(a, b) for a, b, _ in pairs], dtype=np.int64).reshape(-1, 2),
                   np.asarray([g for _, _, g in pairs], dtype=np.float64))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, format=np.asarray(PORTS_FORMAT), row_col_s=self.row_col_s,
                            tile_rows=np.asarray(self.tile_rows, dtype=np.int64).reshape(-1, 2),
                            coupling_rows=self.coupling_rows, coupling_s=self.coupling_s)
        return buf.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> "UnitPorts":
        try:
            with np.load(path) as d:
                if int(d["format"]) != PORTS_FORMAT:
                    raise ValueError(f"format {int(d['format'])}, expected {PORTS_FORMAT}")
                ports = cls(d["row_col_s"], tuple((int(a), int(b)) for a, b in d["tile_rows"]),
                            d["coupling_rows"], d["coupling_s"])
        except Exception as exc:          # missing, not an npz, wrong arrays: all mean 'export again'
            raise ConfigError(f"port model {path} is missing or damaged ({exc}); export the network again") from exc
        if not (np.all(np.isfinite(ports.row_col_s)) and np.all(ports.row_col_s >= 0)):
            raise ConfigError(f"port model {path} holds negative or non-finite conductances; export again")
        return ports

    @property
    def n_rows(self) -> int:
        return self.row_col_s.shape[0]

    def row_currents_a(self, levels_v: np.ndarray) -> np.ndarray:
        """``Y V``: the current each row source delivers at row levels ``levels_v`` ``[T, rows]``, A."""
        cur = levels_v * _rows_weighted_sum(self.row_col_s, np.ones((self.row_col_s.shape[1], 1)))[:, 0]   # sum_c A_ic
        if self.coupling_s.size:
            a, b = self.coupling_rows[:, 0], self.coupling_rows[:, 1]
            flow = (levels_v[:, a] - levels_v[:, b]) * self.coupling_s        # from row a to row b
            np.add.at(cur.T, a, flow.T)
            np.add.at(cur.T, b, -flow.T)
        return cur


def _rows_weighted_sum(levels_v: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``levels_v @ matrix`` summed row by row in a fixed order with elementwise operations: the same bits
    on every CPU (BLAS kernels differ between CPUs in the last bits, and these values go into netlists
    that must be byte-identical)."""
    out = np.zeros((levels_v.shape[0], matrix.shape[1]))
    for i in range(matrix.shape[0]):
        out += levels_v[:, i:i + 1] * matrix[i]
    return out


def column_levels_a(ports: UnitPorts, levels_v: np.ndarray) -> list[np.ndarray]:
    """Per row tile, the column-current level of every step, A ``[T, 2 cols]`` (``levels_v`` ``[T, rows]``)."""
    return [_rows_weighted_sum(levels_v[:, a:b], ports.row_col_s[a:b]) for a, b in ports.tile_rows]


def column_currents_pwl(ports: UnitPorts, levels_v: np.ndarray, timing: "PulseTiming"
                        ) -> dict[str, tuple[tuple[float, float], ...]]:
    """The PWL current of every sensed column, by source name (``Ip<r>_<j>``, ``Im<r>_<j>``); columns that
    never carry current are left out (0 A)."""
    out: dict[str, tuple[tuple[float, float], ...]] = {}
    for r, lev in enumerate(column_levels_a(ports, levels_v)):
        for c in range(lev.shape[1]):
            if np.any(lev[:, c] != 0):
                out[f"I{'pm'[c % 2]}{r}_{c // 2}"] = tuple(timing.pulse_pwl(lev[:, c]))
    return out


def neuron_inputs_pwl(ports: UnitPorts, levels_v: np.ndarray, timing: "PulseTiming", mirror_gain: float,
                      slice_gains: tuple[float, ...], neurons: range) -> list[tuple[tuple[float, float], ...] | None]:
    """The net input current of every neuron of a unit as one PWL, A: ``I_in = mirror_gain sum_tiles sum_slices
    L^s (I+ - I-)`` of its sense columns. Every column current is the same pulse shape with its own level per step,
    so their weighted sum is that shape with the summed levels (exact); None for a neuron that never receives
    current. ``neurons``: the unit's neurons (weight columns) wanted. Summed in a fixed order with elementwise
    operations (byte-identical netlists on every CPU)."""
    tiles = column_levels_a(ports, levels_v)
    sl = len(slice_gains)
    out: list[tuple[tuple[float, float], ...] | None] = []
    for j in neurons:
        level = np.zeros(levels_v.shape[0])
        for lev in tiles:
            for s, gain in enumerate(slice_gains):
                k = j * sl + s
                level = level + (gain * mirror_gain) * (lev[:, 2 * k] - lev[:, 2 * k + 1])
        out.append(tuple(timing.pulse_pwl(level)) if np.any(level != 0) else None)
    return out


def pulse_square_integral_s(timing: "PulseTiming") -> float:
    """``integral shape(t)^2 dt`` of one unit-level read pulse (the card's trapezoid), s."""
    return timing.pulse_square_integral_s


def row_energy_j(ports: UnitPorts, levels_v: np.ndarray, timing: "PulseTiming", r_driver_ohm: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per step and row ``[T, rows]``: the energy each row source delivers, and the part of it dissipated
    in the driver resistance, J (exact; see the module docstring)."""
    k = pulse_square_integral_s(timing)
    cur = ports.row_currents_a(levels_v)
    return levels_v * cur * k, r_driver_ohm * cur ** 2 * k
