"""FusedElemwise: a chain of elementwise table rows run as one node (built by the fusion rule).

The Op holds a little program: ``steps``, each ``(row name, argument refs, dtype)`` where
an argument ref is ``("i", k)`` (input k of the node) or ``("s", j)`` (the result of step
j); the last step is the output. Every intermediate has the output's broadcast pattern,
so at run time each intermediate has the output's shape.

- ``perform`` (the reference) runs the steps one by one with the rows' NumPy kernels,
  exactly as the unfused Elemwise nodes would.
- ``make_fast_fn`` generates one Python function choosing, by output size, between
  the plain chain (small arrays: least overhead; 0-d float arithmetic uses NumPy scalar
  operators, ten times cheaper than a ufunc call), one output buffer written in place
  with ``out=`` (medium arrays), and the same in chunks of rows that fit in cache
  (large arrays: each input is read once from memory and the output written once).
  numexpr was measured on the 10-op arithmetic benchmark (one thread) and lost to the
  chunked NumPy kernel (about 5 ms against 2 ms on 1e6 float64), so it is not used.
"""
from __future__ import annotations

import itertools

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.source_cache import compile_source
from verigraph.graph.op import Op
from verigraph.tensor import scalar_table as st
from verigraph.tensor.elemwise import broadcast_static, raise_broadcast_mismatch
from verigraph.tensor.guards import guard_equal
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant

# Below this many output elements the plain chain (fresh arrays per step) is as fast as
# buffers with out= (measured: equal at 10-100 elements, buffers 15% ahead from 400 on).
SMALL_SIZE = 256
# Elements per chunk in the chunked kernel: a few such buffers stay in the L2 cache.
CHUNK_ELEMENTS = 16384
# Chunking pays only when the output spans several chunks.
CHUNK_MIN_SIZE = 4 * CHUNK_ELEMENTS

# 0-d float steps written as Python operators on NumPy scalars (same IEEE operation).
SCALAR_OPERATORS = {"add": "({} + {})", "sub": "({} - {})", "mul": "({} * {})",
                    "true_div": "({} / {})", "neg": "(-{})"}

_kernel_ids = itertools.count()


def _ref_name(ref):
    kind, k = ref
    return f"i{k}" if kind == "i" else f"s{k}"


