"""``OpTester``: the Op contract checked in one call for a user's custom Op.

``OpTester(MyOp()).check(x_value, y_value)`` builds the node on inputs of the values'
types and checks: ``perform`` (output types, inputs untouched), the fast path
(``make_fast_fn``) against ``perform``, ``infer_shape`` against the actual shapes,
the gradient against finite differences (``verify_grad``), equality / hash / pickle
of the Op from its ``__props__``, and the compiled function in each mode against
``perform``. Every check runs; the failures are reported together.
"""
from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass

import numpy as np


@dataclass
class OpCheck:
    """Result of one contract check: ``ok`` True, False, or None when skipped (with why)."""

    name: str
    ok: bool | None
    detail: str = ""

    def __str__(self):
        mark = {True: "ok", False: "FAILED", None: "skipped"}[self.ok]
        return f"{self.name}: {mark}" + (f" ({self.detail})" if self.detail else "")


class OpTestFailure(AssertionError):
    """One or more contract checks failed; ``.results`` holds every OpCheck."""

    def __init__(self, op, results):
        self.results = results
        failed = [r for r in results if r.ok is False]
        lines = [f"{op}: {len(failed)} of {len(results)} contract checks failed"]
        lines += [f"  - {r.name}: {r.detail}" for r in failed]
        super().__init__("\n".join(lines))


def _as_array(v):
    return v if isinstance(v, np.ndarray) else np.asarray(v)


def _copies(values):
    return [v.copy() for v in values]


def _outputs_tuple(res, n):
    if n == 1:
        return [res]
    if not isinstance(res, (tuple, list)) or len(res) != n:
        raise TypeError(f"the fast function returned {type(res).__name__}, expected a tuple of "
                        f"{n} outputs")
    return list(res)


