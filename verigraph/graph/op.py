"""The Op contract: props-based identity, make_node, perform (the reference), infer_shape, gradients."""
from __future__ import annotations

import inspect


class Op:
    """Base class of every operation.

    Subclasses declare ``__props__`` (fields that define equality and hash),
    ``make_node``, ``perform`` (plain NumPy, fresh outputs, never mutating inputs),
    and optionally ``infer_shape``, ``L_op``/``grad``, ``R_op``, ``destroy_map``,
    ``view_map`` and ``make_fast_fn`` (the fast path; DESIGN.md calls it ``fast_perform``).
    """

    __props__: tuple = ()
    destroy_map: dict = {}
    view_map: dict = {}
    # True for Ops whose outputs depend on hidden state (random draws); never merged or folded.
    stochastic = False

    def _props(self):
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other):
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self):
        return hash((type(self), self._props()))

    def __str__(self):
        if not self.__props__:
            return type(self).__name__
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.__props__)
        return f"{type(self).__name__}{{{args}}}"

    __repr__ = __str__

    def make_node(self, *inputs):
        """Type-check ``inputs`` and return an Apply with fresh output Variables."""
        raise NotImplementedError

    def __call__(self, *inputs, **kwargs):
        node = self.make_node(*inputs, **kwargs)
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def perform(self, node, inputs, output_storage):
        """Reference implementation: write fresh results into ``output_storage[i][0]``."""
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def make_fast_fn(self, node):
        """Return ``fn(*input_values) -> output value (or tuple)`` for the fast linker.

        The default wraps ``perform``; Ops override it with a leaner path that must
        agree with ``perform`` (DebugMode checks it on every call).
        """
        nout = len(node.outputs)
        perform = self.perform

        def fn(*args):
            storage = [[None] for _ in range(nout)]
            perform(node, args, storage)
            if nout == 1:
                return storage[0][0]
            return tuple(s[0] for s in storage)
        return fn

    # Shapes: Theano's ``infer_shape(node, shapes)``; the ``(fgraph, node, shapes)`` form is accepted.
    def infer_shape(self, node, input_shapes):
        """Symbolic output shapes (tuples of int scalar variables), guarded where they assume agreement."""
        raise NotImplementedError

    def has_infer_shape(self):
        """Whether this Op overrides ``infer_shape``."""
        return type(self).infer_shape is not Op.infer_shape

    def call_infer_shape(self, fgraph, node, shapes):
        """Call ``infer_shape`` in either accepted signature."""
        fn = self.infer_shape
        if len(inspect.signature(fn).parameters) == 3:
            return fn(fgraph, node, shapes)
        return fn(node, shapes)

    def L_op(self, inputs, outputs, output_grads):
        """Vector-Jacobian product; defaults to ``grad(inputs, output_grads)``."""
        return self.grad(inputs, output_grads)

    def grad(self, inputs, output_grads):
        """Gradient of a scalar cost wrt each input, given its gradient wrt each output."""
        from verigraph.gradient import grad_not_implemented
        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]

    def R_op(self, inputs, eval_points):
        """Jacobian-vector product; not defined unless an Op overrides it."""
        from verigraph.gradient import RopNotImplemented
        raise RopNotImplemented(f"R_op is not implemented for {self}")
