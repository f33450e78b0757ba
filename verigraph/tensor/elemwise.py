"""Elemwise (one table row applied with Theano broadcasting) and DimShuffle."""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.guards import guard_equal
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant


def _resolve_weak(scalar_op, inputs):
    """Give weak Python-scalar constants the dtype NumPy 2 would use beside the other inputs."""
    strong = [i.dtype for i in inputs if not getattr(i, "weak", False)]
    if not strong or len(strong) == len(inputs):
        return inputs
    out = []
    for i in inputs:
        if getattr(i, "weak", False):
            value = i.data.item()
            try:
                dt = np.result_type(value, *[np.dtype(d) for d in strong])
            except OverflowError:
                raise TypeError(f"{scalar_op.name}: Python constant {value!r} does not fit "
                                f"dtype {strong[0]} of the other inputs") from None
            # A range check, not can_cast(min_scalar_type): 3 is uint8 to NumPy, yet fits int8.
            if np.dtype(dt).kind in "iu" and not (
                    np.iinfo(dt).min <= value <= np.iinfo(dt).max):
                raise TypeError(f"{scalar_op.name}: Python constant {value!r} does not fit "
                                f"dtype {dt} of the other inputs")
            i = constant(np.asarray(value, dtype=dt))
        out.append(i)
    return out


def broadcast_static(op_name, shapes):
    """Static output shape of broadcasting ``shapes`` (equal ndim), raising on a known conflict."""
    out = []
    for d, sizes in enumerate(zip(*shapes)):
        known = {s for s in sizes if s is not None and s != 1}
        if len(known) > 1:
            raise ShapeMismatchError(
                f"{op_name}: inputs have static shapes {list(shapes)} that disagree on "
                f"dimension {d}", op=op_name, input_shapes=[list(s) for s in shapes])
        if known:
            out.append(known.pop())
        elif all(s == 1 for s in sizes):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


