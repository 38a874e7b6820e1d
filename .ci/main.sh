#!/usr/bin/env bash
# The main job on built-in defaults: set up, then the whole pipeline (bundled IPNet checkpoint ->
# crossbar netlists -> ngspice layer by layer -> energy and area report) in results/demo.
# Extra arguments go to 'ipnet-cosim demo' (e.g. --samples 4, --train).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec ipnet-cosim demo --out results/demo "$@"
