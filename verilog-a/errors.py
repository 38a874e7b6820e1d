"""The project's error hierarchy.

Every error that bad input or a broken environment can raise is an
:class:`IPNetCosimError`; the message names the object at fault and says how
to fix it. Only the CLI turns these into exit codes and one-line messages.
"""

from __future__ import annotations


class IPNetCosimError(Exception):
    """Base class of every error raised on purpose by ipnet-cosim."""


class ConfigError(IPNetCosimError, ValueError):
    """A device card, configuration file or option has an invalid value."""


class CompilerError(IPNetCosimError):
    """openvaf-r is missing or failed to compile a Verilog-A model."""


class SimulatorNotFoundError(IPNetCosimError):
    """ngspice or its shared library (libngspice) is not installed."""


class OsdiLoadError(IPNetCosimError):
    """A compiled OSDI model is missing, corrupt or cannot be loaded by ngspice."""


class SimulationError(IPNetCosimError):
    """ngspice rejected a netlist or failed to finish an analysis."""


class NetlistError(SimulationError):
    """The netlist has an error that ngspice reports while parsing it."""


class ConvergenceError(SimulationError):
    """ngspice did not converge (timestep too small, singular matrix, gmin stepping failed)."""


class UnsupportedLayerError(IPNetCosimError, TypeError):
    """A network layer has no registered circuit mapping."""


class CheckpointError(IPNetCosimError):
    """A checkpoint file is missing, corrupt, or does not match the network it is loaded into."""