class FusedElemwise(Op):
    """Several elementwise rows applied as one node; see the module docstring for ``steps``."""

    __props__ = ("steps", "inplace_input")

    def __init__(self, steps, inplace_input=None):
        norm = []
        for name, refs, dtype in steps:
            sop = st.scalar_op_by_name(name)
            if len(refs) != sop.nin:
                raise ValueError(f"FusedElemwise step {name} takes {sop.nin} arguments, got "
                                 f"{len(refs)} (n-ary add/mul are split into pairs)")
            norm.append((str(name), tuple((str(a), int(b)) for a, b in refs), str(np.dtype(dtype))))
        if not norm:
            raise ValueError("FusedElemwise needs at least one step")
        for j, (_, refs, _) in enumerate(norm):
            for kind, k in refs:
                if kind == "s" and not 0 <= k < j:
                    raise ValueError(f"FusedElemwise step {j} refers to step {k}, which does "
                                     f"not come before it")
        self.steps = tuple(norm)
        # Set only by the inplace rule: the output is written into this input's buffer.
        self.inplace_input = None if inplace_input is None else int(inplace_input)
        self.destroy_map = {} if inplace_input is None else {0: [self.inplace_input]}

    def __str__(self):
        rows = ",".join(s[0] for s in self.steps)
        if self.inplace_input is not None:
            return f"FusedElemwise{{{rows}}}[inplace {{0: {self.inplace_input}}}]"
        return f"FusedElemwise{{{rows}}}"

    def working_dtypes(self):
        """The dtype of each step: the output is only as precise as the loosest float one."""
        return [dtype for _, _, dtype in self.steps]

    def scalar_ops(self):
        """The table row of each step."""
        return [st.scalar_op_by_name(name) for name, _, _ in self.steps]

    def make_node(self, *inputs):
        inputs = [as_tensor_variable(i) for i in inputs]
        if not inputs:
            raise TypeError("FusedElemwise needs at least one input")
        nd = inputs[0].ndim
        if any(i.ndim != nd for i in inputs):
            raise TypeError(f"{self}: inputs must share one number of dimensions, got "
                            f"{[i.ndim for i in inputs]}")
        shapes = []
        for j, (name, refs, dtype) in enumerate(self.steps):
            for kind, k in refs:
                if kind == "i" and not 0 <= k < len(inputs):
                    raise TypeError(f"{self}: step {j} uses input {k}, but there are "
                                    f"{len(inputs)} inputs")
            arg_shapes = [inputs[k].type.shape if kind == "i" else shapes[k] for kind, k in refs]
            shapes.append(broadcast_static(name, arg_shapes))
        out_shape = shapes[-1]
        pattern = tuple(s == 1 for s in out_shape)
        for j, s in enumerate(shapes[:-1]):
            if tuple(x == 1 for x in s) != pattern:
                raise TypeError(f"{self}: step {j} has static shape {s}, which broadcasts "
                                f"differently from the output {out_shape}")
        out_type = TensorType(self.steps[-1][2], out_shape)
        if self.inplace_input is not None:
            k = self.inplace_input
            if not 0 <= k < len(inputs) or inputs[k].type != out_type or nd == 0:
                raise TypeError(f"{self}: the output ({out_type}) cannot be written into "
                                f"input {k}, which must have exactly the output's type")
        return Apply(self, inputs, [out_type()])

    # -- shapes ----------------------------------------------------------------------------
    def check_dims(self, node):
        """For each axis, the inputs whose size must equal the output's (static size not 1).

        Each unfused node checked that its non-broadcastable inputs agree; as every
        intermediate has the output's shape, together they say: all inputs whose static
        size on an axis is not 1 share one size there.
        """
        out = []
        for d in range(node.outputs[0].ndim):
            idx = tuple(k for k, i in enumerate(node.inputs) if i.type.shape[d] != 1)
            out.append(idx)
        return out

    def _raise(self, node, inputs, d):
        raise_broadcast_mismatch(str(self), self, inputs, d)

    def check_shapes(self, node, inputs):
        """Raise ShapeMismatchError where the unfused nodes would have raised."""
        for d, idx in enumerate(self.check_dims(node)):
            if len(idx) > 1 and len({np.shape(inputs[k])[d] for k in idx}) > 1:
                self._raise(node, inputs, d)

    def infer_shape(self, node, shapes):
        out = []
        oshape = node.outputs[0].type.shape
        for d, idx in enumerate(self.check_dims(node)):
            if oshape[d] is not None:
                out.append(constant(oshape[d], dtype="int64"))
                continue
            sizes = [shapes[k][d] for k in idx]
            labels = [f"{node.inputs[k]}.shape[{d}]" for k in idx]
            out.append(guard_equal(str(self), f"inputs must agree on dimension {d}", sizes,
                                   labels))
        return [tuple(out)]

    # -- the reference ---------------------------------------------------------------------
    def perform(self, node, inputs, output_storage):
        self.check_shapes(node, inputs)
        values = []
        with np.errstate(all="ignore"):
            for sop, (_, refs, dtype) in zip(self.scalar_ops(), self.steps):
                args = [inputs[k] if kind == "i" else values[k] for kind, k in refs]
                values.append(np.asarray(sop.impl(*args), dtype=dtype))
        out = values[-1]
        if any(np.may_share_memory(out, i) for i in inputs if isinstance(i, np.ndarray)):
            out = out.copy()
        output_storage[0][0] = out

    # -- the fast path ---------------------------------------------------------------------
    def make_fast_fn(self, node):
        # Large calls may run a generated C loop instead (optional; see link/ckernels).
        from verigraph.link import ckernels
        from verigraph.link.ckernels import small
        numpy_fn = _KernelBuilder(self, node, ckernels.large_path(self, node),
                                  ckernels.MIN_SIZE).build()
        # Small calls of an often-called node move to C too (tiered; see ckernels.small).
        return small.tiered(self, node, numpy_fn)


