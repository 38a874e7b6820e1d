"""The pipeline in Python: the bundled IPNet on the default chip -> export -> the PyTorch twin on two test samples
-> energy and area report. Run it as ``python docs/examples/pipeline.py OUT_FOLDER`` (the tests run it); use
``simulator="ngspice"`` for the circuit itself."""

import sys
from pathlib import Path

import ipnet_cosim as ic

out = Path(sys.argv[1] if len(sys.argv) > 1 else "pipeline-example")
options = ic.chip_options()                                          # PCM, 4 devices per cell, 28 nm wires
manifest = ic.export(ic.bundled_checkpoint(), out / "export", samples=[0, 16], options=options)
results = ic.simulate(out / "export", simulator="twin")
report, paths = ic.report(out / "export", out=out / "report")
summary = results.summary                                           # typed records: SimulationSummary
print(f"{manifest.options().synapse.name}: {len(manifest.units)} crossbar units; "
      f"twin accuracy {summary.accuracy:.3f} on {summary.samples} samples; "
      f"report in {paths['html']}")
