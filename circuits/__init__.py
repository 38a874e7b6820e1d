"""Circuits and simulators: the circuit IR and its ngspice and VACASK writers, the ngspice runner, the VACASK
runner, the child-process probe, the neuron test bench, waveform comparison and the safe operating area. Never
imports torch."""
