"""Shared fixtures: the real openvaf-r build of the neuron model and the real ngspice."""

from __future__ import annotations

import pytest

from ipnet_cosim.circuits.runner import available


@pytest.fixture(scope="session")
def osdi_path():
    """The thermal MTJ neuron compiled by the real openvaf-r (cached)."""
    from ipnet_cosim.device.compiler import compile_va
    return compile_va()


@pytest.fixture(scope="session", autouse=True)
def _require_ngspice(request):
    # The suite is meant to run against the real simulator; fail loudly rather than skip.
    if not available():
        pytest.exit("libngspice not found: run the README's test command (bash .ci/test.sh), which installs it",
                    returncode=3)
