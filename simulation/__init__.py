"""From an export folder to results: the simulation jobs, the ngspice and VACASK workers and their executors
(local processes or Dask), the PyTorch twin backend, the comparison with PyTorch and the energies integrated
from the simulated waveforms."""
