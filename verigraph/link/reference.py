"""The reference evaluator: each node's ``perform`` on fresh storage, in topological order.

This is the oracle every other mode is compared against: it calls nothing but
``perform`` and validates each output against its Type.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import InvalidValue
from verigraph.dtypes import dtype_name
from verigraph.graph.basic import Constant
from verigraph.graph.traversal import io_toposort
from verigraph.link.errors import reraise_with_context


def check_output_type(node, k, value):
    """Raise InvalidValue when ``value`` does not belong to output ``k``'s Type."""
    t = node.outputs[k].type
    dtype = getattr(t, "dtype", None)
    if dtype is None:
        return
    arr = value
    if not isinstance(arr, (np.ndarray, np.generic)):
        raise InvalidValue(f"{node.op} output {k} is a {type(value).__name__}, not an array",
                           node=str(node), op=str(node.op), source=node.source_str())
    if dtype_name(arr.dtype) != dtype or arr.ndim != t.ndim or any(
            s is not None and s != a for s, a in zip(t.shape, np.shape(arr))):
        raise InvalidValue(
            f"{node.op} output {k} has dtype {arr.dtype} and shape {np.shape(arr)}, but its type "
            f"is {t}", node=str(node), op=str(node.op), source=node.source_str(),
            rule=node.tag_rule)


def run_node_reference(node, values):
    """Run ``perform`` for one node on input ``values``; returns validated fresh outputs."""
    storage = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, values, storage)
        outs = [s[0] for s in storage]
        for k, v in enumerate(outs):
            check_output_type(node, k, v)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        reraise_with_context(exc, node, values)
    return outs


def evaluate(outputs, givens, order=None):
    """Values of ``outputs`` given a dict {input variable: value}, using only ``perform``."""
    env = {id(k): v for k, v in givens.items()}
    inputs = list(givens.keys())
    for node in order if order is not None else io_toposort(inputs, outputs):
        vals = []
        for i in node.inputs:
            if id(i) in env:
                vals.append(env[id(i)])
            elif isinstance(i, Constant):
                vals.append(i.data)
            else:
                raise ValueError(f"missing value for input {i} of {node.op}")
        for o, v in zip(node.outputs, run_node_reference(node, vals)):
            env[id(o)] = v
    out = []
    for o in outputs:
        if id(o) in env:
            out.append(env[id(o)])
        elif isinstance(o, Constant):
            out.append(np.array(o.data))
        else:
            raise ValueError(f"missing value for {o}")
    return out


class ReferenceProgram:
    """A compiled program that runs the reference evaluator over an fgraph."""

    def __init__(self, fgraph):
        self.fgraph = fgraph
        self.order = fgraph.toposort()

    def __call__(self, *values):
        givens = dict(zip(self.fgraph.inputs, values))
        return evaluate(self.fgraph.outputs, givens, self.order)
