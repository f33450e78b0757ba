"""Every tutorial-note example with a documented result, run as a user would.

The notes in shared/seeds/ (Theano basics, ``function`` and its arguments,
shared variables, random streams, ``grad``, shape handling) show code and
the answer Theano printed. These tests replay that code against
``import verigraph as theano`` and assert the documented answer. Where
Theano's documented behaviour was a bug verigraph fixes (the ``join``
shape trap, ``specify_shape`` on a wrong input), the test asserts the
corrected behaviour and says so.
"""

from collections import OrderedDict

import numpy as np
import pytest

import verigraph as theano
import verigraph.tensor as T
from verigraph import In, Param, function, shared
from verigraph.tensor.shared_randomstreams import RandomStreams

MODES = ["FAST_RUN", "FAST_COMPILE", "DebugMode"]


# --- algebra -----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_adding_two_scalars(mode):
    x = T.dscalar("x")
    y = T.dscalar("y")
    f = function([x, y], x + y, mode=mode)
    result = f(2, 3)
    assert isinstance(result, np.ndarray) and result.ndim == 0  # a 0-d array, not a float
    assert result == 5.0
    assert np.allclose(f(16.3, 12.1), 28.4)


def test_scalar_expression_with_constant():
    a = T.dscalar("a")
    b = T.dscalar("b")
    f_1 = theano.function([a, b], a + 2 * b)
    assert f_1(2, 3) == 8.0


@pytest.mark.parametrize("mode", MODES)
def test_adding_two_matrices(mode):
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    f = function([x, y], x + y, mode=mode)
    np.testing.assert_array_equal(f([[1, 2], [3, 4]], [[10, 20], [30, 40]]),
                                  [[11.0, 22.0], [33.0, 44.0]])


def test_square_of_sum_with_floatx_vectors():
    a = theano.tensor.vector()  # the package's tensor module, reached as an attribute
    b = theano.tensor.vector()
    out = a ** 2 + b ** 2 + 2 * a * b
    f = theano.function([a, b], out)
    np.testing.assert_allclose(f([0, 1], [1, 2]), [1.0, 9.0])


def test_vector_times_broadcast_scalar():
    a = T.dvector("a")
    b = T.dscalar("b")
    f = function([a, b], a * b)
    np.testing.assert_array_equal(f([1.0, 2.0, 3.0], 2.0), [2.0, 4.0, 6.0])


def test_glossary_constant_and_negated_square():
    x = T.ivector()
    f = function([x], [x + 3, -x ** 2])
    plus_three, negated_square = f(np.array([1, 2], dtype="int32"))
    np.testing.assert_array_equal(plus_three, [4, 5])
    np.testing.assert_array_equal(negated_square, [-1, -4])


