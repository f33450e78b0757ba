"""The finding family: every verification failure is a CheckError carrying structured data."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FindingData:
    """Structured facts of one finding; ``to_dict`` feeds the JSON/Markdown writers."""

    check: str
    message: str
    op: str | None = None
    node: str | None = None
    rule: str | None = None
    source: str | None = None
    input_shapes: list = field(default_factory=list)
    input_dtypes: list = field(default_factory=list)
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        """Plain-data form (JSON-safe)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["input_shapes"] = [list(s) if s is not None else None for s in self.input_shapes]
        return d


class CheckError(Exception):
    """Base of every verigraph finding; ``.data`` holds the FindingData."""

    check = "check"

    def __init__(self, message, **facts):
        self.data = FindingData(check=self.check, message=message, **facts)
        super().__init__(self.render())

    def render(self):
        """The message a user reads: what, where, which rule, which inputs, how far off."""
        d = self.data
        lines = [f"[{d.check}] {d.message}"]
        if d.node:
            lines.append(f"  node: {d.node}")
        if d.rule:
            lines.append(f"  rewrite: {d.rule}")
        if d.input_shapes:
            dtypes = list(d.input_dtypes) + [""] * (len(d.input_shapes) - len(d.input_dtypes))
            desc = ", ".join(f"{tuple(s) if s is not None else '?'} {t}".rstrip()
                             for s, t in zip(d.input_shapes, dtypes))
            lines.append(f"  inputs: {desc}")
        if d.max_abs_diff is not None:
            lines.append(f"  max abs diff: {d.max_abs_diff:.6g}, max rel diff: {d.max_rel_diff:.6g}")
        if d.source:
            lines.append(f"  built at: {d.source}")
        return "\n".join(lines)

    def to_dict(self):
        """Plain-data form of the finding."""
        return self.data.to_dict()

    # What a reproducer needs (node and input values, or a rewrite's subgraphs); set by checks.
    context = None

    def reproducer(self, path_dir):
        """Write a standalone pytest file (+ .npz of inputs) reproducing this finding; its path."""
        from verigraph.checks.reproducer import write_reproducer
        return write_reproducer(self, path_dir)


class ShapeMismatchError(CheckError, ValueError):
    """Input shapes that an Op requires to agree do not (also a ValueError)."""

    check = "ShapeMismatch"


class BadThunkOutput(CheckError, ValueError):
    """The fast implementation of a node disagrees with the Op's reference ``perform``."""

    check = "BadThunkOutput"


class BadOptimization(CheckError, ValueError):
    """A rewrite replaced a variable by one that computes a different value."""

    check = "BadOptimization"


class BadDestroyMap(CheckError, ValueError):
    """An Op modified an input it did not declare in ``destroy_map``."""

    check = "BadDestroyMap"


class BadViewMap(CheckError, ValueError):
    """An output aliases an input without a ``view_map`` declaration."""

    check = "BadViewMap"


class InvalidValue(CheckError, TypeError):
    """An output's dtype, ndim or static shape does not match its Type (also a TypeError)."""

    check = "InvalidValue"


class StochasticOrder(CheckError, ValueError):
    """Compiling the same graph twice gave different rewritten graphs."""

    check = "StochasticOrder"


class NonFinite(CheckError, FloatingPointError):
    """NaN or Inf produced from finite inputs."""

    check = "NonFinite"


class CrossCheckError(CheckError, ValueError):
    """A FAST_RUN result differs from the reference evaluator on the unoptimized graph."""

    check = "CrossCheck"


class OpRuntimeError(CheckError, RuntimeError):
    """An exception raised inside an Op at run time, re-raised with the node's context."""

    check = "OpError"


FINDING_TYPES = (ShapeMismatchError, BadThunkOutput, BadOptimization, BadDestroyMap,
                 BadViewMap, InvalidValue, StochasticOrder, NonFinite, CrossCheckError)
