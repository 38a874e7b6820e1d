"""Simulators and circuit building blocks: the ngspice runner, the VACASK runner, the child-process probe, the
neuron test bench, waveform comparison and the safe operating area. Never imports torch."""
