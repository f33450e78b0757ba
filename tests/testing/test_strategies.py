"""verigraph.testing.strategies: arrays and random well-typed graphs, checked against NumPy."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verigraph.checks.tolerance import compare
from verigraph.link.reference import evaluate
from verigraph.testing.strategies import (COMPARISONS, LEAF_UNARY, STEP_KINDS, UNARY, graphs,
                                          tensors)
from verigraph.tensor.scalar_table import TABLE

QUICK = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))


@QUICK
@given(st.data())
def test_tensors_have_the_requested_dtype_shape_and_range(data):
    dtype = data.draw(st.sampled_from(["float32", "float64", "int64", "bool"]))
    shape = data.draw(st.tuples(*[st.integers(0, 3)] * data.draw(st.integers(0, 3))))
    arr = data.draw(tensors(dtype, shape, -2, 2))
    assert arr.dtype == np.dtype(dtype) and arr.shape == shape
    if arr.dtype.kind in "fi":
        assert np.all(np.abs(arr) <= 2) and np.all(np.isfinite(arr))


def test_table_rows_are_classified_by_domain():
    # Every float row is reachable, and discontinuous rows only ever see graph inputs.
    assert "exp" in UNARY and "log" in UNARY and "floor" in LEAF_UNARY and "lt" in COMPARISONS
    assert all(TABLE[n].domain != "nonint" for n in UNARY)


@QUICK
@given(graphs())
def test_reference_evaluator_agrees_with_numpy_semantics(spec):
    inputs, outputs = spec.build()
    ref = evaluate(outputs, dict(zip(inputs, spec.input_values())))
    for got, want in zip(ref, spec.numpy_outputs()):
        assert compare(np.asarray(got), want) is None, spec


@QUICK
@given(graphs(dtypes=("float32",), kinds=("binary", "reduce", "index")))
def test_kind_and_dtype_restrictions_are_honoured(spec):
    assert all(v.dtype == "float32" for v in spec.inputs)
    for _, vg, _ in spec.steps:
        assert not vg.startswith("T.join") and not vg.startswith("T.dot")


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(graphs(kinds=STEP_KINDS))
def test_spec_source_rebuilds_the_same_graph(spec):
    env = {}
    exec("import numpy as np\nimport verigraph.tensor as T\n" + "\n".join(spec.source_lines())
         + "\n" + spec.values_source(), env)
    got = evaluate(env["outputs"], dict(zip(env["inputs"], env["values"])))
    for a, b in zip(got, spec.numpy_outputs()):
        assert compare(np.asarray(a), b) is None


def test_bad_arguments_are_rejected_when_the_strategy_is_made():
    import pytest
    with pytest.raises(ValueError, match="unknown step kinds"):
        graphs(kinds=("nope",))
    with pytest.raises(ValueError, match="dtypes"):
        graphs(dtypes=("int8",))


@QUICK
@given(graphs(kinds=("update", "stack_split", "cast", "index"), max_steps=4))
def test_update_stack_split_int_cast_and_mask_steps_match_numpy(spec):
    # inc/set_subtensor (np.add.at semantics for repeated indices), stack/split, int casts
    # and boolean masks: the reference evaluator agrees with the NumPy meaning.
    inputs, outputs = spec.build()
    ref = evaluate(outputs, dict(zip(inputs, spec.input_values())))
    for got, want in zip(ref, spec.numpy_outputs()):
        assert compare(np.asarray(got), want) is None, spec