class OpTester:
    """Checks the Op contract of ``op`` on concrete input values (see the module docstring).

    ``grad``: ``"auto"`` checks the gradient when every input and output is float and
    skips it when the Op declares none; ``True`` requires it; ``False`` skips it.
    ``modes``: compiled-function modes compared with ``perform``.
    """

    def __init__(self, op, grad="auto", modes=("FAST_RUN", "DebugMode"), eps=None,
                 abs_tol=None, rel_tol=None, rng=None):
        if grad not in ("auto", True, False):
            raise ValueError(f"OpTester: grad must be 'auto', True or False, got {grad!r}")
        self.op = op
        self.grad = grad
        self.modes = tuple(modes)
        self.eps, self.abs_tol, self.rel_tol = eps, abs_tol, rel_tol
        self.rng = rng if rng is not None else np.random.default_rng(0)

    # -- entry points -------------------------------------------------------------------------
    def run(self, *values):
        """Every check on ``values``; returns the list of OpCheck (never raises for a failure)."""
        values = [_as_array(v) for v in values]
        results = [self._props()]
        try:
            syms, node = self._node(values)
        except Exception as exc:  # noqa: BLE001 - reported as a failed check
            results.append(OpCheck("make_node", False, f"{type(exc).__name__}: {exc}"))
            return results
        results.append(OpCheck("make_node", True))
        perform = self._perform(node, values)
        results.append(perform[0])
        refs = perform[1]
        if refs is None:
            return results
        results.append(self._fast(node, values, refs))
        results.append(self._infer_shape(node, syms, values, refs))
        results.extend(self._compiled(syms, values, refs))
        results.append(self._grad(node, values))
        return results

    def check(self, *values):
        """Run every check; raise OpTestFailure listing each failure, else return the results."""
        results = self.run(*values)
        if any(r.ok is False for r in results):
            raise OpTestFailure(self.op, results)
        return results

    __call__ = check

    # -- the checks ---------------------------------------------------------------------------
    def _node(self, values):
        from verigraph.tensor.type import TensorType
        syms = [TensorType(v.dtype, (None,) * v.ndim)(f"input_{k}") for k, v in enumerate(values)]
        node = self.op.make_node(*syms)
        return syms, node

    def _props(self):
        op = self.op
        problems = []
        for p in op.__props__:
            if not hasattr(op, p):
                problems.append(f"__props__ names {p!r}, which the Op does not have")
                continue
            try:
                hash(getattr(op, p))
            except TypeError:
                problems.append(f"prop {p!r} = {getattr(op, p)!r:.60} is not hashable "
                                f"(use a tuple instead of a list)")
        if not problems:
            if op != op or hash(op) != hash(op):
                problems.append("the Op is not equal to itself")
            twin = copy.copy(op)
            if twin != op or hash(twin) != hash(op):
                problems.append("a copy of the Op is not equal to it (or hashes differently)")
            try:
                back = pickle.loads(pickle.dumps(op))
                if back != op or hash(back) != hash(op):
                    problems.append("pickling changes the Op's identity (equality or hash)")
            except Exception as exc:  # noqa: BLE001
                problems.append(f"the Op cannot be pickled: {type(exc).__name__}: {exc}")
        if not str(op):
            problems.append("str(op) is empty")
        return OpCheck("props/hash/pickle", not problems, "; ".join(problems))

    def _perform(self, node, values):
        from verigraph.link.reference import run_node_reference
        args = _copies(values)
        try:
            refs = run_node_reference(node, args)
        except Exception as exc:  # noqa: BLE001
            return OpCheck("perform", False, f"{type(exc).__name__}: "
                                             f"{str(exc).splitlines()[0] if str(exc) else ''}"), None
        for k, (a, v) in enumerate(zip(args, values)):
            if not np.array_equal(a, v, equal_nan=True):
                return OpCheck("perform", False, f"perform modified input {k} (perform must "
                                                 f"write fresh outputs)"), refs
        return OpCheck("perform", True), refs

    def _fast(self, node, values, refs):
        from verigraph.checks.tolerance import compare
        args = _copies(values)
        try:
            fn = self.op.make_fast_fn(node)
            outs = _outputs_tuple(fn(*args), len(node.outputs))
        except Exception as exc:  # noqa: BLE001
            return OpCheck("fast vs perform", False, f"the fast function raised "
                                                     f"{type(exc).__name__}: {exc}")
        destroyed = {i for ins in self.op.destroy_map.values() for i in ins}
        for k, (a, v) in enumerate(zip(args, values)):
            if k not in destroyed and not np.array_equal(a, v, equal_nan=True):
                return OpCheck("fast vs perform", False, f"the fast function modified input {k} "
                                                         f"without declaring it in destroy_map")
        for k, (o, r) in enumerate(zip(outs, refs)):
            o = np.asarray(o, dtype=np.asarray(r).dtype) if np.isscalar(o) else np.asarray(o)
            bad = compare(o, r)
            if bad is not None:
                return OpCheck("fast vs perform", False, f"output {k}: {bad[2]} (max abs diff "
                                                         f"{bad[0]:.3g})")
        return OpCheck("fast vs perform", True)

    def _infer_shape(self, node, syms, values, refs):
        if not self.op.has_infer_shape():
            return OpCheck("infer_shape", None, "the Op defines no infer_shape")
        from verigraph.graph.basic import Variable
        from verigraph.link.reference import evaluate
        from verigraph.tensor.shape import shape_i
        in_shapes = [tuple(shape_i(s, d) for d in range(s.ndim)) for s in syms]
        try:
            shapes = self.op.call_infer_shape(None, node, in_shapes)
        except NotImplementedError:
            return OpCheck("infer_shape", None, "infer_shape raises NotImplementedError")
        except Exception as exc:  # noqa: BLE001
            return OpCheck("infer_shape", False, f"infer_shape raised {type(exc).__name__}: {exc}")
        if len(shapes) != len(node.outputs):
            return OpCheck("infer_shape", False, f"returned {len(shapes)} shapes for "
                                                 f"{len(node.outputs)} outputs")
        symbolic = [s for shape in shapes for s in shape if isinstance(s, Variable)]
        try:
            evaluated = evaluate(symbolic, dict(zip(syms, _copies(values)))) if symbolic else []
        except Exception as exc:  # noqa: BLE001 - a guard raising is a wrong inference here
            return OpCheck("infer_shape", False, f"evaluating the inferred shape raised "
                                                 f"{type(exc).__name__}: {exc}")
        it = iter(evaluated)
        for k, (shape, ref) in enumerate(zip(shapes, refs)):
            sizes = tuple(int(next(it)) if isinstance(s, Variable) else int(s) for s in shape)
            if sizes != np.shape(ref):
                return OpCheck("infer_shape", False, f"output {k}: inferred shape {sizes}, "
                                                     f"actual {np.shape(ref)}")
        return OpCheck("infer_shape", True)

    def _compiled(self, syms, values, refs):
        from verigraph.checks.tolerance import compare
        from verigraph.compile.function import function
        results = []
        for mode in self.modes:
            name = f"compiled in {mode}"
            try:
                outs = self.op(*syms)
                outs = outs if isinstance(outs, list) else [outs]
                f = function(syms, outs, mode=mode, on_unused_input="ignore")
                got = f(*_copies(values))
            except ImportError as exc:
                results.append(OpCheck(name, None, f"mode not available: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001
                first = str(exc).splitlines()[0] if str(exc) else ""
                results.append(OpCheck(name, False, f"{type(exc).__name__}: {first}"))
                continue
            bad = next(((k, b) for k, (g, r) in enumerate(zip(got, refs))
                        if (b := compare(np.asarray(g), np.asarray(r))) is not None), None)
            results.append(OpCheck(name, bad is None, "" if bad is None else
                                   f"output {bad[0]}: {bad[1][2]} (max abs diff {bad[1][0]:.3g})"))
        return results

    def _grad(self, node, values):
        if self.grad is False:
            return OpCheck("grad vs finite differences", None, "disabled")
        floats = all(v.dtype.kind == "f" for v in values) and all(
            np.dtype(o.type.dtype).kind == "f" for o in node.outputs)
        if not floats:
            if self.grad is True:
                return OpCheck("grad vs finite differences", False,
                               "grad=True needs float inputs and outputs")
            return OpCheck("grad vs finite differences", None, "non-float inputs or outputs")
        from verigraph.gradient import GradientError, NullTypeGradError, verify_grad
        op = self.op

        def first_output(*xs):
            out = op(*xs)
            return out[0] if isinstance(out, list) else out

        try:
            verify_grad(first_output, _copies(values), rng=self.rng, eps=self.eps,
                        abs_tol=self.abs_tol, rel_tol=self.rel_tol)
        except (NullTypeGradError, NotImplementedError) as exc:
            ok = False if self.grad is True else None
            return OpCheck("grad vs finite differences", ok, f"no gradient: {exc}")
        except GradientError as exc:
            return OpCheck("grad vs finite differences", False, str(exc))
        except Exception as exc:  # noqa: BLE001
            return OpCheck("grad vs finite differences", False, f"{type(exc).__name__}: {exc}")
        return OpCheck("grad vs finite differences", True)


def check_op(op, *values, **options):
    """``OpTester(op, **options).check(*values)``: every contract check, failures together."""
    return OpTester(op, **options).check(*values)
