"""The export/simulation contract: what ``export`` writes and ``simulate``, accounting, area, report and the
CLI read, as typed, versioned records, read and validated in one place (one import; the files by concept:
``files`` names, versions and errors, ``records`` the manifest's records, ``binding`` identity and the export's
reader, ``results`` the records of a simulation's results and their reader).

* :class:`ExportFiles` and :class:`SimFiles` name every file of an export folder and of a simulation
  folder (nowhere else spells them).
* :class:`ExportManifest` (``manifest.json``) with its :class:`LayerRecord`, :class:`UnitRecord`,
  :class:`TileRecord`, :class:`TimingRecord`, :class:`CheckpointRecord`, :class:`DeviceRecord` and
  :class:`SamplesRecord`; ``to_dict`` writes exactly the manifest's JSON, ``from_dict`` checks every
  field's type and names the one at fault.
* :class:`ExportIdentity`: the hashes that tie a result to its export (the manifest's bytes, the
  checkpoint, the device card). Simulation results, the unit cache and the energy files carry it;
  :func:`bind_simulation_folder` refuses a folder that holds another export's results and
  :func:`read_results` refuses a simulation of another export.
* :func:`read_export`: the one reader of an export folder (format, version, types, the checkpoint's
  hash, the stimulus file).
* :class:`SimulationResults` (``results.json``) with its :class:`SimulationSummary`, :class:`SampleResult`,
  :class:`LayerResult`, :class:`LayerComparison`, :class:`TorchComparison`, :class:`RunFiring`,
  :class:`LayerTime` and :class:`ResultWarning`: the figures of a run (a circuit simulator's or the PyTorch
  twin's, named by ``provenance.simulator``) apart from its comparison with PyTorch; :func:`read_results`.
"""

from __future__ import annotations

from ipnet_cosim.netlist_gen.contract.files import (  # noqa: F401
    EXPORT_FORMAT, EXPORT_TAG, EXPORT_VERSION, RESULTS_FORMAT, RESULTS_VERSION, UNIT_KINDS, ExportError, ExportFiles,
    ForeignResultsError, SimFiles)
from ipnet_cosim.netlist_gen.contract.records import (  # noqa: F401
    CheckpointRecord, DeviceRecord, ExportManifest, LayerRecord, SamplesRecord, TileRecord, TimingRecord, UnitRecord)
from ipnet_cosim.netlist_gen.contract.binding import (  # noqa: F401
    Export, ExportIdentity, bind_simulation_folder, check_checkpoint_summary, identity_of, read_export)
from ipnet_cosim.netlist_gen.contract.results import (  # noqa: F401
    LayerComparison, LayerResult, LayerTime, Mismatch, ResultWarning, RunFiring, SampleResult, SimulationResults,
    SimulationSummary, TorchComparison, read_results)