@pytest.mark.parametrize("mode", MODES)
def test_multiple_outputs(mode):
    a, b = T.dmatrices("a", "b")
    diff = a - b
    abs_diff = abs(diff)
    diff_squared = diff ** 2
    f = function([a, b], [diff, abs_diff, diff_squared], mode=mode)
    d, ad, d2 = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(d, [[1.0, 0.0], [-1.0, -2.0]])
    np.testing.assert_array_equal(ad, [[1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(d2, [[1.0, 0.0], [1.0, 4.0]])


@pytest.mark.parametrize("mode", MODES)
def test_logistic_function_two_ways(mode):
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    s2 = (1 + T.tanh(x / 2)) / 2
    logistic = function([x], s, mode=mode)
    logistic2 = function([x], s2, mode=mode)
    data = [[0, 1], [-1, -2]]
    expected = [[0.5, 0.73105858], [0.26894142, 0.11920292]]
    np.testing.assert_allclose(logistic(data), expected, rtol=1e-7)
    np.testing.assert_allclose(logistic2(data), logistic(data), rtol=1e-12)


def test_dict_of_outputs_returns_dict():
    # The notes: outputs may be a list or a dict whose keys are strings.
    # (Theano >= 0.9 accepts a dict; PyTensor rejects it.)
    a = T.dscalar("a")
    f = function([a], {"double": 2 * a, "square": a ** 2})
    result = f(3.0)
    assert set(result) == {"double", "square"}
    assert result["double"] == 6.0 and result["square"] == 9.0


def test_allow_input_downcast():
    x = T.fvector("x")
    f = theano.function(inputs=[x], outputs=2 * x, allow_input_downcast=True)
    result = f(np.array([1.5, 2.0], dtype="float64"))
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, [3.0, 4.0])


def test_floatx_is_configured():
    assert theano.config.floatX in ("float32", "float64")
    assert T.scalar().dtype == theano.config.floatX
    assert T.matrix().dtype == theano.config.floatX


# --- default values ----------------------------------------------------------

def test_param_default_with_name():
    x, y = T.dscalars("x", "y")
    z = x + y
    f = function([x, Param(y, default=1, name="by_name")], z)
    assert f(33) == 34.0
    assert f(33, 2) == 35.0
    assert f(33, by_name=3) == 36.0


@pytest.mark.parametrize("mode", MODES)
def test_in_default_values_positional_and_keyword(mode):
    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z, mode=mode)
    assert f(33) == 68.0
    assert f(33, 2) == 70.0
    assert f(33, 0, 1) == 33.0
    assert f(33, w_by_name=1) == 34.0
    assert f(33, w_by_name=1, y=0) == 33.0


# --- shared variables, updates, givens ----------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_accumulator(mode):
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)], mode=mode)
    assert state.get_value() == 0
    accumulator(1)
    assert state.get_value() == 1
    accumulator(300)
    assert state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1  # the output is the value before the update
    assert state.get_value() == 2


def test_decrementor_shares_the_accumulators_state():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])
    decrementor = function([inc], state, updates=[(state, state - inc)])
    accumulator(2)
    assert decrementor(2) == 2
    assert state.get_value() == 0


@pytest.mark.parametrize("mode", MODES)
def test_givens_replaces_shared_variable_without_touching_it(mode):
    state = shared(0)
    inc = T.iscalar("inc")
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)  # same type as the shared variable it replaces
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)], mode=mode)
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0


def test_givens_with_a_python_number():
    a, b = T.dscalars("a", "b")
    w1 = T.dscalar("w1")
    c = a + w1 * b
    f_2a = theano.function([a, b], c, givens=[(w1, -2.0)])
    assert f_2a(2, 3) == -4.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("as_dict", [True, False], ids=["dict", "list"])
def test_float_shared_counter_updates(mode, as_dict):
    # PyTensor's DebugMode crashes on a float 0-d shared update under NumPy 2
    # (ndarray.itemset); verigraph must run it.
    a, b = T.dscalars("a", "b")
    w2 = theano.shared(0.0, name="w2")
    c = a + 2 * b + w2
    updates = {w2: w2 + 1} if as_dict else [(w2, w2 + 1)]
    f_3 = theano.function([a, b], c, updates=updates, mode=mode)
    assert [float(f_3(2, 3)) for _ in range(5)] == [8.0, 9.0, 10.0, 11.0, 12.0]


def test_updates_as_tuple_and_ordered_dict():
    x = T.dscalar("x")
    p = shared(1.0, name="p")
    q = shared(10.0, name="q")
    f = function([x], p + q, updates=((p, p + x), (q, q - x)))
    g = function([x], p * q, updates=OrderedDict([(p, p * x), (q, q * x)]))
    assert f(1.0) == 11.0
    assert (p.get_value(), q.get_value()) == (2.0, 9.0)
    assert g(2.0) == 18.0
    assert (p.get_value(), q.get_value()) == (4.0, 18.0)


