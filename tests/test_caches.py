"""Compile-time caches: dtype names, generated code objects, the C compiler lookup."""
from __future__ import annotations

import traceback

import numpy as np
import pytest
from hypothesis import given, strategies as st

import verigraph as vg
import verigraph.tensor as T
from verigraph.dtypes import dtype_name
from verigraph.link.ckernels import compiler
from verigraph.source_cache import compile_source

DTYPE_SPECS = ["float64", "f4", "<f8", "int32", "i8", "bool", "uint8", "complex64", float,
               int, bool, np.float32, np.int16, np.dtype("float16"), np.dtype(">f8")]


@given(st.sampled_from(DTYPE_SPECS), st.integers(1, 3))
def test_dtype_name_is_numpys_name_every_time(spec, times):
    for _ in range(times):
        assert dtype_name(spec) == str(np.dtype(spec))


def test_dtype_name_raises_like_numpy():
    with pytest.raises(TypeError):
        dtype_name("float65")
    assert dtype_name([("a", "f8")]) == str(np.dtype([("a", "f8")]))   # unhashable spec


def _run(code):
    glob = {}
    exec(code, glob)
    return glob["f"]


def test_cached_code_gets_each_programs_file_name():
    source = "def f(x):\n    return 1 / x\n"
    first, second = compile_source(source, "<prog-a>"), compile_source(source, "<prog-b>")
    fa, fb = _run(first), _run(second)
    assert fa(4) == fb(4) == 0.25
    assert fa.__code__.co_filename == "<prog-a>" and fb.__code__.co_filename == "<prog-b>"
    with pytest.raises(ZeroDivisionError) as info:
        fb(0)
    assert traceback.extract_tb(info.value.__traceback__)[-1].filename == "<prog-b>"


def test_recompiled_functions_still_name_the_failing_node():
    # The second compile of an identical graph reuses the generated code; errors must
    # still point at the node of the function that raised.
    for _ in range(2):
        x, y = T.dmatrices("x", "y")
        f = vg.function([x, y], T.dot(x, y) + 1)
        with pytest.raises(ValueError, match="Dot"):
            f(np.ones((2, 3)), np.ones((2, 3)))


def test_compiler_lookup_follows_cc(monkeypatch, tmp_path):
    fake = tmp_path / "my-cc"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(compiler, "COMPILER", None)
    monkeypatch.setenv("CC", str(fake))
    assert compiler.compiler() == str(fake)
    monkeypatch.setenv("CC", str(tmp_path / "missing-cc"))
    assert compiler.compiler() != str(fake)
