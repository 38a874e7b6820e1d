"""PyTorch IPNet: the thermal MTJ neuron (same equations as the Verilog-A model), networks and training.

Importing this package does not import torch; import the submodules.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("ipnet-cosim")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
