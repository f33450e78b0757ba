"""RandomVariable: one draw from a distribution, ``(rng, size, *params) -> (new_rng, sample)``.

The Op is deterministic given its rng input: ``perform`` draws from a deep copy of the
generator and returns that advanced copy as the new rng, never mutating its input. So the
reference evaluator, the fast linker and DebugMode all reproduce the same numbers from the
same state. ``stochastic = True`` keeps merge and constant folding away from it.
"""
from __future__ import annotations

import copy

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.random.type import RandomGeneratorType, random_generator_type
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import TensorVariable, as_tensor_variable


class RandomTensorVariable(TensorVariable):
    """A sample; ``rng`` is the shared generator it draws from (Theano's ``rv.rng``)."""

    __slots__ = ("rng", "update")

    def __init__(self, type, owner=None, index=None, name=None):
        super().__init__(type, owner, index, name)
        self.rng = None
        self.update = None


def _randint(rng, low, high, size):
    # Generator.integers and RandomState.randint share the exclusive-high convention.
    if isinstance(rng, np.random.Generator):
        return rng.integers(low, high, size=size)
    return rng.randint(low, high, size=size)


def _multinomial(rng, n, pvals, size):
    pvals = np.asarray(pvals, dtype="float64")
    n = np.asarray(n)
    if pvals.ndim == 1 and n.ndim == 0:
        return rng.multinomial(int(n), pvals, size=size)
    # Batched probabilities: one row per leading index (RandomState has no broadcasting).
    batch = np.broadcast_shapes(n.shape, pvals.shape[:-1])
    if size is not None and tuple(size) != batch:
        raise ValueError(f"multinomial: size {tuple(size)} does not match the batch shape "
                         f"{batch} of n and pvals")
    nb = np.broadcast_to(n, batch)
    pb = np.broadcast_to(pvals, batch + pvals.shape[-1:])
    out = np.empty(batch + pvals.shape[-1:], dtype="int64")
    for idx in np.ndindex(*batch):
        out[idx] = rng.multinomial(int(nb[idx]), pb[idx])
    return out


def _choice(rng, a, p, replace, size):
    a = np.asarray(a)
    p = None if p is None or np.size(p) == 0 else np.asarray(p, dtype="float64")
    return rng.choice(a if a.ndim else int(a), size=size, replace=bool(replace), p=p)


def _permutation(rng, x, size):
    x = np.asarray(x)
    if size is None or size == ():
        return rng.permutation(x if x.ndim else int(x))
    return np.stack([rng.permutation(x if x.ndim else int(x))
                     for _ in range(int(np.prod(size)))]).reshape(tuple(size) + (-1,))


# distribution name -> (draw(rng, params, size), number of params, trailing sample dims)
DISTRIBUTIONS = {
    "uniform": (lambda r, p, s: r.uniform(p[0], p[1], size=s), 2, 0),
    "normal": (lambda r, p, s: r.normal(p[0], p[1], size=s), 2, 0),
    "binomial": (lambda r, p, s: r.binomial(p[0], p[1], size=s), 2, 0),
    "integers": (lambda r, p, s: _randint(r, p[0], p[1], s), 2, 0),
    "multinomial": (lambda r, p, s: _multinomial(r, p[0], p[1], s), 2, 1),
    "choice": (lambda r, p, s: _choice(r, p[0], p[1], p[2], s), 3, 0),
    "permutation": (lambda r, p, s: _permutation(r, p[0], s), 1, 1),
}


class RandomVariable(Op):
    """Draw from distribution ``dist``; ``ndim`` is the sample's number of dimensions.

    Inputs: ``rng``, ``size`` (int64 vector; empty means "the parameters' broadcast shape"),
    then the distribution's parameters. Outputs: the advanced rng and the sample.
    """

    __props__ = ("dist", "dtype", "ndim", "has_size")
    stochastic = True

    def __init__(self, dist, dtype, ndim, has_size):
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"RandomVariable: unknown distribution {dist!r}; known: "
                             f"{sorted(DISTRIBUTIONS)}")
        self.dist, self.dtype, self.ndim, self.has_size = dist, str(np.dtype(dtype)), int(ndim), \
            bool(has_size)

    def make_node(self, rng, size, *params, static_shape=None):
        if not isinstance(getattr(rng, "type", None), RandomGeneratorType):
            raise TypeError(f"RandomVariable({self.dist}): the first input must be an rng "
                            f"variable (shared(np.random.default_rng())), got {rng!r:.60}")
        size = as_tensor_variable(size)
        if size.ndim != 1 or size.dtype not in ("int64", "int32"):
            raise TypeError(f"RandomVariable({self.dist}): size must be an int vector, got "
                            f"{size.type}")
        nparams = DISTRIBUTIONS[self.dist][1]
        if len(params) != nparams:
            raise TypeError(f"RandomVariable({self.dist}) takes {nparams} parameters, got "
                            f"{len(params)}")
        params = [as_tensor_variable(p) for p in params]
        shape = tuple(static_shape) if static_shape is not None else self._static_shape(size)
        sample = RandomTensorVariable(TensorType(self.dtype, shape))
        return Apply(self, [rng, size, *params], [random_generator_type(), sample])

    def _static_shape(self, size):
        """The sample's static shape: known ``size`` entries, unknown elsewhere."""
        from verigraph.tensor.shape import static_entries
        n = size.type.shape[0]
        if not self.has_size or n is None or n > self.ndim:
            return (None,) * self.ndim
        return tuple(static_entries(size, n)) + (None,) * (self.ndim - n)

    def draw(self, rng, size, params):
        """A fresh sample (and the advanced copy of ``rng``), never touching ``rng``."""
        new_rng = copy.deepcopy(rng)
        shape = tuple(int(s) for s in size) if self.has_size else None
        fn = DISTRIBUTIONS[self.dist][0]
        sample = np.asarray(fn(new_rng, params, shape), dtype=self.dtype)
        if sample.ndim != self.ndim:
            raise ValueError(f"RandomVariable({self.dist}): drew a {sample.ndim}-d sample of "
                             f"shape {sample.shape}, but its type is {self.ndim}-d")
        return new_rng, sample

    def perform(self, node, inputs, output_storage):
        new_rng, sample = self.draw(inputs[0], inputs[1], inputs[2:])
        output_storage[0][0] = new_rng
        output_storage[1][0] = sample

    def make_fast_fn(self, node):
        draw = self.draw
        return lambda rng, size, *params: draw(rng, size, params)

    def grad(self, inputs, output_grads):
        from verigraph.gradient import grad_undefined
        # The rng and the size carry no gradient; the sample is not differentiable in its
        # parameters (a reparameterisation is the user's to write).
        return [None, None] + [grad_undefined(self, k + 2, p, "for a random draw")
                               if np.dtype(p.dtype).kind in "fc" else None
                               for k, p in enumerate(inputs[2:])]
