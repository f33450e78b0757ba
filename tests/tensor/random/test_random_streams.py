"""RandomStreams and the RandomVariable Op: draws, state handling, modes, tutorial behaviour."""
import copy
import importlib.util

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import NullTypeGradError
from verigraph.sandbox.rng_mrg import MRG_RandomStreams
from verigraph.tensor.random import RandomStreams, RandomVariable, shared_rng
from verigraph.tensor.random.type import SharedRandomGenerator, random_generator_type

MODES = ["FAST_RUN", "FAST_COMPILE"] + (
    ["DebugMode"] if importlib.util.find_spec("verigraph.modes.debug") else [])


def _theano_stream(seed, k=0):
    """The RandomState Theano gives the k-th draw of RandomStreams(seed)."""
    gen = np.random.RandomState(seed)
    for _ in range(k):
        gen.randint(2 ** 30)
    return np.random.RandomState(int(gen.randint(2 ** 30)))


def test_shared_accepts_generators_and_copies_them():
    g = np.random.default_rng(1)
    s = vg.shared(g, name="g")
    assert isinstance(s, SharedRandomGenerator) and s.type == random_generator_type
    assert s.get_value() is not g
    assert random_generator_type.values_eq(s.get_value(), g)
    s.set_value(np.random.RandomState(3))
    assert isinstance(s.get_value(borrow=True), np.random.RandomState)
    with pytest.raises(TypeError, match="Generator"):
        s.set_value(np.zeros(3))


@pytest.mark.parametrize("mode", MODES)
def test_a_generator_shared_variable_drives_a_draw(mode):
    rng = vg.shared(np.random.default_rng(42))
    op = RandomVariable("normal", "float64", 1, True)
    new_rng, sample = op(rng, [3], 0.0, 1.0)
    f = vg.function([], sample, updates=[(rng, new_rng)], mode=mode)
    expected = np.random.default_rng(42)
    np.testing.assert_allclose(f(), expected.normal(0, 1, size=3))
    np.testing.assert_allclose(f(), expected.normal(0, 1, size=3))


def test_perform_never_mutates_its_rng():
    g = np.random.default_rng(0)
    before = copy.deepcopy(g)
    op = RandomVariable("uniform", "float64", 1, True)
    node = op.make_node(shared_rng(g), T.constant(np.array([2])), T.constant(0.0),
                        T.constant(1.0))
    out = [[None], [None]]
    op.perform(node, [g, np.array([2]), 0.0, 1.0], out)
    assert random_generator_type.values_eq(g, before)
    assert not random_generator_type.values_eq(out[0][0], before)


@pytest.mark.parametrize("mode", MODES)
def test_distributions_match_numpy(mode):
    srng = RandomStreams(99)
    draws = [
        (srng.uniform((2, 3), low=-1.0, high=2.0), lambda r: r.uniform(-1.0, 2.0, size=(2, 3))),
        (srng.normal((4,), avg=1.0, std=2.0), lambda r: r.normal(1.0, 2.0, size=(4,))),
        (srng.binomial((5,), n=3, p=0.4), lambda r: r.binomial(3, 0.4, size=(5,))),
        (srng.random_integers((6,), low=2, high=4), lambda r: r.randint(2, 5, size=(6,))),
        (srng.integers((3,), low=0, high=10), lambda r: r.randint(0, 10, size=(3,))),
        (srng.choice((4,), a=5, p=[0.1, 0.2, 0.3, 0.2, 0.2]),
         lambda r: r.choice(5, size=(4,), p=[0.1, 0.2, 0.3, 0.2, 0.2])),
        (srng.permutation(n=6), lambda r: r.permutation(6)),
        (srng.multinomial(n=10, pvals=[0.2, 0.3, 0.5]),
         lambda r: r.multinomial(10, [0.2, 0.3, 0.5])),
    ]
    f = vg.function([], [d for d, _ in draws], mode=mode)
    got = f()
    for k, ((var, ref), value) in enumerate(zip(draws, got)):
        expected = ref(_theano_stream(99, k))
        assert value.dtype == np.dtype(var.dtype)
        np.testing.assert_allclose(value, expected)
    assert got[0].dtype == np.dtype(vg.config.floatX)
    assert got[2].dtype == np.int64


