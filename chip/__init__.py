"""The network on its chip, in PyTorch: the hardware model (every layer through its mapped crossbars, devices,
variation and wires), hardware-aware fine-tuning, and per-chip gain calibration. Comes after the mapping
(:mod:`ipnet_cosim.netlist_gen`) and before simulation, which uses the hardware model as its twin."""
