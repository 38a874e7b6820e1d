#!/usr/bin/env bash
# The main job on built-in defaults: set up, then characterize the thermal MTJ neuron in ngspice
# and PyTorch side by side. Extra arguments go to 'ipnet-cosim characterize'.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec ipnet-cosim characterize --out results/characterize "$@"
