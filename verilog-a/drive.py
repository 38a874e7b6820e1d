"""The neuron drive stage as plain math (numpy): what ``ipnet_neuron_drive`` in ``thermal_mtj_neuron.va``
computes, for code that must not import torch (simulate, energy).

The stage (:class:`~ipnet_cosim.device.card.NeuronDrive`) takes the net mirrored column current
``i_in`` (A, signed) and puts into the MTJ::

    x     = max(i_in, 0) / i_max
    i_out = i_max x / (1 + x^n)^(1/n)

``i_max`` is the card's :attr:`~ipnet_cosim.device.card.DeviceCard.drive_i_max_a` and ``n`` its
``drive.knee``. The PyTorch twin (``ipnet_cosim.models.drive``) implements the same function with a
surrogate gradient.
"""

from __future__ import annotations

import numpy as np


def drive_current_a(i_in_a, i_max_a: float, knee: float) -> np.ndarray:
    """Output current of the drive for input currents ``i_in_a`` (A, any shape), A."""
    x = np.maximum(np.asarray(i_in_a, dtype=np.float64), 0.0) / i_max_a
    return i_max_a * x / (1.0 + x ** knee) ** (1.0 / knee)


def drive_input_for_a(i_out_a, i_max_a: float, knee: float) -> np.ndarray:
    """Inverse on the rising branch: the input current that gives ``i_out_a`` (0 <= i_out < i_max), A."""
    y = np.asarray(i_out_a, dtype=np.float64) / i_max_a
    if np.any((y < 0) | (y >= 1)):
        raise ValueError("the drive's output lies in [0, i_max); no input gives a current at or above i_max")
    return i_max_a * y / (1.0 - y ** knee) ** (1.0 / knee)