def test_shared_variable_as_explicit_input_is_rejected():
    a, b = T.dscalars("a", "b")
    w2 = theano.shared(-2.0, name="w2")
    c = a + w2 * b
    with pytest.raises(TypeError):
        theano.function([a, b, w2], c)


def test_shared_get_value_returns_the_initial_array():
    w = theano.shared(np.zeros(10), name="w")
    np.testing.assert_array_equal(w.get_value(), np.zeros(10))
    assert w.name == "w"


def test_minimum_search_with_updates_only():
    x_init = -1.0
    x = theano.shared(x_init, name="x")
    y = (x - 1.0) ** 4
    f_4 = theano.function([], y, updates={x: x + 0.01})
    y_prev = (x_init - 1.1) ** 4
    x_min = None
    for _ in range(1000):
        y_update = f_4()
        if np.abs(y_update - y_prev) < 1e-6:
            x_min = x.get_value()
            break
        y_prev = y_update
    assert x_min == pytest.approx(0.99, abs=1e-6)  # documented: 0.98999995552


def test_minibatch_index_with_givens_slice():
    # The RBM note's pattern: the function takes an index; the data arrive
    # through givens as a slice of a shared matrix.
    batch_size = 2
    train_set_x = shared(np.arange(12.0).reshape(6, 2), name="train_set_x")
    index = T.iscalar("index")
    x = T.dmatrix("x")
    f = theano.function([index], x.sum(),
                        givens={x: train_set_x[index * batch_size:(index + 1) * batch_size]},
                        name="minibatch_sum")
    assert f(0) == 0 + 1 + 2 + 3
    assert f(1) == 4 + 5 + 6 + 7


def test_lookup_table_rows_updated_with_inc_and_set_subtensor():
    lookup_table = theano.shared(np.zeros((5, 2)), name="lookup_table")
    idx = T.lvector("idx")
    subset = lookup_table[idx]
    cost = (subset * np.array([1.0, 2.0])).sum()
    g = theano.grad(cost, subset)
    f_inc = theano.function([idx], cost, updates=[(lookup_table, T.inc_subtensor(subset, g))])
    f_set = theano.function([idx], cost,
                            updates=[(lookup_table, T.set_subtensor(subset, subset + g))])
    f_inc([1, 3, 3])  # a repeated row accumulates its gradient twice
    np.testing.assert_array_equal(lookup_table.get_value(),
                                  [[0, 0], [1, 2], [0, 0], [2, 4], [0, 0]])
    f_set([0])
    np.testing.assert_array_equal(lookup_table.get_value(),
                                  [[1, 2], [1, 2], [0, 0], [2, 4], [0, 0]])


# --- random streams -----------------------------------------------------------

def _tutorial_streams():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    return srng, rv_u, rv_n


def test_uniform_stream_advances_each_call():
    _, rv_u, _ = _tutorial_streams()
    f = function([], rv_u)
    first, second = f(), f()
    assert first.shape == (2, 2)
    assert np.all((first >= 0) & (first < 1))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("mode", MODES)
def test_no_default_updates_repeats_the_draw(mode):
    # PyTensor's DebugMode crashes on random streams (_bit_generator); verigraph must not.
    _, _, rv_n = _tutorial_streams()
    g = function([], rv_n, no_default_updates=True, mode=mode)
    first = g()
    assert first.shape == (2, 2)
    np.testing.assert_array_equal(first, g())


@pytest.mark.parametrize("mode", MODES)
def test_one_draw_per_call(mode):
    _, rv_u, _ = _tutorial_streams()
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u, mode=mode)
    np.testing.assert_allclose(nearly_zeros(), np.zeros((2, 2)), atol=1e-15)


