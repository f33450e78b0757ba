"""RandomStreams: Theano's factory of random draws, each with its own shared generator.

Each draw gets a shared rng variable seeded from the streams' seed generator exactly as
Theano did (``RandomState(seed).randint(2**30)`` per draw, one ``RandomState`` per stream),
so the tutorials' documented numbers are reproduced. The rng's ``default_update`` is the
draw's advanced rng, so every call of a function using the draw moves the stream on.
"""
from __future__ import annotations

import numpy as np

from verigraph.configparser import config
from verigraph.tensor.random.op import RandomVariable
from verigraph.tensor.random.type import shared_rng
from verigraph.tensor.variable import as_tensor_variable


def _size_vector(size):
    """(symbolic int64 vector, its length) for a ``size`` argument."""
    from verigraph.tensor.shape import as_shape_vector
    vec = as_shape_vector(size)
    n = vec.type.shape[0]
    if n is None:
        raise ValueError(f"random draw: the length of the size vector {size} must be known; "
                         f"pass a tuple")
    return vec, n


def _float_dtype(dtype, *params):
    if dtype is not None:
        return config.floatX if dtype == "floatX" else str(np.dtype(dtype))
    strong = [p.dtype for p in params if not getattr(p, "weak", False)]
    if strong:
        dt = str(np.result_type(*strong))
        if np.dtype(dt).kind == "f":
            return dt
    return config.floatX


class RandomStreams:
    """Symbolic random draws: ``uniform``, ``normal``, ``binomial``, ``random_integers``,
    ``integers``, ``choice``, ``permutation``, ``multinomial``.

    ``seed(n)`` reseeds every stream made so far; ``state_updates`` lists
    ``(shared_rng, new_rng)`` pairs, one per draw.
    """

    def __init__(self, seed=None):
        self.state_updates = []
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.RandomState(seed)

    def seed(self, seed=None):
        """Re-seed every stream from ``seed`` (the constructor's seed by default)."""
        if seed is None:
            seed = self.default_instance_seed
        seedgen = np.random.RandomState(seed)
        for old_r, _new_r in self.state_updates:
            old_r.set_value(np.random.RandomState(int(seedgen.randint(2 ** 30))), borrow=True)

    def gen(self, dist, size, params, dtype, ndim_extra=0, param_ndim=None):
        """Build one draw from ``dist`` on a new shared rng; returns the sample variable."""
        params = [as_tensor_variable(p) for p in params]
        if size is None or (isinstance(size, (tuple, list)) and len(size) == 0):
            from verigraph.tensor.variable import constant
            vec = constant(np.zeros(0, dtype="int64"))
            base_nd = param_ndim if param_ndim is not None else max(
                [p.ndim for p in params] + [0])
            has_size = False
        else:
            vec, base_nd = _size_vector(size)
            has_size = True
        ndim = base_nd + ndim_extra
        seed = int(self.gen_seedgen.randint(2 ** 30))
        rng = shared_rng(np.random.RandomState(seed), borrow=True)
        op = RandomVariable(dist, dtype, ndim, has_size)
        node = op.make_node(rng, vec, *params)
        new_rng, sample = node.outputs
        rng.default_update = new_rng
        sample.rng = rng
        sample.update = (rng, new_rng)
        self.state_updates.append((rng, new_rng))
        return sample

    # -- distributions --------------------------------------------------------------------
    def uniform(self, size=(), low=0.0, high=1.0, ndim=None, dtype=None):
        """Uniform on ``[low, high)``; floatX unless ``dtype``."""
        low, high = as_tensor_variable(low), as_tensor_variable(high)
        return self.gen("uniform", size, [low, high], _float_dtype(dtype, low, high))

    def normal(self, size=(), avg=0.0, std=1.0, ndim=None, dtype=None):
        """Normal with mean ``avg`` and standard deviation ``std``; floatX unless ``dtype``."""
        avg, std = as_tensor_variable(avg), as_tensor_variable(std)
        return self.gen("normal", size, [avg, std], _float_dtype(dtype, avg, std))

    def binomial(self, size=(), n=1, p=0.5, ndim=None, dtype="int64", prob=None):
        """Number of successes in ``n`` trials of probability ``p``."""
        if prob is not None:
            p = prob
        return self.gen("binomial", size, [n, p], _dtype(dtype))

    def random_integers(self, size=(), low=0, high=1, ndim=None, dtype="int64"):
        """Integers uniform on ``[low, high]`` (inclusive, as Theano)."""
        high = as_tensor_variable(high)
        return self.gen("integers", size, [low, high + 1], _dtype(dtype))

    def integers(self, size=(), low=0, high=None, ndim=None, dtype="int64"):
        """Integers uniform on ``[low, high)`` (NumPy's convention); ``[0, low)`` if no high."""
        if high is None:
            low, high = 0, low
        return self.gen("integers", size, [low, high], _dtype(dtype))

    def choice(self, size=(), a=2, replace=True, p=None, ndim=None, dtype="int64"):
        """Draws from ``arange(a)`` (or the vector ``a``), with probabilities ``p``."""
        p = np.zeros(0) if p is None else p
        a = as_tensor_variable(a)
        dtype = _dtype(dtype) if a.ndim == 0 else a.dtype
        return self.gen("choice", size, [a, p, int(bool(replace))], dtype, param_ndim=0)

    def permutation(self, size=(), n=1, ndim=None, dtype="int64"):
        """A random permutation of ``arange(n)`` (one per entry of ``size``)."""
        return self.gen("permutation", size, [n], _dtype(dtype), ndim_extra=1, param_ndim=0)

    def multinomial(self, size=(), n=1, pvals=(0.5, 0.5), ndim=None, dtype="int64"):
        """Counts of ``n`` draws over categories with probabilities ``pvals`` (last axis)."""
        pvals = as_tensor_variable(pvals)
        n = as_tensor_variable(n)
        return self.gen("multinomial", size, [n, pvals], _dtype(dtype), ndim_extra=1,
                        param_ndim=max(pvals.ndim - 1, n.ndim))

    def shuffle_row_elements(self, input):
        """``input`` with its rows in a random order."""
        from verigraph.tensor.shape import shape_i
        perm = self.permutation(n=shape_i(as_tensor_variable(input), 0))
        return input[perm]


def _dtype(dtype):
    return config.floatX if dtype == "floatX" else str(np.dtype(dtype))
