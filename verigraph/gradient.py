"""Reverse-mode differentiation: grad, Lop, Rop, jacobian, hessian, verify_grad, gradient stoppers."""
from __future__ import annotations

import warnings

import numpy as np

from verigraph.graph.basic import Apply, Constant, Variable
from verigraph.graph.op import Op
from verigraph.graph.traversal import io_toposort


class DisconnectedInputError(ValueError):
    """A ``wrt`` variable that the cost does not depend on."""


class NullTypeGradError(TypeError):
    """A gradient that is undefined or not implemented reached a requested ``wrt``."""


class RopNotImplemented(NotImplementedError):
    """An Op has no R_op."""


class GradientError(AssertionError):
    """verify_grad found the symbolic gradient differs from finite differences."""

    def __init__(self, message, max_abs_err, max_rel_err, position):
        super().__init__(message)
        self.max_abs_err, self.max_rel_err, self.position = max_abs_err, max_rel_err, position


class NullGrad:
    """Marker for an undefined / not implemented gradient (never silently treated as zero)."""

    def __init__(self, op, index, reason):
        self.op, self.index, self.reason = op, index, reason

    def __str__(self):
        return f"{self.reason} (input {self.index} of {self.op})"


def grad_not_implemented(op, index, x, comment=""):
    """Declare that ``op``'s gradient wrt input ``index`` is not implemented."""
    return NullGrad(op, index, f"gradient not implemented {comment}".strip())


def grad_undefined(op, index, x, comment=""):
    """Declare that ``op``'s gradient wrt input ``index`` is mathematically undefined."""
    return NullGrad(op, index, f"gradient undefined {comment}".strip())


def grad_disconnected(x):
    """Declare that an output does not depend on input ``x`` (returns None)."""
    return None


class _GradStop(Op):
    """Identity in the forward pass; ``mode`` says what flows back: zeros or nothing."""

    __props__ = ("mode",)
    view_map = {0: [0]}

    def __init__(self, mode):
        self.mode = mode

    def make_node(self, x):
        from verigraph.tensor.variable import as_tensor_variable
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0])

    def make_fast_fn(self, node):
        return lambda x: x

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, gouts):
        if self.mode == "zero":
            return [connected_zeros(inputs[0], gouts[0].dtype)]
        return [None]


def zero_grad(x):
    """``x`` in the forward pass; its gradient is zero."""
    return _GradStop("zero")(x)


def disconnected_grad(x):
    """``x`` in the forward pass; the gradient does not flow through it (treated as constant)."""
    return _GradStop("disconnected")(x)


consider_constant_op = disconnected_grad


def connected_zeros(x, dtype):
    """Zeros shaped like ``x`` that still depend on ``x`` (Theano's ``fill(x, 0)``).

    A zero gradient returned for ``x`` must not make ``x`` an unused input of the function
    that computes it: ``function([x], grad(zero_grad(x) * 2, x))`` is valid Theano code.
    """
    from verigraph.tensor import api
    return api.second(x, api.constant(0, dtype=dtype))


def _is_float(v):
    return np.dtype(v.type.dtype).kind in "fc"


def _sum_grads(terms):
    from verigraph.tensor import api
    out = terms[0]
    for t in terms[1:]:
        out = api.add(out, t)
    return out


def _like_input(g, var):
    """``g`` with the static size-1 axes of ``var``: a gradient has its variable's type.

    An L_op (dot/reshape of ``x.dimshuffle('x')``) or a known gradient (ifelse's branch
    outputs) may lose them, and the DimShuffle that made such an axis cannot drop it again.
    """
    from verigraph.tensor import api
    shape = getattr(var.type, "shape", None)
    gshape = getattr(getattr(g, "type", None), "shape", None)
    if shape and gshape is not None and len(shape) == len(gshape) and any(
            s == 1 and t != 1 for s, t in zip(shape, gshape)):
        return api.specify_broadcastable(g, shape)
    return g