# -- kernels for rows whose table kernel is slow or cannot write into a buffer ---------------
# Each writes its result into ``out`` (an array of the step's shape and dtype), which may
# be one of its arguments (buffers are reused in place), so every argument is read before
# ``out`` is first written. They are the textbook stable formulas built from SIMD-vectorized
# ufuncs; the table kernels (``logaddexp``-based, several times slower) stay the
# reference, and DebugMode compares the two on every call.
def _k_sigmoid(x, out):
    # exp(-|x|) never overflows; sigmoid = 1/(1+e) for x >= 0 and e/(1+e) below. The
    # numerator is exp(min(x, 0)): 1 for x >= 0 and, below, exp(x), which is e bit for
    # bit; two cheap passes instead of a comparison and a masked store (twice as slow).
    num = np.minimum(x, 0.0)
    np.exp(num, out=num)
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.add(out, 1.0, out=out)
    np.divide(num, out, out=out)
    return out


def _k_softplus(x, out):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), with no overflow anywhere.
    positive_part = np.maximum(x, 0.0)
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    np.add(out, positive_part, out=out)
    return out


def _k_second(a, b, out):
    # Theano's fill: b's values in the output's shape (a contributes only its shape).
    np.copyto(out, b)
    return out


def _k_switch(cond, ift, iff, out):
    # np.where has no out=; the choice is made in full before out (maybe an argument) changes.
    np.copyto(out, np.where(cond, ift, iff))
    return out


def _k_cast(x, out):
    np.copyto(out, x, casting="unsafe")
    return out


def _float_same(arg_dtypes, dtype):
    return np.dtype(dtype).kind == "f" and all(a == dtype for a in arg_dtypes)


def _special_kernel(name, arg_dtypes, dtype):
    """The buffer kernel for a row on these dtypes, or None to use the table's kernel."""
    if name == "sigmoid" and _float_same(arg_dtypes, dtype):
        return _k_sigmoid
    if name == "softplus" and _float_same(arg_dtypes, dtype):
        return _k_softplus
    if name == "second" and arg_dtypes[1] == dtype:
        return _k_second
    if name == "switch" and arg_dtypes[0] == "bool" and \
            all(np.can_cast(a, dtype, "same_kind") for a in arg_dtypes[1:]):
        return _k_switch
    if name.startswith("cast_"):
        return _k_cast
    return None


def has_fast_kernel(name, arg_dtypes, dtype):
    """Whether a lone row is worth a one-step FusedElemwise for its buffer kernel."""
    return _special_kernel(name, arg_dtypes, dtype) is not None


