#!/usr/bin/env bash
# Set up, then run the whole test suite (real ngspice and openvaf-r). Extra arguments go to pytest.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec python -m pytest tests "$@"