def _backprop(outputs_and_grads, wrt, blockers, null_gradients):
    """Accumulate gradients from ``outputs_and_grads`` back to ``wrt``; None where disconnected."""
    from verigraph.tensor import api
    from verigraph.tensor.variable import as_tensor_variable
    sources = [o for o, _ in outputs_and_grads]
    block = set(map(id, blockers))
    wrt_ids = set(map(id, wrt))
    # Nodes on a path from some wrt to some source. The walk goes on past an intermediate
    # wrt: another wrt below it gets the total derivative, as from grad(cost, that_wrt).
    order = io_toposort(list(blockers), sources)
    depends = set(wrt_ids)
    relevant = []
    for node in order:
        if any(id(i) in depends for i in node.inputs if id(i) not in block):
            for o in node.outputs:
                depends.add(id(o))
            relevant.append(node)
    grads = {}
    for o, g in outputs_and_grads:
        if id(o) in depends:
            grads.setdefault(id(o), []).append(_like_input(g, o))
    for node in reversed(relevant):
        outs = node.outputs
        if not any(id(o) in grads for o in outs):
            continue
        gouts = []
        for o in outs:
            terms = grads.get(id(o))
            if terms is None:
                # Non-tensor outputs (an rng state) get no gradient at all.
                gouts.append(api.zeros_like(o, dtype=o.dtype if _is_float(o) else "float64")
                             if hasattr(o.type, "dtype") else None)
                continue
            nulls = [t for t in terms if isinstance(t, NullGrad)]
            gouts.append(nulls[0] if nulls else _sum_grads(terms))
        null_in = [g for g in gouts if isinstance(g, NullGrad)]
        if null_in:
            in_grads = [null_in[0]] * len(node.inputs)
        else:
            in_grads = node.op.L_op(node.inputs, outs, gouts)
            if len(in_grads) != len(node.inputs):
                raise ValueError(f"{node.op}.L_op returned {len(in_grads)} gradients for "
                                 f"{len(node.inputs)} inputs")
        for inp, g in zip(node.inputs, in_grads):
            if id(inp) not in depends or id(inp) in block or g is None:
                continue
            if not isinstance(g, NullGrad):
                g = as_tensor_variable(g)
                if g.ndim != inp.ndim:
                    raise ValueError(f"{node.op}.L_op gave a {g.ndim}-d gradient for the "
                                     f"{inp.ndim}-d input {inp}")
                g = _like_input(g, inp)
            grads.setdefault(id(inp), []).append(g)
    result = []
    for w in wrt:
        terms = grads.get(id(w))
        if terms is None:
            result.append(None)
            continue
        nulls = [t for t in terms if isinstance(t, NullGrad)]
        if nulls:
            if null_gradients == "raise":
                raise NullTypeGradError(f"the gradient wrt {w} is not defined: {nulls[0]}")
            result.append(None)
            continue
        result.append(_sum_grads(terms))
    return result


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True,
         known_grads=None, return_disconnected="zero", null_gradients="raise"):
    """Symbolic gradient of scalar ``cost`` wrt a variable or list of variables (Theano's grad)."""
    from verigraph.tensor import api
    from verigraph.tensor.variable import as_tensor_variable
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be raise, warn or ignore, got "
                         f"{disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None", "disconnected"):
        raise ValueError(f"return_disconnected must be zero, None or disconnected, got "
                         f"{return_disconnected!r}")
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(w).__name__} {w!r:.60}")
    seeds = []
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: cost must be a scalar, got {cost} with {cost.ndim} dimensions "
                            f"(shape {cost.type.shape}); sum or average it first")
        if not _is_float(cost):
            raise TypeError(f"grad: cost must be a float scalar, got dtype {cost.dtype}")
        seeds.append((cost, None))  # seeded with ones below
    for var, g in (known_grads or {}).items():
        seeds.append((var, as_tensor_variable(g)))
    if not seeds:
        raise ValueError("grad: give a cost or known_grads")
    blockers = list(consider_constant or [])
    # Differentiate the stabilized form of the graph (same function, no 0 * inf in the
    # gradient; see grad_stabilize.py). wrt and blockers survive as themselves.
    from verigraph.grad_stabilize import stabilized_outputs
    stable = stabilized_outputs([v for v, _ in seeds], keep=wrt_list + blockers)
    seeds = [(s, api.ones_like(s) if g is None else g) for s, (_, g) in zip(stable, seeds)]
    grads = _backprop(seeds, wrt_list, blockers, null_gradients)
    out = []
    for w, g in zip(wrt_list, grads):
        if g is None:
            if disconnected_inputs == "raise" and not isinstance(w, Constant):
                raise DisconnectedInputError(
                    f"grad: the cost does not depend on {w} (wrt). Pass "
                    f"disconnected_inputs='ignore' or 'warn' to get a zero gradient")
            if disconnected_inputs == "warn":
                warnings.warn(f"grad: the cost does not depend on {w}", stacklevel=2)
            if return_disconnected == "zero":
                g = connected_zeros(w, w.dtype if _is_float(w) else "float64")
            else:
                g = None
        elif not _is_float(w):
            # Integer inputs: gradients are defined as zero, as in Theano.
            g = connected_zeros(w, "float64")
        elif g.dtype != w.dtype:
            g = api.cast(g, w.dtype)
        # Several wrt may share one gradient variable (d(x + y)): the first name stays.
        if g is not None and add_names and w.name and cost is not None and g.name is None:
            g.name = f"(d{cost.name or 'cost'}/d{w.name})"
        out.append(g)
    return out[0] if single else out


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """Vector-Jacobian product: ``eval_points`` (shaped like ``f``) times d f / d wrt."""
    fs = f if isinstance(f, (list, tuple)) else [f]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    res = grad(None, wrt, consider_constant=consider_constant,
               disconnected_inputs=disconnected_inputs, known_grads=dict(zip(fs, evs)))
    return res


