"""Deliberately faulty Ops and rewrite rules, planted so the checks can be shown to catch them.

Each Op computes ``2 * x`` in ``perform`` (the reference); ``fault`` picks what its fast
path (or its declarations) get wrong. ``fault=None`` is the correct control.
"""
from __future__ import annotations

import contextlib
import itertools

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.rewriting.db import node_rule, rules
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.variable import as_tensor_variable

FAULTS = (None, "thunk", "mutate", "shape", "dtype", "fast_dtype", "strided")


class Twice(Op):
    """``2 * x`` with a planted fault (see the module docstring)."""

    __props__ = ("fault",)

    def __init__(self, fault=None):
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.fault = fault

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        out = np.asarray(inputs[0] * 2, dtype=node.outputs[0].dtype)
        if self.fault == "dtype":
            out = out.astype("float32")  # not the output's Type
        output_storage[0][0] = out

    def make_fast_fn(self, node):
        fault = self.fault
        if fault == "thunk":
            return lambda x: x * 2 + 1e-3
        if fault == "mutate":
            def mutate(x):
                x *= 2  # writes into the input without a destroy_map
                return x.copy()
            return mutate
        if fault == "fast_dtype":
            return lambda x: (x * 2).astype("float32")
        if fault == "strided":
            return lambda x: x * 2 if x.flags.c_contiguous else x * 2 + 1
        return lambda x: x * 2

    def infer_shape(self, node, shapes):
        if self.fault == "shape":
            return [tuple(s + 1 if d == 0 else s for d, s in enumerate(shapes[0]))]
        return [shapes[0]]


class Identity(Op):
    """``x`` itself; with ``fault='view'`` the fast path returns the input buffer undeclared."""

    __props__ = ("fault",)

    def __init__(self, fault=None):
        self.fault = fault

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0], copy=True)

    def make_fast_fn(self, node):
        if self.fault == "view":
            return lambda x: x[...]
        return lambda x: x.copy()

    def infer_shape(self, node, shapes):
        return [shapes[0]]


_rule_ids = itertools.count()


def _is_elemwise(node, name):
    return isinstance(node.op, Elemwise) and node.op.scalar_op.name == name


@contextlib.contextmanager
def registered_rule(kind, tag="test_bad"):
    """Register a test-only rewrite rule (unique name, tagged ``tag``); remove it on exit.

    kinds: ``wrong`` (exp(x) -> x + 1), ``right`` (sqr(x) -> x * x), ``flaky`` (sqr(x) -> x * x
    on every other compilation: the result depends on how often the rule ran before).
    """
    name = f"test_{kind}_rule_{next(_rule_ids)}"
    tags = ("canonicalize", tag)
    flips = itertools.count()

    if kind == "wrong":
        def fn(fgraph, node):
            if _is_elemwise(node, "exp"):
                return node.inputs[0] + 1
            return None
    elif kind == "right":
        def fn(fgraph, node):
            if _is_elemwise(node, "sqr"):
                return node.inputs[0] * node.inputs[0]
            return None
    elif kind == "flaky":
        state = {"fire": False}

        def fn(fgraph, node):
            if fgraph is not state.get("graph"):
                state["graph"] = fgraph
                state["fire"] = next(flips) % 2 == 0  # decided once per compilation
            if state["fire"] and _is_elemwise(node, "sqr"):
                return node.inputs[0] * node.inputs[0]
            return None
    else:
        raise ValueError(kind)
    node_rule(name, tracks=(Elemwise,), tags=tags)(fn)
    try:
        yield name
    finally:
        rules.rules.pop(name, None)

