"""Rule bisection: the one rule whose exclusion makes FAST_RUN agree with the reference."""
from __future__ import annotations

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks import bisect
from verigraph.modes import FAST_RUN
from verigraph.rewriting.db import rules

from .faulty_ops import Twice, registered_rule

X = np.arange(12.0).reshape(3, 4) / 7.0


@pytest.fixture(autouse=True)
def _no_crosscheck():
    # The functions below are wrong on purpose; bisect, not the first-call crosscheck, reports it.
    with vg.config.change_flags(crosscheck="off"):
        yield


def test_bisect_names_the_wrong_rule():
    x = T.dmatrix("x")
    out = (T.exp(x) * 3).sum() + T.sqr(x).mean()
    with registered_rule("wrong") as name:
        f = vg.function([x], out, mode=FAST_RUN.including("test_bad"))
        assert bisect(f, [X]) == name
        assert bisect(([x], [out]), [X], mode=FAST_RUN.including("test_bad")) == name


def test_bisect_is_none_for_correct_programs_and_faulty_ops():
    x = T.dmatrix("x")
    assert bisect(vg.function([x], (T.exp(x) * 3).sum()), [X]) is None
    # A wrong fast path is an Op's fault: no rule exclusion fixes it.
    assert bisect(vg.function([x], Twice("thunk")(x).sum()), [X]) is None


@pytest.mark.skipif("local_div_self_unsafe" not in rules.rules, reason="rule not present")
def test_bisect_finds_an_unsafe_rule_on_inputs_where_it_is_wrong():
    x = T.dmatrix("x")
    f = vg.function([x], x / x, mode=FAST_RUN.including("unsafe"))
    with np.errstate(invalid="ignore"):
        assert bisect(f, [np.zeros((2, 2))]) == "local_div_self_unsafe"
        assert bisect(f, [np.ones((2, 2))]) is None  # right where x != 0


def test_bisect_rejects_other_objects():
    with pytest.raises(TypeError, match="compiled Function"):
        bisect(42, [])
