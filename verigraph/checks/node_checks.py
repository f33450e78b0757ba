"""Per-node checks for DebugMode: fast path vs reference, mutation, aliasing, types, shapes, NaN.

Each check takes one Apply node, its actual input values and the reference outputs
(``perform`` on those inputs) and returns a list of findings (CheckError instances,
not raised); the caller decides whether to raise or collect them.
"""
from __future__ import annotations

import copy

import numpy as np

from verigraph.checks.errors import (
    BadDestroyMap, BadThunkOutput, BadViewMap, InvalidValue, NonFinite, ShapeMismatchError)
from verigraph.checks.precision import node_working_dtype
from verigraph.checks.tolerance import compare, rng_state_key, tolerance
from verigraph.graph.basic import Constant
from verigraph.link.errors import describe_inputs, reraise_with_context

_PY_SCALAR_KINDS = {bool: "b", int: "iu", float: "f", complex: "c"}


def copy_value(v):
    """An independent copy of a runtime value (arrays copied, immutable scalars shared)."""
    if isinstance(v, np.ndarray):
        # Object arrays box mutable things (random generators): copy what they hold too.
        return copy.deepcopy(v) if v.dtype == object else v.copy()
    if isinstance(v, (np.generic, int, float, complex, bool, str, type(None))):
        return v
    return copy.deepcopy(v)


def readonly(v):
    """A read-only view of an array (no data copied), so any write into it raises.

    This is how mutation is detected cheaply: an Op writing into an input it did not
    declare in ``destroy_map`` fails with NumPy's "read-only" error instead of silently
    corrupting a value other nodes read.
    """
    if isinstance(v, np.ndarray) and v.dtype != object:
        if not v.flags.writeable:
            return v
        view = v.view()
        view.flags.writeable = False
        return view
    return copy_value(v)


def call_args(node, values, make=readonly):
    """Arguments for one run of a node: ``make(v)``, or a writable copy where declared destroyed."""
    destroyed = node.op.destroy_map
    if not destroyed:
        return [make(v) for v in values]
    kill = {i for ins in destroyed.values() for i in ins}
    return [copy_value(v) if k in kill else make(v) for k, v in enumerate(values)]


def strided_copy(v):
    """A non-contiguous copy of an array (every other element of a doubled buffer)."""
    if not isinstance(v, np.ndarray) or v.ndim == 0 or v.size == 0:
        return copy_value(v)
    shape = v.shape[:-1] + (2 * v.shape[-1],)
    big = np.empty(shape, dtype=v.dtype)
    view = big[..., ::2]
    view[...] = v
    view.flags.writeable = False
    return view


def same_value(a, b):
    """Whether ``b`` still holds exactly ``a`` (NaNs equal): detects in-place modification."""
    if rng_state_key(a) is not None:
        return rng_state_key(a) == rng_state_key(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # noqa: BLE001 - objects without a usable ==: compare their state
        return repr(a) == repr(b)


def finding(cls, message, node, values, rule=None, diff=None, extra=None, context=None):
    """Build a finding of class ``cls`` with node, op, rule, source line and input facts."""
    shapes, dtypes = describe_inputs(values) if values is not None else ([], [])
    err = cls(message, node=str(node) if node is not None else None,
              op=str(node.op) if node is not None else None,
              rule=rule if rule is not None else getattr(node, "tag_rule", None),
              source=node.source_str() if node is not None else None,
              input_shapes=shapes, input_dtypes=dtypes,
              max_abs_diff=diff[0] if diff else None, max_rel_diff=diff[1] if diff else None,
              extra=extra or {})
    err.context = context
    return err


def perform_node(node, vals):
    """``perform`` on fresh storage; an exception is re-raised with the node's context."""
    storage = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, vals, storage)
    except Exception as exc:  # noqa: BLE001 - enriched for the message, then re-raised
        reraise_with_context(exc, node, vals)
    return [s[0] for s in storage]


def node_context(node, values):
    """What a reproducer needs to rebuild one node's check: the node and its inputs."""
    return {"kind": "node", "node": node, "inputs": [copy_value(v) for v in values]}


def input_values(node, env):
    """Values of ``node``'s inputs from ``env`` (id -> value) or constants."""
    return [i.data if isinstance(i, Constant) else env[id(i)] for i in node.inputs]


