"""FusedSum: the sum over all axes of an elementwise chain, in one pass with no temporary array.

Built by the ``elemwise_sum_fusion`` rule from ``Sum{all axes}(FusedElemwise(...))`` when
the sum is the chain's only consumer (``sum((a - a.mean())**2)``). The Op holds the
FusedElemwise's ``steps`` and the sum's dtype.

- ``perform`` (the reference) runs the chain's reference and NumPy's sum on it, exactly
  as the two unfused nodes would.
- ``make_fast_fn`` runs a generated C loop for large inputs when ``config.c_kernels`` is
  on and a compiler is there (``link/ckernels``): each block of 128 values is computed
  in the steps' dtypes and summed in double precision with eight accumulators, and the
  block sums are added pairwise, so the rounding error grows like NumPy's pairwise sum
  (log n) and the result agrees with the reference at the float tolerance (the order
  of the additions differs, so bit equality is not expected). Otherwise it runs the
  chain's NumPy kernel and ``np.sum``.
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


class FusedSum(Op):
    """``sum(FusedElemwise(steps)(*inputs), axis=None, dtype=dtype)`` as one node."""

    __props__ = ("steps", "dtype")

    def __init__(self, steps, dtype):
        self.elemwise = FusedElemwise(steps)
        self.steps = self.elemwise.steps
        self.dtype = str(np.dtype(dtype))

    def __str__(self):
        return f"FusedSum{{{','.join(s[0] for s in self.steps)}}}"

    def working_dtypes(self):
        """The dtypes the value is computed through: every step's and the sum's."""
        return self.elemwise.working_dtypes() + [self.dtype]

    def make_node(self, *inputs):
        inputs = [as_tensor_variable(i) for i in inputs]
        inner = self.elemwise.make_node(*inputs)
        if inner.outputs[0].ndim == 0:
            raise TypeError(f"{self}: the summed chain must have at least one dimension")
        return Apply(self, inputs, [TensorType(self.dtype, ())()])

    def infer_shape(self, node, shapes):
        return [()]

    def _axes(self, node):
        return tuple(range(node.inputs[0].ndim))

    def perform(self, node, inputs, output_storage):
        store = [[None]]
        inner = self.elemwise.make_node(*node.inputs)
        self.elemwise.perform(inner, inputs, store)
        res = np.sum(store[0][0], axis=self._axes(node), dtype=self.dtype)
        output_storage[0][0] = np.array(res, dtype=self.dtype)

    def make_fast_fn(self, node):
        from verigraph.link.ckernels import sum_fn
        inner = self.elemwise.make_node(*node.inputs)
        chain = self.elemwise.make_fast_fn(inner)
        axes, dtype = self._axes(node), self.dtype

        def chain_then_sum(*args):
            return np.sum(chain(*args), axis=axes, dtype=dtype)
        from verigraph.link.ckernels import small
        from verigraph.link.ckernels import _ElemView
        fn = sum_fn(self, node, self.elemwise, chain_then_sum)
        return small.tiered(self.elemwise, _ElemView(node, self.elemwise), fn, with_sum=True,
                            result_type=np.dtype(dtype).type)