class _KernelBuilder:
    """Generates the source of one fused kernel: shape checks, then plain, buffered or chunked."""

    def __init__(self, op, node, large=None, large_min=0):
        self.op, self.node = op, node
        # ``large(*args)``: an optional C path for calls of at least ``large_min`` elements.
        self.large, self.large_min = large, large_min
        self.sops = op.scalar_ops()
        self.steps = op.steps
        self.nin = len(node.inputs)
        self.ndim = node.outputs[0].ndim
        self.glob = {"np": np, "ndarray": np.ndarray, "empty": np.empty, "asarray": np.asarray,
                     "range": range, "max": max}
        in_dtypes = [i.dtype for i in node.inputs]
        dtypes = [s[2] for s in self.steps]
        self.arg_dtypes = [[in_dtypes[k] if kind == "i" else dtypes[k] for kind, k in refs]
                           for _, refs, _ in self.steps]
        self.kind = []     # per step: "ufunc", "special" or "generic"
        for j, (sop, (name, refs, dtype)) in enumerate(zip(self.sops, self.steps)):
            special = _special_kernel(name, self.arg_dtypes[j], dtype) if self.ndim else None
            if sop.ufunc is not None:
                self.kind.append("ufunc")
                self.glob[f"f{j}"] = sop.ufunc
            elif special is not None:
                self.kind.append("special")
                self.glob[f"f{j}"] = special
            else:
                self.kind.append("generic")
                self.glob[f"f{j}"] = sop.impl
            self.glob[f"d{j}"] = np.dtype(dtype)
        self.last_use = {}
        for j, (_, refs, _) in enumerate(self.steps):
            for kind, k in refs:
                if kind == "s":
                    self.last_use[k] = j
        k = op.inplace_input
        self.inplace = None if k is None else f"i{k}"

    def _check_lines(self):
        """Shape checks and the output shape's entries (static where known)."""
        lines, dims = [], []
        oshape = self.node.outputs[0].type.shape
        inputs = ", ".join(f"i{k}" for k in range(self.nin))
        for d, idx in enumerate(self.op.check_dims(self.node)):
            if len(idx) > 1 and any(self.node.inputs[k].type.shape[d] is None for k in idx):
                first = f"i{idx[0]}.shape[{d}]"
                cond = " or ".join(f"i{k}.shape[{d}] != {first}" for k in idx[1:])
                lines.append(f"    if {cond}: fail(({inputs},), {d})")
            if oshape[d] is not None:
                dims.append(str(oshape[d]))
            elif idx:
                dims.append(f"i{idx[0]}.shape[{d}]")
            else:
                dims.append("1")
        return lines, dims

    def _emit(self, j, args, target, indent):
        """One step writing into the existing array ``target``."""
        kind = self.kind[j]
        if kind == "ufunc":
            return f"{indent}f{j}({args}, out={target})"
        if kind == "special":
            return f"{indent}f{j}({args}, {target})"
        return f"{indent}{target}[...] = f{j}({args})"

    def _plain_body(self, names, indent):
        """Lines computing every step into fresh results (small arrays), ending in a return."""
        lines = []
        scalar = self.ndim == 0
        last = len(self.steps) - 1
        for j, (name, refs, dtype) in enumerate(self.steps):
            args = [names[r] for r in refs]
            kind = self.kind[j]
            if j == last and self.inplace is not None:
                lines.append(self._emit(j, ", ".join(args), self.inplace, indent))
                lines.append(f"{indent}return {self.inplace}")
                return lines
            if scalar and name in SCALAR_OPERATORS and _float_same(self.arg_dtypes[j], dtype) \
                    and len(args) == (1 if name == "neg" else 2):
                lines.append(f"{indent}s{j} = {SCALAR_OPERATORS[name].format(*args)}")
            elif scalar and name.startswith("cast_") and np.dtype(dtype).kind == "f" and \
                    np.dtype(self.arg_dtypes[j][0]).kind in "biuf":
                # A 0-d cast to float is the NumPy scalar constructor: the same rounding as
                # ``astype``, without building two 0-d arrays.
                self.glob[f"t{j}"] = np.dtype(dtype).type
                lines.append(f"{indent}s{j} = t{j}({args[0]})")
            elif kind == "ufunc":
                lines.append(f"{indent}s{j} = f{j}({', '.join(args)})")
            elif kind == "special":
                lines.append(f"{indent}s{j} = f{j}({', '.join(args)}, empty(shape, d{j}))")
            else:
                lines.append(f"{indent}s{j} = asarray(f{j}({', '.join(args)}), dtype=d{j})")
            names[("s", j)] = f"s{j}"
        lines.append(f"{indent}return s{last}")
        return lines

    def _buffered_body(self, indent, names, out_target, buffer_shape, alloc_lines):
        """Lines computing every step into reused buffers; the last step into ``out_target``.

        ``out_target`` None means the last step's buffer is the result. Only as many
        buffers as are live at once are allocated (into ``alloc_lines``), per dtype.
        """
        lines = []
        free, owner = {}, {}
        n_buffers = 0
        last = len(self.steps) - 1
        for j, (name, refs, dtype) in enumerate(self.steps):
            args = ", ".join(names[r] for r in refs)
            kind = self.kind[j]
            # Operands dying here give their buffer back first, so the step runs in place.
            for rkind, k in refs:
                if rkind == "s" and self.last_use.get(k) == j and k in owner:
                    free.setdefault(self.steps[k][2], []).append(owner.pop(k))
            if j == last and out_target is not None:
                lines.append(self._emit(j, args, out_target, indent))
                return lines
            if kind == "generic":
                lines.append(f"{indent}s{j} = asarray(f{j}({args}), dtype=d{j})")
                names[("s", j)] = f"s{j}"
                continue
            pool = free.get(dtype)
            if pool:
                buf = pool.pop()
            else:
                buf = f"b{n_buffers}"
                n_buffers += 1
                alloc_lines.append(f"    {buf} = empty({buffer_shape}, d{j})")
            owner[j] = buf
            names[("s", j)] = buf
            lines.append(self._emit(j, args, buf, indent))
        lines.append(f"{indent}return {names[('s', last)]}")
        return lines

    def _large_variants(self, params):
        """Source of ``buffered`` (whole-array buffers) and ``chunked`` (rows in cache)."""
        node, nin = self.node, self.nin
        src = []
        names = {("i", k): f"i{k}" for k in range(nin)}
        alloc = []
        body = self._buffered_body("    ", names, self.inplace, "shape", alloc)
        src.append(f"def buffered({params}, shape):")
        src += alloc + body
        if self.inplace is not None:
            src.append(f"    return {self.inplace}")
        # Chunks of rows along axis 0; inputs broadcast on axis 0 stay whole.
        sliced = [k for k in range(nin) if node.inputs[k].type.shape[0] != 1]
        names = {("i", k): (f"a{k}" if k in sliced else f"i{k}") for k in range(nin)}
        alloc = []
        body = self._buffered_body("        ", names, "out[s:e]", "cshape", alloc)
        src.append(f"def chunked({params}, shape, rows):")
        if self.inplace is not None:
            # Each chunk reads its rows of the destroyed input before writing them.
            src.append(f"    out = {self.inplace}")
        else:
            src.append(f"    out = empty(shape, d{len(self.steps) - 1})")
        src.append("    n = shape[0]")
        src.append("    cshape = (rows,) + shape[1:]")
        src += alloc
        src.append("    for s in range(0, n, rows):")
        src.append("        e = s + rows")
        src.append("        if e > n:")
        src.append("            e = n")
        for line in alloc:
            b = line.split("=")[0].strip()
            src.append(f"            {b} = {b}[:n - s]")
        src += [f"        a{k} = i{k}[s:e]" for k in sliced]
        src += body
        src.append("    return out")
        return src

    def build(self):
        nin, ndim, node, op = self.nin, self.ndim, self.node, self.op
        params = ", ".join(f"i{k}" for k in range(nin))
        check_lines, dims = self._check_lines()
        self.glob["fail"] = lambda inputs, d: op._raise(node, inputs, d)
        src = [] if ndim == 0 else self._large_variants(params)
        src.append(f"def kernel({params}):")
        src += check_lines
        names = {("i", k): f"i{k}" for k in range(nin)}
        if ndim == 0:
            # NumPy scalars take the cheap scalar-math path, 0-d arrays do not; Shape_i
            # hands over Python ints, which pass through unchanged.
            src += [f"    if type(i{k}) is ndarray: i{k} = i{k}[()]" for k in range(nin)]
            src += self._plain_body(names, "    ")
        else:
            src.append(f"    shape = ({', '.join(dims)},)")
            src.append(f"    size = {' * '.join(f'shape[{d}]' for d in range(ndim))}")
            if self.large is not None:
                self.glob["large"] = self.large
                src.append(f"    if size >= {self.large_min}:")
                src.append(f"        r = large({params})")
                src.append("        if r is not None:")
                src.append("            return r")
            src.append(f"    if size < {SMALL_SIZE}:")
            src += self._plain_body(names, "        ")
            src.append(f"    if size < {CHUNK_MIN_SIZE} or shape[0] < 2:")
            src.append(f"        return buffered({params}, shape)")
            src.append(f"    rows = max(1, {CHUNK_ELEMENTS} // (size // shape[0]))")
            src.append(f"    return chunked({params}, shape, rows)")
        source = "\n".join(src)
        fname = f"<verigraph-fused-{next(_kernel_ids)}>"
        exec(compile_source(source, fname), self.glob)
        kernel = self.glob["kernel"]
        kernel.source = source
        if self.large is not None and ndim > 0:
            kernel.c_source = self.large.c_source
        return kernel
