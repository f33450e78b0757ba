"""ShapeGuard: the cheap runtime assertion that keeps inferred shapes honest.

Where ``infer_shape`` answers a size by assuming inputs agree (join, broadcasting,
dot, reshape), it returns ``shape_guard(...)`` over the sizes that must agree, so
asking for the shape without computing the Op still raises on a mismatch.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op


class ShapeGuard(Op):
    """Return input 0 after checking that all int scalar inputs are equal.

    ``op_name`` and ``what`` say which Op's assumption is checked; ``labels``
    names each input (e.g. ``x.shape[1]``) for the message.
    """

    __props__ = ("op_name", "what", "labels", "carry")
    # The fast path returns input 0 itself (no copy), so the output is a view of it.
    view_map = {0: [0]}

    def __init__(self, op_name, what, labels, carry=False):
        # carry=True: input 0 is passed through unchecked and inputs 1.. must agree.
        self.op_name, self.what, self.labels, self.carry = op_name, what, tuple(labels), carry

    def __str__(self):
        return f"ShapeGuard{{{self.op_name}}}"

    def make_node(self, *sizes):
        from verigraph.tensor.variable import as_tensor_variable
        sizes = [as_tensor_variable(s) for s in sizes]
        return Apply(self, sizes, [sizes[0].type()])

    def check(self, values):
        """Raise ShapeMismatchError unless every value is equal."""
        first = values[0]
        for v in values[1:]:
            if v != first:
                pairs = ", ".join(f"{lab}={int(val)}" for lab, val in zip(self.labels, values))
                raise ShapeMismatchError(
                    f"{self.op_name}: {self.what}, but {pairs}",
                    op=self.op_name, extra={"sizes": [int(x) for x in values]})

    def perform(self, node, inputs, output_storage):
        self.check(inputs[1:] if self.carry else inputs)
        output_storage[0][0] = np.asarray(inputs[0]).copy()

    def make_fast_fn(self, node):
        check = self.check
        if self.carry:
            def carry_fn(value, *vals):
                check(vals)
                return value
            return carry_fn
        if len(node.inputs) == 2:
            def fn(a, b):
                if a != b:
                    check((a, b))
                return a
            return fn

        def fn(*vals):
            check(vals)
            return vals[0]
        return fn

    def infer_shape(self, node, shapes):
        return [()]

    def grad(self, inputs, gouts):
        from verigraph.gradient import grad_disconnected
        return [grad_disconnected(i) for i in inputs]


def guard_equal(op_name, what, sizes, labels):
    """``sizes[0]`` if there is one size, else a ShapeGuard over all of them."""
    if len(sizes) == 1:
        return sizes[0]
    from verigraph.graph.basic import Constant
    consts = [int(s.data) for s in sizes if isinstance(s, Constant)]
    if len(consts) == len(sizes) and len(set(consts)) == 1:
        return sizes[0]
    return ShapeGuard(op_name, what, labels)(*sizes)


def carry_guard(value, op_name, what, sizes, labels):
    """``value``, guarded by the check that all ``sizes`` are equal (for sizes not in the answer)."""
    from verigraph.graph.basic import Constant
    consts = [int(s.data) for s in sizes if isinstance(s, Constant)]
    if len(consts) == len(sizes) and len(set(consts)) == 1:
        return value
    return ShapeGuard(op_name, what, labels, carry=True)(value, *sizes)