def Rop(f, wrt, eval_points, disconnected_outputs="raise"):
    """Jacobian-vector product d f / d wrt times ``eval_points`` (via two reverse passes)."""
    from verigraph.tensor import api
    single_f = not isinstance(f, (list, tuple))
    fs = [f] if single_f else list(f)
    ws = wrt if isinstance(wrt, (list, tuple)) else [wrt]
    vs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(ws) != len(vs):
        raise ValueError(f"Rop: {len(ws)} wrt but {len(vs)} eval_points")
    out = []
    for fi in fs:
        u = fi.type("rop_u")
        lops = Lop(fi, ws, u, disconnected_inputs="ignore")
        lops = lops if isinstance(lops, list) else [lops]
        inner = api.add(*[api.sum(l * v) for l, v in zip(lops, vs)]) if len(vs) > 1 else \
            api.sum(lops[0] * vs[0])
        r = grad(inner, u, disconnected_inputs="ignore")
        # r is linear in v and does not depend on u's values, only (structurally) on its
        # shape: substitute f itself, which has u's type and shape, so u needs no input.
        from verigraph.graph.traversal import clone_replace
        out.append(clone_replace([r], {u: fi})[0])
    return out[0] if single_f else out


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Jacobian of a vector (or scalar) expression wrt variable(s), one gradient per element.

    Uses ``scan`` over the elements when the length is symbolic; a static length unrolls.
    """
    from verigraph.tensor import api
    single = not isinstance(wrt, (list, tuple))
    ws = [wrt] if single else list(wrt)
    expression = api.as_tensor_variable(expression)
    if expression.ndim == 0:
        res = grad(expression, ws, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        return res[0] if single else res
    if expression.ndim != 1:
        raise TypeError(f"jacobian: expression must be a scalar or vector, got {expression.ndim}-d")
    n = expression.type.shape[0]
    if n is None:
        from verigraph.scan import scan

        def row(i, expr, *w):
            return grad(expr[i], list(w), consider_constant=consider_constant,
                        disconnected_inputs=disconnected_inputs)
        rows, _ = scan(row, sequences=api.arange(expression.shape[0]),
                       non_sequences=[expression] + ws)
        rows = rows if isinstance(rows, list) else [rows]
        return rows[0] if single else rows
    per_w = [[] for _ in ws]
    for i in range(n):
        gs = grad(expression[i], ws, consider_constant=consider_constant,
                  disconnected_inputs=disconnected_inputs)
        for k, g in enumerate(gs):
            per_w[k].append(g)
    res = [api.stack(rows) for rows in per_w]
    return res[0] if single else res


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Hessian of scalar ``cost`` wrt vector variable(s)."""
    single = not isinstance(wrt, (list, tuple))
    ws = [wrt] if single else list(wrt)
    out = []
    for w in ws:
        g = grad(cost, w, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant,
                            disconnected_inputs=disconnected_inputs))
    return out[0] if single else out


