"""Energy and area from simulated waveforms (issue 6; not yet implemented). Never imports torch."""
