"""Shared fixtures: the real openvaf-r build of the neuron model and the real ngspice.

Tests that need a simulator or the compiler carry the markers declared in pyproject.toml (``ngspice``,
``openvaf``): set on the test, or applied at collection to every test whose fixtures request ``ngspice_tool`` or
``openvaf_tool`` (a fixture that exports a network compiles the Verilog-A; one that simulates runs ngspice).
Where a tool is missing those tests are skipped with the reason, so the rest of the suite runs anywhere;
``.ci/test.sh`` sets ``IPNET_COSIM_REQUIRE_SIMULATORS=1``, which turns a missing simulator into a failure of the
whole session instead (CI must never pass by skipping). docs/testing.md says how to check that every test that
needs a tool says so.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from _approx import install as install_checked_approx
from ipnet_cosim.circuits.runner import available as ngspice_available

# pytest.approx's default absolute tolerance (1e-12) would swallow SI quantities of pJ, fC or um^2: a call that relies
# on it for such a value raises instead (tests/_approx.py)
install_checked_approx()

# property tests draw the same examples on every run (a CI result does not depend on luck); set
# HYPOTHESIS_PROFILE=explore to search new examples locally
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REQUIRE_ENV = "IPNET_COSIM_REQUIRE_SIMULATORS"


def _openvaf_available() -> bool:
    from ipnet_cosim.device.compiler import openvaf_path
    from ipnet_cosim.device.errors import CompilerError
    try:
        openvaf_path()
    except CompilerError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    missing = {"ngspice": not ngspice_available(), "openvaf": not _openvaf_available()}
    if os.environ.get(REQUIRE_ENV) and any(missing.values()):
        names = ", ".join(k for k, v in missing.items() if v)
        pytest.exit(f"{names} not found and {REQUIRE_ENV} is set: run the README's test command (bash .ci/test.sh), "
                    f"which installs them", returncode=3)
    for item in items:
        for marker, absent in missing.items():
            if (f"{marker}_tool" in getattr(item, "fixturenames", ())     # a fixture it uses needs the tool
                    and item.get_closest_marker(marker) is None):
                item.add_marker(getattr(pytest.mark, marker))
            if absent and item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.skip(reason=f"{marker} is not installed (see the README's set-up)"))


@pytest.fixture(scope="session")
def openvaf_tool():
    """The openvaf-r compiler. Requested by every fixture that compiles the Verilog-A, itself or through export:
    the tests that use such a fixture are marked ``openvaf`` at collection."""
    from ipnet_cosim.device.compiler import openvaf_path
    return openvaf_path()


@pytest.fixture(scope="session")
def ngspice_tool():
    """The ngspice shared library. Requested by every fixture that simulates in ngspice: the tests that use such a
    fixture are marked ``ngspice`` at collection."""
    from ipnet_cosim.circuits.runner import libngspice_path
    return libngspice_path()


@pytest.fixture(scope="session")
def osdi_path(openvaf_tool):
    """The thermal MTJ neuron compiled by the real openvaf-r (cached)."""
    from ipnet_cosim.device.compiler import compile_va
    return compile_va()