_TOLS = {"float64": (1e-7, 1e-4, 1e-4), "float32": (1e-3, 5e-2, 5e-2), "float16": (1e-1, 1e-1, 1e-1)}


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, out_type=None, abs_tol=None,
                rel_tol=None, mode=None, cast_to_output_type=False, no_debug_ref=True):
    """Check ``fun``'s symbolic gradient at point ``pt`` against central finite differences.

    A random projection turns the output into a scalar; raises GradientError with the largest
    absolute/relative error and where it occurred.
    """
    from verigraph.compile.function import function
    from verigraph.tensor import api
    from verigraph.tensor.type import TensorType
    from verigraph.tensor.variable import as_tensor_variable
    rng = rng if rng is not None else np.random.default_rng(42)
    if isinstance(rng, np.random.RandomState):
        uniform = rng.uniform
    else:
        uniform = rng.uniform
    pt = [np.array(p) for p in pt]
    for p in pt:
        if p.dtype.kind not in "f":
            raise TypeError(f"verify_grad: points must be float arrays, got dtype {p.dtype}")
    dtype = str(np.result_type(*[p.dtype for p in pt]))
    d_eps, d_abs, d_rel = _TOLS.get(dtype, _TOLS["float64"])
    eps = eps or d_eps
    abs_tol = d_abs if abs_tol is None else abs_tol
    rel_tol = d_rel if rel_tol is None else rel_tol
    inputs = [TensorType(p.dtype, (None,) * p.ndim)(f"input_{k}") for k, p in enumerate(pt)]
    out = as_tensor_variable(fun(*inputs))
    # A gradient may not use every input (d(x + y)/dy = 1): unused inputs are fine here.
    out_val_fn = function(inputs, out, mode=mode, on_unused_input="ignore")
    out_shape = np.shape(out_val_fn(*[p.copy() for p in pt]))
    for _ in range(n_tests):
        proj = np.asarray(uniform(-1, 1, size=out_shape) + 0.5, dtype=out.dtype)
        cost = api.sum(out * api.constant(proj)) if out.ndim else out * float(proj)
        grads = grad(cost, inputs, disconnected_inputs="ignore")
        f_cost = function(inputs, cost, mode=mode, on_unused_input="ignore")
        f_grad = function(inputs, grads, mode=mode, on_unused_input="ignore")
        sym = f_grad(*[p.copy() for p in pt])
        for k, p in enumerate(pt):
            num = np.zeros(p.shape, dtype="float64")
            flat = p.reshape(-1)
            for j in range(flat.size):
                args = [q.copy() for q in pt]
                a = args[k].reshape(-1)
                a[j] = flat[j] + eps
                plus = float(f_cost(*args))
                a[j] = flat[j] - eps
                minus = float(f_cost(*args))
                num.reshape(-1)[j] = (plus - minus) / (2 * eps)
            s = np.asarray(sym[k], dtype="float64")
            abs_err = np.abs(s - num)
            rel_err = abs_err / np.maximum(np.abs(s) + np.abs(num), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            if bad.any():
                pos = np.unravel_index(int(np.argmax(np.where(bad, rel_err, -1))), p.shape) \
                    if p.ndim else ()
                raise GradientError(
                    f"verify_grad: gradient wrt input {k} differs from finite differences: max "
                    f"abs error {abs_err.max():.3g}, max rel error {rel_err.max():.3g} at "
                    f"position {pos} (symbolic {s[pos] if p.ndim else s}, numeric "
                    f"{num[pos] if p.ndim else num}; tolerances abs {abs_tol}, rel {rel_tol})",
                    float(abs_err.max()), float(rel_err.max()), pos)


verify_grad.E_grad = GradientError
