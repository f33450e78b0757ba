"""``ifelse(cond, then_branch, else_branch)``: a lazy conditional over whole subgraphs.

The IfElse Op holds each branch as an inner graph over the branches' root variables (the
node's inputs after the condition). Only the chosen branch runs: the fast path compiles
each branch once into its own FastProgram (rewritten with the FAST_RUN rules), and the
reference ``perform`` evaluates only the chosen branch's unrewritten graph. Straight-line
graphs are untouched: the laziness lives entirely inside this Op.
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Apply, Constant
from verigraph.graph.op import Op
from verigraph.graph.traversal import clone_replace, graph_inputs
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


def _fresh_output(value, inputs):
    """``value`` as an array the caller may own: copies views, read-only data and inputs."""
    if type(value) is not np.ndarray:
        return np.array(value)
    if not value.flags.owndata or not value.flags.writeable or \
            any(value is v for v in inputs):
        return value.copy()
    return value


def compile_branch(inputs, outputs):
    """A FastProgram computing ``outputs`` from ``inputs`` (rewritten with FAST_RUN's rules)."""
    from verigraph.graph.fgraph import FunctionGraph
    from verigraph.link.fast import FastProgram
    from verigraph.modes import FAST_RUN
    from verigraph.rewriting.driver import rewrite
    fg = FunctionGraph(inputs, outputs, clone=True)
    rewrite(fg, FAST_RUN.rules())
    return FastProgram(fg)


class IfElse(Op):
    """``outputs = then_outs if cond else else_outs``, computing only the chosen branch.

    ``inner_inputs`` are the branches' root variables; node inputs are ``(cond,
    *values for inner_inputs)``. Each instance is its own Op (identity equality): two
    IfElse nodes are never merged.
    """

    def __init__(self, inner_inputs, then_outs, else_outs, name=None):
        self.inner_inputs = list(inner_inputs)
        self.then_outs = list(then_outs)
        self.else_outs = list(else_outs)
        self.name = name
        self._programs = None

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __str__(self):
        return f"IfElse{{{self.name}}}" if self.name else "IfElse"

    __repr__ = __str__

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_programs"] = None
        return d

    def make_node(self, cond, *args):
        cond = as_tensor_variable(cond)
        if cond.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {cond} of type "
                            f"{cond.type}")
        if len(args) != len(self.inner_inputs):
            raise TypeError(f"{self}: expected {len(self.inner_inputs)} branch inputs, got "
                            f"{len(args)}")
        for a, t in zip(args, self.inner_inputs):
            if a.type != t.type and t.type.convert_variable(a) is None:
                raise TypeError(f"{self}: input {a} has type {a.type}, expected {t.type}")
        outs = [TensorType(a.dtype, tuple(x if x == y else None for x, y in
                                          zip(a.type.shape, b.type.shape)))()
                for a, b in zip(self.then_outs, self.else_outs)]
        return Apply(self, [cond, *args], outs)

    def perform(self, node, inputs, output_storage):
        vals = inputs[1:]
        outs = self.then_outs if bool(np.asarray(inputs[0])) else self.else_outs
        from verigraph.link.reference import evaluate
        results = evaluate(outs, dict(zip(self.inner_inputs, vals)))
        for k, r in enumerate(results):
            output_storage[k][0] = _fresh_output(np.asarray(r, dtype=node.outputs[k].dtype),
                                                 vals)

    def programs(self):
        """The two compiled branches (built on first use, then cached)."""
        if self._programs is None:
            self._programs = (compile_branch(self.inner_inputs, self.then_outs),
                              compile_branch(self.inner_inputs, self.else_outs))
        return self._programs

    def make_fast_fn(self, node):
        then_prog, else_prog = self.programs()
        single = len(node.outputs) == 1
        fresh = _fresh_output

        def fn(cond, *vals):
            res = (then_prog if cond else else_prog)(*vals)
            if single:
                return fresh(res[0], vals)
            return tuple(fresh(r, vals) for r in res)
        return fn

    def _branches(self, args):
        """Both branches' outputs rebuilt on ``args`` (the node's actual inputs)."""
        mapping = dict(zip(self.inner_inputs, args))
        return clone_replace(self.then_outs, mapping), clone_replace(self.else_outs, mapping)

    def infer_shape(self, node, input_shapes):
        from verigraph.tensor.shape import shape_i
        thens, elses = self._branches(node.inputs[1:])
        out = []
        for o, t, e in zip(node.outputs, thens, elses):
            dims = []
            for d in range(o.ndim):
                if o.type.shape[d] is not None:
                    from verigraph.tensor.variable import constant
                    dims.append(constant(o.type.shape[d], dtype="int64"))
                else:
                    dims.append(ifelse(node.inputs[0], shape_i(t, d), shape_i(e, d),
                                       name="shape"))
            out.append(tuple(dims))
        return out

    def L_op(self, inputs, outputs, output_grads):
        from verigraph.gradient import grad
        cond, args = inputs[0], list(inputs[1:])
        thens, elses = self._branches(args)
        wrt = [a for a in args if np.dtype(a.type.dtype).kind in "fc"]
        if not wrt:
            return [None] * len(inputs)

        def branch_grads(outs):
            # One branch variable may be several outputs ([x, x]): its gradients add up.
            known = {}
            for o, g in zip(outs, output_grads):
                if np.dtype(o.dtype).kind in "fc" and not isinstance(o, Constant):
                    known[o] = known[o] + g if o in known else g
            if not known:
                from verigraph.tensor import api
                return [api.zeros_like(w) for w in wrt]
            return grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                        return_disconnected="zero")

        g_then, g_else = branch_grads(thens), branch_grads(elses)
        chosen = ifelse(cond, g_then, g_else, name="grad")
        chosen = chosen if isinstance(chosen, list) else [chosen]
        by_id = {id(w): g for w, g in zip(wrt, chosen)}
        return [None] + [by_id.get(id(a)) for a in args]