class Elemwise(Op):
    """Apply a scalar table row elementwise; inputs broadcast only along static size-1 axes.

    ``inplace_pattern`` maps output index -> input index whose buffer the output reuses
    (set only by the inplace rewrite, which checks nothing else needs that input).
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op, inplace_pattern=()):
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(sorted(dict(inplace_pattern).items()))
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}

    def __str__(self):
        name = self.scalar_op.name
        if self.inplace_pattern:
            return f"Elemwise{{{name}}}[inplace {dict(self.inplace_pattern)}]"
        return f"Elemwise{{{name}}}"

    def make_node(self, *inputs):
        sop = self.scalar_op
        if len(inputs) != sop.nin and not (sop.name in ("add", "mul") and len(inputs) >= 2):
            raise TypeError(f"{sop.name} takes {sop.nin} inputs, got {len(inputs)}")
        inputs = [as_tensor_variable(i) for i in inputs]
        inputs = _resolve_weak(sop, inputs)
        nd = max(i.ndim for i in inputs)
        padded = []
        for i in inputs:
            if i.ndim < nd:
                i = DimShuffle(i.type.shape, ("x",) * (nd - i.ndim) + tuple(range(i.ndim)))(i)
            padded.append(i)
        shape = broadcast_static(sop.name, [i.type.shape for i in padded])
        dtype = sop.output_dtype([i.dtype for i in padded])
        return Apply(self, padded, [TensorType(dtype, shape)()])

    def runtime_check_dims(self, node):
        """Dimensions where two inputs must agree at run time (neither statically 1 or equal)."""
        checks = []
        nd = node.outputs[0].ndim
        for d in range(nd):
            idx = [k for k, i in enumerate(node.inputs) if i.type.shape[d] != 1]
            static = {node.inputs[k].type.shape[d] for k in idx}
            if len(idx) > 1 and (None in static):
                checks.append((d, tuple(idx)))
        return tuple(checks)

    def check_shapes(self, node, inputs):
        """Raise ShapeMismatchError where inputs would broadcast along a non-broadcastable axis."""
        for d, idx in self.runtime_check_dims(node):
            sizes = [inputs[k].shape[d] for k in idx]
            if len(set(sizes)) > 1:
                self._raise(node, inputs, d)

    def _raise(self, node, inputs, d):
        raise_broadcast_mismatch(self.scalar_op.name, self, inputs, d)

    def perform(self, node, inputs, output_storage):
        self.check_shapes(node, inputs)
        with np.errstate(all="ignore"):
            res = self.scalar_op.apply(*inputs)
        out = np.asarray(res, dtype=node.outputs[0].dtype)
        if any(np.may_share_memory(out, i) for i in inputs if isinstance(i, np.ndarray)):
            out = out.copy()
        output_storage[0][0] = out

    def make_fast_fn(self, node):
        impl = self.scalar_op.ufunc or self.scalar_op.impl
        checks = self.runtime_check_dims(node)
        dtype = np.dtype(node.outputs[0].dtype)
        if len(node.inputs) > self.scalar_op.nin:
            apply_ = self.scalar_op.apply

            def base(*args):
                return np.asarray(apply_(*args), dtype=dtype)
        elif self.inplace_pattern and self.scalar_op.ufunc is not None:
            dest = self.inplace_pattern[0][1]

            def base(*args):
                return impl(*args, out=args[dest])
        elif self.scalar_op.ufunc is None:
            def base(*args):
                return np.asarray(impl(*args), dtype=dtype)
        else:
            base = impl
        if not checks:
            return base
        raise_ = self._raise
        n_in, nd = len(node.inputs), node.outputs[0].ndim
        if len(checks) == nd and all(len(idx) == n_in for _, idx in checks):
            # Every input must match on every axis: one tuple comparison per input, instead
            # of a Python loop over axes (this runs on every call of small functions).
            if n_in == 2:
                def checked_pair(a, b):
                    if a.shape != b.shape:
                        raise_(node, (a, b), _first_difference(a.shape, b.shape))
                    return base(a, b)
                return checked_pair

            def checked_all(*args):
                s = args[0].shape
                for a in args[1:]:
                    if a.shape != s:
                        raise_(node, args, _first_difference(s, a.shape))
                return base(*args)
            return checked_all

        def checked(*args):
            for d, idx in checks:
                s = args[idx[0]].shape[d]
                for k in idx[1:]:
                    if args[k].shape[d] != s:
                        raise_(node, args, d)
            return base(*args)
        return checked

    def infer_shape(self, node, shapes):
        out = []
        for d in range(node.outputs[0].ndim):
            idx = [k for k, i in enumerate(node.inputs) if i.type.shape[d] != 1]
            if not idx:
                out.append(constant(1, dtype="int64"))
                continue
            # Sizes come from the inputs' (possibly guarded) shapes, never from the output's
            # static type alone: a static size derived from one input must still be checked
            # against the others when the node itself is not computed.
            sizes = [shapes[k][d] for k in idx]
            labels = [f"{node.inputs[k]}.shape[{d}]" for k in idx]
            out.append(guard_equal(self.scalar_op.name, f"inputs must agree on dimension {d}",
                                   sizes, labels))
        return [tuple(out)]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        gz = gouts[0]
        grads = self.scalar_op.grad(inputs, outputs[0], gz)
        result = []
        for x, g in zip(inputs, grads):
            if g is None:
                result.append(None)
                continue
            g = as_tensor_variable(g)
            # Sum the gradient back over the axes this input was broadcast along.
            axes = [d for d in range(x.ndim) if x.type.shape[d] == 1 and g.type.shape[d] != 1]
            if axes:
                g = api.sum(g, axis=axes, keepdims=True)
            if g.ndim == x.ndim and g.type.shape != x.type.shape and any(
                    s == 1 for s in x.type.shape):
                g = api.specify_broadcastable(g, x.type.shape)
            if np.dtype(x.dtype).kind in "fc" and g.dtype != x.dtype:
                g = api.cast(g, x.dtype)
            result.append(g)
        return result


def raise_broadcast_mismatch(label, op, inputs, d):
    """ShapeMismatchError for inputs that disagree on dimension ``d`` (Elemwise and fused)."""
    shapes = [np.shape(v) for v in inputs]
    raise ShapeMismatchError(
        f"{label}: input shapes {', '.join(map(str, shapes))} disagree on dimension {d}; only "
        f"axes whose static size is 1 (broadcastable) may broadcast",
        op=str(op), input_shapes=shapes, input_dtypes=[str(np.asarray(v).dtype) for v in inputs])


def _first_difference(s1, s2):
    """The first axis where two equal-length shapes differ."""
    return next(d for d, (a, b) in enumerate(zip(s1, s2)) if a != b)


def elemwise_fn(scalar_op):
    """The public function for a table row: builds ``Elemwise(scalar_op)`` on its arguments."""
    op = Elemwise(scalar_op)

    def fn(*args):
        return op(*args)
    fn.__name__ = scalar_op.name.rstrip("_")
    fn.__doc__ = f"Elementwise {scalar_op.name} with Theano broadcasting."
    return fn


class DimShuffle(Op):
    """Reorder axes, insert broadcastable axes ('x'), or drop axes of static size 1.

    Output is a view of the input (declared in ``view_map``).
    """

    __props__ = ("input_shape", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_shape, new_order):
        self.input_shape = tuple(input_shape)
        self.new_order = tuple(new_order)
        nd = len(self.input_shape)
        kept = [o for o in self.new_order if o != "x"]
        for o in kept:
            if not isinstance(o, (int, np.integer)) or not 0 <= o < nd:
                raise ValueError(f"dimshuffle: {o!r} is not an axis of a {nd}-d input "
                                 f"(pattern {self.new_order})")
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle: pattern {self.new_order} repeats an axis")
        self.drop = tuple(d for d in range(nd) if d not in kept)
        for d in self.drop:
            if self.input_shape[d] != 1:
                raise ValueError(
                    f"dimshuffle: cannot drop axis {d} of an input with static shape "
                    f"{self.input_shape}: only axes of static size 1 (broadcastable) can be dropped")
        self.perm = tuple(kept) + self.drop
        self.out_shape_template = tuple(1 if o == "x" else None for o in self.new_order)
        self.is_transpose = len(kept) == nd and "x" not in self.new_order

    def __str__(self):
        return f"DimShuffle{{{','.join(map(str, self.new_order))}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.type.ndim != len(self.input_shape):
            raise TypeError(f"{self}: expected a {len(self.input_shape)}-d input, got {x.ndim}-d")
        shape = tuple(1 if o == "x" else x.type.shape[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def _apply(self, x):
        out_shape = tuple(1 if o == "x" else x.shape[o] for o in self.new_order)
        return np.transpose(x, self.perm).reshape(out_shape) if self.drop or "x" in self.new_order \
            else np.transpose(x, self.perm)

    def perform(self, node, inputs, output_storage):
        x = np.asarray(inputs[0])
        for d in self.drop:
            if x.shape[d] != 1:
                raise ShapeMismatchError(f"{self}: axis {d} of input shape {x.shape} is not 1",
                                         op=str(self), input_shapes=[x.shape])
        output_storage[0][0] = self._apply(x)

    def make_fast_fn(self, node):
        if self.is_transpose:
            perm = self.perm
            return lambda x: x.transpose(perm)
        nd = len(self.input_shape)
        if not self.drop and tuple(o for o in self.new_order if o != "x") == tuple(range(nd)):
            # Only inserting axes: indexing with None is the cheapest view.
            index = tuple(None if o == "x" else slice(None) for o in self.new_order)
            return lambda x: np.asarray(x)[index]
        return lambda x: self._apply(np.asarray(x))

    def infer_shape(self, node, shapes):
        one = constant(1, dtype="int64")
        return [tuple(one if o == "x" else shapes[0][o] for o in self.new_order)]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        gz = gouts[0]
        # Inverse: drop the inserted axes, restore the dropped ones, undo the permutation.
        kept = [o for o in self.new_order if o != "x"]
        grad_order = [k for k, o in enumerate(self.new_order) if o != "x"]
        g = DimShuffle(gz.type.shape, grad_order)(api.sum(gz, axis=[
            k for k, o in enumerate(self.new_order) if o == "x"], keepdims=True)) \
            if "x" in self.new_order else gz
        # g now has axes in order `kept`; add dropped axes back and invert the permutation.
        pattern = []
        for d in range(len(self.input_shape)):
            pattern.append(kept.index(d) if d in kept else "x")
        g = DimShuffle(g.type.shape, pattern)(g)
        return [g]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]
