"""Hypothesis strategies: finite arrays (``tensors``) and random well-typed graphs (``graphs``).

A drawn graph is a ``GraphSpec``: a short straight-line program in which every
step is written twice, once as verigraph code (``T.exp(v1)``) and once as the
NumPy code that defines what it must compute (``K.exp(v1)``, ``K`` holding the
elementwise table's NumPy kernels). The NumPy side runs while the program is
drawn, so each step knows the concrete shape of its value and only well-typed
steps are generated; the verigraph side is built later (``spec.build()``) and
is also the text of the reproducer a fuzzer writes.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from verigraph.tensor import api
from verigraph.tensor.scalar_table import TABLE

FLOAT_DTYPES = ("float32", "float64")
# Values past this size make legitimately reordered float arithmetic differ by more than
# the comparison tolerance (and stabilizing rewrites may remove overflow), so such
# drawn programs are rejected rather than reported.
MAGNITUDE_LIMIT = 1e3

# NumPy namespace the reference side of every step is evaluated in.
KERNELS = types.SimpleNamespace(**{name: row.impl for name, row in TABLE.items()})


def _np_inc(x, index, y):
    # Theano's inc_subtensor accumulates repeated advanced indices (np.add.at semantics).
    out = np.array(x, copy=True)
    np.add.at(out, index, y)
    return out


def _np_set(x, index, y):
    out = np.array(x, copy=True)
    out[index] = y
    return out


# NumPy meaning of steps that are not one expression (``H.inc``, ``H.set``).
HELPERS = types.SimpleNamespace(inc=_np_inc, set=_np_set)
INT_DTYPES = ("int8", "int32", "int64")


# -- arrays ---------------------------------------------------------------------------------------
def tensors(dtype="float64", shape=(), min_value=-2.0, max_value=2.0):
    """Strategy for finite arrays of ``dtype`` and ``shape`` with values in [min, max]."""
    dtype = str(np.dtype(dtype))
    if np.dtype(dtype).kind == "f":
        width = np.dtype(dtype).itemsize * 8
        elements = st.floats(min_value, max_value, width=width, allow_nan=False,
                             allow_infinity=False, allow_subnormal=False)
    elif np.dtype(dtype).kind in "iu":
        elements = st.integers(int(min_value), int(max_value))
    elif dtype == "bool":
        elements = st.booleans()
    else:
        raise ValueError(f"tensors: unsupported dtype {dtype!r}; use a float, int or bool dtype")
    return hnp.arrays(dtype, tuple(shape), elements=elements)


def shapes(max_ndim=3, max_side=4):
    """Strategy for concrete shapes; sizes 0 and 1 are common so edge cases get drawn."""
    return st.lists(st.integers(0, max_side), min_size=0, max_size=max_ndim).map(tuple)


# -- the elementwise table, classified for generation -------------------------------------------------
def _vg_call(name):
    """Verigraph source of the public function for table row ``name`` (None if there is none)."""
    if name == "identity":
        return "T.tensor_copy"
    if name.startswith("round_"):
        return f"(lambda a: T.round(a, {name[6:]!r}))"
    return f"T.{name}" if hasattr(api, name) else None


def _classify():
    unary, binary, leaf_unary, leaf_binary, compare = [], [], [], [], []
    for name, row in TABLE.items():
        if name.startswith("cast_") or row.domain in ("int", "clip", "switch"):
            continue
        if _vg_call(name) is None:
            continue
        if row.output_dtype(["float64"] * row.nin) == "bool":
            compare.append(name)
            continue
        # Discontinuous kernels see only graph inputs: a one-ulp difference in a computed
        # operand could otherwise flip floor/sign/mod legitimately.
        jumps = row.domain == "nonint" or name in ("sign", "mod", "int_div", "arctan2")
        target = (leaf_unary if row.nin == 1 else leaf_binary) if jumps else \
            (unary if row.nin == 1 else binary)
        target.append(name)
    return unary, binary, leaf_unary, leaf_binary, compare


UNARY, BINARY, LEAF_UNARY, LEAF_BINARY, COMPARISONS = _classify()

# Domain name -> per-argument transform mapping any finite value into the domain
# (verigraph text, NumPy text); ``None`` leaves the argument as it is.
_TO_DOMAIN = {
    "positive": ("T.sqr({}) + 0.5", "np.square({}) + 0.5"),
    "small": ("T.tanh({}) * 1.5", "np.tanh({}) * 1.5"),
    "unit": ("T.tanh({}) * 0.9", "np.tanh({}) * 0.9"),
    "bounded": ("T.tanh({}) * 2.0", "np.tanh({}) * 2.0"),
    "erfc_range": ("T.tanh({}) * 0.9 + 1.0", "np.tanh({}) * 0.9 + 1.0"),
}
_ARG_DOMAINS = {
    "positive": ("positive",),
    "small": ("small",),
    "unit": ("unit",),
    "erfc_range": ("erfc_range",),
    "nonzero_b": (None, "positive"),
    "positive_a": ("positive", "bounded"),
}
PYTHON_CONSTANTS = (2.0, 0.5, -1.5, 1.0, 3.0)


def _in_domain(domain, k, vg, npx):
    names = _ARG_DOMAINS.get(domain, ())
    kind = names[k] if k < len(names) else (names[0] if len(names) == 1 else None)
    if kind is None:
        return vg, npx
    tv, tn = _TO_DOMAIN[kind]
    return tv.format(vg), tn.format(npx)


# -- the program --------------------------------------------------------------------------------
@dataclass
class Value:
    """One named value of a drawn program: its dtype, concrete shape and broadcastable axes."""

    name: str
    dtype: str
    shape: tuple
    bcast: tuple
    leaf: bool

    @property
    def ndim(self):
        return len(self.shape)


@dataclass
class GraphSpec:
    """A drawn program: graph inputs with values, steps (verigraph and NumPy text), outputs."""

    inputs: list = field(default_factory=list)        # Value, in function-input order
    static: dict = field(default_factory=dict)        # input name -> static shape tuple
    values: dict = field(default_factory=dict)        # input name -> np.ndarray
    steps: list = field(default_factory=list)         # (name, verigraph text, NumPy text)
    outputs: list = field(default_factory=list)       # (verigraph text, NumPy text)

    def build(self):
        """``(input variables, output variables)``: the verigraph graph of this program."""
        import verigraph.tensor as T
        from verigraph.ifelse import ifelse
        env = {"T": T, "np": np, "ifelse": ifelse}
        inputs = []
        for v in self.inputs:
            env[v.name] = T.tensor(v.dtype, shape=self.static[v.name], name=v.name)
            inputs.append(env[v.name])
        for name, vg, _ in self.steps:
            env[name] = eval(vg, env)  # noqa: S307 - text generated by this module
        outputs = [eval(vg, env) for vg, _ in self.outputs]  # noqa: S307
        return inputs, outputs

    def input_values(self):
        """Fresh copies of the input values, in input order."""
        return [self.values[v.name].copy() for v in self.inputs]

    def numpy_outputs(self):
        """What the outputs must be, by NumPy semantics."""
        env = {"np": np, "K": KERNELS, "H": HELPERS}
        env.update({k: v.copy() for k, v in self.values.items()})
        with np.errstate(all="ignore"):
            for name, _, npx in self.steps:
                env[name] = np.asarray(eval(npx, env))  # noqa: S307
            return [np.asarray(eval(npx, env)) for _, npx in self.outputs]  # noqa: S307

    def source_lines(self):
        """Verigraph code that builds the graph (inputs, steps, ``outputs = [...]``)."""
        lines = [f"{v.name} = T.tensor({v.dtype!r}, shape={self.static[v.name]!r}, "
                 f"name={v.name!r})" for v in self.inputs]
        lines += [f"{name} = {vg}" for name, vg, _ in self.steps]
        lines.append(f"inputs = [{', '.join(v.name for v in self.inputs)}]")
        lines.append(f"outputs = [{', '.join(vg for vg, _ in self.outputs)}]")
        return lines

    def values_source(self):
        """Python text recreating the input values exactly (float repr round-trips)."""
        items = []
        for v in self.inputs:
            arr = self.values[v.name]
            flat = [float(x) if arr.dtype.kind == "f" else x for x in arr.reshape(-1).tolist()]
            items.append(f"np.array({flat!r}, dtype={str(arr.dtype)!r}).reshape({arr.shape!r})")
        return "values = [\n" + "".join(f"    {i},\n" for i in items) + "]"

    def __repr__(self):
        return "GraphSpec(\n  " + "\n  ".join(self.source_lines()) + "\n)"


class _Drawer:
    """Grows a GraphSpec one well-typed step at a time, evaluating the NumPy side as it goes."""

    def __init__(self, draw, dtypes, max_ndim, max_side):
        self.draw = draw
        self.dtypes = dtypes
        self.max_ndim = max_ndim
        self.max_side = max_side
        self.spec = GraphSpec()
        self.pool = []
        self.env = {"np": np, "K": KERNELS, "H": HELPERS}

    # -- values -----------------------------------------------------------------------------
    def leaf(self, dtype=None, shape=None, bcast=None):
        draw = self.draw
        dtype = dtype or draw(st.sampled_from(self.dtypes))
        if shape is None:
            shape = draw(shapes(self.max_ndim, self.max_side))
        static = self.static_shape(shape, bcast)
        return self.add_leaf(dtype, shape, static, draw(tensors(dtype, shape)))

    def static_shape(self, shape, bcast=None):
        """Draw the declared static shape of an input of runtime ``shape``."""
        static = []
        for d, size in enumerate(shape):
            if bcast is not None:
                static.append(1 if bcast[d] else None)
            elif size == 1:
                # Declaring a size-1 axis broadcastable is what lets it broadcast.
                static.append(1 if self.draw(st.booleans()) else None)
            else:
                static.append(size if self.draw(st.integers(0, 4)) == 0 else None)
        return static

    def add_leaf(self, dtype, shape, static, value):
        """Register a new graph input with its value; returns its Value."""
        name = f"x{len(self.spec.inputs)}"
        v = Value(name, dtype, tuple(shape), tuple(s == 1 for s in static), True)
        self.spec.inputs.append(v)
        self.spec.static[name] = tuple(static)
        self.spec.values[name] = value
        self.env[name] = value.copy()
        self.pool.append(v)
        return v

    def step(self, vg, npx, bcast=None):
        """Add ``name = vg`` (NumPy meaning ``npx``); rejects the draw if the value misbehaves."""
        name = f"v{len(self.spec.steps)}"
        with np.errstate(all="ignore"):
            value = np.asarray(eval(npx, self.env))  # noqa: S307
        if value.dtype.kind == "f":
            assume(bool(np.all(np.isfinite(value))))
            assume(value.size == 0 or float(np.max(np.abs(value))) <= MAGNITUDE_LIMIT)
        self.env[name] = value
        if bcast is None or len(bcast) != value.ndim:
            bcast = (False,) * value.ndim
        v = Value(name, str(value.dtype), value.shape, tuple(bcast), False)
        self.spec.steps.append((name, vg, npx))
        self.pool.append(v)
        return v

    def pick(self, where=None):
        # Newest first: shrinking then moves toward chains of dependent steps.
        candidates = [v for v in reversed(self.pool) if where is None or where(v)]
        if not candidates:
            return None
        return self.draw(st.sampled_from(candidates))

    def floats(self):
        return lambda v: v.dtype in FLOAT_DTYPES

    # -- step kinds -------------------------------------------------------------------------
    def unary(self):
        a = self.pick(self.floats())
        name = self.draw(st.sampled_from(UNARY))
        vg, npx = _in_domain(TABLE[name].domain, 0, a.name, a.name)
        return self.step(f"{_vg_call(name)}({vg})", f"K.{name}({npx})", a.bcast)

    def partner(self, a, numbers=True):
        """A second operand for ``a``: same-shape value, broadcasting leaf, or Python number.

        ``numbers=False`` for kernels that are not NumPy ufuncs: they see a Python number
        as float64, where verigraph (like a ufunc) gives it the other operand's dtype.
        """
        choice = self.draw(st.integers(0, 3))
        if choice == 1 and not numbers:
            choice = 2
        if choice == 0:
            b = self.pick(lambda v: v.shape == a.shape and v.dtype in FLOAT_DTYPES and v is not a)
            if b is not None:
                return b.name, b.bcast
        if choice == 1:
            c = self.draw(st.sampled_from(PYTHON_CONSTANTS))
            return repr(c), None
        # A fresh input that broadcasts against a: each axis equal, or declared size 1; where
        # a itself is broadcastable the new input may be larger (a broadcasts instead).
        nd = self.draw(st.integers(0, a.ndim))
        shape, bcast = [], []
        for d in range(a.ndim - nd, a.ndim):
            if a.bcast[d]:
                size = self.draw(st.sampled_from([1, 0, 2, 3]))
            else:
                size = self.draw(st.sampled_from([a.shape[d], 1]))
            shape.append(size)
            bcast.append(size == 1 and (a.bcast[d] or size != a.shape[d] or
                                        self.draw(st.booleans())))
        dtype = self.draw(st.sampled_from(self.dtypes))
        b = self.leaf(dtype, tuple(shape), tuple(bcast))
        return b.name, b.bcast

    def _out_bcast(self, *bcasts):
        known = [b for b in bcasts if b is not None]
        nd = max((len(b) for b in known), default=0)
        padded = [(True,) * (nd - len(b)) + tuple(b) for b in known]
        return tuple(all(col) for col in zip(*padded)) if padded else ()

    def binary(self):
        a = self.pick(self.floats())
        name = self.draw(st.sampled_from(BINARY))
        b, b_bcast = self.partner(a, numbers=TABLE[name].ufunc is not None)
        args = [(a.name, a.bcast), (b, b_bcast)]
        if self.draw(st.booleans()) and b_bcast is not None:
            args.reverse()
        domain = TABLE[name].domain
        vgs, nps = [], []
        for k, (text, _) in enumerate(args):
            vg, npx = _in_domain(domain, k, text, text)
            vgs.append(vg)
            nps.append(npx)
        out_bcast = self._out_bcast(*[bc for _, bc in args])
        return self.step(f"{_vg_call(name)}({', '.join(vgs)})", f"K.{name}({', '.join(nps)})",
                         out_bcast)

    def discontinuous(self):
        a = self.pick(lambda v: v.leaf and v.dtype in FLOAT_DTYPES) or self.leaf()
        kind = self.draw(st.sampled_from(["unary", "binary", "compare", "arg"]))
        if kind == "arg":
            fn = self.draw(st.sampled_from(["argmax", "argmin"]))
            axis = None if a.ndim == 0 or self.draw(st.booleans()) else \
                self.draw(st.integers(0, a.ndim - 1))
            if 0 not in a.shape:  # the arg-max of nothing is an error
                keep = self.draw(st.booleans())
                return self.step(f"T.{fn}({a.name}, axis={axis}, keepdims={keep})",
                                 f"np.{fn}({a.name}, axis={axis}, keepdims={keep})")
            kind = "unary"
        if kind == "unary" and LEAF_UNARY:
            name = self.draw(st.sampled_from(LEAF_UNARY))
            return self.step(f"{_vg_call(name)}({a.name})", f"K.{name}({a.name})", a.bcast)
        if kind == "binary" and LEAF_BINARY:
            name = self.draw(st.sampled_from(LEAF_BINARY))
            b = repr(self.draw(st.sampled_from([1.5, -2.5, 0.75])))
            return self.step(f"{_vg_call(name)}({a.name}, {b})", f"K.{name}({a.name}, {b})",
                             a.bcast)
        name = self.draw(st.sampled_from(COMPARISONS))
        other = self.pick(lambda v: v.leaf and v.shape == a.shape and v is not a)
        b = other.name if other is not None else "0.0"
        args = f"{a.name}, {b}" if TABLE[name].nin == 2 else a.name
        dtype = a.dtype
        return self.step(f"T.cast({_vg_call(name)}({args}), {dtype!r})",
                         f"K.{name}({args}).astype({dtype!r})", a.bcast)

    def clip_or_switch(self):
        a = self.pick(self.floats())
        if self.draw(st.booleans()):
            return self.step(f"T.clip({a.name}, -1.0, 1.0)", f"K.clip({a.name}, -1.0, 1.0)",
                             a.bcast)
        b, b_bcast = self.partner(a, numbers=TABLE["switch"].ufunc is not None)
        cond = self.leaf(a.dtype, a.shape, a.bcast)
        return self.step(f"T.switch(T.gt({cond.name}, 0.0), {a.name}, {b})",
                         f"K.switch(K.gt({cond.name}, 0.0), {a.name}, {b})",
                         self._out_bcast(a.bcast, b_bcast, cond.bcast))

    def cast(self):
        if self.draw(st.integers(0, 2)) == 0:
            return self.int_cast()
        a = self.pick(self.floats())
        dtype = self.draw(st.sampled_from(FLOAT_DTYPES))
        return self.step(f"T.cast({a.name}, {dtype!r})", f"{a.name}.astype({dtype!r})", a.bcast)

    def int_cast(self):
        """A leaf truncated to an int dtype, then mixed with floats (NumPy promotion) or cast back.

        Only graph inputs are truncated: a one-ulp difference in a computed value could
        legitimately flip the truncation.
        """
        a = self.pick(lambda v: v.leaf and v.dtype in FLOAT_DTYPES) or self.leaf()
        idt = self.draw(st.sampled_from(INT_DTYPES))
        i = self.step(f"T.cast({a.name} * 2.0, {idt!r})", f"(K.mul({a.name}, 2.0)).astype({idt!r})",
                      a.bcast)
        how = self.draw(st.sampled_from(["cast", "mix", "int"]))
        if how == "cast":
            dtype = self.draw(st.sampled_from(FLOAT_DTYPES))
            return self.step(f"T.cast({i.name}, {dtype!r})", f"{i.name}.astype({dtype!r})",
                             i.bcast)
        if how == "int":
            name = self.draw(st.sampled_from(["add", "mul", "sub", "maximum"]))
            return self.step(f"T.{name}({i.name}, {i.name})", f"K.{name}({i.name}, {i.name})",
                             i.bcast)
        b = self.pick(lambda v: v.shape == a.shape and v.dtype in FLOAT_DTYPES)
        name = self.draw(st.sampled_from(["add", "mul", "sub"]))
        args = [i.name, b.name]
        if self.draw(st.booleans()):
            args.reverse()
        return self.step(f"T.{name}({', '.join(args)})", f"K.{name}({', '.join(args)})",
                         self._out_bcast(i.bcast, b.bcast))

    def reduce(self):
        # Int values (from int_cast) reduce too: NumPy's accumulator dtypes are the contract.
        a = self.pick(lambda v: v.dtype in FLOAT_DTYPES or v.dtype in INT_DTYPES)
        kind = self.draw(st.sampled_from(["sum", "prod", "mean", "max", "min"]))
        axes = None
        if a.ndim and self.draw(st.booleans()):
            axes = tuple(sorted(self.draw(st.sets(st.integers(0, a.ndim - 1), min_size=1))))
        reduced = range(a.ndim) if axes is None else axes
        if kind in ("max", "min", "mean") and any(a.shape[d] == 0 for d in reduced):
            kind = "sum"  # max/min of nothing is an error; mean of nothing is NaN
        keep = self.draw(st.booleans())
        axis_text = "None" if axes is None else (repr(axes[0]) if len(axes) == 1 else repr(axes))
        np_name = {"sum": "np.sum", "prod": "np.prod", "mean": "np.mean", "max": "np.max",
                   "min": "np.min"}[kind]
        bcast = tuple(True if d in reduced else b for d, b in enumerate(a.bcast)) if keep else \
            tuple(b for d, b in enumerate(a.bcast) if d not in reduced)
        return self.step(f"T.{kind}({a.name}, axis={axis_text}, keepdims={keep})",
                         f"{np_name}({a.name}, axis={axis_text}, keepdims={keep})", bcast)

    def dot(self):
        a = self.pick(lambda v: v.ndim in (1, 2) and v.dtype in FLOAT_DTYPES)
        if a is None:
            a = self.leaf(shape=self.draw(st.sampled_from([(2, 3), (3,), (0, 2), (1, 2)])))
        k = a.shape[-1]
        left = self.draw(st.booleans())
        if left:
            other_shape = self.draw(st.sampled_from([(k,), (k, self.draw(st.integers(0, 3)))]))
        else:
            k = a.shape[0]
            other_shape = self.draw(st.sampled_from([(k,), (self.draw(st.integers(0, 3)), k)]))
        b = self.leaf(a.dtype, other_shape, (False,) * len(other_shape))
        x, y = (a, b) if left else (b, a)
        return self.step(f"T.dot({x.name}, {y.name})", f"np.dot({x.name}, {y.name})")

    def reshape(self):
        a = self.pick(self.floats())
        choice = self.draw(st.integers(0, 3))
        if a.ndim >= 2 and choice == 0:
            perm = tuple(self.draw(st.permutations(range(a.ndim))))
            return self.step(f"{a.name}.dimshuffle({', '.join(map(str, perm))})",
                             f"np.transpose({a.name}, {perm!r})",
                             tuple(a.bcast[p] for p in perm))
        if choice == 1 and a.ndim < self.max_ndim + 1:
            pos = self.draw(st.integers(0, a.ndim))
            order = list(range(a.ndim))
            order.insert(pos, "x")
            bcast = list(a.bcast)
            bcast.insert(pos, True)
            return self.step(f"{a.name}.dimshuffle({', '.join(map(repr, order))})",
                             f"np.expand_dims({a.name}, {pos})", bcast)
        if choice == 2 and any(a.bcast):
            d = a.bcast.index(True)
            order = [k for k in range(a.ndim) if k != d]
            bcast = [b for k, b in enumerate(a.bcast) if k != d]
            return self.step(f"{a.name}.dimshuffle({', '.join(map(repr, order))})",
                             f"np.squeeze({a.name}, axis={d})", bcast)
        if a.ndim and self.draw(st.integers(0, 3)) == 0:
            nd = self.draw(st.integers(1, a.ndim))
            lead = a.shape[:nd - 1]
            return self.step(f"T.flatten({a.name}, {nd})",
                             f"np.reshape({a.name}, {lead!r} + ({int(np.prod(a.shape[nd - 1:]))},))",
                             (False,) * nd)
        new_shape = tuple(self.draw(st.permutations(a.shape))) if a.ndim else ()
        if self.draw(st.booleans()) or not new_shape:
            new_shape = (-1,)
        return self.step(f"T.reshape({a.name}, {new_shape!r})",
                         f"np.reshape({a.name}, {new_shape!r})")

    def _draw_index(self, a, masks=True):
        """(verigraph index text, NumPy index text, broadcastable axes of ``a[index]``)."""
        if masks and self.draw(st.integers(0, 4)) == 0:
            # A boolean mask over the first k axes: a fresh leaf compared with 0 (a mask of
            # computed values could flip legitimately), or a constant NumPy mask.
            k = self.draw(st.integers(1, a.ndim))
            if self.draw(st.booleans()):
                # A computed ``a`` may have been promoted out of the allowed dtypes.
                dtype = a.dtype if a.dtype in self.dtypes else self.dtypes[0]
                c = self.leaf(dtype, a.shape[:k], (False,) * k)
                vg, npx = f"T.gt({c.name}, 0.0)", f"({c.name} > 0.0)"
            else:
                bits = self.draw(st.lists(st.booleans(), min_size=int(np.prod(a.shape[:k])),
                                          max_size=int(np.prod(a.shape[:k]))))
                vg = npx = f"np.array({bits!r}, dtype=bool).reshape({a.shape[:k]!r})"
            return vg, npx, (False,) * (a.ndim - k + 1)
        entries, bcast = [], []
        n_indexed = self.draw(st.integers(1, a.ndim))
        advanced_used = False
        for d in range(n_indexed):
            size = a.shape[d]
            kind = self.draw(st.sampled_from(["int", "slice", "array"]))
            if kind == "int" and size > 0:
                entries.append(str(self.draw(st.integers(-size, size - 1))))
            elif kind == "array" and size > 0 and not advanced_used:
                advanced_used = True
                idx = self.draw(st.lists(st.integers(-size, size - 1), max_size=4))
                entries.append(f"np.array({idx!r}, dtype='int64')")
                bcast.append(False)
            else:
                lo = self.draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
                hi = self.draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
                step = self.draw(st.sampled_from([None, 1, 2, -1, -2]))
                text = f"{'' if lo is None else lo}:{'' if hi is None else hi}"
                entries.append(text + ("" if step is None else f":{step}"))
                bcast.append(False)
        # verigraph keeps no static sizes through advanced indexing, so nothing stays
        # broadcastable there; basic indexing keeps the untouched trailing axes.
        bcast.extend(a.bcast[n_indexed:] if not advanced_used else
                     (False,) * (a.ndim - n_indexed))
        index = ", ".join(entries)
        return index, index, tuple(bcast)

    def index(self):
        a = self.pick(lambda v: v.ndim >= 1 and v.dtype in FLOAT_DTYPES)
        if a is None:
            a = self.leaf(shape=(3, 2))
        vg, npx, bcast = self._draw_index(a)
        return self.step(f"{a.name}[{vg}]", f"{a.name}[{npx}]", bcast)

    def update(self):
        """``set_subtensor`` / ``inc_subtensor`` on a basic, advanced or boolean-mask index."""
        a = self.pick(lambda v: v.ndim >= 1 and v.dtype in FLOAT_DTYPES)
        if a is None:
            a = self.leaf(shape=(3, 2))
        vg, npx, _ = self._draw_index(a)
        with np.errstate(all="ignore"):
            target = np.asarray(eval(f"{a.name}[{npx}]", self.env))  # noqa: S307
        choice = self.draw(st.integers(0, 2))
        if choice == 0:
            y = repr(self.draw(st.sampled_from(PYTHON_CONSTANTS)))
        else:
            shape = target.shape if choice == 1 else target.shape[target.ndim - 1:]
            bcast = tuple(n == 1 and self.draw(st.booleans()) for n in shape)
            y = self.leaf(a.dtype, shape, bcast).name
        set_ = self.draw(st.booleans())
        fn = "set_subtensor" if set_ else "inc_subtensor"
        return self.step(f"T.{fn}({a.name}[{vg}], {y})",
                         f"H.{'set' if set_ else 'inc'}({a.name}, np.s_[{npx}], {y})", a.bcast)

    def stack_split(self):
        """``stack`` of equal shapes along a new axis, or one part of a ``split``."""
        a = self.pick(lambda v: v.dtype in FLOAT_DTYPES)
        if self.draw(st.booleans()) or a.ndim == 0:
            b = a if self.draw(st.booleans()) else self.leaf(a.dtype, a.shape, a.bcast)
            axis = self.draw(st.integers(-a.ndim - 1, a.ndim))
            pos = axis if axis >= 0 else axis + a.ndim + 1
            bcast = list(a.bcast)
            bcast.insert(pos, False)
            return self.step(f"T.stack([{a.name}, {b.name}], axis={axis})",
                             f"np.stack([{a.name}, {b.name}], axis={axis})", bcast)
        axis = self.draw(st.integers(0, a.ndim - 1))
        n = a.shape[axis]
        first = self.draw(st.integers(0, n))
        part = self.draw(st.integers(0, 1))
        bcast = tuple(False if d == axis else b for d, b in enumerate(a.bcast))
        return self.step(f"T.split({a.name}, [{first}, {n - first}], 2, axis={axis})[{part}]",
                         f"np.split({a.name}, [{first}], axis={axis})[{part}]", bcast)

    def join(self):
        a = self.pick(lambda v: v.ndim >= 1 and v.dtype in FLOAT_DTYPES)
        if a is None:
            a = self.leaf(shape=(2, 3))
        axis = self.draw(st.integers(0, a.ndim - 1))
        if self.draw(st.booleans()):
            b = a
        else:
            shape = list(a.shape)
            shape[axis] = self.draw(st.integers(0, 3))
            # The other dtype too: join upcasts like NumPy's concatenate.
            b = self.leaf(self.draw(st.sampled_from(self.dtypes)), tuple(shape),
                          tuple(False for _ in shape))
        return self.step(f"T.join({axis}, {a.name}, {b.name})",
                         f"np.concatenate([{a.name}, {b.name}], axis={axis})")


STEP_KINDS = ("unary", "binary", "discontinuous", "clip_or_switch", "cast", "reduce", "dot",
              "reshape", "index", "join", "update", "stack_split")


def graphs(dtypes=FLOAT_DTYPES, max_inputs=2, max_steps=6, max_ndim=3, max_side=3,
           kinds=STEP_KINDS, shape_outputs=True):
    """Strategy for random well-typed graphs (``GraphSpec``).

    Steps are drawn from ``kinds`` (see ``STEP_KINDS``): elementwise table rows with
    operands mapped into each row's domain, broadcasting against size-1 axes, reductions,
    dot, shape ops (reshape, flatten, dimshuffle), basic, advanced and boolean-mask
    indexing, inc/set_subtensor, join/stack/split, argmax/argmin, casts (float and int,
    with int values mixed into float arithmetic and reductions); size-0 and size-1 axes
    and both float dtypes are common. Outputs are the last value, up to two other
    values nothing used, and sometimes a ``.shape``.
    """
    unknown = set(kinds) - set(STEP_KINDS)
    if unknown:
        raise ValueError(f"graphs: unknown step kinds {sorted(unknown)}; known: {STEP_KINDS}")
    bad_dtypes = set(dtypes) - set(FLOAT_DTYPES)
    if bad_dtypes or not dtypes:
        raise ValueError(f"graphs: dtypes must be among {FLOAT_DTYPES}, got {tuple(dtypes)}")
    if max_steps < 1 or max_inputs < 1:
        raise ValueError("graphs: max_steps and max_inputs must be at least 1")
    return _graphs(tuple(dtypes), max_inputs, max_steps, max_ndim, max_side, tuple(kinds),
                   shape_outputs)


@st.composite
def _graphs(draw, dtypes, max_inputs, max_steps, max_ndim, max_side, kinds, shape_outputs):
    d = _Drawer(draw, dtypes, max_ndim, max_side)
    for _ in range(draw(st.integers(1, max_inputs))):
        d.leaf()
    for _ in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(kinds))
        getattr(d, kind)()
    # Outputs: the last value and up to two other computed values nothing else used.
    used = set()
    for _, vg, _ in d.spec.steps:
        used.update(w for w in vg.replace("(", " ").replace(",", " ").replace(")", " ")
                    .replace("[", " ").replace(".", " ").split())
    last = d.pool[-1]
    dangling = [v for v in d.pool if not v.leaf and v.name not in used and v is not last]
    outputs = [(v.name, v.name) for v in [last] + dangling[-2:]]
    if shape_outputs and draw(st.integers(0, 3)) == 3:
        shaped = draw(st.sampled_from(d.pool))
        outputs.append((f"{shaped.name}.shape", f"np.array({shaped.name}.shape, dtype='int64')"))
    d.spec.outputs = outputs
    return d.spec
