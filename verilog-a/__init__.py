"""The thermal MTJ neuron device: its parameter card, Verilog-A model, compiler and errors.

Imported as ``ipnet_cosim.device``; light (no torch, no simulator) so every
layer of the toolkit can depend on it.
"""

from ipnet_cosim.device.card import DeviceCard, MTJParams, NeuronDrive, OperatingLimits, PulseTiming
from ipnet_cosim.device.card_files import load_device_card
from ipnet_cosim.device.errors import (CompilerError, ConfigError, ConvergenceError, IPNetCosimError,
                                       NetlistError, OsdiLoadError, SimulationError,
                                       SimulatorNotFoundError, UnsupportedLayerError)

__all__ = ["DeviceCard", "MTJParams", "NeuronDrive", "OperatingLimits", "PulseTiming", "load_device_card",
           "CompilerError", "ConfigError",
           "ConvergenceError", "IPNetCosimError", "NetlistError", "OsdiLoadError", "SimulationError",
           "SimulatorNotFoundError", "UnsupportedLayerError"]