def test_seeding_one_stream_and_all_streams():
    # Theano keeps a numpy RandomState in each stream's shared rng variable.
    srng, rv_u, _ = _tutorial_streams()
    f = function([], rv_u)

    def reseed_rv_u():
        rng_val = rv_u.rng.get_value(borrow=True)
        rng_val.seed(89234)
        rv_u.rng.set_value(rng_val, borrow=True)

    reseed_rv_u()
    a = f()
    reseed_rv_u()
    np.testing.assert_array_equal(a, f())

    srng.seed(902340)
    b = f()
    srng.seed(902340)
    np.testing.assert_array_equal(b, f())


def test_sharing_a_stream_between_functions():
    _, rv_u, _ = _tutorial_streams()
    f = function([], rv_u)
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)
    state_after_v0 = rv_u.rng.get_value().get_state()
    nearly_zeros()  # advances rv_u's generator too
    v1 = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state_after_v0)
    rv_u.rng.set_value(rng, borrow=True)
    v2 = f()
    v3 = f()
    assert not np.array_equal(v1, v2)
    np.testing.assert_array_equal(v1, v3)


class _Graph:
    """The notes' two-graph example: one uniform draw from its own streams."""

    def __init__(self, seed=123):
        self.rng = RandomStreams(seed)
        self.y = self.rng.uniform(size=(1,))


def _copy_random_state(g1, g2):
    # The notes also handle MRG_RandomStreams; only RandomStreams is used here.
    for su1, su2 in zip(g1.rng.state_updates, g2.rng.state_updates, strict=True):
        su2[0].set_value(su1[0].get_value())


def test_copying_random_state_synchronises_two_graphs():
    g1, g2 = _Graph(seed=123), _Graph(seed=987)
    f1, f2 = theano.function([], g1.y), theano.function([], g2.y)
    assert not np.array_equal(f1(), f2())
    _copy_random_state(g1, g2)
    np.testing.assert_array_equal(f1(), f2())


def test_copying_random_state_documented_values():
    # Exact numbers need Theano's seeding: RandomStreams(seed) draws each
    # stream's seed with RandomState(seed).randint(2**30), and each stream is
    # a numpy RandomState.
    g1, g2 = _Graph(seed=123), _Graph(seed=987)
    f1, f2 = theano.function([], g1.y), theano.function([], g2.y)
    np.testing.assert_allclose(f1(), [0.72803009], rtol=1e-7)
    np.testing.assert_allclose(f2(), [0.55056769], rtol=1e-7)
    _copy_random_state(g1, g2)
    np.testing.assert_allclose(f1(), [0.59044123], rtol=1e-7)
    np.testing.assert_allclose(f2(), [0.59044123], rtol=1e-7)


# --- derivatives ----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_grad_of_square(mode):
    x = T.dscalar("x")
    gy = T.grad(x ** 2, x)
    f = theano.function([x], gy, mode=mode)
    assert f(4) == pytest.approx(8.0)
    assert f(94.2) == pytest.approx(188.4)
    assert "x" in theano.pp(gy)


@pytest.mark.parametrize("mode", MODES)
def test_grad_of_cubic_product(mode):
    x = T.dscalar("x")
    y = (x - 4) * (x ** 2 * 2 + 6)
    gy = T.grad(cost=y, wrt=x)
    f = theano.function(inputs=[x], outputs=gy, mode=mode)
    assert [float(f(v)) for v in (0, 1, 2)] == pytest.approx([6.0, -4.0, -2.0])
    printed = theano.pp(f.maker.fgraph.outputs[0])
    assert isinstance(printed, str) and "x" in printed


