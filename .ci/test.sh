#!/usr/bin/env bash
# Set up, then run the whole test suite (real ngspice, openvaf-r and chromium). Extra arguments go to pytest.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# the report's layout test runs in a real headless browser (Debian's chromium)
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium (headless browser for the report layout test)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
        || { as_root apt-get update -q >/dev/null && \
             as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
        || say "chromium could not be installed; the browser test will be skipped"
fi
cd "$ROOT"
export IPNET_COSIM_REQUIRE_SIMULATORS=1     # a missing simulator fails the run instead of skipping tests
exec python -m pytest tests "$@"
