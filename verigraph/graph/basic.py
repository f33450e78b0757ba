"""Graph nodes: Variable, Constant, Apply, and the cheap user-source-line lookup."""
from __future__ import annotations

import itertools
import os
import sys

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ids = itertools.count()


def user_source_line():
    """Return ``(filename, lineno)`` of the first caller frame outside verigraph.

    Frames of ``make_node`` methods (custom Ops defined in user code) are skipped too.

    A frame walk, not a traceback: it costs a few attribute reads per frame,
    cheap enough to run for every Apply built.
    """
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        fname = code.co_filename
        # A user-defined Op's make_node is not where the user built the graph: keep walking.
        if not fname.startswith(_PKG_DIR) and "<frozen" not in fname and \
                code.co_name != "make_node":
            return (fname, frame.f_lineno)
        frame = frame.f_back
    return None


class Variable:
    """A symbolic value: the output ``index`` of ``owner`` (an Apply), or a graph input."""

    __slots__ = ("type", "owner", "index", "name", "auto_name", "__weakref__")

    def __init__(self, type, owner=None, index=None, name=None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.auto_name = f"{type.__class__.__name__[:1].lower()}{next(_ids)}"

    def clone(self):
        """A new detached Variable of the same type and name (no owner)."""
        return type(self)(self.type, None, None, self.name)

    def __str__(self):
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self):
        return str(self)

    def eval(self, inputs_to_values=None):
        """Evaluate this variable with the reference evaluator (for quick checks)."""
        from verigraph.link.reference import evaluate
        return evaluate([self], dict(inputs_to_values or {}))[0]


class Constant(Variable):
    """A graph input whose value is fixed at build time."""

    __slots__ = ("data",)

    def __init__(self, type, data, name=None):
        super().__init__(type, None, None, name)
        self.data = data

    def clone(self):
        """Constants are immutable, so cloning returns a sibling with the same data."""
        return type(self)(self.type, self.data, self.name)

    def signature(self):
        """Hashable identity used by merge to dedupe equal constants."""
        return (self.type, self.type.value_signature(self.data))

    def __str__(self):
        if self.name is not None:
            return self.name
        return self.type.value_str(self.data)


class Apply:
    """One application of an Op to input Variables, producing output Variables."""

    __slots__ = ("op", "inputs", "outputs", "source", "tag_rule", "__weakref__")

    def __init__(self, op, inputs, outputs, source=None):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, out in enumerate(self.outputs):
            out.owner = self
            out.index = i
        # The user line that built this node; findings quote it.
        self.source = source if source is not None else user_source_line()
        # Name of the rewrite rule that introduced this node, if any (set by FunctionGraph).
        self.tag_rule = None

    @property
    def out(self):
        """The single output (error if the Op has several)."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs, strict=True):
        """Rebuild this Op on ``inputs`` (through make_node, so types are re-checked)."""
        node = self.op.make_node(*inputs)
        node.source = self.source
        if strict:
            for old, new in zip(self.outputs, node.outputs):
                if old.type != new.type:
                    raise TypeError(
                        f"cloning {self.op} changed output type {old.type} -> {new.type}")
        return node

    def source_str(self):
        """``file:line`` of the user code that built this node, or '?'."""
        if not self.source:
            return "?"
        return f"{self.source[0]}:{self.source[1]}"

    def __str__(self):
        return f"{self.op}({', '.join(map(str, self.inputs))})"

    __repr__ = __str__
