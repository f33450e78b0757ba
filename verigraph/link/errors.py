"""Re-raise an exception from inside an Op with the node, input shapes/dtypes and user line."""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import CheckError, OpRuntimeError


def describe_inputs(values):
    """(shapes, dtypes) of runtime values, tolerant of non-arrays."""
    shapes = [tuple(np.shape(v)) if v is not None else None for v in values]
    dtypes = [str(getattr(v, "dtype", type(v).__name__)) for v in values]
    return shapes, dtypes


def reraise_with_context(exc, node, input_values):
    """Raise ``exc`` again, enriched with where it happened; CheckErrors keep their class."""
    shapes, dtypes = describe_inputs(input_values)
    if isinstance(exc, CheckError):
        d = exc.data
        d.node = d.node or str(node)
        d.op = d.op or str(node.op)
        d.source = d.source or node.source_str()
        d.rule = d.rule or node.tag_rule
        if not d.input_shapes or len(d.input_dtypes) != len(d.input_shapes):
            # The Op described its inputs partly (or not at all): the node's actual inputs
            # are the complete picture.
            d.input_shapes, d.input_dtypes = shapes, dtypes
        exc.args = (exc.render(),)
        raise exc.with_traceback(exc.__traceback__)
    where = (f"\n  in node: {node}\n  op: {node.op}\n  inputs: "
             + ", ".join(f"{s} {t}" for s, t in zip(shapes, dtypes))
             + f"\n  built at: {node.source_str()}")
    if node.tag_rule:
        where += f"\n  node introduced by rewrite: {node.tag_rule}"
    msg = f"{exc}{where}"
    try:
        new = type(exc)(msg)
    except Exception:
        new = OpRuntimeError(msg, node=str(node), op=str(node.op), source=node.source_str(),
                             input_shapes=shapes, input_dtypes=dtypes)
    new.node = node
    raise new from exc
