"""Indexing: Subtensor (basic and advanced), IncSubtensor (inc/set), slice-length shape helpers.

An index is encoded as a ``spec`` tuple with one entry per indexed axis group:
``"i"`` an integer scalar input, ``("s", has_start, has_stop, has_step)`` a slice whose
present parts are scalar inputs, ``"a"`` an array (int or bool) input (advanced indexing).
The symbolic parts follow ``x`` (and ``y`` for IncSubtensor) as inputs, in order.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply, Variable
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant


def build_index(spec, parts):
    """The NumPy index tuple for ``spec`` given the values of its symbolic parts."""
    it = iter(parts)
    index = []
    for e in spec:
        if e == "i":
            index.append(int(next(it)))
        elif e == "a":
            index.append(np.asarray(next(it)))
        else:
            _, a, b, c = e
            index.append(slice(int(next(it)) if a else None, int(next(it)) if b else None,
                               int(next(it)) if c else None))
    return tuple(index)


def _consumed(spec_entry, part):
    if spec_entry == "a" and part.dtype == "bool":
        return part.ndim
    return 1


def indexed_ndim_and_shape(x_type, spec, parts):
    """Static (ndim, shape) of ``x[index]``; advanced cases are worked out by NumPy on dummies."""
    if "a" not in spec:
        shape, d, it = [], 0, iter(parts)
        for e in spec:
            if e == "i":
                next(it)
            else:
                _, a, b, c = e
                for _ in range(a + b + c):
                    next(it)
                shape.append(x_type.shape[d] if not (a or b or c) else None)
            d += 1
        shape.extend(x_type.shape[d:])
        return len(shape), tuple(shape)
    dummy_shape, dummy_index, it, d = [], [], iter(parts), 0
    for e in spec:
        if e == "a":
            p = next(it)
            if p.dtype == "bool":
                dummy_shape.extend([2] * p.ndim)
                dummy_index.append(np.ones((2,) * p.ndim, bool))
            else:
                dummy_shape.append(2)
                dummy_index.append(np.zeros((1,) * p.ndim, "int64"))
        elif e == "i":
            next(it)
            dummy_shape.append(2)
            dummy_index.append(0)
        else:
            for _ in range(sum(e[1:])):
                next(it)
            dummy_shape.append(2)
            dummy_index.append(slice(None))
        d = len(dummy_shape)
    dummy_shape.extend([2] * (x_type.ndim - d))
    res = np.zeros(dummy_shape)[tuple(dummy_index)]
    return res.ndim, (None,) * res.ndim


def _check_index_part(p, entry):
    p = as_tensor_variable(p)
    if entry == "a":
        if p.dtype != "bool" and np.dtype(p.dtype).kind not in "iu":
            raise TypeError(f"index arrays must be integer or boolean, got {p.type}")
    elif p.ndim != 0 or np.dtype(p.dtype).kind not in "iub":
        raise TypeError(f"indices must be integer scalars or slices, got {p} of type {p.type}")
    return p


def _parts_entries(spec):
    for e in spec:
        if e in ("i", "a"):
            yield e
        else:
            for _ in range(sum(e[1:])):
                yield "i"


def _index_error(x, index, exc):
    raise IndexError(f"index {_fmt_index(index)} is invalid for an array of shape "
                     f"{np.shape(x)}: {exc}") from None


def _fmt_index(index):
    def f(e):
        if isinstance(e, slice):
            # Python's own spelling: `1:` (not `1`, which would read as an integer index)
            text = ":".join("" if v is None else str(v) for v in (e.start, e.stop))
            return text if e.step is None else f"{text}:{e.step}"
        if isinstance(e, np.ndarray):
            return f"array{e.shape}{'' if e.dtype != bool else ' mask'}"
        return str(e)
    return "[" + ", ".join(f(e) for e in index) + "]"


class Subtensor(Op):
    """``x[index]``: basic indexing returns a view (declared); advanced indexing a copy."""

    __props__ = ("spec",)

    def __init__(self, spec):
        self.spec = tuple(spec)
        self.advanced = "a" in self.spec
        self.view_map = {} if self.advanced else {0: [0]}

    def __str__(self):
        return f"{'Advanced' if self.advanced else ''}Subtensor{{{_spec_str(self.spec)}}}"

    def make_node(self, x, *parts):
        x = as_tensor_variable(x)
        parts = [_check_index_part(p, e) for p, e in zip(parts, _parts_entries(self.spec))]
        consumed = sum(_consumed(e, p) for e, p in zip(
            self.spec, _spec_parts(self.spec, parts)))
        if consumed > x.ndim:
            raise IndexError(f"too many indices for {x} with {x.ndim} dimensions: "
                             f"{_spec_str(self.spec)}")
        ndim, shape = indexed_ndim_and_shape(x.type, self.spec, parts)
        return Apply(self, [x] + parts, [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x, *parts = inputs
        index = build_index(self.spec, parts)
        try:
            res = x[index]
        except IndexError as exc:
            _index_error(x, index, exc)
        output_storage[0][0] = np.array(res)

    def make_fast_fn(self, node):
        spec = self.spec
        if all(e == "i" for e in spec):
            def fn_int(x, *parts):
                try:
                    return x[parts]
                except IndexError as exc:
                    _index_error(x, parts, exc)
            return fn_int

        def fn(x, *parts):
            index = build_index(spec, parts)
            try:
                return x[index]
            except IndexError as exc:
                _index_error(x, index, exc)
        return fn

    def infer_shape(self, node, shapes):
        if self.advanced:
            raise NotImplementedError
        x_shape = shapes[0]
        it = iter(node.inputs[1:])
        out, guards = [], []
        for d, e in enumerate(self.spec):
            if e == "i":
                guards.append((x_shape[d], next(it)))
                continue
            _, a, b, c = e
            sl = [next(it) if flag else None for flag in (a, b, c)]
            if not (a or b or c):
                out.append(x_shape[d])
            else:
                out.append(SliceLength(a, b, c)(x_shape[d], *[s for s in sl if s is not None]))
        out.extend(x_shape[len(self.spec):])
        if guards and out:
            out[0] = IndexBounds(len(guards))(out[0], *[v for g in guards for v in g])
        return [tuple(out)]

    def L_op(self, inputs, outputs, gouts):
        x, *parts = inputs
        if np.dtype(x.dtype).kind not in "fc":
            return [None] + [None] * len(parts)
        from verigraph.tensor import api
        gx = IncSubtensor(self.spec, set_instead_of_inc=False)(api.zeros_like(x), gouts[0], *parts)
        return [gx] + [None] * len(parts)

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]


def _check_no_runtime_broadcast(op, out, index, y, y_shape):
    """Only axes of ``y`` declared size 1 broadcast (as in Elemwise; the gradient relies on it)."""
    target = np.shape(out[index])
    lead = len(target) - np.ndim(y)
    for d, (n, s) in enumerate(zip(np.shape(y), y_shape)):
        if n == 1 and s != 1 and target[lead + d] != 1:
            raise ShapeMismatchError(
                f"{op}: value of shape {np.shape(y)} does not fit x{_fmt_index(index)} of shape "
                f"{target}: its axis {d} has size 1 but is not broadcastable (static shape "
                f"{y_shape}); declare it with shape=(..., 1, ...) to broadcast it", op=str(op),
                input_shapes=[out.shape, np.shape(y)])


def _landed(spec, x, target, parts):
    """1 where a value written by ``set_subtensor`` lands, 0 where a repeated index overwrites it.

    An array index may repeat a position (``x[[0, 0]] = y``): only the last write stays
    (NumPy's assignment), so the earlier values of ``y`` get no gradient. Writing each
    position's serial number and reading it back tells which write survived.
    """
    from verigraph.tensor import api
    shape = api.shape(target)
    ids = api.reshape(api.arange(1, api.prod(shape) + 1, dtype="float64"), shape,
                      ndim=target.ndim)
    written = IncSubtensor(spec, set_instead_of_inc=True)(
        api.zeros_like(x, dtype="float64"), ids, *parts)
    return api.cast(api.eq(Subtensor(spec)(written, *parts), ids), target.dtype)


def _spec_parts(spec, parts):
    it = iter(parts)
    out = []
    for e in spec:
        if e in ("i", "a"):
            out.append(next(it))
        else:
            for _ in range(sum(e[1:])):
                next(it)
            out.append(None)
    return out


def _spec_str(spec):
    def f(e):
        if e == "i":
            return "int"
        if e == "a":
            return "array"
        return ":".join(["start" if e[1] else "", "stop" if e[2] else "", "step" if e[3] else ""]).rstrip(":") or ":"
    return ", ".join(f(e) for e in spec)


class SliceLength(Op):
    """Length of ``range(n)[start:stop:step]`` for the present slice parts."""

    __props__ = ("has_start", "has_stop", "has_step")

    def __init__(self, has_start, has_stop, has_step):
        self.has_start, self.has_stop, self.has_step = bool(has_start), bool(has_stop), bool(has_step)

    def make_node(self, n, *parts):
        return Apply(self, [as_tensor_variable(n)] + [as_tensor_variable(p) for p in parts],
                     [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        n, *parts = (int(v) for v in inputs)
        it = iter(parts)
        sl = slice(*(next(it) if f else None for f in (self.has_start, self.has_stop, self.has_step)))
        if sl.step == 0:
            raise ValueError("slice step cannot be zero")
        output_storage[0][0] = np.asarray(len(range(*sl.indices(n))), dtype="int64")

    def infer_shape(self, node, shapes):
        return [()]

    def grad(self, inputs, gouts):
        return [None] * len(inputs)


class IndexBounds(Op):
    """Pass input 0 through after checking each (size, index) pair is in bounds."""

    __props__ = ("n_pairs",)
    view_map = {0: [0]}  # input 0 passes through (np.asarray does not copy an int64 array)

    def __init__(self, n_pairs):
        self.n_pairs = n_pairs

    def make_node(self, value, *pairs):
        return Apply(self, [as_tensor_variable(value)] + [as_tensor_variable(p) for p in pairs],
                     [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        value, *pairs = inputs
        for k in range(0, len(pairs), 2):
            n, i = int(pairs[k]), int(pairs[k + 1])
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for an axis of size {n}")
        output_storage[0][0] = np.asarray(value, dtype="int64")

    def infer_shape(self, node, shapes):
        return [()]

    def grad(self, inputs, gouts):
        return [None] * len(inputs)


class IncSubtensor(Op):
    """``x`` with ``x[index]`` incremented by (or set to) ``y``; advanced increments accumulate."""

    __props__ = ("spec", "set_instead_of_inc", "inplace")

    def __init__(self, spec, set_instead_of_inc=False, inplace=False):
        self.spec = tuple(spec)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        self.inplace = bool(inplace)
        self.advanced = "a" in self.spec
        self.destroy_map = {0: [0]} if inplace else {}

    def __str__(self):
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{kind}Subtensor{{{_spec_str(self.spec)}}}{'[inplace]' if self.inplace else ''}"

    def make_node(self, x, y, *parts):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        parts = [_check_index_part(p, e) for p, e in zip(parts, _parts_entries(self.spec))]
        ndim, _ = indexed_ndim_and_shape(x.type, self.spec, parts)
        if y.ndim > ndim:
            raise ShapeMismatchError(f"{self}: the value has {y.ndim} dimensions but "
                                     f"x{_spec_str(self.spec)} has {ndim}", op=str(self))
        if not np.can_cast(np.dtype(y.dtype), np.dtype(x.dtype), "same_kind"):
            raise TypeError(f"{self}: cannot write values of dtype {y.dtype} into {x.dtype}")
        return Apply(self, [x, y] + parts, [x.type()])

    def _apply(self, out, y, parts, y_shape=None):
        index = build_index(self.spec, parts)
        if y_shape is not None and any(n == 1 and s != 1 for n, s in zip(np.shape(y), y_shape)):
            _check_no_runtime_broadcast(self, out, index, y, y_shape)
        try:
            if self.set_instead_of_inc:
                out[index] = y
            elif self.advanced:
                np.add.at(out, index, y)
            else:
                out[index] += y
        except IndexError as exc:
            _index_error(out, index, exc)
        except ValueError as exc:
            raise ShapeMismatchError(
                f"{self}: value of shape {np.shape(y)} does not fit x{_fmt_index(index)} "
                f"(x shape {out.shape}): {exc}", op=str(self),
                input_shapes=[out.shape, np.shape(y)]) from None
        return out

    def perform(self, node, inputs, output_storage):
        x, y, *parts = inputs
        output_storage[0][0] = self._apply(np.array(x, copy=True), y, parts,
                                           node.inputs[1].type.shape)

    def make_fast_fn(self, node):
        apply_ = self._apply
        y_shape = node.inputs[1].type.shape
        if self.inplace:
            return lambda x, y, *parts: apply_(x, y, parts, y_shape)
        return lambda x, y, *parts: apply_(x.copy(), y, parts, y_shape)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, y, *parts = inputs
        gz = gouts[0]
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.spec, set_instead_of_inc=True)(gz, api.zeros_like(y, dtype=gz.dtype), *parts)
        else:
            gx = gz
        gy = Subtensor(self.spec)(gz, *parts)
        if self.set_instead_of_inc and "a" in self.spec:
            gy = gy * _landed(self.spec, x, gy, parts)
        # y may have been broadcast into the indexed region: sum those axes back.
        lead = gy.ndim - y.ndim
        axes = list(range(lead)) + [lead + d for d in range(y.ndim)
                                    if y.type.shape[d] == 1 and gy.type.shape[lead + d] != 1]
        if axes:
            gy = api.sum(gy, axis=axes, keepdims=True)
            if lead:
                gy = api.dimshuffle(gy, tuple(range(lead, gy.ndim)))
        if np.dtype(y.dtype).kind not in "fc":
            gy = None
        elif gy.dtype != y.dtype:
            gy = api.cast(gy, y.dtype)  # a float32 y written into a float64 x
        return [gx, gy] + [None] * len(parts)


def encode_index(x, idx):
    """Turn a Python index (ints, slices, arrays, variables, None, Ellipsis) into (x', spec, parts).

    ``None`` (newaxis) entries become inserted broadcastable axes of ``x'``.
    """
    from verigraph.tensor import api
    if not isinstance(idx, tuple):
        idx = (idx,)
    # Expand Ellipsis.
    def consumes(e):
        if e is None:
            return 0
        if isinstance(e, (Variable, np.ndarray, list)):
            v = as_tensor_variable(e)
            return v.ndim if v.dtype == "bool" else 1
        return 1
    if any(e is Ellipsis for e in idx):
        k = [i for i, e in enumerate(idx) if e is Ellipsis]
        if len(k) > 1:
            raise IndexError("an index can only have a single Ellipsis")
        used = sum(consumes(e) for e in idx if e is not Ellipsis)
        idx = idx[:k[0]] + (slice(None),) * (x.ndim - used) + idx[k[0] + 1:]
    if any(e is None for e in idx):
        pattern, d, new_idx = [], 0, []
        for e in idx:
            if e is None:
                pattern.append("x")
                new_idx.append(slice(None))
            else:
                n = consumes(e)
                pattern.extend(range(d, d + n))
                d += n
                new_idx.append(e)
        pattern.extend(range(d, x.ndim))
        x = api.dimshuffle(x, pattern)
        idx = tuple(new_idx)
    spec, parts = [], []
    for e in idx:
        if isinstance(e, slice):
            flags = []
            for v in (e.start, e.stop, e.step):
                flags.append(v is not None)
                if v is not None:
                    parts.append(as_tensor_variable(v) if isinstance(v, Variable)
                                 else constant(int(v), dtype="int64"))
            spec.append(("s",) + tuple(flags))
        elif isinstance(e, (bool, np.bool_)):
            raise IndexError("a bare boolean is not a valid index; use a boolean array mask")
        elif isinstance(e, (int, np.integer)):
            spec.append("i")
            parts.append(constant(int(e), dtype="int64"))
        else:
            v = as_tensor_variable(e)
            if v.ndim == 0 and v.dtype != "bool":
                spec.append("i")
            else:
                spec.append("a")
            parts.append(v)
    # Drop trailing full slices: x[1:3, :] is x[1:3].
    while spec and spec[-1] == ("s", False, False, False):
        spec.pop()
    return x, tuple(spec), parts


def getitem(x, idx):
    """``x[idx]`` with NumPy semantics (basic indexing is a view, advanced a copy)."""
    x = as_tensor_variable(x)
    xi, spec, parts = encode_index(x, idx)
    if not spec:
        if xi is not x:
            return xi  # only None entries: the DimShuffle is the answer
        # x[:] or x[...]: keep a (view) Subtensor so set_subtensor(x[:], y) has its index.
        spec = (("s", False, False, False),) if x.ndim else ()
    return Subtensor(spec)(xi, *parts)


def inc_subtensor(x_indexed, y, set_instead_of_inc=False, inplace=False):
    """``x`` with ``x[idx] += y``, where ``x_indexed`` is the symbolic ``x[idx]``."""
    node = x_indexed.owner
    if node is None or not isinstance(node.op, Subtensor):
        raise TypeError(f"inc_subtensor/set_subtensor expect an indexed variable like x[idx], got "
                        f"{x_indexed}")
    x, *parts = node.inputs
    # An index with None entries indexes a DimShuffle of x, so (as in Theano) the result has
    # that DimShuffle's shape.
    return IncSubtensor(node.op.spec, set_instead_of_inc)(x, y, *parts)


def set_subtensor(x_indexed, y, inplace=False):
    """``x`` with ``x[idx] = y``, where ``x_indexed`` is the symbolic ``x[idx]``."""
    return inc_subtensor(x_indexed, y, set_instead_of_inc=True)
