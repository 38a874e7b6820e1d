"""Rules the suite holds itself to: a comparison that cannot fail is refused (tests/_approx.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("expected", [6e-13, [1.0, 3e-15], {"e_j": 2e-9}, np.array([1e-10, 1.0])])
def test_an_implicit_absolute_tolerance_that_swallows_the_value_is_refused(expected):
    with pytest.raises(AssertionError, match="give abs= explicitly"):
        pytest.approx(expected, rel=1e-5)


def test_explicit_or_harmless_tolerances_pass_through():
    assert 6.0000001e-13 == pytest.approx(6e-13, rel=1e-5, abs=0)
    assert 6.1e-13 != pytest.approx(6e-13, rel=1e-5, abs=0)        # 1.7 % off: the default abs would accept it
    assert 0.5 == pytest.approx(0.5)                                # 1e-12 is far below 1e-6 of 0.5
    assert 0.0 == pytest.approx(0.0)                                # a zero has only the absolute tolerance
    assert [1.0, 2.0] == pytest.approx([1.0, 2.0], rel=1e-9)


def test_closeness_checks_state_their_absolute_tolerance():
    """numpy's allclose/isclose (atol 1e-8) and torch's allclose/assert_close (float64: atol 1e-7) have default
    absolute tolerances that exceed whole SI quantities of this project (ns, pJ, uA); every call in the suite must
    state ``atol`` (0 for a purely relative comparison)."""
    import ast
    from pathlib import Path
    offenders = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("allclose", "isclose", "assert_close")
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "math")   # abs_tol 0
                    and not any(k.arg == "atol" for k in node.keywords)):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"closeness checks without an explicit atol: {', '.join(offenders)}"


def test_approx_is_called_through_pytest():
    """The guard replaces ``pytest.approx``; a name imported from pytest before it is installed would bypass it."""
    import ast
    from pathlib import Path
    offenders = [f"{path.name}:{node.lineno}" for path in sorted(Path(__file__).parent.glob("*.py"))
                 for node in ast.walk(ast.parse(path.read_text(), str(path)))
                 if isinstance(node, ast.ImportFrom) and node.module == "pytest"
                 and any(alias.name == "approx" for alias in node.names)]
    assert not offenders, f"import pytest and call pytest.approx instead: {', '.join(offenders)}"
