"""From a trained checkpoint to circuits: layer mapping, the circuit IR and its writers, the export folder and
its typed contract (``contract``), and ``simulate`` (jobs, worker, executors, comparison). Importing it loads
neither torch nor a simulator."""