def fast_type_problem(node, k, value):
    """None if the fast path's output ``k`` fits its Type, else what is wrong.

    The fast path may return Python scalars for 0-d results (the Function wraps them);
    those only need a compatible kind.
    """
    t = node.outputs[k].type
    dtype = getattr(t, "dtype", None)
    if dtype is None:
        return None
    kinds = _PY_SCALAR_KINDS.get(type(value))
    if kinds is not None:
        if t.ndim != 0 or np.dtype(dtype).kind not in kinds:
            return f"a Python {type(value).__name__} where the type is {t}"
        return None
    return array_type_problem(t, value)


def array_type_problem(t, value):
    """None if the array ``value`` belongs to TensorType ``t``, else what is wrong."""
    if not isinstance(value, (np.ndarray, np.generic)):
        return f"a {type(value).__name__}, not an array"
    want = getattr(t, "numpy_dtype", None) or np.dtype(t.dtype)
    if value.dtype != want or value.ndim != t.ndim or any(
            s is not None and s != a for s, a in zip(t.shape, value.shape)):
        return f"dtype {value.dtype} and shape {np.shape(value)}, but the type is {t}"
    return None


def as_reference_like(value, ref):
    """The fast value as an array of the reference's dtype when it is a Python scalar."""
    if type(value) in _PY_SCALAR_KINDS:
        return np.asarray(value, dtype=np.asarray(ref).dtype)
    return np.asarray(value)


def _allowed_alias(op, k):
    return set(op.view_map.get(k, ())) | set(op.destroy_map.get(k, ()))


def run_fast(node, fn, values, args, label=""):
    """Run the fast function on ``args`` (read-only views of ``values``): ``(outs, error, findings)``.

    Reports BadDestroyMap (it wrote into an undeclared input) and BadViewMap (an output
    shares memory with an input it does not declare).
    """
    op = node.op
    try:
        out = fn(*args)
    except ValueError as exc:
        if "read-only" not in str(exc):
            return None, exc, []
        return None, None, [_destroy_finding(node, fn, values, label, exc)]
    except Exception as exc:  # noqa: BLE001 - reported once perform has run
        return None, exc, []
    outs = (out,) if len(node.outputs) == 1 else tuple(out)
    found = []
    for k, o in enumerate(outs):
        if not isinstance(o, np.ndarray) or not o.size:
            continue
        allowed = _allowed_alias(op, k)
        shared = [i for i, a in enumerate(args)
                  if isinstance(a, np.ndarray) and np.may_share_memory(o, a)]
        # Inputs may share a buffer (x and x.T); a declared view of one explains them all.
        if shared and not allowed.intersection(shared):
            i = shared[0]
            found.append(finding(
                BadViewMap, f"{op}: output {k} shares memory with input {i} "
                f"({node.inputs[i]}){label}, but view_map/destroy_map do not declare it",
                node, values, extra={"output": k, "input": i},
                context=node_context(node, values)))
    return outs, None, found


def _destroy_finding(node, fn, values, label, exc):
    """Which input the fast function writes into: rerun on writable copies and compare."""
    copies = [copy_value(v) for v in values]
    changed = []
    try:
        fn(*copies)
        changed = [i for i, (v, c) in enumerate(zip(values, copies)) if not same_value(v, c)]
    except Exception:  # noqa: BLE001 - the read-only error already proves the write
        pass
    which = (f"input {changed[0]} ({node.inputs[changed[0]]})" if changed
             else "an input")
    return finding(BadDestroyMap, f"{node.op}: the fast implementation modified {which}{label} "
                   f"without declaring it in destroy_map ({exc})", node, values,
                   extra={"input": changed[0] if changed else None},
                   context=node_context(node, values))


def compare_outputs(node, outs, error, values, refs, label=""):
    """InvalidValue / BadThunkOutput findings: the fast outputs (or its error) vs ``refs``."""
    op = node.op
    if error is not None:
        return [finding(BadThunkOutput, f"{op}: the fast implementation raised "
                        f"{type(error).__name__}: {error}{label}, but perform succeeded",
                        node, values, extra={"inputs": label.strip() or "contiguous"},
                        context=node_context(node, values))]
    if outs is None:
        return []  # the run was already reported (it wrote into a read-only input)
    found = []
    for k, (o, r) in enumerate(zip(outs, refs)):
        problem = fast_type_problem(node, k, o)
        if problem is not None:
            found.append(finding(InvalidValue, f"{op}: the fast implementation's output {k} is "
                                 f"{problem}{label}", node, values, extra={"output": k},
                                 context=node_context(node, values)))
            continue
        diff = None
        if not close_enough(o, r):
            # A fused kernel's float32 steps bound the precision of its float64 output.
            work = node_working_dtype(node)
            if not close_enough(o, r, work):
                diff = compare(as_reference_like(o, r), r, work)
                if diff is not None and _within_rounding(node, values, refs, k, o, work):
                    diff = None
        if diff is not None:
            found.append(finding(
                BadThunkOutput, f"{op}: the fast implementation's output {k} differs from "
                f"perform{label} ({diff[2]})", node, values, diff=diff,
                extra={"output": k, "inputs": label.strip() or "contiguous"},
                context=node_context(node, values)))
    return found