@pytest.mark.parametrize("mode", MODES)
def test_grad_of_logistic(mode):
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    dlogistic = theano.function([x], gs, mode=mode)
    np.testing.assert_allclose(dlogistic([[0, 1], [-1, -2]]),
                               [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=1e-7)


def test_grad_consider_constant():
    x = T.dscalar("x")
    c = x ** 2
    cost = c * x
    full = theano.function([x], T.grad(cost, x))
    c_constant = theano.function([x], T.grad(cost, x, consider_constant=[c]))
    assert full(3.0) == pytest.approx(27.0)  # d(x**3)/dx
    assert c_constant(3.0) == pytest.approx(9.0)  # c held fixed: d(c*x)/dx = c


def test_rosenbrock_gradient_descent():
    x_init = np.array([2.0, 2.0])
    x = theano.shared(x_init, name="x")
    a, b = 1.0, 100.0
    z_rb = (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2
    dx = T.grad(cost=z_rb, wrt=x)
    train = theano.function(inputs=[], outputs=[z_rb], updates=[(x, x - 0.001 * dx)])
    for _ in range(10000):
        train()
    x_fin = x.get_value()
    assert (round(float(x_fin[0]), 3), round(float(x_fin[1]), 3)) == (1.008, 1.016)


# --- printing ---------------------------------------------------------------------

def test_pp_names_the_variables():
    x, y = T.dscalars("x", "y")
    printed = theano.pp(x + y)
    assert "x" in printed and "y" in printed
    assert theano.printing.pp(x * y) == theano.pp(x * y)


def test_debugprint_to_string():
    x = T.dmatrix("x")
    f = theano.function([x], x * 2)
    text = theano.printing.debugprint(f, file="str")
    assert isinstance(text, str) and "x" in text


# --- shape information ------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_shape_of_square(mode):
    x = T.matrix("x")
    f = theano.function([x], (x ** 2).shape, mode=mode)
    np.testing.assert_array_equal(f(np.ones((3, 4), dtype=theano.config.floatX)), [3, 4])


def test_shape_of_square_skips_the_power_in_fast_run():
    # Documented: the optimized graph reads the input's shape, no power left.
    x = T.matrix("x")
    f = theano.function([x], (x ** 2).shape, mode="FAST_RUN")
    assert "pow" not in theano.printing.debugprint(f, file="str").lower()


@pytest.mark.parametrize("mode", MODES)
def test_join_shape_of_mismatched_inputs_raises(mode):
    # Theano (and PyTensor in FAST_RUN and FAST_COMPILE) answered [8 4] here.
    # verigraph target: a ShapeMismatchError, a ValueError, in every mode.
    x = theano.tensor.matrix("x")
    y = theano.tensor.matrix("y")
    z = theano.tensor.join(0, x, y)
    xv = np.random.RandomState(0).rand(5, 4).astype(theano.config.floatX)
    yv = np.random.RandomState(1).rand(3, 3).astype(theano.config.floatX)
    f = theano.function([x, y], z.shape, mode=mode)
    with pytest.raises(ValueError):
        f(xv, yv)


@pytest.mark.parametrize("mode", MODES)
def test_join_value_of_mismatched_inputs_raises(mode):
    x, y = T.dmatrices("x", "y")
    f = theano.function([x, y], T.join(0, x, y), mode=mode)
    with pytest.raises(ValueError):
        f(np.ones((5, 4)), np.ones((3, 3)))


@pytest.mark.parametrize("mode", MODES)
def test_join_shape_of_matching_inputs(mode):
    x, y = T.dmatrices("x", "y")
    f = theano.function([x, y], T.join(0, x, y).shape, mode=mode)
    np.testing.assert_array_equal(f(np.ones((5, 4)), np.ones((3, 4))), [8, 4])


@pytest.mark.parametrize("mode", MODES)
def test_specify_shape(mode):
    x = theano.tensor.matrix()
    x_specify_shape = theano.tensor.specify_shape(x, (2, 2))
    f = theano.function([x], (x_specify_shape ** 2).shape, mode=mode)
    np.testing.assert_array_equal(f(np.ones((2, 2), dtype=theano.config.floatX)), [2, 2])
    # verigraph target: a declared shape the input does not have is an error,
    # never a silently wrong constant shape (PyTensor's FAST_RUN answers [2 2]).
    with pytest.raises((ValueError, AssertionError)):
        f(np.ones((3, 3), dtype=theano.config.floatX))