def _unify(a, b):
    """Give a weak Python constant the dtype of the other branch; other mismatches raise."""
    if a.dtype == b.dtype:
        return a, b
    from verigraph.tensor.api import cast
    if isinstance(a, Constant) and getattr(a, "weak", False):
        return cast(a, b.dtype), b
    if isinstance(b, Constant) and getattr(b, "weak", False):
        return a, cast(b, a.dtype)
    raise TypeError(f"ifelse: the branches have different dtypes: then is {a} ({a.type}), "
                    f"else is {b} ({b.type}); cast one of them")


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is true, else ``else_branch`` (lazily).

    Branches may be single variables or equal-length lists; only the chosen branch is
    computed at run time.
    """
    single = not isinstance(then_branch, (list, tuple))
    thens = [then_branch] if single else list(then_branch)
    elses = [else_branch] if not isinstance(else_branch, (list, tuple)) else list(else_branch)
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: then_branch has {len(thens)} outputs but else_branch has "
                         f"{len(elses)}")
    if not thens:
        raise ValueError("ifelse: the branches are empty")
    thens = [as_tensor_variable(t) for t in thens]
    elses = [as_tensor_variable(e) for e in elses]
    for k, (t, e) in enumerate(zip(thens, elses)):
        if t.ndim != e.ndim:
            raise TypeError(f"ifelse: output {k} has {t.ndim} dimensions in then_branch ({t}) "
                            f"but {e.ndim} in else_branch ({e})")
        thens[k], elses[k] = _unify(t, e)
    roots = list(dict.fromkeys(graph_inputs(thens + elses)))
    op = IfElse(roots, thens, elses, name)
    node = op.make_node(condition, *roots)
    outs = node.outputs
    return outs[0] if single else list(outs)


__all__ = ["ifelse", "IfElse", "compile_branch"]
