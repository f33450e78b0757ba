"""verigraph.testing.fuzz_cases / fuzz_loops / fuzz_sgd: gradient, large, scan, ifelse, random-stream
and SGD-training kinds."""
import runpy

import numpy as np
import pytest

from verigraph.cli import main
from verigraph.testing.fuzz import run_fuzz
from verigraph.testing.fuzz_cases import (CASE_KINDS, as_layout, case_strategy, fuzz_strategy,
                                          large_value)
from verigraph.testing.planted import planted_bad_rule


@pytest.mark.parametrize("kind, examples", [("grad", 15), ("large", 8), ("scan", 15),
                                            ("ifelse", 30), ("random", 15), ("sgd", 20)])
def test_each_case_kind_agrees_in_every_mode(kind, examples, tmp_path):
    result = run_fuzz(examples=examples, seed=1, outdir=str(tmp_path),
                      strategy=case_strategy(kind))
    assert result.ok, "\n".join(map(str, result.problems)) + f"\n{result.failure}"
    assert result.examples == examples


def test_large_inputs_reach_the_c_kernel_sizes_in_non_contiguous_layouts():
    v = large_value(3, (128, 130), "float32")
    assert v.size >= 16384 and v.dtype == np.float32
    for layout in ("transposed", "strided", "reversed"):
        a = as_layout(v, layout)
        np.testing.assert_array_equal(a, v)
        assert not a.flags.c_contiguous


def _reproducer_exit_code(result):
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(result.reproducer, run_name="__main__")
    return exit_info.value.code


def _reproduces_until_undone(result, monkeypatch):
    """The reproducer fails (exit 1) while the planted bug is in, passes once undone."""
    assert _reproducer_exit_code(result) == 1
    monkeypatch.undo()
    assert _reproducer_exit_code(result) == 0


def test_grad_kind_finds_a_planted_bad_rule_and_writes_a_reproducer(tmp_path):
    with planted_bad_rule(target="mul"):
        result = run_fuzz(examples=150, seed=0, outdir=str(tmp_path), modes=("FAST_RUN",),
                          strategy=case_strategy("grad"), max_shrink_seconds=10)
        assert not result.ok
        assert any(p.where == "FAST_RUN gradient" for p in result.problems)
        assert _reproducer_exit_code(result) == 1
    assert _reproducer_exit_code(result) == 0


def test_sgd_kind_finds_a_wrong_in_place_update_and_writes_a_reproducer(tmp_path, monkeypatch):
    from verigraph.tensor import cblas

    def off_by_a_little(c, alpha, a, b):   # a BLAS that adds 1% too much
        c += 1.01 * alpha * (a @ b)
        return True
    monkeypatch.setattr(cblas, "gemm_into", off_by_a_little)
    result = run_fuzz(examples=40, seed=0, outdir=str(tmp_path), modes=("FAST_RUN",),
                      strategy=case_strategy("sgd"), max_shrink_seconds=10)
    assert not result.ok
    assert any(p.where.startswith("FAST_RUN call") for p in result.problems)
    _reproduces_until_undone(result, monkeypatch)


def test_cli_accepts_case_kinds_and_names_them_when_unknown(tmp_path, capsys):
    assert main(["fuzz", "--examples", "6", "--seed", "2", "--kinds", "scan,random,unary",
                 "--reports", str(tmp_path)]) == 0
    assert main(["fuzz", "--kinds", "nope", "--reports", str(tmp_path)]) != 0
    err = capsys.readouterr()
    assert all(k in err.out + err.err for k in CASE_KINDS)
    with pytest.raises(ValueError):
        fuzz_strategy(("nope",))


def test_structural_ties_are_not_compared_with_finite_differences():
    # A false alarm of the check: max(stack([x, x])) gives every maximum the gradient
    # (Theano's convention), which finite differences call wrong by a factor of 2.
    from verigraph.testing.fuzz_cases import GradCase
    from verigraph.testing.strategies import GraphSpec, Value
    spec = GraphSpec(inputs=[Value("x1", "float64", (), (), True)], static={"x1": ()},
                     values={"x1": np.array(1.5)},
                     steps=[("v0", "T.stack([x1, x1], axis=0)", "np.stack([x1, x1], axis=0)"),
                            ("v1", "T.max(v0)", "np.max(v0)")],
                     outputs=[("v1", "v1")])
    assert GradCase(spec, 0).check() == []


def test_sgd_kind_covers_the_cross_entropy_model_and_finds_a_wrong_gradient(tmp_path,
                                                                           monkeypatch):
    # The cross-entropy loss brings in PickLabels, LogSoftmaxOneHotGrad (and, where the C
    # kernels run, DensePair and NarrowTanhGrad); a gradient node 1% off must be found,
    # and the reproducer must name the loss.
    from verigraph.tensor.crossentropy import LogSoftmaxOneHotGrad
    original = LogSoftmaxOneHotGrad.make_fast_fn

    def off_by_a_little(self, node):
        fn = original(self, node)
        return lambda *args: fn(*args) * 1.01
    monkeypatch.setattr(LogSoftmaxOneHotGrad, "make_fast_fn", off_by_a_little)
    result = run_fuzz(examples=40, seed=0, outdir=str(tmp_path), modes=("FAST_RUN",),
                      strategy=case_strategy("sgd"), max_shrink_seconds=10)
    assert not result.ok
    assert "'xent'" in open(result.reproducer).read()
    _reproduces_until_undone(result, monkeypatch)
