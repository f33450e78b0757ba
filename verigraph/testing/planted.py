"""A deliberately wrong rewrite rule, registered temporarily, to prove that checkers catch one.

``with planted_bad_rule():`` registers ``local_planted_exp_to_add_one`` (``exp(x) -> x + 1``)
in the canonicalize phase of FAST_RUN (and FAST_COMPILE when ``fast_compile=True``) and
removes it on exit. DebugMode must report BadOptimization naming the rule; FAST_RUN with
``crosscheck='always'`` a CrossCheckError; the fuzzer a disagreement.
"""
from __future__ import annotations

import contextlib

PLANTED_RULE = "local_planted_exp_to_add_one"


def _exp_to_add_one(node):
    from verigraph.tensor import api
    if node.op.scalar_op.name == "exp":
        return api.add(node.inputs[0], 1.0)
    return None


def _mul_to_add(node):
    from verigraph.tensor import api
    if node.op.scalar_op.name == "mul" and len(node.inputs) == 2:
        out = api.add(*node.inputs)
        return out if out.type == node.outputs[0].type else None
    return None


# target -> (wrong rewrite, description). "mul" fires on far more random graphs than "exp".
TARGETS = {"exp": (_exp_to_add_one, "exp(x) -> x + 1: wrong on purpose"),
           "mul": (_mul_to_add, "x * y -> x + y: wrong on purpose")}


@contextlib.contextmanager
def planted_bad_rule(name=PLANTED_RULE, fast_compile=False, target="exp"):
    """Register a wrong rule (``exp(x) -> x + 1``, or ``x * y -> x + y``) for the block."""
    from verigraph.rewriting.db import Rule, rules
    from verigraph.tensor.elemwise import Elemwise

    rewrite, doc = TARGETS[target]

    def wrong_rule(fgraph, node):
        return rewrite(node)

    tags = ("canonicalize", "default") + (("fast_compile",) if fast_compile else ())
    rules.register(Rule(name, wrong_rule, tags, (Elemwise,), f"{__file__}:planted", doc))
    try:
        yield name
    finally:
        rules.rules.pop(name, None)
