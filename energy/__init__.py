"""Energy and area from simulated waveforms: per-step integrals, accounting per category, layer, unit and spike,
the baselines' memory energy, the area model and the report. Never imports torch."""
