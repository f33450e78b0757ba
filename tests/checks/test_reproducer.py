"""Reproducers: a finding becomes a standalone pytest file that fails with the same discrepancy."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks import (
    BadOptimization, BadThunkOutput, CheckError, ShapeMismatchError, StochasticOrder)
from verigraph.modes.debug import DebugMode

from .faulty_ops import Twice, registered_rule

X = np.arange(12.0).reshape(3, 4) / 7.0


def _finding(fn, *args):
    with pytest.raises(CheckError) as info:
        fn(*args)
    return info.value


def _load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _test_function(module):
    return next(getattr(module, n) for n in dir(module) if n.startswith("test_reproduce"))


def _findings():
    """A thunk finding, a bad rewrite and the join shape error, from three DebugMode calls."""
    x, y = T.dmatrices("x", "y")
    thunk = _finding(vg.function([x], Twice("thunk")(x).sum(), mode="DebugMode"), X)
    with registered_rule("wrong") as name:
        bad = _finding(vg.function([x], T.exp(x) * 3, mode=DebugMode().including("test_bad")), X)
    join = _finding(vg.function([x, y], T.join(0, x, y).shape, mode="DebugMode"),
                    np.ones((5, 4)), np.ones((3, 3)))
    return thunk, bad, name, join


def test_reproducers_fail_with_the_finding(tmp_path):
    thunk, bad, name, join = _findings()
    assert isinstance(thunk, BadThunkOutput) and isinstance(bad, BadOptimization)
    assert isinstance(join, ShapeMismatchError)
    paths = [f.reproducer(str(tmp_path)) for f in (thunk, bad, join)]
    for p in paths:
        assert os.path.exists(p) and os.path.exists(p[:-3] + ".npz")
    # In this process: each test function raises what the finding reported.
    with pytest.raises(AssertionError, match="BadThunkOutput"):
        _test_function(_load(paths[0]))()
    with pytest.raises(AssertionError, match=f"rule '{name}' changed the value"):
        _test_function(_load(paths[1]))()
    with pytest.raises(ShapeMismatchError, match=r"\(5, 4\), \(3, 3\)"):
        _test_function(_load(paths[2]))()
    # Standalone: a fresh interpreter running pytest on the files (the rule is not registered
    # there; the rewrite reproducer carries both subgraphs, so it needs no rule).
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], capture_output=True, text=True, cwd=str(tmp_path),
                         timeout=120)
    assert "3 failed" in run.stdout, run.stdout + run.stderr
    # "ShapeMismatch": an installed verigraph pytest plugin reports findings by check name.
    for word in ("BadThunkOutput", "changed the value", "ShapeMismatch"):
        assert word in run.stdout


def test_reproducer_of_order_dependent_rule(tmp_path):
    x = T.dmatrix("x")
    with registered_rule("flaky"):
        with pytest.raises(StochasticOrder) as info:
            vg.function([x], T.sqr(x) + 1, mode=DebugMode().including("test_bad"))
        path = info.value.reproducer(str(tmp_path))
        with pytest.raises(AssertionError):
            _test_function(_load(path))()


def test_finding_without_context_cannot_be_reproduced(tmp_path):
    with pytest.raises(ValueError, match="no context"):
        CheckError("bare").reproducer(str(tmp_path))
