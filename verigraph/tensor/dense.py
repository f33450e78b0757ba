"""``Dense``: a dense layer ``act(x @ w + b)`` as one node (made by a rewrite, not by users).

The rule ``local_dense_epilogue`` (``rewriting/dense.py``) turns ``act(dot(x, w) + b)``
(act tanh, sigmoid, relu or none) into this node so the bias and the activation run on each block of
the product while it is in registers (``link/ckernels/dense``), instead of as a second
pass over a product the GEMM just pushed out of the cache. Where that loop cannot run (no
AVX-512, small or oddly laid-out operands) the node computes ``np.dot`` and then the same
fused elementwise kernel the graph had before the rewrite.

``perform`` is the plain NumPy composition (``np.dot``, ``+``, the activation's table
kernel), bit for bit what the reference evaluator computes for the original graph.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.blas import Dot
from verigraph.tensor import scalar_table as st
from verigraph.tensor.guards import carry_guard
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant

# Activations a Dense node applies after the bias (the C loop's codes are their indices).
ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")


# The table rows whose NumPy kernels ``perform`` applies (what the graph computed).
_ACT_ROWS = {name: st.scalar_op_by_name("maximum" if name == "relu" else name)
             for name in ACTIVATIONS if name != "identity"}


def _check(x, w, b):
    Dot.check(x, w)
    if b.shape[-1] != w.shape[1]:
        raise ShapeMismatchError(
            f"add: the bias has {b.shape[-1]} elements for a product with {w.shape[1]} "
            f"columns (shapes {(x.shape[0], w.shape[1])} and {b.shape})", op="Elemwise{add}",
            input_shapes=[(x.shape[0], w.shape[1]), b.shape])


def float_operands(op, values, ndims, described):
    """``values`` as tensor variables, checked to have ranks ``ndims`` and one float dtype
    (``op`` and ``described``, e.g. "a matrix, a matrix and a vector", name them)."""
    values = [as_tensor_variable(v) for v in values]
    if tuple(v.ndim for v in values) != tuple(ndims):
        raise TypeError(f"{op} takes {described}, got ndim "
                        f"{', '.join(str(v.ndim) for v in values)}")
    dtypes = {v.dtype for v in values}
    if len(dtypes) != 1 or np.dtype(values[0].dtype).kind != "f":
        raise TypeError(f"{op} takes operands of one float dtype, got "
                        f"{', '.join(v.dtype for v in values)}")
    return values


class Dense(Op):
    """``act(x @ w + b)`` for matrices ``x`` (m, k), ``w`` (k, n) and a vector ``b`` (n,)."""

    __props__ = ("act",)

    def __init__(self, act="identity"):
        if act not in ACTIVATIONS:
            raise ValueError(f"Dense: act must be one of {ACTIVATIONS}, got {act!r}")
        self.act = act

    def __str__(self):
        return f"Dense{{{self.act}}}"

    def make_node(self, x, w, b):
        x, w, b = float_operands("Dense", (x, w, b), (2, 2, 1), "a matrix, a matrix and a vector")
        out = TensorType(x.dtype, (x.type.shape[0], w.type.shape[1]))()
        return Apply(self, [x, w, b], [out])

    def perform(self, node, inputs, output_storage):
        x, w, b = (np.asarray(v) for v in inputs)
        _check(x, w, b)
        dtype = node.outputs[0].dtype
        z = np.asarray(np.dot(x, w), dtype=dtype) + b
        if self.act != "identity":
            z = _ACT_ROWS[self.act].impl(*((z, np.zeros((1, 1), dtype)) if self.act == "relu"
                                           else (z,)))
        output_storage[0][0] = np.asarray(z, dtype=dtype)

    def make_fast_fn(self, node):
        from verigraph.link import ckernels
        from verigraph.link.ckernels import dense, skinny
        numpy_path = _numpy_path(node, self.act)
        if not ckernels.enabled() or not dense.may_serve(node.outputs[0].dtype,
                                                         node.outputs[0].type.shape[1]):
            return numpy_path
        act = self.act
        dtype = np.dtype(node.outputs[0].dtype)
        # A fresh 1 MB output comes from newly mapped pages each call (float64 256x500:
        # ~130 µs of page faults); the pool hands back the last one once it was dropped.
        pool = ckernels._OutputPool()
        switch = skinny.Checked(f"{self} (built at {getattr(node, 'source', '?')})",
                                node.outputs[0].dtype, node, what="C dense kernel",
                                library=dense._library)

        # Whether the last call ran the loop (the profile names what ran: a product
        # with too few columns, say, takes Dot's path every call).
        looped = [False]

        def fn(x, w, b):
            # entry() answers None unless the shapes agree, so mismatches raise on NumPy's path.
            c = dense.entry(x, w, b)
            if c is None:
                looped[0] = False
                return numpy_path(x, w, b)
            looped[0] = True
            if switch.state == "on":
                m, n = x.shape[0], w.shape[1]
                return dense.call(c, x, w, b, act, pool.empty((m, n), dtype, x.ctypes.data, m * n))
            return switch.run(lambda: dense.call(c, x, w, b, act),
                              lambda: numpy_path(x, w, b), (x, w, b))
        fn.describe_kernel = lambda: switch.describe() if looped[0] else numpy_path.describe_kernel()
        return fn

    def infer_shape(self, node, shapes):
        sx, sw, sb = shapes
        x, w, b = node.inputs
        rows = carry_guard(sx[0], "Dot", "inner dimensions must agree", [sx[1], sw[0]],
                           [f"{x}.shape[1]", f"{w}.shape[0]"])
        cols = carry_guard(sw[1], "Elemwise{add}", "the bias must match the columns",
                           [sw[1], sb[0]], [f"{w}.shape[1]", f"{b}.shape[0]"])
        return [(rows, cols)]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, w, b = inputs
        g, out = gouts[0], outputs[0]
        if self.act == "tanh":
            g = g * (1 - out ** 2)
        elif self.act == "sigmoid":
            g = g * out * (1 - out)
        elif self.act == "relu":
            g = g * (out > 0)
        return [api.dot(g, w.T), api.dot(x.T, g), api.sum(g, axis=0)]


def _numpy_path(node, act):
    """The product as a Dot node computes it, then the fused elementwise kernel of ``+ b``
    (and tanh) in place: what the graph ran before the rewrite."""
    from verigraph.tensor.fused import FusedElemwise
    dtype = node.outputs[0].dtype
    dot_node = Dot().make_node(node.inputs[0], node.inputs[1])
    dot_node.source = getattr(node, "source", None)
    dot = dot_node.op.make_fast_fn(dot_node)
    steps = [("add", (("i", 0), ("i", 1)), dtype)]
    extra = []
    if act == "relu":
        steps.append(("maximum", (("s", 0), ("i", 2)), dtype))
        extra = [constant(np.zeros((1, 1), dtype))]
    elif act != "identity":
        steps.append((act, (("s", 0),), dtype))
    z = TensorType(dtype, node.outputs[0].type.shape)()
    row = TensorType(dtype, (1, node.inputs[2].type.shape[0]))()
    ep_node = FusedElemwise(steps, inplace_input=0).make_node(z, row, *extra)
    ep_node.source = getattr(node, "source", None)
    epilogue = ep_node.op.make_fast_fn(ep_node)

    zero = [np.zeros((1, 1), dtype)] if extra else []

    def numpy_path(x, w, b):
        if b.shape[-1] != w.shape[1]:
            _check(x, w, b)
        return epilogue(dot(x, w), b.reshape(1, -1), *zero)
    # What runs the product there (Dot's C product for few columns, or NumPy: None).
    numpy_path.describe_kernel = getattr(dot, "describe_kernel", lambda: None)
    return numpy_path


class DensePair(Op):
    """Two dense layers, the second narrow: ``h = act(x @ w + b)`` and ``z = h @ w2 + b2``
    as one node with both outputs (rule ``local_dense_pair``; a classifier's hidden and
    output layers).

    The second product is small (an MLP's 10 classes) but reads all of ``h``, which the
    first layer's loop has by then pushed out of the cache: in the training step it took
    2-3x its warm time. Here each finished block of ``h`` is multiplied into ``z`` while
    it is in L1 (``link/ckernels/dense``). ``perform`` and the fallback are the two
    ``Dense`` nodes' (their NumPy composition, their fast paths).
    """

    __props__ = ("act",)

    def __init__(self, act="identity"):
        if act not in ACTIVATIONS:
            raise ValueError(f"DensePair: act must be one of {ACTIVATIONS}, got {act!r}")
        self.act = act

    def __str__(self):
        return f"DensePair{{{self.act}}}"

    def make_node(self, x, w, b, w2, b2):
        h = Dense(self.act).make_node(x, w, b)
        z = Dense("identity").make_node(h.outputs[0], w2, b2)
        return Apply(self, list(h.inputs) + list(z.inputs[1:]),
                     [h.outputs[0].type(), z.outputs[0].type()])

    def _layers(self, node):
        """The two Dense nodes this one stands for (over fresh variables of its types)."""
        first = Dense(self.act).make_node(*node.inputs[:3])
        second = Dense("identity").make_node(first.outputs[0], *node.inputs[3:])
        for layer in (first, second):
            layer.source = getattr(node, "source", None)
        return first, second

    def perform(self, node, inputs, output_storage):
        first, second = self._layers(node)
        h, z = [[None]], [[None]]
        first.op.perform(first, inputs[:3], h)
        second.op.perform(second, [h[0][0]] + list(inputs[3:]), z)
        output_storage[0][0], output_storage[1][0] = h[0][0], z[0][0]

    def make_fast_fn(self, node):
        from verigraph.link import ckernels
        from verigraph.link.ckernels import dense, skinny
        first, second = self._layers(node)
        layer1, layer2 = first.op.make_fast_fn(first), second.op.make_fast_fn(second)

        def composed(x, w, b, w2, b2):
            h = layer1(x, w, b)
            return [h, layer2(h, w2, b2)]
        if not ckernels.enabled() or not dense.may_serve(node.outputs[0].dtype,
                                                         node.outputs[0].type.shape[1]):
            return composed
        act, dtype = self.act, np.dtype(node.outputs[0].dtype)
        pool = ckernels._OutputPool()
        label = f"{self} (built at {getattr(node, 'source', '?')})"
        checks = [skinny.Checked(label, dtype.name, layer, what="C dense pair",
                                 library=dense._library) for layer in (first, second)]
        numpy1, numpy2 = _numpy_path(first, act), _numpy_path(second, "identity")
        looped = [False]

        def fn(x, w, b, w2, b2):
            c = dense.pair_entry(x, w, b, w2, b2)
            looped[0] = c is not None and "off" not in (checks[0].state, checks[1].state)
            if not looped[0]:
                return composed(x, w, b, w2, b2)
            m, n = x.shape[0], w.shape[1]
            out = pool.empty((m, n), dtype, x.ctypes.data, m * n)
            if checks[0].state == checks[1].state == "on":
                return list(dense.call_pair(c, x, w, b, act, w2, b2, out))
            # The first C call: h against the first layer's NumPy path, z against the
            # second's on that h; if either disagrees the node composes from then on.
            h, z = dense.call_pair(c, x, w, b, act, w2, b2)
            h = checks[0].run(lambda: h, lambda: numpy1(x, w, b), (x, w, b))
            z = checks[1].run(lambda: z, lambda: numpy2(h, w2, b2), (h, w2, b2))
            if "off" in (checks[0].state, checks[1].state):
                return composed(x, w, b, w2, b2)
            return [h, z]

        def describe():
            off = [check for check in checks if check.state == "off"]
            if off:
                return off[0].describe()
            if looped[0]:
                return checks[0].describe() if checks[0].state != "on" else checks[1].describe()
            return "two Dense nodes"
        fn.describe_kernel = describe
        return fn

    def infer_shape(self, node, shapes):
        first, second = self._layers(node)
        (h_shape,) = first.op.infer_shape(first, shapes[:3])
        (z_shape,) = second.op.infer_shape(second, [h_shape] + list(shapes[3:]))
        return [h_shape, z_shape]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, w, b, w2, b2 = inputs
        h, _ = outputs
        gh, gz = gouts
        grads_h = [None, None, None]
        if gz is not None:
            gh_from_z = api.dot(gz, w2.T)
            gh = gh_from_z if gh is None else gh + gh_from_z
            grads_z = [api.dot(h.T, gz), api.sum(gz, axis=0)]
        else:
            grads_z = [api.zeros_like(w2), api.zeros_like(b2)]
        if gh is not None:
            grads_h = Dense(self.act).L_op([x, w, b], [h], [gh])
        else:
            grads_h = [api.zeros_like(x), api.zeros_like(w), api.zeros_like(b)]
        return list(grads_h) + grads_z
