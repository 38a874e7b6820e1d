"""openvaf-r compilation with the real compiler: cache by content hash, clear errors."""

from __future__ import annotations

import pytest

from ipnet_cosim.device.compiler import compile_va, neuron_va_path
from ipnet_cosim.device.errors import CompilerError


@pytest.mark.openvaf
def test_compiles_and_caches(tmp_path):
    first = compile_va(cache_dir=tmp_path)
    assert first.is_file() and first.stat().st_size > 1000
    mtime = first.stat().st_mtime_ns
    again = compile_va(cache_dir=tmp_path)
    assert again == first and again.stat().st_mtime_ns == mtime, "second call reuses the cached build"
    forced = compile_va(cache_dir=tmp_path, force=True)
    assert forced == first and forced.stat().st_mtime_ns != mtime


@pytest.mark.openvaf
def test_changed_source_gets_new_key(tmp_path):
    src = tmp_path / "thermal_mtj_neuron.va"
    src.write_text(neuron_va_path().read_text())
    a = compile_va(src, cache_dir=tmp_path / "cache")
    src.write_text(neuron_va_path().read_text() + "\n// edited\n")
    b = compile_va(src, cache_dir=tmp_path / "cache")
    assert a != b and a.is_file() and b.is_file()


@pytest.mark.openvaf
def test_syntax_error_reports_diagnostics(tmp_path):
    src = tmp_path / "broken.va"
    src.write_text('`include "disciplines.vams"\nmodule broken(p, n); electrical p, n;\n'
                   'analog begin I(p,n) <+ V(p,n) / undefined_thing; end\nendmodule\n')
    with pytest.raises(CompilerError, match="undefined_thing"):
        compile_va(src, cache_dir=tmp_path)


def test_missing_source(tmp_path):
    with pytest.raises(CompilerError, match="does not exist"):
        compile_va(tmp_path / "nope.va", cache_dir=tmp_path)