def test_float32_draws_and_symbolic_size():
    srng = RandomStreams(5)
    p = T.dmatrix("p")
    b = srng.binomial(size=p.shape, n=1, p=p, dtype="float32")
    u = srng.uniform((3,), dtype="float32")
    f = vg.function([p], [b, u])
    bv, uv = f(np.full((2, 3), 0.5))
    assert bv.shape == (2, 3) and bv.dtype == np.float32 and set(np.unique(bv)) <= {0.0, 1.0}
    assert uv.dtype == np.float32


def test_draws_are_never_merged_or_folded():
    srng = RandomStreams(1)
    a, b = srng.uniform((3,)), srng.uniform((3,))
    f = vg.function([], [a, b])
    x, y = f()
    assert not np.array_equal(x, y)
    nodes = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, RandomVariable)]
    assert len(nodes) == 2 and all(n.op.stochastic for n in nodes)


@pytest.mark.parametrize("mode", MODES)
def test_one_draw_per_variable_per_call(mode):
    srng = RandomStreams(234)
    rv_u = srng.uniform((2, 2))
    f = vg.function([], [rv_u, rv_u + rv_u - 2 * rv_u], mode=mode)
    a, z = f()
    np.testing.assert_allclose(z, 0.0, atol=1e-15)
    assert not np.array_equal(a, f()[0])


@pytest.mark.parametrize("policy", ["always", "first"])
def test_crosscheck_reproduces_the_same_draws(policy):
    srng = RandomStreams(12)
    with vg.config.change_flags(crosscheck=policy):
        f = vg.function([], srng.normal((3,)) * 2)
        for _ in range(3):
            f()


def test_seed_state_and_rng_attribute():
    srng = RandomStreams(234)
    rv = srng.normal((3,))
    assert isinstance(rv.rng, SharedRandomGenerator) and srng.state_updates[0][0] is rv.rng
    f = vg.function([], rv)
    state = rv.rng.get_value()
    a = f()
    rv.rng.set_value(state)
    np.testing.assert_array_equal(f(), a)
    srng.seed(7)
    b = f()
    srng.seed(7)
    np.testing.assert_array_equal(f(), b)


def test_copy_random_state_between_graphs_and_mrg_name():
    class Graph:
        def __init__(self, seed, cls):
            self.rng = cls(seed)
            self.y = self.rng.uniform(size=(1,))

    def copy_random_state(g1, g2):
        if isinstance(g1.rng, MRG_RandomStreams):
            g2.rng.rstate = g1.rng.rstate
        for (su1, su2) in zip(g1.rng.state_updates, g2.rng.state_updates):
            su2[0].set_value(su1[0].get_value())

    for cls in (RandomStreams, MRG_RandomStreams):
        g1, g2 = Graph(123, cls), Graph(987, cls)
        f1, f2 = vg.function([], g1.y), vg.function([], g2.y)
        np.testing.assert_allclose(f1(), [0.72803009], rtol=1e-7)
        np.testing.assert_allclose(f2(), [0.55056769], rtol=1e-7)
        copy_random_state(g1, g2)
        np.testing.assert_allclose(f1(), [0.59044123], rtol=1e-7)
        np.testing.assert_allclose(f2(), [0.59044123], rtol=1e-7)


def test_no_default_updates_and_a_failing_call_keep_the_state():
    srng = RandomStreams(3)
    rv = srng.uniform((2,))
    g = vg.function([], rv, no_default_updates=True)
    np.testing.assert_array_equal(g(), g())
    x = T.dvector("x")
    f = vg.function([x], rv + x)
    before = rv.rng.get_value()
    with pytest.raises(ValueError):
        f(np.ones(3))
    assert random_generator_type.values_eq(rv.rng.get_value(), before)


def test_gradient_through_a_draw_is_undefined():
    srng = RandomStreams(3)
    mu = T.dscalar("mu")
    with pytest.raises(NullTypeGradError):
        T.grad(T.sum(srng.normal((2,), avg=mu)), mu)


def test_function_with_draws_pickles():
    import pickle
    srng = RandomStreams(3)
    f = vg.function([], srng.uniform((2,)))
    g = pickle.loads(pickle.dumps(f))
    assert g().shape == (2,)
