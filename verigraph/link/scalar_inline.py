"""Inlining of 0-d float64 arithmetic kernels into the fast linker's program, on Python floats.

A 0-d FusedElemwise made only of ``+ - * /``, negation, squaring and casts to float64 costs
a Python call, a type check per input and about 40 ns per NumPy-scalar operation. Written
straight into the program as Python ``float`` arithmetic it costs about 15 ns per
operation and nothing else. The values are bit-for-bit equal: Python floats are IEEE
doubles with the same round-to-nearest ``+ - * /`` (``sqr`` is ``x * x``, as NumPy computes
it), overflow gives ``inf`` and invalid operations NaN, silently, as the reference's
``errstate(all="ignore")`` does. Python raises on ``x / 0`` where IEEE gives inf or NaN,
so a division by zero (either sign) goes to ``np.true_divide``, which is what the fused
kernel computes. An integer input read only by ``cast_float64`` steps becomes
``float(x)``: the int-to-double conversion rounds to nearest, as NumPy's cast does. Every
other dtype is left out (float32 rounds differently, integers wrap).

Python floats never leave the inlined region: a value read by any other node is wrapped
as ``np.float64`` (a program output as a 0-d array), so other ops see NumPy values and
NumPy 2's weak-scalar rules cannot change a dtype.
"""
from __future__ import annotations

import numpy as np

# Step name -> Python expression over float operands.
FLOAT_EXPRESSIONS = {"add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})",
                     "true_div": "({0} / {1} if {1} else np.true_divide({0}, {1}))",
                     "neg": "(-{0})", "sqr": "({0} * {0})", "cast_float64": "{0}"}
_ARITY = {"add": 2, "sub": 2, "mul": 2, "true_div": 2, "neg": 1, "sqr": 1, "cast_float64": 1}
_F64 = np.dtype("float64")


def inlinable(node):
    """Whether ``node`` is a 0-d, not in-place FusedElemwise of float64 ``+ - * /``/neg/sqr/casts."""
    from verigraph.tensor.fused import FusedElemwise
    op = node.op
    if type(op) is not FusedElemwise or op.inplace_input is not None:
        return False
    out = node.outputs[0]
    if getattr(out.type, "ndim", None) != 0 or len(node.outputs) != 1:
        return False
    if any(getattr(i.type, "ndim", None) != 0 for i in node.inputs):
        return False
    if not all(name in FLOAT_EXPRESSIONS and len(refs) == _ARITY[name] and np.dtype(dtype) == _F64
               for name, refs, dtype in op.steps):
        return False
    # Inputs are float64, or integers (bool included) that only a cast to float64 reads.
    for k, i in enumerate(node.inputs):
        kind = np.dtype(i.dtype)
        if kind == _F64:
            continue
        if kind.kind not in "biu" or any(("i", k) in refs and name != "cast_float64"
                                         for name, refs, _ in op.steps):
            return False
    return True


def inline_lines(node, args, prefix):
    """``(lines, result)``: ``(name, expression)`` per step of ``node`` on float operands ``args``.

    Step ``j`` is assigned to ``{prefix}_{j}`` (a result used twice is computed once);
    a cast to float64 of a float is its operand itself and gets no line. ``result`` is
    the name holding the output.
    """
    lines, names = [], []
    for j, (name, refs, _) in enumerate(node.op.steps):
        operands = [args[k] if kind == "i" else names[k] for kind, k in refs]
        if name == "cast_float64":
            names.append(operands[0])  # the operand is a Python float already
            continue
        names.append(f"{prefix}_{j}")
        lines.append((names[-1], FLOAT_EXPRESSIONS[name].format(*operands)))
    return lines, names[-1]
