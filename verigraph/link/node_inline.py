"""Shape-bookkeeping nodes written inline into the fast linker's program.

``Shape_i``, ``ShapeGuard``, ``IndexBounds``, ``SliceLength`` and ``MakeVector`` do a few
nanoseconds of work behind a Python call of about 100 ns (the default ``perform`` wrapper,
with its storage lists, costs over a microsecond). Written as program lines they cost
only the work. Each inline form computes what the node's fast fn returns, with the same
type (``Shape_i``: a Python int; ``IndexBounds``/``SliceLength``: a 0-d int64 array, as
the ``perform`` wrapper gives), so other nodes see the values they always saw.

A check that fails calls the node's own fast fn (``f{idx}``) on the same values, which
raises the Op's own error; the failing line belongs to the node, so the fast linker
re-raises it with the node's context exactly as when the node is an ordinary call.

``inline_node`` answers ``(lines, output_expression)``; ``lines`` are statements without
indentation and ``output_expression`` is either a fresh name assigned by them or the name
of an input that passes through unchanged (the guards return input 0 itself).
"""
from __future__ import annotations

import numpy as np

_I64 = np.dtype("int64")


def _int_kinds(node, kinds="iu"):
    return all(getattr(i.type, "ndim", None) == 0 and np.dtype(i.dtype).kind in kinds
               for i in node.inputs)


def _shape_i(node, args, out, fn, glob):
    return [f"{out} = {args[0]}.shape[{node.op.i}]"], out


def _shape_guard(node, args, out, fn, glob):
    sized = list(zip(node.inputs, args))[1 if node.op.carry else 0:]
    first = sized[0][1] if sized else None
    # An integer compared with itself (one name) always agrees: no test for it.
    others = [a for v, a in sized[1:]
              if a != first or np.dtype(v.dtype).kind not in "biu"
              or np.dtype(sized[0][0].dtype).kind not in "biu"]
    if not others:
        return [], args[0]
    cond = " or ".join(f"{first} != {s}" for s in others)
    # ``fn`` re-runs the whole check on a mismatch and raises the Op's ShapeMismatchError.
    return [f"if {cond}: {fn}({', '.join(args)})"], args[0]


def _index_bounds(node, args, out, fn, glob):
    if not _int_kinds(node, "i"):
        return None  # unsigned sizes: ``-n`` would wrap; keep the call (it uses Python ints)
    value, pairs = args[0], args[1:]
    cond = " or ".join(f"not -{pairs[k]} <= {pairs[k + 1]} < {pairs[k]}"
                       for k in range(0, len(pairs), 2))
    lines = [f"if {cond}: {fn}({', '.join(args)})"] if pairs else []
    glob["asarray"], glob["I64"] = np.asarray, _I64
    return lines + [f"{out} = asarray({value}, I64)"], out


def _slice_length(node, args, out, fn, glob):
    if not _int_kinds(node):
        return None
    op = node.op
    it = iter(args[1:])
    parts = [next(it) if has else "" for has in (op.has_start, op.has_stop, op.has_step)]
    # ``range(n)[start:stop:step]`` has the length of ``range(*slice(...).indices(n))``
    # and raises the same ValueError on a zero step; ``n`` is a size, never negative.
    glob["asarray"], glob["I64"] = np.asarray, _I64
    return [f"{out} = asarray(len(range({args[0]})[{':'.join(parts)}]), I64)"], out


def _make_vector(node, args, out, fn, glob):
    dname = f"D{fn}"
    glob[dname], glob["array"] = np.dtype(node.op.dtype), np.array
    return [f"{out} = array(({''.join(a + ', ' for a in args)}), {dname})"], out


def _inliners():
    from verigraph.tensor.guards import ShapeGuard
    from verigraph.tensor.shape import MakeVector, Shape_i
    from verigraph.tensor.subtensor import IndexBounds, SliceLength
    return {Shape_i: _shape_i, ShapeGuard: _shape_guard, IndexBounds: _index_bounds,
            SliceLength: _slice_length, MakeVector: _make_vector}


_TABLE = None


def inline_node(node, args, out, fn, glob):
    """``(lines, output_expression)`` computing ``node`` inline, or None to keep the call.

    ``args`` are the input expressions (names), ``out`` a fresh name for the output,
    ``fn`` the global name of the node's fast fn (called to raise on a failed check) and
    ``glob`` the program's globals (for the helpers the lines use).
    """
    global _TABLE
    if _TABLE is None:
        _TABLE = _inliners()
    rule = _TABLE.get(type(node.op))
    if rule is None or len(node.outputs) != 1:
        return None
    return rule(node, args, out, fn, glob)
