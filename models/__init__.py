"""PyTorch IPNet: the thermal MTJ neuron (same equations as the Verilog-A model), networks and training.

Importing this package does not import torch; import the submodules.
"""