def _within_rounding(node, values, refs, k, o, work):
    """Whether output ``k`` differs from ``refs[k]`` by no more than its rounding can.

    Both ran on the same inputs, so only the node's own rounding counts: a reordered sum
    that cancels (``checks/rounding.py``).
    """
    from verigraph.checks.rounding import node_output_within
    return node_output_within(node, values, as_reference_like(o, refs[k]), refs[k], k, work)


def close_enough(a, b, working_dtype=None):
    """Cheap pass before ``tolerance.compare``: True when ``a`` matches reference ``b``.

    False only means "not proven equal here" (NaNs, different shapes, Python scalars):
    the caller then runs the full comparison, which also measures the difference.
    """
    if _identical(a, b):
        return True
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.shape != b.shape or \
            a.dtype != b.dtype or a.dtype.kind not in "fc":
        return False
    rtol, atol = tolerance(a.dtype)
    if working_dtype is not None:
        wr, wa = tolerance(working_dtype)
        rtol, atol = max(rtol, wr), max(atol, wa)
    with np.errstate(all="ignore"):
        return bool((np.abs(a - b) <= atol + rtol * np.abs(b)).all())


def _identical(a, b):
    """Cheap exact-equality pass (the usual case) before the tolerance comparison."""
    if type(a) is not np.ndarray:
        if type(b) is not np.ndarray or b.ndim or type(a) not in _PY_SCALAR_KINDS:
            return False
        return bool(a == b) and np.asarray(a, dtype=b.dtype) == b
    if type(b) is not np.ndarray:
        return False
    return a.shape == b.shape and a.dtype == b.dtype and bool((a == b).all())


def check_strided(node, fn, values, refs, cache):
    """Re-run the fast function on non-contiguous copies of the inputs; compare with ``refs``.

    ``cache`` maps id(value) -> its strided copy for the current call, so an array read
    by several nodes is copied once.
    """
    def make(v):
        c = cache.get(id(v))
        if c is None:
            c = cache[id(v)] = strided_copy(v)
        return c
    args = call_args(node, values, make)
    if not any(isinstance(c, np.ndarray) and not c.flags.c_contiguous for c in args):
        return []
    label = " with non-contiguous inputs"
    outs, error, found = run_fast(node, fn, values, args, label)
    return found + compare_outputs(node, outs, error, values, refs, label)


def check_reference_types(node, values, refs):
    """InvalidValue findings for reference outputs that do not belong to their Type."""
    found = []
    for k, r in enumerate(refs):
        t = node.outputs[k].type
        if getattr(t, "dtype", None) is None:
            continue
        problem = array_type_problem(t, r)
        if problem is not None:
            found.append(finding(InvalidValue, f"{node.op}: perform's output {k} is {problem}",
                                 node, values, extra={"output": k},
                                 context=node_context(node, values)))
    return found


def _nonfinite_kind(v, big=None):
    if not isinstance(v, (np.ndarray, np.generic)) or np.dtype(v.dtype).kind not in "fc":
        return None
    with np.errstate(all="ignore"):
        if np.isnan(v).any():
            return "NaN"
        if np.isinf(v).any():
            return "Inf"
        if big is not None and v.size and np.abs(v).max() > big:
            return f"a value larger than {big:g}"
    return None


def check_nonfinite(node, values, outs, nan=True, inf=True, big=None):
    """NonFinite findings: an output with NaN/Inf (or > ``big``) from inputs without any."""
    kinds = []
    for k, o in enumerate(outs):
        kind = _nonfinite_kind(np.asarray(o) if type(o) in _PY_SCALAR_KINDS else o, big)
        if kind is None or (kind == "NaN" and not nan) or (kind == "Inf" and not inf):
            continue
        kinds.append((k, kind))
    if not kinds:
        return []
    if any(_nonfinite_kind(v, big) for v in values):
        return []  # propagated, not produced here
    return [finding(NonFinite, f"{node.op}: output {k} contains {kind} although every input is "
                    f"finite", node, values, extra={"output": k, "kind": kind},
                    context=node_context(node, values)) for k, kind in kinds]


