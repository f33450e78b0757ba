"""Working precision: values computed through float32 are compared at float32 tolerance."""
import numpy as np

import verigraph.tensor as T
from verigraph.checks.precision import loosest, node_working_dtype, working_dtypes
from verigraph.checks.tolerance import compare
from verigraph.tensor.fused import FusedElemwise


def test_loosest_ignores_ints_and_none():
    assert loosest(["int64", None, "float64", "float32", "bool"]) == "float32"
    assert loosest(["int8", "bool"]) is None
    assert loosest(["complex64", "float64"]) == "complex64"


def test_graph_inputs_do_not_count_but_their_casts_do():
    x, y = T.dvector("x"), T.fvector("y")
    outs = [x * 2.0, T.cast(y, "float64") + x, T.cast(T.exp(y), "float64"),
            T.cast(T.argmax(y), "float64")]
    assert working_dtypes(outs) == ["float64", "float64", "float32", "float64"]


def test_fused_node_counts_its_steps():
    y = T.fvector("y")
    steps = [("exp", (("i", 0),), "float32"), ("cast_float64", (("s", 0),), "float64")]
    node = FusedElemwise(steps).make_node(y)
    assert node.outputs[0].dtype == "float64"
    assert node_working_dtype(node) == "float32"


def test_compare_loosens_floats_only():
    a = np.array([1.0 + 3e-7])
    b = np.array([1.0])
    assert compare(a, b) is not None
    assert compare(a, b, "float32") is None
    assert compare(np.array([2]), np.array([1]), "float32") is not None
    # Never tighter than the value's own dtype.
    assert compare(a.astype("float32"), b.astype("float32"), "float64") is None