class ShapePlan:
    """One node's ``infer_shape`` answer, built symbolically once and evaluated per call."""

    def __init__(self, fgraph, node):
        from verigraph.rewriting.shape import input_shapes
        self.node = node
        self.error = None
        self.entries = []  # (output k, dim d, how, payload)
        self.order = []
        self.computed = []
        if not node.op.has_infer_shape() or not all(hasattr(o.type, "ndim") for o in node.outputs):
            return
        try:
            shapes = node.op.call_infer_shape(fgraph, node, input_shapes(node))
        except NotImplementedError:
            return
        except Exception as exc:  # noqa: BLE001 - reported at the first call, with values
            self.error = exc
            return
        pos = {id(i): k for k, i in enumerate(node.inputs)}
        computed = []
        for k, shp in enumerate(shapes):
            if shp is None:
                continue
            for d, s in enumerate(shp):
                if isinstance(s, (int, np.integer)):
                    self.entries.append((k, d, "const", int(s)))
                elif isinstance(s, Constant):
                    self.entries.append((k, d, "const", int(np.asarray(s.data))))
                elif id(s) in pos:
                    self.entries.append((k, d, "input", pos[id(s)]))
                elif s.owner is not None and type(s.owner.op).__name__ == "Shape_i" and \
                        id(s.owner.inputs[0]) in pos:
                    # The common case costs one tuple lookup instead of a perform call.
                    self.entries.append((k, d, "dim", (pos[id(s.owner.inputs[0])], s.owner.op.i)))
                else:
                    self.entries.append((k, d, "var", s))
                    computed.append(s)
        self.computed = computed
        if computed:
            from verigraph.graph.traversal import io_toposort
            self.order = io_toposort(list(node.inputs), computed)
        self.ranks = {k: len(shp) for k, shp in enumerate(shapes) if shp is not None}

    def evaluate(self, values):
        """``{output k: inferred shape tuple}`` for these input values (may raise)."""
        if self.error is not None:
            raise self.error
        env = {}
        if self.computed:
            env = {id(i): v for i, v in zip(self.node.inputs, values)}
            for n in self.order:
                vals = [i.data if isinstance(i, Constant) else env[id(i)] for i in n.inputs]
                for o, v in zip(n.outputs, perform_node(n, vals)):
                    env[id(o)] = v
        result = {k: [None] * n for k, n in self.ranks.items()}
        for k, d, how, p in self.entries:
            if how == "const":
                result[k][d] = p
            elif how == "input":
                result[k][d] = int(np.asarray(values[p]))
            elif how == "dim":
                result[k][d] = int(np.shape(values[p[0]])[p[1]])
            else:
                result[k][d] = int(np.asarray(env[id(p)]))
        return {k: tuple(v) for k, v in result.items()}

    def check(self, values, refs):
        """ShapeMismatch findings where the inferred shape differs from the actual one."""
        if not self.entries and self.error is None:
            return []
        node = self.node
        try:
            inferred = self.evaluate(values)
        except Exception as exc:  # noqa: BLE001 - perform succeeded on these inputs
            return [finding(ShapeMismatchError, f"{node.op}: infer_shape raised "
                            f"{type(exc).__name__} ({exc}) on inputs that perform accepts",
                            node, values, context=node_context(node, values))]
        found = []
        for k, shp in inferred.items():
            actual = tuple(np.shape(refs[k]))
            if shp != actual:
                found.append(finding(
                    ShapeMismatchError, f"{node.op}: infer_shape says output {k} has shape "
                    f"{shp}, but perform returned shape {actual}", node, values,
                    extra={"output": k, "inferred": list(shp), "actual": list(actual)},
                    context=node_context(node, values)))
        return found


def check_node(node, values, nonfinite=False, fgraph=None):
    """Every per-node check on one node and its input values; the findings (for reproducers).

    Raises what ``perform`` raises: a reference that fails is the user's error, not a finding.
    """
    fn = node.op.make_fast_fn(node)
    outs, error, found = run_fast(node, fn, values, call_args(node, values))
    storage = [[None] for _ in node.outputs]
    node.op.perform(node, call_args(node, values), storage)
    refs = [s[0] for s in storage]
    found += check_reference_types(node, values, refs)
    found += compare_outputs(node, outs, error, values, refs)
    found += check_strided(node, fn, values, refs, {})
    found += ShapePlan(fgraph, node).check(values, refs)
    if nonfinite:
        found += check_nonfinite(node, values, refs)
    return found
